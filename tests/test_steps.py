"""E-step and M-step: invariants and independent references."""

import numpy as np
import pytest
from scipy import stats

import gmm_helpers as gh

TYPES = ("full", "tied", "diag", "spherical")


def naive_responsibilities(X, params):
    dens = np.column_stack(
        [
            w * stats.multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(params.weights, params.means, params.covariances)
        ]
    )
    return dens / dens.sum(axis=1, keepdims=True), np.log(dens.sum(axis=1)).sum()


def test_e_step_matches_naive_bayes_rule(blobs):
    X, _, params = blobs
    resp, ll = gh.e_step(X, params)
    ref_resp, ref_ll = naive_responsibilities(X, params)
    np.testing.assert_allclose(resp, ref_resp, atol=1e-12)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    assert ll == pytest.approx(gh.log_likelihood(X, params), rel=1e-14)


def test_responsibilities_rows_sum_to_one_even_far_away(blobs):
    X, _, params = blobs
    far = np.vstack([X, [[1e5, 1e5], [-3e4, 7e4]]])
    resp, ll = gh.e_step(far, params)
    assert np.all(np.isfinite(resp)) and np.isfinite(ll)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)
    # naive densities underflow to 0/0 there; the log-space version does not
    with np.errstate(all="ignore"):
        naive, _ = naive_responsibilities(far[-2:], params)
    assert np.isnan(naive).all()


def test_e_step_zero_weight_component(blobs):
    X, _, params = blobs
    w = np.array([0.5, 0.5, 0.0, 0.0])
    resp, ll = gh.e_step(X, params.replace(weights=w))
    assert np.all(resp[:, 2:] == 0) and np.isfinite(ll)


def weighted_cov(X, w):
    return np.cov(X.T, aweights=w, bias=True)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_m_step_matches_weighted_np_cov(rng, covariance_type):
    X, _, _ = gh.make_dataset("varied")
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    reg = 1e-6
    p = gh.m_step(X, resp, covariance_type, reg_covar=reg)
    nk = resp.sum(0)
    np.testing.assert_allclose(p.weights, nk / nk.sum(), rtol=1e-12)
    np.testing.assert_allclose(p.means, (resp.T @ X) / nk[:, None], rtol=1e-12)
    full = np.array([weighted_cov(X, resp[:, k]) for k in range(3)])
    eye = np.eye(2)
    if covariance_type == "full":
        expected = full + reg * eye
    elif covariance_type == "tied":
        expected = np.broadcast_to(np.einsum("k,kij->ij", nk, full) / nk.sum() + reg * eye,
                                   full.shape)
    elif covariance_type == "diag":
        expected = np.array([np.diag(np.diag(c)) for c in full]) + reg * eye
    else:
        expected = np.array([np.trace(c) / 2 * eye for c in full]) + reg * eye
    np.testing.assert_allclose(p.covariances, expected, rtol=1e-10)
    assert p.covariance_type == covariance_type


def test_m_step_vanishing_component_is_finite(blobs):
    X, _, _ = blobs
    resp = np.zeros((X.shape[0], 3))
    resp[:, 0] = 0.3
    resp[:, 1] = 0.7  # component 2 gets nothing
    p = gh.m_step(X, resp)
    assert np.all(np.isfinite(p.means)) and np.all(np.isfinite(p.covariances))
    assert p.weights[2] < 1e-15
    np.testing.assert_allclose(p.covariances[2], 1e-6 * np.eye(2))
    # and the next E-step is still finite
    r, ll = gh.e_step(X, p)
    assert np.all(np.isfinite(r)) and np.isfinite(ll)
    with pytest.raises(ValueError, match="Increase reg_covar"):
        gh.m_step(X, resp, reg_covar=0.0)


def test_m_step_rejects_bad_responsibilities(blobs):
    X, _, _ = blobs
    with pytest.raises(ValueError, match="expected responsibilities of shape"):
        gh.m_step(X, np.ones((3, 2)))
    with pytest.raises(ValueError, match="sum to 1"):
        gh.m_step(X, np.ones((X.shape[0], 2)))
    with pytest.raises(ValueError, match="non-negative"):
        gh.m_step(X, np.full((X.shape[0], 2), np.nan))


def test_one_em_iteration_increases_likelihood(blobs):
    X, _, _ = blobs
    p0 = gh.init_params(X, 4, "random", random_state=1)
    r, ll0 = gh.e_step(X, p0)
    ll1 = gh.log_likelihood(X, gh.m_step(X, r))
    assert ll1 > ll0
