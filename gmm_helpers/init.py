"""Starting points for EM: random, random-from-data, k-means and k-means++."""

from __future__ import annotations

import numpy as np

from ._validation import (
    check_array,
    check_covariance_type,
    check_data_scale,
    check_init,
    check_n_components,
    check_nonnegative_float,
    check_random_state,
)
from .kmeans import kmeans_start, random_distinct_rows
from .mstep import _m_step
from .params import GMMParams
from .suffstats import (
    PRECISION_LIMIT,
    SufficientStatistics,
    moments_loss,
    params_from_statistics,
)


def _init_params(X, n_components, method, rng, covariance_type, reg_covar):
    """Initialiser without validation."""
    n, d = X.shape
    if method == "random":
        resp = rng.uniform(size=(n, n_components))
        resp /= resp.sum(axis=1, keepdims=True)
        params = _m_step(X, resp, covariance_type, reg_covar)
    elif method == "random_from_data":
        means = random_distinct_rows(X, n_components, rng)
        # Every component starts with the covariance of the whole data set
        # (constrained to the covariance type) and an equal weight.
        ones = np.ones((n, 1))
        pooled = _m_step(X, ones, covariance_type, reg_covar).covariances[0]
        params = GMMParams(
            np.full(n_components, 1.0 / n_components),
            means,
            np.broadcast_to(pooled, (n_components, d, d)).copy(),
            covariance_type,
        )
    else:
        # chunked Lloyd (warmed up on a subsample for large N); the M-step on its hard
        # assignment needs only the per-cluster sums, so no (N, K) array is formed
        hard, shift = kmeans_start(X, n_components, method, rng)
        stats = SufficientStatistics(
            X.shape[0], hard.counts, hard.sums, hard.moments, float("nan"), shift
        )
        diag = np.arange(d)
        if moments_loss(hard.counts, hard.sums, hard.moments[:, diag, diag]) > PRECISION_LIMIT:
            # a cluster far from the shift in its own units (a far outlier): its one-pass
            # moments lost their digits, so redo the M-step two-pass on the assignment
            labels = np.argmin(
                ((X[:, None, :] - stats.shift - stats.Sx / np.maximum(stats.Nk, 1)[:, None])
                 ** 2).sum(axis=-1), axis=1)
            params = _m_step(X, np.eye(n_components)[labels], covariance_type, reg_covar)
        else:
            params = params_from_statistics(stats, covariance_type, reg_covar)
    if n_components > 1:
        m = params.means
        gaps = np.linalg.norm(m[:, None, :] - m[None, :, :], axis=-1)
        gaps[np.diag_indices(n_components)] = np.inf
        if gaps.min() == 0.0:
            raise ValueError(
                f"expected distinct initial means, got two that coincide (init={method!r}); "
                "the data may have fewer distinct points than n_components"
            )
    return params


def init_params(
    X, n_components, method="kmeans++", random_state=None, covariance_type="full", reg_covar=1e-6
):
    r"""Initial mixture parameters for EM.

    Methods
    -------
    ``"random"``
        Responsibilities drawn uniformly at random and normalised, then one
        M-step (scikit-learn's ``init_params="random"``). All means start near
        the data mean.
    ``"random_from_data"``
        ``K`` distinct data points as means, each covariance the covariance of the
        whole data set, equal weights.
    ``"kmeans"``
        Lloyd's k-means from ``K`` distinct random data points, then an M-step
        on the hard assignment.
    ``"kmeans++"``
        The same, seeded with k-means++.

    For more than 32768 points (``kmeans.START_SAMPLE``) both k-means starts run
    Lloyd's algorithm on a uniform random subsample of that many rows first,
    then finish it on all the data (:func:`gmm_helpers.kmeans.kmeans_start`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    method : {"random", "random_from_data", "kmeans", "kmeans++"}
    random_state : None, int or numpy.random.Generator
    covariance_type : {"full", "tied", "diag", "spherical"}
    reg_covar : float

    Returns
    -------
    GMMParams
        No two initial means coincide.
    """
    X = check_data_scale(check_array(X))
    n_components = check_n_components(n_components, X.shape[0])
    check_init(method)
    check_covariance_type(covariance_type)
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    rng = check_random_state(random_state)
    return _init_params(X, n_components, method, rng, covariance_type, reg_covar)
