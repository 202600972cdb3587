"""Threads over independent chunks of data: the thread count and one shared pool.

The chunks of the sufficient-statistics engine are independent, and NumPy's
ufuncs and BLAS release the GIL while they compute, so plain threads use every
core. Results never depend on the thread count: every chunk is computed by the
same code whichever thread runs it, and the caller stores each chunk's result by
its index and sums them in chunk order afterwards.

While a pass over more than one chunk runs (on any number of threads), BLAS is
held to one thread of its own (through
``threadpoolctl``, an optional dependency: the ``threads`` extra, ``pip install -e '.[threads]'``).
Without that, OpenBLAS answers each of the engine's small matrix products with its
own worker threads, which keep spinning on the cores after the product is done and
compete with the engine's threads: measured here at N = 1e5, 2 threads then ran no
faster than 1. The limit is process-wide while a pass runs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ._validation import check_positive_int

__all__ = ["default_n_threads"]


def default_n_threads():
    """The thread count used when ``n_threads=None``.

    The usual convention of numerical libraries: ``OMP_NUM_THREADS`` if it is set to a
    positive integer (its first entry, as OpenMP reads a comma-separated list), else
    the number of CPUs this process may run on (``os.sched_getaffinity``, which
    respects ``taskset`` and container CPU sets), else ``os.cpu_count()``.

    Returns
    -------
    int
    """
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isascii() and value.isdigit() and int(value) >= 1:  # not "2.5", "+3", "²"
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def check_n_threads(n_threads):
    """``n_threads`` as a positive int; None gives :func:`default_n_threads`."""
    if n_threads is None:
        return default_n_threads()
    return check_positive_int(n_threads, "n_threads")


_POOL = None
_POOL_LOCK = threading.Lock()


def _submit(n_workers, fn, args):
    """Submit ``fn(a)`` for every ``a`` of ``args`` to the shared pool, grown to at least
    ``n_workers`` threads. Under the lock, so that no thread submits to a pool another one
    is replacing (a replaced pool still runs what was submitted to it, then its threads end)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < n_workers:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(n_workers, thread_name_prefix="gmm_helpers")
        return [_POOL.submit(fn, a) for a in args]


_BLAS = None  # threadpoolctl's controller of the loaded BLAS, False without threadpoolctl
_BLAS_LOCK = threading.Lock()
_BLAS_DEPTH = 0  # passes running now (from any user thread) that want BLAS on one thread
_BLAS_LIMITER = None


def _blas_controller():
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS = False
        else:  # found once (~2 ms); each limit() afterwards costs ~15 us
            _BLAS = ThreadpoolController().select(user_api="blas")
    return _BLAS


@contextlib.contextmanager
def _single_threaded_blas():
    """Hold BLAS to one thread while the block runs (a no-op without ``threadpoolctl``).

    Process-wide and counted: when passes from several user threads overlap, the first to
    enter sets the limit and the last to leave restores what BLAS had before (nested
    ``threadpool_limits`` would each restore what it saw on entry, and could leave BLAS
    on one thread for good).
    """
    global _BLAS_DEPTH, _BLAS_LIMITER
    controller = _blas_controller()
    if controller is False:
        yield
        return
    with _BLAS_LOCK:
        if _BLAS_DEPTH == 0:
            _BLAS_LIMITER = controller.limit(limits=1)
        _BLAS_DEPTH += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_DEPTH -= 1
            if _BLAS_DEPTH == 0:
                _BLAS_LIMITER.restore_original_limits()
                _BLAS_LIMITER = None


def _after_fork_in_child():
    """A forked child inherits the pool object but none of its threads, and the locks in
    whatever state another thread held them: start afresh."""
    global _POOL, _POOL_LOCK, _BLAS_LOCK, _BLAS_DEPTH, _BLAS_LIMITER
    _POOL, _POOL_LOCK, _BLAS_LOCK = None, threading.Lock(), threading.Lock()
    _BLAS_DEPTH, _BLAS_LIMITER = 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def map_chunks(work, n_chunks, n_threads):
    """Call ``work(i, slot)`` once for every chunk ``i`` in ``range(n_chunks)``.

    Up to ``n_threads`` threads (the caller's own and ``n_threads - 1`` from the shared
    pool) take the next chunk as they become free, so a core slowed by other load
    takes fewer chunks; BLAS is held to one thread meanwhile (unless there is only one
    chunk). ``slot`` in ``range(n_threads)`` identifies the thread, so
    ``work`` can use buffers of its own. The order of the calls is arbitrary: ``work``
    must store its result by ``i``. The first exception raised by any call is raised
    here, after every thread has stopped.
    """
    n_threads = max(1, min(n_threads, n_chunks))
    if n_chunks == 1:  # small data: no thread, no BLAS limit (it costs ~15 us)
        work(0, 0)
        return
    if n_threads == 1:
        with _single_threaded_blas():
            for i in range(n_chunks):
                work(i, 0)
        return
    counter = itertools.count()  # next() of a count is atomic under the GIL
    failed = []

    def worker(slot):
        for i in counter:
            if i >= n_chunks or failed:
                return
            try:
                work(i, slot)
            except BaseException as exc:  # stop the others, re-raised below
                failed.append(exc)
                return

    with _single_threaded_blas():
        futures = _submit(n_threads - 1, worker, range(1, n_threads))
        worker(0)
        for future in futures:
            future.result()
    if failed:
        raise failed[0]
