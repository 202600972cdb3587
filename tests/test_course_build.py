"""Tests of tools/course.py (the offline slides and site build) without a browser.

The built pages themselves are opened in headless Chromium in tests/browser/test_course_pages.py.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("course", REPO / "tools" / "course.py")
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)

pytest.importorskip("pypandoc")


# ------------------------------------------------------------------------ what is published
@pytest.mark.parametrize(
    "rel, visible",
    [
        ("02_e_step.ipynb", True),
        ("project/starter.ipynb", True),
        ("project/starter_teacher.ipynb", False),
        ("project/gmm_teacher_v2.ipynb", False),
        ("solutions/02_e_step.ipynb", False),
        ("project/solutions/starter.ipynb", False),
        ("02_e_step_solutions.ipynb", False),
        ("README.md", False),
        ("scratch.ipynb", False),
        (".ipynb_checkpoints/02_e_step-checkpoint.ipynb", False),
        ("project/deeper/x.ipynb", False),
    ],
)
def test_student_visible_rule(rel, visible):
    assert course.student_visible(rel) is visible


def test_published_notebooks_skip_teacher_and_solutions(tmp_path):
    for rel in [
        "01_a.ipynb",
        "02_b.ipynb",
        "project/starter.ipynb",
        "project/starter_teacher.ipynb",
        "solutions/01_a.ipynb",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    got = [p.relative_to(tmp_path).as_posix() for p in course.published_notebooks(tmp_path)]
    assert got == ["01_a.ipynb", "02_b.ipynb", "project/starter.ipynb"]


# ------------------------------------------------------------------------ math
def test_find_math_skips_code_and_escaped_dollars():
    md = (
        "Inline $a_1$ and $$\\sum_k \\pi_k = 1$$, code `x = $y$` and\n"
        "```\nprint('$z$')\n```\nprice \\$5 and $\\mu$."
    )
    found = [(tex, display) for _, _, tex, display in course.find_math(md)]
    assert found == [("a_1", False), ("\\sum_k \\pi_k = 1", True), ("\\mu", False)]


def test_render_math_replaces_every_formula_by_mathml():
    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "source": "Let $x_n$ be *one* point and\n\n$$\\mu_k = "
                "\\frac{1}{N_k}\\sum_n \\gamma_{nk} x_n.$$",
            },  # fmt: skip
            {"cell_type": "code", "source": "print('$not math$')", "outputs": []},
        ]
    }
    assert course.render_math(nb) == 2
    md = nb["cells"][0]["source"]
    assert "$" not in md and md.count("<math") == 2
    assert 'display="block"' in md and "<mfrac>" in md
    assert "*one*" in md  # markdown outside the math is untouched
    math_text = "".join(re.findall(r"<math.*?</math>", md))
    assert "_" not in math_text and "\\" not in math_text  # nothing left for markdown to eat
    assert nb["cells"][1]["source"] == "print('$not math$')"


def test_math_in_headings_and_across_lines_survives_the_export():
    """A formula in a heading (nbconvert adds an anchor with ElementTree, which turned an xmlns
    into ns0: tags) and an inline formula broken over two lines, as Jupyter allows."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## 6. Label switching: $K!$ maxima\n\na $x +\ny$ b")]
    assert course.render_math(nb) == 2
    page = course._export(nb, course._lab_exporter())
    assert page.count("<math") == 2 and "ns0:" not in page and "$" not in page.split("<body")[1]


def test_unconvertible_formula_is_an_error():
    with pytest.raises(ValueError, match="could not convert"):
        course.tex_to_mathml([("\\frac{1}{", False)])


def test_every_formula_of_the_course_converts():
    """The real notebooks: as many MathML elements as formulas, none left as TeX."""
    for path in course.published_notebooks():
        nb, info = course.prepare(path)
        text = "".join(c["source"] for c in nb["cells"] if c["cell_type"] == "markdown")
        assert text.count("<math") == info["formulas"], path.name
        assert not any(tex for _, _, tex, _ in course.find_math(text)), path.name


# ------------------------------------------------------------------------ slides
def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(lines=2, png=None):
    outs = []
    if png:
        import base64
        import struct

        head = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", *png)
        outs = [{"output_type": "display_data", "data": {"image/png": base64.b64encode(
            head + b"\x00" * 40).decode()}}]  # fmt: skip
    return {"cell_type": "code", "metadata": {}, "source": "x = 1\n" * lines, "outputs": outs}


def _types(nb):
    return [c["metadata"]["slideshow"]["slide_type"] for c in nb["cells"]]


def test_slide_rule_headings_and_height():
    nb = {
        "cells": [
            _md("# Title"),
            _code(),
            _md("## 1. First"),
            _code(),
            _md("### Detail"),
            _code(png=(1000, 400)),
            _code(png=(1000, 400)),  # two tall figures do not fit one 720 px slide
            _md("## Summary"),
        ]
    }
    assert course.add_slideshow(nb) == []
    assert _types(nb) == ["slide", "-", "slide", "-", "subslide", "-", "subslide", "slide"]


def test_headings_inside_a_cell_start_their_own_slide():
    nb = {"cells": [_md("text\n## 4. The fix\nmore\n```\n## not a heading\n```\n## Summary")]}
    assert course.split_at_headings(nb) == 2
    assert [c["source"].splitlines()[0] for c in nb["cells"]] == [
        "text",
        "## 4. The fix",
        "## Summary",
    ]
    course.add_slideshow(nb)
    assert _types(nb) == ["slide", "slide", "slide"]


def test_notes_go_after_their_heading_and_unknown_ones_are_reported():
    nb = {"cells": [_md("# T"), _md("## 2. Means"), _code()]}
    left = course.add_slideshow(nb, {"means": "say this", "gone": "orphan"})
    assert left == ["gone"]
    assert _types(nb) == ["slide", "slide", "notes", "-"]
    assert nb["cells"][2]["source"] == "say this"


def test_presenter_notes_match_the_notebooks():
    """Every note in notebooks/presenter_notes.md belongs to a heading of its notebook (a renamed
    heading fails here, instead of silently losing the note)."""
    notes = course.read_notes()
    assert {"02_e_step", "03_m_step", "04_em_convergence"} <= set(notes)
    for stem, by_heading in notes.items():
        path = course.NOTEBOOKS / f"{stem}.ipynb"
        assert path.is_file(), stem
        nb, _ = course.prepare(path)
        course.split_at_headings(nb)
        assert course.add_slideshow(nb, by_heading) == [], stem


def test_live_widget_outputs_become_a_note():
    nb = {
        "metadata": {"widgets": {"state": {}}},
        "cells": [
            {
                "cell_type": "code",
                "source": "gh.em_explorer(X, r)",
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "data": {
                            course.WIDGET_MIME: {"model_id": "abc"},
                            "text/plain": "EMExplorer(n_iter=3, live)",
                        },
                    }
                ],
            }
        ],
    }
    assert course.replace_live_widgets(nb) == 1
    data = nb["cells"][0]["outputs"][0]["data"]
    assert "widgets" not in nb["metadata"] and course.WIDGET_MIME not in data
    assert "needs a running kernel" in data["text/html"]


def test_offline_check_catches_external_resources():
    for bad in [
        '<script src="https://cdn.example.org/x.js"></script>',
        '<link rel="stylesheet" href="//fonts.example.com/a.css">',
        "<style>@import url(https://x.org/a.css);</style>",
        '<div style="background: url(http://x.org/a.png)"></div>',
    ]:
        with pytest.raises(SystemExit):
            course.check_offline(bad, "page")
    course.check_offline('<a href="https://example.org">a link is fine</a>', "page")


def test_relink_points_at_built_pages():
    page = '<a href="03_m_step.ipynb">next</a> <a href="README.md">index</a> <a href="x.ipynb">'
    assert course.relink(page, ".html") == (
        '<a href="03_m_step.html">next</a> <a href="index.html">index</a> <a href="x.ipynb">'
    )


def test_vendored_reveal_has_its_licence():
    vendor = REPO / "vendor" / "reveal.js"
    assert (vendor / "LICENSE").read_text().startswith("Copyright")
    for rel in [
        "dist/reveal.js",
        "dist/reveal.css",
        "dist/theme/white.css",
        "plugin/notes/notes.js",
    ]:
        assert (vendor / rel).is_file(), rel
    assert "@import" not in (vendor / "dist/theme/white.css").read_text()
    size = sum(f.stat().st_size for f in vendor.rglob("*") if f.is_file())
    assert size < 400_000, size
    json.dumps({"size": size})


def test_apply_player_is_idempotent_on_a_copy(tmp_path):
    """tools/apply_player.py (the after-merge switch of 04 and 07 to gh.em_player) on copies:
    the first run changes the cells, the second finds them done, and nothing else changes."""
    spec_ap = importlib.util.spec_from_file_location("ap", REPO / "tools" / "apply_player.py")
    ap = importlib.util.module_from_spec(spec_ap)
    spec_ap.loader.exec_module(ap)
    names = sorted({name for name, *_ in ap.CHANGES})
    for name in names:
        (tmp_path / name).write_bytes((REPO / "notebooks" / name).read_bytes())
    before = {n: json.loads((tmp_path / n).read_text()) for n in names}
    if ap.apply(check=True, folder=tmp_path) and ap.apply(folder=tmp_path):
        pytest.skip("a target cell was edited since tools/apply_player.py was written")
    assert ap.apply(check=True, folder=tmp_path) == 0
    for name in names:
        after = json.loads((tmp_path / name).read_text())
        ids = {cid for n, cid, *_ in ap.CHANGES if n == name}
        for a, b in zip(before[name]["cells"], after["cells"]):
            assert (a == b) or a.get("id") in ids
        new_src = ["".join(c["source"]) for c in after["cells"] if c.get("id") in ids]
        assert all(s in [new for n, _, _, new in ap.CHANGES if n == name] for s in new_src)


def test_a_markdown_cell_taller_than_a_slide_is_split_at_blank_lines():
    para = "word " * 120  # about 4 rendered lines each
    fence = "```\nline\n\nstill the same code block\n```"
    nb = {"cells": [_md("## 3. Long\n\n" + "\n\n".join([para] * 8 + [fence] + [para] * 6))]}
    assert course.estimate_height(nb["cells"][0]) > course.SLIDE_BUDGET
    added = course.split_tall_markdown(nb)
    assert added >= 1 and len(nb["cells"]) == added + 1
    assert all(course.estimate_height(c) <= course.SLIDE_BUDGET for c in nb["cells"])
    joined = "\n\n".join(c["source"] for c in nb["cells"])
    assert joined.count("word") == 120 * 14 and fence in joined  # nothing lost, fence whole
    assert nb["cells"][0]["source"].startswith("## 3. Long")
    course.add_slideshow(nb)
    assert _types(nb)[0] == "slide" and set(_types(nb)[1:]) == {"subslide"}


def test_readme_links_keep_their_anchor_on_the_site():
    page = '<a href="README.md#notation">n</a> <a href="README.md">i</a>'
    assert course.relink(page, ".html", guide="guide.html") == (
        '<a href="guide.html#notation">n</a> <a href="guide.html">i</a>'
    )
    assert (
        course.relink(page, ".slides.html")
        == '<a href="index.html">n</a> <a href="index.html">i</a>'
    )


def test_links_to_project_files_are_published_and_solutions_are_not(tmp_path):
    """A page's links into notebooks/: published notebooks and Markdown beside them get pages on
    the site; solutions, teacher notebooks and the instructor's notes become plain text."""
    page = (
        '<a href="project/starter.ipynb">starter</a> <a href="project/report_template.md">tmpl</a> '
        '<a href="solutions/">sol</a> <a href="project/starter_teacher.ipynb">teacher</a> '
        '<a href="LESSON_PLAN.md">plan</a> <a href="https://example.org">web</a>'
    )
    out = course.publish_linked_files(page, course.NOTEBOOKS, tmp_path)
    assert '<a href="project__starter.html">starter</a>' in out
    assert '<a href="project__report_template.html">tmpl</a>' in out
    assert (tmp_path / "project__report_template.html").is_file()
    for text in ("sol", "teacher", "plan"):
        assert f"{text} (in the repository, not on this site)" in out
    assert "solutions/" not in out and "_teacher" not in out and "LESSON_PLAN" not in out
    assert '<a href="https://example.org">web</a>' in out  # not a project file: left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project__report_template.html"]
