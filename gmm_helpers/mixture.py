r"""A scikit-learn-compatible estimator over the package's functions.

:class:`GaussianMixture` speaks scikit-learn's protocol (``get_params`` /
``set_params``, ``__sklearn_tags__``, ``feature_names_in_``, ``NotFittedError``,
``ConvergenceWarning``) without importing scikit-learn: ``import gmm_helpers``
stays NumPy-only, and the scikit-learn parts switch on only where scikit-learn
is loaded. Every fit runs :func:`gmm_helpers.fit_em`.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import sys
import warnings

import numpy as np

from ._threads import check_n_threads
from ._validation import (
    as_real_array,
    check_array,
    check_covariance_type,
    check_n_components,
    check_nonnegative_float,
    check_positive_int,
    check_random_state,
    check_symmetric,
    spd_cholesky,
)
from .datasets import sample_gmm
from .em import _is_better, _without_data, fit_em
from .estep import _e_step
from .init import init_params as _fit_em_start
from .kmeans import kmeans_plusplus
from .model_selection import aic as _aic
from .model_selection import bic as _bic
from .mstep import m_step
from .params import GMMParams

#: The estimator's ``init_params`` (scikit-learn's names and meanings) -> fit_em's ``init``.
#: ``"k-means++"`` (seeding alone, no Lloyd iterations) has no fit_em name: the
#: estimator builds that start itself (:func:`_kmeanspp_start`).
INIT_PARAMS_TO_FIT_EM = {
    "kmeans": "kmeans++",
    "k-means++": None,
    "random": "random",
    "random_from_data": "random_from_data",
}


def _to_full(values, covariance_type, n_components, n_features, name):
    """Expand scikit-learn's per-type covariance/precision shapes to (K, D, D)."""
    a = as_real_array(values, name)
    k, d = n_components, n_features
    expected = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[
        covariance_type
    ]
    if a.shape != expected:
        raise ValueError(
            f"expected {name} of shape {expected} for covariance_type={covariance_type!r}, "
            f"got shape {a.shape}"
        )
    if covariance_type == "full":
        return a.copy()
    if covariance_type == "tied":
        return np.broadcast_to(a, (k, d, d)).copy()
    if covariance_type == "diag":
        out = np.zeros((k, d, d))
        out[:, np.arange(d), np.arange(d)] = a
        return out
    return a[:, None, None] * np.eye(d)


def _from_full(cov, covariance_type):
    """(K, D, D) -> scikit-learn's shape for ``covariance_type``."""
    if covariance_type == "full":
        return cov.copy()
    if covariance_type == "tied":
        return cov[0].copy()
    diag = np.diagonal(cov, axis1=1, axis2=2).copy()
    return diag if covariance_type == "diag" else diag[:, 0].copy()


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted model is called before ``fit``.

    Where scikit-learn is loaded, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError`` (see :func:`_sklearn_aware`), so
    ``except sklearn.exceptions.NotFittedError`` and scikit-learn's checks catch it.
    """


class ConvergenceWarning(UserWarning):
    """Warned when the kept EM run stops at ``max_iter`` without meeting ``tol``.

    Where scikit-learn is loaded, the warning is also an instance of
    ``sklearn.exceptions.ConvergenceWarning``, so scikit-learn's filters apply to it.
    """


class _NotNumbersError(ValueError, TypeError):
    """Input NumPy cannot read as numbers: a ValueError (the package's rule) that an
    ``except TypeError`` (NumPy's and scikit-learn's type for it) also catches."""


@functools.cache
def _sklearn_twin(name):
    """The subclass of our ``name`` and scikit-learn's class of the same name."""
    from sklearn import exceptions  # only called where sklearn.exceptions is loaded

    ours = {"NotFittedError": NotFittedError, "ConvergenceWarning": ConvergenceWarning}[name]
    return type(name, (ours, getattr(exceptions, name)), {
        "__module__": __name__,
        "__qualname__": f"_Sklearn{name}",  # found by pickle through __getattr__ below
        "__doc__": ours.__doc__,
    })


def _sklearn_aware(cls):
    """``cls``, or, where scikit-learn is loaded, its twin that is also scikit-learn's class.

    "Loaded" (``sklearn.exceptions`` in ``sys.modules``) rather than "installed":
    any code that can name ``sklearn.exceptions.NotFittedError`` has loaded it,
    and ``import gmm_helpers`` never pays for importing scikit-learn.
    """
    return _sklearn_twin(cls.__name__) if "sklearn.exceptions" in sys.modules else cls


def __getattr__(name):  # lets pickle find the twins (e.g. errors sent back by joblib workers)
    if name in ("_SklearnNotFittedError", "_SklearnConvergenceWarning"):
        return _sklearn_twin(name[len("_Sklearn"):])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _generator(random_state):
    """``random_state`` as what fit_em takes; a legacy ``np.random.RandomState`` is
    mapped to ``np.random.default_rng(SeedSequence(four 32-bit words drawn from it))``:
    deterministic for a seeded RandomState, and it advances the RandomState as
    scikit-learn does (two fits from one RandomState differ)."""
    if isinstance(random_state, np.random.RandomState):
        words = random_state.randint(0, 2**32, size=4, dtype=np.uint32)
        return np.random.default_rng(np.random.SeedSequence(words.tolist()))
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.Generator,
                                                         np.random.SeedSequence)):
        return random_state  # fit_em seeds from it exactly as before
    raise ValueError(
        "expected random_state to be None, an int, a numpy Generator or a "
        f"numpy RandomState, got {random_state!r}"
    )


def _feature_names(X):
    """Column names of a DataFrame-like ``X`` when they are all strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    kinds = {type(v) for v in names}
    if len(names) == 0 or kinds != {str}:
        if str in kinds:
            raise _NotNumbersError(
                "expected column names that are all strings or all non-strings, got "
                f"{sorted(t.__name__ for t in kinds)}: feature names are only supported if "
                "all input features have string names"
            )
        return None
    return names


def _as_numbers(X, name="X"):
    """``X`` as a float64 (n_samples, n_features) array, with scikit-learn's conversions.

    On top of :func:`check_array`: numeric object arrays and DataFrames are converted
    (a non-number inside raises a ValueError that is also a TypeError), sparse input is
    refused, and the messages carry the words scikit-learn's checks look for.
    """
    if type(X).__module__.startswith("scipy.sparse"):
        raise _NotNumbersError(
            f"expected {name} to be a dense array, got a scipy.sparse {type(X).__name__} "
            "(sparse input is not supported: pass X.toarray())"
        )
    try:
        arr = np.asarray(X)
    except Exception:  # ragged lists and the like: check_array says so
        return check_array(X, name)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise _NotNumbersError(
                f"expected {name} to hold numbers, got an object array with a non-number: {exc}"
            ) from None
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(
            f"expected {name} to hold real numbers, got dtype {arr.dtype} "
            "(Complex data not supported)"
        )
    if arr.ndim == 1:
        raise ValueError(
            f"expected {name} of shape (n_samples, n_features), got shape {arr.shape}: "
            "Reshape your data either using X.reshape(-1, 1) if it has a single feature "
            "or X.reshape(1, -1) if it is a single sample."
        )
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(
            f"expected {name} with at least 1 feature, got 0 feature(s) (shape={arr.shape}) "
            "while a minimum of 1 is required."
        )
    return check_array(arr, name)


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"expected {name} to be True or False, got {value!r}")
    return bool(value)


def _kmeanspp_start(X, n_components, rng, covariance_type, reg_covar):
    """scikit-learn's ``init_params="k-means++"``: k-means++ seeds as means, no Lloyd step.

    As in fit_em's ``"random_from_data"``, every component starts with weight 1/K and
    the covariance of the whole data set (scikit-learn starts from ``reg_covar * I``,
    which makes the first E-step a hard nearest-seed assignment).
    """
    k, d = n_components, X.shape[1]
    pooled = m_step(X, np.ones((X.shape[0], 1)), covariance_type, reg_covar).covariances[0]
    return GMMParams(np.full(k, 1.0 / k), kmeans_plusplus(X, k, rng),
                     np.broadcast_to(pooled, (k, d, d)).copy(), covariance_type)


class GaussianMixture:
    r"""Gaussian mixture estimator with scikit-learn's interface, fitted by :func:`fit_em`.

    A drop-in for ``sklearn.mixture.GaussianMixture``: ``clone``, ``Pipeline``,
    ``GridSearchCV`` and ``check_estimator`` work (README, "Using it with
    scikit-learn"), scikit-learn itself is never imported by this class.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-6
        Convergence threshold on the change of the mean per-sample log-likelihood.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance in every M-step.
    max_iter : int, default=500
        EM iterations per run; the kept run stopping here without meeting ``tol``
        warns :class:`ConvergenceWarning`.
    n_init : int, default=1
        Restarts; the run with the highest final log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        scikit-learn's names **with scikit-learn's meanings**; ``fit_em`` keeps its own
        names (``fit_em``'s ``"kmeans++"`` is ``"kmeans"`` here):

        ======================== =================================== =========================
        ``init_params``          start                               ``fit_em`` equivalent
        ======================== =================================== =========================
        ``"kmeans"``             Lloyd's k-means from k-means++      ``init="kmeans++"``
                                 seeds, M-step on the labels
        ``"k-means++"``          k-means++ seeds as means, no Lloyd  none: built here, passed
                                 step, covariance of the data        as ``initial_params``
        ``"random"``             random responsibilities, one M-step ``init="random"``
        ``"random_from_data"``   K distinct random points as means,  ``init="random_from_data"``
                                 covariance of the data
        (no scikit-learn name)   Lloyd's k-means from random points  ``init="kmeans"``
        ======================== =================================== =========================

    weights_init : array-like of shape (n_components,), optional
        Starting weights; must sum to 1 within the rounding of their own dtype
        (``max(1e-8, K * eps)``: float32 weights off by 9e-8 are accepted), then are
        rescaled to sum to 1 in float64.
    means_init : array-like of shape (n_components, n_features), optional
    precisions_init : array-like, optional
        Starting precisions in the shape of ``covariance_type`` (full (K, D, D),
        tied (D, D), diag (K, D), spherical (K,)). Each of the three may be given
        alone: the others come from ``init_params``, as in scikit-learn. With all three
        there is one run whatever ``n_init``.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        An int seeds ``np.random.default_rng`` (so the numbers differ from scikit-learn's
        for the same int); a ``RandomState`` is mapped to
        ``default_rng(SeedSequence(4 words drawn from it))``: deterministic, and it
        advances the RandomState as scikit-learn does.
    warm_start : bool, default=False
        Each later ``fit`` starts from the previous solution (one run, ``n_init``
        and the ``*_init`` arguments ignored, as in scikit-learn).
    verbose : int, default=0
        1 prints one line per restart, 2 also the mean log-likelihood every
        ``verbose_interval`` iterations of the kept run. Printed when the fit has
        finished, from the recorded history (``fit_em`` has no per-iteration callback).
    verbose_interval : int, default=10
    n_threads : int or None, default=None
        Threads of :func:`fit_em`'s default engine (not a scikit-learn parameter);
        None follows ``OMP_NUM_THREADS``, else the CPUs available
        (:func:`gmm_helpers.default_n_threads`). Results are the same, bit for bit,
        for every value.

    Defaults that differ from scikit-learn's, and why:

    ======================== ============== ============== ===================================
    parameter                scikit-learn   here           why
    ======================== ============== ============== ===================================
    ``tol``                  1e-3           1e-6           1e-3 on the mean log-likelihood
                                                           stops EM early (scikit-learn
                                                           issue 10122, notebook 04)
    ``max_iter``             100            500            the tighter ``tol`` needs more
                                                           iterations on overlapping data
    start covariances of     ``reg_covar``  covariance of  ``reg_covar * I`` turns the first
    ``"k-means++"``,         ``* I``        the data       E-step into a hard assignment
    ``"random_from_data"``
    ``random_state=0``       RandomState(0) default_rng(0) the package's one generator, so
                                                           the numbers differ from sklearn's
    float32 ``X``            float32        float64        one dtype throughout: EM's sums
                             attributes     attributes     over N samples and ``tol=1e-6``
                                                           need float64's digits
    ``verbose``              live           after the fit  ``fit_em`` has no callback
    ======================== ============== ============== ===================================

    Attributes
    ----------
    weights_ : (n_components,)
    means_ : (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ :
        scikit-learn's shapes: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
        ``precisions_cholesky_`` is upper triangular with ``P = U U^T``, as in scikit-learn.
        Always float64, whatever the dtype of ``X``.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean per-sample log-likelihood of the final parameters.
    lower_bounds_ : ndarray
        Mean per-sample log-likelihood of every parameter set in ``history_``.
        (scikit-learn's ``lower_bounds_[t]`` scores the parameters *before* the
        M-step of iteration ``t+1``, so it matches ``lower_bounds_[:-1]`` here.)
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects, shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    history_ : EMResult
        The kept run as fit_em returned it, except that the estimator does not keep
        ``X`` (as scikit-learn's does not, so a pickled model holds no training data):
        ``history_.responsibilities`` raises; use ``predict_proba(X)``.
    params_ : GMMParams
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-6,
        reg_covar=1e-6,
        max_iter=500,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        n_threads=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads

    # -- scikit-learn's estimator protocol, implemented directly -----------------------

    @classmethod
    def _get_param_names(cls):
        """The keyword parameters of ``__init__``, read from its signature."""
        return sorted(
            p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep=True):
        """The constructor parameters as a dict (with ``deep``, nested ``a__b`` ones too)."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params):
        """Set constructor parameters (not validated until ``fit``); returns ``self``."""
        valid = self.get_params(deep=True)
        nested = {}
        for key, value in params.items():
            name, delim, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}: "
                    f"expected one of {sorted(self._get_param_names())}, got {name!r}"
                )
            if delim:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    @property
    def __sklearn_tags__(self):
        """scikit-learn's tags (a density estimator, dense 2-D input, no y); an
        AttributeError, so ``hasattr`` is False, where scikit-learn cannot be imported."""
        try:
            from sklearn.utils import InputTags, Tags, TargetTags
        except ImportError:
            raise AttributeError("__sklearn_tags__ needs scikit-learn >= 1.6") from None

        def tags():
            return Tags(estimator_type="density_estimator",
                        target_tags=TargetTags(required=False), input_tags=InputTags())

        return tags

    def __repr__(self):
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        shown = []
        for name, value in self.get_params(deep=False).items():
            default = defaults[name]
            same = value is default or (
                isinstance(value, (str, numbers.Number, type(None)))
                and type(value) is type(default) and value == default
            )
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- fitting ----------------------------------------------------------------------

    def _given_start(self, n_features):
        """The user's ``*_init`` values, checked, keyed by GMMParams field."""
        k = check_positive_int(self.n_components, "n_components")
        given = {}
        if self.weights_init is not None:
            raw = np.asarray(self.weights_init)
            if raw.shape != (k,):
                raise ValueError(f"expected weights_init of shape ({k},), got shape {raw.shape}")
            weights = _as_numbers(raw[None, :], "weights_init")[0]
            eps = np.finfo(raw.dtype).eps if np.issubdtype(raw.dtype, np.floating) else 0.0
            atol = max(1e-8, k * eps)
            if np.any(weights < 0) or abs(weights.sum() - 1.0) > atol:
                raise ValueError(
                    f"expected weights_init non-negative and summing to 1 (within {atol:.1e} "
                    f"for {raw.dtype}), got sum {weights.sum()!r} and min {weights.min()!r}"
                )
            given["weights"] = weights / weights.sum() if raw.dtype != np.float64 else weights
        if self.means_init is not None:
            means = as_real_array(self.means_init, "means_init")
            if means.shape != (k, n_features):
                raise ValueError(
                    f"expected means_init of shape {(k, n_features)}, got shape {means.shape}"
                )
            given["means"] = means
        if self.precisions_init is not None:
            prec = _to_full(self.precisions_init, self.covariance_type, k, n_features,
                            "precisions_init")
            if not np.all(np.isfinite(prec)):
                raise ValueError("expected finite precisions_init, got NaN or inf")
            check_symmetric(prec, "precisions_init")
            if any(spd_cholesky(p) is None for p in prec):
                raise ValueError(
                    "expected symmetric positive-definite precisions_init, got a singular or "
                    "indefinite one"
                )
            cov = np.linalg.inv(prec)  # user-supplied precisions: invert once, here
            given["covariances"] = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        return given

    def _check_init_params(self):
        if self.init_params not in INIT_PARAMS_TO_FIT_EM:
            hint = ""
            if self.init_params == "kmeans++":
                hint = " (fit_em's 'kmeans++' is init_params='kmeans' here: scikit-learn's names)"
            raise ValueError(
                f"expected init_params in {tuple(INIT_PARAMS_TO_FIT_EM)}, "
                f"got {self.init_params!r}{hint}"
            )
        return self.init_params

    def fit(self, X, y=None):
        """Fit the mixture to ``X`` (n_samples, n_features); returns ``self``.

        ``y`` is ignored (scikit-learn's signature). ``X`` may be an array, a nested
        list, a numeric object array or a DataFrame (its column names are kept in
        ``feature_names_in_``); it is converted to float64.
        """
        names = _feature_names(X)
        X = _as_numbers(X)
        covariance_type = check_covariance_type(self.covariance_type)
        init = self._check_init_params()
        n_init = check_positive_int(self.n_init, "n_init")
        warm_start = _check_flag(self.warm_start, "warm_start")
        verbose = check_positive_int(self.verbose, "verbose", minimum=0)
        check_positive_int(self.verbose_interval, "verbose_interval")
        rng = _generator(self.random_state)
        options = dict(covariance_type=covariance_type, max_iter=self.max_iter, tol=self.tol,
                       reg_covar=self.reg_covar, n_threads=check_n_threads(self.n_threads))
        if warm_start and hasattr(self, "params_"):
            start = self.params_
            if (start.n_components, start.n_features) != (self.n_components, X.shape[1]):
                raise ValueError(
                    f"expected X with {start.n_features} feature(s) and n_components="
                    f"{start.n_components} to continue the warm_start fit, got "
                    f"{X.shape[1]} feature(s) and n_components={self.n_components!r}"
                )
            runs = [fit_em(X, self.n_components, initial_params=start, **options)]
        else:
            given = self._given_start(X.shape[1])
            if len(given) == 3:
                start = GMMParams(given["weights"], given["means"], given["covariances"],
                                  covariance_type)
                runs = [fit_em(X, self.n_components, initial_params=start, **options)]
            elif not given and init != "k-means++":
                runs = [fit_em(X, self.n_components, init=INIT_PARAMS_TO_FIT_EM[init],
                               n_init=n_init, random_state=rng, **options)]
            else:
                runs = self._fit_restarts(X, init, given, n_init, rng, options)
        result = None
        for run in runs:  # fit_em's restart rule, for the restarts run here
            best_ll = None if result is None else result.log_likelihoods[-1]
            if _is_better(run.log_likelihoods[-1], best_ll, X.shape[0]):
                result = run
        self._set_fitted(result)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if verbose:
            self._print_fit(runs, result, verbose)
        if not result.converged and result.n_iter > 0:
            change = abs(np.diff(result.mean_log_likelihoods[-2:]))[0]
            warnings.warn(
                "Best performing initialization did not converge: expected a change in the "
                f"mean log-likelihood below tol={self.tol} within max_iter={self.max_iter} "
                f"iterations, got {change:.3g} at the last one. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                _sklearn_aware(ConvergenceWarning), stacklevel=2,
            )
        return self

    def _fit_restarts(self, X, init, given, n_init, rng, options):
        """Restarts fit_em cannot run by itself: a start only the estimator builds
        ("k-means++"), or one completed by the user's ``*_init`` pieces. One fit_em call
        per restart, all drawing from one Generator."""
        rng = check_random_state(rng)
        k, ct = check_n_components(self.n_components, X.shape[0]), options["covariance_type"]
        reg_covar = check_nonnegative_float(self.reg_covar, "reg_covar")
        runs = []
        for _ in range(n_init):
            if init == "k-means++":
                start = _kmeanspp_start(X, k, rng, ct, reg_covar)
            else:
                start = _fit_em_start(X, k, INIT_PARAMS_TO_FIT_EM[init], random_state=rng,
                                      covariance_type=ct, reg_covar=reg_covar)
            start = start.replace(**given) if given else start
            runs.append(fit_em(X, k, initial_params=start, **options))
        return runs

    def _print_fit(self, runs, result, verbose):
        """scikit-learn-style progress lines, from the records of the finished fit."""
        if len(runs) == 1:  # fit_em ran all restarts: it recorded each one's end
            r = runs[0]
            ends = list(zip(r.run_n_iter, r.run_log_likelihoods / r.n_samples, strict=True))
            kept = r.best_run
        else:
            ends = [(run.n_iter, run.mean_log_likelihoods[-1]) for run in runs]
            kept = runs.index(result)
        for i, (n_iter, ll) in enumerate(ends):
            mark = "  (kept)" if i == kept else ""
            print(f"Initialization {i}: {n_iter} iterations, mean log-likelihood {ll:.5f}{mark}")
        lls = result.mean_log_likelihoods
        if verbose >= 2:
            print(f"Initialization {kept} (kept), every {self.verbose_interval} iterations:")
            for t in range(self.verbose_interval, result.n_iter + 1, self.verbose_interval):
                print(f"  Iteration {t}\t mean log-likelihood {lls[t]:.5f}\t "
                      f"ll change {lls[t] - lls[t - 1]:.5g}")
        state = "converged" if result.converged else "did not converge"
        print(f"Initialization {kept} {state}. lower bound {lls[-1]:.5f}.")

    def _set_fitted(self, result):
        p = result.params
        ct = self.covariance_type
        self.history_ = _without_data(result)
        self.params_ = p
        self.n_features_in_ = p.n_features
        self.weights_ = p.weights.copy()
        self.means_ = p.means.copy()
        self.covariances_ = _from_full(np.array(p.covariances), ct)
        eye = np.eye(p.n_features)
        # Precision Cholesky factor as scikit-learn: U = L^{-T}, so P = U U^T.
        prec_chol = np.array([np.linalg.solve(L, eye).T for L in p.cholesky_factors])
        prec = prec_chol @ np.swapaxes(prec_chol, 1, 2)
        if ct == "full":
            self.precisions_cholesky_, self.precisions_ = prec_chol, prec
        elif ct == "tied":
            self.precisions_cholesky_, self.precisions_ = prec_chol[0], prec[0]
        else:
            self.precisions_cholesky_ = _from_full(prec_chol, ct)
            self.precisions_ = _from_full(prec, ct)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.lower_bounds_ = result.mean_log_likelihoods
        self.lower_bound_ = float(self.lower_bounds_[-1])

    def _not_fitted(self):
        return _sklearn_aware(NotFittedError)(
            f"expected a fitted model, got an unfitted one: this {type(self).__name__} "
            "instance is not fitted yet, call fit(X) before using this method"
        )

    def _check_fitted(self, X):
        """``X`` as float64, checked against the fit: feature names, then feature count."""
        if not hasattr(self, "params_"):
            raise self._not_fitted()
        self._check_feature_names(X)
        X = _as_numbers(X)
        k = self.n_features_in_
        if X.shape[1] != k:
            raise ValueError(
                f"expected X with {k} feature(s) (columns), got {X.shape[1]}: X has "
                f"{X.shape[1]} features, but {type(self).__name__} is expecting {k} features "
                "as input"
            )
        return X

    def _check_feature_names(self, X):
        """scikit-learn's rules (and messages) for the column names of ``X`` after a fit."""
        fitted, names = getattr(self, "feature_names_in_", None), _feature_names(X)
        cls = type(self).__name__
        if fitted is None and names is not None:
            warnings.warn(f"X has feature names, but {cls} was fitted without feature names",
                          UserWarning, stacklevel=4)
        elif fitted is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {cls} was fitted with "
                          "feature names", UserWarning, stacklevel=4)
        elif fitted is not None and (len(fitted) != len(names) or np.any(fitted != names)):
            unseen = sorted(set(names) - set(fitted))
            missing = sorted(set(fitted) - set(names))

            def listing(values):
                lines = [f"- {v}\n" for v in values[:5]]
                return "".join(lines) + ("- ...\n" if len(values) > 5 else "")

            message = "The feature names should match those that were passed during fit.\n"
            if unseen:
                message += "Feature names unseen at fit time:\n" + listing(unseen)
            if missing:
                message += "Feature names seen at fit time, yet now missing:\n" + listing(missing)
            if not unseen and not missing:
                message += "Feature names must be in the same order as they were in fit.\n"
            raise ValueError(
                f"expected the columns {list(fitted)} of the fit, got {list(names)}. " + message
            )

    def fit_predict(self, X, y=None):
        """Fit, then return the most responsible component of every sample."""
        return self.fit(X).predict(X)

    def predict_proba(self, X):
        """Responsibilities, shape (n_samples, n_components)."""
        X = self._check_fitted(X)
        return np.exp(_e_step(X, self.params_)[0])

    def predict(self, X):
        """Index of the most responsible component, shape (n_samples,)."""
        X = self._check_fitted(X)
        return np.argmax(_e_step(X, self.params_)[0], axis=1)

    def score_samples(self, X):
        """Log-density ``log p(x_n)`` of every sample, shape (n_samples,)."""
        X = self._check_fitted(X)
        return _e_step(X, self.params_)[1]

    def score(self, X, y=None):
        """Mean per-sample log-likelihood (``y`` is ignored)."""
        X = self._check_fitted(X)
        return float(np.mean(_e_step(X, self.params_)[1]))

    def sample(self, n_samples=1):
        """Draw ``(X, labels)`` from the fitted mixture (seeded by ``random_state``)."""
        if not hasattr(self, "params_"):
            raise self._not_fitted()
        n_samples = check_positive_int(n_samples, "n_samples")
        return sample_gmm(self.params_, n_samples, random_state=_generator(self.random_state))

    def bic(self, X):
        """BIC of the fitted model on ``X`` (lower is better)."""
        X = self._check_fitted(X)
        return _bic(X, self.params_)

    def aic(self, X):
        """AIC of the fitted model on ``X`` (lower is better)."""
        X = self._check_fitted(X)
        return _aic(X, self.params_)


__all__ = ["ConvergenceWarning", "GaussianMixture", "NotFittedError"]
