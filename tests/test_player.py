"""Tests of the kernel-free EM player (gmm_helpers.player) without a browser.

The JavaScript (buttons, keys, reveal.js not changing slides) is driven in headless Chromium in
tests/browser/test_course_pages.py. Here: which frames are made, that each frame shows its
iteration (read back from the pixels), the no-script fallbacks, and that the HTML references
nothing outside itself.
"""

import base64
import io
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import gmm_helpers as gh  # noqa: E402
from gmm_helpers import player as gpl  # noqa: E402
from gmm_helpers.plotting import snapshot_iterations  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MARK_RGB = np.array([0xD5, 0x5E, 0x00])  # the iteration marker on the log-likelihood panel


@pytest.fixture(scope="module")
def fitted(blobs_em_fit):
    return blobs_em_fit


@pytest.fixture(scope="module")
def small(fitted):
    """A cheap player (low dpi) for the structural tests."""
    X, result = fitted
    return gh.em_player(X, result, max_frames=6, dpi=40)


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _marker_x(png: bytes) -> float:
    """Mean column of the vermillion iteration marker, right half of the frame."""
    rgb = _decode(png)
    right = rgb[:, rgb.shape[1] // 2 :]
    mask = np.abs(right - MARK_RGB).sum(axis=2) < 60
    assert mask.sum() > 10, "no iteration marker found in the frame"
    return float(np.nonzero(mask)[1].mean())


# ------------------------------------------------------------------------ frames
def test_frames_cover_first_and_last_iteration(fitted):
    X, result = fitted
    player = gh.em_player(X, result, every=5, max_frames=50, dpi=40)
    assert player.iterations == snapshot_iterations(result.n_iter, 5)
    assert player.iterations[0] == 0 and player.iterations[-1] == result.n_iter
    assert player.n_frames == len(player.frames) == len(player.readouts)
    assert player.n_iter == result.n_iter


@pytest.mark.parametrize("max_frames", [2, 5, 16])
def test_max_frames_is_respected(fitted, max_frames):
    X, result = fitted
    player = gh.em_player(X, result, max_frames=max_frames, dpi=30)
    assert 2 <= player.n_frames <= max_frames
    assert player.iterations[0] == 0 and player.iterations[-1] == result.n_iter
    assert player.iterations == sorted(set(player.iterations))


def test_default_frames_are_projector_sharp(fitted):
    """Default: 1260 x 540 px frames (dpi 150), PNG, and a page-sized total."""
    X, result = fitted
    player = gh.em_player(X, result)
    assert (player.width, player.height) == (1260, 540)
    for png in player.frames:
        assert png.startswith(PNG_MAGIC)
        assert Image.open(io.BytesIO(png)).size == (1260, 540)
    assert player.n_frames <= 16
    assert player.n_bytes < 1_000_000, player.n_bytes


def test_each_frame_shows_its_iteration(fitted):
    """Read the frames back: the marker on the curve moves right as t grows, the readout and the
    title follow, and consecutive frames differ in the mixture panel."""
    X, result = fitted
    player = gh.em_player(X, result, max_frames=8, dpi=60)
    xs = [_marker_x(png) for png in player.frames]
    assert all(b > a for a, b in zip(xs, xs[1:])), xs
    ll = result.log_likelihoods
    for t, readout in zip(player.iterations, player.readouts):
        assert f"<b>iteration {t}</b> of {result.n_iter}" in readout
        assert f"{ll[t]:.4f}" in readout
    for a, b in zip(player.frames, player.frames[1:]):
        left_a, left_b = (_decode(p)[:, : player.width // 2] for p in (a, b))
        assert np.abs(left_a - left_b).sum() > 0


def test_no_figure_leaks(fitted):
    X, result = fitted
    before = plt.get_fignums()
    gh.em_player(X, result, max_frames=3, dpi=30)
    assert plt.get_fignums() == before


# ------------------------------------------------------------------------ HTML and fallbacks
def test_html_is_self_contained(small):
    html = small.to_html()
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/|<link|@import|url\(", html, re.I)
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    # every frame is embedded once: frame 0 in the <img>, the others in the script
    for png in small.frames:
        assert html.count(base64.b64encode(png).decode()) == 1
    assert "fontawesome" not in html.lower() and "<i " not in html


def test_frame0_is_a_plain_img_before_any_script(small):
    """An untrusted notebook strips <script>: what is left must still show the figure."""
    html = small.to_html()
    no_script = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    b64 = base64.b64encode(small.frames[0]).decode()
    assert f'<img src="data:image/png;base64,{b64}"' in no_script
    assert small.readouts[0] in no_script
    # the controls are hidden until the script runs (so nothing dead is shown without it)
    assert 'class="gmm-em-player-controls" style="display:none' in no_script


def test_mimebundle_has_png_fallback(small):
    bundle = small._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"]) == small.frames[0]
    assert bundle["text/html"] == small.to_html()
    assert "kernel-free" in bundle["text/plain"]


def test_html_is_deterministic_and_keyed(fitted):
    X, result = fitted
    a = gh.em_player(X, result, max_frames=3, dpi=30)
    b = gh.em_player(X, result, max_frames=3, dpi=30)
    assert a.to_html() == b.to_html()
    c = gh.em_player(X, result, max_frames=4, dpi=30)
    assert c.key != a.key
    assert f'data-gmm-em-player="{a.key}"' in a.to_html()


def test_keys_are_kept_from_the_page(small):
    """The script stops the keys it handles from reaching reveal.js (checked live in the browser
    test); here only that the handler is there and scoped to the player."""
    html = small.to_html()
    assert "stopPropagation()" in html and "preventDefault()" in html
    assert 'tabindex="0"' in html


def test_save_gif_and_html(small, tmp_path):
    gif = tmp_path / "em.gif"
    small.save_gif(gif)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == small.n_frames
    page = tmp_path / "em.html"
    small.save_html(page)
    assert small.to_html() in page.read_text(encoding="utf-8")


# ------------------------------------------------------------------------ bad input
def test_bad_input_gives_clear_errors(fitted):
    X, result = fitted
    with pytest.raises(ValueError, match="max_frames >= 2"):
        gh.em_player(X, result, max_frames=1)
    with pytest.raises(ValueError, match="every >= 1"):
        gh.em_player(X, result, every=0)
    with pytest.raises(ValueError, match="integer dpi"):
        gh.em_player(X, result, dpi=0.5)
    with pytest.raises(ValueError, match="expected"):
        gh.em_player(X[:, :1], result)
    with pytest.raises(ValueError, match="expected"):
        gh.em_player(X, "not a result")


def test_player_does_not_import_ipywidgets():
    code = (
        "import sys, matplotlib; matplotlib.use('Agg'); import gmm_helpers as gh; "
        "X = gh.make_dataset('blobs')[0]; r = gh.fit_em(X, 4, random_state=0); "
        "gh.em_player(X, r, max_frames=2, dpi=20); print('ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_player_module_is_the_one_named_in_the_api():
    assert gh.em_player is gpl.em_player and gh.EMPlayer is gpl.EMPlayer


def test_player_steps_through_a_bayesian_objective():
    """A variational fit (notebook 07) plays its ELBO, not a log-likelihood."""
    X, _, _ = gh.make_dataset("blobs", random_state=0)
    vb = gh.fit_variational(X, 4, random_state=0, max_iter=30)
    player = gh.em_player(X, vb, max_frames=4, dpi=40)
    assert player.iterations[-1] == len(vb.history) - 1
    assert all("ELBO" in r for r in player.readouts)
    assert f"{vb.objective[-1]:.4f}" in player.readouts[-1]
