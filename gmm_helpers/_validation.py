"""Input validation, done once at the public API.

Every check raises :class:`ValueError` with a message of the form
``"expected ..., got ..."`` so a student sees what went wrong without a
traceback from deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_METHODS = ("random", "random_from_data", "kmeans", "kmeans++")


#: A covariance whose correlation matrix has a Cholesky pivot below this (times D)
#: is singular to working precision (condition number of the correlation matrix
#: above ~1e13). Judging the correlation matrix makes the test scale-invariant: it
#: does not change when one variable is measured in other units.
SINGULAR_RTOL = 1e-13


def as_real_array(value, name, *, convert=True):
    """``value`` as an ndarray of real numbers (float64 unless ``convert=False``).

    The one place where arrays enter the package: a ragged list, ``None``, strings
    or **complex** numbers (which ``np.asarray(..., dtype=float)`` would silently
    truncate to their real part) raise ``ValueError("expected ..., got ...")``.
    Finiteness and shape are left to the caller.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(
            f"expected {name} to be an array-like of numbers, got {type(value).__name__} ({exc})"
        ) from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"expected {name} to hold numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"expected {name} to hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False) if convert else arr


def spd_cholesky(c):
    r"""Lower Cholesky factor of a symmetric matrix ``c``, or None if it is not
    positive-definite to working precision.

    The pivots are judged against each variable's own variance: with
    $c = L L^\top$, $L_{ii}^2 / c_{ii}$ are the pivots of the correlation matrix
    $D^{-1/2} c\, D^{-1/2}$, which does not change when a variable is rescaled, so
    features on scales 1e7 and 1 (or ``diag(1e13, 1)``) are accepted while an exactly
    or numerically singular matrix (two identical variables) is not.
    """
    chol = spd_cholesky_batched(np.asarray(c)[None])
    return None if chol is None else chol[0]


def spd_cholesky_batched(c):
    """:func:`spd_cholesky` of every matrix of a stack ``c`` (K, D, D) in one call, or None if
    any of them is not positive-definite by the same rule (the factors are the same numbers:
    NumPy factors a stack matrix by matrix with the same LAPACK routine)."""
    var = np.diagonal(c, axis1=1, axis2=2)
    if not np.all(var > 0) or not np.all(np.isfinite(c)):
        return None
    try:
        chol = np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        return None
    pivots = np.diagonal(chol, axis1=1, axis2=2) ** 2 / var
    if not (np.all(np.isfinite(chol)) and np.all(pivots > SINGULAR_RTOL * c.shape[-1])):
        return None
    return chol


def check_array(X, name="X", *, min_samples=1, n_features=None):
    """Return ``X`` as a finite float64 array of shape (n_samples, n_features).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : str
        Name used in error messages.
    min_samples : int
        Minimum number of rows.
    n_features : int or None
        If given, the required number of columns.
    """
    arr = as_real_array(X, name, convert=False)
    if arr.ndim != 2:
        raise ValueError(
            f"expected {name} of shape (n_samples, n_features), got shape {arr.shape}"
        )
    if arr.shape[0] < min_samples:
        raise ValueError(
            f"expected {name} to have at least {min_samples} sample(s), got {arr.shape[0]}"
        )
    if arr.shape[1] < 1:
        raise ValueError(f"expected {name} to have at least 1 feature, got shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"expected {name} with {n_features} feature(s) (columns), got {arr.shape[1]}"
        )
    arr = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"expected {name} to be finite, got {n_bad} NaN or inf value(s)")
    return arr


#: Fitting squares differences of the data: beyond this magnitude they overflow,
#: below it (as a spread) they underflow to zero.
DATA_SCALE_LIMITS = (1e-150, 1e150)


def column_extremes(X):
    """Per-column minimum and maximum of ``X`` (N, D), shapes (D,) and (D,).

    Column by column for narrow ``X``: NumPy's ``X.min(axis=0)`` of an (N, 2) array
    reduces over rows 2 values at a time, ~40x slower than two strided 1-D
    reductions (38 ms against 0.9 ms at N = 1e6). Minima and maxima are exact, so
    both orders give the same numbers.
    """
    if X.shape[1] <= 8:
        lo = np.array([X[:, j].min() for j in range(X.shape[1])])
        hi = np.array([X[:, j].max() for j in range(X.shape[1])])
        return lo, hi
    return X.min(axis=0), X.max(axis=0)


def check_data_scale(X, name="X"):
    """Refuse data a fit cannot square: |X| above 1e150 or a column spread below 1e-150.

    Squared distances and second moments of such data overflow to inf or underflow
    to zero (NumPy would then report "Probabilities contain NaN", or the points look
    identical). Rescaling does not change a Gaussian mixture fit, so the message says
    to rescale (for example with :func:`gmm_helpers.standardize`).
    """
    low, high = DATA_SCALE_LIMITS
    lo, hi = column_extremes(X)
    # from the column extremes: no temporary the size of X (as abs(X) would be)
    biggest = max(float(np.max(np.abs(lo))), float(np.max(np.abs(hi))))
    if biggest > high:
        raise ValueError(
            f"expected {name} with |values| <= {high:g} (squared distances must stay finite), "
            f"got {biggest:.3g}; rescale the data, e.g. gh.standardize(X)"
        )
    spread = hi - lo
    tiny = (spread > 0) & (spread < low)
    if np.any(tiny):
        j = int(np.argmax(tiny))
        raise ValueError(
            f"expected every non-constant column of {name} to spread over more than {low:g} "
            f"(squared distances must not underflow to 0), got {spread[j]:.3g} in column {j}; "
            "rescale the data, e.g. gh.standardize(X)"
        )
    return X


def check_positive_int(value, name, minimum=1):
    """Return ``value`` as an int >= ``minimum`` or raise ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"expected {name} to be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return int(value)


def check_iteration(t, n_iter):
    """Return ``t`` as an index into a history of ``n_iter + 1`` entries (negative from the end)."""
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Integral):
        raise ValueError(f"expected an integer iteration t, got {t!r}")
    if not -(n_iter + 1) <= t <= n_iter:
        raise ValueError(f"expected 0 <= t <= {n_iter}, got {t}")
    return int(t)


def check_nonnegative_float(value, name):
    """Return ``value`` as a finite float >= 0 or raise ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"expected {name} to be a non-negative number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"expected {name} to be a finite number >= 0, got {value}")
    return value


def check_covariance_type(covariance_type):
    """Raise ValueError unless ``covariance_type`` is one of scikit-learn's four."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"expected covariance_type in {COVARIANCE_TYPES}, got {covariance_type!r}"
        )
    return covariance_type


def check_init(method):
    """Raise ValueError unless ``method`` names a known initialiser."""
    if method not in INIT_METHODS:
        raise ValueError(f"expected init in {INIT_METHODS}, got {method!r}")
    return method


def check_random_state(seed):
    """Turn ``seed`` into a :class:`numpy.random.Generator`.

    ``None`` gives fresh entropy, an int or SeedSequence seeds ``default_rng``,
    and an existing Generator is returned unchanged.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    is_bool = isinstance(seed, (bool, np.bool_))  # an Integral, but surely a mistake
    if seed is None or (
        isinstance(seed, (numbers.Integral, np.random.SeedSequence)) and not is_bool
    ):
        if isinstance(seed, numbers.Integral) and seed < 0:
            raise ValueError(f"expected random_state >= 0, got {seed}")
        return np.random.default_rng(seed)
    raise ValueError(
        f"expected random_state to be None, an int or a numpy Generator, got {seed!r}"
    )


def check_n_components(n_components, n_samples):
    """Check 1 <= n_components <= n_samples."""
    n_components = check_positive_int(n_components, "n_components", 1)
    if n_samples < n_components:
        raise ValueError(
            f"expected at least n_components={n_components} samples, got {n_samples}"
        )
    return n_components


def check_params(params, n_features):
    """Check that a :class:`GMMParams` matches data with ``n_features`` columns."""
    from .params import GMMParams

    if not isinstance(params, GMMParams):
        raise ValueError(f"expected a GMMParams, got {type(params).__name__}")
    if params.n_features != n_features:
        raise ValueError(
            f"expected parameters for {n_features} feature(s) to match X, "
            f"got means of shape {params.means.shape}"
        )
    return params


#: The one symmetry rule of the package: a matrix is symmetric when its largest
#: asymmetry is at most this fraction of its largest entry (GMMParams, log_gaussian_pdf,
#: NIWPrior and plot_cov_ellipse all use it, through :func:`relative_asymmetry`).
SYMMETRY_RTOL = 1e-8


def relative_asymmetry(a):
    r"""Largest $|a_{ij} - a_{ji}| / \sqrt{|a_{ii} a_{jj}|}$ of each matrix in ``a``
    (shape (..., D, D)), shape (...): asymmetry judged against each pair of variables'
    own scales, so it does not change when one variable is rescaled."""
    a = np.asarray(a, dtype=np.float64)
    diff = np.abs(a - np.swapaxes(a, -2, -1))
    diag = np.sqrt(np.abs(np.diagonal(a, axis1=-2, axis2=-1)))
    scale = diag[..., :, None] * diag[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / scale)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    return rel.max(axis=(-2, -1))


def check_symmetric(a, name):
    """Raise ValueError unless every matrix in ``a`` is symmetric (:data:`SYMMETRY_RTOL`)."""
    asym = np.atleast_1d(relative_asymmetry(a))
    if np.any(asym > SYMMETRY_RTOL):
        bad = int(np.argmax(asym))
        where = f"component {bad} with " if np.ndim(a) == 3 else ""
        raise ValueError(
            f"expected symmetric {name}, got {where}relative asymmetry {asym[bad]:.2e}"
        )


def check_initial_params(initial_params, n_features, n_components):
    """Check a user's starting point against the data and ``n_components``; returns it."""
    check_params(initial_params, n_features)
    if initial_params.n_components != n_components:
        raise ValueError(
            f"expected initial_params with n_components={n_components}, "
            f"got {initial_params.n_components}"
        )
    return initial_params


def check_loop_args(max_iter, tol):
    """``max_iter`` (int >= 0) and ``tol`` (float >= 0) of an EM loop."""
    return check_positive_int(max_iter, "max_iter", minimum=0), check_nonnegative_float(tol, "tol")


def check_responsibilities(resp, n_samples, name="responsibilities"):
    """Return ``resp`` as a finite, non-negative float64 array of shape (n_samples, K >= 1)."""
    try:
        shape = np.shape(resp)
    except ValueError:  # ragged nested lists
        shape = "ragged"
    if len(shape) != 2 or shape[0] != n_samples or shape[1] < 1:
        raise ValueError(
            f"expected {name} of shape ({n_samples}, n_components), got shape {shape}"
        )
    arr = np.asarray(resp)
    if np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"expected finite, non-negative {name}, got NaN/inf/negative")
    return check_array(arr, name)  # refuses non-numbers and complex values
