"""The E-step: responsibilities by Bayes' rule, in log space.

The E-step itself never lowers anything: it makes the EM lower bound touch the
log-likelihood at the current parameters. Whether a whole EM iteration can lower
the log-likelihood depends on the M-step: never with ``reg_covar=0``, possibly with
``reg_covar > 0`` (see the Notes of :func:`gmm_helpers.fit_em`).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array, check_params
from .gaussian import _component_log_densities, check_representable, logsumexp


def _weighted_log_prob(X, params):
    r"""$\log \pi_k + \log\mathcal{N}(x_n\mid\mu_k,\Sigma_k)$, shape (N, K)."""
    with np.errstate(divide="ignore"):  # a weight of exactly 0 gives log 0 = -inf
        log_w = np.log(params.weights)
    return _component_log_densities(X, params) + log_w


def _e_step(X, params):
    """E-step without validation; returns (log_resp, log_prob_norm per sample).

    Raises ValueError (not NaN responsibilities) when some log p(x_n) is below the
    float range (:func:`gmm_helpers.gaussian.check_representable`).
    """
    wlp = _weighted_log_prob(X, params)
    log_norm = logsumexp(wlp, axis=1)  # log p(x_n)
    check_representable(log_norm)
    log_resp = wlp - log_norm[:, None]
    return log_resp, log_norm


def _e_step_resp(X, params):
    """E-step without validation; returns (responsibilities, total log-likelihood).

    The E-side of the reference engine and of MAP-EM (:func:`gmm_helpers.em._em_loop`).
    """
    log_resp, log_norm = _e_step(X, params)
    return np.exp(log_resp), float(np.sum(log_norm))


def e_step(X, params):
    r"""Responsibilities and total log-likelihood (Bishop eqs. 9.23 and 9.14).

    $$\gamma(z_{nk}) = \frac{\pi_k \mathcal{N}(x_n\mid\mu_k,\Sigma_k)}
      {\sum_j \pi_j \mathcal{N}(x_n\mid\mu_j,\Sigma_j)}
      = \exp\Big(\log\pi_k + \log\mathcal{N}_{nk} - \operatorname{logsumexp}_j(\ldots)\Big)$$

    Everything is computed in log space, so a point far from every component
    still gets finite responsibilities that sum to one (see notebook 02).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : GMMParams

    Returns
    -------
    responsibilities : ndarray of shape (n_samples, n_components)
        Rows sum to one.
    log_likelihood : float
        Total $\sum_n \log \sum_k \pi_k \mathcal{N}(x_n\mid\mu_k,\Sigma_k)$.
    """
    X = check_array(X)
    check_params(params, X.shape[1])
    return _e_step_resp(X, params)


def score_samples(X, params):
    r"""Per-sample log-density $\log p(x_n\mid\theta)$, shape (n_samples,)."""
    X = check_array(X)
    check_params(params, X.shape[1])
    return _e_step(X, params)[1]


def log_likelihood(X, params):
    r"""Total log-likelihood $\sum_n \log \sum_k \pi_k \mathcal{N}(x_n\mid\mu_k,\Sigma_k)$.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : GMMParams

    Returns
    -------
    float
    """
    return float(np.sum(score_samples(X, params)))
