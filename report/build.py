"""Build ``report/report.pdf`` from ``report/report.md.in`` and ``figures/numbers.json``.

Three steps, all pip-installable tools (the ``report`` extra):

1. fill the ``{{name}}`` / ``{{name:fmt}}`` placeholders of ``report.md.in`` with the numbers that
   ``make_figures.py`` computed, giving ``report.md`` (the Markdown a reader sees on GitHub);
2. convert that Markdown to Typst source with pandoc (``pypandoc-binary``, ``to="typst"``);
3. compile the Typst source with the ``typst`` package into ``report.pdf``.

The PDF is byte-reproducible: the document date is fixed by ``SOURCE_DATE_EPOCH`` (default
below) and only the fonts bundled with typst are used (``ignore_system_fonts=True``).

Usage (from the repository root)::

    python report/make_figures.py   # figures/*.png and figures/numbers.json
    python report/build.py          # report.md and report.pdf
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parent

#: Timestamp written into the PDF when ``SOURCE_DATE_EPOCH`` is not set (2026-01-01 00:00 UTC).
DEFAULT_SOURCE_DATE_EPOCH = 1_767_225_600

#: ``{{name}}`` or ``{{name:format-spec}}``, e.g. ``{{ll_final:.1f}}``.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::([^}]*))?\}\}")

#: Layout: A4, 10 pt Libertinus Serif (bundled with typst), figures at full text width.
PANDOC_ARGS = [
    "--standalone",
    "--shift-heading-level-by=-1",  # the leading "# Title" becomes the document title
    "--wrap=preserve",
    "-V", "papersize=a4",
    # make_figures.TEXT_WIDTH_IN assumes these margins (figures drawn at the text width)
    '--variable-json=margin:{"x": "1.8cm", "y": "1.5cm"}',
    "-V", "fontsize=10pt",
    "-V", "mainfont=Libertinus Serif",
    "-V", "section-numbering=1.",
    "-V", "page-numbering=1",
]

#: Typst rules added after pandoc's default template (``header-includes``).
TYPST_STYLE = r"""
#set image(width: 100%)
#show figure.where(kind: image): set figure(placement: auto)
#set par(spacing: 0.75em)
#show heading: set block(above: 1.0em, below: 0.55em)
#show heading.where(level: 1): set text(size: 11.5pt)
#show figure: set block(above: 0.8em, below: 0.9em)
#show figure.caption: set text(size: 9pt)
#show figure.where(kind: table): set figure.caption(position: top)
#set table(inset: (x: 6pt, y: 2.5pt))
#show table: set text(size: 9pt)
#show math.equation.where(block: true): set block(above: 0.6em, below: 0.6em)
"""


def load_numbers(path: Path) -> dict:
    """Read the numbers computed by ``make_figures.py`` (a flat JSON object)."""
    with open(path, encoding="utf-8") as fh:
        numbers = json.load(fh)
    if not isinstance(numbers, dict):
        raise ValueError(f"expected a JSON object in {path}, got {type(numbers).__name__}")
    return numbers


def placeholders(template: str) -> list[tuple[str, str]]:
    """Return the ``(name, format_spec)`` pairs used in a template, in order of appearance."""
    return [(m.group(1), m.group(2) or "") for m in PLACEHOLDER.finditer(template)]


SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def format_value(value, spec: str = "") -> str:
    """``format(value, spec)`` with typographic minus signs, plus one extra presentation type.

    ``x`` writes powers of ten as in print: ``format_value(6.8e-05, ".1x")`` is
    ``"6.8 × 10⁻⁵"`` (Unicode superscripts read the same on GitHub and in the PDF).
    """
    if spec.endswith("x") and isinstance(value, int | float):
        mantissa, exponent = format(value, spec[:-1] + "e").split("e")
        text = f"{mantissa} \u00d7 10{str(int(exponent)).translate(SUPERSCRIPT)}"
        if mantissa in ("1", "1.0"):  # 1 × 10⁻⁶ -> 10⁻⁶
            text = text.split(" \u00d7 ")[1]
    else:
        text = format(value, spec)
    # a minus sign, not a hyphen, for negative numbers in running text and tables
    return text.replace("-", "\u2212") if isinstance(value, int | float) else text


def render_markdown(template: str, numbers: dict) -> str:
    """Fill every ``{{name:fmt}}`` placeholder of ``template`` with ``format(numbers[name], fmt)``.

    Raises
    ------
    KeyError
        If a placeholder names a number that ``numbers`` does not have.
    """
    missing = sorted({name for name, _ in placeholders(template) if name not in numbers})
    if missing:
        raise KeyError(f"numbers.json has no value for placeholder(s): {', '.join(missing)}")

    def fill(match: re.Match) -> str:
        return format_value(numbers[match.group(1)], match.group(2) or "")

    rendered = PLACEHOLDER.sub(fill, template)
    if "{{" in rendered:
        raise ValueError("expected every '{{' to open a valid placeholder, some were left over")
    return rendered


def markdown_to_typst(markdown: str) -> str:
    """Convert the report Markdown to standalone Typst source with pandoc's Typst writer."""
    import pypandoc

    args = [*PANDOC_ARGS, "-V", f"header-includes={TYPST_STYLE}"]
    return pypandoc.convert_text(markdown, to="typst", format="markdown", extra_args=args)


def source_date_epoch() -> int:
    """The PDF timestamp: ``$SOURCE_DATE_EPOCH``, else :data:`DEFAULT_SOURCE_DATE_EPOCH`."""
    return int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH))


def compile_pdf(typst_source: str, root: Path) -> bytes:
    """Compile Typst source to PDF bytes; images are resolved relative to ``root``."""
    import typst

    return typst.compile(
        typst_source.encode("utf-8"),
        root=str(root),
        ignore_system_fonts=True,
        timestamp=source_date_epoch(),
    )


def build(report_dir: Path = REPORT_DIR) -> Path:
    """Render ``report.md`` and compile ``report.pdf`` in ``report_dir``; return the PDF path."""
    report_dir = Path(report_dir)
    template = (report_dir / "report.md.in").read_text(encoding="utf-8")
    numbers = load_numbers(report_dir / "figures" / "numbers.json")
    markdown = render_markdown(template, numbers)
    (report_dir / "report.md").write_text(markdown, encoding="utf-8")
    pdf = compile_pdf(markdown_to_typst(markdown), root=report_dir)
    out = report_dir / "report.pdf"
    out.write_bytes(pdf)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--report-dir", type=Path, default=REPORT_DIR,
        help="folder holding report.md.in and figures/ (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = build(args.report_dir)
    print(f"wrote {out} ({out.stat().st_size} bytes) in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
