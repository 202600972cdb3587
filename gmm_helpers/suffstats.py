r"""EM as sufficient statistics: a fast, low-memory engine (notebook 09).

The M-step (:func:`gmm_helpers.m_step`) needs only three sums per component,

$$N_k = \sum_n \gamma_{nk}, \qquad M^{(1)}_k = \sum_n \gamma_{nk}\, x_n, \qquad
  M^{(2)}_k = \sum_n \gamma_{nk}\, x_n x_n^\top ,$$

and the E-step's weighted log-densities are *linear* in the quadratic features
$\phi(x) = [1,\ x,\ \mathrm{triu}(x x^\top)]$:

$$\log \pi_k + \log\mathcal{N}(x \mid \mu_k, \Sigma_k)
  = \underbrace{\log\pi_k - \tfrac12\big(D\log 2\pi + \log\det\Sigma_k
      + \mu_k^\top P_k \mu_k\big)}_{w_{k0}}
  + (P_k\mu_k)^\top x - \tfrac12 x^\top P_k x
  = w_k^\top \phi(x), \qquad P_k = \Sigma_k^{-1}.$$

So one EM iteration over a chunk of points is two small matrix products and a
few element-wise passes:

1. ``A = W @ Phi`` — all $K$ weighted log-densities at once, shape (K, chunk);
2. ``m = max_k A``, ``E = exp(max(A - m, -707))``, ``s = sum_k E`` — the
   log-sum-exp, component-major so the max and the sum over $K$ are
   element-wise passes over contiguous rows; ``log p(x) = m + log s``;
3. ``T = E @ (Phi / s).T`` — the responsibilities $E/s$ times the features give
   all the sums $[N_k, M^{(1)}_k, \mathrm{triu}(M^{(2)}_k)]$ in one product, shape (K, F).

The responsibilities of a chunk never leave the cache, buffers are allocated
once and reused (``out=`` everywhere), and the statistics of chunks simply add
up (:class:`SufficientStatistics` supports ``+``), which is what makes EM
distributable. The data are centred once by a fixed ``shift`` (by default the
data mean), so the one-pass covariance $M^{(2)}_k/N_k - \bar x_k \bar x_k^\top$ keeps
its precision on data far from the origin.

The exponent is floored at ``-707``: below about ``-707.7`` NumPy's ``exp``
leaves its vectorised fast path. Measured with NumPy 2.4 on an AMD EPYC
(AVX-512): 0.8 ns/element down to ``-707.7``, 11 ns from ``-707.71`` to
``-708.39``, 35-70 ns from ``-708.4`` (subnormal results) to ``-745``, 6 ns
below (results 0); ``benchmarks/bench_em.py`` prints the table for the
machine it runs on. ``exp(-707)`` is ``1e-307``, so the floor changes a
responsibility of at most ``1e-307`` — far below anything it is summed with.

An optional float32 mode (``dtype=np.float32``) runs the chunk buffers in single
precision (about 1.6x faster; sums still accumulated in float64) and keeps the
log-likelihood within ~1e-6 relative of float64; float64 is the default and the
only mode :func:`gmm_helpers.fit_em` uses.

The clear reference functions :func:`gmm_helpers.e_step` and
:func:`gmm_helpers.m_step` stay the readable version; the tests assert that this
engine reproduces their log-likelihood trajectory to 1e-10 relative.

Precision note: the expanded quadratic form and the one-pass covariance can
lose up to about ``log10(|mu_k - shift|^2 / sigma_k^2)`` digits for a component
far from the shift relative to its width; the reference two-pass functions do
not. Measured on two unit-variance clusters a distance L apart, the
log-likelihood trajectory still agrees with the reference to 6e-14 (L = 100),
4e-12 (L = 1e3) and 5e-10 (L = 1e4) relative.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from ._threads import check_n_threads, map_chunks
from ._validation import (
    as_real_array,
    check_array,
    check_covariance_type,
    check_nonnegative_float,
    check_params,
    check_positive_int,
)
from .gaussian import _LOG_2PI, _log_gaussian_pdf_chol, check_representable
from .mstep import _NK_FLOOR, _m_step_params

__all__ = [
    "EXP_FLOOR",
    "SufficientStatistics",
    "compute_statistics",
    "em_iterations",
    "params_from_statistics",
    "quadratic_features",
    "responsibilities_chunked",
]

#: Lowest exponent passed to ``np.exp``: just above the measured end (~ -707.7)
#: of NumPy's fast vectorised path; ``exp(-707) ~ 1e-307`` is still a normal float.
EXP_FLOOR = -707.0
#: The same for the optional float32 mode: ``exp(-87) ~ 1.6e-38`` is float32's
#: smallest normal range (no slow path was measured for float32).
_EXP_FLOORS = {np.dtype(np.float64): EXP_FLOOR, np.dtype(np.float32): -87.0}


#: Largest magnification of rounding the fast pass accepts. Its expanded quadratic
#: form loses about ``log10(far)`` digits (see :func:`_coefficients`: ~ the squared
#: distance of a component from the shift in its own standard deviations, times the
#: conditioning of its correlations), and its one-pass covariance about
#: ``log10(max_i (M2_k,ii / N_k) / Sigma_k,ii)``. Beyond 1e6 (a component more than
#: ~700 of its own standard deviations from the shift, e.g. one that owns a far
#: outlier, or correlations within ~1e-4 of +-1) the pass is redone exactly,
#: component by component (:meth:`_Workspace.exact_statistics`), so at most ~6 of 16
#: digits are lost: the log-likelihood stays within ~1e-10 of the exact one.
PRECISION_LIMIT = 1e6

#: Working-set target of one chunk (feature rows + log-density rows), in bytes.
_CHUNK_BYTES = 3 << 19  # 1.5 MiB: measured best for K = 3..10 on an EPYC with 1 MiB L2 per core


# --------------------------------------------------------------------------- #
# Sufficient statistics                                                        #
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class SufficientStatistics:
    r"""Per-component sums that are all the M-step needs.

    With responsibilities $\gamma_{nk}$ and centred points $\tilde x_n = x_n - a$
    ($a$ = ``shift``):

    $$N_k = \sum_n \gamma_{nk}, \quad
      M^{(1)}_k = \sum_n \gamma_{nk}\tilde x_n, \quad
      M^{(2)}_k = \sum_n \gamma_{nk}\tilde x_n\tilde x_n^\top, \quad
      \ell = \sum_n \log p(x_n).$$

    Statistics of disjoint chunks of data add up (``a + b``) to those of the
    whole data set, so chunks can be processed anywhere, in any grouping.

    Attributes
    ----------
    n_samples : int
        Number of points summed over.
    Nk : ndarray of shape (n_components,)
        Soft counts $N_k$.
    Sx : ndarray of shape (n_components, n_features)
        First moments $M^{(1)}_k$ about ``shift``.
    Sxx : ndarray of shape (n_components, n_features, n_features)
        Second moments $M^{(2)}_k$ about ``shift`` (symmetric).
    log_likelihood : float
        Total log-likelihood $\ell$ of the parameters the responsibilities came from.
    shift : ndarray of shape (n_features,) or (n_components, n_features)
        The centre $a$ the moments are taken about: one for all components (the
        fast pass), or one per component, $a_k$ (the exact pass, which centres
        every component on its own mean).
    """

    n_samples: int
    Nk: np.ndarray
    Sx: np.ndarray
    Sxx: np.ndarray
    log_likelihood: float
    shift: np.ndarray

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.Nk.shape[0])

    @property
    def n_features(self) -> int:
        """Dimension D of the data."""
        return int(self.Sx.shape[1])

    def _shifts(self):
        """The centre of every component, shape (K, D) (``shift`` broadcast)."""
        return np.broadcast_to(self.shift, self.Sx.shape)

    def with_shift(self, shift) -> SufficientStatistics:
        r"""The same statistics about another centre $b$ (one for all, or one per component).

        With $d = a - b$: $M^{(1)b}_k = M^{(1)a}_k + N_k d$ and
        $M^{(2)b}_k = M^{(2)a}_k + M^{(1)a}_k d^\top + d\, M^{(1)a\top}_k + N_k d d^\top$.
        """
        shift = np.asarray(shift, dtype=np.float64)
        if shift.shape not in (self.Sx.shape[1:], self.Sx.shape):
            raise ValueError(
                f"expected shift of shape {self.Sx.shape[1:]} or {self.Sx.shape}, "
                f"got {shift.shape}"
            )
        d = self._shifts() - shift  # (K, D)
        if not np.any(d):
            return self if shift.shape == self.shift.shape else replace(self, shift=shift)
        Sx_d = self.Sx[:, :, None] * d[:, None, :]
        Sxx = (
            self.Sxx
            + Sx_d
            + np.swapaxes(Sx_d, 1, 2)
            + self.Nk[:, None, None] * (d[:, :, None] * d[:, None, :])
        )
        Sx = self.Sx + self.Nk[:, None] * d
        return SufficientStatistics(self.n_samples, self.Nk, Sx, Sxx, self.log_likelihood, shift)

    def __add__(self, other):
        if not isinstance(other, SufficientStatistics):
            return NotImplemented
        if other.Sx.shape != self.Sx.shape:
            raise ValueError(
                f"expected statistics of the same shape {self.Sx.shape}, got {other.Sx.shape}"
            )
        if self.shift.ndim == 1 and other.shift.ndim == 1:
            centre = self.shift
        else:
            # per-component centres (from the exact pass): pool about the combined
            # component means, as Chan et al.'s parallel variance does
            nk = self.Nk + other.Nk
            sums = self.Sx + self.Nk[:, None] * self._shifts()
            sums = sums + other.Sx + other.Nk[:, None] * other._shifts()
            safe = np.where(nk > 0, nk, 1.0)[:, None]
            centre = np.where(nk[:, None] > 0, sums / safe, self._shifts())
        a, b = self.with_shift(centre), other.with_shift(centre)
        return SufficientStatistics(
            self.n_samples + other.n_samples,
            a.Nk + b.Nk,
            a.Sx + b.Sx,
            a.Sxx + b.Sxx,
            self.log_likelihood + other.log_likelihood,
            centre,
        )

    def __radd__(self, other):
        # lets ``sum(list_of_statistics)`` start from 0
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented


# --------------------------------------------------------------------------- #
# Features and coefficients                                                    #
# --------------------------------------------------------------------------- #
def _n_features_quadratic(d):
    """F = 1 + D + D(D+1)/2 quadratic features."""
    return 1 + d + d * (d + 1) // 2


def _fill_quadratic_rows(phi, d):
    """Rows ``1+D:`` of ``phi`` (F, c) from rows ``1:1+D``: triu(x x^T), row-major order.

    For row i the pairs (i, i), (i, i+1), ..., (i, D-1) are contiguous rows, so
    each i is one broadcast multiply.
    """
    row = 1 + d
    for i in range(d):
        np.multiply(phi[1 + i], phi[1 + i : 1 + d], out=phi[row : row + d - i])
        row += d - i


def quadratic_features(X, shift=None):
    r"""Feature rows $\phi(\tilde x) = [1, \tilde x, \mathrm{triu}(\tilde x\tilde x^\top)]$.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    shift : array-like of shape (n_features,), optional
        Subtracted from every point first ($\tilde x = x - a$); default zero.

    Returns
    -------
    ndarray of shape (1 + D + D(D+1)/2, n_samples)
        Feature-major: one row per feature (6 rows for D = 2:
        $1, x_1, x_2, x_1^2, x_1x_2, x_2^2$).
    """
    X = check_array(X)
    n, d = X.shape
    phi = np.empty((_n_features_quadratic(d), n))
    phi[0] = 1.0
    shift = np.zeros(d) if shift is None else _check_shift(shift, d)
    np.subtract(X.T, shift[:, None], out=phi[1 : 1 + d])
    _fill_quadratic_rows(phi, d)
    return phi


@functools.lru_cache(maxsize=32)
def _triu(d):
    """Upper-triangle index pairs (row-major) and the factor of each quadratic term:
    x_i^2 appears once in x^T P x, x_i x_j (i < j) stands for two."""
    iu, ju = np.triu_indices(d)
    return iu, ju, np.where(iu == ju, 0.5, 1.0)


def _coefficients(params, shift):
    r"""Coefficient rows $W$ (K', F) with $W\phi(x - a) = \log\pi_k + \log\mathcal N_k(x)$.

    With $P_k = \Sigma_k^{-1} = L_k^{-\top}L_k^{-1}$ and $\tilde\mu_k = \mu_k - a$:
    $w_{k0} = \log\pi_k - \frac12(D\log 2\pi + \log\det\Sigma_k
    + \lVert L_k^{-1}\tilde\mu_k\rVert^2)$, linear part $P_k\tilde\mu_k$,
    quadratic part $-\frac12 P_{k,ii}$ and $-P_{k,ij}$ ($i<j$).

    Only the components with $\pi_k > 0$ get a row (``active`` lists them): a
    component of weight 0 has $\log\pi_k = -\infty$, its responsibilities are
    exactly 0, and leaving it out keeps $-\infty$ out of the matrix product (where
    $0\cdot(-\infty) = $ NaN could appear, depending on the BLAS kernel).

    Returns
    -------
    W : ndarray of shape (n_active, F)
    active : ndarray of int, the components that have a row
    far : float
        $\max_k\, u_k^\top |P_k|\, u_k$ with $u_k = |\tilde\mu_k| + 10\sigma_k$ (element-wise,
        $\sigma_k$ the component's standard deviations) over the active components: the
        size of the terms the expanded form adds up for the points the component owns,
        relative to the result (about 1), so it loses about ``log10(far)`` digits. It
        grows when the component is far from the shift in its own units (a narrow
        component that owns a far outlier) and when its correlations are near +-1.
        See :data:`PRECISION_LIMIT`.
    """
    d = params.n_features
    active = np.flatnonzero(params.weights > 0)
    k = active.size
    L = params.cholesky_factors[active]  # Sigma_k = L_k L_k^T (computed once by GMMParams)
    L_inv = np.linalg.solve(L, np.broadcast_to(np.eye(d), (k, d, d)))  # all K at once
    P = np.swapaxes(L_inv, 1, 2) @ L_inv  # precisions
    mu = params.means[active] - shift  # (K, D)
    z = (L_inv @ mu[:, :, None])[:, :, 0]  # L^-1 mu, so mu^T P mu = |z|^2
    zz = np.einsum("kd,kd->k", z, z)
    log_det = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    iu, ju, off = _triu(d)
    W = np.empty((k, _n_features_quadratic(d)))
    W[:, 0] = np.log(params.weights[active]) - 0.5 * (d * _LOG_2PI + log_det + zz)
    W[:, 1 : 1 + d] = (P @ mu[:, :, None])[:, :, 0]
    W[:, 1 + d :] = -off * P[:, iu, ju]
    sd = np.sqrt(np.diagonal(params.covariances[active], axis1=1, axis2=2))
    u = np.abs(mu) + 10.0 * sd
    far = np.einsum("ki,kij,kj->k", u, np.abs(P), u)
    return W, active, float(far.max())


def _one_pass_loss(T, d):
    r"""How much the one-pass covariances $M^{(2)}_k/N_k - \bar x_k\bar x_k^\top$ of a table
    [N_k, M1_k, triu(M2_k)] lose: $\max_{k,i} (M^{(2)}_{k,ii}/N_k) / \Sigma_{k,ii}$, the factor by
    which rounding in $M^{(2)}_{k,ii}/N_k$ is magnified (inf if $\Sigma_{k,ii}$ cancelled to 0)."""
    return moments_loss(T[:, 0], T[:, 1 : 1 + d], T[:, _triu_diagonal(d)])


@functools.lru_cache(maxsize=32)
def _triu_diagonal(d):
    """Positions of the M2_ii in a table row [N_k, M1_k, triu(M2_k)] (row-major triu)."""
    return 1 + d + np.cumsum(np.r_[0, np.arange(d, 1, -1)])


def moments_loss(nk, sx, second_diag):
    """:func:`_one_pass_loss` from N_k (K,), M1_k (K, D) and the diagonals of M2_k (K, D)."""
    keep = nk > 0
    if not keep.all():
        if not keep.any():
            return 0.0
        nk, sx, second_diag = nk[keep], sx[keep], second_diag[keep]
    second = second_diag / nk[:, None]
    xbar = sx / nk[:, None]
    var = second - xbar**2
    positive = var > 0
    if not positive.all():  # a cancelled variance: infinitely magnified (np.errstate is slow)
        if np.any(~positive & (second != 0)):
            return float("inf")
        var = np.where(positive, var, 1.0)  # there second == 0: exact, ratio 1
        second = np.where(positive, second, 1.0)
    return float((second / var).max())


# --------------------------------------------------------------------------- #
# The fused E+M pass                                                           #
# --------------------------------------------------------------------------- #
def _default_chunk_size(k, d):
    f = _n_features_quadratic(d)
    c = _CHUNK_BYTES // (8 * (k + f + 2))
    return int(min(max(c, 256), 65536))


class _Buffers:
    """One thread's chunk buffers, allocated once and reused every iteration."""

    def __init__(self, f, k, c, dtype):
        self.f, self.k = f, k
        self._phi = np.empty(f * c, dtype)
        self._a = np.empty(k * c, dtype)
        self._m = np.empty(c, dtype)
        self._s = np.empty(c, dtype)
        # the floor as an array: np.maximum(A, row) broadcasts along K rows and is
        # about twice as fast as np.maximum(A, scalar) on NumPy 2.x
        self._floor = np.full(c, _EXP_FLOORS[dtype], dtype)
        self._views = {}

    def views(self, c, k):
        """Contiguous (F, c), (k, c), (c,), (c,), (c,) views for a chunk of c points."""
        v = self._views.get((c, k))
        if v is None:
            v = (
                self._phi[: self.f * c].reshape(self.f, c),
                self._a[: k * c].reshape(k, c),
                self._m[:c],
                self._s[:c],
                self._floor[:c],
            )
            self._views[(c, k)] = v
        return v


class _Workspace:
    """The chunks of ``X`` and their buffers, allocated once and reused every iteration.

    The chunk boundaries depend only on N and ``chunk_size``. With ``n_threads > 1``
    the chunks are shared out among threads (:func:`gmm_helpers._threads.map_chunks`),
    each with its own buffers; every chunk's sums are stored by the chunk's index and
    added up in chunk order afterwards, so the result is the same, bit for bit,
    whatever the thread count.
    """

    def __init__(self, X, k, shift, chunk_size, dtype=np.float64, n_threads=1):
        self.X = X
        n, d = X.shape
        self.n, self.d, self.k = n, d, k
        self.f = _n_features_quadratic(d)
        self.shift = shift
        self.dtype = dtype = np.dtype(dtype)
        c = min(chunk_size, n)
        self.chunk = c
        self.bounds = [(start, min(start + c, n)) for start in range(0, n, c)]
        self.n_threads = max(1, min(int(n_threads), len(self.bounds)))
        self._buffers = [_Buffers(self.f, k, c, dtype) for _ in range(self.n_threads)]
        # each chunk's [N_k, M1_k, triu(M2_k)] and log-likelihood, summed in chunk order
        self._tables = np.empty((len(self.bounds), k, self.f), dtype)
        self._lls = np.empty(len(self.bounds))

    def views(self, c, k=None, slot=0):
        """Thread ``slot``'s (F, c), (k, c), (c,), (c,), (c,) views for a chunk of c points."""
        return self._buffers[slot].views(c, self.k if k is None else k)

    def log_prob_chunk(self, W, start, stop, slot=0):
        """Fill E = exp(A - m) (floored), s = sum_k E and m for rows start:stop.

        ``W`` holds the rows of the active components only (see
        :func:`_coefficients`); E has one row per active component. ``slot`` picks
        the calling thread's buffers.
        Returns the views (phi, E, m, s) and the chunk's total log-likelihood.
        """
        d = self.d
        phi, A, m, s, floor = self.views(stop - start, W.shape[0], slot)
        phi[0] = 1.0  # the constant feature (statistics() scales it by 1/s in place)
        np.subtract(self.X[start:stop].T, self.shift[:, None], out=phi[1 : 1 + d])
        _fill_quadratic_rows(phi, d)
        np.matmul(W, phi, out=A)  # log pi_k + log N_k, component-major (K, c)
        return (phi, *self._normalise(A, m, s, floor))

    @staticmethod
    def _normalise(A, m, s, floor):
        """A (K, c) of log pi_k N_k -> E = exp(A - m) (floored), m, s, chunk log-likelihood."""
        np.max(A, axis=0, out=m)
        np.subtract(A, m, out=A)
        np.maximum(A, floor, out=A)  # keep exp on its fast path
        np.exp(A, out=A)
        np.sum(A, axis=0, out=s)
        # log p(x_n) = m_n + log s_n; reuse ``m`` for it once it is summed
        ll = float(np.sum(m, dtype=np.float64))
        ll += float(np.sum(np.log(s, out=m), dtype=np.float64))
        return A, m, s, ll

    def exact_log_prob_chunk(self, params, active, start, stop):
        r"""Like :meth:`log_prob_chunk`, but every $\log\mathcal N_k$ is computed about
        its own mean, $-\frac12(D\log 2\pi + \log\det\Sigma_k + \lVert L_k^{-1}(x-\mu_k)
        \rVert^2)$, as :func:`gmm_helpers.e_step` does (float64 whatever ``dtype``)."""
        c = stop - start
        A = np.empty((active.size, c))
        X = self.X[start:stop]
        for row, j in enumerate(active):
            A[row] = np.log(params.weights[j]) + _log_gaussian_pdf_chol(
                X, params.means[j], params.cholesky_factors[j]
            )
        check_representable(A.max(axis=0))
        m, s = np.empty(c), np.empty(c)
        return self._normalise(A, m, s, np.full(c, EXP_FLOOR))

    def statistics(self, params):
        """One fused E+M pass over all chunks; returns SufficientStatistics.

        Falls back to :meth:`exact_statistics` when the fast pass would lose more
        than ``log10(PRECISION_LIMIT)`` digits (a component far from the shift
        relative to its own width, before or after the M-step).
        """
        W, active, far = _coefficients(params, self.shift)
        if far > PRECISION_LIMIT:
            return self.exact_statistics(params, active)
        W = W.astype(self.dtype, copy=False)
        tables, lls = self._tables[:, : active.size], self._lls

        def chunk_statistics(i, slot):
            start, stop = self.bounds[i]
            phi, E, _, s, lls[i] = self.log_prob_chunk(W, start, stop, slot)
            # responsibilities are E / s; fold 1/s into the features (F rows, not K)
            np.reciprocal(s, out=s)
            np.multiply(phi, s, out=phi)
            np.matmul(E, phi.T, out=tables[i])  # [N_k, M1_k, triu(M2_k)] for this chunk

        map_chunks(chunk_statistics, len(self.bounds), self.n_threads)
        total = np.zeros((self.k, self.f))  # float64 whatever the working dtype
        ll = 0.0
        for i in range(len(self.bounds)):  # chunk order, whatever thread computed each
            ll += float(lls[i])
            total[active] += tables[i]
        if not np.isfinite(ll) or _one_pass_loss(total, self.d) > PRECISION_LIMIT:
            return self.exact_statistics(params, active)
        return _statistics_from_table(total, self.n, ll, self.shift)

    def _exact_responsibilities(self, params, active, start, stop):
        E, _, s, ll = self.exact_log_prob_chunk(params, active, start, stop)
        return E / s, ll

    def exact_statistics(self, params, active=None):
        r"""Two exact passes: responsibilities about each component's own mean, then the
        moments about each component's new mean $\bar x_k$ (per-component ``shift``).

        Pass 1 sums $N_k$, $\sum_n\gamma_{nk}(x_n - a)$ and the log-likelihood; pass 2
        recomputes the responsibilities chunk by chunk (memory stays independent of N)
        and sums $M^{(1)}_k$, $M^{(2)}_k$ about $\bar x_k$, so
        $M^{(2)}_k/N_k - \bar x_k\bar x_k^\top$ has nothing left to cancel. About twice the
        cost of the reference E-step.
        """
        if active is None:
            active = np.flatnonzero(params.weights > 0)
        k, d = self.k, self.d
        nk, sx, ll = np.zeros(k), np.zeros((k, d)), 0.0
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            R, ll_chunk = self._exact_responsibilities(params, active, start, stop)
            ll += ll_chunk
            nk[active] += R.sum(axis=1)
            sx[active] += R @ (self.X[start:stop] - self.shift)
        # the M-step's means (N_k floored as in params_from_statistics): the centres
        centres = self.shift + (sx - _NK_FLOOR * self.shift) / (nk + _NK_FLOOR)[:, None]
        Sx, Sxx = np.zeros((k, d)), np.zeros((k, d, d))
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            R, _ = self._exact_responsibilities(params, active, start, stop)
            X = self.X[start:stop]
            for row, j in enumerate(active):
                diff = X - centres[j]
                Sx[j] += R[row] @ diff
                Sxx[j] += (R[row] * diff.T) @ diff
        Sxx = 0.5 * (Sxx + np.swapaxes(Sxx, 1, 2))
        return SufficientStatistics(self.n, nk, Sx, Sxx, float(ll), centres)


def _statistics_from_table(T, n, ll, shift):
    """Unpack the (K, F) table [N_k, M^{(1)}_k, triu(M^{(2)}_k)] into SufficientStatistics."""
    k, d = T.shape[0], shift.shape[0]
    iu, ju, _ = _triu(d)
    Sxx = np.empty((k, d, d))
    Sxx[:, iu, ju] = T[:, 1 + d :]
    Sxx[:, ju, iu] = T[:, 1 + d :]
    return SufficientStatistics(
        n_samples=int(n),
        Nk=T[:, 0].copy(),
        Sx=T[:, 1 : 1 + d].copy(),
        Sxx=Sxx,
        log_likelihood=float(ll),
        shift=shift,
    )


def _data_mean(X):
    """Column means; column by column for narrow X (NumPy's axis-0 reduction of an
    (N, 2) array is ~10x slower than two strided 1-D sums)."""
    n, d = X.shape
    if d <= 8:
        return np.array([X[:, j].sum() for j in range(d)]) / n
    return X.mean(axis=0)


def _defaults(X, k, shift, chunk_size):
    """Fill in the default shift (data mean) and chunk size; no validation."""
    if shift is None:
        shift = _data_mean(X)
    if chunk_size is None:
        chunk_size = _default_chunk_size(k, X.shape[1])
    return shift, chunk_size


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _EXP_FLOORS:
        raise ValueError(f"expected dtype float64 or float32, got {dtype}")
    return dtype


def _check_shift(shift, n_features):
    shift = as_real_array(shift, "shift")
    if shift.shape != (n_features,) or not np.all(np.isfinite(shift)):
        raise ValueError(f"expected a finite shift of shape ({n_features},), got {shift!r}")
    return shift


def _prepare(X, params, shift, chunk_size):
    """Validate the public functions' arguments once."""
    X = check_array(X)
    check_params(params, X.shape[1])
    if shift is not None:
        shift = _check_shift(shift, X.shape[1])
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    shift, chunk_size = _defaults(X, params.n_components, shift, chunk_size)
    return X, shift, chunk_size


def compute_statistics(X, params, *, chunk_size=None, shift=None, dtype=np.float64,
                       n_threads=None):
    r"""Sufficient statistics of one fused E+M pass over ``X``, chunk by chunk.

    The E-step responsibilities $\gamma_{nk}$ of ``params`` are computed for one
    chunk at a time and immediately reduced to
    $N_k = \sum_n\gamma_{nk}$, $M^{(1)}_k = \sum_n\gamma_{nk}\tilde x_n$,
    $M^{(2)}_k = \sum_n\gamma_{nk}\tilde x_n\tilde x_n^\top$ ($\tilde x = x - $ ``shift``)
    and the total log-likelihood $\sum_n\log p(x_n)$, so memory does not grow
    with N beyond ``X`` itself.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : GMMParams
        Parameters whose responsibilities are summed.
    chunk_size : int, optional
        Points per chunk; by default about 1.5 MiB of working buffers.
        Results do not depend on it beyond rounding (~1e-13 relative).
    shift : array-like of shape (n_features,), optional
        Centre subtracted from every point; default the mean of ``X``. When the fast
        pass would lose digits (see :data:`PRECISION_LIMIT`) the exact pass runs
        instead; without ``shift`` its moments are then about each component's own
        mean (``stats.shift`` of shape (K, D), the precise input for the M-step),
        with ``shift`` they are moved back to it.
    dtype : {numpy.float64, numpy.float32}
        Working precision of the chunk buffers (the sums are accumulated in
        float64 either way). float32 is about 1.6x faster and keeps the
        log-likelihood within ~1e-6 relative (tested to 1e-5); float64 is the
        default.
    n_threads : int, optional
        Threads the chunks are shared out among; by default
        :func:`gmm_helpers.default_n_threads` (``OMP_NUM_THREADS`` if set, else the
        CPUs available). The result is the same, bit for bit, for every thread count:
        the chunks do not depend on it and their sums are added in chunk order.

    Returns
    -------
    SufficientStatistics
    """
    stats = _pass_statistics(X, params, shift, chunk_size, dtype, check_n_threads(n_threads))
    if shift is not None and stats.shift.shape != (stats.n_features,):
        # the exact pass centred each component on its own mean; the caller asked for
        # moments about ``shift``, so move them there
        stats = stats.with_shift(shift)
    return stats


def _pass_statistics(X, params, shift=None, chunk_size=None, dtype=np.float64, n_threads=1):
    """:func:`compute_statistics` without moving the exact pass's moments back to ``shift``.

    The moments stay about each component's own mean when the exact pass ran, which is
    what statistics that are summed (``+`` pools them per component) should carry:
    moving them back to a common centre first would lose the digits the exact pass kept.
    """
    X, shift, chunk_size = _prepare(X, params, shift, chunk_size)
    dtype = _check_dtype(dtype)
    ws = _Workspace(X, params.n_components, shift, chunk_size, dtype, n_threads)
    return ws.statistics(params)


def responsibilities_chunked(X, params, *, chunk_size=None, shift=None, out=None, n_threads=None):
    r"""Responsibilities $\gamma_{nk}$ and total log-likelihood, computed chunk by chunk.

    Same numbers as :func:`gmm_helpers.e_step` (up to rounding, and
    responsibilities below ``exp(-707)`` relative to the largest one are
    reported as about ``1e-307``), with one (N, K) output as the only large
    allocation.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : GMMParams
    chunk_size, shift, n_threads : see :func:`compute_statistics`
    out : ndarray of shape (n_samples, n_components), optional
        Written in place if given.

    Returns
    -------
    responsibilities : ndarray of shape (n_samples, n_components)
    log_likelihood : float
    """
    X, shift, chunk_size = _prepare(X, params, shift, chunk_size)
    n, k = X.shape[0], params.n_components
    if out is not None and (out.shape != (n, k) or out.dtype != np.float64):
        raise ValueError(
            f"expected out of shape {(n, k)} and dtype float64, got {out.shape} {out.dtype}"
        )
    n_threads = check_n_threads(n_threads)
    return _responsibilities(
        X, params, shift=shift, chunk_size=chunk_size, out=out, n_threads=n_threads
    )


def _responsibilities(X, params, *, shift=None, chunk_size=None, out=None, n_threads=1):
    """:func:`responsibilities_chunked` without validation (for :func:`fit_em`).

    Without ``out`` the result is the transpose of a C-ordered (K, N) array, so
    every chunk is written as K contiguous rows. Chunks are shared out among
    ``n_threads`` threads; the log-likelihood is summed in chunk order.
    """
    n, k = X.shape[0], params.n_components
    shift, chunk_size = _defaults(X, k, shift, chunk_size)
    resp_t = np.empty((k, n)) if out is None else out.T
    ws = _Workspace(X, k, shift, chunk_size, n_threads=n_threads)
    W, active, far = _coefficients(params, shift)
    if active.size < k:
        resp_t[:] = 0.0  # components of weight 0 own nothing
    lls = ws._lls

    def chunk_responsibilities(i, slot):
        start, stop = ws.bounds[i]
        if far <= PRECISION_LIMIT:
            _, E, _, s, ll_chunk = ws.log_prob_chunk(W, start, stop, slot)
        if far > PRECISION_LIMIT or not np.isfinite(ll_chunk):
            E, _, s, ll_chunk = ws.exact_log_prob_chunk(params, active, start, stop)
        lls[i] = ll_chunk
        if active.size < k:
            resp_t[active, start:stop] = E / s
        else:
            np.divide(E, s, out=resp_t[:, start:stop])

    map_chunks(chunk_responsibilities, len(ws.bounds), ws.n_threads)
    ll = 0.0
    for i in range(len(ws.bounds)):
        ll += float(lls[i])
    return (resp_t.T if out is None else out), ll


# --------------------------------------------------------------------------- #
# The M-step from statistics                                                   #
# --------------------------------------------------------------------------- #
def params_from_statistics(stats, covariance_type="full", reg_covar=1e-6):
    r"""The M-step (Bishop eqs. 9.24-9.27) from sufficient statistics alone.

    With $\tilde N_k = N_k + 10\,\varepsilon$ (the floor of :func:`gmm_helpers.m_step`
    and scikit-learn) and moments about $a_k$ (``shift``, one centre or one per
    component), the mean $\mu_k = \sum_n\gamma_{nk}x_n/\tilde N_k$ is
    $a_k + \bar x_k$ with $\bar x_k = (M^{(1)}_k - 10\varepsilon\, a_k)/\tilde N_k$, and

    $$\pi_k = \frac{\tilde N_k}{\sum_j \tilde N_j}, \qquad
      \Sigma_k = \frac{M^{(2)}_k - M^{(1)}_k\bar x_k^\top - \bar x_k M^{(1)\top}_k
      + N_k\bar x_k\bar x_k^\top}{\tilde N_k} + \epsilon I ,$$

    exactly the reference M-step's formulas rewritten in the moments, so the two
    engines agree also for (nearly) empty components.
    ``"tied"`` pools the numerators over $k$ and divides by $\sum_k\tilde N_k$,
    ``"diag"`` keeps the diagonal of $\Sigma_k$ and ``"spherical"`` its mean —
    the same maths as scikit-learn's ``_estimate_gaussian_covariances_*``.
    The M-step maximises the expected complete-data log-likelihood exactly
    only for ``reg_covar=0`` (see :func:`gmm_helpers.fit_em`).

    Parameters
    ----------
    stats : SufficientStatistics
    covariance_type : {"full", "tied", "diag", "spherical"}
    reg_covar : float
        Added to the diagonal of every covariance.

    Returns
    -------
    GMMParams
        Covariances stored as full matrices whatever the type.
    """
    if not isinstance(stats, SufficientStatistics):
        raise ValueError(f"expected SufficientStatistics, got {type(stats).__name__}")
    check_covariance_type(covariance_type)
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    k, d = stats.n_components, stats.n_features
    nk = stats.Nk + _NK_FLOOR
    shifts = stats._shifts()  # (K, D): a_k
    # mean_k = sum_n g_nk x_n / (N_k + floor), as m_step; about a_k that is
    xbar = (stats.Sx - _NK_FLOOR * shifts) / nk[:, None]
    # sum_n g_nk (x_n - mean_k)(x_n - mean_k)^T from the moments about a_k
    Sx_xbar = stats.Sx[:, :, None] * xbar[:, None, :]
    scatter = (
        stats.Sxx
        - Sx_xbar
        - np.swapaxes(Sx_xbar, 1, 2)
        + stats.Nk[:, None, None] * (xbar[:, :, None] * xbar[:, None, :])
    )
    diag = np.arange(d)
    if covariance_type == "full":
        cov = scatter / nk[:, None, None]
        cov[:, diag, diag] += reg_covar
    elif covariance_type == "tied":
        tied = scatter.sum(axis=0) / nk.sum()
        tied[diag, diag] += reg_covar
        cov = np.broadcast_to(tied, (k, d, d)).copy()
    else:
        var = scatter[:, diag, diag] / nk[:, None]
        if covariance_type == "spherical":
            var = np.broadcast_to(var.mean(axis=1, keepdims=True), (k, d))
        cov = np.zeros((k, d, d))
        cov[:, diag, diag] = var + reg_covar
    # symmetrise exactly (the two triangles come from the same sums, but the
    # subtraction of xbar xbar^T is done in both)
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    weights = nk / stats.n_samples
    weights = weights / weights.sum()
    means = shifts + xbar
    return _m_step_params(weights, means, cov, covariance_type, reg_covar, trusted=True)


# --------------------------------------------------------------------------- #
# The EM driver                                                                #
# --------------------------------------------------------------------------- #
def em_iterations(
    X,
    params,
    *,
    max_iter=500,
    tol=1e-6,
    covariance_type=None,
    reg_covar=1e-6,
    chunk_size=None,
    shift=None,
    dtype=np.float64,
    n_threads=None,
):
    r"""Run EM from ``params`` with the sufficient-statistics engine.

    The loop of :func:`gmm_helpers.fit_em` (``gmm_helpers.em._em_loop``): pass
    $t$ over ``history[t]`` gives its total log-likelihood ``log_likelihoods[t]``
    and the statistics for ``history[t + 1]``; EM stops when
    $|\ell_t - \ell_{t-1}| / N <$ ``tol`` (then ``converged`` is True) or after
    ``max_iter`` M-steps. Each iteration is one pass over the data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : GMMParams
        Starting point ``history[0]``.
    max_iter : int
        Maximum EM iterations (0 only scores the start).
    tol : float
        Threshold on the change of the mean per-sample log-likelihood.
    covariance_type : {"full", "tied", "diag", "spherical"}, optional
        Default ``params.covariance_type``.
    reg_covar : float
    chunk_size, shift, dtype, n_threads : see :func:`compute_statistics`

    Returns
    -------
    history : list of GMMParams
        ``len(history) == n_iter + 1``.
    log_likelihoods : ndarray of shape (n_iter + 1,)
    converged : bool
    n_iter : int
    """
    X, shift, chunk_size = _prepare(X, params, shift, chunk_size)
    if covariance_type is None:
        covariance_type = params.covariance_type
    check_covariance_type(covariance_type)
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    tol = check_nonnegative_float(tol, "tol")
    reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
    dtype = _check_dtype(dtype)
    n_threads = check_n_threads(n_threads)
    from . import em  # the one EM loop (em imports this module)

    e_side, m_side = _suffstats_sides(
        X, params.n_components, covariance_type, reg_covar, shift, chunk_size, dtype, n_threads
    )
    history, lls, _, converged = em._em_loop(params, e_side, m_side, X.shape[0], max_iter, tol)
    return history, lls, converged, len(history) - 1


def _statistics_sides(statistics, covariance_type, reg_covar):
    """E-side and M-side of EM from sufficient statistics (this engine and Dask's).

    The E-side is one pass ``statistics(params)``: it scores ``history[t]`` and
    gathers the sums for ``history[t + 1]``; the M-side is :func:`params_from_statistics`.
    """

    def e_side(params):
        stats = statistics(params)
        return stats.log_likelihood, stats

    def m_side(stats):
        return params_from_statistics(stats, covariance_type, reg_covar)

    return e_side, m_side


def _suffstats_sides(
    X, n_components, covariance_type, reg_covar, shift=None, chunk_size=None, dtype=np.float64,
    n_threads=1,
):
    """The engine's sides over in-memory ``X``, one fused chunked pass per iteration
    (no validation: :func:`gmm_helpers.fit_em` and :func:`em_iterations` validate)."""
    shift, chunk_size = _defaults(X, n_components, shift, chunk_size)
    ws = _Workspace(X, n_components, shift, chunk_size, dtype, n_threads)
    return _statistics_sides(ws.statistics, covariance_type, reg_covar)
