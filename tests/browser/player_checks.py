"""Browser checks of the kernel-free EM player (``gh.em_player``), shared by the file:// course
tests and the JupyterLab test: the buttons and keys step it, the picture and the frame index
follow, and the keys it handles do not reach the page (reveal.js must not change slides)."""

from __future__ import annotations

from pathlib import Path

PLAYER = ".gmm-em-player"

JS_STATE = """(el) => ({
  frame: parseInt(el.getAttribute('data-frame'), 10),
  iteration: parseInt(el.getAttribute('data-iteration'), 10),
  n: parseInt(el.getAttribute('data-n-frames'), 10),
  ready: el.getAttribute('data-ready') === '1',
  readout: el.querySelector('.gmm-em-player-readout').innerText,
  src: el.querySelector('img').getAttribute('src').length,
  controls: getComputedStyle(el.querySelector('.gmm-em-player-controls')).display,
  img: [el.querySelector('img').naturalWidth,
        el.querySelector('img').getBoundingClientRect().width],
})"""


def player_state(player) -> dict:
    return player.evaluate(JS_STATE)


def check_player(page, player, shot_dir: Path, label: str, page_state=None) -> list[int]:
    """Step one player and assert what a user sees; returns the iterations shown.

    ``page_state`` (a callable returning e.g. the reveal.js indices) must not change while the
    player handles keys.
    """
    shot_dir.mkdir(parents=True, exist_ok=True)
    player.scroll_into_view_if_needed()
    st = player_state(player)
    assert st["ready"], f"{label}: the player's script did not run"
    assert st["controls"] == "flex", f"{label}: controls not shown ({st['controls']})"
    assert st["frame"] == 0 and st["n"] >= 2, st
    assert st["img"][0] >= 1000, f"{label}: frame only {st['img'][0]} px wide (not projector-sharp)"
    img = player.locator("img")
    before = page_state() if page_state else None
    png = img.screenshot(path=str(shot_dir / f"{label}_frame00.png"))
    player.locator("img").click()  # focus the player (clicking the picture does nothing else)
    seen = [st["iteration"]]
    last = st["n"] - 1
    expect = {"ArrowRight": lambda f: f + 1, "ArrowLeft": lambda f: f - 1,
              "End": lambda f: last, "Home": lambda f: 0}  # fmt: skip
    for k, key in enumerate(["ArrowRight", "ArrowRight", "End", "ArrowLeft", "Home"], start=1):
        page.keyboard.press(key)
        new = player_state(player)
        want = expect[key](st["frame"])
        assert new["frame"] == want, f"{label}: {key} gave frame {new['frame']}, expected {want}"
        assert f"iteration {new['iteration']}" in new["readout"], (label, key, new["readout"])
        assert (new["frame"] == 0) == (new["iteration"] == 0), new
        page.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle())
        shot = img.screenshot(path=str(shot_dir / f"{label}_{k}_{key}_frame{new['frame']:02d}.png"))
        assert (shot != png) == (new["frame"] != st["frame"]), f"{label}: pixels after {key}"
        if page_state:
            assert page_state() == before, f"{label}: {key} also moved the page ({page_state()})"
        st, png = new, shot
        seen.append(new["iteration"])
    # the play button runs through the frames on its own
    player.locator('button[data-act="play"]').click()
    page.wait_for_function(
        "(el) => parseInt(el.getAttribute('data-frame'), 10) >= 2", arg=player.element_handle()
    )
    player.locator('button[data-act="play"]').click()  # pause
    if page_state:
        assert page_state() == before, f"{label}: the buttons moved the page"
    return seen
