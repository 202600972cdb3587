"""The project's teacher and student notebooks: one source, nbgrader-compatible, committed clean.

``tools/make_student.py`` (``make student``) makes each student notebook from its
``*_teacher.ipynb``; the committed student files must be what it makes, and what
nbgrader's own ``generate_assignment`` makes from the same teacher notebook.
"""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "notebooks" / "project"
TEACHERS = sorted((ROOT / "notebooks").rglob("*_teacher.ipynb"))

spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_student)


def sources(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


def test_there_is_a_teacher_notebook():
    assert PROJECT / "starter_teacher.ipynb" in TEACHERS


@pytest.mark.parametrize("teacher", TEACHERS, ids=lambda p: p.name)
def test_committed_student_version_is_what_make_student_generates(teacher):
    student = make_student.student_path(teacher)
    assert student.exists(), f"{student.name} missing: run `make student`"
    generated = make_student.student_notebook(nbformat.read(teacher, as_version=4))
    committed = nbformat.read(student, as_version=4)
    assert len(committed.cells) == len(generated.cells)
    for i, (got, want) in enumerate(zip(sources(committed), sources(generated))):
        assert got == want, f"{student.name} cell {i} differs from the generated version"


@pytest.mark.parametrize("teacher", TEACHERS, ids=lambda p: p.name)
def test_student_version_has_stubs_and_no_solutions(teacher):
    nb = nbformat.read(make_student.student_path(teacher), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    solution_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solution_cells
    for cell in solution_cells:
        assert "# YOUR CODE HERE\n" in cell.source and "raise NotImplementedError()" in cell.source


def test_stub_keeps_the_indentation_and_hidden_tests_vanish():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert make_student.student_source(src) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )
    src = "r = check()\n### BEGIN HIDDEN TESTS\nassert r\n### END HIDDEN TESTS"
    assert make_student.student_source(src) == "r = check()"
    with pytest.raises(ValueError, match="END SOLUTION"):
        make_student.student_source("### BEGIN SOLUTION\nx = 1")


def outputs_text(cell):
    return "".join(
        "".join(o.get("text", "")) if o["output_type"] == "stream" else ""
        for o in cell.get("outputs", [])
    )


def check_cells(nb):
    return [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("name", ["starter_teacher.ipynb", "starter.ipynb"])
def test_committed_clean_run(name):
    nb = json.loads((PROJECT / name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_teacher_passes_every_check_and_student_reports_not_implemented():
    teacher = json.loads((PROJECT / "starter_teacher.ipynb").read_text())
    student = json.loads((PROJECT / "starter.ipynb").read_text())
    first_six = check_cells(teacher)[:6]
    assert len(first_six) == 6
    for cell in first_six:
        assert ": PASSED" in outputs_text(cell), cell["source"]
    for cell in check_cells(student):
        out = outputs_text(cell)
        assert "not implemented yet" in out and "PASSED" not in out, out


def test_starter_links_the_report_template():
    text = (PROJECT / "starter_teacher.ipynb").read_text()
    assert "(report_template.md)" in text
    template = (PROJECT / "report_template.md").read_text()
    headings = [line for line in template.splitlines() if line.startswith("## ")]
    for section in ("The Gaussian mixture model", "Deriving EM", "evolution of the log-likelihood",
                    "Convergence and local optima", "Interpreting the visualisation"):
        assert any(section in h for h in headings), (section, headings)


def test_nbgrader_generate_assignment_agrees(tmp_path):
    """nbgrader imports the teacher notebook (metadata valid, markers paired) and makes the
    same student cells as tools/make_student.py."""
    pytest.importorskip("nbgrader")
    for teacher in TEACHERS:
        source = tmp_path / "source" / "assignment"
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy(teacher, source / "notebook.ipynb")
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", "assignment",
             f"--CourseDirectory.root={tmp_path}", "--no-db", "--force"],
            capture_output=True, text=True, cwd=tmp_path, timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        released = nbformat.read(tmp_path / "release" / "assignment" / "notebook.ipynb", 4)
        ours = make_student.student_notebook(nbformat.read(teacher, as_version=4))
        assert sources(released) == sources(ours)
        locked = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert locked and all(c.metadata["nbgrader"]["locked"] for c in locked)
