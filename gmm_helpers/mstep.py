"""The M-step: closed-form maximisers of the expected complete-data log-likelihood.

They are exact maximisers only for ``reg_covar=0``; see the Notes of :func:`gmm_helpers.fit_em` for
what ``reg_covar > 0`` means for the monotonicity of EM.
"""

from __future__ import annotations

import re

import numpy as np

from ._validation import (
    check_array,
    check_covariance_type,
    check_nonnegative_float,
    check_responsibilities,
)
from .params import GMMParams

# Added to every N_k, as scikit-learn does, so an empty component divides by a
# tiny positive number instead of zero.
_NK_FLOOR = 10 * np.finfo(np.float64).eps


def _sufficient_statistics(X, resp):
    r"""$N_k = \sum_n r_{nk}$, $\bar{\mathbf x}_k$ and the scatter
    $N_k \mathbf S_k = \sum_n r_{nk}(\mathbf x_n - \bar{\mathbf x}_k)
    (\mathbf x_n - \bar{\mathbf x}_k)^\top$
    (Bishop eqs 10.51–10.53), safe for empty components ($N_k = 0$ gives zero scatter).

    The two-pass weighted moments the Bayesian M-steps (``map_m_step``,
    ``variational_m_step``) start from; no floor on $N_k$ (their priors keep them finite).
    """
    nk = resp.sum(axis=0)
    sums = resp.T @ X
    xbar = sums / np.maximum(nk, np.finfo(float).tiny)[:, None]
    scatter = np.empty((resp.shape[1], X.shape[1], X.shape[1]))
    for k in range(resp.shape[1]):
        diff = X - xbar[k]
        scatter[k] = (resp[:, k, None] * diff).T @ diff
    return nk, xbar, scatter


def _covariances_full(resp, X, nk, means, reg_covar):
    r"""$\Sigma_k = \frac{1}{N_k}\sum_n \gamma_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top$."""
    k, d = means.shape
    cov = np.empty((k, d, d))
    for j in range(k):
        diff = X - means[j]
        cov[j] = (resp[:, j] * diff.T) @ diff / nk[j]
        cov[j].flat[:: d + 1] += reg_covar
    return cov


def _covariances_tied(resp, X, nk, means, reg_covar):
    r"""One $\Sigma = \frac{1}{N}\sum_k\sum_n \gamma_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top$."""
    d = X.shape[1]
    cov = np.zeros((d, d))
    for j in range(means.shape[0]):
        diff = X - means[j]
        cov += (resp[:, j] * diff.T) @ diff
    cov /= nk.sum()
    cov.flat[:: d + 1] += reg_covar
    return np.broadcast_to(cov, (means.shape[0], d, d))


def _covariances_diag(resp, X, nk, means, reg_covar):
    r"""$\sigma^2_{kd} = \frac{1}{N_k}\sum_n \gamma_{nk}(x_{nd}-\mu_{kd})^2$ on the diagonal."""
    k, d = means.shape
    var = np.empty((k, d))
    for j in range(k):
        diff = X - means[j]
        var[j] = resp[:, j] @ (diff * diff) / nk[j]
    var += reg_covar
    cov = np.zeros((k, d, d))
    cov[:, np.arange(d), np.arange(d)] = var
    return cov


def _covariances_spherical(resp, X, nk, means, reg_covar):
    r"""$\sigma^2_k = \frac{1}{D}\sum_d \sigma^2_{kd}$ times the identity."""
    diag = _covariances_diag(resp, X, nk, means, 0.0)
    d = X.shape[1]
    var = np.trace(diag, axis1=1, axis2=2) / d + reg_covar
    return var[:, None, None] * np.eye(d)


_COVARIANCE_ESTIMATORS = {
    "full": _covariances_full,
    "tied": _covariances_tied,
    "diag": _covariances_diag,
    "spherical": _covariances_spherical,
}


def _m_step(X, resp, covariance_type, reg_covar):
    """M-step without validation."""
    n = X.shape[0]
    nk = resp.sum(axis=0) + _NK_FLOOR
    means = (resp.T @ X) / nk[:, None]
    cov = _COVARIANCE_ESTIMATORS[covariance_type](resp, X, nk, means, reg_covar)
    weights = nk / n
    weights = weights / weights.sum()
    return _m_step_params(weights, means, np.array(cov), covariance_type, reg_covar)


def _m_step_params(weights, means, cov, covariance_type, reg_covar, *, trusted=False):
    """GMMParams of an M-step; a singular covariance gets a message that says what to do
    (shared with :func:`gmm_helpers.suffstats.params_from_statistics`).

    ``trusted=True`` (the sufficient-statistics M-step, whose arrays are fresh, normalised
    and exactly symmetric) builds them with :meth:`GMMParams._trusted`, which tests only
    finiteness and positive-definiteness, all components at once.
    """
    build = GMMParams._trusted if trusted else GMMParams
    try:
        return build(weights, means, cov, covariance_type)
    except ValueError as exc:
        if "positive-definite" not in str(exc):
            raise
        which = re.search(r"component \d+", str(exc))
        raise ValueError(
            f"expected positive-definite covariances after adding reg_covar={reg_covar:g}, "
            f"got a singular covariance for {which.group(0) if which else 'a component'}. "
            "Increase reg_covar, use fewer components, or rescale the data."
        ) from None


def m_step(X, responsibilities, covariance_type="full", reg_covar=1e-6):
    r"""Closed-form M-step (Bishop eqs. 9.24-9.27).

    With $N_k = \sum_n \gamma_{nk}$:

    $$\mu_k = \frac{1}{N_k}\sum_n \gamma_{nk} x_n, \qquad
      \Sigma_k = \frac{1}{N_k}\sum_n \gamma_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top + \epsilon I,
      \qquad \pi_k = \frac{N_k}{N}$$

    where $\epsilon$ is ``reg_covar``. ``"tied"`` pools the scatter of all
    components into one matrix, ``"diag"`` keeps only the diagonal, and
    ``"spherical"`` averages the diagonal into one variance per component.
    The weight update comes from a Lagrange multiplier for $\sum_k\pi_k = 1$
    (notebook 03).

    Only with ``reg_covar=0`` is this the exact maximiser of the expected
    complete-data log-likelihood, which is what makes the EM log-likelihood
    non-decreasing; the $+\epsilon I$ of ``reg_covar > 0`` moves the covariances off
    the maximiser, so an EM step can then lower the log-likelihood (by an amount
    that matters once $\epsilon$ is not small against the variances, see
    :func:`gmm_helpers.fit_em`).

    A component whose responsibilities all vanish does not give NaN: as in
    scikit-learn, $N_k$ is floored at ``10 * eps``, so the component keeps a
    weight of about ``1e-15 / N``, its mean falls to the responsibility-weighted
    average (the origin if every responsibility is exactly zero) and its
    covariance to ``reg_covar * I``. With ``reg_covar=0`` that covariance is
    singular and a ``ValueError`` says so.

    This is the readable form that the notebooks derive and that
    ``gh.fit_em(..., engine="reference")`` runs. The default
    ``gh.fit_em(..., engine="suffstats")`` computes **the same update** from sufficient
    statistics ($N_k$, $\sum_n \gamma_{nk} x_n$, $\sum_n \gamma_{nk} x_n x_n^\top$,
    gathered chunk by chunk) in :func:`gmm_helpers.params_from_statistics`
    (``gmm_helpers/suffstats.py``, notebook 09); ``fit_em`` calls this function
    only to build its starting point. ``tests/test_suffstats.py`` checks that the
    two forms agree (covariances to 1e-10 relative).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    responsibilities : array-like of shape (n_samples, n_components)
        Non-negative, each row summing to one.
    covariance_type : {"full", "tied", "diag", "spherical"}
    reg_covar : float, default 1e-6
        Non-negative value added to the diagonal of every covariance (absolute,
        as in scikit-learn).

    Returns
    -------
    GMMParams
    """
    X = check_array(X)
    check_covariance_type(covariance_type)
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    resp = check_responsibilities(responsibilities, X.shape[0])
    if not np.allclose(resp.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(
            "expected every row of responsibilities to sum to 1, got sums in "
            f"[{resp.sum(axis=1).min():.4g}, {resp.sum(axis=1).max():.4g}]"
        )
    return _m_step(X, resp, covariance_type, reg_covar)
