"""log_gaussian_pdf, component_log_densities and logsumexp against SciPy."""

import numpy as np
import pytest
from scipy import special, stats

import gmm_helpers as gh


def random_spd(rng, d, cond=10.0):
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = np.geomspace(1.0, cond, d)
    return q @ np.diag(eig) @ q.T


@pytest.mark.parametrize("d", [1, 2, 3, 7])
def test_log_gaussian_pdf_matches_scipy(rng, d):
    mean = rng.standard_normal(d)
    cov = random_spd(rng, d, cond=50.0)
    X = rng.standard_normal((40, d)) * 3
    ref = stats.multivariate_normal(mean, cov).logpdf(X)
    np.testing.assert_allclose(gh.log_gaussian_pdf(X, mean, cov), np.atleast_1d(ref), rtol=1e-12)


def test_log_gaussian_pdf_far_points_finite(rng):
    X = np.array([[1e4, -1e4], [0.0, 0.0]])
    out = gh.log_gaussian_pdf(X, np.zeros(2), np.eye(2))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], stats.multivariate_normal(np.zeros(2)).logpdf(X[0]))


def test_component_log_densities_matches_scipy(rng):
    X, _, params = gh.make_dataset("anisotropic")
    out = gh.component_log_densities(X, params)
    assert out.shape == (X.shape[0], 3)
    for k in range(3):
        ref = stats.multivariate_normal(params.means[k], params.covariances[k]).logpdf(X)
        np.testing.assert_allclose(out[:, k], ref, rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_scipy(rng, axis, keepdims):
    a = rng.standard_normal((5, 4)) * 300
    np.testing.assert_allclose(
        gh.logsumexp(a, axis=axis, keepdims=keepdims),
        special.logsumexp(a, axis=axis, keepdims=keepdims),
        rtol=1e-13,
    )


def test_logsumexp_infinities_like_scipy():
    a = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [-1000.0, -1000.0], [np.inf, 0.0]])
    ours = gh.logsumexp(a, axis=1)
    ref = special.logsumexp(a, axis=1)
    np.testing.assert_array_equal(ours, ref)
    assert ours[0] == -np.inf  # an all -inf row is -inf, not NaN
    np.testing.assert_allclose(ours[2], -1000.0 + np.log(2.0))


def test_logsumexp_does_not_overflow():
    a = np.array([1000.0, 1000.0])
    assert gh.logsumexp(a) == pytest.approx(1000.0 + np.log(2.0))
    assert isinstance(gh.logsumexp(a), float)


def test_log_gaussian_pdf_rejects_bad_input():
    with pytest.raises(ValueError, match="expected mean of shape"):
        gh.log_gaussian_pdf(np.zeros((3, 2)), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="positive-definite"):
        gh.log_gaussian_pdf(np.zeros((3, 2)), np.zeros(2), np.zeros((2, 2)))


def test_log_gaussian_pdf_rejects_asymmetric_cov():
    # Cholesky reads only the lower triangle, so [[1, 2], [0, 1]] used to be
    # evaluated silently as the identity.
    with pytest.raises(ValueError, match="expected symmetric cov"):
        gh.log_gaussian_pdf(np.zeros((3, 2)), np.zeros(2), [[1.0, 2.0], [0.0, 1.0]])
