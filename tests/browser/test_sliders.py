"""The notebooks' EM sliders, used the way a student uses them: JupyterLab in headless Chromium.

For every notebook that calls ``em_explorer(`` or ``em_player(`` (at least
``04_em_convergence.ipynb``): open it in a private JupyterLab, run all cells, wait for the
kernel to be idle, then

* live explorer (CSS class ``gmm-em-explorer``): focus the slider handle, press ArrowRight a
  few times and then End; the figure image shown inside the explorer (a ``widgets.Image`` or
  an ``Output``; compared by its decoded pixels) must change each time, and the readout must
  show the new iteration and a different log-likelihood;
* kernel-free explorer (CSS class ``gmm-em-explorer-static``): shut the kernel down, then move
  its slider the same way; the visible frame must change (the slider is jslinked in the
  browser, no kernel involved);
* kernel-free player (``gh.em_player``, CSS class ``gmm-em-player``): right after opening the
  saved notebook (not trusted, so JupyterLab strips its script) it must show frame 0 as an image;
  after the run (trusted outputs) and with the kernel shut down, its buttons and keys must step it
  (tests/browser/player_checks.py).

Element screenshots go to ``test-artifacts/browser/<notebook>/``. ``test_checker_on_standin``
runs the same checks on small stand-in widgets, one working and some deliberately broken, to
prove the checks fail when the redraw or the link is missing.

Run: ``make test-browser`` (``pytest -m browser tests/browser``); see ``conftest.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from player_checks import check_player, player_state

pytestmark = pytest.mark.browser

LIVE = ".gmm-em-explorer:not(.gmm-em-explorer-static)"
STATIC = ".gmm-em-explorer-static"
PLAYER = ".gmm-em-player"  # gh.em_player: kernel-free, plain HTML + JS (no widget manager)
WIDGET_WAIT = 30.0  # s for widget views to appear after the run
MOVE_WAIT = 15.0  # s for the kernel to redraw after a key press
FRAME_WAIT = 8.0  # s for a jslinked (browser-only) frame change
RUN_TIMEOUT = float(os.environ.get("GMM_BROWSER_RUN_TIMEOUT", "90"))

# --------------------------------------------------------------------------- JS snippets

_FIND_PANEL = """
const findPanel = (path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  return Array.from(app.shell.widgets('main'))
    .find(w => w.context && w.context.path === path && w.content && w.sessionContext) || null;
};
"""

JS_STATE = (
    "(path) => {"
    + _FIND_PANEL
    + """
  if (!window.jupyterapp) return {phase: 'JupyterLab app not loaded'};
  const w = findPanel(path);
  if (!w) return {phase: 'notebook panel not open'};
  const session = w.sessionContext.session;
  const kernel = session ? session.kernel : null;
  const cells = [];
  w.content.widgets.forEach((c, i) => {
    const m = c.model;
    if (m.type !== 'code') return;
    const src = m.sharedModel.getSource();
    const errors = [];
    for (let k = 0; k < m.outputs.length; k++) {
      const o = m.outputs.get(k);
      if (o.type === 'error') {
        const j = o.toJSON();
        errors.push(`${j.ename}: ${j.evalue}`);
      }
    }
    const tags = (m.getMetadata && m.getMetadata('tags')) || [];
    cells.push({index: i, empty: src.trim() === '', count: m.executionCount, errors,
                raises: tags.includes('raises-exception'), head: src.slice(0, 60)});
  });
  return {phase: 'open', ready: w.context.isReady, kernel: kernel ? kernel.status : null,
          dialog: !!document.querySelector('.jp-Dialog'), cells};
}"""
)

JS_RUN_ALL = (
    "async ([path, ms]) => {"
    + _FIND_PANEL
    + """
  const app = window.jupyterapp;
  const w = findPanel(path);
  app.shell.activateById(w.id);
  if (app.shell.currentWidget !== w) return 'could not activate the notebook';
  const run = app.commands.execute('notebook:run-all-cells').then(() => 'done', e => 'error: ' + e);
  const late = new Promise(r => setTimeout(() => r('timeout'), ms));
  return await Promise.race([run, late]);
}"""
)

JS_SHUTDOWN_KERNEL = (
    "async (path) => {"
    + _FIND_PANEL
    + """
  const w = findPanel(path);
  const late = new Promise(r => setTimeout(() => r('timeout'), 10000));
  return await Promise.race([w.sessionContext.shutdown().then(() => 'done'), late]);
}"""
)

# Readout = the explorer's text without the slider/play widgets (their own value display)
# and buttons.
JS_READOUT = """(el) => {
  const c = el.cloneNode(true);
  c.querySelectorAll('.widget-slider, .widget-play, button, img').forEach(n => n.remove());
  return c.textContent.replace(/\\s+/g, ' ').trim();
}"""

# What is drawn: the images the user can see, each with a hash of its decoded pixels (a
# widgets.Image gets a new blob: URL on every update, so the URL alone proves nothing).
JS_IMAGES = """(el) => Array.from(el.querySelectorAll('img'))
  .filter(i => i.offsetParent !== null && i.getBoundingClientRect().width > 0)
  .map(i => {
    const loaded = i.complete && i.naturalWidth > 0;
    let hash = null;
    if (loaded) {
      const c = document.createElement('canvas');
      c.width = i.naturalWidth; c.height = i.naturalHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(i, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let h = 2166136261;
      for (let k = 0; k < d.length; k++) { h ^= d[k]; h = Math.imul(h, 16777619); }
      hash = (h >>> 0).toString(16) + '@' + c.width + 'x' + c.height;
    }
    return {src: (i.currentSrc || i.src).slice(0, 80), loaded, hash};
  })"""


def _pixels(imgs) -> list[str] | None:
    """Pixel hashes of the visible images, or None while one is still loading / absent."""
    if not imgs or not all(i["loaded"] for i in imgs):
        return None
    return [i["hash"] for i in imgs]


# --------------------------------------------------------------------------- helpers


def poll(fn: Callable[[], object], timeout: float, what: Callable[[object], str], every=0.15):
    """Call ``fn`` until it returns something truthy; fail with ``what(last)`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s: {what(last)}", pytrace=False)
        time.sleep(every)


def _numbers(text: str) -> tuple[list[int], list[float]]:
    """Whole numbers and decimal numbers in a readout (unicode minus allowed)."""
    text = text.replace("\u2212", "-")
    ints = [int(s) for s in re.findall(r"(?<![\d.,])\d+(?![\d.,])", text)]
    floats = [float(s.replace(",", "")) for s in re.findall(r"-?\d[\d,]*\.\d+(?:e[-+]?\d+)?", text)]
    return ints, floats


def readout_shows_iteration(text: str, t: int) -> bool:
    """Does the readout say iteration ``t``? ("iteration 7", "iter: 7/40", or a bare 7)."""
    m = re.search(r"(?i)\biter(?:ation)?s?\b\.?\s*[:=#]?\s*(\d+)", text)
    if m:
        return int(m.group(1)) == t
    return t in _numbers(text)[0]


def slider_value(handle) -> int:
    return round(float(handle.get_attribute("aria-valuenow")))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


class Shots:
    """Element screenshots under ``test-artifacts/browser/<notebook>/``."""

    def __init__(self, root: Path, name: str):
        self.dir = root / _safe(Path(name).stem)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    def take(self, locator, name: str) -> bytes:
        locator.scroll_into_view_if_needed()
        return locator.screenshot(path=str(self.dir / f"{name}.png"), animations="disabled")


# --------------------------------------------------------------------------- notebook steps


def open_and_run(page, server, rel_path: str) -> dict:
    """Open ``rel_path`` in JupyterLab, run all cells, return once the kernel is idle."""
    timings = {}
    t0 = time.monotonic()
    # ?reset: a clean workspace, so tabs from an earlier test are not reopened (no extra kernels).
    page.goto(server.url(f"lab/tree/{rel_path}?reset&token={server.token}"), wait_until="load")

    def kernel_ready():
        st = page.evaluate(JS_STATE, rel_path)
        if st.get("dialog") and st.get("kernel") is None:
            # e.g. "Select Kernel" when the notebook has no kernelspec: take the default.
            page.locator(".jp-Dialog .jp-mod-accept").first.click()
        return st if st.get("ready") and st.get("kernel") == "idle" else None

    poll(
        kernel_ready,
        60,
        lambda _: (
            f"{rel_path} did not open with an idle kernel; last state: "
            f"{_short(page.evaluate(JS_STATE, rel_path))}"
        ),
        every=0.25,
    )
    timings["open"] = time.monotonic() - t0
    timings["untrusted_players"] = check_untrusted_players(page, server, rel_path)

    t1 = time.monotonic()
    outcome = page.evaluate(JS_RUN_ALL, [rel_path, int(RUN_TIMEOUT * 1000)])
    assert outcome == "done", f"run all cells of {rel_path}: {outcome}"

    def finished():
        st = page.evaluate(JS_STATE, rel_path)
        errors = [c for c in st.get("cells", []) if c["errors"] and not c["raises"]]
        if errors:
            c = errors[0]
            pytest.fail(
                f"{rel_path}: cell {c['index']} ({c['head']!r}...) raised {c['errors'][0]}; "
                "a cell meant to raise needs the `raises-exception` tag",
                pytrace=False,
            )
        pending = [c["index"] for c in st.get("cells", []) if not c["empty"] and c["count"] is None]
        return st if (st.get("kernel") == "idle" and not pending) else None

    poll(
        finished,
        RUN_TIMEOUT,
        lambda _: (
            f"{rel_path}: kernel not idle with every cell executed; last state: "
            f"{_short(page.evaluate(JS_STATE, rel_path))}"
        ),
        every=0.25,
    )
    timings["run_all"] = time.monotonic() - t1
    return timings


def _short(state: dict) -> str:
    cells = state.get("cells")
    if cells is not None:
        state = dict(state)
        state["cells"] = [
            (c["index"], c["count"], c["errors"][:1]) for c in cells if not c["empty"]
        ]
    return json.dumps(state)[:1500]


def wait_for_explorers(page, rel_path: str, need_live: bool, need_static: bool):
    """Wait until the explorer views are rendered; return (live, static) locators."""
    live, static = page.locator(LIVE), page.locator(STATIC)
    players = page.locator(PLAYER)

    def rendered():
        bad = page.locator(".jupyter-widgets:has-text('Error displaying widget')")
        if bad.count():
            pytest.fail(f"{rel_path}: {bad.first.inner_text()[:300]}", pytrace=False)
        n_live, n_static = live.count(), static.count() + players.count()
        ok = (n_live or not need_live) and (n_static or not need_static) and (n_live + n_static)
        return (n_live, n_static) if ok else None

    wanted = " and ".join(
        [
            s
            for s, need in (("a live explorer", need_live), ("a kernel-free one", need_static))
            if need
        ]
        or ["an explorer"]
    )
    poll(
        rendered,
        WIDGET_WAIT,
        lambda _: (
            f"{rel_path}: expected {wanted} (CSS classes gmm-em-explorer / "
            f"gmm-em-explorer-static, or a gh.em_player, gmm-em-player) after running all "
            f"cells; found {live.count()} live, {static.count() + players.count()} kernel-free"
        ),
    )
    time.sleep(0.5)  # let a second explorer further down finish rendering too
    return live, static


def _move_and_check_live(page, ex, handle, key: str, presses: int, before: dict, label, shots):
    """Press ``key`` on the handle; wait for the kernel's redraw; check figure and readout."""
    v_before = slider_value(handle)
    handle.focus()
    for _ in range(presses):
        handle.press(key)
    v = poll(
        lambda: (slider_value(handle) != v_before) and slider_value(handle),
        5,
        lambda _: f"{label}: the slider handle did not move on {key} (value {v_before})",
    )

    def redrawn():
        pixels = _pixels(ex.evaluate(JS_IMAGES))
        text = ex.evaluate(JS_READOUT)
        if slider_value(handle) != v or pixels is None:
            return None
        if pixels == before["pixels"] or not readout_shows_iteration(text, v):
            return None
        return {"pixels": pixels, "readout": text}

    def why(_):
        imgs = ex.evaluate(JS_IMAGES)
        text = ex.evaluate(JS_READOUT)
        problems = []
        if not imgs:
            problems.append("no figure image is visible in the explorer")
        elif _pixels(imgs) == before["pixels"]:
            problems.append(
                f"the figure did NOT change (same image as at iteration {before['t']}): "
                "the slider callback does not redraw"
            )
        if not readout_shows_iteration(text, v):
            problems.append(f"the readout does not show iteration {v}: {text[:200]!r}")
        return f"{label}: after {key} (slider {v_before} -> {v}): " + "; ".join(problems)

    # Stable = the same redrawn state twice in a row (no further redraw still on its way).
    state = poll(redrawn, MOVE_WAIT, why)
    for _ in range(20):
        time.sleep(0.3)
        again = poll(redrawn, MOVE_WAIT, why)
        if again == state:
            break
        state = again
    else:
        pytest.fail(f"{label}: the figure keeps changing after {key}", pytrace=False)
    _, floats_before = _numbers(before["readout"])
    _, floats_now = _numbers(state["readout"])
    assert floats_now, f"{label}: the readout shows no log-likelihood value: {state['readout']!r}"
    assert floats_now != floats_before, (
        f"{label}: the readout's numbers did not change between iteration {before['t']} and {v}: "
        f"{before['readout']!r} vs {state['readout']!r}"
    )
    state["t"] = v
    state["png"] = shots.take(ex, f"{label}_t{v:03d}")
    assert state["png"] != before["png"], (
        f"{label}: screenshots at t={before['t']} and {v} are identical"
    )
    return state


def check_live_explorer(page, ex, label: str, shots: Shots) -> list[dict]:
    ex.scroll_into_view_if_needed()
    handle = ex.locator(".widget-slider .noUi-handle").first
    handle.wait_for(state="visible", timeout=10_000)
    t_min = round(float(handle.get_attribute("aria-valuemin")))
    t_max = round(float(handle.get_attribute("aria-valuemax")))
    assert t_max >= t_min + 4, f"{label}: slider range {t_min}..{t_max} too short to test"
    t0 = slider_value(handle)
    pixels = poll(
        lambda: _pixels(ex.evaluate(JS_IMAGES)),
        MOVE_WAIT,
        lambda _: (
            f"{label}: no figure image shown in the live explorer before moving the slider "
            f"(readout {ex.evaluate(JS_READOUT)[:200]!r})"
        ),
    )
    state = {
        "t": t0,
        "pixels": pixels,
        "readout": ex.evaluate(JS_READOUT),
        "png": shots.take(ex, f"{label}_t{t0:03d}"),
    }
    assert readout_shows_iteration(state["readout"], t0), (
        f"{label}: readout does not show the starting iteration {t0}: {state['readout']!r}"
    )
    states = [state]
    state = _move_and_check_live(page, ex, handle, "ArrowRight", 3, state, label, shots)
    states.append(state)
    state = _move_and_check_live(page, ex, handle, "End", 1, state, label, shots)
    assert state["t"] == t_max, f"{label}: End moved the slider to {state['t']}, not {t_max}"
    states.append(state)
    return states


def check_static_explorer(page, sx, label: str, shots: Shots) -> list[int]:
    sx.scroll_into_view_if_needed()
    handle = sx.locator(".widget-slider .noUi-handle").first
    handle.wait_for(state="visible", timeout=10_000)

    label_el = sx.locator(".widget-slider .widget-readout").first

    def frame():
        return _pixels(sx.evaluate(JS_IMAGES))

    def check_readout(t):
        # The slider's own label is the iteration (SelectionSlider) or the frame number.
        shown = label_el.inner_text().strip() if label_el.count() else str(t)
        it = int(shown) if shown.isdigit() else t
        text = sx.evaluate(JS_READOUT)
        assert not text or readout_shows_iteration(text, it), (
            f"{label}: the kernel-free readout does not follow the slider (slider shows "
            f"{shown!r}, readout {text[:200]!r}; is the readout Stack jslinked too?)"
        )
        return it

    seen = []
    pixels = poll(
        frame, 10, lambda _: f"{label}: no visible frame image in the kernel-free explorer"
    )
    t = slider_value(handle)
    it = check_readout(t)
    png = shots.take(sx, f"{label}_frame{t:02d}_t{it:03d}")
    seen.append(it)
    for key, presses in (("ArrowRight", 2), ("End", 1)):
        handle.focus()
        for _ in range(presses):
            handle.press(key)

        def changed(before=pixels):
            now = frame()
            return now if now and now != before else None

        pixels = poll(
            changed,
            FRAME_WAIT,
            lambda _, key=key: (
                f"{label}: after {key} the slider shows "
                f"{slider_value(handle)} but the visible frame did not change (is the slider "
                "jslinked to the Stack's selected_index?)"
            ),
        )
        t_new = slider_value(handle)
        assert t_new != t, f"{label}: the slider did not move on {key}"
        t = t_new
        it = check_readout(t)
        png_new = shots.take(sx, f"{label}_frame{t:02d}_t{it:03d}")
        assert png_new != png, f"{label}: screenshots identical after {key}"
        png = png_new
        seen.append(it)
    return seen


def _calls_em_player(server, rel_path: str) -> bool:
    src = server.source_dir / Path(rel_path).name
    try:
        nb = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(
        c.get("cell_type") == "code" and "em_player(" in "".join(c.get("source", ""))
        for c in nb.get("cells", [])
    )


def check_untrusted_players(page, server, rel_path: str) -> int:
    """The notebook as saved, just opened (not trusted, not run): JupyterLab strips the players'
    scripts, so each must still show its frame 0 as a plain image. Returns how many."""
    if not _calls_em_player(server, rel_path):
        return 0
    players = page.locator(PLAYER)
    poll(
        lambda: players.count() or None,
        WIDGET_WAIT,
        lambda _: f"{rel_path}: the saved em_player output shows no {PLAYER} element",
    )
    for k in range(players.count()):
        st = player_state(players.nth(k))
        assert st["img"][0] >= 1000 and st["img"][1] > 300, (
            f"{rel_path}: saved player {k} shows no frame 0 without its script: {st}"
        )
        assert not st["ready"], f"{rel_path}: an untrusted notebook ran the player's script"
    return players.count()


def check_notebook(page, server, rel_path: str, require_both: bool) -> dict:
    """Everything one notebook must pass; returns timings (s)."""
    start = time.monotonic()
    shots = Shots(server.artifacts_dir, rel_path)
    timings = open_and_run(page, server, rel_path)
    live, static = wait_for_explorers(page, rel_path, require_both, require_both)

    t1 = time.monotonic()
    for k in range(live.count()):
        states = check_live_explorer(page, live.nth(k), f"live{k}", shots)
        timings[f"live{k}_iterations"] = [s["t"] for s in states]
    timings["live"] = time.monotonic() - t1

    if static.count():
        # Kernel-free means kernel-free: stop the kernel before touching these sliders.
        assert page.evaluate(JS_SHUTDOWN_KERNEL, rel_path) == "done", "kernel shutdown timed out"
        t2 = time.monotonic()
        for k in range(static.count()):
            timings[f"static{k}_iterations"] = check_static_explorer(
                page, static.nth(k), f"static{k}", shots
            )
        timings["static"] = time.monotonic() - t2
    players = page.locator(PLAYER)
    if players.count():
        # run in this session, the outputs are trusted: the players' scripts ran; no kernel
        assert page.evaluate(JS_SHUTDOWN_KERNEL, rel_path) == "done", "kernel shutdown timed out"
        t3 = time.monotonic()
        for k in range(players.count()):
            timings[f"player{k}_iterations"] = check_player(
                page, players.nth(k), shots.dir, f"player{k}"
            )
        timings["player"] = time.monotonic() - t3
    timings["total"] = time.monotonic() - start
    (shots.dir / "timings.json").write_text(json.dumps(timings, indent=1))
    return timings


# --------------------------------------------------------------------------- tests


def test_em_slider_in_jupyterlab(notebook_name, lab_server, lab_page, record_property):
    src = lab_server.source_dir / notebook_name
    assert src.is_file(), (
        f"{src} does not exist: the browser test needs {notebook_name} with both "
        "`gh.em_explorer(X, result)` and a kernel-free one, `gh.em_player(X, result)` "
        "(or `gh.em_explorer(X, result, static=True)`)"
    )
    timings = check_notebook(
        lab_page,
        lab_server,
        f"notebooks/{notebook_name}",
        require_both=notebook_name in lab_server.required_notebooks,
    )
    for key, value in timings.items():
        record_property(key, value)
    print(json.dumps(timings))


# --------------------------------------------------------------------------- test of the test

_STANDIN = r"""
%matplotlib inline
import io
import matplotlib.pyplot as plt
import numpy as np
import ipywidgets as widgets

T = 12
angles = np.linspace(0, 2 * np.pi, 60)
centres = [np.array([np.cos(t / 3), np.sin(t / 3)]) * (1 + t / 4) for t in range(T + 1)]
loglik = -800 + 500 * (1 - np.exp(-np.arange(T + 1) / 3))

def draw(t):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(centres[t][0] + np.cos(angles), centres[t][1] + np.sin(angles), lw=3)
    ax.set(xlim=(-5, 5), ylim=(-5, 5), title=f"stand-in, iteration {t}")
    return fig

def em_explorer(static=False):
    slider = widgets.IntSlider(value=0, min=0, max=T, description="iteration")
    if static:
        frames = []
        for t in range(T + 1):
            fig = draw(t)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            plt.close(fig)
            frames.append(widgets.Image(value=buf.getvalue(), format="png"))
        stack = widgets.Stack(frames, selected_index=0)
        readout = widgets.Stack(
            [widgets.HTML(f"iteration {t}, log-likelihood {loglik[t]:.3f}") for t in range(T + 1)],
            selected_index=0,
        )
        LINK
        box = widgets.VBox([slider, readout, stack])
        box.add_class("gmm-em-explorer-static")
        return box
    play = widgets.Play(value=0, min=0, max=T, interval=300)
    widgets.jslink((play, "value"), (slider, "value"))
    readout = widgets.HTML()
    out = widgets.Output()
    def update(change=None):
        t = slider.value
        readout.value = f"iteration {t}, log-likelihood {loglik[t]:.3f}"
        REDRAW
    slider.observe(update, "value")
    update()
    box = widgets.VBox([widgets.HBox([play, slider]), readout, out])
    box.add_class("gmm-em-explorer")
    return box
"""

_VARIANTS = {
    "ok": {},
    # The bug the test exists for: the figure is drawn once, moving the slider never redraws.
    "no_redraw": {
        "REDRAW": "if change is None:\n            with out:\n                draw(t)\n"
        "                plt.show()"
    },
    # The inline-backend trap from NOTEBOOK_STACK.md: drawing without plt.show().
    "no_plt_show": {
        "REDRAW": "with out:\n            out.clear_output(wait=True)\n            draw(t)"
    },
    # Kernel-free slider not linked to its Stack.
    "no_jslink": {"LINK": "pass"},
}


def _standin_notebook(variant: str) -> dict:
    code = _STANDIN.replace(
        "REDRAW",
        _VARIANTS[variant].get(
            "REDRAW",
            "with out:\n            out.clear_output(wait=True)\n            draw(t)\n"
            "            plt.show()",
        ),
    ).replace(
        "LINK",
        _VARIANTS[variant].get(
            "LINK",
            'widgets.jslink((slider, "value"), (stack, "selected_index"))\n        '
            'widgets.jslink((slider, "value"), (readout, "selected_index"))',
        ),
    )
    cells = [code.strip(), "em_explorer()", "em_explorer(static=True)"]
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],  # fmt: skip
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


_EXPECTED_FAILURE = {
    "no_redraw": "the figure did NOT change",
    "no_plt_show": "no figure image",
    "no_jslink": "visible frame did not change",
}


@pytest.mark.parametrize("variant", list(_VARIANTS))
def test_checker_on_standin(variant, lab_server, lab_page, monkeypatch):
    """The checks pass on a working stand-in widget and fail on broken ones."""
    if variant != "ok":  # the broken ones time out sooner
        monkeypatch.setattr(sys.modules[__name__], "MOVE_WAIT", 4.0)
        monkeypatch.setattr(sys.modules[__name__], "FRAME_WAIT", 3.0)
    rel = f"_selfcheck/standin_{variant}.ipynb"
    path = lab_server.root_dir / rel
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(_standin_notebook(variant)), encoding="utf-8")
    if variant == "ok":
        check_notebook(lab_page, lab_server, rel, require_both=True)
        return
    with pytest.raises((AssertionError, pytest.fail.Exception)) as info:
        check_notebook(lab_page, lab_server, rel, require_both=True)
    assert _EXPECTED_FAILURE[variant] in str(info.value), str(info.value)
    print(f"{variant}: caught as expected -> {info.value}")
