"""The report: numbers come from the code, figures exist, the PDF is short and reproducible.

``report/make_figures.py`` writes ``report/figures/*.png`` and ``figures/numbers.json``;
``report/build.py`` fills ``report.md.in`` -> ``report.md`` and compiles ``report.pdf``.
These tests check the committed artefacts against each other and rebuild the PDF in a
temporary folder (about a second); the slow test reruns every experiment.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pypandoc")
pytest.importorskip("typst")
pypdf = pytest.importorskip("pypdf")

REPORT_DIR = Path(__file__).resolve().parents[1] / "report"
MAX_PAGES = 3
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"report_{name}", REPORT_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")


@pytest.fixture(scope="module")
def numbers():
    return build.load_numbers(REPORT_DIR / "figures" / "numbers.json")


@pytest.fixture(scope="module")
def template():
    return (REPORT_DIR / "report.md.in").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def built_twice(tmp_path_factory):
    """Build the report from the committed sources twice, in two fresh folders."""
    pdfs = []
    for name in ("first", "second"):
        folder = tmp_path_factory.mktemp(name)
        shutil.copy(REPORT_DIR / "report.md.in", folder)
        shutil.copytree(REPORT_DIR / "figures", folder / "figures")
        pdfs.append(build.build(folder))
    return pdfs


def _prose(markdown):
    """The Markdown without math, code spans, placeholders and image targets."""
    text = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = build.PLACEHOLDER.sub(" ", text)
    return IMAGE.sub(" ", text)


# ----------------------------------------------------------------------------- numbers


def test_committed_markdown_is_the_rendered_template(template, numbers):
    rendered = build.render_markdown(template, numbers)
    committed = (REPORT_DIR / "report.md").read_text(encoding="utf-8")
    assert committed == rendered, "report.md is stale: run `python report/build.py`"


def test_every_number_in_the_prose_is_a_placeholder(template):
    # digits typed by hand would not follow the code; only math may hold literal digits
    hand_typed = re.findall(r".{0,30}\d.{0,30}", _prose(template))
    assert hand_typed == []


def test_placeholders_render_the_numbers_json_values(template, numbers):
    rendered = build.render_markdown(template, numbers)
    for name, spec in build.placeholders(template):
        assert build.format_value(numbers[name], spec) in rendered
    assert "{{" not in rendered


def test_format_value():
    assert build.format_value(-3010.64, ".1f") == "\u22123010.6"
    assert build.format_value(6.8e-05, ".1x") == "6.8 \u00d7 10\u207b\u2075"
    assert build.format_value(1e-06, ".0x") == "10\u207b\u2076"
    assert build.format_value("tied") == "tied"
    with pytest.raises(KeyError, match="no_such_number"):
        build.render_markdown("{{no_such_number:.2f}}", {})


def test_numbers_tell_the_story_the_text_tells(numbers):
    # the prose says these things in words; keep it honest if the experiments change
    assert numbers["conv_converged"] and numbers["conv_n_decreases"] == 0
    assert numbers["conv_min_increase"] > 0
    assert abs(numbers["conv_ll_final"] - numbers["optima_best"]) < 1e-3 * numbers["conv_n"]
    methods = ("random", "random_from_data", "kmeans", "kmeanspp")
    reached = [numbers[f"reached_{m}"] for m in methods]
    assert reached == sorted(reached), "the text says k-means++ beats the random starts"
    single_rate = numbers["reached_random"] / numbers["optima_runs"]
    assert numbers["restarts_reached"] / numbers["restarts_trials"] > single_rate, "restarts help"
    assert abs(numbers["restarts_reached"] - numbers["restarts_expected"]) < 0.25 * numbers[
        "restarts_trials"], "the text says the restart count is close to the expected one"
    assert numbers["median_iter_kmeanspp"] < numbers["median_iter_random"]
    assert numbers["sd_final"] < numbers["sd_start"]
    assert numbers["vb_effective"] < numbers["vb_k"]


def test_pdf_shows_the_numbers(template, numbers):
    """Numbers in running text (outside math) appear verbatim in the committed PDF."""
    pages = pypdf.PdfReader(REPORT_DIR / "report.pdf").pages
    text = " ".join(page.extract_text() for page in pages)
    text = re.sub(r"\s+", " ", text)
    outside_math = re.sub(r"\$[^$]*\$", " ", re.sub(r"\$\$.*?\$\$", " ", template, flags=re.S))
    for name, spec in build.placeholders(outside_math):
        value = build.format_value(numbers[name], spec)
        assert value in text or value.replace("\u2212", "-") in text, (name, value)


@pytest.mark.slow
def test_numbers_json_is_what_the_code_computes(tmp_path, numbers):
    make_figures = _load("make_figures")
    fresh = make_figures.make_all(tmp_path)
    assert json.loads((tmp_path / "numbers.json").read_text()) == fresh
    assert fresh.keys() == numbers.keys()
    for key, value in fresh.items():
        if isinstance(value, float):
            assert math.isclose(value, numbers[key], rel_tol=1e-6, abs_tol=1e-9), key
        else:
            assert value == numbers[key], key
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        p.name for p in (REPORT_DIR / "figures").glob("*.png"))


# ----------------------------------------------------------------------------- figures


def test_every_referenced_figure_exists_and_every_figure_is_referenced():
    markdown = (REPORT_DIR / "report.md").read_text(encoding="utf-8")
    referenced = IMAGE.findall(markdown)
    assert referenced, "the report shows no figure"
    for path in referenced:
        assert (REPORT_DIR / path).is_file(), path
        assert (REPORT_DIR / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    on_disk = {f"figures/{p.name}" for p in (REPORT_DIR / "figures").glob("*.png")}
    assert on_disk == set(referenced), "unused or missing figure files"


# ----------------------------------------------------------------------------- PDF


def test_committed_pdf_has_at_most_three_pages():
    reader = pypdf.PdfReader(REPORT_DIR / "report.pdf")
    assert 1 <= len(reader.pages) <= MAX_PAGES


def test_build_is_byte_reproducible(built_twice):
    first, second = (p.read_bytes() for p in built_twice)
    assert first[:5] == b"%PDF-"
    assert first == second
    assert len(pypdf.PdfReader(built_twice[0]).pages) <= MAX_PAGES


def test_fresh_build_equals_committed_pdf(built_twice):
    assert built_twice[0].read_bytes() == (REPORT_DIR / "report.pdf").read_bytes(), (
        "report.pdf is stale: run `python report/build.py`")


def test_pdf_uses_only_bundled_fonts(built_twice):
    reader = pypdf.PdfReader(built_twice[0])
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    bundled = {"LibertinusSerif", "NewCMMath", "DejaVuSansMono", "NewCM"}
    assert fonts and all(any(f.startswith(b) for b in bundled) for f in fonts), fonts
