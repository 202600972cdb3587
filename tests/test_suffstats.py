"""The sufficient-statistics EM engine against the reference e_step/m_step and scikit-learn."""

import tracemalloc
import warnings

import numpy as np
import pytest
from _oracles import sklearn_precisions, sklearn_rtol
from sklearn.mixture import GaussianMixture as SkGMM

import gmm_helpers as gh
from gmm_helpers import suffstats as ss

TYPES = ("full", "tied", "diag", "spherical")


def make_data(n=1500, seed=0):
    """Three overlapping, sheared clusters in 2-D (EM needs many iterations on them)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [2.5, 1.0], [0.5, 3.0]])
    labels = rng.integers(0, 3, n)
    shear = np.array([[1.0, 0.6], [0.0, 0.8]])
    return rng.standard_normal((n, 2)) @ shear + centres[labels]


def start_params(X, covariance_type, k=3, seed=1):
    """Means at k data points, shared data covariance: a typical EM start."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(len(X), k, replace=False)]
    cov = np.cov(X.T)
    if covariance_type in ("diag", "spherical"):
        cov = np.diag(np.diag(cov)) if covariance_type == "diag" else np.eye(2) * cov.trace() / 2
    return gh.GMMParams(np.full(k, 1.0 / k), means, np.repeat(cov[None], k, 0), covariance_type)


def reference_trajectory(X, params, covariance_type, n_iter):
    """Log-likelihoods of n_iter + 1 parameter sets from the readable reference steps."""
    lls, history = [], [params]
    for _ in range(n_iter):
        resp, ll = gh.e_step(X, params)
        lls.append(ll)
        params = gh.m_step(X, resp, covariance_type)
        history.append(params)
    lls.append(gh.log_likelihood(X, params))
    return np.array(lls), history




def assert_stats_close(a, b, rtol):
    scale = np.abs(b.Sxx).max()
    np.testing.assert_allclose(a.Nk, b.Nk, rtol=rtol)
    np.testing.assert_allclose(a.Sx, b.Sx, rtol=rtol, atol=rtol * np.abs(b.Sx).max())
    np.testing.assert_allclose(a.Sxx, b.Sxx, rtol=rtol, atol=rtol * scale)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=rtol)
    assert a.n_samples == b.n_samples


# --------------------------------------------------------------------------- #
# The engine reproduces the reference steps                                    #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("shift", [0.0, 1e4])
def test_trajectory_matches_reference_over_50_iterations(covariance_type, shift):
    X = make_data() + shift
    start = start_params(X, covariance_type)
    ref, ref_history = reference_trajectory(X, start, covariance_type, 50)
    history, lls, converged, n_iter = ss.em_iterations(
        X, start, max_iter=50, tol=0.0, covariance_type=covariance_type, chunk_size=256
    )
    assert n_iter == 50 and len(history) == 51 and not converged
    np.testing.assert_allclose(lls, ref, rtol=1e-10)
    assert ref[-1] - ref[0] > 100  # EM really moved
    p, q = history[-1], ref_history[-1]
    np.testing.assert_allclose(p.weights, q.weights, rtol=1e-8)
    np.testing.assert_allclose(p.means, q.means, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(p.covariances, q.covariances, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_centring_keeps_precision_at_offset_1e6(covariance_type):
    """At 1e6 the engine matches the reference run on the *exactly* re-centred data.

    ``X1e6 - 1e6`` is exact (Sterbenz), and EM is translation invariant, so the
    reference on the centred copy is the accurate answer. Measured: engine ~1e-12,
    reference on the raw data 3e-11 to 2e-10; one-pass moments without centring
    (``shift=0``) would give ~5e-5, so the engine takes its exact pass there.
    """
    offset = 1e6
    X = make_data() + offset
    start = start_params(X, covariance_type)
    X0 = X - offset
    start0 = start.replace(means=start.means - offset)
    ref, _ = reference_trajectory(X0, start0, covariance_type, 30)
    _, lls, _, _ = ss.em_iterations(
        X, start, max_iter=30, tol=0.0, covariance_type=covariance_type
    )
    np.testing.assert_allclose(lls, ref, rtol=1e-10)
    # without centring, E[xx^T] - mu mu^T would cancel ~12 of 16 digits at 1e6: the
    # engine sees that (PRECISION_LIMIT) and redoes such passes exactly
    _, lls_raw, _, _ = ss.em_iterations(X, start, max_iter=30, tol=0.0, shift=np.zeros(2))
    np.testing.assert_allclose(lls_raw, ref, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_params_from_statistics_equals_m_step(covariance_type):
    X = make_data(400) + 50.0
    rng = np.random.default_rng(3)
    resp = rng.dirichlet(np.ones(4), size=len(X))
    shift = X.mean(axis=0)
    Xc = X - shift
    stats = ss.SufficientStatistics(
        n_samples=len(X),
        Nk=resp.sum(axis=0),
        Sx=resp.T @ Xc,
        Sxx=np.einsum("nk,ni,nj->kij", resp, Xc, Xc),
        log_likelihood=0.0,
        shift=shift,
    )
    ours = ss.params_from_statistics(stats, covariance_type, reg_covar=1e-3)
    ref = gh.m_step(X, resp, covariance_type, reg_covar=1e-3)
    assert ours.covariance_type == covariance_type
    np.testing.assert_allclose(ours.weights, ref.weights, rtol=1e-13)
    np.testing.assert_allclose(ours.means, ref.means, rtol=1e-12)
    np.testing.assert_allclose(ours.covariances, ref.covariances, rtol=1e-10, atol=1e-12)


def test_statistics_match_direct_sums():
    X = make_data(700)
    params = start_params(X, "full", k=4)
    resp, ll = gh.e_step(X, params)
    stats = ss.compute_statistics(X, params, chunk_size=100)
    Xc = X - stats.shift
    np.testing.assert_allclose(stats.shift, X.mean(axis=0))
    np.testing.assert_allclose(stats.Nk, resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.Sx, resp.T @ Xc, rtol=1e-11, atol=1e-10)
    np.testing.assert_allclose(stats.Sxx, np.einsum("nk,ni,nj->kij", resp, Xc, Xc), rtol=1e-12)
    assert stats.log_likelihood == pytest.approx(ll, rel=1e-13)
    assert stats.n_components == 4 and stats.n_features == 2


def test_responsibilities_chunked_match_e_step():
    X = make_data(500)
    params = start_params(X, "full")
    resp, ll = gh.e_step(X, params)
    ours, ll_ours = ss.responsibilities_chunked(X, params, chunk_size=64)
    np.testing.assert_allclose(ours, resp, rtol=1e-11, atol=1e-14)
    assert ll_ours == pytest.approx(ll, rel=1e-13)
    out = np.empty_like(resp)
    assert ss.responsibilities_chunked(X, params, out=out)[0] is out


def test_quadratic_features_layout():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    phi = ss.quadratic_features(X)
    np.testing.assert_array_equal(
        phi, [[1, 1], [1, 3], [2, -1], [1, 9], [2, -3], [4, 1]]
    )
    assert ss.quadratic_features(np.ones((5, 3))).shape == (10, 5)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_float32_mode_keeps_log_likelihood_within_1e5(covariance_type):
    X = make_data() + 1e4
    start = start_params(X, covariance_type)
    _, ref, _, _ = ss.em_iterations(X, start, max_iter=50, tol=0.0)
    history, lls, _, _ = ss.em_iterations(X, start, max_iter=50, tol=0.0, dtype=np.float32)
    np.testing.assert_allclose(lls, ref, rtol=1e-5)
    assert history[-1].means.dtype == np.float64
    stats = ss.compute_statistics(X, start, dtype="float32")
    assert stats.Sxx.dtype == np.float64
    with pytest.raises(ValueError, match="expected dtype float64 or float32"):
        ss.compute_statistics(X, start, dtype=np.float16)


# --------------------------------------------------------------------------- #
# Chunks add up; chunk size does not matter                                    #
# --------------------------------------------------------------------------- #
def test_statistics_of_chunks_add_up():
    X = make_data(1000)
    params = start_params(X, "full")
    shift = X.mean(axis=0)
    whole = ss.compute_statistics(X, params, shift=shift)
    parts = [ss.compute_statistics(X[a:b], params, shift=shift)
             for a, b in [(0, 137), (137, 600), (600, 1000)]]
    assert_stats_close(sum(parts), whole, rtol=1e-12)
    assert_stats_close(parts[0] + parts[1] + parts[2], whole, rtol=1e-12)
    # chunks centred on their own means (as separate machines would) still add up
    own = [ss.compute_statistics(X[a:b], params) for a, b in [(0, 500), (500, 1000)]]
    total = own[0] + own[1]
    np.testing.assert_allclose(total.shift, own[0].shift)
    assert_stats_close(total.with_shift(shift), whole, rtol=1e-11)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_chunk_size_does_not_change_results(covariance_type):
    X = make_data(400) + 1e4
    start = start_params(X, covariance_type)
    runs = [ss.em_iterations(X, start, max_iter=6, tol=0.0, chunk_size=c)
            for c in (1, 7, 256, 400, 5000)]
    for history, lls, _, _ in runs[1:]:
        np.testing.assert_allclose(lls, runs[0][1], rtol=1e-12)
        np.testing.assert_allclose(history[-1].covariances, runs[0][0][-1].covariances,
                                   rtol=1e-10)


# --------------------------------------------------------------------------- #
# scikit-learn from the same start                                             #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("covariance_type", TYPES)
def test_agrees_with_sklearn_from_same_start(covariance_type):
    X = make_data(1200, seed=5)
    start = start_params(X, covariance_type)
    n_iter = 30
    history, lls, _, _ = ss.em_iterations(X, start, max_iter=n_iter, tol=0.0)
    sk = SkGMM(3, covariance_type=covariance_type, weights_init=start.weights,
               means_init=start.means, precisions_init=sklearn_precisions(start, covariance_type),
               tol=0.0, max_iter=n_iter, reg_covar=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 never converges
        sk.fit(X)
    # scikit-learn's lower_bounds_[t] scores the parameters *before* iteration t's M-step,
    # i.e. history[t]; its final parameters are history[n_iter]
    rtol = sklearn_rtol(X.std(), np.abs(X.mean(axis=0)).max(), covariance_type, n_iter)
    np.testing.assert_allclose(lls[:n_iter] / len(X), sk.lower_bounds_, rtol=rtol)
    p = history[-1]
    np.testing.assert_allclose(p.weights, sk.weights_, rtol=rtol)
    np.testing.assert_allclose(p.means, sk.means_, rtol=rtol, atol=rtol * X.std())
    cov = {"full": p.covariances, "tied": p.covariances[0],
           "diag": np.diagonal(p.covariances, axis1=1, axis2=2),
           "spherical": p.covariances[:, 0, 0]}[covariance_type]
    np.testing.assert_allclose(cov, sk.covariances_, rtol=rtol)


# --------------------------------------------------------------------------- #
# fit_em uses the engine                                                       #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("covariance_type", TYPES)
def test_fit_em_engines_agree(covariance_type):
    X = make_data(800, seed=2)
    fast = gh.fit_em(X, 3, covariance_type=covariance_type, random_state=0, tol=1e-8)
    slow = gh.fit_em(X, 3, covariance_type=covariance_type, random_state=0, tol=1e-8,
                     engine="reference")
    assert fast.n_iter == slow.n_iter and fast.converged == slow.converged
    np.testing.assert_allclose(fast.log_likelihoods, slow.log_likelihoods, rtol=1e-10)
    np.testing.assert_allclose(fast.responsibilities, slow.responsibilities, atol=1e-9)
    np.testing.assert_allclose(fast.responsibilities_at(X, 0),
                               gh.e_step(X, fast.history[0])[0])


def test_fit_em_stops_like_reference():
    """Convergence on |change of mean log-likelihood| < tol, history and lls aligned."""
    X = make_data(600, seed=4)
    for engine in ("suffstats", "reference"):
        res = gh.fit_em(X, 3, tol=1e-4, random_state=0, engine=engine)
        d = np.abs(np.diff(res.mean_log_likelihoods))
        assert res.converged and d[-1] < 1e-4 and np.all(d[:-1] >= 1e-4)
        assert len(res.history) == len(res.log_likelihoods) == res.n_iter + 1
    assert gh.fit_em(X, 3, max_iter=0, random_state=0).n_iter == 0


def test_fit_em_rejects_unknown_engine():
    with pytest.raises(ValueError, match="expected engine in"):
        gh.fit_em(make_data(50), 2, engine="fast")


# --------------------------------------------------------------------------- #
# Numerics, memory, bad input                                                  #
# --------------------------------------------------------------------------- #
def test_far_points_get_finite_responsibilities():
    """Exponents far below -708 are floored, never NaN; results match the reference."""
    X = np.vstack([make_data(300), [[1e3, -1e3], [0.0, 400.0]]])
    params = gh.GMMParams([0.5, 0.5], [[0.0, 0.0], [3.0, 3.0]],
                          [np.eye(2) * 0.01, np.eye(2)])
    resp, ll = gh.e_step(X, params)
    ours, ll_ours = ss.responsibilities_chunked(X, params)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(ours, resp, atol=1e-300)
    assert ll_ours == pytest.approx(ll, rel=1e-12)
    assert ss.compute_statistics(X, params).log_likelihood == pytest.approx(ll, rel=1e-12)


def test_zero_weight_component_gives_no_nan():
    X = make_data(200)
    params = gh.GMMParams([0.0, 1.0], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2)] * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" RuntimeWarning either
        stats = ss.compute_statistics(X, params)
        history, lls, _, _ = ss.em_iterations(X, params, max_iter=3, tol=0.0)
    assert stats.log_likelihood == pytest.approx(gh.log_likelihood(X, params), rel=1e-13)
    assert stats.Nk[0] < 1e-300
    ref, _ = reference_trajectory(X, params, "full", 3)
    np.testing.assert_allclose(lls, ref, rtol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_memory_does_not_grow_with_n(n_threads):
    """Peak allocation of a pass is the chunk buffers (1.5 MiB per thread), not a multiple of N."""
    peaks = []
    for n in (20_000, 80_000):
        X = make_data(n)
        params = start_params(X, "full")
        tracemalloc.start()
        ss.compute_statistics(X, params, n_threads=n_threads)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert max(peaks) < (1 + 1.5 * n_threads) * 2**20  # X alone is 1.3 MB at 80,000
    assert peaks[1] < 1.2 * peaks[0] + 50_000


def test_bad_input():
    X = make_data(100)
    params = start_params(X, "full")
    with pytest.raises(ValueError, match="expected chunk_size"):
        ss.compute_statistics(X, params, chunk_size=0)
    with pytest.raises(ValueError, match="expected a finite shift"):
        ss.compute_statistics(X, params, shift=[0.0])
    with pytest.raises(ValueError, match="expected parameters for 3 feature"):
        ss.compute_statistics(np.ones((10, 3)), params)
    with pytest.raises(ValueError, match="expected SufficientStatistics"):
        ss.params_from_statistics({"Nk": 1})
    with pytest.raises(ValueError, match="expected covariance_type"):
        ss.em_iterations(X, params, covariance_type="block")
    stats = ss.compute_statistics(X, params)
    other = ss.compute_statistics(X, start_params(X, "full", k=2))
    with pytest.raises(ValueError, match="expected statistics of the same shape"):
        stats + other
    # one point per component and no regularisation: singular covariances, with the
    # reference M-step's message (it used to nest GMMParams' message in parentheses)
    with pytest.raises(
        ValueError, match=r"reg_covar=0, got a singular covariance for component \d\. Increase"
    ):
        tiny = X[:2]
        two = gh.GMMParams([0.5, 0.5], tiny, [np.eye(2)] * 2)
        ss.em_iterations(tiny, two, reg_covar=0.0, max_iter=5)


def test_exported_from_package():
    for name in ss.__all__:
        assert getattr(gh, name) is getattr(ss, name)


def test_quadratic_features_checks_the_shift():
    # a shift of the wrong length gave NumPy's broadcast error
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match=r"expected a finite shift of shape \(2,\)"):
        ss.quadratic_features(X, shift=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ss.quadratic_features(X, shift=[1.0, 1.0])[1:3], X.T - 1)
