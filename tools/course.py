"""Build the course's reveal.js slides and its static site, offline, from the committed notebooks.

    python tools/course.py slides [--out build/slides]   # make slides
    python tools/course.py site   [--out build/site]     # make site (includes the slides)

Nothing is fetched and nothing in ``notebooks/`` is modified: every notebook is copied and the copy
is prepared at build time, so the decks follow whatever the notebooks say when they are built.

* **What is published** (:func:`student_visible`): ``notebooks/NN_*.ipynb`` and
  ``notebooks/project/*.ipynb``, never a ``*_teacher*`` notebook and never anything under a
  ``solutions/`` folder.
* **Math** is rendered to MathML at build time by pandoc (``pypandoc-binary``); the pages load no
  MathJax and show no raw ``$``. Chromium, Firefox and Safari render MathML natively.
* **Slides**: cells get slideshow metadata from a rule (:func:`add_slideshow`): ``#``/``##``
  headings start a slide, ``###`` a sub-slide, and a sub-slide is also started when the estimated
  height of the current one would pass the 1280x720 frame. Presenter notes come from the sidecar
  ``notebooks/presenter_notes.md`` (one ``## heading`` per section; press S in a deck).
  reveal.js is vendored in ``vendor/reveal.js`` (see its VENDORED.md).
* **Widgets**: the pages load no widget manager. The output of a live ipywidgets explorer (which
  needs a kernel) is replaced by a one-line note; the kernel-free ``gh.em_player`` is plain HTML
  and JavaScript and works as is.
* After writing, every page is checked: no ``http(s)://`` in any ``src``/``href``/``url()``/
  ``@import``, and no raw ``$`` left in the markdown (the build fails otherwise).
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import shutil
import struct
import sys
import time
from base64 import b64decode
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
#: The notebooks published; GMM_COURSE_NOTEBOOKS points the build at another folder (to try it
#: on scratch copies), the presenter notes always come from the project's notebooks/.
NOTEBOOKS = Path(os.environ.get("GMM_COURSE_NOTEBOOKS", REPO / "notebooks")).resolve()
VENDOR_REVEAL = REPO / "vendor" / "reveal.js"
NOTES_FILE = REPO / "notebooks" / "presenter_notes.md"
REPORT_PDF = REPO / "report" / "report.pdf"
#: notebooks/README.md (the course guide, with the notation table) becomes this page of the site
GUIDE_PAGE = "guide.html"

#: Slide size of the decks (a 720p projector).
SLIDE_W, SLIDE_H = 1280, 720
#: Height budget (px) of one slide's content, for the sub-slide rule.
SLIDE_BUDGET = 640

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# What would make the browser fetch something from the network: a src, a stylesheet link,
# a CSS url() or @import with an absolute http(s) or protocol-relative address. (Plain <a href>
# links to the web are fine: nothing is loaded until a reader clicks them.)
EXTERNAL_RE = re.compile(
    r"""\bsrc\s*=\s*["']\s*(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?\s*(?:https?:)?//""",
    re.I,
)


# ------------------------------------------------------------------------------------ what
def student_visible(rel: str | PurePosixPath) -> bool:
    """Whether a notebook (path relative to ``notebooks/``) may be published to students.

    Only ``NN_*.ipynb`` at the top and ``project/*.ipynb``; never a name containing ``_teacher``,
    never anything inside a folder named ``solutions`` (at any depth), never checkpoints.
    """
    p = PurePosixPath(rel)
    if p.suffix != ".ipynb" or any(part in ("solutions", ".ipynb_checkpoints") for part in p.parts):
        return False
    if "_teacher" in p.name or "solution" in p.name.lower():
        return False
    if len(p.parts) == 1:
        return re.fullmatch(r"\d\d_[\w-]+\.ipynb", p.name) is not None
    return len(p.parts) == 2 and p.parts[0] == "project"


def published_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks the site shows, in reading order (numbered first, then the project)."""
    found = [
        p for p in folder.rglob("*.ipynb") if student_visible(p.relative_to(folder).as_posix())
    ]
    return sorted(found, key=lambda p: (len(p.relative_to(folder).parts), p.name))


# ------------------------------------------------------------------------------------ math
_CODE_RE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_MATH_RE = re.compile(
    r"(?<!\\)\$\$(?P<display>.+?)\$\$"  # display: $$ ... $$ (may span lines)
    r"|(?<![\\$])\$(?=\S)(?P<inline>(?:[^$\\\n]|\\.|\n(?!\s*\n))+?)\$(?!\$)",  # $x$, one paragraph
    re.S,
)


def find_math(markdown: str) -> list[tuple[int, int, str, bool]]:
    """``(start, end, tex, display)`` of each formula in a markdown cell, outside code."""
    out = []
    pos = 0
    for piece in _CODE_RE.split(markdown):
        if not piece.startswith(("`", "~~~")):
            for m in _MATH_RE.finditer(piece):
                display = m.group("display") is not None
                tex = m.group("display") if display else m.group("inline")
                out.append((pos + m.start(), pos + m.end(), tex, display))
        pos += len(piece)
    return out


_MD_SPECIAL = {"*": "&#42;", "_": "&#95;", "\\": "&#92;", "`": "&#96;", "|": "&#124;",
               "[": "&#91;", "]": "&#93;", "$": "&#36;", "~": "&#126;"}  # fmt: skip


def _squash_mathml(m: str) -> str:
    """One-line MathML that markdown leaves alone: no TeX annotation, no markdown characters."""
    m = re.sub(r"<annotation\b.*?</annotation>", "", m, flags=re.S)
    # HTML5 needs no namespace (and nbconvert's heading anchors turn one into ns0: prefixes)
    m = re.sub(r'\s+xmlns="[^"]*"', "", m).replace("<semantics>", "").replace("</semantics>", "")
    m = re.sub(r">\s+<", "><", m.strip())
    return re.sub(
        r">([^<]+)<", lambda g: ">" + "".join(_MD_SPECIAL.get(c, c) for c in g[1]) + "<", m
    )


def tex_to_mathml(formulas: list[tuple[str, bool]]) -> list[str]:
    """Convert ``(tex, display)`` pairs to MathML with one pandoc call. Raises ``ValueError``
    naming the formula pandoc could not convert."""
    if not formulas:
        return []
    import pypandoc

    sep = "GMMMATHSEPARATOR"
    doc = "\n\n".join(
        f"{sep}\n\n" + (f"$${tex.strip()}$$" if display else f"${' '.join(tex.split())}$")
        for tex, display in formulas
    )
    out = pypandoc.convert_text(doc, "html", format="markdown", extra_args=["--mathml"])
    chunks = out.split(f"<p>{sep}</p>")[1:]
    if len(chunks) != len(formulas):
        raise ValueError(f"expected {len(formulas)} converted formulas, got {len(chunks)}")
    result = []
    for (tex, _), chunk in zip(formulas, chunks):
        found = re.findall(r"<math\b.*?</math>", chunk, flags=re.S)
        if len(found) != 1:
            raise ValueError(f"pandoc could not convert the formula {tex!r} to MathML")
        result.append(_squash_mathml(found[0]))
    return result


def render_math(nb: dict) -> int:
    """Replace every ``$...$`` / ``$$...$$`` of the markdown cells by MathML, in place.

    Returns the number of formulas converted.
    """
    jobs = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            src = _src(cell)
            for start, end, tex, display in find_math(src):
                jobs.append((cell, start, end, tex, display))
    mathml = tex_to_mathml([(tex, display) for _, _, _, tex, display in jobs])
    for (cell, start, end, _tex, display), m in reversed(list(zip(jobs, mathml))):
        src = _src(cell)
        rep = f"\n\n{m}\n\n" if display else m
        cell["source"] = src[:start] + rep + src[end:]
    return len(jobs)


# ------------------------------------------------------------------------------------ cells
def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _png_size(b64: str) -> tuple[int, int]:
    head = b64decode(b64[:64])
    return struct.unpack(">II", head[16:24])


def replace_live_widgets(nb: dict) -> int:
    """Drop the widget state and put a note where a live widget was (no kernel on a page)."""
    nb["metadata"].pop("widgets", None)
    n = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                data.pop(WIDGET_MIME)
                name = html.escape("".join(data.get("text/plain", "widget")))
                data["text/html"] = (
                    '<div class="gmm-live-widget-note" style="border-left:4px solid #999;'
                    'padding:4px 10px;color:#444;background:#f6f6f6">'
                    + (
                        f"<b>Widget explorer</b> (<code>{name}</code>): it needs ipywidgets' "
                        "widget manager, which these offline pages do not load; "
                        "<code>gh.em_player</code> is the kernel-free player that works here."
                        if "static" in name
                        else f"<b>Live explorer</b> (<code>{name}</code>): it needs a running "
                        "kernel. Open this notebook in JupyterLab and run it to use the slider."
                    )
                    + "</div>"
                )
                n += 1
    return n


def estimate_height(cell: dict) -> int:
    """Rough rendered height (px) of a cell on a 1280x720 slide (20px body text)."""
    src = _src(cell)
    if cell["cell_type"] == "markdown":
        h = 0
        for line in src.splitlines():
            if line.startswith("#"):
                h += 60
            elif "<math" in line and 'display="block"' in line:
                h += 70
            elif line.strip():
                h += 30 * (1 + len(re.sub(r"<[^>]+>", "", line)) // 140)
            else:
                h += 8
        return h + 10
    if cell["cell_type"] != "code":
        return 0
    h = 21 * max(1, len(src.splitlines())) + 20
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            h += 20 * len("".join(out.get("text", "")).splitlines()) + 10
        data = out.get("data", {})
        if "image/png" in data:
            w, ph = _png_size(data["image/png"])
            h += int(min(ph * min(1.0, 1180 / max(w, 1)), 560)) + 10
        elif "text/html" in data:
            h += 620 if "gmm-em-player" in "".join(data["text/html"]) else 120
        elif "text/plain" in data:
            h += 24 * len("".join(data["text/plain"]).splitlines()) + 10
    return h


def _heading_key(text: str) -> str:
    """A heading without its ``#`` marks and its section number, lower case."""
    text = text.lstrip("#").strip()
    text = re.sub(r"^\d+(\.\d+)*\.?\s+", "", text)
    return " ".join(text.lower().split())


def read_notes(path: Path = NOTES_FILE) -> dict[str, dict[str, str]]:
    """``{notebook stem: {heading key: note markdown}}`` from the sidecar file.

    Format: ``# <notebook stem>`` then ``## <section heading as in the notebook>`` then the note.
    """
    notes: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return notes
    nb, head, buf = None, None, []

    def flush():
        if nb is not None and head is not None and "".join(buf).strip():
            notes.setdefault(nb, {})[head] = "\n".join(buf).strip()

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            flush()
            nb, head, buf = line[2:].strip(), None, []
        elif line.startswith("## "):
            flush()
            head, buf = _heading_key(line), []
        elif head is not None:
            buf.append(line)
    flush()
    return notes


def _first_heading(cell: dict) -> str | None:
    if cell["cell_type"] != "markdown":
        return None
    first = _src(cell).lstrip().splitlines()[:1]
    return first[0] if first and first[0].startswith("#") else None


def _pieces(cell: dict, sources: list[str], tag: str) -> list[dict]:
    """``cell`` cut into one cell per source (the first keeps the cell's id)."""
    out = []
    for k, src in enumerate(sources):
        new = copy.deepcopy(cell) if k else cell
        new["source"] = src
        if k:
            new["id"] = f"{cell.get('id', 'cell')}-{tag}{k}"
            new.pop("attachments", None)
        out.append(new)
    return out


def split_at_headings(nb: dict) -> int:
    """Split markdown cells so that every ``#``/``##``/``###`` heading starts a cell (outside
    code fences), in place; a heading in the middle of a cell then starts its own slide.
    Returns the number of cells added."""
    cells, added = [], 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            cells.append(cell)
            continue
        parts, buf, fence = [], [], False
        for line in _src(cell).splitlines(keepends=True):
            if line.lstrip().startswith(("```", "~~~")):
                fence = not fence
            if not fence and re.match(r"#{1,3}\s", line) and "".join(buf).strip():
                parts.append("".join(buf))
                buf = []
            buf.append(line)
        parts.append("".join(buf))
        cells += _pieces(cell, [p.rstrip("\n") for p in parts], "h")
        added += len(parts) - 1
    nb["cells"] = cells
    return added


def split_tall_markdown(nb: dict, budget: int = SLIDE_BUDGET) -> int:
    """Split a markdown cell taller than ``budget`` at its blank lines (never inside a code
    fence or a ``$$`` block), greedily, so that each piece fits a slide. Returns cells added."""
    cells, added = [], 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown" or estimate_height(cell) <= budget:
            cells.append(cell)
            continue
        blocks, buf, fence, display = [], [], False, False
        for line in _src(cell).splitlines(keepends=True):
            if line.lstrip().startswith(("```", "~~~")):
                fence = not fence
            if not fence and line.count("$$") % 2:
                display = not display
            if not line.strip() and not fence and not display and "".join(buf).strip():
                blocks.append("".join(buf))
                buf = []
            else:
                buf.append(line)
        if "".join(buf).strip():
            blocks.append("".join(buf))
        pieces, cur = [], ""
        for block in blocks:
            trial = f"{cur}\n\n{block}" if cur else block
            if cur and estimate_height({"cell_type": "markdown", "source": trial}) > budget:
                pieces.append(cur)
                cur = block
            else:
                cur = trial
        pieces.append(cur)
        cells += _pieces(cell, [p.strip("\n") for p in pieces], "p")
        added += len(pieces) - 1
    nb["cells"] = cells
    return added


def add_slideshow(nb: dict, notes: dict[str, str] | None = None) -> list[str]:
    """Set ``metadata.slideshow.slide_type`` on every cell of ``nb`` and insert the notes.

    Rule: a markdown cell starting with ``#`` or ``##`` starts a slide, ``###`` a sub-slide;
    another cell starts a sub-slide when the current one would pass :data:`SLIDE_BUDGET`; the
    rest continue the current slide (``-``). A note (markdown) goes right after its heading's
    cell as a ``notes`` cell. Returns the note keys that matched no heading.
    """
    notes = dict(notes or {})
    cells = []
    used = 0
    for i, cell in enumerate(nb["cells"]):
        head = _first_heading(cell)
        h = estimate_height(cell)
        if i == 0 or (head and re.match(r"#{1,2}\s", head)):
            kind, used = "slide", h
        elif head and head.startswith("### "):
            kind, used = "subslide", h
        elif used + h > SLIDE_BUDGET and used > 0:
            kind, used = "subslide", h
        else:
            kind, used = "-", used + h
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}
        cells.append(cell)
        key = _heading_key(head) if head else None
        if key in notes:
            cells.append(
                {
                    "cell_type": "markdown",
                    "id": f"presenter-note-{len(cells)}",
                    "metadata": {"slideshow": {"slide_type": "notes"}},
                    "source": notes.pop(key),
                }
            )
    nb["cells"] = cells
    return sorted(notes)


# ------------------------------------------------------------------------------------ export
_COMMON_CSS = """
<style>
.jp-RenderedHTMLCommon math[display="block"] { margin: 0.5em 0; font-size: 1.1em; }
.jp-RenderedHTMLCommon math { font-size: 1.08em; }
.gmm-em-player img { image-rendering: auto; }
.gmm-nav a { color: #1a5fb4; text-decoration: none; }
.gmm-nav a:hover { text-decoration: underline; }
</style>
"""

_SLIDE_CSS = """
<style>
:root { --jp-content-font-size1: 20px; --jp-code-font-size: 17px; --jp-ui-font-size1: 18px;
        --jp-cell-prompt-width: 0px; }
.reveal { font-size: 20px; }
.reveal .slides { text-align: left; }
.reveal .slides section { height: 100%; overflow-y: auto; padding: 0 10px; box-sizing: border-box; }
.reveal .slides section > section { padding: 0; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
.reveal h1 { font-size: 44px; } .reveal h2 { font-size: 34px; } .reveal h3 { font-size: 28px; }
.reveal h1, .reveal h2, .reveal h3 { text-transform: none; margin: 0 0 12px 0; }
.reveal p, .reveal li { line-height: 1.35; }
.reveal section img { border: 0; box-shadow: none; margin: 0; background: none; }
.reveal .jp-OutputArea-output img { max-height: 540px; width: auto; max-width: 100%; }
.reveal .gmm-em-player img { max-height: none; }
.reveal pre { box-shadow: none; width: 100%; margin: 0; font-size: 17px; }
</style>
"""


def _nav(pages: list[tuple[str, str]], i: int, home: str) -> str:
    prev_ = f'<a href="{pages[i - 1][0]}">&larr; {html.escape(pages[i - 1][1])}</a>' if i else ""
    next_ = (
        f'<a href="{pages[i + 1][0]}">{html.escape(pages[i + 1][1])} &rarr;</a>'
        if i + 1 < len(pages)
        else ""
    )
    return (
        '<nav class="gmm-nav" style="display:flex;justify-content:space-between;gap:1em;'
        'padding:8px 16px;border-bottom:1px solid #ddd;font-family:sans-serif;font-size:15px">'
        f'<span>{prev_}</span><a href="{home}">Course home</a><span>{next_}</span></nav>'
    )


def _title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        head = _first_heading(cell)
        if head and head.startswith("# "):
            return re.sub(r"<[^>]+>", "", head[2:]).strip()
    return fallback


def prepare(path: Path) -> tuple[dict, dict]:
    """A copy of the notebook, ready to export; and what was done to it."""
    import nbformat

    # nbformat joins the line lists of sources and outputs into strings
    nb = copy.deepcopy(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    info = {"widgets_replaced": replace_live_widgets(nb), "formulas": render_math(nb)}
    return nb, info


def _export(nb: dict, exporter) -> str:
    import nbformat

    body, _ = exporter.from_notebook_node(nbformat.from_dict(nb))
    return body


def _lab_exporter():
    from nbconvert import HTMLExporter

    ex = HTMLExporter(template_name="lab")
    ex.exclude_input_prompt = False
    return ex


def _strip_cdn_scripts(page: str) -> str:
    """Remove nbconvert's head scripts that point at CDNs (require.js, MathJax, mermaid)."""
    page = re.sub(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", "", page)
    page = re.sub(
        r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", "", page, flags=re.S
    )
    page = re.sub(r"<script type=\"module\">\s*import mermaid.*?</script>", "", page, flags=re.S)
    return page


def relink(page: str, suffix: str, guide: str | None = None) -> str:
    """Point the notebooks' links to each other (``NN_x.ipynb``, ``README.md#anchor``) at the
    built pages (``NN_x`` + ``suffix``; ``guide`` + anchor, or ``index.html`` without a guide)."""
    page = re.sub(
        r'href="(\d\d_[\w-]+)\.ipynb(#[^"]*)?"',
        lambda m: f'href="{m[1]}{suffix}{m[2] or ""}"',
        page,
    )
    return re.sub(
        r'href="README\.md(#[^"]*)?"',
        lambda m: f'href="{guide}{m[1] or ""}"' if guide else 'href="index.html"',
        page,
    )


def check_offline(page: str, name: str) -> None:
    """Fail the build if a page still points outside itself or shows raw TeX."""
    m = EXTERNAL_RE.search(page)
    if m:
        ctx = page[max(0, m.start() - 80) : m.end() + 80]
        raise SystemExit(f"{name}: external reference left in the page: ...{ctx}...")


def build_slides(out: Path, notebooks: list[Path] | None = None) -> list[dict]:
    """Write one reveal.js deck per notebook into ``out`` (and the vendored reveal.js)."""
    from nbconvert import SlidesExporter

    if not (VENDOR_REVEAL / "dist" / "reveal.js").is_file():
        raise SystemExit(f"missing {VENDOR_REVEAL}/dist/reveal.js (tools/vendor_revealjs.sh)")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(VENDOR_REVEAL, out / "reveal.js", dirs_exist_ok=True)
    all_notes = read_notes()
    notebooks = notebooks if notebooks is not None else published_notebooks()
    rows = []
    for path in notebooks:
        t0 = time.monotonic()
        nb, info = prepare(path)
        split_at_headings(nb)
        split_tall_markdown(nb)
        unmatched = add_slideshow(nb, all_notes.get(path.stem))
        if unmatched:
            print(f"warning: {path.stem}: notes for unknown headings {unmatched}", file=sys.stderr)
        ex = SlidesExporter(
            reveal_url_prefix="reveal.js",
            reveal_width=str(SLIDE_W),
            reveal_height=str(SLIDE_H),
            reveal_theme="white",
            reveal_transition="none",
            reveal_number="c/t",
        )
        page = _export(nb, ex)
        page = _strip_cdn_scripts(page)
        # reveal.js from the vendored copy, loaded with plain script tags (no require.js),
        # and no MathJax (the math is MathML already)
        page = re.sub(
            r"<script>\s*require\(.*?</script>",
            lambda _m: _REVEAL_INIT,
            page,
            count=1,
            flags=re.S,
        )
        page = page.replace("</head>", _COMMON_CSS + _SLIDE_CSS + "</head>", 1)
        page = relink(page, ".slides.html")
        page = publish_linked_files(
            page, path.parent, out, notebook_page=lambda rel: f"{rel.stem}.slides.html"
        )
        name = f"{path.stem}.slides.html"
        check_offline(page, name)
        (out / name).write_text(page, encoding="utf-8")
        n_slides = sum(
            c["metadata"]["slideshow"]["slide_type"] in ("slide", "subslide") for c in nb["cells"]
        )
        rows.append(
            {
                "deck": name,
                "title": _title(nb, path.stem),
                "slides": n_slides,
                "s": round(time.monotonic() - t0, 2),
                **info,
            }
        )
    items = "".join(
        f'<li><a href="{r["deck"]}">{html.escape(r["title"])}</a> ({r["slides"]} slides)</li>'
        for r in rows
    )
    (out / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Slides</title>'
        "<style>body{font-family:sans-serif;max-width:800px;margin:2em auto}</style></head>"
        f"<body><h1>Slides</h1><p>Arrow keys or space to move, S for the presenter notes, "
        f"Esc for the overview.</p><ol>{items}</ol></body></html>",
        encoding="utf-8",
    )
    return rows


_REVEAL_INIT = f"""<script src="reveal.js/dist/reveal.js"></script>
<script src="reveal.js/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({{
  controls: true, progress: true, history: true, hash: true, center: false,
  transition: "none", slideNumber: "c/t", plugins: [RevealNotes],
  width: {SLIDE_W}, height: {SLIDE_H}, margin: 0.02
}});
</script>"""


def build_site(out: Path) -> list[dict]:
    """Write the course site into ``out``: index, one page per notebook, the report, the decks."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    notebooks = published_notebooks()
    slide_rows = build_slides(out / "slides", notebooks)
    decks = {r["deck"].removesuffix(".slides.html") for r in slide_rows}
    ex = _lab_exporter()
    prepared = [(p, *prepare(p)) for p in notebooks]
    pages = [
        (f"{p.relative_to(NOTEBOOKS).with_suffix('.html').as_posix().replace('/', '__')}",
         _title(nb, p.stem))
        for p, nb, _ in prepared
    ]  # fmt: skip
    (out / "notebooks").mkdir()
    has_guide = (NOTEBOOKS / "README.md").is_file()
    rows = []
    for i, (path, nb, info) in enumerate(prepared):
        t0 = time.monotonic()
        page = _strip_cdn_scripts(_export(nb, ex))
        page = page.replace("</head>", _COMMON_CSS + "</head>", 1)
        page = relink(page, ".html", guide=GUIDE_PAGE if has_guide else None)
        page = publish_linked_files(page, path.parent, out)
        links = f'<a href="{path.name}">download the notebook</a>'
        if path.stem in decks:
            links += f' &middot; <a href="slides/{path.stem}.slides.html">slides</a>'
        nav = _nav(pages, i, "index.html").replace(
            '<a href="index.html">Course home</a>',
            f'<span><a href="index.html">Course home</a> &middot; {links}</span>',
        )
        page = re.sub(r"(<main>)", r"\1" + nav.replace("\\", "\\\\"), page, count=1)
        # the notebook download links point into notebooks/
        page = page.replace(f'href="{path.name}"', f'href="notebooks/{path.name}"')
        check_offline(page, pages[i][0])
        (out / pages[i][0]).write_text(page, encoding="utf-8")
        shutil.copy2(path, out / "notebooks" / path.name)
        rows.append({"page": pages[i][0], "s": round(time.monotonic() - t0, 2), **info})
    if REPORT_PDF.is_file():
        shutil.copy2(REPORT_PDF, out / "report.pdf")
    guide = build_guide(out)
    (out / "index.html").write_text(_index(pages, decks, notebooks, guide), encoding="utf-8")
    return rows


def build_guide(out: Path) -> bool:
    """notebooks/README.md as ``guide.html`` (pandoc, math as MathML); False if there is none."""
    readme = NOTEBOOKS / "README.md"
    if not readme.is_file():
        return False
    _markdown_page(readme, out / GUIDE_PAGE, "Course guide")
    return True


def _markdown_page(source: Path, target: Path, title: str) -> None:
    """One Markdown file as a standalone page of the site (pandoc, math as MathML)."""
    import pypandoc

    body = pypandoc.convert_text(
        source.read_text(encoding="utf-8"),
        "html",
        format="markdown",
        extra_args=["--mathml", "--wrap=none"],
    )
    body = relink(body, ".html", guide=GUIDE_PAGE)
    body = publish_linked_files(body, source.parent, target.parent)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:900px;"
        "margin:2em auto;padding:0 1em;line-height:1.5;color:#222} table{border-collapse:"
        "collapse} td,th{border:1px solid #ccc;padding:3px 8px} a{color:#1a5fb4}</style>"
        '</head><body><p><a href="index.html">Course home</a></p>'
        f"{body}</body></html>"
    )
    check_offline(page, target.name)
    target.write_text(page, encoding="utf-8")


#: instructor material next to the notebooks: never published, links to it become plain text
INSTRUCTOR_FILES = ("LESSON_PLAN.md", "presenter_notes.md")


def _site_name(rel: PurePosixPath) -> str:
    """The flat name of a file's page on the site (``project/x.md`` -> ``project__x.html``)."""
    return "__".join(rel.with_suffix(".html").parts)


def publish_linked_files(page: str, folder: Path, out: Path, notebook_page=None) -> str:
    """Point a page's relative links to the project's files at their pages on the site.

    ``page`` was made from a file in ``folder`` (``notebooks/`` or below it). A link to a published
    notebook (``project/starter.ipynb``) goes to its page (``project__starter.html``); a link to a
    Markdown file beside published notebooks (the project's report template) publishes that file as
    a page; a link to what students may not see on the site (``solutions/``, a ``*_teacher``
    notebook, the instructor's notes) is replaced by its text, marked "in the repository".
    ``notebook_page(rel)`` names a notebook's page (default :func:`_site_name`; the decks use
    ``NN_x.slides.html``). Markdown pages are written into ``out``.
    """
    notebook_page = notebook_page or _site_name

    def repl(m):
        href, anchor, text = m[1], m[2] or "", m[3]
        try:
            rel = (folder / href).resolve().relative_to(NOTEBOOKS.resolve())
            rel = PurePosixPath(rel.as_posix())
        except ValueError:
            return m[0]  # outside notebooks/: not ours to rewrite
        hidden = (any(part == "solutions" for part in rel.parts) or "_teacher" in rel.name
                  or rel.name in INSTRUCTOR_FILES)  # fmt: skip
        if hidden:
            return f"{text} (in the repository, not on this site)"
        source = NOTEBOOKS / rel
        if rel.suffix == ".ipynb" and student_visible(rel) and source.is_file():
            return f'<a href="{notebook_page(rel)}{anchor}">{text}</a>'
        if rel.suffix == ".md" and rel.name != "README.md" and source.is_file():
            target = out / _site_name(rel)
            if not target.exists():
                _markdown_page(source, target, rel.stem.replace("_", " "))
            return f'<a href="{_site_name(rel)}{anchor}">{text}</a>'
        return m[0]

    return re.sub(r'<a\s+href="([^"#:]+)(#[^"]*)?">(.*?)</a>', repl, page, flags=re.S)


def _index(pages, decks, notebooks, guide=False) -> str:
    items = []
    for (href, title), path in zip(pages, notebooks):
        extra = (
            f' &middot; <a href="slides/{path.stem}.slides.html">slides</a>'
            if path.stem in decks
            else ""
        )
        items.append(f'<li><a href="{href}">{html.escape(title)}</a>{extra}</li>')
    report = (
        '<p>The report (three pages with figures): <a href="report.pdf">report.pdf</a></p>'
        if REPORT_PDF.is_file()
        else ""
    )
    if guide:
        report += (
            f'<p>The course guide, with the notation used throughout: <a href="{GUIDE_PAGE}">'
            "guide</a></p>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Gaussian mixtures fitted by EM: the course</title>
<style>
body {{ font-family: sans-serif; max-width: 900px; margin: 2em auto; padding: 0 1em;
       line-height: 1.5; color: #222; }}
li {{ margin: 0.3em 0; }}
</style></head>
<body>
<h1>Gaussian mixtures fitted by EM</h1>
<p>The course notebooks with their outputs, in reading order. Each page has its slides and a
download link for the notebook; the EM players work without a kernel. To run the code, clone the
project and run <code>make lab</code>.</p>
<ol class="gmm-toc">
{chr(10).join(items)}
</ol>
{report}
</body></html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("slides", "site"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    if args.what == "slides":
        out = args.out or REPO / "build" / "slides"
        if out.exists():
            shutil.rmtree(out)
        rows = build_slides(out)
    else:
        out = args.out or REPO / "build" / "site"
        rows = build_site(out)
    for row in rows:
        print(json.dumps(row))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{args.what}: {out} ({size / 1e6:.1f} MB) in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
