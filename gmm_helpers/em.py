r"""The EM driver: alternate E- and M-steps and record the whole history.

When the log-likelihood cannot decrease: with ``reg_covar=0`` every M-step
maximises the expected complete-data log-likelihood $Q(\theta\mid\theta^{(t)})$ exactly,
so $\ln p(X\mid\theta^{(t+1)}) - \ln p(X\mid\theta^{(t)}) \ge
Q(\theta^{(t+1)}\mid\theta^{(t)}) - Q(\theta^{(t)}\mid\theta^{(t)}) \ge 0$
(Dempster, Laird & Rubin 1977; notebook 04), up to floating-point rounding (about
1e-12 relative) and the ``10 * eps`` floor on $N_k$. With ``reg_covar > 0`` (the
default 1e-6, as in scikit-learn) the M-step returns that maximiser plus
$\epsilon I$, which no longer maximises $Q$, so the log-likelihood *can* decrease:
negligibly while $\epsilon$ is tiny against every component's variances, visibly
otherwise (data on a 1e-3 scale lose 0.03 nats in one iteration). Rescale such
data, or lower ``reg_covar``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    check_array,
    check_covariance_type,
    check_data_scale,
    check_init,
    check_iteration,
    check_n_components,
    check_nonnegative_float,
    check_params,
    check_positive_int,
    check_random_state,
)
from .estep import _e_step, e_step
from .init import _init_params
from .mstep import _m_step
from .params import GMMParams
from .suffstats import _em_run, _responsibilities

# EM engines (issue 8): "suffstats" runs the same iterations from chunked sufficient
# statistics (gmm_helpers/suffstats.py, notebook 09: 20-29x faster at N=1e6, memory independent of
# N); "reference" is the readable loop over e_step/m_step below that the notebooks teach.
ENGINES = ("suffstats", "reference")


@dataclass
class EMResult:
    """Everything one call of :func:`fit_em` produced.

    Attributes
    ----------
    params : GMMParams
        Final parameters of the best run.
    history : list of GMMParams
        ``history[0]`` is the starting point, ``history[t]`` the parameters
        after ``t`` full EM iterations; ``len(history) == n_iter + 1``.
    log_likelihoods : ndarray of shape (n_iter + 1,)
        ``log_likelihoods[t]`` is the total log-likelihood of ``history[t]``.
    responsibilities : ndarray of shape (n_samples, n_components)
        Responsibilities under the final parameters.
    converged : bool
    n_iter : int
        EM iterations (E-step + M-step) run by the best run.
    init : str
        The initialisation method (``"given"`` when ``initial_params`` was passed).
    covariance_type : str
    n_samples : int
    run_log_likelihoods : ndarray of shape (n_init,)
        Final total log-likelihood of every restart (notebook 05 plots them).
    run_n_iter : ndarray of shape (n_init,)
        Iterations each restart needed.
    best_run : int
        Index of the restart that was kept.
    reg_covar : float or None
        The ``reg_covar`` of the fit (None if unknown); > 0 means the log-likelihood
        may decrease (see the module docstring).
    """

    params: GMMParams
    history: list
    log_likelihoods: np.ndarray
    responsibilities: np.ndarray
    converged: bool
    n_iter: int
    init: str
    covariance_type: str = "full"
    n_samples: int = 0
    run_log_likelihoods: np.ndarray = field(default_factory=lambda: np.empty(0))
    run_n_iter: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    best_run: int = 0
    reg_covar: float | None = None

    @property
    def mean_log_likelihoods(self) -> np.ndarray:
        """Per-sample log-likelihoods (what scikit-learn reports and ``tol`` is compared to)."""
        return self.log_likelihoods / self.n_samples

    def responsibilities_at(self, X, t):
        """Responsibilities of the parameters ``history[t]``, recomputed on demand.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data the model was fitted to.
        t : int
            Iteration, ``0 <= t <= n_iter`` (negative indices count from the end).
        """
        return e_step(X, self.history[check_iteration(t, len(self.history) - 1)])[0]

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_components={self.params.n_components}, "
            f"covariance_type={self.covariance_type!r}, init={self.init!r}, "
            f"n_iter={self.n_iter}, converged={self.converged}, "
            f"log_likelihood={self.log_likelihoods[-1]:.4f})"
        )


def _run_em(X, params, covariance_type, max_iter, tol, reg_covar, engine="reference"):
    """One EM run from ``params``; returns (history, log_likelihoods, resp, converged).

    With ``engine="suffstats"`` ``resp`` is None: :func:`fit_em` computes the
    responsibilities once, for the run it keeps.
    """
    if engine == "suffstats":
        # Same semantics as the loop below (tests/test_suffstats.py checks the
        # log-likelihood trajectory to 1e-10), one fused chunked pass per iteration.
        # (fit_em has validated everything, so the unchecked variant is used)
        history, lls, converged, _ = _em_run(X, params, max_iter, tol, covariance_type, reg_covar)
        return history, lls, None, converged
    n = X.shape[0]
    log_resp, log_norm = _e_step(X, params)
    history = [params]
    lls = [float(np.sum(log_norm))]
    converged = False
    for _ in range(max_iter):
        params = _m_step(X, np.exp(log_resp), covariance_type, reg_covar)
        log_resp, log_norm = _e_step(X, params)
        history.append(params)
        lls.append(float(np.sum(log_norm)))
        if abs(lls[-1] - lls[-2]) / n < tol:
            converged = True
            break
    return history, np.array(lls), np.exp(log_resp), converged


def fit_em(
    X,
    n_components,
    *,
    covariance_type="full",
    init="kmeans++",
    n_init=1,
    max_iter=500,
    tol=1e-6,
    reg_covar=1e-6,
    random_state=None,
    initial_params=None,
    engine="suffstats",
):
    r"""Fit a Gaussian mixture by Expectation-Maximization.

    Each iteration runs the E-step (responsibilities of the current parameters,
    :func:`e_step`) and the M-step (:func:`m_step`). The log-likelihood of the
    parameters never decreases when ``reg_covar=0``; with ``reg_covar > 0`` it can
    (see below). EM stops when the change of the
    **mean per-sample** log-likelihood between two consecutive parameter sets is
    below ``tol`` (scikit-learn's meaning; its default 1e-3 often stops early,
    scikit-learn issue 10122, hence 1e-6 here) or after ``max_iter`` iterations.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    init : {"random", "random_from_data", "kmeans", "kmeans++"}
        See :func:`init_params`. Ignored when ``initial_params`` is given.
    n_init : int
        Restarts from different initialisations; the run with the highest final
        log-likelihood is kept, every run's final value is recorded.
    max_iter : int
        Maximum EM iterations per run (0 returns the starting point).
    tol : float
        Convergence threshold on the mean per-sample log-likelihood.
    reg_covar : float
        Added to the diagonal of every covariance in every M-step (absolute, in the
        squared units of the data, as in scikit-learn).
    random_state : None, int or numpy.random.Generator
    initial_params : GMMParams, optional
        Start here instead of initialising (then ``n_init`` must be 1).
    engine : {"suffstats", "reference"}
        ``"suffstats"`` (default) computes each iteration from chunked sufficient
        statistics (:mod:`gmm_helpers.suffstats`, notebook 09); ``"reference"``
        runs the readable loop over :func:`e_step` and :func:`m_step`. Both give the
        same iterations (to ~1e-10 relative).

    Returns
    -------
    EMResult

    Notes
    -----
    When the log-likelihood cannot decrease: with ``reg_covar=0`` every M-step
    maximises the expected complete-data log-likelihood $Q(\theta\mid\theta^{(t)})$ exactly,
    so $\ln p(X\mid\theta^{(t+1)}) - \ln p(X\mid\theta^{(t)}) \ge
    Q(\theta^{(t+1)}\mid\theta^{(t)}) - Q(\theta^{(t)}\mid\theta^{(t)}) \ge 0$
    (Dempster, Laird & Rubin 1977; notebook 04), up to floating-point rounding (about
    1e-12 relative) and the ``10 * eps`` floor on $N_k$. With ``reg_covar > 0`` (the
    default 1e-6, as in scikit-learn) the M-step returns that maximiser plus
    $\epsilon I$, which no longer maximises $Q$, so the log-likelihood *can* decrease:
    negligibly while $\epsilon$ is tiny against every component's variances, visibly
    otherwise (data on a 1e-3 scale lose 0.03 nats in one iteration). Rescale such
    data, or lower ``reg_covar``.
    """
    X = check_data_scale(check_array(X))
    n_components = check_n_components(n_components, X.shape[0])
    check_covariance_type(covariance_type)
    n_init = check_positive_int(n_init, "n_init")
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    tol = check_nonnegative_float(tol, "tol")
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    if initial_params is not None:
        check_params(initial_params, X.shape[1])
        if initial_params.n_components != n_components:
            raise ValueError(
                f"expected initial_params with n_components={n_components}, "
                f"got {initial_params.n_components}"
            )
        if n_init != 1:
            raise ValueError(f"expected n_init=1 with initial_params, got n_init={n_init}")
        init_name = "given"
    else:
        init_name = check_init(init)
    if engine not in ENGINES:
        raise ValueError(f"expected engine in {ENGINES}, got {engine!r}")
    rng = check_random_state(random_state)

    best = None
    run_lls, run_iters = [], []
    for run in range(n_init):
        if initial_params is not None:
            start = initial_params.replace(covariance_type=covariance_type)
        else:
            start = _init_params(X, n_components, init, rng, covariance_type, reg_covar)
        history, lls, resp, converged = _run_em(
            X, start, covariance_type, max_iter, tol, reg_covar, engine
        )
        run_lls.append(lls[-1])
        run_iters.append(len(history) - 1)
        if best is None or lls[-1] > best[1][-1]:
            best = (history, lls, resp, converged, run)
    history, lls, resp, converged, best_run = best
    if resp is None:  # suffstats engine: responsibilities of the kept run only, chunked
        resp = _responsibilities(X, history[-1])[0]
    return EMResult(
        params=history[-1],
        history=history,
        log_likelihoods=lls,
        responsibilities=resp,
        converged=converged,
        n_iter=len(history) - 1,
        init=init_name,
        covariance_type=covariance_type,
        n_samples=X.shape[0],
        run_log_likelihoods=np.array(run_lls),
        run_n_iter=np.array(run_iters),
        best_run=best_run,
        reg_covar=reg_covar,
    )
