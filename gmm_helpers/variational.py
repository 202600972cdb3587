r"""Variational Bayes for a Gaussian mixture (Bishop, *PRML* §10.2, eqs 10.46–10.83).

Mean-field coordinate ascent on $q(Z)\,q(\boldsymbol\pi)\,q(\boldsymbol\mu, \boldsymbol\Lambda)$
under the prior :class:`gmm_helpers.bayes.NIWPrior`, with the evidence lower bound (ELBO)
computed in full (eqs 10.70–10.77). With a small Dirichlet concentration the surplus
components are emptied, which estimates the number of components. Notebook 07 derives it;
:func:`fit_variational` runs the one EM loop of :mod:`gmm_helpers.em`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import em
from ._special import digamma, gammaln, multivariate_gammaln
from ._validation import check_array, check_responsibilities
from .bayes import NIWPrior, _check_prior, _prepare_fit, default_variational_prior
from .em import EMResult
from .estep import _e_step_resp, log_likelihood
from .gaussian import _LOG_2PI, logsumexp
from .mstep import _sufficient_statistics
from .params import GMMParams

__all__ = [
    "VariationalPosterior",
    "VariationalResult",
    "elbo",
    "fit_variational",
    "variational_e_step",
    "variational_m_step",
]


@dataclass(frozen=True)
class VariationalPosterior:
    r"""Variational posterior $q(\boldsymbol\pi)\prod_k q(\boldsymbol\mu_k, \boldsymbol\Lambda_k)$
    in Bishop's notation (PRML eqs 10.57–10.63):

    $q(\boldsymbol\pi) = \mathrm{Dir}(\boldsymbol\alpha)$ and
    $q(\boldsymbol\mu_k, \boldsymbol\Lambda_k) = \mathcal N(\boldsymbol\mu_k \mid \mathbf m_k,
    (\beta_k\boldsymbol\Lambda_k)^{-1})\,\mathcal W(\boldsymbol\Lambda_k \mid \mathbf W_k, \nu_k)$.

    Attributes
    ----------
    alpha : ndarray of shape (n_components,)
    beta : ndarray of shape (n_components,)
    m : ndarray of shape (n_components, n_features)
    W : ndarray of shape (n_components, n_features, n_features)
        Wishart scale matrices $\mathbf W_k$.
    nu : ndarray of shape (n_components,)
    W_inv : ndarray of shape (n_components, n_features, n_features)
        $\mathbf W_k^{-1}$ (eq. 10.62), the matrices the update actually computes.
    """

    alpha: np.ndarray
    beta: np.ndarray
    m: np.ndarray
    W: np.ndarray
    nu: np.ndarray
    W_inv: np.ndarray

    @property
    def n_components(self) -> int:
        return self.alpha.shape[0]

    @property
    def n_features(self) -> int:
        return self.m.shape[1]

    @property
    def expected_weights(self) -> np.ndarray:
        r"""$\mathbb E[\pi_k] = \alpha_k / \sum_j \alpha_j$ (eq. B.17), shape (K,)."""
        return self.alpha / self.alpha.sum()

    @property
    def expected_covariances(self) -> np.ndarray:
        r"""$(\mathbb E[\boldsymbol\Lambda_k])^{-1} = (\nu_k\mathbf W_k)^{-1}$, shape (K, D, D)."""
        return self.W_inv / self.nu[:, None, None]

    def expected_params(self) -> GMMParams:
        """The plug-in mixture (E[pi], m_k, (nu_k W_k)^{-1}) as GMMParams, for plotting."""
        return GMMParams(
            weights=self.expected_weights, means=self.m, covariances=self.expected_covariances
        )


_UNSET = object()


def _check_vb_args(X, resp=_UNSET, posterior=_UNSET, prior=_UNSET):
    """Validate the arguments the public VB functions take; returns (X, resp, posterior)."""
    X = check_array(X)
    if resp is not _UNSET:
        resp = check_responsibilities(resp, X.shape[0], "resp")
    if posterior is not _UNSET:
        if not isinstance(posterior, VariationalPosterior):
            raise ValueError(
                f"expected posterior to be a VariationalPosterior, got {type(posterior).__name__}"
            )
        if posterior.n_features != X.shape[1]:
            raise ValueError(
                f"expected a posterior for {X.shape[1]} features, got one for "
                f"{posterior.n_features}"
            )
        if resp is not _UNSET and resp.shape[1] != posterior.n_components:
            raise ValueError(
                f"expected resp with {posterior.n_components} columns (the posterior's "
                f"components), got {resp.shape[1]}"
            )
    if prior is not _UNSET:
        _check_prior(prior, X.shape[1])
    return X, resp, posterior


def variational_m_step(X, resp, prior: NIWPrior) -> VariationalPosterior:
    r"""Update $q(\boldsymbol\pi)$ and $q(\boldsymbol\mu, \boldsymbol\Lambda)$ given
    $q(Z)$ (Bishop eqs 10.58, 10.60–10.63):

    .. math::

        \alpha_k = \alpha_0 + N_k, \quad \beta_k = \beta_0 + N_k, \quad
        \mathbf m_k = \frac{\beta_0\mathbf m_0 + N_k\bar{\mathbf x}_k}{\beta_k}, \quad
        \nu_k = \nu_0 + N_k,

        \mathbf W_k^{-1} = \mathbf W_0^{-1} + N_k\mathbf S_k
            + \frac{\beta_0 N_k}{\beta_0 + N_k}(\bar{\mathbf x}_k - \mathbf m_0)
              (\bar{\mathbf x}_k - \mathbf m_0)^\top.

    An empty component ($N_k = 0$) falls back exactly to the prior, never to NaN.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_components)
        Non-negative responsibilities $r_{nk}$.
    prior : NIWPrior
        $\beta_0$ is ``prior.mean_precision`` and $\mathbf W_0^{-1}$ is
        ``prior.covariance_scale``.

    Returns
    -------
    VariationalPosterior
    """
    X, resp, _ = _check_vb_args(X, resp, prior=prior)
    return _variational_m_step(X, resp, prior)


def _variational_m_step(X, resp, prior):
    """:func:`variational_m_step` without validation (for :func:`fit_variational`)."""
    beta0, m0 = prior.mean_precision, prior.mean
    nk, xbar, scatter = _sufficient_statistics(X, resp)
    alpha = prior.weight_concentration + nk
    beta = beta0 + nk
    m = (beta0 * m0 + nk[:, None] * xbar) / beta[:, None]
    dev = xbar - m0
    shrink = beta0 * nk / (beta0 + nk)
    outer = dev[:, :, None] * dev[:, None, :]
    W_inv = prior.covariance_scale + scatter + shrink[:, None, None] * outer
    W_inv = (W_inv + W_inv.transpose(0, 2, 1)) / 2.0
    W = np.linalg.inv(W_inv)
    W = (W + W.transpose(0, 2, 1)) / 2.0
    nu = prior.degrees_of_freedom + nk
    return VariationalPosterior(alpha=alpha, beta=beta, m=m, W=W, nu=nu, W_inv=W_inv)


def _expected_log_weights(alpha):
    r"""$\mathbb E[\ln\pi_k] = \psi(\alpha_k) - \psi(\hat\alpha)$ (eq. 10.66)."""
    return digamma(alpha) - digamma(alpha.sum())


def _log_det_W(posterior):
    """ln|W_k| = -ln|W_k^{-1}|, via Cholesky, shape (K,)."""
    chol = np.linalg.cholesky(posterior.W_inv)
    return -2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)


def _expected_log_det_precision(posterior):
    r"""$\mathbb E[\ln|\boldsymbol\Lambda_k|] = \sum_{i=1}^D \psi(\frac{\nu_k + 1 - i}{2})
    + D\ln 2 + \ln|\mathbf W_k|$ (eq. 10.65), shape (K,)."""
    n_features = posterior.n_features
    i = np.arange(1, n_features + 1)
    psi_sum = digamma((posterior.nu[:, None] + 1.0 - i) / 2.0).sum(axis=1)
    return psi_sum + n_features * math.log(2.0) + _log_det_W(posterior)


def _expected_mahalanobis(X, posterior):
    r"""$\mathbb E[(\mathbf x_n - \boldsymbol\mu_k)^\top\boldsymbol\Lambda_k(\mathbf x_n -
    \boldsymbol\mu_k)] = D/\beta_k + \nu_k(\mathbf x_n - \mathbf m_k)^\top\mathbf W_k
    (\mathbf x_n - \mathbf m_k)$ (eq. 10.64), shape (N, K)."""
    n_samples, n_features = X.shape
    chol = np.linalg.cholesky(posterior.W_inv)  # W_k^{-1} = C C^T, so W_k = C^{-T} C^{-1}
    out = np.empty((n_samples, posterior.n_components))
    for k in range(posterior.n_components):
        y = np.linalg.solve(chol[k], (X - posterior.m[k]).T)
        out[:, k] = n_features / posterior.beta[k] + posterior.nu[k] * np.sum(y * y, axis=0)
    return out


def _log_rho(X, posterior):
    r"""$\ln\rho_{nk} = \mathbb E[\ln\pi_k] + \frac12\mathbb E[\ln|\boldsymbol\Lambda_k|]
    - \frac D2\ln 2\pi - \frac12\mathbb E[\ldots]$ (eq. 10.46), shape (N, K)."""
    return (
        _expected_log_weights(posterior.alpha)
        + 0.5 * _expected_log_det_precision(posterior)
        - 0.5 * X.shape[1] * _LOG_2PI
        - 0.5 * _expected_mahalanobis(X, posterior)
    )


def variational_e_step(X, posterior: VariationalPosterior) -> np.ndarray:
    r"""Update $q(Z)$: $r_{nk} = \rho_{nk} / \sum_j \rho_{nj}$
    (Bishop eqs 10.46–10.49, 10.64–10.67).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    posterior : VariationalPosterior

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    """
    X, _, posterior = _check_vb_args(X, posterior=posterior)
    return _variational_e_step(X, posterior)


def _variational_e_step(X, posterior):
    """:func:`variational_e_step` without validation (for :func:`fit_variational`)."""
    log_rho = _log_rho(X, posterior)
    return np.exp(log_rho - logsumexp(log_rho, axis=1)[:, None])


def _log_dirichlet_norm(alpha):
    r"""$\ln C(\boldsymbol\alpha) = \ln\Gamma(\sum_k\alpha_k) - \sum_k\ln\Gamma(\alpha_k)$
    (eq. B.23)."""
    return float(gammaln(alpha.sum()) - gammaln(alpha).sum())


def _log_wishart_norm(log_det_W, nu, n_features):
    r"""$\ln B(\mathbf W, \nu) = -\frac\nu2\ln|\mathbf W| - \frac{\nu D}2\ln 2
    - \ln\Gamma_D(\frac\nu2)$ (eq. B.79), elementwise."""
    return (
        -0.5 * nu * log_det_W
        - 0.5 * nu * n_features * math.log(2.0)
        - multivariate_gammaln(nu / 2.0, n_features)
    )


def elbo(X, resp, posterior: VariationalPosterior, prior: NIWPrior) -> float:
    r"""Evidence lower bound $\mathcal L(q)$ in full (Bishop eqs 10.70–10.77, B.79, B.82).

    .. math::

        \mathcal L = \mathbb E[\ln p(X\mid Z,\boldsymbol\mu,\boldsymbol\Lambda)]
        + \mathbb E[\ln p(Z\mid\boldsymbol\pi)] + \mathbb E[\ln p(\boldsymbol\pi)]
        + \mathbb E[\ln p(\boldsymbol\mu,\boldsymbol\Lambda)]
        - \mathbb E[\ln q(Z)] - \mathbb E[\ln q(\boldsymbol\pi)]
        - \mathbb E[\ln q(\boldsymbol\mu,\boldsymbol\Lambda)] \le \ln p(X).

    All normalising constants are included, so for $K = 1$ it equals the exact log evidence.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_components)
        $q(Z)$.
    posterior : VariationalPosterior
        $q(\boldsymbol\pi)$ and $q(\boldsymbol\mu, \boldsymbol\Lambda)$.
    prior : NIWPrior

    Returns
    -------
    float
    """
    X, resp, posterior = _check_vb_args(X, resp, posterior, prior)
    return _elbo(X, resp, posterior, prior)


def _elbo(X, resp, posterior, prior):
    """:func:`elbo` without validation (for :func:`fit_variational`)."""
    n_features = X.shape[1]
    n_components = posterior.n_components
    alpha0, beta0, nu0 = prior.weight_concentration, prior.mean_precision, prior.degrees_of_freedom
    alpha, beta, m, W, nu = posterior.alpha, posterior.beta, posterior.m, posterior.W, posterior.nu
    e_log_pi = _expected_log_weights(alpha)
    e_log_det = _expected_log_det_precision(posterior)
    log_det_W = _log_det_W(posterior)
    e_maha = _expected_mahalanobis(X, posterior)

    # (10.71) E[ln p(X | Z, mu, Lambda)], written per point:
    #         sum_nk r_nk E[ln N(x_n | mu_k, Lambda_k^-1)]
    e_log_px = 0.5 * np.sum(resp * (e_log_det - n_features * _LOG_2PI - e_maha))
    # (10.72) E[ln p(Z | pi)]
    e_log_pz = np.sum(resp * e_log_pi)
    # (10.73) E[ln p(pi)]
    e_log_ppi = _log_dirichlet_norm(np.full(n_components, alpha0)) + (alpha0 - 1.0) * e_log_pi.sum()
    # (10.74) E[ln p(mu, Lambda)]
    dev = m - prior.mean
    quad = np.einsum("ki,kij,kj->k", dev, W, dev)
    trace_term = np.einsum("ij,kji->k", prior.covariance_scale, W)  # Tr(W_0^{-1} W_k)
    log_det_W0 = -np.linalg.slogdet(prior.covariance_scale)[1]
    e_log_pmu_lambda = (
        0.5
        * np.sum(
            n_features * math.log(beta0 / (2.0 * math.pi))
            + e_log_det
            - n_features * beta0 / beta
            - beta0 * nu * quad
        )
        + n_components * _log_wishart_norm(log_det_W0, nu0, n_features)
        + 0.5 * (nu0 - n_features - 1.0) * e_log_det.sum()
        - 0.5 * np.sum(nu * trace_term)
    )
    # (10.75) E[ln q(Z)] = sum r ln r, with 0 ln 0 = 0
    positive = resp > 0
    e_log_qz = np.sum(resp[positive] * np.log(resp[positive]))
    # (10.76) E[ln q(pi)]
    e_log_qpi = np.sum((alpha - 1.0) * e_log_pi) + _log_dirichlet_norm(alpha)
    # (10.77) E[ln q(mu, Lambda)], with the Wishart entropy H[q(Lambda_k)] of eq. B.82
    entropy = (
        -_log_wishart_norm(log_det_W, nu, n_features)
        - 0.5 * (nu - n_features - 1.0) * e_log_det
        + 0.5 * nu * n_features
    )
    e_log_qmu_lambda = np.sum(
        0.5 * e_log_det
        + 0.5 * n_features * np.log(beta / (2.0 * math.pi))
        - 0.5 * n_features
        - entropy
    )
    return float(
        e_log_px
        + e_log_pz
        + e_log_ppi
        + e_log_pmu_lambda
        - e_log_qz
        - e_log_qpi
        - e_log_qmu_lambda
    )


@dataclass(repr=False, kw_only=True)
class VariationalResult(EMResult):
    r"""Result of :func:`fit_variational`: an :class:`gmm_helpers.EMResult` with the posterior.

    ``params`` and ``history`` hold the plug-in (expected) mixture of every posterior:
    weights $\mathbb E[\pi_k]$, means $\mathbf m_k$, covariances $(\nu_k\mathbf W_k)^{-1}$
    (``history[0]`` is built from the initial responsibilities). ``log_likelihoods`` are
    $\ln p(X \mid \text{history}[t])$ of those plug-in mixtures (they *may* decrease).
    ``responsibilities`` and :meth:`responsibilities_at` are the fit's own E-step: the
    variational $r_{nk}$ (eq. 10.49) of ``posteriors[t]``. ``covariance_type`` is always
    ``"full"`` and there is one run.

    Attributes
    ----------
    elbo : ndarray of shape (n_iter + 1,)
        The evidence lower bound of every ``history[t]``: never decreases (:attr:`objective`).
    posteriors : list of VariationalPosterior
        $(\alpha_k, \beta_k, \mathbf m_k, \mathbf W_k, \nu_k)$ after every iteration.
    prior : NIWPrior
    """

    objective_name = "ELBO"

    elbo: np.ndarray = field(default_factory=lambda: np.empty(0))
    posteriors: list = field(default_factory=list)
    prior: NIWPrior | None = None

    @property
    def objective(self) -> np.ndarray:
        """Alias of :attr:`elbo`, the quantity the iterations increase."""
        return self.elbo

    @property
    def posterior(self) -> VariationalPosterior:
        """The final posterior, ``posteriors[-1]``."""
        return self.posteriors[-1]

    @property
    def expected_counts(self) -> np.ndarray:
        r"""$N_k = \alpha_k - \alpha_0$: the expected number of points in each component."""
        return self.posterior.alpha - self.prior.weight_concentration

    def effective_n_components(self, threshold=0.01) -> int:
        r"""Number of components whose expected weight $\mathbb E[\pi_k]$ exceeds ``threshold``."""
        return int(np.sum(self.posterior.expected_weights > threshold))

    def responsibilities_at(self, X, t):
        """Variational responsibilities $r_{nk}$ of ``posteriors[t]`` (the fit's own E-step,
        :func:`variational_e_step`); ``responsibilities_at(X, -1)`` equals
        :attr:`responsibilities`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data the model was fitted to.
        t : int
            Iteration, ``0 <= t <= n_iter`` (negative indices count from the end).
        """
        return variational_e_step(X, self.posteriors[self._iteration(t)])

    def _repr_fields(self):
        return f"effective_n_components={self.effective_n_components()}, {super()._repr_fields()}"


def fit_variational(
    X,
    n_components,
    *,
    prior=None,
    weight_concentration=None,
    mean_precision=None,
    degrees_of_freedom=None,
    init="kmeans++",
    max_iter=500,
    tol=1e-6,
    random_state=None,
    initial_params=None,
    check_monotone=True,
) -> VariationalResult:
    r"""Variational Bayes for a Gaussian mixture (Bishop, PRML §10.2).

    The start ``gh.init_params`` (or ``initial_params``) gives responsibilities by a plain E-step;
    then every iteration alternates :func:`variational_m_step` (update $q(\boldsymbol\pi)$,
    $q(\boldsymbol\mu,\boldsymbol\Lambda)$) and :func:`variational_e_step` (update $q(Z)$).
    :func:`elbo` is recorded after each update of $q(\boldsymbol\pi, \boldsymbol\mu,
    \boldsymbol\Lambda)$ and never decreases.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
        Upper bound $K$; surplus components end up with expected weight near 0.
    prior : NIWPrior, optional
        Defaults to :func:`default_variational_prior` (scikit-learn's defaults, $\alpha_0 = 1/K$).
    weight_concentration, mean_precision, degrees_of_freedom : float, optional
        Override single fields of ``prior`` ($\alpha_0$, $\beta_0$, $\nu_0$).
    init : {"kmeans++", "kmeans", "random", "random_from_data"}
    max_iter : int
    tol : float
        Stop when the ELBO per sample changes by less than ``tol``.
    random_state : None, int or numpy.random.Generator
    initial_params : GMMParams, optional
    check_monotone : bool
        Raise ``RuntimeError`` if the ELBO ever decreases beyond round-off (a bug check).

    Returns
    -------
    VariationalResult
    """
    X, prior, start, init_name, max_iter, tol = _prepare_fit(
        X, n_components, prior, default_variational_prior,
        (weight_concentration, mean_precision, degrees_of_freedom),
        init, random_state, initial_params, max_iter, tol,
    )
    # The loop's state is (q(Z), q(pi, mu, Lambda)); the start's q(Z) is a plain E-step.
    resp = _e_step_resp(X, start)[0]

    def e_side(state):  # the ELBO of the state, then the update of q(Z) from its posterior
        resp, posterior = state
        return _elbo(X, resp, posterior, prior), _variational_e_step(X, posterior)

    def m_side(resp):  # update q(pi, mu, Lambda) given q(Z)
        return resp, _variational_m_step(X, resp, prior)

    posteriors, bounds, resp, converged = em._em_loop(
        m_side(resp), e_side, m_side, X.shape[0], max_iter, tol,
        keep=lambda state: state[1], monotone="ELBO" if check_monotone else None,
    )
    history = [posterior.expected_params() for posterior in posteriors]
    log_likelihoods = np.array([log_likelihood(X, p) for p in history])
    return VariationalResult._from_run(
        history, log_likelihoods, resp, converged, init_name, "full", X.shape[0],
        elbo=bounds, posteriors=posteriors, prior=prior,
    )
