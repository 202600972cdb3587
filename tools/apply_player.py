"""Switch notebooks 04 and 07 from the widget-based kernel-free explorer to ``gh.em_player``.

    python tools/apply_player.py          # edit the cells (idempotent), then re-execute 04 and 07
    python tools/apply_player.py --check  # exit 1 if a cell still needs the change

Each change names a cell by its id and gives the source it replaces. A cell that already has the
new source is left alone; a cell whose source is neither (someone edited it since) is reported and
not touched, so that the edit can be made by hand. Only the cell sources change: re-execute the
two notebooks afterwards (``make notebooks``, or nbconvert on 04 and 07) to refresh the outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

CHANGES = [
    (
        "04_em_convergence.ipynb",
        "cell-25",
        "The kernel-free version pre-renders a few frames (here every third iteration) and links "
        "the slider\nto them in the browser, so it also works in a saved notebook opened without "
        "running it, or in an\nexported HTML page. It cannot do half-steps, and only shows the "
        "pre-rendered iterations.",
        "`gh.em_player(X, result)` is the kernel-free version: it pre-renders 16 frames (here "
        "every third\niteration) into the output itself, as HTML and JavaScript with the pictures "
        "embedded. It needs no\nkernel, no widget library and no network, so it works in a saved "
        "notebook opened without running\nit (once trusted; an untrusted notebook shows iteration "
        "0), in exported HTML, on the slides and on\nthe course site. Click the picture, then "
        "press ← / → (or use the buttons). It cannot do\nhalf-steps, and only shows the "
        "pre-rendered iterations.",
    ),
    (
        "04_em_convergence.ipynb",
        "cell-26",
        "# NBVAL_IGNORE_OUTPUT\ngh.em_explorer(X, result, static=True)",
        "# NBVAL_IGNORE_OUTPUT\ngh.em_player(X, result)",
    ),
    (
        "07_bayesian_gmm.ipynb",
        "9c7234aa",
        "The slider of notebook 04 takes the VB result too. The left panel steps through the "
        "plug-in\nmixtures of `vb.history`; the right panel shows the **ELBO** (for a MAP-EM "
        "result, log-likelihood +\nlog-prior), the quantity these updates never decrease, so the "
        "dips of the plug-in log-likelihood in\nsection 4 raise no alarm there. Press ▶ or drag "
        "the slider and watch the surplus components drain\none by one (run the notebook first: "
        "this slider needs a live kernel).",
        "The EM player of notebook 04 takes the VB result too. The left panel steps through the "
        "plug-in\nmixtures of `vb.history`; the right panel shows the **ELBO** (for a MAP-EM "
        "result, log-likelihood +\nlog-prior), the quantity these updates never decrease, so the "
        "dips of the plug-in log-likelihood in\nsection 4 raise no alarm there. Press ▶ (or click "
        "the picture and use ← / →) and watch the\nsurplus components drain one by one. The "
        "frames are stored in the output, so this works without\na kernel; for any iteration, "
        "live, use `gh.em_explorer(X, vb, half_steps=False)` in a running kernel.",
    ),
    (
        "07_bayesian_gmm.ipynb",
        "93a420af",
        "# NBVAL_IGNORE_OUTPUT\ngh.em_explorer(X, vb, half_steps=False)",
        "# NBVAL_IGNORE_OUTPUT\ngh.em_player(X, vb)",
    ),
]


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def apply(check: bool = False, folder: Path = NOTEBOOKS) -> int:
    """Apply (or, with ``check``, only report) the changes; returns the number of problems."""
    problems = 0
    by_nb: dict[str, list] = {}
    for name, cell_id, old, new in CHANGES:
        by_nb.setdefault(name, []).append((cell_id, old, new))
    for name, changes in by_nb.items():
        path = folder / name
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = {c.get("id"): c for c in nb["cells"]}
        changed = False
        for cell_id, old, new in changes:
            cell = cells.get(cell_id)
            if cell is None:
                print(f"{name}: no cell {cell_id}: make the change by hand", file=sys.stderr)
                problems += 1
            elif _src(cell) == new:
                print(f"{name} {cell_id}: already done")
            elif _src(cell) == old:
                if check:
                    print(f"{name} {cell_id}: still to do")
                    problems += 1
                else:
                    cell["source"] = new.splitlines(keepends=True)
                    changed = True
                    print(f"{name} {cell_id}: changed")
            else:
                print(
                    f"{name} {cell_id}: edited since; replace by hand with:\n{new}\n",
                    file=sys.stderr,
                )
                problems += 1
        if changed:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    return 1 if apply(check=args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
