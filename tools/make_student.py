"""Generate the student versions of the teacher notebooks (``make student``).

For every ``notebooks/**/*_teacher.ipynb`` this writes the student notebook next to it
(``starter_teacher.ipynb`` -> ``starter.ipynb``), the way nbgrader's
``generate_assignment`` does it:

- each region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, indented like the marker;
- each region between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is removed
  (with its markers), so the student's check cells report instead of asserting;
- outputs are cleared;

then executes the student notebook from a fresh kernel, so it is committed with outputs
(its checks print "not implemented yet"). ``--teacher`` re-executes the teacher notebooks
too. ``tests/test_student_version.py`` checks that the committed student notebooks equal
what :func:`student_notebook` makes, and compares that with nbgrader's own output.

Usage: ``python tools/make_student.py [--teacher] [--no-execute] [notebook_teacher.ipynb ...]``
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = ["YOUR ANSWER HERE"]


def _strip_regions(lines, begin, end, stub):
    """Replace each begin..end region of ``lines`` by ``stub`` (indented like ``begin``)."""
    out, inside = [], False
    for line in lines:
        if begin in line:
            if inside:
                raise ValueError(f"expected {end!r} before a second {begin!r}, got a nested region")
            inside = True
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + s for s in stub)
        elif end in line:
            if not inside:
                raise ValueError(f"expected {begin!r} before {end!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"expected {end!r} to close {begin!r}, got the end of the cell")
    return out


def student_source(source, cell_type="code"):
    """The student version of one cell's source."""
    stub = CODE_STUB if cell_type == "code" else TEXT_STUB
    lines = source.split("\n")
    lines = _strip_regions(lines, "### BEGIN SOLUTION", "### END SOLUTION", stub)
    lines = _strip_regions(lines, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", [])
    return "\n".join(lines)


def student_notebook(teacher):
    """A new notebook: ``teacher`` with solutions and hidden tests removed, outputs cleared."""
    nb = copy.deepcopy(teacher)
    for cell in nb.cells:
        cell.source = student_source(cell.source, cell.cell_type)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def student_path(teacher_path):
    teacher_path = Path(teacher_path)
    if not teacher_path.name.endswith("_teacher.ipynb"):
        raise ValueError(f"expected a *_teacher.ipynb notebook, got {teacher_path.name}")
    return teacher_path.with_name(teacher_path.name.replace("_teacher.ipynb", ".ipynb"))


def execute(nb, path):
    """Run ``nb`` top to bottom in a fresh python3 kernel, in the notebook's folder.

    Consecutive prints are merged into one stream output, so that how the kernel happened
    to flush them does not change the committed file.
    """
    from nbconvert.preprocessors import ExecutePreprocessor

    ExecutePreprocessor(timeout=600, kernel_name="python3", record_timing=False).preprocess(
        nb, {"metadata": {"path": str(Path(path).parent)}}
    )
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (out.output_type == "stream" and previous is not None
                    and previous.output_type == "stream" and previous.name == out.name):
                previous.text += out.text
            else:
                merged.append(out)
        if cell.cell_type == "code":
            cell.outputs = merged
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--teacher", action="store_true", help="re-execute the teacher notebooks")
    parser.add_argument("--no-execute", action="store_true", help="write without executing")
    args = parser.parse_args(argv)
    teachers = args.notebooks or sorted((ROOT / "notebooks").rglob("*_teacher.ipynb"))
    for teacher_path in teachers:
        teacher = nbformat.read(teacher_path, as_version=4)
        if args.teacher and not args.no_execute:
            print(f"executing {teacher_path.relative_to(ROOT)}")
            nbformat.write(execute(teacher, teacher_path), teacher_path)
        out = student_path(teacher_path)
        nb = student_notebook(teacher)
        if not args.no_execute:
            print(f"executing {out.relative_to(ROOT)}")
            execute(nb, out)
        nbformat.write(nb, out)
        print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
