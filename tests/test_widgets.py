"""Tests of gmm_helpers.widgets without a browser (Agg backend, widgets built in plain Python).

The browser side (JupyterLab actually moving the slider, kernel and kernel-free) is tested in
tests/browser/. Here: the slider callback redraws the right iteration, nothing leaks, the static
variant holds one frame per shown iteration and is linked in the browser by ``jslink``.
"""

import os
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

import gmm_helpers as gh  # noqa: E402
from gmm_helpers import plotting as gp  # noqa: E402
from gmm_helpers import widgets as gw  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted(blobs_em_fit):
    return blobs_em_fit


@pytest.fixture
def live(fitted):
    X, result = fitted
    explorer = gw.em_explorer(X, result)
    yield explorer
    explorer.close()


def _ellipse_centres(explorer):
    return np.array([p.center for p in explorer.ax_gmm.patches if isinstance(p, Ellipse)])


def _point_colours(explorer):
    return explorer.ax_gmm.collections[0].get_facecolors()[:, :3]


# ------------------------------------------------------------------------ live explorer
def test_live_explorer_structure(live, fitted):
    _, result = fitted
    assert isinstance(live.widget, widgets.VBox)
    assert "gmm-em-explorer" in live.widget._dom_classes
    assert "gmm-em-slider" in live.slider._dom_classes
    assert "gmm-em-figure" in live.image._dom_classes
    assert "gmm-em-readout" in live.readout._dom_classes
    assert isinstance(live.slider, widgets.IntSlider)
    assert (live.slider.min, live.slider.max, live.slider.value) == (0, result.n_iter, 0)
    assert live.play.max == result.n_iter
    (link,) = live.links
    assert link.source == (live.play, "value")
    assert link.target == (live.slider, "value")
    assert bytes(live.image.value).startswith(PNG_MAGIC)
    assert live.stack is None


@pytest.mark.parametrize("t", [7, 0, 1, -1])
def test_slider_redraws_iteration(live, fitted, t):
    X, result = fitted
    t = result.n_iter if t == -1 else t
    live.slider.value = 3  # start elsewhere so that a change happens
    before = bytes(live.image.value)
    live.slider.value = t
    assert live.ax_gmm.get_title() == f"iteration {t}, log L = {result.log_likelihoods[t]:.2f}"
    np.testing.assert_allclose(_ellipse_centres(live), result.history[t].means)
    np.testing.assert_allclose(live.ax_gmm.collections[1].get_offsets(), result.history[t].means)
    resp = result.responsibilities_at(X, t)
    np.testing.assert_allclose(_point_colours(live), gp.mix_colors(resp), atol=1e-12)
    assert f"iteration {t}</b>" in live.readout.value
    assert f"log L = {result.log_likelihoods[t]:.4f}" in live.readout.value
    if t > 0:
        change = result.log_likelihoods[t] - result.log_likelihoods[t - 1]
        assert f"change = {change:+.4g}" in live.readout.value
    # the marker on the log-likelihood curve follows the slider
    np.testing.assert_allclose(live._marker.get_xdata(), [t])
    np.testing.assert_allclose(live._marker.get_ydata(), [result.log_likelihoods[t]])
    if t != 3:
        assert bytes(live.image.value) != before


def test_rendered_png_matches_a_full_redraw(live):
    """Blitting must give the same picture as drawing the figure from scratch."""
    from io import BytesIO

    from PIL import Image

    live.slider.value = 5
    blitted = np.asarray(Image.open(BytesIO(bytes(live.image.value))).convert("RGB"), dtype=float)
    buf = BytesIO()
    live.figure.savefig(buf, format="png", dpi=live.dpi)
    full = np.asarray(Image.open(BytesIO(buf.getvalue())).convert("RGB"), dtype=float)
    assert blitted.shape == full.shape
    assert np.mean(np.abs(blitted - full)) < 1.0  # same picture (anti-aliasing may differ)


def test_no_figure_leaks(fitted):
    X, result = fitted
    before = len(plt.get_fignums())
    explorers = [gw.em_explorer(X, result) for _ in range(3)]
    for explorer in explorers:
        for t in (1, 5, result.n_iter, 2):
            explorer.slider.value = t
    static = gw.em_explorer(X, result, static=True, max_frames=5)
    assert len(plt.get_fignums()) == before
    # each explorer owns exactly one figure, reused on every redraw
    figure = explorers[0].figure
    explorers[0].slider.value = 3
    assert explorers[0].figure is figure
    assert len(figure.axes) == 2
    n_patches = len(figure.axes[0].patches)
    explorers[0].slider.value = 4
    assert len(figure.axes[0].patches) == n_patches
    for explorer in [*explorers, static]:
        explorer.close()


def test_half_steps_toggle(live, fitted):
    X, result = fitted
    live.slider.value = 3
    live.half_steps.value = True
    assert live.slider.max == 2 * result.n_iter
    assert live.play.max == 2 * result.n_iter
    assert live.slider.value == 6  # E-step of iteration 3
    resp3 = gp.mix_colors(result.responsibilities_at(X, 3))
    # E-step: new responsibilities, old ellipses
    np.testing.assert_allclose(_ellipse_centres(live), result.history[3].means)
    np.testing.assert_allclose(_point_colours(live), resp3, atol=1e-12)
    assert "E-step" in live.ax_gmm.get_title()
    # M-step: new ellipses (iteration 4), same responsibilities
    live.slider.value = 7
    np.testing.assert_allclose(_ellipse_centres(live), result.history[4].means)
    np.testing.assert_allclose(_point_colours(live), resp3, atol=1e-12)
    assert "M-step" in live.ax_gmm.get_title()
    assert f"log L = {result.log_likelihoods[4]:.4f}" in live.readout.value
    np.testing.assert_allclose(live._marker.get_xdata(), [4])
    # back to whole iterations: the M-step of step 7 reached iteration 4
    live.half_steps.value = False
    assert (live.slider.max, live.slider.value) == (result.n_iter, 4)
    np.testing.assert_allclose(_ellipse_centres(live), result.history[4].means)
    assert live.ax_gmm.get_title().startswith("iteration 4, ")


def test_display_bundle_is_the_widget(live):
    bundle = live._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == live.widget.model_id
    assert bundle["text/plain"] == repr(live)
    assert repr(live).startswith("EMExplorer(n_iter=")


def test_explorer_rejects_bad_input(fitted):
    X, result = fitted
    with pytest.raises(ValueError, match=r"expected X of shape \(n_samples, 2\)"):
        gw.em_explorer(np.hstack([X, X]), result)


def test_works_with_inline_backend(tmp_path):
    """After `%matplotlib inline`: the slider still re-renders and no pyplot figure appears."""
    pytest.importorskip("matplotlib_inline")
    script = textwrap.dedent(
        """
        import matplotlib
        matplotlib.use("module://matplotlib_inline.backend_inline")
        import matplotlib.pyplot as plt
        import gmm_helpers as gh
        X, _, _ = gh.make_dataset("blobs", random_state=0)
        result = gh.fit_em(X, 4, init="random_from_data", random_state=0, max_iter=10)
        ex = gh.em_explorer(X, result)
        first = bytes(ex.image.value)
        ex.slider.value = 5
        assert bytes(ex.image.value) != first
        assert "iteration 5," in ex.ax_gmm.get_title()
        assert plt.get_fignums() == [], plt.get_fignums()
        print("OK", matplotlib.get_backend())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK")


# ------------------------------------------------------------------------ static explorer
def test_static_explorer_frames_and_links(fitted):
    X, result = fitted
    explorer = gw.em_explorer(X, result, static=True, every=5)
    expected = gp.snapshot_iterations(result.n_iter, 5)
    assert [t for t, _ in explorer.frames] == expected
    assert "gmm-em-explorer-static" in explorer.widget._dom_classes
    assert "gmm-em-slider" in explorer.slider._dom_classes
    assert isinstance(explorer.stack, widgets.Stack)
    assert len(explorer.stack.children) == len(expected)
    assert all(isinstance(c, widgets.Image) for c in explorer.stack.children)
    assert all(bytes(c.value).startswith(PNG_MAGIC) for c in explorer.stack.children)
    # all frames differ
    assert len({bytes(c.value) for c in explorer.stack.children}) == len(expected)
    # slider labels are the iterations; its index is the frame number
    assert [label for label, _ in explorer.slider.options] == [str(t) for t in expected]
    assert [i for _, i in explorer.slider.options] == list(range(len(expected)))
    # linked in the browser (jslink), not through a Python callback
    pairs = {
        (link.source[0], link.source[1], link.target[0], link.target[1])
        for link in explorer.links
        if isinstance(link, widgets.widget_link.Link)
    }
    assert (explorer.slider, "index", explorer.stack, "selected_index") in pairs
    assert (explorer.slider, "index", explorer.readout, "selected_index") in pairs
    assert (explorer.play, "value", explorer.slider, "index") in pairs
    assert explorer.play.max == len(expected) - 1
    # readouts: one per frame, with that iteration's log-likelihood
    for (t, _), html in zip(explorer.frames, explorer.readout.children, strict=True):
        assert f"iteration {t}</b>" in html.value
        assert f"log L = {result.log_likelihoods[t]:.4f}" in html.value
    explorer.close()


def test_static_explorer_is_small(fitted):
    X, result = fitted
    explorer = gw.em_explorer(X, result, static=True)
    assert 2 <= len(explorer.frames) <= 21
    assert explorer.frames[0][0] == 0
    assert explorer.frames[-1][0] == result.n_iter
    assert explorer.n_bytes < 2_000_000
    explorer.close()
    few = gw.em_explorer(X, result, static=True, every=1, max_frames=6)
    assert len(few.frames) == 6
    assert few.frames[-1][0] == result.n_iter
    few.close()


def test_public_names_reachable_from_package():
    for name in gw.__all__:
        assert getattr(gh, name) is getattr(gw, name)


def test_explorer_of_a_variational_fit_steps_through_the_elbo():
    X, _, _ = gh.make_dataset("blobs", random_state=0)
    vb = gh.fit_variational(X, 6, random_state=0, max_iter=30)
    ex = gh.em_explorer(X, vb)
    ex.slider.value = 3
    assert "ELBO" in ex.readout.value and f"{vb.elbo[3]:.4f}" in ex.readout.value
    np.testing.assert_allclose(ex._marker.get_ydata(), [vb.elbo[3]])


def test_explorer_rejects_params_instead_of_a_result(fitted):
    # em_explorer(X, result.params) raised AttributeError: 'GMMParams' has no 'history'
    X, result = fitted
    with pytest.raises(ValueError, match="expected a fit result with history and log_likelihoods"):
        gh.em_explorer(X, result.params)
