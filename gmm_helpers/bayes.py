r"""Bayesian Gaussian mixtures: the conjugate prior, and MAP-EM.

Notebook ``07_bayesian_gmm.ipynb`` derives everything in this module. Two routes share one prior,

.. math::

    \boldsymbol\pi \sim \mathrm{Dir}(\alpha_0, \dots, \alpha_0), \qquad
    \boldsymbol\Sigma_k \sim \mathcal{W}^{-1}(\boldsymbol\Psi_0, \nu_0), \qquad
    \boldsymbol\mu_k \mid \boldsymbol\Sigma_k \sim
        \mathcal{N}(\mathbf m_0, \boldsymbol\Sigma_k / \kappa_0),

a symmetric Dirichlet on the weights and a Normal–inverse-Wishart (NIW) on every
(mean, covariance). Written for the precision $\boldsymbol\Lambda_k = \boldsymbol\Sigma_k^{-1}$ this
is Bishop's Gaussian–Wishart prior (PRML eq. 10.40) with $\beta_0 = \kappa_0$ and
$\mathbf W_0 = \boldsymbol\Psi_0^{-1}$, so :class:`NIWPrior` serves both routes.

* :func:`fit_map_em` (here) — EM for the maximum a posteriori (MAP) parameters: the E-step is
  unchanged, the M-step returns the mode of the conjugate posterior (Murphy, *MLaPP* §11.4.2.8;
  Fraley & Raftery 2007). It maximises $\ln p(X \mid \theta) + \ln p(\theta)$, which never
  decreases, and no component can collapse onto a single point.
* :func:`gmm_helpers.variational.fit_variational` — mean-field variational Bayes (Bishop, *PRML*
  §10.2), in :mod:`gmm_helpers.variational`.

Both run the one EM loop of :mod:`gmm_helpers.em`. The special functions (NumPy only) are in
``gmm_helpers._special``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import em
from ._special import gammaln, multivariate_gammaln
from ._validation import (
    as_real_array,
    check_array,
    check_data_scale,
    check_loop_args,
    check_n_components,
    check_random_state,
    check_responsibilities,
    check_symmetric,
    spd_cholesky,
)
from .em import EMResult
from .estep import _e_step_resp
from .gaussian import _LOG_2PI
from .mstep import _sufficient_statistics
from .params import GMMParams, _frozen

__all__ = [
    "MAPEMResult",
    "NIWPrior",
    "default_map_prior",
    "default_variational_prior",
    "fit_map_em",
    "log_dirichlet_pdf",
    "log_niw_pdf",
    "map_log_prior",
    "map_m_step",
]

# ---------------------------------------------------------------------------------------------
# The prior
# ---------------------------------------------------------------------------------------------


#: Largest prior parameter accepted (alpha_0, kappa_0, nu_0). The prior's terms in the
#: objective grow like x ln x: beyond ~1e8 their rounding (eps x ln x) swamps the data's
#: contribution, so the never-decreasing check fails on noise (measured: 1e12 fails,
#: 1e8 fits), and beyond ~2.5e305 math.lgamma overflows.
_PRIOR_MAX = 1e8


def _positive_scalar(value, name, minimum=0.0, minimum_label=None):
    if isinstance(value, (bool, np.bool_, complex, np.complexfloating)):
        raise ValueError(f"expected {name} to be a positive real number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to be a positive number, got {value!r}") from None
    if not (np.isfinite(value) and value > minimum):
        raise ValueError(f"expected {name} > {minimum_label or f'{minimum:g}'}, got {value!r}")
    if value > _PRIOR_MAX:
        raise ValueError(
            f"expected {name} <= {_PRIOR_MAX:g} (beyond, rounding in the prior's x ln x "
            f"terms swamps the data in the objective), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class NIWPrior:
    r"""Conjugate prior of a Gaussian mixture: symmetric Dirichlet × Normal–inverse-Wishart.

    .. math::

        \boldsymbol\pi \sim \mathrm{Dir}(\alpha_0 \mathbf 1_K), \quad
        \boldsymbol\Sigma_k \sim \mathcal W^{-1}(\boldsymbol\Psi_0, \nu_0), \quad
        \boldsymbol\mu_k \mid \boldsymbol\Sigma_k
            \sim \mathcal N(\mathbf m_0, \boldsymbol\Sigma_k/\kappa_0).

    Equivalently (Bishop, PRML eq. 10.40) a Gaussian–Wishart prior on (mean, precision) with
    $\beta_0 = \kappa_0$ and $\mathbf W_0 = \boldsymbol\Psi_0^{-1}$ (see :attr:`precision_scale`).
    The names of the keyword arguments follow scikit-learn's ``BayesianGaussianMixture``
    (``weight_concentration_prior``, ``mean_prior``, ``mean_precision_prior``,
    ``covariance_prior``, ``degrees_of_freedom_prior``).

    Parameters
    ----------
    weight_concentration : float
        $\alpha_0 > 0$. Small values favour few occupied components.
    mean : array-like of shape (n_features,)
        $\mathbf m_0$, the prior guess of every component mean.
    mean_precision : float
        $\kappa_0$ (Bishop's $\beta_0$) $> 0$: how many pseudo-observations back $\mathbf m_0$.
    covariance_scale : array-like of shape (n_features, n_features)
        $\boldsymbol\Psi_0$, symmetric positive definite scale of the inverse-Wishart
        (= $\mathbf W_0^{-1}$, scikit-learn's ``covariance_prior``).
    degrees_of_freedom : float
        $\nu_0 > D - 1$.

    Raises
    ------
    ValueError
        For a non-positive concentration or precision, $\nu_0 \le D - 1$, any of the three
        above 1e8 (rounding in the prior's terms would swamp the data), complex values, a
        scale matrix that is not symmetric positive definite (judged on its correlation
        matrix, as :class:`gmm_helpers.GMMParams` does), or inconsistent shapes.
    """

    weight_concentration: float
    mean: np.ndarray
    mean_precision: float
    covariance_scale: np.ndarray
    degrees_of_freedom: float

    def __post_init__(self):
        alpha0 = _positive_scalar(self.weight_concentration, "weight_concentration")
        kappa0 = _positive_scalar(self.mean_precision, "mean_precision")
        mean = np.array(as_real_array(self.mean, "mean"))
        if mean.ndim != 1 or mean.size == 0 or not np.all(np.isfinite(mean)):
            raise ValueError(
                f"expected mean of shape (n_features,) with finite entries, got shape {mean.shape}"
            )
        n_features = mean.shape[0]
        scale = np.array(as_real_array(self.covariance_scale, "covariance_scale"))
        if scale.shape != (n_features, n_features):
            raise ValueError(
                f"expected covariance_scale of shape ({n_features}, {n_features}), "
                f"got {scale.shape}"
            )
        if not np.all(np.isfinite(scale)):
            raise ValueError("expected a finite covariance_scale, got non-finite entries")
        check_symmetric(scale, "covariance_scale")
        scale = (scale + scale.T) / 2.0
        if spd_cholesky(scale) is None:  # the test of GMMParams: scale-invariant
            smallest = np.linalg.eigvalsh(scale)[0]
            raise ValueError(
                "expected a symmetric positive definite covariance_scale, got a singular or "
                f"indefinite one (smallest eigenvalue {smallest:.3g})"
            )
        nu0 = _positive_scalar(
            self.degrees_of_freedom, "degrees_of_freedom", n_features - 1,
            f"n_features - 1 = {n_features - 1}",
        )
        object.__setattr__(self, "weight_concentration", alpha0)
        object.__setattr__(self, "mean_precision", kappa0)
        object.__setattr__(self, "degrees_of_freedom", nu0)
        object.__setattr__(self, "mean", _frozen(mean))
        object.__setattr__(self, "covariance_scale", _frozen(scale))

    @property
    def n_features(self) -> int:
        """Dimension $D$ of the data the prior is for."""
        return self.mean.shape[0]

    @property
    def precision_scale(self) -> np.ndarray:
        r"""Bishop's Wishart scale $\mathbf W_0 = \boldsymbol\Psi_0^{-1}$, shape (D, D)."""
        return np.linalg.inv(self.covariance_scale)


def _data_covariance(X):
    """Empirical covariance of X (bias=True), nudged to be positive definite if it is not."""
    n_features = X.shape[1]
    cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True)).reshape(n_features, n_features)
    var = np.diagonal(cov)
    if not np.all(var > 0):
        raise ValueError(
            "expected every column to vary to build a default prior, got constant column "
            f"{int(np.argmin(var > 0))}; pass prior=NIWPrior(...) explicitly"
        )
    if spd_cholesky(cov) is None:  # e.g. two identical columns
        # nudge each variable by 1e-6 of its own variance (scale-invariant)
        cov = cov + np.diag(1e-6 * var)
    return cov


def default_map_prior(X, n_components) -> NIWPrior:
    r"""Data-dependent default prior for :func:`fit_map_em` (Fraley & Raftery 2007, mclust).

    $\alpha_0 = 1$ (a flat Dirichlet: the weights are not regularised),
    $\mathbf m_0 = \bar{\mathbf x}$, $\kappa_0 = 0.01$, $\nu_0 = D + 2$ and
    $\boldsymbol\Psi_0 = \widehat{\mathrm{cov}}(X) / K^{2/D}$:
    each component is a priori about as large as one of $K$ equal cells of the data's volume.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int

    Returns
    -------
    NIWPrior
    """
    X = check_array(X)
    n_components = check_n_components(n_components, X.shape[0])
    n_features = X.shape[1]
    return NIWPrior(
        weight_concentration=1.0,
        mean=X.mean(axis=0),
        mean_precision=0.01,
        covariance_scale=_data_covariance(X) / n_components ** (2.0 / n_features),
        degrees_of_freedom=n_features + 2.0,
    )


def default_variational_prior(X, n_components) -> NIWPrior:
    r"""Data-dependent default prior for :func:`fit_variational` (scikit-learn's defaults).

    $\alpha_0 = 1/K$, $\mathbf m_0 = \bar{\mathbf x}$, $\beta_0 = \kappa_0 = 1$, $\nu_0 = D$ and
    $\mathbf W_0^{-1} = \boldsymbol\Psi_0 = \widehat{\mathrm{cov}}(X)$ — the same numbers as
    ``BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_distribution")``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int

    Returns
    -------
    NIWPrior
    """
    X = check_array(X)
    n_components = check_n_components(n_components, X.shape[0])
    return NIWPrior(
        weight_concentration=1.0 / n_components,
        mean=X.mean(axis=0),
        mean_precision=1.0,
        covariance_scale=_data_covariance(X),
        degrees_of_freedom=float(X.shape[1]),
    )


def _resolve_prior(X, n_components, prior, default, overrides):
    if prior is None:
        prior = default(X, n_components)
    elif not isinstance(prior, NIWPrior):
        raise ValueError(f"expected prior to be an NIWPrior or None, got {type(prior).__name__}")
    _check_prior(prior, X.shape[1])
    overrides = {name: value for name, value in overrides.items() if value is not None}
    return replace(prior, **overrides) if overrides else prior

# ---------------------------------------------------------------------------------------------
# Log densities of the prior
# ---------------------------------------------------------------------------------------------


def log_dirichlet_pdf(weights, concentration):
    r"""Log density of a Dirichlet distribution,
    $\ln \mathrm{Dir}(\boldsymbol\pi \mid \boldsymbol\alpha)
    = \ln\Gamma(\textstyle\sum_k \alpha_k) - \sum_k \ln\Gamma(\alpha_k)
    + \sum_k (\alpha_k - 1)\ln\pi_k$.

    Parameters
    ----------
    weights : array-like of shape (n_components,)
        A point of the simplex; a zero weight with $\alpha_k = 1$ contributes 0.
    concentration : float or array-like of shape (n_components,)
        $\alpha_k > 0$ (a scalar means the symmetric Dirichlet).

    Returns
    -------
    float
    """
    weights = np.asarray(weights, dtype=float)
    alpha = np.broadcast_to(np.asarray(concentration, dtype=float), weights.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(alpha == 1.0, 0.0, (alpha - 1.0) * np.log(weights))
    return float(gammaln(alpha.sum()) - gammaln(alpha).sum() + terms.sum())


def log_niw_pdf(mean, covariance, prior: NIWPrior):
    r"""Log density of the Normal–inverse-Wishart prior of one component,
    $\ln \mathcal N(\boldsymbol\mu \mid \mathbf m_0, \boldsymbol\Sigma/\kappa_0)
    + \ln \mathcal W^{-1}(\boldsymbol\Sigma \mid \boldsymbol\Psi_0, \nu_0)$ with

    .. math::

        \ln \mathcal W^{-1}(\boldsymbol\Sigma \mid \boldsymbol\Psi, \nu)
        = \tfrac{\nu}{2}\ln|\boldsymbol\Psi| - \tfrac{\nu D}{2}\ln 2 - \ln\Gamma_D(\tfrac{\nu}{2})
        - \tfrac{\nu + D + 1}{2}\ln|\boldsymbol\Sigma|
        - \tfrac12 \mathrm{tr}(\boldsymbol\Psi\boldsymbol\Sigma^{-1}).

    Parameters
    ----------
    mean : array-like of shape (n_features,)
    covariance : array-like of shape (n_features, n_features)
        Symmetric positive definite.
    prior : NIWPrior

    Returns
    -------
    float
    """
    mean = np.asarray(mean, dtype=float)
    covariance = np.asarray(covariance, dtype=float)
    n_features = prior.n_features
    nu0, kappa0 = prior.degrees_of_freedom, prior.mean_precision
    chol = np.linalg.cholesky(covariance)
    log_det_cov = 2.0 * np.log(np.diag(chol)).sum()
    log_det_scale = np.linalg.slogdet(prior.covariance_scale)[1]
    # Sigma^{-1} = L^{-T} L^{-1}: tr(Psi Sigma^{-1}) = ||L^{-1} Psi_chol||_F^2
    whitened_scale = np.linalg.solve(chol, np.linalg.cholesky(prior.covariance_scale))
    whitened_mean = np.linalg.solve(chol, mean - prior.mean)
    log_normal = (
        -0.5 * n_features * _LOG_2PI
        + 0.5 * n_features * math.log(kappa0)
        - 0.5 * log_det_cov
        - 0.5 * kappa0 * whitened_mean @ whitened_mean
    )
    log_inv_wishart = (
        0.5 * nu0 * log_det_scale
        - 0.5 * nu0 * n_features * math.log(2.0)
        - multivariate_gammaln(nu0 / 2.0, n_features)
        - 0.5 * (nu0 + n_features + 1.0) * log_det_cov
        - 0.5 * np.sum(whitened_scale**2)
    )
    return float(log_normal + log_inv_wishart)


def map_log_prior(params: GMMParams, prior: NIWPrior) -> float:
    r"""$\ln p(\theta) = \ln\mathrm{Dir}(\boldsymbol\pi \mid \alpha_0)
    + \sum_k \ln \mathrm{NIW}(\boldsymbol\mu_k, \boldsymbol\Sigma_k \mid \mathbf m_0, \kappa_0,
    \boldsymbol\Psi_0, \nu_0)$, the penalty that MAP-EM adds to the log-likelihood.

    Parameters
    ----------
    params : GMMParams
    prior : NIWPrior

    Returns
    -------
    float
    """
    total = log_dirichlet_pdf(params.weights, prior.weight_concentration)
    for mean, covariance in zip(params.means, params.covariances, strict=True):
        total += log_niw_pdf(mean, covariance, prior)
    return total


# ---------------------------------------------------------------------------------------------
# Shared by MAP-EM and variational Bayes
# ---------------------------------------------------------------------------------------------


def _check_prior(prior, n_features):
    """Raise ValueError unless ``prior`` is an NIWPrior for ``n_features`` features."""
    if not isinstance(prior, NIWPrior):
        raise ValueError(f"expected prior to be an NIWPrior, got {type(prior).__name__}")
    if prior.n_features != n_features:
        raise ValueError(
            f"expected a prior for {n_features} features, got one for {prior.n_features}"
        )
    return prior


def _prepare_fit(X, n_components, prior, default, overrides, init, random_state, initial_params,
                 max_iter, tol):
    """Validate a Bayesian fit's arguments; returns (X, prior, start, init name, max_iter, tol).

    ``overrides`` are the fit's (weight_concentration, mean_precision, degrees_of_freedom),
    None where the prior's value stays. The start is ``initial_params`` or ``init`` run as
    in :func:`gmm_helpers.fit_em`.
    """
    X = check_data_scale(check_array(X))
    n_components = check_n_components(n_components, X.shape[0])
    max_iter, tol = check_loop_args(max_iter, tol)
    names = ("weight_concentration", "mean_precision", "degrees_of_freedom")
    prior = _resolve_prior(X, n_components, prior, default, dict(zip(names, overrides)))
    init_name = em._check_start(initial_params, init, X.shape[1], n_components)
    rng = None if initial_params is not None else check_random_state(random_state)
    start = em._start(X, n_components, init, rng, "full", 1e-6, initial_params)
    return X, prior, start, init_name, max_iter, tol


# ---------------------------------------------------------------------------------------------
# MAP-EM
# ---------------------------------------------------------------------------------------------


@dataclass(repr=False, kw_only=True)
class MAPEMResult(EMResult):
    r"""Result of :func:`fit_map_em`: an :class:`gmm_helpers.EMResult` with the prior.

    ``log_likelihoods`` are $\ln p(X \mid \theta_t)$ of every ``history[t]``,
    ``responsibilities`` and :meth:`responsibilities_at` the plain E-step (MAP-EM
    changes only the M-step), ``covariance_type`` is always ``"full"`` and there is
    one run (``best_run = 0``).

    Attributes
    ----------
    log_priors : ndarray of shape (n_iter + 1,)
        $\ln p(\theta_t)$ (see :func:`map_log_prior`).
    prior : NIWPrior
    objective : ndarray of shape (n_iter + 1,)
        $\ln p(X \mid \theta_t) + \ln p(\theta_t)$: never decreases from ``t = 0`` on.
    """

    objective_name = "log-likelihood + log-prior"

    log_priors: np.ndarray = field(default_factory=lambda: np.empty(0))
    prior: NIWPrior | None = None

    @property
    def objective(self) -> np.ndarray:
        r"""$\ln p(X \mid \theta_t) + \ln p(\theta_t)$, what MAP-EM never decreases."""
        return self.log_likelihoods + self.log_priors


def map_m_step(X, resp, prior: NIWPrior) -> GMMParams:
    r"""M-step of MAP-EM: the mode of the conjugate posterior given responsibilities.

    With $N_k$, $\bar{\mathbf x}_k$, $N_k\mathbf S_k$ the weighted count, mean and scatter,

    .. math::

        \pi_k = \frac{N_k + \alpha_0 - 1}{N + K(\alpha_0 - 1)}, \qquad
        \boldsymbol\mu_k = \frac{N_k\bar{\mathbf x}_k + \kappa_0\mathbf m_0}{N_k + \kappa_0},

        \boldsymbol\Sigma_k = \frac{\boldsymbol\Psi_0 + N_k\mathbf S_k
            + \frac{\kappa_0 N_k}{\kappa_0 + N_k}(\bar{\mathbf x}_k - \mathbf m_0)
              (\bar{\mathbf x}_k - \mathbf m_0)^\top}{\nu_0 + N_k + D + 2}

    (Murphy, MLaPP §11.4.2.8; Fraley & Raftery 2007). $\boldsymbol\Sigma_k \succeq
    \boldsymbol\Psi_0 / (\nu_0 + N + D + 2)$, so no component can collapse.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_components)
        Non-negative responsibilities.
    prior : NIWPrior
        ``weight_concentration`` must be $\ge 1$ (otherwise the mode is not defined).

    Returns
    -------
    GMMParams
    """
    X = check_array(X)
    resp = check_responsibilities(resp, X.shape[0], "resp")
    return _map_m_step(X, resp, _check_prior(prior, X.shape[1]))


def _map_m_step(X, resp, prior):
    """:func:`map_m_step` without validation (for :func:`fit_map_em`)."""
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    alpha0, kappa0, nu0 = prior.weight_concentration, prior.mean_precision, prior.degrees_of_freedom
    m0, psi0 = prior.mean, prior.covariance_scale
    nk, xbar, scatter = _sufficient_statistics(X, resp)
    weights = (nk + alpha0 - 1.0) / (n_samples + n_components * (alpha0 - 1.0))
    weights = np.maximum(weights, 0.0)
    weights /= weights.sum()
    means = (nk[:, None] * xbar + kappa0 * m0) / (nk + kappa0)[:, None]
    dev = xbar - m0
    shrink = kappa0 * nk / (kappa0 + nk)
    covariances = (
        psi0 + scatter + shrink[:, None, None] * dev[:, :, None] * dev[:, None, :]
    ) / (nu0 + nk + n_features + 2.0)[:, None, None]
    covariances = (covariances + covariances.transpose(0, 2, 1)) / 2.0
    return GMMParams(weights=weights, means=means, covariances=covariances)


def fit_map_em(
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
) -> MAPEMResult:
    r"""Fit a full-covariance GMM by MAP-EM with a Dirichlet × Normal–inverse-Wishart prior.

    Each iteration is the usual E-step followed by :func:`map_m_step`. EM applied to
    $\ln p(X \mid \theta) + \ln p(\theta)$ never decreases it (``result.objective``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    prior : NIWPrior, optional
        Defaults to :func:`default_map_prior` (Fraley & Raftery 2007).
    weight_concentration, mean_precision, degrees_of_freedom : float, optional
        Override single fields of ``prior``. ``weight_concentration`` must be $\ge 1$ for a MAP
        estimate: below 1 the Dirichlet density is unbounded at the edge of the simplex.
    init : {"kmeans++", "kmeans", "random", "random_from_data"}
        Passed to ``gh.init_params`` unless ``initial_params`` is given.
    max_iter : int
    tol : float
        Stop when the objective per sample changes by less than ``tol``.
    random_state : None, int or numpy.random.Generator
    initial_params : GMMParams, optional
        Start here instead of ``init``.
    check_monotone : bool
        Raise ``RuntimeError`` if the objective ever decreases beyond round-off (a bug check).

    Returns
    -------
    MAPEMResult
    """
    X, prior, start, init_name, max_iter, tol = _prepare_fit(
        X, n_components, prior, default_map_prior,
        (weight_concentration, mean_precision, degrees_of_freedom),
        init, random_state, initial_params, max_iter, tol,
    )
    if prior.weight_concentration < 1.0:
        raise ValueError(
            "expected weight_concentration >= 1 for a MAP estimate (the Dirichlet density is "
            f"unbounded on the simplex edge below 1; use fit_variational), "
            f"got {prior.weight_concentration!r}"
        )
    log_likelihoods, log_priors = [], []

    def e_side(params):  # the plain E-step, and the log-prior the objective adds
        resp, ll = _e_step_resp(X, params)
        log_likelihoods.append(ll)
        log_priors.append(map_log_prior(params, prior))
        return ll + log_priors[-1], resp

    def m_side(resp):
        return _map_m_step(X, resp, prior)

    history, _, resp, converged = em._em_loop(
        start, e_side, m_side, X.shape[0], max_iter, tol,
        monotone="MAP objective" if check_monotone else None,
    )
    return MAPEMResult._from_run(
        history, np.array(log_likelihoods), resp, converged, init_name, "full", X.shape[0],
        log_priors=np.array(log_priors), prior=prior,
    )
