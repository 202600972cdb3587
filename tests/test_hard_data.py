"""Right answers on hard data (issue 13): far outliers, empty components, features on
different scales, non-finite results, bad input, immutability, huge ellipses.

Each test names the class of bug it guards; the hypothesis tests at the end probe the
same classes with other inputs (far outliers, zero and near-zero weights, per-feature
scales from 1e-8 to 1e8) and assert that the two engines agree and that the reported
log-likelihood is the log-likelihood of the returned parameters.
"""

import copy
import pickle
import warnings

import matplotlib
import numpy as np
import pytest
from _oracles import sklearn_precisions
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.mixture import GaussianMixture as SkGMM

import gmm_helpers as gh
from gmm_helpers import suffstats as ss

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TYPES = ("full", "tied", "diag", "spherical")


def outlier_data(distance, n=200, d=2, seed=1, direction=0):
    X = np.random.default_rng(seed).normal(size=(n, d))
    far = np.zeros((1, d))
    far[0, direction] = distance
    return np.vstack([X, far])


def sklearn_fit(X, start, covariance_type, max_iter, reg_covar=1e-6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkGMM(
            start.n_components, covariance_type=covariance_type, weights_init=start.weights,
            means_init=start.means, precisions_init=sklearn_precisions(start, covariance_type),
            tol=0.0, max_iter=max_iter, reg_covar=reg_covar,
        ).fit(X)


# --------------------------------------------------------------------------- #
# Wrong numbers from the default engine                                        #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("distance", [1e3, 1e5, 1e6])
def test_far_outlier_default_engine_matches_reference_and_sklearn(distance):
    """A narrow component far from the shift: the fast pass would lose its digits."""
    X = outlier_data(distance)
    ours = gh.fit_em(X, 2, random_state=0)
    ref = gh.fit_em(X, 2, random_state=0, engine="reference")
    # the reported value is the log-likelihood of the returned parameters
    assert ours.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, ours.params), rel=1e-12)
    np.testing.assert_allclose(ours.log_likelihoods, ref.log_likelihoods, rtol=1e-10)
    assert np.diff(ours.log_likelihoods).min() > -1e-9 * abs(ours.log_likelihoods[-1])
    sk = sklearn_fit(X, ours.history[0], "full", ours.n_iter)
    assert ours.mean_log_likelihoods[-1] == pytest.approx(sk.score(X), rel=1e-8)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_far_cluster_in_3d_all_types(covariance_type):
    """The same class with another input: a tight cluster of 5 points at 1e5 in 3-D."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(size=(150, 3)), 1e5 + 1e-2 * rng.normal(size=(5, 3))])
    start = gh.init_params(X, 2, "kmeans", random_state=0, covariance_type=covariance_type)
    kw = dict(covariance_type=covariance_type, initial_params=start, max_iter=20, tol=0.0)
    ours = gh.fit_em(X, 2, **kw)
    ref = gh.fit_em(X, 2, engine="reference", **kw)
    np.testing.assert_allclose(ours.log_likelihoods, ref.log_likelihoods, rtol=1e-10)
    assert ours.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, ours.params), rel=1e-12)
    np.testing.assert_allclose(ours.params.covariances, ref.params.covariances, rtol=1e-6,
                               atol=1e-12)


def test_empty_component_stays_empty_and_is_scored_exactly():
    X = np.array([[0.0], [1.0], [99.0]])
    start = gh.GMMParams([0.0, 1.0], [[0.0], [100.0]], np.ones((2, 1, 1)))
    # log 0 = -inf, not ~ -708: the true log-likelihood
    stats = gh.compute_statistics(X, start)
    assert stats.log_likelihood == pytest.approx(gh.log_likelihood(X, start), rel=1e-13)
    assert stats.log_likelihood == pytest.approx(-9903.756815599614, rel=1e-12)
    assert stats.Nk[0] == 0.0 and np.all(np.isfinite(stats.Sxx))
    resp, _ = gh.responsibilities_chunked(X, start)
    np.testing.assert_array_equal(resp[:, 0], 0.0)
    ours = gh.fit_em(X, 2, initial_params=start, max_iter=3, tol=0.0)
    ref = gh.fit_em(X, 2, initial_params=start, max_iter=3, tol=0.0, engine="reference")
    sk = sklearn_fit(X, start, "full", 3)
    assert ours.params.weights[0] < 1e-5  # main: 0.667 after 3 iterations
    np.testing.assert_allclose(ours.params.weights, ref.params.weights, rtol=1e-8)
    np.testing.assert_allclose(ours.params.means, ref.params.means, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.log_likelihoods, ref.log_likelihoods, rtol=1e-12)
    np.testing.assert_allclose(ours.params.weights, sk.weights_, rtol=1e-6, atol=1e-12)


def test_zero_weights_never_reach_the_matrix_product():
    """Masking, not -inf in W: W has rows only for the components of positive weight."""
    X = np.random.default_rng(0).normal(size=(50, 2))
    p = gh.GMMParams([0.0, 0.5, 0.0, 0.5], np.zeros((4, 2)) + [[0], [1], [2], [3]],
                     np.repeat(np.eye(2)[None], 4, 0))
    W, active, _ = ss._coefficients(p, X.mean(axis=0))
    assert active.tolist() == [1, 3] and np.all(np.isfinite(W))
    stats = gh.compute_statistics(X, p, chunk_size=7)
    assert stats.log_likelihood == pytest.approx(gh.log_likelihood(X, p), rel=1e-13)
    np.testing.assert_array_equal(stats.Nk[[0, 2]], 0.0)


# --------------------------------------------------------------------------- #
# Fits refused that should succeed: scale-invariant positive-definiteness     #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_features_on_1e7_and_1_scales_fit_like_sklearn(covariance_type):
    X = np.random.default_rng(0).normal(size=(200, 2)) * [1e7, 1]
    start = gh.init_params(X, 2, "kmeans", random_state=0, covariance_type=covariance_type)
    ours = gh.fit_em(X, 2, covariance_type=covariance_type, initial_params=start, max_iter=30,
                     tol=0.0)
    sk = sklearn_fit(X, start, covariance_type, 30)
    assert ours.mean_log_likelihoods[-1] == pytest.approx(sk.score(X), rel=1e-9)
    # rescaling one feature only shifts the log-likelihood by N log(scale)
    X1 = X / [1e7, 1]
    start1 = gh.GMMParams(start.weights, start.means / [1e7, 1],
                          start.covariances / np.outer([1e7, 1], [1e7, 1]), covariance_type)
    one = gh.fit_em(X1, 2, covariance_type=covariance_type, initial_params=start1, max_iter=30,
                    tol=0.0, reg_covar=0.0)
    zero = gh.fit_em(X, 2, covariance_type=covariance_type, initial_params=start, max_iter=30,
                     tol=0.0, reg_covar=0.0)
    assert zero.log_likelihoods[-1] == pytest.approx(
        one.log_likelihoods[-1] - 200 * np.log(1e7), rel=1e-9)


@pytest.mark.parametrize("scales", [(1e13, 1.0), (1.0, 1e-13), (1e-150, 1e150), (1e8, 1e-8)])
def test_gmmparams_positive_definite_test_is_scale_invariant(scales):
    c = np.diag(scales)
    assert gh.GMMParams([1.0], [[0.0, 0.0]], [c]).covariances[0, 0, 0] == scales[0]
    # a correlation of 1 - 1e-15 stays singular at every scale
    s = np.sqrt(np.asarray(scales))
    corr = np.array([[1.0, 1 - 1e-15], [1 - 1e-15, 1.0]])
    with pytest.raises(ValueError, match="singular or not positive-definite"):
        gh.GMMParams([1.0], [[0.0, 0.0]], [corr * np.outer(s, s)])
    gh.log_gaussian_pdf(np.zeros((1, 2)), [0, 0], c)


def test_one_outlier_at_1e10_with_one_component_gives_the_closed_form():
    X = outlier_data(1e10, n=100, seed=0)
    res = gh.fit_em(X, 1, random_state=0)
    np.testing.assert_allclose(res.params.means[0], X.mean(axis=0), rtol=1e-12)
    cov = np.cov(X.T, bias=True) + 1e-6 * np.eye(2)
    np.testing.assert_allclose(res.params.covariances[0], cov, rtol=1e-9)
    assert res.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, res.params), rel=1e-12)


def test_gaussian_mixture_fits_features_on_different_scales():
    X = np.random.default_rng(0).normal(size=(200, 2)) * [1e7, 1]
    gm = gh.GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    assert np.all(np.isfinite(gm.lower_bounds_))


# --------------------------------------------------------------------------- #
# Non-finite results                                                           #
# --------------------------------------------------------------------------- #
def test_log_density_below_float_range_raises_not_nan():
    p = gh.GMMParams([1.0], [[0.0, 0.0]], [np.eye(2) * 1e-300])
    X = np.ones((3, 2)) * 1e5
    for f in (gh.e_step, gh.score_samples, gh.log_likelihood, gh.compute_statistics,
              gh.responsibilities_chunked):
        with pytest.raises(ValueError, match="expected parameters under which every point"):
            f(X, p)
    with pytest.raises(ValueError, match="expected parameters under which every point"):
        gh.log_gaussian_pdf(X, [0, 0], np.eye(2) * 1e-300)


def test_gaussian_mixture_from_huge_precisions_is_finite_or_refused():
    """main: 'expected finite weights, got NaN or inf' (the weights were fine) or -inf."""
    X = np.random.default_rng(0).normal(size=(100, 2))
    start = dict(weights_init=[0.5, 0.5], means_init=[[0, 0], [1, 1]])
    for data_scale, scale in ((1e5, 1e300), (1e3, 1e304)):
        gm = gh.GaussianMixture(2, precisions_init=np.array([np.eye(2)] * 2) * scale, **start)
        with pytest.raises(ValueError, match="expected parameters under which every point"):
            gm.fit(X * data_scale)
    gm = gh.GaussianMixture(2, precisions_init=np.array([np.eye(2)] * 2) * 1e300, **start)
    assert np.all(np.isfinite(gm.fit(X).lower_bounds_))


# --------------------------------------------------------------------------- #
# Wrong exception or message                                                   #
# --------------------------------------------------------------------------- #
_X = np.random.default_rng(0).normal(size=(30, 2))
_P = gh.GMMParams([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], np.array([np.eye(2)] * 2))
_COMPLEX_ENTRY_POINTS = {
    "GMMParams weights": lambda z: gh.GMMParams(np.array([1.0]) + z, [[0.0, 0.0]], [np.eye(2)]),
    "GMMParams means": lambda z: gh.GMMParams([1.0], np.zeros((1, 2)) + z, [np.eye(2)]),
    "GMMParams covariances": lambda z: gh.GMMParams([1.0], [[0.0, 0.0]], [np.eye(2) + z]),
    "m_step": lambda z: gh.m_step(_X, np.ones((30, 1)) + z),
    "fit_em": lambda z: gh.fit_em(_X + z, 1),
    "logsumexp": lambda z: gh.logsumexp(np.array([1.0]) + z),
    "log_gaussian_pdf mean": lambda z: gh.log_gaussian_pdf(_X, np.zeros(2) + z, np.eye(2)),
    "log_gaussian_pdf cov": lambda z: gh.log_gaussian_pdf(_X, np.zeros(2), np.eye(2) + z),
    "precisions_init": lambda z: gh.GaussianMixture(
        1, weights_init=[1.0], means_init=[[0, 0]], precisions_init=np.array([np.eye(2)]) + z
    ).fit(_X),
    "means_init": lambda z: gh.GaussianMixture(
        1, weights_init=[1.0], means_init=np.zeros((1, 2)) + z, precisions_init=[np.eye(2)]
    ).fit(_X),
    "compute_statistics shift": lambda z: gh.compute_statistics(_X, _P, shift=np.zeros(2) + z),
}


@pytest.mark.parametrize("entry", sorted(_COMPLEX_ENTRY_POINTS))
def test_complex_arrays_are_refused_wherever_arrays_enter(entry):
    with pytest.raises(ValueError, match="expected .* real numbers, got dtype complex"):
        _COMPLEX_ENTRY_POINTS[entry](0.5j)


def test_logsumexp_and_select_model_refuse_none():
    with pytest.raises(ValueError, match="expected a to hold numbers, got dtype object"):
        gh.logsumexp(None)
    with pytest.raises(ValueError, match="expected n_components_range to be an iterable"):
        gh.select_model(_X, None)
    with pytest.raises(ValueError, match="expected covariance_types"):
        gh.select_model(_X, [1], covariance_types=None)


def test_asymmetric_precisions_init_is_refused():
    gm = gh.GaussianMixture(1, weights_init=[1.0], means_init=[[0, 0]],
                            precisions_init=np.array([[[1.0, 0.5], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match="expected symmetric precisions_init"):
        gm.fit(_X)


@pytest.mark.parametrize("scale", [1e160, 1e-170, 1e300])
def test_data_a_fit_cannot_square_gets_one_coherent_message(scale):
    X = np.random.default_rng(0).normal(size=(100, 2)) * scale
    for fit in (lambda: gh.fit_em(X, 2, random_state=0),
                lambda: gh.init_params(X, 2, random_state=0),
                lambda: gh.kmeans(X, 2, random_state=0)):
        with pytest.raises(ValueError, match=r"^expected .*rescale the data"):
            fit()
    # and the advertised remedy works
    Z = gh.standardize(X)
    assert gh.fit_em(Z, 2, random_state=0).converged


def test_standardize_of_huge_and_tiny_columns():
    Z = gh.standardize([[1e200, 1.0], [-1e200, 2.0]])
    np.testing.assert_allclose(Z, [[1.0, -1.0], [-1.0, 1.0]], rtol=1e-15)
    X = np.random.default_rng(0).normal(size=(50, 3))
    ref = (X - X.mean(0)) / X.std(0)
    for s in (1e-200, 1.0, 1e250):
        np.testing.assert_allclose(gh.standardize(X * s), ref, rtol=1e-12, atol=1e-14)


def test_samplers_refuse_to_return_inf():
    with pytest.raises(ValueError, match="expected centers and cluster_std small enough"):
        gh.make_blobs(10, cluster_std=1e308, random_state=0)
    with pytest.raises(ValueError, match="expected centers and cluster_std small enough"):
        gh.make_blobs(10, centers=[[1.7e308, 0.0]], cluster_std=1e307, random_state=0)
    huge = gh.GMMParams([1.0], [[1.7e308, 0.0]], [np.eye(2) * 1e308])
    assert np.all(np.isfinite(gh.sample_gmm(huge, 50, random_state=0)[0]))


def test_plotting_arguments_give_value_errors():
    r = gh.fit_em(_X, 2, random_state=0, max_iter=2)
    cases = [
        (lambda: gh.plot_gmm(_X, _P, n_std="2"), "expected n_std"),
        (lambda: gh.plot_cov_ellipse([0, 0], np.eye(2), n_std=True), "expected n_std"),
        (lambda: gh.plot_density(_P, n_grid=1), "expected n_grid >= 2"),
        (lambda: gh.plot_density(_P, n_grid=2.5), "expected n_grid"),
        (lambda: gh.save_em_animation(_X, r, "/tmp/never.gif", dpi=0), "expected dpi"),
        (lambda: gh.save_em_animation(_X, r, "/tmp/never.gif", figsize=(0, 0)),
         "expected figsize"),
        (lambda: gh.save_em_animation(_X, r, "/tmp/never.gif", figsize=3), "expected figsize"),
        (lambda: gh.plot_em_snapshots(_X, r, panel_size="2"), "expected panel_size"),
        (lambda: gh.plot_em_snapshots(_X, r, n_std=-1), "expected n_std"),
    ]
    try:
        for f, msg in cases:
            with pytest.raises(ValueError, match=msg):
                f()
    finally:
        plt.close("all")


# --------------------------------------------------------------------------- #
# Immutability                                                                 #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("copier", [copy.deepcopy, lambda p: pickle.loads(pickle.dumps(p)),
                                    copy.copy])
def test_copies_of_gmmparams_stay_read_only_and_consistent(copier):
    p = gh.GMMParams([0.3, 0.7], [[0.0, 0.0], [2.0, 1.0]],
                     [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]], "full")
    q = copier(p)
    assert q == p
    for arr in (q.weights, q.means, q.covariances, q.cholesky_factors):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[...] = 0.0
    np.testing.assert_allclose(q.cholesky_factors @ np.swapaxes(q.cholesky_factors, 1, 2),
                               q.covariances, rtol=1e-14)
    assert gh.log_likelihood(_X, q) == gh.log_likelihood(_X, p)


# --------------------------------------------------------------------------- #
# A hang: ellipses far larger than the axes                                    #
# --------------------------------------------------------------------------- #
class _RecordingRenderer:
    """Wraps a renderer and records the largest display coordinate of every path."""

    def __init__(self, renderer):
        self._renderer, self.extent = renderer, 0.0

    def draw_path(self, gc, path, transform, rgbFace=None):
        self.vertices = transform.transform(path.vertices)
        self.extent = max(self.extent, float(np.abs(self.vertices).max()))

    def __getattr__(self, name):
        return getattr(self._renderer, name)


@pytest.mark.parametrize("scale", [1e20, 1e30, 1e300])
def test_huge_ellipses_are_drawn_clipped_to_the_view(scale):
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    try:
        p = gh.GMMParams([0.5, 0.5], [[0, 0], [1, 1]], [np.eye(2), np.eye(2) * scale])
        gh.plot_gmm(_X, p, ax=ax)
        fig.canvas.draw()
        huge = ax.patches[1]
        assert huge.get_width() == pytest.approx(4 * np.sqrt(scale))  # the true size is kept
        rec = _RecordingRenderer(fig.canvas.get_renderer())
        huge.draw(rec)
        assert 0 < rec.extent < 1e8  # display pixels, not 1e17
    finally:
        plt.close(fig)


def test_thin_huge_ellipse_keeps_its_visible_band():
    """Capping the length must not move the visible part: a 2e15-long band of half-width
    0.2 still crosses the view at y = 1 +- 0.2."""
    fig, ax = plt.subplots()
    try:
        p = gh.GMMParams([0.5, 0.5], [[0, 0], [0, 1]], [np.eye(2), np.diag([1e30, 0.01])])
        gh.plot_gmm(_X, p, ax=ax)
        fig.canvas.draw()
        rec = _RecordingRenderer(fig.canvas.get_renderer())
        ax.patches[1].draw(rec)
        pts = ax.transData.inverted().transform(rec.vertices)
        inside = pts[np.abs(pts[:, 0]) < 3]
        np.testing.assert_allclose(np.unique(np.round(inside[:, 1], 6)), [0.8, 1.2], atol=1e-6)
        assert ax.patches[1].get_width() == pytest.approx(4e15)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- #
# An honest monotonicity claim                                                 #
# --------------------------------------------------------------------------- #
def test_decrease_note_says_reg_covar_is_why():
    X, _, _ = gh.make_dataset("overlapping", random_state=3)
    X = X * 1e-3
    res = gh.fit_em(X, 3, random_state=0, tol=0.0, max_iter=60, init="random_from_data")
    assert res.reg_covar == 1e-6
    drops = np.diff(res.log_likelihoods)
    assert drops.min() < -1e-6  # the regularised M-step does lower it here
    exact = gh.fit_em(X, 3, random_state=0, tol=0.0, max_iter=60, init="random_from_data",
                      reg_covar=0.0)
    assert np.diff(exact.log_likelihoods).min() > -1e-9 * abs(exact.log_likelihoods).max()
    fig, ax = plt.subplots()
    try:
        gh.plot_log_likelihood(res, ax=ax)
        texts = [t.get_text() for leg in ax.artists for t in leg.get_texts()]
        assert any("reg_covar=1e-06 > 0" in t and "does not" in t for t in texts), texts
        ax2 = plt.figure().gca()
        gh.plot_log_likelihood(exact, ax=ax2)
        assert not ax2.artists  # no note when exact EM is monotone
    finally:
        plt.close("all")


# --------------------------------------------------------------------------- #
# Property tests: the two engines agree on hard data                           #
# --------------------------------------------------------------------------- #
def _run_both(X, start, covariance_type, n_iter=12):
    kw = dict(covariance_type=covariance_type, initial_params=start, max_iter=n_iter, tol=0.0)
    try:
        ref = gh.fit_em(X, start.n_components, engine="reference", **kw)
    except ValueError as exc:  # a collapse both engines must report the same way
        with pytest.raises(ValueError, match=str(exc)[:40].replace("(", r"\(")):
            gh.fit_em(X, start.n_components, **kw)
        return None, None
    return gh.fit_em(X, start.n_components, **kw), ref


def _check_agreement(ours, ref, X, rtol, trajectory=False):
    """Both engines report the log-likelihood of the parameters they return; and from
    every parameter set of the reference run, one step of each engine (E-step score and
    M-step) agrees to ``rtol``. (Whole trajectories agree too on ordinary data; near a
    collapse onto a far point EM amplifies rounding, so there the per-step agreement is
    the engine's claim.)"""
    for res in (ours, ref):
        assert res.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, res.params),
                                                        rel=1e-12)
    ct = ref.covariance_type
    for p in ref.history:
        resp, ll = gh.e_step(X, p)
        stats = gh.compute_statistics(X, p)
        assert stats.log_likelihood == pytest.approx(ll, rel=rtol)
        ours_next = gh.params_from_statistics(stats, ct)
        ref_next = gh.m_step(X, resp, ct)
        if np.linalg.cond(ref_next.covariances).max() * np.finfo(float).eps > rtol / 100:
            # e.g. a component on the outlier and one other point: cond |x0 - x1|^2 /
            # reg_covar ~ 1e12, so its small eigenvalues are known to eps * cond only,
            # in any summation order; 1e-8 agreement is not defined there
            continue
        np.testing.assert_allclose(ours_next.weights, ref_next.weights, rtol=rtol * 100,
                                   atol=1e-300)
        assert gh.log_likelihood(X, ours_next) == pytest.approx(
            gh.log_likelihood(X, ref_next), rel=rtol)
    if trajectory:
        np.testing.assert_allclose(ours.log_likelihoods, ref.log_likelihoods, rtol=rtol)


_hard = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_hard
@given(
    seed=st.integers(0, 2**16),
    d=st.integers(1, 3),
    k=st.integers(1, 3),
    log_scales=st.lists(st.floats(-8, 8), min_size=3, max_size=3),
    log_outlier=st.one_of(st.none(), st.floats(2, 9)),
    covariance_type=st.sampled_from(TYPES),
)
def test_engines_agree_on_far_outliers_and_mixed_scales(seed, d, k, log_scales, log_outlier,
                                                       covariance_type):
    """Per-feature scales 1e-8..1e8 and one outlier at 1e2..1e9 (absolute, so far from
    every feature on a smaller scale). Beyond ~1e9 a component of reg_covar's width
    (sd 1e-3) sitting on the outlier is below float64's resolution there (an ulp of 1e10
    is 2e-6): no engine can then agree with another to 1e-8."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, d)) + rng.integers(0, 4, size=(80, 1)) * 3.0
    X = X * 10.0 ** np.asarray(log_scales[:d])
    if log_outlier is not None:
        direction = rng.normal(size=d)
        X[0] = direction / np.linalg.norm(direction) * 10**log_outlier
    try:
        start = gh.init_params(X, k, "random_from_data", random_state=seed,
                               covariance_type=covariance_type)
    except ValueError as exc:
        # an outlier along a diagonal makes the data covariance singular to working
        # precision (correlation 1 - 1e-16): refused, with the usual message
        assert "singular covariance" in str(exc)
        assume(False)
    ours, ref = _run_both(X, start, covariance_type)
    if ours is not None:
        _check_agreement(ours, ref, X, rtol=1e-8)


@_hard
@given(
    seed=st.integers(0, 2**16),
    weights=st.lists(st.sampled_from([0.0, 1e-300, 1e-12, 1e-6, 0.3, 1.0]), min_size=2,
                     max_size=4),
    covariance_type=st.sampled_from(TYPES),
)
def test_engines_agree_with_zero_and_near_zero_weights(seed, weights, covariance_type):
    w = np.asarray(weights)
    if w.sum() == 0 or w.max() < 1e-3:
        w[0] = 1.0
    w = w / w.sum()
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 4])
    k = w.size
    start = gh.init_params(X, k, "random_from_data", random_state=seed,
                           covariance_type=covariance_type).replace(weights=w)
    stats = gh.compute_statistics(X, start)
    assert stats.log_likelihood == pytest.approx(gh.log_likelihood(X, start), rel=1e-12)
    ours, ref = _run_both(X, start, covariance_type)
    if ours is not None:
        _check_agreement(ours, ref, X, rtol=1e-8)
        np.testing.assert_allclose(ours.params.weights, ref.params.weights, rtol=1e-6,
                                   atol=1e-300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), k=st.integers(1, 4), covariance_type=st.sampled_from(TYPES))
def test_engines_agree_to_1e10_on_ordinary_data(seed, k, covariance_type):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(150, 2)) + rng.integers(0, 3, size=(150, 1)) * [2.0, 1.0]
    start = gh.init_params(X, k, "random_from_data", random_state=seed,
                           covariance_type=covariance_type)
    ours, ref = _run_both(X, start, covariance_type, n_iter=20)
    if ours is not None:
        _check_agreement(ours, ref, X, rtol=1e-10, trajectory=True)


# --------------------------------------------------------------------------- #
# The Bayesian fits: the same classes                                          #
# --------------------------------------------------------------------------- #
_PRIOR = dict(weight_concentration=1.0, mean=[0.0, 0.0], mean_precision=1.0,
              degrees_of_freedom=3.0)


@pytest.mark.parametrize("fit", [gh.fit_variational, gh.fit_map_em])
def test_bayesian_fits_on_identical_columns_outliers_and_scales(fit):
    """Identical columns (main: LinAlgError / 'smallest eigenvalue 0' from the default
    prior), an outlier at 1e10 and features on 1e7 vs 1 all fit, with finite objectives."""
    base = np.random.default_rng(1).normal(size=(100, 1))
    g = np.random.default_rng(0).normal(size=(100, 2))
    for X in (np.hstack([base, base]), np.vstack([g, [[1e10, 0.0]]]), g * [1e7, 1]):
        res = fit(X, 2, random_state=0)
        assert np.all(np.isfinite(res.objective))
        assert res.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, res.params),
                                                        rel=1e-12)


@pytest.mark.parametrize("scale", [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]],
                                   [[1e10, 1e5], [1e5, 1.0]]])
def test_niw_prior_refuses_singular_scales_at_any_scale(scale):
    with pytest.raises(ValueError, match="expected a symmetric positive definite"):
        gh.NIWPrior(covariance_scale=scale, **_PRIOR)
    # and accepts diag(1e13, 1), as GMMParams does
    gh.NIWPrior(covariance_scale=np.diag([1e13, 1.0]), **_PRIOR)


def test_niw_prior_refuses_a_rank_deficient_scale_that_cholesky_accepts():
    """A A^T with A of shape (3, 2) is singular; main accepted it (Cholesky 'succeeds')."""
    A = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match="expected a symmetric positive definite"):
        gh.NIWPrior(covariance_scale=A @ A.T, **{**_PRIOR, "mean": np.zeros(3),
                                                  "degrees_of_freedom": 4.0})


def test_niw_prior_refuses_complex_and_huge_parameters():
    with pytest.raises(ValueError, match="expected covariance_scale to hold real numbers"):
        gh.NIWPrior(covariance_scale=np.eye(2) + 0j, **_PRIOR)
    with pytest.raises(ValueError, match="expected mean to hold real numbers"):
        gh.NIWPrior(covariance_scale=np.eye(2), **{**_PRIOR, "mean": np.zeros(2) + 1j})
    X = np.random.default_rng(0).normal(size=(60, 2))
    for name in ("degrees_of_freedom", "weight_concentration", "mean_precision"):
        for fit in (gh.fit_variational, gh.fit_map_em):
            with pytest.raises(ValueError, match=f"expected {name} <= 1e"):
                fit(X, 2, random_state=0, **{name: 1e308})
        fit(X, 2, random_state=0, **{name: 1e6})  # large but representable: fits
    assert gh.gammaln(1e308) == np.inf  # as scipy.special.gammaln, not OverflowError


@pytest.mark.parametrize("fit", [gh.fit_variational, gh.fit_map_em])
@pytest.mark.parametrize("scale", [1e160, 1e-170])
def test_bayesian_fits_refuse_data_they_cannot_square(fit, scale):
    X = np.random.default_rng(0).normal(size=(100, 2)) * scale
    with pytest.raises(ValueError, match=r"^expected .*rescale the data"):
        fit(X, 2, random_state=0)


def test_chunks_with_an_explicit_shift_add_up_even_when_one_takes_the_exact_pass():
    """A one-point chunk cancels completely in the one-pass covariance, so it takes the
    exact pass; with an explicit shift its moments still come back about that shift."""
    X = outlier_data(1e5, n=300, seed=2)
    p = gh.init_params(X, 2, "kmeans", random_state=0)
    shift = X.mean(axis=0)
    chunks = np.array_split(X, [100, 299])  # sizes 100, 199 and 1 (the outlier)
    parts = [gh.compute_statistics(c, p, shift=shift) for c in chunks]
    assert all(part.shift.shape == (2,) for part in parts)
    whole = gh.compute_statistics(X, p, shift=shift)
    total = sum(parts)
    np.testing.assert_allclose(total.Nk, whole.Nk, rtol=1e-12)
    np.testing.assert_allclose(total.Sxx, whole.Sxx, rtol=1e-10)
    assert total.log_likelihood == pytest.approx(gh.log_likelihood(X, p), rel=1e-12)
