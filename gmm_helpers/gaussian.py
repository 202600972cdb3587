"""The multivariate Gaussian density, in log space, and a stable log-sum-exp."""

from __future__ import annotations

import numpy as np

from ._validation import (
    as_real_array,
    check_array,
    check_params,
    check_symmetric,
    spd_cholesky,
)

_LOG_2PI = np.log(2.0 * np.pi)


def logsumexp(a, axis=-1, keepdims=False):
    r"""Stable $\log \sum_i \exp(a_i)$ along ``axis``.

    Uses $\log\sum_i e^{a_i} = m + \log\sum_i e^{a_i - m}$ with $m = \max_i a_i$,
    so no term overflows and the largest term is exactly $e^0 = 1$.
    A slice that is all ``-inf`` gives ``-inf`` (as :func:`scipy.special.logsumexp`),
    not NaN.

    Parameters
    ----------
    a : array-like
    axis : int or None
    keepdims : bool

    Returns
    -------
    ndarray or float
    """
    a = as_real_array(a, "a")
    a_max = np.max(a, axis=axis, keepdims=True)
    a_max = np.where(np.isfinite(a_max), a_max, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - a_max), axis=axis, keepdims=True)) + a_max
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out[()] if out.ndim == 0 else out


def _log_gaussian_pdf_chol(X, mean, chol):
    """log N(X | mean, L L^T) for a lower Cholesky factor L (no validation)."""
    diff = X - mean  # (N, D)
    # Solve L z = (x - mu): z^T z is the squared Mahalanobis distance.
    z = np.linalg.solve(chol, diff.T)  # (D, N)
    maha = np.einsum("dn,dn->n", z, z)
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))
    d = X.shape[1]
    return -0.5 * (d * _LOG_2PI + log_det + maha)


def log_gaussian_pdf(X, mean, cov):
    r"""Log-density of one multivariate Gaussian at every row of ``X``.

    $$\log \mathcal{N}(x \mid \mu, \Sigma) = -\tfrac12\left[D\log 2\pi + \log\det\Sigma
      + (x-\mu)^\top \Sigma^{-1} (x-\mu)\right]$$

    computed with the Cholesky factor $\Sigma = L L^\top$:
    $\log\det\Sigma = 2\sum_i \log L_{ii}$ and the Mahalanobis term is
    $\lVert z \rVert^2$ with $L z = x - \mu$ (no explicit inverse).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    mean : array-like of shape (n_features,)
    cov : array-like of shape (n_features, n_features), symmetric positive-definite

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    X = check_array(X)
    d = X.shape[1]
    mean = as_real_array(mean, "mean")
    cov = as_real_array(cov, "cov")
    if mean.shape != (d,):
        raise ValueError(f"expected mean of shape ({d},) to match X, got shape {mean.shape}")
    if cov.shape != (d, d):
        raise ValueError(f"expected cov of shape ({d}, {d}) to match X, got shape {cov.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError("expected finite mean and cov, got NaN or inf")
    # Cholesky reads only the lower triangle: an asymmetric cov would be silently
    # replaced by its symmetric lower part, so refuse it (same tests as GMMParams).
    check_symmetric(cov, "cov")
    chol = spd_cholesky(cov)
    if chol is None:
        raise ValueError(
            "expected a symmetric positive-definite cov, got a singular or indefinite "
            "matrix; add a small value to its diagonal"
        )
    out = _log_gaussian_pdf_chol(X, mean, chol)
    check_representable(out)
    return out


def check_representable(log_density):
    """Raise ValueError if a log-density fell below the float range (-1.8e308).

    That happens for a covariance far too small for the distance to the data (say
    1e-300 at distance 1e5): the true value is finite but not representable, and
    responsibilities computed from -inf would be NaN.
    """
    bad = ~np.isfinite(log_density)
    if np.any(bad):
        raise ValueError(
            "expected parameters under which every point has a log-density above "
            f"-1.8e308 (the float range), got {int(bad.sum())} point(s) beyond it; "
            "a covariance is far too small for the distance to the data"
        )


def _component_log_densities(X, params):
    """(N, K) matrix of log N(x_n | mu_k, Sigma_k); no validation."""
    out = np.empty((X.shape[0], params.n_components))
    for k in range(params.n_components):
        out[:, k] = _log_gaussian_pdf_chol(X, params.means[k], params.cholesky_factors[k])
    return out


def component_log_densities(X, params):
    r"""Log-density of every sample under every component.

    Returns the matrix $\big[\log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)\big]_{nk}$.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : GMMParams

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    X = check_array(X)
    check_params(params, X.shape[1])
    return _component_log_densities(X, params)
