"""Cheap checks that every committed notebook is a clean top-to-bottom run.

Strict nbval compares outputs only if they were committed; these checks fail fast
(without a kernel) if a notebook was saved without outputs, executed out of order,
saved with an error, or grew too large.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS_DIR = Path(__file__).parents[1] / "notebooks" / "solutions"
SOLUTIONS = sorted(SOLUTIONS_DIR.glob("[0-9][0-9]_solutions.ipynb"))
EXPECTED = [
    "01_gmm_from_first_principles",
    "02_e_step",
    "03_m_step",
    "04_em_convergence",
    "05_local_optima_and_initialization",
    "06_model_selection_bic",
    "07_bayesian_gmm",
    "08_density_and_anomaly_detection",
    "09_scaling_em",
]


def code_cells(path):
    nb = json.loads(path.read_text())
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_course_notebooks_present():
    names = {p.stem for p in NOTEBOOKS}
    missing = [n for n in EXPECTED if n not in names]
    assert not missing, f"missing notebooks: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_committed_with_outputs_in_order(path):
    nb, cells = code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: cells without execution count (not executed)"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: out-of-order {counts}"
    assert any(c["outputs"] for c in cells), f"{path.name}: committed without outputs"
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    raising = ["NBVAL_RAISES_EXCEPTION" in "".join(c["source"]) for c in cells]
    assert not errors or any(raising), f"{path.name}: error outputs {errors[:1]}"
    stderr = [o for c in cells for o in c["outputs"] if o.get("name") == "stderr"]
    assert not stderr, f"{path.name}: stderr output (warnings?) {stderr[:1]}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def check_import_size_and_links(path, nb, text, max_mb):
    """Imports the package as gh, is smaller than max_mb, and every .ipynb link resolves."""
    assert "import gmm_helpers as gh" in "".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
    )
    size_mb = path.stat().st_size / 2**20
    assert size_mb < max_mb, f"{path.name}: {size_mb:.1f} MB"
    for link in [w for w in text.split("(") if ".ipynb)" in w]:
        target = link.split(")")[0]
        assert (path.parent / target).exists(), f"{path.name}: broken link to {target}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure_and_size(path):
    nb, _ = code_cells(path)
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert text.lstrip().startswith("# "), f"{path.name}: no title"
    for heading in ("What you will learn", "Summary", "Exercises"):
        assert heading in text, f"{path.name}: missing '{heading}'"
    check_import_size_and_links(path, nb, text, max_mb=6)


def test_solutions_present():
    names = {p.stem for p in SOLUTIONS}
    missing = [n[:2] + "_solutions" for n in EXPECTED if n[:2] + "_solutions" not in names]
    assert not missing, f"missing solutions notebooks: {missing}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_structure_and_size(path):
    """A solutions notebook: a title, a link back to its chapter, the "try it first" note, small."""
    nb, _ = code_cells(path)
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert text.lstrip().startswith("# Solutions"), f"{path.name}: no title"
    chapter = [p.name for p in NOTEBOOKS if p.name.startswith(path.name[:3])]
    assert chapter, f"{path.name}: no chapter notebook {path.name[:3]}*"
    assert f"(../{chapter[0]})" in text, f"{path.name}: no link back to {chapter[0]}"
    assert "Try each exercise yourself first" in text, f"{path.name}: no note for students"
    check_import_size_and_links(path, nb, text, max_mb=2)
