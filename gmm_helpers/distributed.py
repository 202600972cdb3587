r"""EM over a ``dask.array``: chunks mapped to sufficient statistics, summed, M-step on the driver.

Notebook 09 derives why this works. The M-step needs only the per-component sums
(:class:`gmm_helpers.suffstats.SufficientStatistics`)

$$N_k = \sum_n \gamma_{nk}, \qquad S_k = \sum_n \gamma_{nk}\,\tilde x_n, \qquad
  Q_k = \sum_n \gamma_{nk}\,\tilde x_n \tilde x_n^\top, \qquad \tilde x_n = x_n - a,$$

and sums over disjoint blocks of rows simply add. So one EM iteration over a
dask array ``X`` chunked by rows is

1. **map**: every block of rows $\to$ its statistics under the current parameters
   (:func:`gmm_helpers.suffstats.compute_statistics`, the fused chunked E+M pass);
2. **reduce**: the statistics of the blocks are added in a tree (``split_every``
   at a time), so no machine ever holds more than a few (K, D, D) tables;
3. **M-step** on the driver: :func:`gmm_helpers.suffstats.params_from_statistics`.

Every block uses the same centre $a$ (the data mean, computed once by Dask), so
on ordinary data the block sums add without any re-centring and the result is the
in-memory :func:`gmm_helpers.fit_em` fit, up to the order of floating-point
additions (~1e-13 relative). A block whose one-pass moments would lose their
digits (a narrow component far from $a$, e.g. one that owns a far outlier; see
:data:`gmm_helpers.suffstats.PRECISION_LIMIT`) takes the engine's exact pass and
keeps its moments about each component's own mean; the reduce step then pools
$(N_k, \bar x_k, \text{scatter}_k)$ per component (Chan et al.'s parallel
combination, ``SufficientStatistics.__add__``), so the M-step gets the exact
moments, as in memory. The tree adds the blocks in a fixed order, so a fit is
deterministic for a given chunking.

Dask is imported inside the functions: ``import gmm_helpers`` needs NumPy only;
this module needs the ``scale`` extra (``pip install 'gmm-helpers[scale]'``).

Which scheduler runs the blocks is Dask's business. ``scheduler=None`` uses Dask's
current default: the local threaded scheduler, or a ``dask.distributed.Client``
once one has been created (a new ``Client`` makes itself the default). Passing
``scheduler=client`` (or ``"threads"``, ``"synchronous"``, ``"processes"``) picks
one explicitly; nothing else changes. On a real cluster the workers need
``gmm_helpers`` installed, and ``persist=True`` keeps the blocks in the workers'
memory between iterations instead of re-reading or re-computing them.
"""

from __future__ import annotations

import functools
import operator

import numpy as np

from . import em
from ._validation import (
    as_real_array,
    check_covariance_type,
    check_loop_args,
    check_n_components,
    check_nonnegative_float,
    check_params,
    check_positive_int,
    check_random_state,
)
from .em import EMResult, _check_start, _start
from .params import GMMParams
from .suffstats import SufficientStatistics, _pass_statistics, _statistics_sides

__all__ = ["DaskEMResult", "dask_statistics", "fit_em_dask", "responsibilities_dask"]


class DaskEMResult(EMResult):
    """:class:`gmm_helpers.EMResult` of :func:`fit_em_dask`.

    The same fields; ``responsibilities`` is a **lazy** ``dask.array`` of shape
    (n_samples, n_components), chunked like ``X`` (nothing is computed until you
    call ``.compute()`` or index it), and :meth:`responsibilities_at` is lazy
    too when given a dask array.
    """

    def responsibilities_at(self, X, t):
        """Responsibilities of ``history[t]``: a lazy dask array if ``X`` is one.

        Parameters
        ----------
        X : dask.array.Array or array-like of shape (n_samples, n_features)
            The data the model was fitted to.
        t : int
            Iteration, ``0 <= t <= n_iter`` (negative indices count from the end).
        """
        if not _is_dask_array(X):
            return super().responsibilities_at(X, t)
        return responsibilities_dask(X, self.history[self._iteration(t)])


# --------------------------------------------------------------------------- #
# Helpers that run on the workers (module level, so they pickle by reference)  #
# --------------------------------------------------------------------------- #
def _unpack(params_tuple):
    """GMMParams from (weights, means, covariances, covariance_type).

    Parameters travel as a plain tuple of arrays: ``dask.delayed`` would
    otherwise take the (data)class apart and rebuild it inside the graph.
    """
    return GMMParams(*params_tuple)


def _pack(params):
    return (params.weights, params.means, params.covariances, params.covariance_type)


def _block_statistics(block, params_tuple, shift, chunk_size):
    """Map step: one block of rows -> SufficientStatistics about ``shift``, or about each
    component's own mean if the block took the exact pass (the sum pools those exactly)."""
    return _pass_statistics(block, _unpack(params_tuple), shift, chunk_size)


def _sum_statistics(*parts):
    """Reduce step: statistics of disjoint blocks add up, left to right (a fixed order)."""
    return functools.reduce(operator.add, parts)


def _about_shift(stats, shift):
    """The caller's common centre back (a no-op unless a block took the exact pass)."""
    return stats if stats.shift.shape == shift.shape else stats.with_shift(shift)


def _block_responsibilities(block, params_tuple, chunk_size):
    from .suffstats import responsibilities_chunked

    return responsibilities_chunked(block, _unpack(params_tuple), chunk_size=chunk_size)[0]


# --------------------------------------------------------------------------- #
# Driver-side helpers                                                          #
# --------------------------------------------------------------------------- #
def _is_dask_array(X):
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - without the extra nothing is a dask array
        return False
    return isinstance(X, da.Array)


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "gmm_helpers.distributed needs Dask: pip install 'gmm-helpers[scale]' "
            f"({exc})"
        ) from exc
    return dask, da


def _compute(dask, *objs, scheduler=None):
    """dask.compute with the caller's scheduler, or Dask's default when None."""
    if scheduler is None:
        return dask.compute(*objs)
    return dask.compute(*objs, scheduler=scheduler)


def _check_dask_array(X):
    """A 2-D real dask array with known row chunks and one column chunk (float64)."""
    _, da = _import_dask()
    if not isinstance(X, da.Array):
        raise ValueError(
            "expected X to be a dask.array.Array (use gh.fit_em for in-memory data, or "
            f"dask.array.from_array(X, chunks=(rows, -1))), got {type(X).__name__}"
        )
    if X.ndim != 2:
        raise ValueError(f"expected X of shape (n_samples, n_features), got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)) or (
        np.issubdtype(X.dtype, np.complexfloating)
    ):
        raise ValueError(f"expected X to hold real numbers, got dtype {X.dtype}")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "expected X with known chunk sizes, got unknown (NaN) row chunks; "
            "call X.compute_chunk_sizes() first"
        )
    if X.shape[1] < 1 or X.shape[0] < 1:
        raise ValueError(f"expected at least one sample and one feature, got shape {X.shape}")
    if len(X.chunks[1]) > 1:  # blocks must hold whole rows
        X = X.rechunk({1: -1})
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    return X


def _tree_sum(delayed, parts, split_every):
    """Add ``parts`` (Delayed SufficientStatistics) in a tree, ``split_every`` at a time."""
    while len(parts) > 1:
        parts = [
            delayed(_sum_statistics, pure=True)(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def _statistics_graph(dask, blocks, params, shift, chunk_size, split_every):
    """Lazy SufficientStatistics of all blocks under ``params``."""
    packed = _pack(params)
    parts = [
        dask.delayed(_block_statistics, pure=True)(b, packed, shift, chunk_size) for b in blocks
    ]
    return _tree_sum(dask.delayed, parts, split_every)


def _data_summary(dask, da, X, scheduler):
    """Column means and finiteness of X in one pass."""
    mean, finite = _compute(dask, X.mean(axis=0), da.isfinite(X).all(), scheduler=scheduler)
    if not finite:
        raise ValueError("expected X to be finite, got NaN or inf value(s)")
    return np.asarray(mean, dtype=np.float64)


# --------------------------------------------------------------------------- #
# Public functions                                                             #
# --------------------------------------------------------------------------- #
def dask_statistics(
    X, params, *, shift=None, chunk_size=None, split_every=8, scheduler=None, compute=True
):
    r"""Sufficient statistics of ``params`` over a dask array: map blocks, tree-sum.

    The distributed counterpart of :func:`gmm_helpers.suffstats.compute_statistics`:
    every block of rows is reduced to $[N_k, S_k, Q_k, \ell]$ where it lives, and
    only those small tables travel.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (column chunks are merged).
    params : GMMParams
    shift : array-like of shape (n_features,), optional
        Common centre of all blocks; default the mean of ``X`` (one extra pass).
        As in ``compute_statistics``: when a block takes the exact pass, the result
        is about each component's own mean (``stats.shift`` of shape (K, D), the
        precise input for the M-step) if ``shift`` is not given, and moved back to
        ``shift`` if it is.
    chunk_size : int, optional
        Points per in-cache chunk inside each block (see ``compute_statistics``).
    split_every : int
        Fan-in of the tree reduction (>= 2).
    scheduler : None, str or dask.distributed.Client
        Passed to ``dask.compute``; None uses Dask's current default.
    compute : bool
        If False return the lazy ``dask.delayed`` object instead.

    Returns
    -------
    SufficientStatistics (or a Delayed of one)
    """
    dask, da = _import_dask()
    X = _check_dask_array(X)
    check_params(params, X.shape[1])
    split_every = check_positive_int(split_every, "split_every", minimum=2)
    given = shift is not None
    if not given:
        shift = _data_summary(dask, da, X, scheduler)
    shift = as_real_array(shift, "shift")
    blocks = list(X.to_delayed().ravel())
    graph = _statistics_graph(dask, blocks, params, shift, chunk_size, split_every)
    if given:
        graph = dask.delayed(_about_shift, pure=True)(graph, shift)
    if not compute:
        return graph
    return _compute(dask, graph, scheduler=scheduler)[0]


def responsibilities_dask(X, params, *, chunk_size=None):
    r"""Lazy responsibilities $\gamma_{nk}$ of ``params`` for every row of ``X``.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    params : GMMParams
    chunk_size : int, optional
        Points per in-cache chunk inside each block.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_components)
        Row-chunked like ``X``; computed block by block only when asked for
        (``.compute()``, ``.sum(axis=0).compute()``, ``dask.array.to_zarr``, ...).
    """
    _, da = _import_dask()
    X = _check_dask_array(X)
    check_params(params, X.shape[1])
    k = params.n_components
    return da.map_blocks(
        _block_responsibilities,
        X,
        _pack(params),
        chunk_size,
        chunks=(X.chunks[0], (k,)),
        dtype=np.float64,
        meta=np.empty((0, 0), dtype=np.float64),
    )


def fit_em_dask(
    X,
    n_components,
    *,
    covariance_type="full",
    init="kmeans++",
    initial_params=None,
    max_iter=500,
    tol=1e-6,
    reg_covar=1e-6,
    random_state=None,
    scheduler=None,
    init_sample_size=10_000,
    chunk_size=None,
    split_every=8,
    persist=False,
):
    r"""Fit a Gaussian mixture by EM to a ``dask.array``, one map-reduce per iteration.

    Each iteration maps every block of rows to its
    :class:`~gmm_helpers.suffstats.SufficientStatistics` under the current
    parameters, adds them in a tree, and runs the M-step
    (:func:`~gmm_helpers.suffstats.params_from_statistics`) on the driver. The
    loop, the stopping rule ($|\ell_t - \ell_{t-1}|/N <$ ``tol``) and the
    result are those of :func:`gmm_helpers.fit_em`: from the same
    ``initial_params`` both give the same log-likelihood trajectory (to ~1e-12
    relative; tests/test_distributed.py checks 1e-10). Notebook 09 derives it.
    On data where the one-pass moments would lose their digits (a narrow
    component far from the data mean, e.g. one that owns a far outlier) the
    blocks take the engine's exact pass and their moments are pooled about each
    component's own mean, so the fit still agrees with
    ``gh.fit_em(engine="reference")`` (tested to 1e-8 relative per iteration).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (column chunks are merged; any row chunking gives the
        same fit). Known chunk sizes are needed.
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    init : {"random", "random_from_data", "kmeans", "kmeans++"}
        Initialiser (:func:`gmm_helpers.init_params`) run in memory on a uniform
        random subsample of ``init_sample_size`` rows (all rows, in order, when
        N is not larger: then the start is exactly ``gh.fit_em``'s for the same
        ``random_state``). Ignored when ``initial_params`` is given.
    initial_params : GMMParams, optional
        Start here instead (its covariance type is replaced by ``covariance_type``).
    max_iter : int
        Maximum EM iterations (0 only scores the start).
    tol : float
        Threshold on the change of the mean per-sample log-likelihood.
    reg_covar : float
        Added to the diagonal of every covariance in every M-step.
    random_state : None, int or numpy.random.Generator
        Seeds the subsample and the initialiser.
    scheduler : None, str or dask.distributed.Client
        Passed to every ``dask.compute``. None (default) uses Dask's current
        default: the local threaded scheduler, or the active
        ``distributed.Client`` if one was created.
    init_sample_size : int
        Rows used by the initialiser.
    chunk_size : int, optional
        Points per in-cache chunk inside each block (the engine's default if None).
    split_every : int
        Fan-in of the tree reduction of the block statistics (>= 2).
    persist : bool
        If True, ``X.persist()`` once before iterating, so that every iteration
        reads blocks from (worker) memory instead of recomputing or re-reading
        them. Leave False for data that does not fit in memory.

    Returns
    -------
    DaskEMResult
        An :class:`gmm_helpers.EMResult`: ``params``, ``history`` (GMMParams per
        iteration, ``history[0]`` the start), ``log_likelihoods``, ``converged``,
        ``n_iter``, ``n_samples``... ``responsibilities`` is a lazy dask array
        (n_samples, n_components) of the final parameters: nothing of size N is
        computed unless you ask for it. ``n_init`` is always 1.

    Notes
    -----
    Cost per iteration: one pass over the data plus one small task per block and
    ``~n_blocks / (split_every - 1)`` additions; the only data that moves are the
    (K, 1 + D + D^2) statistics tables, so blocks of 1e5-1e6 rows keep the
    scheduler overhead (~0.1-1 ms per task) negligible.
    """
    dask, da = _import_dask()
    X = _check_dask_array(X)
    n, d = X.shape
    n_components = check_n_components(n_components, n)
    check_covariance_type(covariance_type)
    max_iter, tol = check_loop_args(max_iter, tol)
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    init_sample_size = check_positive_int(init_sample_size, "init_sample_size")
    split_every = check_positive_int(split_every, "split_every", minimum=2)
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    init_name = _check_start(initial_params, init, d, n_components)
    rng = check_random_state(random_state)

    if persist:
        X = X.persist(scheduler=scheduler) if scheduler is not None else X.persist()
    shift = _data_summary(dask, da, X, scheduler)  # one pass: the common centre

    sample = None
    if initial_params is None:
        if n <= init_sample_size:
            sample = X
        else:
            rows = np.sort(rng.choice(n, size=init_sample_size, replace=False))
            sample = X[rows]
        sample = np.asarray(_compute(dask, sample, scheduler=scheduler)[0], dtype=np.float64)
    start = _start(sample, n_components, init, rng, covariance_type, reg_covar, initial_params)

    blocks = list(X.to_delayed().ravel())  # graph built once, reused every iteration

    def statistics(params) -> SufficientStatistics:
        graph = _statistics_graph(dask, blocks, params, shift, chunk_size, split_every)
        return _compute(dask, graph, scheduler=scheduler)[0]

    e_side, m_side = _statistics_sides(statistics, covariance_type, reg_covar)
    history, lls, _, converged = em._em_loop(start, e_side, m_side, n, max_iter, tol)
    return DaskEMResult._from_run(
        history, lls, responsibilities_dask(X, history[-1], chunk_size=chunk_size), converged,
        init_name, covariance_type, n,
    )
