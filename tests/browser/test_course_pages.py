"""The built slides and course site, opened from file:// in headless Chromium at 1280x720 with
every request that is not for a file (or a data: URI) aborted.

* nothing tried to leave the machine (every aborted request is recorded and must be none);
* the math is rendered: no raw ``$`` in the text, as many MathML elements as formulas in the
  source notebook, laid out by the browser (a fraction's numerator sits above its denominator);
* the EM player steps on a reveal.js slide (the pixels change, the frame index follows, and the
  arrow keys on the player do not change the slide, while on the slide they do);
* the site has every published notebook with navigation and the report, and no teacher or
  solutions page.

The site is read from ``build/site`` (``make test-browser`` runs ``make site`` first), or from
``GMM_SITE_DIR``. Screenshots go to ``test-artifacts/course/``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from player_checks import PLAYER, check_player, player_state

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("GMM_SITE_DIR", REPO_ROOT / "build" / "site"))
SHOTS = REPO_ROOT / "test-artifacts" / "course"
CORE = ("02_e_step", "03_m_step", "04_em_convergence")

_spec = importlib.util.spec_from_file_location("course", REPO_ROOT / "tools" / "course.py")
course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course)


# ------------------------------------------------------------------------ an independent count
def count_formulas(path: Path) -> int:
    """Formulas in a notebook's markdown: ``$$`` pairs plus ``$`` pairs, outside code.

    Written separately from tools/course.py's parser on purpose (a second opinion)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    n = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)
        text = text.replace("\\$", "")
        n += text.count("$$") // 2
        n += text.replace("$$", "").count("$") // 2
    return n


def source_of(stem: str) -> Path:
    return course.NOTEBOOKS / f"{stem}.ipynb"


# ------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def site(file_browser) -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make site` first", pytrace=False)
    return SITE


class OfflinePage:
    """A 1280x720 page that aborts (and records) every request not for file: or data:."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 720})
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.escaped: list[str] = []
        self.errors: list[str] = []
        self.files: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", self._failed)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            self.files.append(url)
            route.continue_()
        else:
            self.escaped.append(url)
            route.abort()

    def _failed(self, request):
        if request.url.startswith("file:"):
            self.errors.append(f"missing file {request.url}")

    def open(self, path: Path):
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        return self.page

    def check_clean(self, name: str):
        assert self.escaped == [], f"{name}: requests left the machine: {self.escaped[:5]}"
        assert self.errors == [], f"{name}: page errors / missing files: {self.errors[:5]}"

    def close(self):
        self.context.close()


@pytest.fixture
def offline(file_browser):
    p = OfflinePage(file_browser)
    yield p
    p.close()


JS_MATH = """(root) => {
  const scope = document.querySelectorAll(root);
  let maths = [], text = '';
  scope.forEach(el => {
    el.querySelectorAll('math').forEach(m => { if (!m.closest('aside.notes')) maths.push(m); });
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('code, pre, math, aside.notes, .jp-OutputArea')
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    while (walker.nextNode()) { text += walker.currentNode.nodeValue; }
  });
  const fracs = Array.from(document.querySelectorAll('mfrac')).filter(f => {
    const r = f.getBoundingClientRect(); return r.height > 0; });
  const stacked = fracs.filter(f => f.children.length === 2 &&
    f.children[0].getBoundingClientRect().bottom <= f.children[1].getBoundingClientRect().top + 1);
  return {n: maths.length, mathml: maths.every(m => m instanceof MathMLElement),
          dollars: (text.match(/\\$/g) || []).length, text_len: text.length,
          fracs: fracs.length, stacked: stacked.length};
}"""


def _site_pages(site: Path) -> list[tuple[str, Path]]:
    return [(p.stem, site / f"{p.stem}.html") for p in course.published_notebooks()
            if p.parent == course.NOTEBOOKS]  # fmt: skip


# ------------------------------------------------------------------------ the site
def test_site_pages_offline_with_math(site, offline):
    """Every notebook page: no request escapes, all formulas are MathML and laid out."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = _site_pages(site)
    assert len(pages) >= 9
    for stem, page_path in pages:
        assert page_path.is_file(), page_path
        page = offline.open(page_path)
        got = page.evaluate(JS_MATH, ".jp-MarkdownCell")
        want = count_formulas(source_of(stem))
        assert got["n"] == want, f"{stem}: {got['n']} MathML elements for {want} formulas"
        assert got["mathml"] and got["dollars"] == 0, (stem, got)
        assert got["text_len"] > 1000, (stem, got)
        # the browser lays MathML out: each fraction's numerator is above its denominator
        if got["fracs"]:
            assert got["stacked"] == got["fracs"], (stem, got)
        nav = page.locator("nav.gmm-nav")
        assert nav.count() == 1 and "Course home" in nav.inner_text(), stem
        if stem in CORE:
            page.screenshot(path=str(SHOTS / f"site_{stem}.png"))
        offline.check_clean(stem)


def test_site_index_links_and_exclusions(site, offline):
    page = offline.open(site / "index.html")
    hrefs = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    page.screenshot(path=str(SHOTS / "site_index.png"))
    offline.check_clean("index")
    assert "report.pdf" in hrefs and (site / "report.pdf").stat().st_size > 10_000
    if (course.NOTEBOOKS / "README.md").is_file():  # the course guide, where 01 links to
        assert course.GUIDE_PAGE in hrefs
    for stem, _ in _site_pages(site):
        assert f"{stem}.html" in hrefs and f"slides/{stem}.slides.html" in hrefs, stem
    for href in hrefs:
        assert (site / href).is_file(), f"index links to a missing {href}"
    # every relative link of every page resolves inside the site
    for html_file in site.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        for href in re.findall(r'<a [^>]*href="([^"#:]+)(?:#[^"]*)?"', text):
            assert (html_file.parent / href).exists(), f"{html_file.name} links to missing {href}"
    names = [p.relative_to(site).as_posix() for p in site.rglob("*")]
    assert not [n for n in names if "_teacher" in n or "solutions" in n.split("/")], names


def _player_in_source(stem: str) -> bool:
    nb = json.loads(source_of(stem).read_text(encoding="utf-8"))
    return any(
        c["cell_type"] == "code" and "em_player(" in "".join(c["source"]) for c in nb["cells"]
    )


@pytest.mark.parametrize("stem", ["04_em_convergence", "07_bayesian_gmm"])
def test_site_players_step(site, offline, stem):
    if not _player_in_source(stem):
        pytest.skip(f"{stem} does not call gh.em_player yet (the after-merge step of issue 16)")
    page = offline.open(site / f"{stem}.html")
    players = page.locator(PLAYER)
    assert players.count() >= 1, f"{stem} calls em_player but its page shows no player"
    for k in range(players.count()):
        check_player(page, players.nth(k), SHOTS / f"site_{stem}", f"player{k}")
    page.screenshot(path=str(SHOTS / f"site_{stem}_player.png"))
    offline.check_clean(stem)


# ------------------------------------------------------------------------ the slides
JS_REVEAL = "() => JSON.stringify(Reveal.getIndices())"


@pytest.mark.parametrize("stem", CORE)
def test_deck_offline_with_math(site, offline, stem):
    deck = site / "slides" / f"{stem}.slides.html"
    page = offline.open(deck)
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")
    got = page.evaluate(JS_MATH, ".reveal .slides")
    want = count_formulas(source_of(stem))
    assert got["n"] == want, f"{stem}: {got['n']} MathML elements for {want} formulas"
    assert got["mathml"] and got["dollars"] == 0, (stem, got)
    n_slides = page.evaluate("() => Reveal.getTotalSlides()")
    assert n_slides >= 8, n_slides
    assert page.locator("aside.notes").count() >= 5, "presenter notes missing"
    assert page.evaluate("() => [Reveal.getConfig().width, Reveal.getConfig().height]") == [
        1280,
        720,
    ]
    # walk every slide: each is laid out inside 1280x720 without needing to scroll much
    overflow = []
    for i in range(n_slides):
        cur = page.evaluate("() => { const s = Reveal.getCurrentSlide(); "
                            "return [s.scrollHeight, s.clientHeight]; }")  # fmt: skip
        if cur[0] > cur[1] * 1.5:
            overflow.append((i, cur))
        if i < 4:
            page.screenshot(path=str(SHOTS / f"slides_{stem}_{i:02d}.png"))
        page.keyboard.press("Space")  # next slide, vertical ones included
    assert not overflow, f"{stem}: slides far taller than the frame: {overflow}"
    offline.check_clean(stem)


@pytest.mark.parametrize("stem", ["04_em_convergence", "07_bayesian_gmm"])
def test_deck_player_steps(site, offline, stem):
    if not _player_in_source(stem):
        pytest.skip(f"{stem} does not call gh.em_player yet (the after-merge step of issue 16)")
    page = offline.open(site / "slides" / f"{stem}.slides.html")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")
    _goto_player_and_check(page, SHOTS / f"slides_{stem}", stem)
    offline.check_clean(stem)


def _goto_player_and_check(page, shot_dir: Path, label: str):
    idx = page.evaluate(f"""() => Reveal.getIndices(
        document.querySelector('{PLAYER}').closest('section'))""")
    page.evaluate(f"() => Reveal.slide({idx['h']}, {idx.get('v') or 0})")
    page.wait_for_timeout(300)
    player = page.locator(PLAYER).first
    page.screenshot(path=str(shot_dir.with_name(shot_dir.name + "_slide.png")))
    check_player(page, player, shot_dir, "player", page_state=lambda: page.evaluate(JS_REVEAL))
    page.screenshot(path=str(shot_dir.with_name(shot_dir.name + "_slide_after.png")))
    # the test can fail: with the focus off the player, the same key does change the slide
    before = page.evaluate(JS_REVEAL)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(100)
    assert page.evaluate(JS_REVEAL) != before, f"{label}: ArrowRight off the player did nothing"


def test_player_on_a_built_deck(tmp_path, offline):
    """Always runs, whatever the notebooks hold: a small notebook with a real player output and
    a formula, built by the same code as `make slides`, then stepped on its slide; and the same
    player with its scripts stripped (an untrusted notebook) still shows frame 0."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat

    import gmm_helpers as gh

    X, _, _ = gh.make_dataset("blobs", random_state=0)
    result = gh.fit_em(X, 4, init="random_from_data", random_state=0)
    player = gh.em_player(X, result, max_frames=6)
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("display_data", data=player._repr_mimebundle_())
    code = nbformat.v4.new_code_cell("gh.em_player(X, result)", outputs=[out])
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Stand-in deck\n\nThe E-step computes $\\gamma_{nk}$."),
        nbformat.v4.new_markdown_cell("## 1. Watching EM"),
        code,
        nbformat.v4.new_markdown_cell("## 2. After the player"),
    ]
    src = tmp_path / "nb" / "99_standin.ipynb"
    src.parent.mkdir()
    nbformat.write(nb, src)
    rows = course.build_slides(tmp_path / "slides", [src])
    assert rows[0]["formulas"] == 1
    page = offline.open(tmp_path / "slides" / "99_standin.slides.html")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")
    assert page.evaluate(JS_MATH, ".reveal .slides")["n"] == 1
    _goto_player_and_check(page, SHOTS / "standin_deck", "standin")
    offline.check_clean("standin deck")

    # untrusted: JupyterLab's sanitiser drops <script>; frame 0 must still be a visible image
    stripped = re.sub(r"<script>.*?</script>", "", player.to_html(), flags=re.S)
    page_path = tmp_path / "untrusted.html"
    page_path.write_text(f"<!DOCTYPE html><html><body>{stripped}</body></html>")
    page = offline.open(page_path)
    st = player_state(page.locator(PLAYER))
    assert not st["ready"] and st["controls"] == "none"
    assert st["img"][0] == player.width and st["img"][1] > 600, st
    b64 = base64.b64encode(player.frames[0]).decode()
    assert page.locator("img").get_attribute("src").endswith(b64)
    page.screenshot(path=str(SHOTS / "standin_untrusted.png"))
    offline.check_clean("untrusted player")
    shutil.rmtree(tmp_path / "slides", ignore_errors=True)
