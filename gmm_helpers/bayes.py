r"""Bayesian Gaussian mixtures: MAP-EM with conjugate priors, and variational Bayes.

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

* :func:`fit_map_em` — EM for the maximum a posteriori (MAP) parameters: the E-step is unchanged,
  the M-step returns the mode of the conjugate posterior (Murphy, *MLaPP* §11.4.2.8;
  Fraley & Raftery 2007). It maximises $\ln p(X \mid \theta) + \ln p(\theta)$, which never
  decreases, and no component can collapse onto a single point.
* :func:`fit_variational` — mean-field variational Bayes (Bishop, *PRML* §10.2, eqs 10.46–10.83):
  coordinate ascent on $q(Z)\,q(\boldsymbol\pi)\,q(\boldsymbol\mu, \boldsymbol\Lambda)$ with the
  evidence lower bound (ELBO) computed in full (eqs 10.70–10.77). With a small Dirichlet
  concentration the surplus components are emptied, which estimates the number of components.

NumPy only: :func:`digamma` and :func:`gammaln` are implemented here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ._validation import (
    check_array,
    check_init,
    check_iteration,
    check_n_components,
    check_nonnegative_float,
    check_params,
    check_positive_int,
    check_random_state,
)
from .estep import _e_step, e_step, log_likelihood
from .gaussian import logsumexp
from .init import init_params
from .params import GMMParams

__all__ = [
    "MAPEMResult",
    "NIWPrior",
    "VariationalPosterior",
    "VariationalResult",
    "default_map_prior",
    "default_variational_prior",
    "digamma",
    "elbo",
    "fit_map_em",
    "fit_variational",
    "gammaln",
    "log_dirichlet_pdf",
    "log_niw_pdf",
    "map_log_prior",
    "map_m_step",
    "multivariate_gammaln",
    "variational_e_step",
    "variational_m_step",
]

_LOG_2PI = math.log(2.0 * math.pi)
_TINY = np.finfo(float).tiny


# ---------------------------------------------------------------------------------------------
# Special functions (NumPy only)
# ---------------------------------------------------------------------------------------------

_gammaln_scalar = np.vectorize(math.lgamma, otypes=[float])


def gammaln(x):
    r"""Natural log of the absolute value of the gamma function, $\ln|\Gamma(x)|$, elementwise.

    Parameters
    ----------
    x : array-like
        Arguments; non-positive integers are poles and give ``inf``.

    Returns
    -------
    ndarray or float
        Same shape as ``x``.
    """
    x = np.asarray(x, dtype=float)
    poles = (x <= 0) & (x == np.floor(x))
    safe = np.where(poles | ~np.isfinite(x), 1.0, x)
    out = _gammaln_scalar(safe)
    out = np.where(poles, np.inf, out)
    out = np.where(np.isfinite(x), out, np.where(np.isnan(x), np.nan, np.inf))
    return out[()] if out.ndim == 0 else out


# Coefficients B_{2n} / (2n) of the asymptotic series psi(x) ~ ln x - 1/(2x) - sum B_2n/(2n x^2n).
_DIGAMMA_SERIES = (
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
    -691.0 / 32760.0,
    1.0 / 12.0,
)


def digamma(x):
    r"""Digamma function $\psi(x) = \frac{d}{dx} \ln \Gamma(x)$, elementwise.

    The recurrence $\psi(x) = \psi(x + 1) - 1/x$ moves every argument to $x \ge 10$, where the
    asymptotic series

    .. math::

        \psi(x) \approx \ln x - \frac{1}{2x} - \sum_{n=1}^{7} \frac{B_{2n}}{2n\,x^{2n}}

    is accurate to about $10^{-16}$. Negative non-integers use the reflection formula
    $\psi(x) = \psi(1 - x) - \pi / \tan(\pi x)$; non-positive integers are poles (``nan``).

    Parameters
    ----------
    x : array-like
        Arguments.

    Returns
    -------
    ndarray or float
        $\psi(x)$, same shape as ``x``.
    """
    x_in = np.asarray(x, dtype=float)
    x = x_in.copy()  # shifted in place below
    result = np.zeros_like(x)
    poles = (x <= 0) & (x == np.floor(x))
    reflect = (x < 0) & ~poles
    result[reflect] -= np.pi / np.tan(np.pi * x[reflect])
    x[reflect] = 1.0 - x[reflect]
    x[poles] = np.nan
    while True:
        small = x < 10.0  # False for nan
        if not small.any():
            break
        result[small] -= 1.0 / x[small]
        x[small] += 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        inv2 = 1.0 / (x * x)
        series = np.zeros_like(x)
        for coefficient in reversed(_DIGAMMA_SERIES):
            series = (series + coefficient) * inv2
        result += np.log(x) - 0.5 / x - series
    result[poles] = np.nan
    result[x_in == 0] = -np.inf  # scipy's convention at the pole 0
    return result[()] if result.ndim == 0 else result


def multivariate_gammaln(a, n_features):
    r"""Log of the multivariate gamma function,
    $\ln\Gamma_D(a) = \frac{D(D-1)}{4}\ln\pi
    + \sum_{i=1}^{D} \ln\Gamma\!\left(a + \frac{1-i}{2}\right)$.

    Parameters
    ----------
    a : float or array-like
        Argument(s), each $> (D - 1)/2$.
    n_features : int
        The dimension $D$.

    Returns
    -------
    ndarray or float
        Same shape as ``a``.
    """
    a = np.asarray(a, dtype=float)
    offsets = (1.0 - np.arange(1, n_features + 1)) / 2.0
    out = n_features * (n_features - 1) / 4.0 * math.log(math.pi)
    out = out + gammaln(a[..., None] + offsets).sum(axis=-1)
    return out[()] if np.ndim(out) == 0 else out


# ---------------------------------------------------------------------------------------------
# The prior
# ---------------------------------------------------------------------------------------------


def _positive_scalar(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to be a positive number, got {value!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"expected {name} > 0, got {value!r}")
    return value


def _readonly(array):
    array = np.array(array, dtype=float)  # always a private copy
    array.setflags(write=False)
    return array


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
        For a non-positive concentration or precision, $\nu_0 \le D - 1$, a scale matrix that is
        not symmetric positive definite, or inconsistent shapes.
    """

    weight_concentration: float
    mean: np.ndarray
    mean_precision: float
    covariance_scale: np.ndarray
    degrees_of_freedom: float

    def __post_init__(self):
        alpha0 = _positive_scalar(self.weight_concentration, "weight_concentration")
        kappa0 = _positive_scalar(self.mean_precision, "mean_precision")
        mean = np.array(self.mean, dtype=float)
        if mean.ndim != 1 or mean.size == 0 or not np.all(np.isfinite(mean)):
            raise ValueError(
                f"expected mean of shape (n_features,) with finite entries, got shape {mean.shape}"
            )
        n_features = mean.shape[0]
        scale = np.array(self.covariance_scale, dtype=float)
        if scale.shape != (n_features, n_features):
            raise ValueError(
                f"expected covariance_scale of shape ({n_features}, {n_features}), "
                f"got {scale.shape}"
            )
        if not np.all(np.isfinite(scale)):
            raise ValueError("expected a finite covariance_scale, got non-finite entries")
        if not np.allclose(scale, scale.T, rtol=1e-8, atol=1e-12 * np.abs(scale).max()):
            raise ValueError("expected a symmetric covariance_scale, got an asymmetric matrix")
        scale = (scale + scale.T) / 2.0
        try:
            np.linalg.cholesky(scale)
        except np.linalg.LinAlgError:
            smallest = np.linalg.eigvalsh(scale)[0]
            raise ValueError(
                "expected a symmetric positive definite covariance_scale, got smallest "
                f"eigenvalue {smallest:.3g}"
            ) from None
        try:
            nu0 = float(self.degrees_of_freedom)
        except (TypeError, ValueError):
            raise ValueError(
                f"expected degrees_of_freedom > n_features - 1 = {n_features - 1}, "
                f"got {self.degrees_of_freedom!r}"
            ) from None
        if not (np.isfinite(nu0) and nu0 > n_features - 1):
            raise ValueError(
                f"expected degrees_of_freedom > n_features - 1 = {n_features - 1}, got {nu0!r}"
            )
        object.__setattr__(self, "weight_concentration", alpha0)
        object.__setattr__(self, "mean_precision", kappa0)
        object.__setattr__(self, "degrees_of_freedom", nu0)
        object.__setattr__(self, "mean", _readonly(mean))
        object.__setattr__(self, "covariance_scale", _readonly(scale))

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
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        level = np.trace(cov) / n_features
        if not level > 0:
            raise ValueError(
                "expected data with non-zero variance to build a default prior, got constant "
                "data; pass prior=NIWPrior(...) explicitly"
            ) from None
        cov = cov + 1e-6 * level * np.eye(n_features)
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
    if prior.n_features != X.shape[1]:
        raise ValueError(
            f"expected a prior for {X.shape[1]} features, got one for {prior.n_features}"
        )
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
# Shared pieces
# ---------------------------------------------------------------------------------------------


def _sufficient_statistics(X, resp):
    r"""$N_k = \sum_n r_{nk}$, $\bar{\mathbf x}_k$ and the scatter
    $N_k \mathbf S_k = \sum_n r_{nk}(\mathbf x_n - \bar{\mathbf x}_k)
    (\mathbf x_n - \bar{\mathbf x}_k)^\top$
    (Bishop eqs 10.51–10.53), safe for empty components ($N_k = 0$ gives zero scatter)."""
    nk = resp.sum(axis=0)
    sums = resp.T @ X
    xbar = sums / np.maximum(nk, _TINY)[:, None]
    scatter = np.empty((resp.shape[1], X.shape[1], X.shape[1]))
    for k in range(resp.shape[1]):
        diff = X - xbar[k]
        scatter[k] = (resp[:, k, None] * diff).T @ diff
    return nk, xbar, scatter


def _weighted_e_step(X, params):
    """The ordinary E-step (zero weights allowed): (resp (N, K), total log-likelihood)."""
    log_resp, log_norm = _e_step(X, params)
    return np.exp(log_resp), float(log_norm.sum())


def _start(X, n_components, init, random_state, initial_params):
    if initial_params is not None:
        check_params(initial_params, X.shape[1])
        if initial_params.n_components != n_components:
            raise ValueError(
                f"expected initial_params with {n_components} components, "
                f"got {initial_params.n_components}"
            )
        return initial_params, "given"
    init = check_init(init)
    rng = check_random_state(random_state)
    return init_params(X, n_components, method=init, random_state=rng), init


def _responsibilities_at(result, X, t):
    return e_step(X, result.history[check_iteration(t, len(result.history) - 1)])[0]


def _check_fit_args(max_iter, tol):
    check_positive_int(max_iter, "max_iter", 0)
    check_nonnegative_float(tol, "tol")


def _monotone_slack(previous):
    """Round-off allowed in a 'never decreases' check."""
    return 1e-9 * max(1.0, abs(previous))


# ---------------------------------------------------------------------------------------------
# MAP-EM
# ---------------------------------------------------------------------------------------------


@dataclass
class MAPEMResult:
    r"""History of a MAP-EM run; mirrors ``gh.EMResult`` so the same plots and slider work.

    Attributes
    ----------
    params : GMMParams
        The MAP estimate (final parameters).
    history : list of GMMParams
        ``history[0]`` the start, ``history[t]`` after ``t`` iterations; ``len = n_iter + 1``.
    log_likelihoods : ndarray of shape (n_iter + 1,)
        $\ln p(X \mid \theta_t)$ of every ``history[t]``.
    log_priors : ndarray of shape (n_iter + 1,)
        $\ln p(\theta_t)$ (see :func:`map_log_prior`).
    objective : ndarray of shape (n_iter + 1,)
        $\ln p(X \mid \theta_t) + \ln p(\theta_t)$: never decreases from ``t = 0`` on.
    responsibilities : ndarray of shape (n_samples, n_components)
        Responsibilities under the final parameters.
    converged : bool
    n_iter : int
    prior : NIWPrior
    init : str
    covariance_type : str
        Always ``"full"``.
    n_samples : int
    run_log_likelihoods, run_n_iter : ndarray of shape (1,)
        Single-run versions of the ``gh.EMResult`` fields (MAP-EM does one run).
    best_run : int
        Always 0.
    """

    #: what ``objective`` holds (plots label and check this, not the log-likelihood)
    objective_name = "log-likelihood + log-prior"

    params: GMMParams
    history: list
    log_likelihoods: np.ndarray
    log_priors: np.ndarray
    objective: np.ndarray
    responsibilities: np.ndarray
    converged: bool
    n_iter: int
    prior: NIWPrior
    init: str
    covariance_type: str
    n_samples: int
    run_log_likelihoods: np.ndarray
    run_n_iter: np.ndarray
    best_run: int = 0

    @property
    def mean_log_likelihoods(self) -> np.ndarray:
        """Per-sample log-likelihoods, as ``gh.EMResult.mean_log_likelihoods``."""
        return self.log_likelihoods / self.n_samples

    def responsibilities_at(self, X, t):
        """Responsibilities (n_samples, n_components) of ``X`` under ``history[t]``."""
        return _responsibilities_at(self, X, t)

    def __repr__(self):
        return (
            f"MAPEMResult(n_components={self.params.n_components}, init={self.init!r}, "
            f"n_iter={self.n_iter}, converged={self.converged}, "
            f"objective={self.objective[-1]:.4f}, log_likelihood={self.log_likelihoods[-1]:.4f})"
        )


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
    resp = np.asarray(resp, dtype=float)
    if resp.ndim != 2 or resp.shape[0] != X.shape[0] or resp.shape[1] < 1:
        raise ValueError(
            f"expected resp of shape ({X.shape[0]}, n_components), got shape {resp.shape}"
        )
    if not np.all(np.isfinite(resp)) or np.any(resp < 0):
        raise ValueError("expected finite, non-negative resp, got NaN/inf/negative")
    if not isinstance(prior, NIWPrior):
        raise ValueError(f"expected prior to be an NIWPrior, got {type(prior).__name__}")
    if prior.n_features != X.shape[1]:
        raise ValueError(
            f"expected a prior for {X.shape[1]} features, got one for {prior.n_features}"
        )
    return _map_m_step(X, resp, prior)


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
    X = check_array(X)
    n_samples = X.shape[0]
    n_components = check_n_components(n_components, n_samples)
    _check_fit_args(max_iter, tol)
    prior = _resolve_prior(
        X,
        n_components,
        prior,
        default_map_prior,
        {
            "weight_concentration": weight_concentration,
            "mean_precision": mean_precision,
            "degrees_of_freedom": degrees_of_freedom,
        },
    )
    if prior.weight_concentration < 1.0:
        raise ValueError(
            "expected weight_concentration >= 1 for a MAP estimate (the Dirichlet density is "
            f"unbounded on the simplex edge below 1; use fit_variational), "
            f"got {prior.weight_concentration!r}"
        )
    params, init_name = _start(X, n_components, init, random_state, initial_params)

    history = [params]
    resp, ll = _weighted_e_step(X, params)
    log_likelihoods = [ll]
    log_priors = [map_log_prior(params, prior)]
    objective = [ll + log_priors[0]]
    converged = False
    for _ in range(max_iter):
        params = _map_m_step(X, resp, prior)
        resp, ll = _weighted_e_step(X, params)
        log_prior = map_log_prior(params, prior)
        history.append(params)
        log_likelihoods.append(ll)
        log_priors.append(log_prior)
        objective.append(ll + log_prior)
        change = objective[-1] - objective[-2]
        if check_monotone and change < -_monotone_slack(objective[-2]):
            raise RuntimeError(
                f"MAP objective decreased by {-change:.3g} at iteration {len(history) - 1}; "
                "expected a non-decreasing objective"
            )
        if abs(change) / n_samples < tol:
            converged = True
            break

    n_iter = len(history) - 1
    return MAPEMResult(
        params=params,
        history=history,
        log_likelihoods=np.array(log_likelihoods),
        log_priors=np.array(log_priors),
        objective=np.array(objective),
        responsibilities=resp,
        converged=converged,
        n_iter=n_iter,
        prior=prior,
        init=init_name,
        covariance_type="full",
        n_samples=n_samples,
        run_log_likelihoods=np.array([log_likelihoods[-1]]),
        run_n_iter=np.array([n_iter]),
    )


# ---------------------------------------------------------------------------------------------
# Variational Bayes
# ---------------------------------------------------------------------------------------------


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
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
    prior : NIWPrior
        $\beta_0$ is ``prior.mean_precision`` and $\mathbf W_0^{-1}$ is
        ``prior.covariance_scale``.

    Returns
    -------
    VariationalPosterior
    """
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
    X : ndarray of shape (n_samples, n_features)
    posterior : VariationalPosterior

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    """
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
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
        $q(Z)$.
    posterior : VariationalPosterior
        $q(\boldsymbol\pi)$ and $q(\boldsymbol\mu, \boldsymbol\Lambda)$.
    prior : NIWPrior

    Returns
    -------
    float
    """
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


@dataclass
class VariationalResult:
    r"""History of a variational-Bayes run; mirrors ``gh.EMResult`` for plotting.

    Attributes
    ----------
    params : GMMParams
        Plug-in (expected) parameters of the final posterior: weights $\mathbb E[\pi_k]$,
        means $\mathbf m_k$, covariances $(\nu_k\mathbf W_k)^{-1}$.
    history : list of GMMParams
        Expected parameters after every iteration; ``history[0]`` is the posterior built from the
        initial responsibilities. ``len = n_iter + 1``.
    elbo : ndarray of shape (n_iter + 1,)
        The evidence lower bound of every ``history[t]``: never decreases.
    log_likelihoods : ndarray of shape (n_iter + 1,)
        $\ln p(X \mid \text{history}[t])$ of the plug-in mixture (it *may* decrease).
    responsibilities : ndarray of shape (n_samples, n_components)
        Final variational responsibilities $r_{nk}$ (eq. 10.49).
    converged : bool
    n_iter : int
    posterior : VariationalPosterior
        Final $(\alpha_k, \beta_k, \mathbf m_k, \mathbf W_k, \nu_k)$.
    prior : NIWPrior
    init, covariance_type, n_samples, run_log_likelihoods, run_n_iter, best_run
        As in ``gh.EMResult`` (one run).
    """

    #: what ``objective`` holds (plots label and check this, not the log-likelihood)
    objective_name = "ELBO"

    params: GMMParams
    history: list
    elbo: np.ndarray
    log_likelihoods: np.ndarray
    responsibilities: np.ndarray
    converged: bool
    n_iter: int
    posterior: VariationalPosterior
    prior: NIWPrior
    init: str
    covariance_type: str
    n_samples: int
    run_log_likelihoods: np.ndarray
    run_n_iter: np.ndarray
    best_run: int = 0

    @property
    def objective(self) -> np.ndarray:
        """Alias of :attr:`elbo`, the quantity the iterations increase."""
        return self.elbo

    @property
    def expected_counts(self) -> np.ndarray:
        r"""$N_k = \alpha_k - \alpha_0$: the expected number of points in each component."""
        return self.posterior.alpha - self.prior.weight_concentration

    def effective_n_components(self, threshold=0.01) -> int:
        r"""Number of components whose expected weight $\mathbb E[\pi_k]$ exceeds ``threshold``."""
        return int(np.sum(self.posterior.expected_weights > threshold))

    @property
    def mean_log_likelihoods(self) -> np.ndarray:
        """Per-sample log-likelihoods of the plug-in mixtures."""
        return self.log_likelihoods / self.n_samples

    def responsibilities_at(self, X, t):
        """Responsibilities (n_samples, n_components) of ``X`` under the plug-in ``history[t]``
        (an ordinary E-step, as for ``gh.EMResult``; :attr:`responsibilities` holds the
        variational $r_{nk}$ of the final posterior)."""
        return _responsibilities_at(self, X, t)

    def __repr__(self):
        return (
            f"VariationalResult(n_components={self.params.n_components}, "
            f"effective_n_components={self.effective_n_components()}, init={self.init!r}, "
            f"n_iter={self.n_iter}, converged={self.converged}, elbo={self.elbo[-1]:.4f})"
        )


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
    X = check_array(X)
    n_samples = X.shape[0]
    n_components = check_n_components(n_components, n_samples)
    _check_fit_args(max_iter, tol)
    prior = _resolve_prior(
        X,
        n_components,
        prior,
        default_variational_prior,
        {
            "weight_concentration": weight_concentration,
            "mean_precision": mean_precision,
            "degrees_of_freedom": degrees_of_freedom,
        },
    )
    start, init_name = _start(X, n_components, init, random_state, initial_params)
    resp = _weighted_e_step(X, start)[0]

    posterior = variational_m_step(X, resp, prior)
    bounds = [elbo(X, resp, posterior, prior)]
    history = [posterior.expected_params()]
    converged = False
    for _ in range(max_iter):
        resp = variational_e_step(X, posterior)
        posterior = variational_m_step(X, resp, prior)
        bounds.append(elbo(X, resp, posterior, prior))
        history.append(posterior.expected_params())
        change = bounds[-1] - bounds[-2]
        if check_monotone and change < -_monotone_slack(bounds[-2]):
            raise RuntimeError(
                f"ELBO decreased by {-change:.3g} at iteration {len(history) - 1}; "
                "expected a non-decreasing lower bound"
            )
        if abs(change) / n_samples < tol:
            converged = True
            break
    resp = variational_e_step(X, posterior)

    log_likelihoods = np.array([log_likelihood(X, p) for p in history])
    n_iter = len(history) - 1
    return VariationalResult(
        params=history[-1],
        history=history,
        elbo=np.array(bounds),
        log_likelihoods=log_likelihoods,
        responsibilities=resp,
        converged=converged,
        n_iter=n_iter,
        posterior=posterior,
        prior=prior,
        init=init_name,
        covariance_type="full",
        n_samples=n_samples,
        run_log_likelihoods=log_likelihoods[-1:].copy(),
        run_n_iter=np.array([n_iter]),
    )
