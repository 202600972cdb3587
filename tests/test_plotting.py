"""Tests of gmm_helpers.plotting on the Agg backend.

The ellipse geometry is checked against an independent construction (points on the true
n-sigma contour mapped through the patch's own transform), so a wrong angle convention, a swapped
width/height or a missing factor 2 all fail.
"""

import dataclasses
import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

import gmm_helpers as gh  # noqa: E402
from gmm_helpers import plotting as gp  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    X, _, _ = gh.make_dataset("blobs", random_state=0)
    result = gh.fit_em(X, 4, init="random_from_data", random_state=0)
    assert result.n_iter >= 12, "the snapshot tests need a run of a dozen iterations or more"
    return X, result


def _rotation(deg):
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


# ------------------------------------------------------------------------ colours
def test_component_colors_are_many_distinct_and_valid():
    assert len(gp.COMPONENT_COLORS) >= 10
    rgbs = [to_rgb(c) for c in gp.COMPONENT_COLORS]
    assert len(set(rgbs)) == len(rgbs)
    # Okabe-Ito blue, orange, bluish green first: the palette is fixed per component index
    assert gp.COMPONENT_COLORS[:3] == ("#0072B2", "#E69F00", "#009E73")
    np.testing.assert_allclose(gp.component_colors(3), rgbs[:3])
    # cycling beyond the palette
    many = gp.component_colors(len(rgbs) + 2)
    np.testing.assert_allclose(many[len(rgbs)], rgbs[0])


def test_mix_colors_is_responsibility_weighted_average():
    colors = gp.component_colors(3)
    resp = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    mixed = gp.mix_colors(resp)
    np.testing.assert_allclose(mixed[0], colors[0])
    np.testing.assert_allclose(mixed[1], colors[2])
    np.testing.assert_allclose(mixed[2], 0.5 * (colors[0] + colors[1]))
    np.testing.assert_allclose(mixed[3], 0.2 * colors[0] + 0.3 * colors[1] + 0.5 * colors[2])
    with pytest.raises(ValueError, match="expected 3 colours"):
        gp.mix_colors(resp, colors[:2])


def test_snapshot_iterations():
    assert gp.snapshot_iterations(12, 5) == [0, 5, 10, 12]
    assert gp.snapshot_iterations(10, 5) == [0, 5, 10]
    assert gp.snapshot_iterations(0, 5) == [0]
    with pytest.raises(ValueError, match="expected every >= 1"):
        gp.snapshot_iterations(10, 0)


# ------------------------------------------------------------------------ ellipse geometry
@pytest.mark.parametrize(
    ("angle", "sd_major", "sd_minor"),
    [
        (0.0, 3.0, 1.0),  # axis-aligned, wide
        (90.0, 2.0, 0.5),  # axis-aligned, tall
        (30.0, 2.0, 1.0),
        (-45.0, 1.5, 0.3),
        (135.0, 4.0, 2.0),
        (75.0, 1.0, 0.999),  # nearly equal eigenvalues
    ],
)
@pytest.mark.parametrize("n_std", [1.0, 2.0, 3.0])
def test_ellipse_geometry_from_known_rotation(angle, sd_major, sd_minor, n_std):
    R = _rotation(angle)
    cov = R @ np.diag([sd_major**2, sd_minor**2]) @ R.T
    mean = np.array([1.5, -2.0])
    fig, ax = plt.subplots()
    e = gp.plot_cov_ellipse(mean, cov, ax=ax, n_std=n_std, edgecolor="k")
    assert isinstance(e, Ellipse)
    assert e in ax.patches
    np.testing.assert_allclose(e.center, mean)
    np.testing.assert_allclose(e.width, 2 * n_std * sd_major, rtol=1e-10)
    np.testing.assert_allclose(e.height, 2 * n_std * sd_minor, rtol=1e-10)
    # an ellipse's angle is defined modulo 180 degrees
    diff = (e.angle - angle) % 180.0
    assert min(diff, 180.0 - diff) < 1e-6
    # independent check: points on the true contour (x-mu)^T S^-1 (x-mu) = n^2 land on the
    # patch's unit circle
    u = np.linspace(0, 2 * np.pi, 37)
    contour = mean + n_std * (np.linalg.cholesky(cov) @ np.vstack([np.cos(u), np.sin(u)])).T
    unit = e.get_patch_transform().inverted().transform(contour)
    np.testing.assert_allclose(np.hypot(unit[:, 0], unit[:, 1]), 1.0, rtol=1e-9)


@pytest.mark.parametrize("sd", [0.5, 2.0])
def test_ellipse_with_equal_eigenvalues_is_a_circle(sd):
    cov = sd**2 * np.eye(2)
    fig, ax = plt.subplots()
    e = gp.plot_cov_ellipse([0.0, 0.0], cov, ax=ax, n_std=2.0)
    np.testing.assert_allclose([e.width, e.height], [4 * sd, 4 * sd], rtol=1e-12)
    pts = 2.0 * sd * np.array([[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]])
    unit = e.get_patch_transform().inverted().transform(pts)
    np.testing.assert_allclose(np.hypot(unit[:, 0], unit[:, 1]), 1.0, rtol=1e-12)


def test_ellipse_defaults_and_kwargs():
    fig, ax = plt.subplots()
    plt.sca(ax)
    e = gp.plot_cov_ellipse([0, 0], [[2.0, 0.3], [0.3, 1.0]], edgecolor="red", lw=3)
    assert e.axes is ax  # ax=None draws into the current axes
    assert e.get_facecolor()[3] == 0.0  # unfilled by default
    np.testing.assert_allclose(e.get_edgecolor()[:3], to_rgb("red"))
    assert e.get_linewidth() == 3


@pytest.mark.parametrize(
    ("mean", "cov", "match"),
    [
        ([0, 0, 0], np.eye(2), "mean of shape"),
        ([0, 0], np.eye(3), "cov of shape"),
        ([0, 0], [[1.0, 0.5], [0.0, 1.0]], "symmetric"),
        ([0, 0], [[1.0, 0.0], [0.0, -1.0]], "positive semi-definite"),
        # NaN was reported as "an asymmetric one"
        ([0, 0], [[np.nan, 0.0], [0.0, 1.0]], "expected finite mean and cov"),
        ([0, np.inf], np.eye(2), "expected finite mean and cov"),
    ],
)
def test_ellipse_rejects_bad_input(mean, cov, match):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        gp.plot_cov_ellipse(mean, cov, ax=ax)


# ------------------------------------------------------------------------ plot_gmm
def test_plot_gmm_draws_ellipses_means_and_mixed_colours(fitted):
    X, result = fitted
    params = result.params
    fig, ax = plt.subplots()
    n_figs = len(plt.get_fignums())
    out = gp.plot_gmm(X, params, ax=ax)
    assert out is ax
    assert len(plt.get_fignums()) == n_figs
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == params.n_components
    np.testing.assert_allclose([e.center for e in ellipses], params.means)
    for k, e in enumerate(ellipses):
        w, h, _ = gp._ellipse_geometry(params.covariances[k], 2.0)
        np.testing.assert_allclose([e.width, e.height], [w, h])
        np.testing.assert_allclose(e.get_edgecolor()[:3], to_rgb(gp.COMPONENT_COLORS[k]))
    # heavier components get thicker outlines
    order = np.argsort(params.weights)
    lws = np.array([ellipses[k].get_linewidth() for k in order])
    assert np.all(np.diff(lws) >= 0)
    # points: responsibility-weighted colour mix from one E-step of these parameters
    points, means = ax.collections[0], ax.collections[1]
    resp = gh.e_step(X, params)[0]
    np.testing.assert_allclose(points.get_facecolors()[:, :3], gp.mix_colors(resp), atol=1e-12)
    np.testing.assert_allclose(means.get_offsets(), params.means)


def test_plot_gmm_uses_given_responsibilities(fitted):
    X, result = fitted
    K = result.params.n_components
    resp = np.zeros((len(X), K))
    resp[:, 1] = 1.0
    fig, ax = plt.subplots()
    gp.plot_gmm(X, result.params, ax=ax, responsibilities=resp)
    np.testing.assert_allclose(
        ax.collections[0].get_facecolors()[:, :3],
        np.tile(to_rgb(gp.COMPONENT_COLORS[1]), (len(X), 1)),
    )
    with pytest.raises(ValueError, match="expected responsibilities of shape"):
        gp.plot_gmm(X, result.params, ax=ax, responsibilities=resp[:, :2])


def test_plot_gmm_rejects_non_2d_data(fitted):
    X, result = fitted
    with pytest.raises(ValueError, match=r"expected X of shape \(n_samples, 2\)"):
        gp.plot_gmm(np.hstack([X, X[:, :1]]), result.params)


def test_plots_never_fit(fitted, monkeypatch, tmp_path):
    X, result = fitted

    def forbidden(*args, **kwargs):
        raise AssertionError("a plotting function tried to fit")

    for name in ("fit_em", "m_step", "init_params", "kmeans", "select_model"):
        monkeypatch.setattr(gh, name, forbidden)
    fig, axs = plt.subplots(1, 3)
    gp.plot_gmm(X, result.params, ax=axs[0])
    gp.plot_log_likelihood(result, ax=axs[1])
    gp.plot_density(result.params, ax=axs[2], X=X)
    gp.plot_em_snapshots(X, result, every=10)
    gp.save_em_animation(X, result, tmp_path / "a.gif", max_frames=3, hold_last=0)


# ------------------------------------------------------------------------ snapshots
def test_snapshot_grid_titles_and_shared_limits(fitted):
    X, result = fitted
    axes = gp.plot_em_snapshots(X, result, every=5, ncols=3)
    expected = list(range(0, result.n_iter + 1, 5))
    if expected[-1] != result.n_iter:
        expected.append(result.n_iter)
    assert len(axes) == len(expected)
    for ax, t in zip(axes, expected, strict=True):
        title = ax.get_title()
        assert title.startswith(f"iteration {t}, log L = ")
        assert f"{result.log_likelihoods[t]:.1f}" in title
        ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
        np.testing.assert_allclose([e.center for e in ellipses], result.history[t].means)
    assert len({ax.get_xlim() for ax in axes}) == 1
    assert len({ax.get_ylim() for ax in axes}) == 1
    fig = axes[0].figure
    # unused grid cells are hidden
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(expected)
    assert len(fig.axes) == 3 * math.ceil(len(expected) / 3)


def test_snapshot_explicit_iterations(fitted):
    X, result = fitted
    axes = gp.plot_em_snapshots(X, result, iterations=[0, 2, 3])
    assert [ax.get_title().split(",")[0] for ax in axes] == [
        "iteration 0",
        "iteration 2",
        "iteration 3",
    ]
    with pytest.raises(ValueError, match="expected iterations in"):
        gp.plot_em_snapshots(X, result, iterations=[0, result.n_iter + 1])


# ------------------------------------------------------------------------ log-likelihood
def _texts(ax):
    """Texts drawn in ax, including those of every legend it holds."""
    from matplotlib.legend import Legend

    legends = [a for a in ax.get_children() if isinstance(a, Legend)]
    return [t.get_text() for t in ax.texts] + [
        t.get_text() for legend in legends for t in legend.get_texts()
    ]


def test_log_likelihood_curve_and_snapshot_markers(fitted):
    _, result = fitted
    fig, ax = plt.subplots()
    out = gp.plot_log_likelihood(result, ax=ax, every=5)
    assert out is ax
    curve, markers = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(curve.get_ydata(), result.log_likelihoods)
    its = gp.snapshot_iterations(result.n_iter, 5)
    np.testing.assert_array_equal(markers.get_xdata(), its)
    np.testing.assert_allclose(markers.get_ydata(), result.log_likelihoods[its])
    assert not any("decreased" in t for t in _texts(ax))


def test_log_likelihood_decrease_is_flagged(fitted):
    _, result = fitted
    ll = result.log_likelihoods.copy()
    ll[4] = ll[3] - 10.0
    bad = dataclasses.replace(result, log_likelihoods=ll)
    fig, ax = plt.subplots()
    gp.plot_log_likelihood(bad, ax=ax)
    notes = [t for t in _texts(ax) if "decreased" in t]
    assert len(notes) == 1
    assert "iteration 4" in notes[0]
    assert "largest drop 10" in notes[0]
    flagged = [line for line in ax.lines if line.get_gid() == "decrease"]
    np.testing.assert_array_equal(flagged[0].get_xdata(), [4])
    # a notebook's own ax.legend() afterwards must not remove the note
    ax.legend()
    assert sum("decreased" in t for t in _texts(ax)) == 1
    assert any("snapshots" in t for t in _texts(ax))


def test_log_likelihood_per_sample(fitted):
    _, result = fitted
    fig, ax = plt.subplots()
    gp.plot_log_likelihood(result, ax=ax, per_sample=True)
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), result.log_likelihoods / len(result.responsibilities)
    )
    assert ax.get_ylabel() == "log-likelihood per sample"


# ------------------------------------------------------------------------ density
def test_density_contours(fitted):
    X, result = fitted
    fig, ax = plt.subplots()
    out = gp.plot_density(result.params, ax=ax, X=X, n_grid=60, colorbar=True)
    assert out is ax
    (cs,) = [c for c in ax.collections if hasattr(c, "levels")]
    levels = np.asarray(cs.levels)
    assert len(levels) == 11
    np.testing.assert_allclose(levels, np.round(levels))  # readable integer levels
    grid_max = gh.score_samples(result.params.means, result.params).max()
    assert levels[-1] <= grid_max + 1e-9
    assert levels[-1] > grid_max - 2.0
    assert len(fig.axes) == 2  # colour bar


def test_density_explicit_levels_and_title(fitted):
    X, result = fitted
    fig, ax = plt.subplots()
    gp.plot_density(result.params, ax=ax, X=X, n_grid=40, levels=[-6.5, -9.0], title="threshold")
    (cs,) = [c for c in ax.collections if hasattr(c, "levels")]
    np.testing.assert_allclose(cs.levels, [-9.0, -6.5])
    assert ax.get_title() == "threshold"
    fig, ax = plt.subplots()
    gp.plot_density(result.params, ax=ax, n_grid=30, levels=[-6.5], colors="#D55E00",
                    linewidths=2.5)
    cs = ax._gmm_density
    np.testing.assert_allclose(cs.get_linewidths(), [2.5])
    np.testing.assert_allclose(cs.get_edgecolor()[0][:3], [0xD5 / 255, 0x5E / 255, 0.0])


def test_density_without_data_covers_the_components(fitted):
    _, result = fitted
    fig, ax = plt.subplots()
    gp.plot_density(result.params, ax=ax, n_grid=40)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    m = result.params.means
    assert np.all((m[:, 0] > x0) & (m[:, 0] < x1) & (m[:, 1] > y0) & (m[:, 1] < y1))


# ------------------------------------------------------------------------ animation
def test_save_em_animation_writes_gif_and_closes_its_figure(fitted, tmp_path):
    from PIL import Image

    X, result = fitted
    before = plt.get_fignums()
    path = gp.save_em_animation(X, result, tmp_path / "em.gif", fps=5, every=4, hold_last=0)
    assert path == tmp_path / "em.gif"
    assert plt.get_fignums() == before
    with Image.open(path) as im:
        assert im.format == "GIF"
        n_expected = len(gp.snapshot_iterations(result.n_iter, 4))
        assert im.n_frames == n_expected
    with pytest.raises(ValueError, match="expected fps >= 1"):
        gp.save_em_animation(X, result, tmp_path / "x.gif", fps=0)


def test_thin_keeps_first_and_last():
    items = list(range(100))
    out = gp._thin(items, 21)
    assert len(out) == 21
    assert out[0] == 0
    assert out[-1] == 99
    assert gp._thin([1, 2, 3], 21) == [1, 2, 3]


# ------------------------------------------------------------------------ BIC
def _fake_selection():
    ks = [1, 2, 3, 4]
    bic = {
        "spherical": np.array([50.0, 30.0, 25.0, 27.0]),
        "full": np.array([48.0, 20.0, 22.0, np.inf]),
    }
    aic = {
        "spherical": np.array([45.0, 20.0, 10.0, 9.0]),
        "full": np.array([44.0, 15.0, 12.0, 11.0]),
    }
    return SimpleNamespace(
        n_components_range=ks,
        covariance_types=("spherical", "full"),
        bic=bic,
        aic=aic,
        log_likelihood=None,
        best_n_components=2,
        best_covariance_type="full",
        best_params=None,
    )


@pytest.mark.parametrize(("criterion", "best"), [("bic", (2, 20.0)), ("aic", (4, 9.0))])
def test_plot_bic_lines_and_best_point(criterion, best):
    sel = _fake_selection()
    fig, ax = plt.subplots()
    out = gp.plot_bic(sel, ax=ax, criterion=criterion)
    assert out is ax
    lines = {line.get_label(): line for line in ax.lines}
    assert {"spherical", "full"} <= set(lines)
    np.testing.assert_allclose(lines["spherical"].get_ydata(), getattr(sel, criterion)["spherical"])
    (star,) = [line for line in ax.lines if line.get_label().startswith("best")]
    np.testing.assert_allclose([star.get_xdata()[0], star.get_ydata()[0]], best)
    assert ax.get_ylabel().startswith(criterion.upper())


def test_plot_bic_with_real_selection():
    X, _, _ = gh.make_dataset("blobs", random_state=0)
    sel = gh.select_model(X, [2, 3, 4, 5], covariance_types=("spherical", "full"), n_init=1)
    fig, ax = plt.subplots()
    gp.plot_bic(sel, ax=ax)
    (star,) = [line for line in ax.lines if line.get_label().startswith("best")]
    assert star.get_xdata()[0] == sel.best_n_components
    assert sel.best_covariance_type in star.get_label()


def test_plot_bic_excludes_degenerate_cells():
    sel = _fake_selection()
    sel.degenerate = {"spherical": np.array([False, False, False, False]),
                      "full": np.array([False, True, False, False])}  # the lowest BIC
    fig, ax = plt.subplots()
    gp.plot_bic(sel, ax=ax)
    (star,) = [line for line in ax.lines if line.get_label().startswith("best")]
    np.testing.assert_allclose([star.get_xdata()[0], star.get_ydata()[0]], (3, 22.0))
    (cross,) = [line for line in ax.lines if line.get_label().startswith("degenerate")]
    np.testing.assert_allclose([cross.get_xdata()[0], cross.get_ydata()[0]], (2, 20.0))
    full = [line for line in ax.lines if line.get_label() == "full"][0]
    assert np.isnan(full.get_ydata()[1])
    sel.bic["full"] = np.where(sel.degenerate["full"], np.nan, sel.bic["full"])
    fig, ax = plt.subplots()
    gp.plot_bic(sel, ax=ax)  # a blanked flagged cell: nothing to mark, no legend entry
    assert not [line for line in ax.lines if line.get_label().startswith("degenerate")]


def test_plot_bic_rejects_unknown_criterion():
    with pytest.raises(ValueError, match="expected criterion"):
        gp.plot_bic(_fake_selection(), criterion="loglik")


def test_public_names_reachable_from_package():
    for name in gp.__all__:
        assert getattr(gh, name) is getattr(gp, name)


def test_log_likelihood_note_reports_the_largest_of_several_drops(fitted):
    _, result = fitted
    ll = np.linspace(-100.0, -90.0, 12)
    ll[4] -= 2.0  # small drop into iteration 4
    ll[8] -= 5.0  # larger drop into iteration 8
    fig, ax = plt.subplots()
    gp.plot_log_likelihood(dataclasses.replace(result, log_likelihoods=ll, n_samples=10), ax=ax)
    note = [t for t in _texts(ax) if "decreased" in t][0]
    drop8 = ll[7] - ll[8]
    assert f"largest drop {drop8:.3g}" in note, note


def test_bayesian_results_plot_their_objective():
    X, _, _ = gh.make_dataset("blobs", random_state=0)
    vb = gh.fit_variational(X, 6, random_state=0, max_iter=40)
    fig, ax = plt.subplots()
    gp.plot_log_likelihood(vb, ax=ax)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), vb.elbo)
    assert ax.get_ylabel() == "ELBO"
    assert not any("decreased" in t for t in _texts(ax))
    plt.close(fig)


def test_plots_reject_wrong_objects_and_dimensions(fitted):
    # passing the params instead of the result, or 2 columns of a 3-D fit, raised
    # AttributeError or NumPy's concatenate error
    X, result = fitted[0], fitted[1]
    with pytest.raises(ValueError, match="expected a fit result with history and log_likelihoods"):
        gp.plot_em_snapshots(X, result.params)
    with pytest.raises(ValueError, match="got GMMParams"):
        gp.plot_log_likelihood(result.params)
    with pytest.raises(ValueError, match="expected the result of gh.select_model, got int"):
        gp.plot_bic(5)
    X3 = np.random.default_rng(0).standard_normal((60, 3))
    r3 = gh.fit_em(X3, 2, random_state=0, max_iter=3)
    with pytest.raises(ValueError, match=r"expected 2-D components \(means of shape \(K, 2\)\)"):
        gp.plot_em_snapshots(X3[:, :2], r3)
    with pytest.raises(ValueError, match=r"expected 2-D components"):
        gp.save_em_animation(X3[:, :2], r3, "unused.gif")


def test_snapshot_iterations_must_be_integers_in_range(fitted):
    X, result = fitted
    # [] gave matplotlib's "Number of rows must be a positive integer", 1.5 was truncated to 1
    with pytest.raises(ValueError, match="expected at least one iteration"):
        gp.plot_em_snapshots(X, result, iterations=[])
    with pytest.raises(ValueError, match=r"\(integers\), got 1.5"):
        gp.plot_em_snapshots(X, result, iterations=[1.5])
    assert len(gp.plot_em_snapshots(X, result, iterations=np.array([0, 2]))) == 2
