r"""The EM loop: the one loop every fit runs, and the result it returns.

:func:`_em_loop` is the only EM loop of the package. Every fit supplies its E-side
(score the current state and compute what the update needs) and its M-side (the
update); the loop keeps the history, checks convergence and, where asked, that
the objective never decreases:

=====================  ======================================  ============================
fit                    E-side                                  M-side
=====================  ======================================  ============================
``fit_em`` reference   :func:`e_step` (responsibilities)       :func:`m_step`
``fit_em`` default     chunked statistics (``suffstats``)      ``params_from_statistics``
``fit_em_dask``        statistics mapped over dask blocks      ``params_from_statistics``
``fit_map_em``         :func:`e_step` + log-prior              ``map_m_step``
``fit_variational``    ELBO + ``variational_e_step``           ``variational_m_step``
=====================  ======================================  ============================

:class:`EMResult` is the base of every result (``MAPEMResult``,
``VariationalResult`` and ``DaskEMResult`` add only their own fields).

The log-likelihood cannot decrease from one iteration to the next exactly when
``reg_covar=0`` (up to rounding); with ``reg_covar > 0`` it can. The Notes of
:func:`fit_em` give the argument and the size of the effect.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ._threads import check_n_threads
from ._validation import (
    check_array,
    check_covariance_type,
    check_data_scale,
    check_init,
    check_initial_params,
    check_iteration,
    check_loop_args,
    check_n_components,
    check_nonnegative_float,
    check_positive_int,
    check_random_state,
)
from .estep import _e_step_resp, e_step
from .init import _init_params
from .mstep import _m_step
from .params import GMMParams
from .suffstats import _responsibilities, _suffstats_sides

# EM engines (issue 8): "suffstats" runs the same iterations from chunked sufficient
# statistics (gmm_helpers/suffstats.py, notebook 09: 20-29x faster at N=1e6, memory independent of
# N); "reference" is the readable E-step/M-step pair that the notebooks teach.
ENGINES = ("suffstats", "reference")


@dataclass(repr=False)
class EMResult:
    """Everything one EM fit produced (the base of every result of the package).

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
        Responsibilities of the fit's own E-step under the final parameters: the
        plain E-step (:func:`e_step`) for maximum-likelihood and MAP fits, the
        variational $r_{nk}$ for ``fit_variational``. The default engine of
        :func:`fit_em` computes them **on first access**, from the ``X`` it was
        fitted to (the result keeps a reference to it, and a checksum taken at fit
        time): an (N, K) array is N*K*8 bytes, more than the fit itself needs. If
        ``X`` was changed in place after the fit, the access raises ``ValueError``
        rather than return the responsibilities of other data.
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
    objective : ndarray of shape (n_iter + 1,)
        The quantity the iterations never decrease, named by ``objective_name``:
        the log-likelihood here (non-decreasing only with ``reg_covar=0``), the
        log-likelihood + log-prior for MAP-EM, the
        ELBO for variational Bayes (plots and the slider show this one).
    reg_covar : float or None
        The ``reg_covar`` of the fit (None if unknown); > 0 means the log-likelihood
        may decrease (see the Notes of :func:`fit_em`).
    """

    #: what :attr:`objective` holds (plots label their axis with it)
    objective_name: ClassVar[str] = "log-likelihood"

    params: GMMParams
    history: list
    log_likelihoods: np.ndarray
    # not compared by ==: it may still be deferred (reading it computes it)
    responsibilities: np.ndarray = field(compare=False)
    converged: bool
    n_iter: int
    init: str
    covariance_type: str = "full"
    n_samples: int = 0
    run_log_likelihoods: np.ndarray = field(default_factory=lambda: np.empty(0))
    run_n_iter: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    best_run: int = 0
    reg_covar: float | None = None

    @classmethod
    def _from_run(
        cls, history, log_likelihoods, responsibilities, converged, init, covariance_type,
        n_samples, run_log_likelihoods=None, run_n_iter=None, best_run=0, **own_fields,
    ):
        """The result of a kept run (one run unless ``run_*`` are given)."""
        n_iter = len(history) - 1
        if run_log_likelihoods is None:
            run_log_likelihoods = log_likelihoods[-1:].copy()
            run_n_iter = np.array([n_iter])
        return cls(
            params=history[-1],
            history=history,
            log_likelihoods=log_likelihoods,
            responsibilities=responsibilities,
            converged=converged,
            n_iter=n_iter,
            init=init,
            covariance_type=covariance_type,
            n_samples=int(n_samples),
            run_log_likelihoods=run_log_likelihoods,
            run_n_iter=run_n_iter,
            best_run=best_run,
            **own_fields,
        )

    @property
    def objective(self) -> np.ndarray:
        """The total log-likelihoods: what maximum-likelihood EM with ``reg_covar=0``
        never decreases (with ``reg_covar > 0`` it can, see :func:`fit_em`)."""
        return self.log_likelihoods

    @property
    def mean_log_likelihoods(self) -> np.ndarray:
        """Per-sample log-likelihoods (what scikit-learn reports and ``tol`` is compared to)."""
        return self.log_likelihoods / self.n_samples

    def _iteration(self, t):
        """``t`` checked as an index into ``history`` (negative from the end)."""
        return check_iteration(t, len(self.history) - 1)

    def responsibilities_at(self, X, t):
        """Responsibilities of the fit's own E-step at ``history[t]``, recomputed on demand.

        For maximum-likelihood and MAP fits the plain E-step of ``history[t]``, so
        ``responsibilities_at(X, -1)`` equals :attr:`responsibilities`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data the model was fitted to.
        t : int
            Iteration, ``0 <= t <= n_iter`` (negative indices count from the end).
        """
        return e_step(X, self.history[self._iteration(t)])[0]

    def _repr_fields(self):
        return (
            f"covariance_type={self.covariance_type!r}, init={self.init!r}, "
            f"n_iter={self.n_iter}, converged={self.converged}"
        )

    def __repr__(self):
        objective = ""
        if self.objective_name != "log-likelihood":
            objective = f"objective={self.objective[-1]:.4f}, "
        return (
            f"{type(self).__name__}(n_components={self.params.n_components}, "
            f"{self._repr_fields()}, {objective}log_likelihood={self.log_likelihoods[-1]:.4f})"
        )


class _Deferred:
    """The responsibilities of ``params`` on ``X``, computed when first asked for.

    Keeps a reference to ``X`` (no copy) and a CRC-32 checksum of its bytes taken at
    fit time; :attr:`EMResult.responsibilities` calls :meth:`compute` once and then
    keeps the array (and lets go of ``X``).
    """

    def __init__(self, X, params, n_threads=1):
        self.X, self.params, self.n_threads = X, params, n_threads
        self.shape, self.checksum = X.shape, _checksum(X)

    def compute(self):
        X = self.X
        if X.shape != self.shape or _checksum(X) != self.checksum:
            raise ValueError(
                f"expected the data X of shape {self.shape} that this result was fitted to, "
                f"unchanged; got X of shape {X.shape} with other values (it was changed in "
                "place after the fit), so its responsibilities would not be the fit's. Refit, "
                "or call result.responsibilities_at(X_fitted, -1) with the original data."
            )
        return _responsibilities(X, self.params, n_threads=self.n_threads)[0]


def _checksum(X, block=1 << 16):
    """CRC-32 of the bytes of ``X`` in C order (about 1.7 GB/s; non-contiguous ``X`` is
    copied ``block`` rows at a time, so no temporary grows with N)."""
    if X.flags.c_contiguous:
        return zlib.crc32(X)
    crc = 0
    for start in range(0, X.shape[0], block):
        crc = zlib.crc32(np.ascontiguousarray(X[start : start + block]), crc)
    return crc


class _Dropped(_Deferred):
    """Deferred responsibilities whose data were let go (:func:`_without_data`)."""

    def __init__(self, shape):
        self.shape = shape

    def compute(self):
        raise ValueError(
            f"expected a result that keeps its data, got one whose X (shape {self.shape}) "
            "was not kept (GaussianMixture keeps no training data, as scikit-learn's does "
            "not); compute them with predict_proba(X) or result.responsibilities_at(X, -1)."
        )


def _without_data(result):
    """``result`` with deferred responsibilities let go of ``X`` (in place; returned)."""
    value = result.__dict__.get("_responsibilities")
    if isinstance(value, _Deferred) and not isinstance(value, _Dropped):
        result.__dict__["_responsibilities"] = _Dropped(value.shape)
    return result


def _get_responsibilities(self):
    value = self.__dict__["_responsibilities"]
    if isinstance(value, _Deferred):
        value = value.compute()
        self.__dict__["_responsibilities"] = value
    return value


def _set_responsibilities(self, value):
    self.__dict__["_responsibilities"] = value


# a property over the dataclass field: EMResult(..., responsibilities=...) stores the array
# or a _Deferred, and reading the attribute computes a _Deferred once
EMResult.responsibilities = property(
    _get_responsibilities, _set_responsibilities, doc="See :class:`EMResult`."
)


def _monotone_slack(previous):
    """Round-off allowed in a 'never decreases' check."""
    return 1e-9 * max(1.0, abs(previous))


def _em_loop(start, e_side, m_side, n_samples, max_iter, tol, *, keep=None, monotone=None):
    r"""The EM loop: alternate the E-side and the M-side from ``start``.

    Pass $t$ of ``e_side`` over state $\theta_t$ returns its objective $\ell_t$ and
    what ``m_side`` needs to build $\theta_{t+1}$. EM stops when
    $|\ell_t - \ell_{t-1}| / N <$ ``tol`` (``converged``) or after ``max_iter``
    updates.

    Parameters
    ----------
    start : object
        The state $\theta_0$ (a GMMParams, or what the fit iterates on).
    e_side : callable
        ``e_side(state) -> (objective, e_out)``.
    m_side : callable
        ``m_side(e_out) -> next state``.
    n_samples : int
        $N$, which turns the change of the objective into a per-sample change.
    max_iter : int
    tol : float
    keep : callable, optional
        ``keep(state)`` is what the history stores (default the state itself).
    monotone : str, optional
        The objective's name: raise ``RuntimeError`` if it ever decreases beyond
        round-off (a bug check for the fits whose theory says it cannot).

    Returns
    -------
    history : list
        ``keep(state)`` of every state, ``len(history) == n_iter + 1``.
    objectives : ndarray of shape (n_iter + 1,)
    e_out : object
        The last E-side output (for the final responsibilities).
    converged : bool
    """
    if keep is None:
        keep = _identity
    objective, e_out = e_side(start)
    history, objectives = [keep(start)], [objective]
    converged = False
    for _ in range(max_iter):
        state = m_side(e_out)
        objective, e_out = e_side(state)  # scores history[t] and prepares history[t + 1]
        history.append(keep(state))
        objectives.append(objective)
        change = objectives[-1] - objectives[-2]
        if monotone is not None and change < -_monotone_slack(objectives[-2]):
            raise RuntimeError(
                f"{monotone} decreased by {-change:.3g} at iteration {len(history) - 1}; "
                f"expected a non-decreasing {monotone}"
            )
        if abs(change) / n_samples < tol:
            converged = True
            break
    return history, np.array(objectives), e_out, converged


def _identity(state):
    return state


# Relative margin of _is_better: ~5e6 machine epsilons, ~1e4 times the rounding seen between
# kernels and ~1e3 times below what tol=1e-6 per sample resolves.
_RESTART_MARGIN = 1e-9


def _is_better(candidate_ll, best_ll, n_samples):
    r"""Whether a restart with total log-likelihood ``candidate_ll`` replaces the kept one.

    A later restart wins only if it is better by more than rounding can explain:

    .. math:: \ell_{\text{cand}} > \ell_{\text{best}} + 10^{-9}\,(|\ell_{\text{best}}| + N).

    Why this margin. :math:`\ell = \sum_n \log p(x_n)` is a sum of ``N`` terms, each
    computed from O(1)-sized pieces (:math:`\log 2\pi`, :math:`\log|\Sigma_k|`, Mahalanobis
    distances) with a relative error of a few machine epsilons (:math:`\epsilon \approx 2.2
    \times 10^{-16}`); the total's rounding error is therefore bounded by a small multiple of
    :math:`\epsilon (|\ell| + N)` (the ``N`` term covers :math:`\ell \approx 0`, where
    positive and negative :math:`\log p(x_n)` cancel). Two restarts that reach the same optimum
    differ at the :math:`10^{-13}` relative level, and which one comes out higher depends on the
    BLAS kernel and NumPy's SIMD level; with a strict ``>`` the kept restart, hence the order of
    the components, changed between machines. The margin :math:`10^{-9}(|\ell| + N)` is about
    :math:`10^{4}` times that rounding, yet for a typical :math:`|\ell|/N` of a few nats it is
    below :math:`10^{-8}` per sample, far under what ``tol=1e-6`` per sample resolves, so a
    genuinely better optimum still wins. Ties (and NaN) keep the earlier restart.

    Parameters
    ----------
    candidate_ll : float
        Final total log-likelihood of the new restart.
    best_ll : float or None
        That of the kept one (None before the first restart).
    n_samples : int
        ``N``, the number of samples both were computed on.

    Returns
    -------
    bool
    """
    if best_ll is None:  # the first restart
        return True
    if not np.isfinite(best_ll):  # a kept run at -inf is beaten by any finite one
        return bool(candidate_ll > best_ll)
    margin = _RESTART_MARGIN * (abs(best_ll) + n_samples)
    return bool(candidate_ll > best_ll + margin)


def _reference_sides(X, covariance_type, reg_covar):
    """E-side and M-side of the reference engine: :func:`e_step` and :func:`m_step`."""

    def e_side(params):
        resp, ll = _e_step_resp(X, params)
        return ll, resp

    def m_side(resp):
        return _m_step(X, resp, covariance_type, reg_covar)

    return e_side, m_side


def _start(X, n_components, init, rng, covariance_type, reg_covar, initial_params=None):
    """``initial_params`` (as ``covariance_type``) or a fresh start from ``init``."""
    if initial_params is not None:
        return initial_params.replace(covariance_type=covariance_type)
    return _init_params(X, n_components, init, rng, covariance_type, reg_covar)


def _check_start(initial_params, init, n_features, n_components):
    """Validate ``initial_params`` (or ``init``); returns the init name the result records."""
    if initial_params is not None:
        check_initial_params(initial_params, n_features, n_components)
        return "given"
    return check_init(init)


def _run_em(
    X, params, covariance_type, max_iter, tol, reg_covar, engine="reference", n_threads=1
):
    """One EM run from ``params``; returns (history, log_likelihoods, resp, converged).

    With ``engine="suffstats"`` ``resp`` is None: :func:`fit_em` defers the
    responsibilities of the run it keeps to their first access.
    """
    if engine == "suffstats":
        e_side, m_side = _suffstats_sides(
            X, params.n_components, covariance_type, reg_covar, n_threads=n_threads
        )
    else:
        e_side, m_side = _reference_sides(X, covariance_type, reg_covar)
    history, lls, e_out, converged = _em_loop(params, e_side, m_side, X.shape[0], max_iter, tol)
    return history, lls, (None if engine == "suffstats" else e_out), converged


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
    n_threads=None,
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
        log-likelihood is kept (a later run must beat the kept one by more than
        rounding can explain, see :func:`_is_better`, so the choice is the same on
        every machine); every run's final value is recorded.
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
        iterates the readable :func:`e_step` and :func:`m_step`. Both give the
        same iterations (to ~1e-10 relative).
    n_threads : int, optional
        Threads the default engine shares its chunks among (the k-means start and the
        reference engine run on one). By default :func:`default_n_threads`:
        ``OMP_NUM_THREADS`` if set, else the CPUs available. The result is the same, bit
        for bit, for every thread count.

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
    max_iter, tol = check_loop_args(max_iter, tol)
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    init_name = _check_start(initial_params, init, X.shape[1], n_components)
    if initial_params is not None and n_init != 1:
        raise ValueError(f"expected n_init=1 with initial_params, got n_init={n_init}")
    if engine not in ENGINES:
        raise ValueError(f"expected engine in {ENGINES}, got {engine!r}")
    n_threads = check_n_threads(n_threads)
    rng = check_random_state(random_state)

    best = None
    run_lls, run_iters = [], []
    for run in range(n_init):
        start = _start(X, n_components, init, rng, covariance_type, reg_covar, initial_params)
        history, lls, resp, converged = _run_em(
            X, start, covariance_type, max_iter, tol, reg_covar, engine, n_threads
        )
        run_lls.append(lls[-1])
        run_iters.append(len(history) - 1)
        if _is_better(lls[-1], None if best is None else best[1][-1], X.shape[0]):
            best = (history, lls, resp, converged, run)
    history, lls, resp, converged, best_run = best
    if resp is None:  # suffstats engine: the kept run's, computed on first access
        resp = _Deferred(X, history[-1], n_threads)
    return EMResult._from_run(
        history, lls, resp, converged, init_name, covariance_type, X.shape[0],
        run_log_likelihoods=np.array(run_lls), run_n_iter=np.array(run_iters),
        best_run=best_run,
        reg_covar=reg_covar,
    )
