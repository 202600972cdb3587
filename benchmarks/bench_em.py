"""End-to-end and per-iteration speed, and peak memory, of gh.fit_em against scikit-learn.

Run (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_em.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_em.py --quick

(Some machines set ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` for old OpenBLAS builds;
they slow a current NumPy, so unset both for this command only. The script prints
the BLAS kernel it ran with.)

What is timed, for each N in {1e4, 1e5, 1e6}, K in {3, 5, 10}, D = 2, float64, on the
same data and from the same starting parameters (K data points as means, the data
covariance, equal weights), covariance_type="full":

* **ours / iter**: one EM iteration exactly as ``gh.fit_em`` (``engine="suffstats"``)
  runs it — the fused chunked E+M pass (``_Workspace.statistics``: log-likelihood and
  sufficient statistics of the current parameters) followed by
  ``params_from_statistics`` (the M-step). Buffers are allocated once per fit, as in
  ``em_iterations``.
* **ours / iter (T thr)**: the same iteration with the chunks shared out among
  ``gh.default_n_threads()`` threads (``OMP_NUM_THREADS``, else the CPUs available);
  ``same bits`` checks, every iteration, that its log-likelihood and covariances equal the
  one-thread ones exactly. These are timed in an alternation of their own (1 thread,
  T threads, the bound on 1 and on T threads), after the scikit-learn alternation and
  without it: OpenBLAS's worker threads keep spinning on the cores for a while after
  each of scikit-learn's calls, and would share a core with whichever threaded
  contender came next. ``T thr / 1 thr`` is the speed-up of the threads (the same code
  when N fits in one chunk, e.g. N = 1e4), ``speed-up (T thr)`` the ratio of the two
  contenders' medians, and
  ``bound T thr / 1 thr`` the same for the bound's own work shared out among T threads
  (``physical_bound_threads``): the ceiling this machine puts on any thread speed-up
  (two vCPUs of a shared VM give well under 2).
* **sklearn / iter**: ``GaussianMixture._e_step(X)`` followed by
  ``GaussianMixture._m_step(X, log_resp)`` on an estimator initialised from the same
  parameters (``weights_init``/``means_init``/``precisions_init``, ``max_iter=1``),
  which is exactly the body of scikit-learn's EM loop.

The contenders alternate (ours, ours float32, scikit-learn, bound), one iteration each,
in one process; each follows its own EM trajectory from the same start (they agree to
~1e-14, printed as ``max rel dll``). Times are medians; ``speed-up`` and ``ours/bound``
are medians of the per-round ratios (robust to bursts of load from other processes).
``fit_em / iter`` and ``sk fit / iter`` are whole fits (validation, final
responsibilities, ...) of ``--fit-iter`` iterations divided by that number (median of 3).

* **f32**: the same iteration with ``dtype=np.float32`` working buffers (optional mode;
  sums still accumulated in float64); ``f32 rel dll`` is its largest relative
  log-likelihood difference from the float64 trajectory.
* **peak MB**: ``tracemalloc`` peak of a whole fit (``--fit-iter`` iterations, X
  allocated before). ``gh.fit_em`` computes the (N, K) responsibilities only when
  ``result.responsibilities`` is first read, so they are not in its peak;
  ``em loop`` is the EM iterations alone (``em_iterations``, one thread): the chunk
  buffers (~1.5 MiB per thread) or, if larger, the N*D-byte temporary of the input
  check ``np.isfinite(X).all()`` (2 MB at N = 1e6); nothing else grows with N.
* **bound**: a physical lower bound measured on this machine at the same N and K:
  ``np.exp`` on N*K values (in-cache buffers, exponents in [-20, 0]), ``np.log`` on N
  values, and one read of X (``X.sum()``); run once in every round of the alternation
  (so it sees the same machine load), median like the contenders.

**End to end** (``--e2e-sizes``, default N in {500 (K=4), 1e4, 1e5, 1e6} with K=5; D=2,
the same data generator): what a user runs, from the raw data, ``random_state=0``:

* **fit_em**: the default ``gh.fit_em(X, K)`` (k-means++ start, tol=1e-6, max_iter=500,
  the default thread count), and the same with ``n_threads=1`` (the script asserts that
  both give the same log-likelihoods, bit for bit);
* **start**: ``gh.init_params(X, K, "kmeans++")`` alone, and **EM after**: ``gh.fit_em``
  from that start (``initial_params``), so start + EM after ~ fit_em;
* **sk same tol**: ``GaussianMixture(K, init_params="kmeans", tol=1e-6, max_iter=500,
  reg_covar=1e-6)`` — scikit-learn's k-means start (``KMeans(n_init=1)``) and the same
  stopping rule (|change of the mean log-likelihood| < tol) and cap;
* **sk defaults**: ``GaussianMixture(K)`` with scikit-learn's looser defaults (tol=1e-3,
  max_iter=100).

The contenders alternate, one fit each per round, in one process, with a 50 ms pause
before each (so that BLAS/OpenMP threads still spinning after the previous call do not
slow the next); times are the best of the rounds and the ratios are ratios of those bests.
``ll/N`` is each fit's final mean log-likelihood (same optimum or not), ``iters`` its EM
iterations. **peak MiB** is the
``tracemalloc`` peak of one default ``fit_em`` (and of the start alone), X allocated
before, so it is what the fit needs *beyond* X; ``/X`` divides it by the size of X.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np

import gmm_helpers as gh
from gmm_helpers import suffstats as ss

TARGETS = (
    "targets: N=1e6 K=5 >= 15x, N=1e5 >= 10x, N=1e4 >= 1x; peak <= 1/4 sklearn; "
    "threads >= 1.6x over 1 thread at N=1e6; ours/bound <= 2.5 at N >= 1e5, <= 4 at N=1e4"
)
E2E_TARGETS = (
    "targets: fit_em >= 10x sk same tol at N=1e6, >= 5x at 1e5, faster than sk defaults; "
    "start <= EM after; N=500 K=4 <= 1.5 ms; peak of fit_em beyond X <= 1.5 X at N=1e6"
)


# --------------------------------------------------------------------------- #
# Machine                                                                      #
# --------------------------------------------------------------------------- #
def describe_machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import sklearn

    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, scikit-learn {sklearn.__version__}",
        "- OPENBLAS_CORETYPE={}, OPENBLAS_L2_SIZE={}".format(
            os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
        ),
    ]
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
            f"({i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        lines.append("- BLAS: " + "; ".join(blas))
    except ImportError:
        pass
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# NumPy's exp: where the fast path ends                                        #
# --------------------------------------------------------------------------- #
def exp_threshold_table(n=1 << 16, number=100):
    """ns per element of np.exp on arrays filled with one exponent value."""
    out = np.empty(n)
    rows = []
    for v in (0.0, -100.0, -700.0, -707.0, -707.7, -707.71, -708.0, -708.39, -708.4,
              -709.0, -720.0, -745.0, -746.0):
        a = np.full(n, v)
        best = min(_time_calls(lambda a=a: np.exp(a, out=out), number) for _ in range(5))
        rows.append((v, best / n * 1e9))
    return rows


def _time_calls(fn, number):
    t = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t) / number


# --------------------------------------------------------------------------- #
# Data and starts                                                              #
# --------------------------------------------------------------------------- #
def make_problem(n, k, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, (k, 2))
    X = rng.standard_normal((n, 2)) * rng.uniform(0.5, 2.0, (k, 2))[rng.integers(0, k, n)]
    X += centres[rng.integers(0, k, n)]
    means = X[rng.choice(n, k, replace=False)]
    cov = np.cov(X.T)
    start = gh.GMMParams(np.full(k, 1.0 / k), means, np.repeat(cov[None], k, 0))
    return X, start


def sklearn_from(start, **kw):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        start.n_components,
        covariance_type="full",
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=np.linalg.inv(start.covariances),
        tol=0.0,
        reg_covar=1e-6,
        **kw,
    )


def sklearn_initialised(X, start):
    """A GaussianMixture whose parameters are ``start`` (fit with max_iter=1, then reset)."""
    gm = sklearn_from(start, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    gm._initialize_parameters(X, np.random.RandomState(0))  # back to the *_init values
    return gm


# --------------------------------------------------------------------------- #
# One (N, K) cell                                                              #
# --------------------------------------------------------------------------- #
def bench_cell(n, k, n_iter, fit_iter):
    X, start = make_problem(n, k)
    # --- per-iteration timing, alternating ---------------------------------
    chunk = ss._default_chunk_size(k, 2)
    threads = gh.default_n_threads()
    ws = ss._Workspace(X, k, X.mean(axis=0), chunk)  # one thread
    wst = ss._Workspace(X, k, X.mean(axis=0), chunk, n_threads=threads)
    ws32 = ss._Workspace(X, k, X.mean(axis=0), chunk, np.float32)
    gm = sklearn_initialised(X, start)
    bound_run = physical_bound(X, k)
    bound_thr_run = physical_bound_threads(X, k, threads)
    params = params32 = start
    ours_t, thr_t, f32_t, sk_t, ours_ll, f32_ll, sk_ll, bound_t = ([] for _ in range(8))
    bound_thr_t = []
    same_bits = True
    for _ in range(n_iter):
        _timed(bound_run, bound_t)
        stats, params = _em_step(ws, params, ours_t)
        ours_ll.append(stats.log_likelihood / n)
        stats32, params32 = _em_step(ws32, params32, f32_t)
        f32_ll.append(stats32.log_likelihood / n)

        t = time.perf_counter()
        log_prob_norm, log_resp = gm._e_step(X)
        gm._m_step(X, log_resp)
        sk_t.append(time.perf_counter() - t)
        sk_ll.append(log_prob_norm)
        del log_resp
    # --- threads: their own alternation, without scikit-learn ---------------------
    # (after a call, OpenBLAS's worker threads keep spinning on the cores for a while, so a
    # threaded contender timed right after scikit-learn's step would share a core with them)
    time.sleep(0.5)
    params1 = paramst = start
    one_t, bound1_t = [], []
    for _ in range(n_iter):
        _timed(bound_run, bound1_t)
        _timed(bound_thr_run, bound_thr_t)
        stats1, params1 = _em_step(ws, params1, one_t)
        statst, paramst = _em_step(wst, paramst, thr_t)
        same_bits &= statst.log_likelihood == stats1.log_likelihood and np.array_equal(
            paramst.covariances, params1.covariances)
    dll = float(np.max(np.abs(np.array(ours_ll) / np.array(sk_ll) - 1)))
    dll32 = float(np.max(np.abs(np.array(f32_ll) / np.array(ours_ll) - 1)))

    # --- whole fits: time and peak memory ------------------------------------
    def fit_ours():
        return gh.fit_em(X, k, initial_params=start, max_iter=fit_iter, tol=0.0)

    def fit_loop():
        return ss.em_iterations(X, start, max_iter=fit_iter, tol=0.0, n_threads=1)

    def fit_sk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sklearn_from(start, max_iter=fit_iter).fit(X)

    fit_times, peaks = {}, {}
    for name, fn in (("ours", fit_ours), ("sk", fit_sk), ("loop", fit_loop)):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        fit_times[name] = statistics.median(times) / fit_iter
        tracemalloc.start()
        fn()
        peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    bound = statistics.median(bound_t)  # same statistic as the contenders
    ours, sk, f32 = statistics.median(ours_t), statistics.median(sk_t), statistics.median(f32_t)
    thr = statistics.median(thr_t)

    def paired(a, b):
        # median of per-round ratios: each round's timings are taken back to back,
        # so a burst of load from other processes hits both sides of a ratio
        return statistics.median(x / y for x, y in zip(a, b))

    return dict(
        n=n, k=k, ours=ours, thr=thr, threads=threads, thr_speedup=paired(one_t, thr_t),
        sk_vs_thr=sk / thr, thr_vs_bound=paired(thr_t, bound1_t), same_bits=same_bits,
        bound_thr_speedup=paired(bound1_t, bound_thr_t),
        sk=sk, speedup=paired(sk_t, ours_t), f32=f32,
        f32_speedup=paired(sk_t, f32_t), dll32=dll32, fit_ours=fit_times["ours"],
        fit_sk=fit_times["sk"], bound=bound, vs_bound=paired(ours_t, bound_t),
        peak_ours=peaks["ours"], peak_loop=peaks["loop"], peak_sk=peaks["sk"],
        mem_ratio=peaks["sk"] / peaks["ours"], dll=dll,
    )


def _timed(run, times):
    t = time.perf_counter()
    run()
    times.append(time.perf_counter() - t)


def _em_step(ws, params, times):
    """One timed iteration of the engine: the fused pass, then the M-step."""
    t = time.perf_counter()
    stats = ws.statistics(params)
    params = ss.params_from_statistics(stats, "full", 1e-6)
    times.append(time.perf_counter() - t)
    return stats, params


def physical_bound(X, k, chunk=8192):
    """A function doing N*K exp + N log (in-cache buffers) + one read of X."""
    n = X.shape[0]
    rng = np.random.default_rng(1)
    c = min(chunk, n)
    e_in, e_out = rng.uniform(-20, 0, (k, c)), np.empty((k, c))
    l_in, l_out = rng.uniform(1, k, c), np.empty(c)
    full, rest = divmod(n, c)
    e_rest_in, e_rest_out = e_in[:, :rest].copy(), np.empty((k, rest))

    def run():
        for _ in range(full):
            np.exp(e_in, out=e_out)
            np.log(l_in, out=l_out)
        if rest:
            np.exp(e_rest_in, out=e_rest_out)
            np.log(l_in[:rest], out=l_out[:rest])
        X.sum()

    return run


def physical_bound_threads(X, k, n_threads, chunk=8192):
    """The same work as :func:`physical_bound`, its chunks shared out among ``n_threads``
    threads exactly as the engine shares out its own (``gmm_helpers._threads.map_chunks``):
    what this machine gives to perfectly parallel exp/log work, the ceiling of the
    engine's thread speed-up."""
    from gmm_helpers._threads import map_chunks

    n = X.shape[0]
    rng = np.random.default_rng(1)
    c = min(chunk, n)
    e_in, l_in = rng.uniform(-20, 0, (k, c)), rng.uniform(1, k, c)
    outs = [(np.empty((k, c)), np.empty(c)) for _ in range(n_threads)]
    bounds = [(a, min(a + c, n)) for a in range(0, n, c)]

    def work(i, slot):
        m = bounds[i][1] - bounds[i][0]
        e_out, l_out = outs[slot]
        np.exp(e_in[:, :m], out=e_out[:, :m])
        np.log(l_in[:m], out=l_out[:m])

    def run():
        map_chunks(work, len(bounds), n_threads)
        X.sum()

    return run


# --------------------------------------------------------------------------- #
# End to end: the default call, start included                                 #
# --------------------------------------------------------------------------- #
def bench_end_to_end(n, k, rounds, seed=0):
    from sklearn.mixture import GaussianMixture

    X, _ = make_problem(n, k)
    start = gh.init_params(X, k, "kmeans++", random_state=seed)
    fits = {}

    def run(name, fn):
        def timed():
            fits[name] = fn()
        return name, timed

    contenders = [
        run("ours", lambda: gh.fit_em(X, k, random_state=seed)),
        run("ours1", lambda: gh.fit_em(X, k, random_state=seed, n_threads=1)),
        run("start", lambda: gh.init_params(X, k, "kmeans++", random_state=seed)),
        run("em_after", lambda: gh.fit_em(X, k, initial_params=start)),
        run("sk_same", lambda: GaussianMixture(
            k, init_params="kmeans", tol=1e-6, max_iter=500, reg_covar=1e-6,
            random_state=seed).fit(X)),
        run("sk_default", lambda: GaussianMixture(k, random_state=seed).fit(X)),
    ]
    times = {name: [] for name, _ in contenders}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at its defaults
        for _ in range(rounds):
            for name, fn in contenders:
                # let BLAS/OpenMP worker threads of the previous call stop spinning:
                # otherwise they steal the second core from whoever runs next
                time.sleep(0.05)
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    best = {name: min(v) for name, v in times.items()}
    peaks = {}
    for name, fn in contenders:
        if name not in ("ours", "start"):
            continue
        tracemalloc.start()
        fn()
        peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    ours, sk_same, sk_def = fits["ours"], fits["sk_same"], fits["sk_default"]
    assert np.array_equal(ours.log_likelihoods, fits["ours1"].log_likelihoods)  # same bits
    return dict(
        n=n, k=k, rounds=rounds, **best,
        vs_same=best["sk_same"] / best["ours"], vs_default=best["sk_default"] / best["ours"],
        vs_same1=best["sk_same"] / best["ours1"], vs_default1=best["sk_default"] / best["ours1"],
        start_vs_em=best["start"] / best["em_after"],
        ll=ours.log_likelihoods[-1] / n, ll_same=sk_same.lower_bound_, ll_def=sk_def.lower_bound_,
        it=ours.n_iter, it_same=sk_same.n_iter_, it_def=sk_def.n_iter_,
        peak=peaks["ours"], peak_start=peaks["start"], x_mib=X.nbytes / 2**20,
    )


def _e2e_rounds(n):
    return 30 if n <= 1_000 else 10 if n <= 10_000 else 3


def run_end_to_end(sizes, rounds=None):
    print("### End to end: default gh.fit_em(X, K) vs scikit-learn GaussianMixture\n")
    print(f"- D=2, float64, covariance_type='full', random_state=0; {E2E_TARGETS}\n")
    threads = gh.default_n_threads()
    print(f"- fit_em with its default {threads} thread(s) and with n_threads=1 (same bits, "
          "checked); speed-ups are sk time / fit_em time\n")
    print(f"| N | K | rounds | fit_em ms ({threads} thr) | fit_em ms (1 thr) | sk same tol ms | "
          f"speed-up ({threads} thr) | speed-up (1 thr) | sk defaults ms | "
          f"speed-up ({threads} thr) | "
          "speed-up (1 thr) | start ms | EM after ms | start/EM | iters ours/sk/sk-def | "
          "ll/N ours | ll/N sk | ll/N sk-def | peak MiB fit_em | /X | peak MiB start |")
    print("|" + " ---: |" * 21)
    rows = []
    for n in sizes:
        k = 4 if n <= 1_000 else 5
        r = bench_end_to_end(n, k, rounds or _e2e_rounds(n))
        rows.append(r)
        print(
            f"| {n:.0e} | {k} | {r['rounds']} | {r['ours'] * 1e3:.1f} | {r['ours1'] * 1e3:.1f} | "
            f"{r['sk_same'] * 1e3:.1f} | {r['vs_same']:.1f}x | {r['vs_same1']:.1f}x | "
            f"{r['sk_default'] * 1e3:.1f} | {r['vs_default']:.1f}x | {r['vs_default1']:.1f}x | "
            f"{r['start'] * 1e3:.1f} | {r['em_after'] * 1e3:.1f} | "
            f"{r['start_vs_em']:.2f} | {r['it']}/{r['it_same']}/{r['it_def']} | "
            f"{r['ll']:.6f} | {r['ll_same']:.6f} | {r['ll_def']:.6f} | {r['peak']:.1f} | "
            f"{r['peak'] / r['x_mib']:.2f} | {r['peak_start']:.1f} |",
            flush=True,
        )
    print()
    return rows


# --------------------------------------------------------------------------- #
# Main                                                                         #
# --------------------------------------------------------------------------- #
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="N in {1e4, 1e5}, K in {3, 5}, fewer iterations (~10 s)")
    parser.add_argument("--iters", type=int, default=None,
                        help="timed EM iterations per cell (default 15, quick 5)")
    parser.add_argument("--fit-iter", type=int, default=5,
                        help="iterations of the whole fits used for memory (default 5)")
    parser.add_argument("--sizes", type=float, nargs="+", default=None,
                        help="override the N values, e.g. --sizes 1e6")
    parser.add_argument("--ks", type=int, nargs="+", default=None,
                        help="override the K values, e.g. --ks 5")
    parser.add_argument("--e2e-sizes", type=float, nargs="*", default=None,
                        help="N values of the end-to-end section (default 500 1e4 1e5 1e6, "
                             "quick 500 1e4 1e5; none to skip it)")
    parser.add_argument("--e2e-rounds", type=int, default=None,
                        help="rounds per end-to-end cell (default 30/10/3 by N)")
    parser.add_argument("--no-iter", action="store_true",
                        help="skip the per-iteration section")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads (threadpoolctl) for both contenders")
    args = parser.parse_args(argv)
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.blas_threads):
            return _run(args)
    return _run(args)


def _run(args):
    if args.quick:
        ns, ks, n_iter = (10**4, 10**5), (3, 5), args.iters or 5
        e2e = (500, 10**4, 10**5)
    else:
        ns, ks, n_iter = (10**4, 10**5, 10**6), (3, 5, 10), args.iters or 15
        e2e = (500, 10**4, 10**5, 10**6)
    ns = [int(v) for v in args.sizes] if args.sizes else ns
    ks = args.ks or ks
    e2e = [int(v) for v in args.e2e_sizes] if args.e2e_sizes is not None else e2e

    print("## EM benchmark: gh.fit_em vs scikit-learn, end to end and per iteration\n")
    print(describe_machine())
    if hasattr(os, "getloadavg"):
        print("- load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
              + (f"; BLAS threads limited to {args.blas_threads}" if args.blas_threads else ""))
    print()
    rows = run_end_to_end(e2e, args.e2e_rounds) if e2e else []
    if not args.no_iter:
        rows += run_per_iteration(ns, ks, n_iter, args.fit_iter)
    if hasattr(os, "getloadavg"):
        print("- load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return rows


def run_per_iteration(ns, ks, n_iter, fit_iter):
    print("### Per iteration: the suffstats engine vs scikit-learn's E+M step\n")
    print(f"- D=2, float64, covariance_type='full', {n_iter} alternating iterations per cell "
          f"(medians), whole fits of {fit_iter} iterations for time and memory")
    print(f"- {TARGETS}\n")

    print("NumPy exp: ns per element by exponent (why the engine floors at -707)\n")
    print("| exponent | ns/elem |\n| ---: | ---: |")
    for v, ns_el in exp_threshold_table():
        print(f"| {v:g} | {ns_el:.2f} |")
    print()

    t = gh.default_n_threads()
    header = (
        f"| N | K | ours ms/iter (1 thr) | ours ms/iter ({t} thr) | {t} thr / 1 thr | "
        f"sklearn ms/iter | speed-up (1 thr) | speed-up ({t} thr) | bound ms | "
        f"ours/bound (1 thr) | ours/bound ({t} thr) | bound {t} thr / 1 thr | same bits | "
        "fit_em ms/iter | "
        "sk fit ms/iter | peak MB fit_em | peak MB em loop | peak MB sklearn | "
        "sklearn/fit_em mem | max rel dll | f32 ms/iter | f32 speed-up | f32 rel dll |"
    )
    print(header)
    print("|" + " ---: |" * 23)
    rows = []
    for n in ns:
        for k in ks:
            r = bench_cell(n, k, n_iter, fit_iter)
            rows.append(r)
            print(
                f"| {n:.0e} | {k} | {r['ours'] * 1e3:.2f} | {r['thr'] * 1e3:.2f} | "
                f"{r['thr_speedup']:.2f}x | {r['sk'] * 1e3:.2f} | {r['speedup']:.1f}x | "
                f"{r['sk_vs_thr']:.1f}x | {r['bound'] * 1e3:.2f} | {r['vs_bound']:.2f} | "
                f"{r['thr_vs_bound']:.2f} | {r['bound_thr_speedup']:.2f}x | "
                f"{'yes' if r['same_bits'] else 'NO'} | "
                f"{r['fit_ours'] * 1e3:.2f} | {r['fit_sk'] * 1e3:.2f} | {r['peak_ours']:.1f} | "
                f"{r['peak_loop']:.2f} | {r['peak_sk']:.1f} | {r['mem_ratio']:.1f}x | "
                f"{r['dll']:.1e} | {r['f32'] * 1e3:.2f} | {r['f32_speedup']:.1f}x | "
                f"{r['dll32']:.1e} |",
                flush=True,
            )
    print()
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
