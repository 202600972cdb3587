r"""Lloyd's k-means with k-means++ seeding (used to initialise EM), chunked.

Both work chunk by chunk over the data, so memory does not grow as (N, K):
the only arrays of length N are the k-means++ distances $D(x)^2$ (while
seeding) and the labels that :func:`kmeans` returns.

The assignment step uses the matrix-product form of the squared distance,

$$\lVert \tilde x - \tilde c_k\rVert^2 = \lVert \tilde x\rVert^2
  + \underbrace{\lVert \tilde c_k\rVert^2 - 2\,\tilde c_k^\top \tilde x}_{s_k(x)},$$

where $\tilde x = x - a$ and $\tilde c = c - a$ are taken about the midrange
$a$ of the data (per column $(\min + \max)/2$: computed without rounding error,
and it keeps $\lVert\tilde x\rVert$, $\lVert\tilde c\rVert \le R$, the half
diagonal of the data's bounding box). The scores $s_k$ of a chunk are one small
matrix product (K, D) @ (D, chunk) and the label is $\arg\min_k s_k$.

**Same labels on every machine.** The matrix product is computed by BLAS, whose
rounding depends on the CPU kernel, so two near-equal scores can come out in a
different order on another machine. Every score is within
$(D + 2)\,\varepsilon R^2$ of its exact value, so a point whose best and
second-best scores differ by more than $\tau = 16 (D + 1)\,\varepsilon R^2$
has the same label everywhere; the rare points closer to a tie than that are
re-assigned from exact differences $\sum_j (\tilde x_j - \tilde c_{kj})^2$,
summed in a fixed order (elementwise IEEE arithmetic, identical on every CPU;
an exact tie goes to the lowest index). The cluster sums are accumulated with
``np.bincount`` (a sequential loop) chunk by chunk in a fixed order, so the
centres, the stopping decision and the start that EM receives are
bit-identical across BLAS kernels and NumPy SIMD levels
(``tests/test_init_kmeans.py`` checks the rule with perturbed scores).

**Stopping rule.** Lloyd's algorithm stops when the centres move by
$\sum_k \lVert c_k^{(t+1)} - c_k^{(t)}\rVert^2 \le \mathrm{tol}\cdot
\bar\sigma^2$, with $\bar\sigma^2$ the mean per-feature variance of the data
(scikit-learn's ``KMeans`` rule), or after ``max_iter`` updates. ``tol = 0``
runs until the assignment stops changing. The default ``tol = 1e-6`` is 100x
stricter than scikit-learn's 1e-4: on the benchmark data (5 blobs, seeds 0-5,
N = 1e4..1e6) 1e-4 sometimes stopped while a centre was still migrating
slowly between blobs (inertia 37 % above the converged one, and a worse EM
optimum), 1e-5 stayed within 3e-5 and 1e-6 within 1e-5 of the inertia of
running to ``tol = 0``, at 20-60 % of its iterations.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import (
    check_array,
    check_data_scale,
    check_n_components,
    check_nonnegative_float,
    check_positive_int,
    check_random_state,
    column_extremes,
)
from .suffstats import _triu

#: Rows of the subsample that EM's k-means starts seed and warm up on (kmeans_start).
START_SAMPLE = 1 << 15
#: Default k-means tolerance, relative to the mean per-feature variance of the data.
KMEANS_TOL = 1e-6
#: Working-set target of one assignment chunk: (D + 2K) doubles per point (the
#: shifted points, the (K, chunk) scores and the tie mask). 768 KiB = 8192 points
#: for K = 5, D = 2; measured there on an EPYC (1 MiB L2): 2730 points 1.5x slower,
#: 8192-32768 within 15 % (Python overhead per chunk dominates below).
_CHUNK_BYTES = 3 << 18
#: Safety factor of the near-tie threshold tau = _TIE_FACTOR * (D + 1) * eps * R^2.
_TIE_FACTOR = 16


class KMeansResult(NamedTuple):
    """Output of :func:`kmeans`."""

    centers: np.ndarray  #: (n_clusters, n_features)
    labels: np.ndarray  #: (n_samples,) int
    inertia: float  #: sum of squared distances to the assigned centre
    n_iter: int  #: Lloyd iterations run (centre updates)


class HardStatistics(NamedTuple):
    r"""Sums over the points assigned to each centre (about the shift $a$).

    ``counts`` (K,) $n_k$; ``sums`` (K, D) $\sum_{z_n = k} \tilde x_n$;
    ``moments`` (K, D, D) $\sum_{z_n = k} \tilde x_n \tilde x_n^\top$ or None;
    ``inertia`` $\sum_n \min_k \lVert \tilde x_n - \tilde c_k\rVert^2$.
    """

    counts: np.ndarray
    sums: np.ndarray
    moments: np.ndarray | None
    inertia: float


def _midrange(X):
    """Per-column (min + max) / 2 and R^2 = sum_j ((max - min) / 2)^2, without rounding
    that could depend on the machine (min and max are exact; halving is exact)."""
    lo, hi = column_extremes(X)  # exact either way; column by column is ~40x faster
    half = 0.5 * hi - 0.5 * lo
    return 0.5 * lo + 0.5 * hi, float(np.sum(half * half))


def _chunk_size(k, d):
    return int(min(max(_CHUNK_BYTES // (8 * (d + 2 * k)), 256), 1 << 16))


def _exact_squared_distances(xt, centers):
    """(K, m) squared distances from differences, summed over features in a fixed order.

    ``xt`` (D, m) shifted points (feature-major), ``centers`` (K, D) shifted centres.
    Elementwise IEEE arithmetic only, so the result is the same on every CPU.
    """
    d2 = np.zeros((centers.shape[0], xt.shape[1]))
    for j in range(xt.shape[0]):
        diff = xt[j][None, :] - centers[:, j][:, None]
        d2 += diff * diff
    return d2


def _scores(minus_two_c, xt, out):
    """Matrix-product part of the distances: ``out = -2 C @ xt`` (K, m). BLAS."""
    return np.matmul(minus_two_c, xt, out=out)


class _Assigner:
    """Chunk buffers for the assignment step, allocated once per k-means run."""

    def __init__(self, X, k, shift, r2, chunk_size=None):
        n, d = X.shape
        self.X, self.n, self.d, self.k, self.shift = X, n, d, k, shift
        c = min(chunk_size or _chunk_size(k, d), n)
        self.chunk = c
        self.tau = _TIE_FACTOR * (d + 1) * np.finfo(np.float64).eps * r2
        self._xt = np.empty((d, c))
        self._a = np.empty((k, c))
        self._best = np.empty(c)
        self._tie = np.empty(c)
        self._mask = np.empty((k, c), dtype=bool)
        self._tmp = np.empty((k, c), dtype=np.int32)
        self._count = np.empty(c, dtype=np.int32)
        self._label = np.empty(c, dtype=np.int32)
        self._index = np.arange(k, dtype=np.int32)[:, None]
        self.n_near_ties = 0  # points re-assigned from exact distances (for the tests)

    def shifted_chunk(self, start, stop):
        xt = self._xt[:, : stop - start]
        np.subtract(self.X[start:stop].T, self.shift[:, None], out=xt)
        return xt

    def labels_chunk(self, xt, centers, minus_two_c, cc):
        """Labels (int32) and min scores s(x) = min_k ||c_k||^2 - 2 c_k.x of one chunk."""
        m = xt.shape[1]
        a, best = self._a[:, :m], self._best[:m]
        mask, tmp = self._mask[:, :m], self._tmp[:, :m]
        count, label = self._count[:m], self._label[:m]
        _scores(minus_two_c, xt, a)
        a += cc
        np.minimum.reduce(a, axis=0, out=best)
        # mask[k] = s_k <= best + tau: exactly one True where the minimum is clear
        tie = self._tie[:m]
        np.add(best, self.tau, out=tie)
        np.less_equal(a, tie, out=mask)
        np.add.reduce(mask, axis=0, dtype=np.int32, out=count)
        np.multiply(mask, self._index, out=tmp)
        np.add.reduce(tmp, axis=0, out=label)  # the one True's index where count == 1
        near = np.flatnonzero(count != 1)
        if near.size:
            self.n_near_ties += int(near.size)
            d2 = _exact_squared_distances(xt[:, near], centers)
            label[near] = np.argmin(d2, axis=0)  # first index on an exact tie
            best[near] = d2[label[near], np.arange(near.size)] - self._sq(xt[:, near])
        return label, best

    @staticmethod
    def _sq(xt):
        sq = xt[0] * xt[0]
        for j in range(1, xt.shape[0]):
            sq += xt[j] * xt[j]
        return sq

    def assign(self, centers, *, moments=False, labels_out=None):
        """One pass: assign every point to its nearest centre, sum per cluster.

        ``centers`` (K, D) are shifted. Returns :class:`HardStatistics`; fills
        ``labels_out`` (N,) if given.
        """
        k, d = self.k, self.d
        cc = self._sq(centers.T)[:, None]  # ||c_k||^2, summed in a fixed order
        minus_two_c = -2.0 * centers
        counts = np.zeros(k)
        sums = np.zeros((k, d))
        iu, ju, _ = _triu(d)
        upper = np.zeros((k, iu.size)) if moments else None
        min_score = 0.0
        total_sq = 0.0
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            xt = self.shifted_chunk(start, stop)
            label, best = self.labels_chunk(xt, centers, minus_two_c, cc)
            if labels_out is not None:
                labels_out[start:stop] = label
            counts += np.bincount(label, minlength=k)
            for j in range(d):
                sums[:, j] += np.bincount(label, weights=xt[j], minlength=k)
            if moments:
                for p, (i, j) in enumerate(zip(iu, ju)):
                    upper[:, p] += np.bincount(label, weights=xt[i] * xt[j], minlength=k)
            min_score += float(np.add.reduce(best))
            total_sq += float(np.add.reduce(self._sq(xt)))
        sxx = None
        if moments:
            sxx = np.empty((k, d, d))
            sxx[:, iu, ju] = upper
            sxx[:, ju, iu] = upper
        # inertia = sum ||x~||^2 + sum min_k s_k (not clipped: tiny negative values
        # of a rounding size are possible only for an inertia of rounding size)
        return HardStatistics(counts, sums, sxx, max(total_sq + min_score, 0.0))

    def farthest(self, centers, n_points):
        """Indices of the ``n_points`` points farthest from their nearest centre (exact
        distances; decreasing distance, ties by lowest index)."""
        cand_d, cand_i = [], []
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            d2 = _exact_squared_distances(self.shifted_chunk(start, stop), centers).min(axis=0)
            top = np.argsort(-d2, kind="stable")[:n_points]
            cand_d.append(d2[top])
            cand_i.append(top + start)
        d2, idx = np.concatenate(cand_d), np.concatenate(cand_i)
        order = np.lexsort((idx, -d2))[:n_points]
        return idx[order]


def _n_distinct_rows(X):
    return np.unique(X, axis=0).shape[0]


def kmeans_plusplus(X, n_clusters, rng):
    r"""k-means++ seeding (Arthur & Vassilvitskii, 2007).

    The first centre is a uniformly random data point; each next one is a data
    point drawn with probability proportional to $D(x)^2$, its squared distance to
    the nearest centre chosen so far. Points already chosen have $D(x) = 0$, so
    no two centres coincide. $D(x)^2$ is computed from exact differences and
    drawn by inverting its running sum (``np.cumsum``, sequential), so the same
    ``rng`` picks the same points on every machine.

    Returns
    -------
    ndarray of shape (n_clusters, n_features)
    """
    n, d = X.shape
    centers = np.empty((n_clusters, d))
    centers[0] = X[rng.integers(n)]
    chunk = _chunk_size(n_clusters, d)
    d2 = np.empty(n)
    totals = np.empty(-(-n // chunk))
    for j in range(1, n_clusters + 1):
        c = centers[j - 1 : j]
        for b, start in enumerate(range(0, n, chunk)):
            stop = min(start + chunk, n)
            new = _exact_squared_distances(X[start:stop].T, c)[0]
            part = d2[start:stop]
            if j == 1:
                part[:] = new
            else:
                np.minimum(part, new, out=part)
            totals[b] = np.cumsum(part)[-1]
        if j == n_clusters:
            break
        cum_totals = np.cumsum(totals)
        total = cum_totals[-1]
        if total <= 0:
            raise ValueError(
                f"expected at least n_clusters={n_clusters} distinct points, "
                f"got {_n_distinct_rows(X)}"
            )
        u = min(rng.random() * total, np.nextafter(total, 0.0))
        b = int(np.searchsorted(cum_totals, u, side="right"))
        start = b * chunk
        part = d2[start : min(start + chunk, n)]
        offset = u - (cum_totals[b - 1] if b else 0.0)
        i = int(np.searchsorted(np.cumsum(part), offset, side="right"))
        i = min(i, part.size - 1)
        while part[i] == 0.0:  # rounding at the end of the running sum: last positive point
            i -= 1
        centers[j] = X[start + i]
    return centers


def random_distinct_rows(X, n, rng):
    """``n`` distinct rows of ``X`` chosen uniformly at random, shape (n, D)."""
    uniq = np.unique(X, axis=0)
    if uniq.shape[0] < n:
        raise ValueError(f"expected at least {n} distinct points, got {uniq.shape[0]}")
    if uniq.shape[0] == X.shape[0]:
        return X[rng.choice(X.shape[0], size=n, replace=False)]
    return uniq[rng.choice(uniq.shape[0], size=n, replace=False)]


def _lloyd(X, centers, max_iter, tol=KMEANS_TOL, *, moments=False, labels=False,
           chunk_size=None):
    """Lloyd's iterations from ``centers`` (K, D), chunked; no validation.

    Returns ``(centers, stats, n_iter, labels, shift)``: the final centres (data
    coordinates), the :class:`HardStatistics` of the assignment to them (with
    second moments if ``moments``) about ``shift`` (the data midrange), the
    number of centre updates, and the (N,) labels if ``labels`` (else None).
    """
    n, d = X.shape
    k = centers.shape[0]
    shift, r2 = _midrange(X)
    asg = _Assigner(X, k, shift, r2, chunk_size)
    c = centers - shift
    stats = asg.assign(c, moments=True)  # the moments give the data variance once
    total = stats.counts.sum()
    mean = stats.sums.sum(axis=0) / total
    var = np.trace(stats.moments.sum(axis=0)) / total - float(mean @ mean)
    threshold = tol * max(var, 0.0) / d
    out = np.empty(n, dtype=np.intp) if labels else None
    n_iter = 0
    last = max_iter == 0
    while not last:
        new = c.copy()
        filled = stats.counts > 0
        new[filled] = stats.sums[filled] / stats.counts[filled, None]
        empty = np.flatnonzero(~filled)
        if empty.size:  # move each empty centre to a point badly served by its centre
            new[empty] = X[asg.farthest(c, empty.size)] - shift
        n_iter += 1
        moved = float(np.sum((new - c) ** 2))
        c = new
        last = moved <= threshold or n_iter >= max_iter
        stats = asg.assign(c, moments=moments and last, labels_out=out if last else None)
    if max_iter == 0:
        stats = asg.assign(c, moments=moments, labels_out=out)
    return c + shift, stats, n_iter, out, shift


def kmeans_start(X, n_clusters, method, rng, sample_size=None, max_iter=300):
    r"""The k-means part of EM's ``"kmeans"`` / ``"kmeans++"`` start; no validation.

    Seeds on all the data (k-means++, or distinct random rows for ``"kmeans"``),
    then Lloyd's algorithm. For N > ``sample_size`` (default :data:`START_SAMPLE`)
    Lloyd's algorithm first runs on a uniform random subsample of ``sample_size``
    rows (drawn after the seeds), then finishes on all the data from its
    centres: the slow early iterations (a centre migrating between clusters can
    take tens of them) cost a subsample pass each instead of a full one. For
    N <= ``sample_size`` there is no subsample (so ``fit_em_dask``'s start on
    N <= 10k points is exactly this one).

    Measured on the benchmark data (5 blobs; N = 1e5 with seeds 0-9 and N = 1e6
    with seeds 0-3; the same seeds with and without the warm-up): every seed ends
    at the same k-means optimum (inertia within 5e-6 relative) and EM from it at
    the same optimum (final log-likelihood per point within 4e-7, EM's tol being
    1e-6; 1.5e-5 for one seed whose optimum is a poor one either way and where
    EM converges slowly), in 0.3-1.3x the time of the start without warm-up.

    Returns
    -------
    stats : HardStatistics
        Of the assignment to the final centres, with second moments.
    shift : ndarray of shape (n_features,)
        The centre the sums are taken about.
    """
    n = X.shape[0]
    sample_size = START_SAMPLE if sample_size is None else sample_size
    if method == "kmeans++":
        centers = kmeans_plusplus(X, n_clusters, rng)
    else:
        centers = random_distinct_rows(X, n_clusters, rng)
    if n > sample_size:  # warm up on a subsample, drawn after the seeds
        S = X[np.sort(rng.choice(n, size=sample_size, replace=False))]
        centers = _lloyd(S, centers, max_iter)[0]
    _, stats, _, _, shift = _lloyd(X, centers, max_iter, moments=True)
    return stats, shift


def kmeans(X, n_clusters, init="k-means++", max_iter=300, random_state=None, tol=KMEANS_TOL):
    r"""Lloyd's algorithm: minimise $\sum_n \lVert x_n - c_{z_n}\rVert^2$.

    Alternates assigning each point to its nearest centre and moving each
    centre to the mean of its points (k-means is EM's hard-assignment,
    equal-spherical-covariance limit), chunk by chunk, until the centres move by
    less than ``tol`` times the mean per-feature variance of the data (squared
    distance, summed over centres) or after ``max_iter`` updates. An empty
    cluster's centre moves to the point farthest from its nearest centre.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    init : {"k-means++", "kmeans++", "random"}
        k-means++ seeding (either spelling), or ``n_clusters`` distinct data points at random.
    max_iter : int
    random_state : None, int or numpy.random.Generator
    tol : float
        Relative tolerance of the stopping rule (module docstring); 0 runs until the
        assignment stops changing.

    Returns
    -------
    KMeansResult
        ``centers`` (n_clusters, n_features), ``labels`` (n_samples,) of the
        final centres, their ``inertia``, ``n_iter``.
    """
    X = check_data_scale(check_array(X))
    n_clusters = check_n_components(n_clusters, X.shape[0])
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_nonnegative_float(tol, "tol")
    rng = check_random_state(random_state)
    if init in ("k-means++", "kmeans++"):  # fit_em spells it "kmeans++": accept both
        centers = kmeans_plusplus(X, n_clusters, rng)
    elif init == "random":
        centers = random_distinct_rows(X, n_clusters, rng)
    else:
        raise ValueError(f"expected init in ('k-means++', 'kmeans++', 'random'), got {init!r}")
    centers, stats, n_iter, labels, _ = _lloyd(X, centers, max_iter, tol, labels=True)
    return KMeansResult(centers, labels, stats.inertia, n_iter)
