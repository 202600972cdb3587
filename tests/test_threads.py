"""Threads over the engine's chunks (issue 14): the same bits for every thread count,
a default that follows OMP_NUM_THREADS, real use of the threads, errors that surface."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

import gmm_helpers as gh
from gmm_helpers import _threads
from gmm_helpers import suffstats as ss

THREADS = (1, 2, 3, 5)


def blobs(n, k=4, d=2, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-8, 8, (k, d))
    return centres[rng.integers(0, k, n)] + rng.standard_normal((n, d)) * rng.uniform(0.3, 2, d)


def same_fit(a, b):
    assert len(a.history) == len(b.history)
    for p, q in zip(a.history, b.history):
        for name in ("weights", "means", "covariances", "cholesky_factors"):
            assert np.array_equal(getattr(p, name), getattr(q, name)), name
    assert np.array_equal(a.log_likelihoods, b.log_likelihoods)
    assert np.array_equal(a.responsibilities, b.responsibilities)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fit_em_is_bit_identical_for_every_thread_count(covariance_type):
    X = blobs(40_000, d=3)  # 4 default chunks of 12,288 points (K=4, D=3)
    fits = [
        gh.fit_em(X, 4, covariance_type=covariance_type, random_state=1, max_iter=25,
                  n_threads=t)
        for t in THREADS
    ]
    for other in fits[1:]:
        same_fit(fits[0], other)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_em_iterations_and_statistics_bit_identical_with_many_chunks(dtype):
    X = blobs(5_000)
    start = gh.init_params(X, 4, "random_from_data", random_state=3)
    runs = [ss.em_iterations(X, start, max_iter=15, tol=0, chunk_size=333, dtype=dtype,
                             n_threads=t) for t in THREADS]
    for h, lls, _, _ in runs[1:]:
        assert np.array_equal(lls, runs[0][1])
        assert all(np.array_equal(p.covariances, q.covariances) for p, q in zip(h, runs[0][0]))
    stats = [gh.compute_statistics(X, runs[0][0][-1], chunk_size=97, n_threads=t)
             for t in THREADS]
    for s in stats[1:]:
        assert s.log_likelihood == stats[0].log_likelihood
        assert np.array_equal(s.Sxx, stats[0].Sxx) and np.array_equal(s.Nk, stats[0].Nk)
    resp = [gh.responsibilities_chunked(X, runs[0][0][-1], chunk_size=97, n_threads=t)
            for t in THREADS]
    for r, ll in resp[1:]:
        assert ll == resp[0][1] and np.array_equal(r, resp[0][0])


def test_threaded_pass_equals_the_sequential_sum_in_chunk_order():
    """What 'bit-identical' is anchored to: the chunk sums added one by one, in order."""
    X = blobs(3_000)
    params = gh.init_params(X, 4, "kmeans++", random_state=0)
    shift = X.mean(axis=0)
    ws = ss._Workspace(X, 4, shift, 250, n_threads=1)
    W, active, _ = ss._coefficients(params, shift)
    total, ll = np.zeros((4, ws.f)), 0.0
    for start, stop in ws.bounds:
        phi, E, _, s, ll_chunk = ws.log_prob_chunk(W, start, stop)
        ll += ll_chunk
        total[active] += E @ (phi / s).T
    got = gh.compute_statistics(X, params, chunk_size=250, n_threads=3)
    np.testing.assert_allclose(got.Nk, total[:, 0], rtol=1e-14)
    np.testing.assert_allclose(got.log_likelihood, ll, rtol=1e-15)


def test_hard_data_exact_pass_and_empty_components_with_threads():
    rng = np.random.default_rng(2)
    X = np.r_[rng.standard_normal((20_000, 2)), [[1e7, -1e7]]]  # a far outlier: exact pass
    fits = [gh.fit_em(X, 3, random_state=0, max_iter=20, n_threads=t) for t in (1, 2, 4)]
    for other in fits[1:]:
        same_fit(fits[0], other)
    np.testing.assert_allclose(fits[0].log_likelihoods[-1],
                               gh.log_likelihood(X, fits[0].params), rtol=1e-10)
    eyes = np.repeat(np.eye(2)[None], 3, 0)
    params = gh.GMMParams([0.5, 0.0, 0.5], [[0, 0], [1, 1], [3, 3]], eyes)
    a = gh.responsibilities_chunked(X[:5000], params, chunk_size=300, n_threads=1)
    b = gh.responsibilities_chunked(X[:5000], params, chunk_size=300, n_threads=3)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and not a[0][:, 1].any()


def test_default_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert gh.default_n_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # OpenMP's nested list: the first entry
    assert gh.default_n_threads() == 4
    available = len(os.sched_getaffinity(0))
    for junk in ("0", "-2", "many", ""):
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert gh.default_n_threads() == available
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert gh.default_n_threads() == available


def test_fit_em_uses_the_default_count(monkeypatch):
    seen = []
    real = ss.map_chunks

    def spy(work, n_chunks, n_threads):
        seen.append(n_threads)
        return real(work, n_chunks, n_threads)

    monkeypatch.setattr(ss, "map_chunks", spy)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    gh.fit_em(blobs(50_000), 3, random_state=0, max_iter=2)
    assert set(seen) == {3}
    seen.clear()
    gh.fit_em(blobs(50_000), 3, random_state=0, max_iter=2, n_threads=1)
    assert set(seen) == {1}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_count(bad):
    X = blobs(200)
    with pytest.raises(ValueError, match="expected n_threads"):
        gh.fit_em(X, 2, n_threads=bad)
    with pytest.raises(ValueError, match="expected n_threads"):
        gh.compute_statistics(X, gh.init_params(X, 2, random_state=0), n_threads=bad)
    with pytest.raises(ValueError, match="expected n_threads"):
        gh.GaussianMixture(2, n_threads=bad).fit(X)


def test_map_chunks_runs_every_chunk_once_on_several_threads():
    calls, threads, slots = [], set(), set()
    lock = threading.Lock()

    def work(i, slot):
        time.sleep(0.002)  # long enough that the pool's threads get chunks too
        with lock:
            calls.append(i)
            threads.add(threading.get_ident())
            slots.add(slot)

    _threads.map_chunks(work, 40, 3)
    assert sorted(calls) == list(range(40))
    assert len(threads) == 3 and slots == {0, 1, 2}


def test_map_chunks_raises_the_workers_error_and_stays_usable():
    def work(i, slot):
        if i == 7:
            raise ArithmeticError("chunk 7")

    with pytest.raises(ArithmeticError, match="chunk 7"):
        _threads.map_chunks(work, 30, 2)
    done = []
    _threads.map_chunks(lambda i, slot: done.append(i), 30, 2)
    assert sorted(done) == list(range(30))


def _fit_in_child(queue):
    X = blobs(40_000)
    queue.put(gh.fit_em(X, 3, random_state=0, max_iter=5, n_threads=2).log_likelihoods)


def test_pool_survives_fork():
    X = blobs(40_000)
    expected = gh.fit_em(X, 3, random_state=0, max_iter=5, n_threads=2).log_likelihoods
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_fit_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and np.array_equal(got, expected)


# --- found by an independent review of the threads (issue 14) -------------------------------
def _blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_overlapping_passes_from_user_threads_restore_blas():
    """Nested threadpool_limits each restore what they saw on entry; two overlapping passes
    used to leave BLAS on one thread for the rest of the process."""
    before = _blas_threads()
    X = blobs(100_000)
    params = gh.init_params(X, 3, random_state=0)

    def loop(n, delay):
        time.sleep(delay)
        for _ in range(n):
            gh.compute_statistics(X, params, n_threads=2)

    for _ in range(3):
        users = [threading.Thread(target=loop, args=(5, 0.0)),
                 threading.Thread(target=loop, args=(6, 0.003))]
        for u in users:
            u.start()
        for u in users:
            u.join()
        assert _blas_threads() == before


def test_pool_growing_while_other_threads_submit():
    """Replacing the pool while another user thread submitted to it raised 'cannot schedule
    new futures after shutdown'."""
    X = blobs(4_000)
    params = gh.init_params(X, 3, random_state=0)
    expected = gh.compute_statistics(X, params, chunk_size=100, n_threads=1)
    errors, wrong, stop = [], [], threading.Event()

    def steady():
        while not stop.is_set():
            try:
                got = gh.compute_statistics(X, params, chunk_size=100, n_threads=2)
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                errors.append(repr(exc))
                return
            if got.log_likelihood != expected.log_likelihood:
                wrong.append(got.log_likelihood)

    users = [threading.Thread(target=steady) for _ in range(3)]
    for u in users:
        u.start()
    try:
        for n in range(3, 41):
            got = gh.compute_statistics(X, params, chunk_size=100, n_threads=n)
            assert np.array_equal(got.Sxx, expected.Sxx)
    finally:
        stop.set()
        for u in users:
            u.join()
    assert errors == [] and wrong == []


@pytest.mark.parametrize("value", ["\u00b2", "2.5", "+3", " ", "4 threads"])
def test_default_ignores_omp_values_that_are_not_a_count(monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert gh.default_n_threads() == len(os.sched_getaffinity(0))
    gh.fit_em(blobs(300), 2, random_state=0)  # no crash


def test_params_from_statistics_still_refuses_malformed_statistics():
    off_simplex = ss.SufficientStatistics(1, np.array([1e308, 1e308]), np.zeros((2, 2)),
                                          np.array([np.eye(2) * 1e308] * 2), 0.0, np.zeros(2))
    with pytest.raises(ValueError, match="simplex"):
        ss.params_from_statistics(off_simplex)
    ragged = ss.SufficientStatistics(3, np.array([30.0]), np.zeros((3, 2)),
                                     np.array([np.eye(2)] * 3), 0.0, np.zeros(2))
    with pytest.raises(ValueError, match="expected means of shape"):
        ss.params_from_statistics(ragged)
