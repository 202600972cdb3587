"""The parameters of a Gaussian mixture, as one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    as_real_array,
    check_covariance_type,
    check_symmetric,
    spd_cholesky,
    spd_cholesky_batched,
)

_SIMPLEX_ATOL = 1e-8


def _frozen(a):
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class GMMParams:
    r"""Parameters $\theta = \{\pi_k, \mu_k, \Sigma_k\}_{k=1}^K$ of a Gaussian mixture.

    $$p(x \mid \theta) = \sum_{k=1}^K \pi_k \, \mathcal{N}(x \mid \mu_k, \Sigma_k)$$

    Parameters
    ----------
    weights : array-like of shape (n_components,)
        Mixing weights $\pi_k$; non-negative and summing to one (within 1e-8).
    means : array-like of shape (n_components, n_features)
        Component means $\mu_k$.
    covariances : array-like of shape (n_components, n_features, n_features)
        Component covariances $\Sigma_k$, **always stored as full matrices**
        whatever ``covariance_type`` says; each must be symmetric positive-definite.
    covariance_type : {"full", "tied", "diag", "spherical"}
        The constraint the M-step imposes; it decides the parameter count
        (:func:`gmm_helpers.n_parameters`), not the storage.

    The arrays are copied and made read-only, so a ``GMMParams`` stored in an
    EM history can never be changed by later iterations.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str = "full"
    _cholesky: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_covariance_type(self.covariance_type)
        for name in ("weights", "means", "covariances"):
            object.__setattr__(self, name, as_real_array(getattr(self, name), name))
        w, m, c = self.weights, self.means, self.covariances
        if w.ndim != 1 or w.shape[0] < 1:
            raise ValueError(f"expected weights of shape (n_components,), got shape {w.shape}")
        k = w.shape[0]
        if m.ndim != 2 or m.shape[0] != k or m.shape[1] < 1:
            raise ValueError(
                f"expected means of shape ({k}, n_features) to match {k} weights, "
                f"got shape {m.shape}"
            )
        d = m.shape[1]
        if c.shape != (k, d, d):
            raise ValueError(
                f"expected covariances of shape {(k, d, d)} (full matrices), got shape {c.shape}"
            )
        for name, arr in (("weights", w), ("means", m), ("covariances", c)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"expected finite {name}, got NaN or inf")
        if np.any(w < 0) or abs(w.sum() - 1.0) > _SIMPLEX_ATOL:
            raise ValueError(
                "expected weights on the simplex (non-negative, summing to 1 within 1e-8), "
                f"got sum {w.sum()!r} and min {w.min()!r}"
            )
        check_symmetric(c, "covariances")
        chol = np.empty_like(c)
        for j in range(k):
            # Cholesky can "succeed" on a numerically singular matrix (a component that
            # owns one point, without reg_covar); spd_cholesky also requires every pivot
            # to be above rounding level relative to that variable's own variance.
            factor = spd_cholesky(c[j])
            if factor is None:
                raise ValueError(
                    f"expected symmetric positive-definite covariances, got component {j} "
                    "that is singular or not positive-definite"
                )
            chol[j] = factor
        object.__setattr__(self, "weights", _frozen(w))
        object.__setattr__(self, "means", _frozen(m))
        object.__setattr__(self, "covariances", _frozen(c))
        object.__setattr__(self, "_cholesky", _frozen(chol))

    @classmethod
    def _trusted(cls, weights, means, covariances, covariance_type):
        """Parameters an engine built (an M-step), validated by construction.

        The caller guarantees what :meth:`__post_init__` would otherwise check at a
        cost that dominates a small fit's iteration: float64 arrays of shapes (K,),
        (K, D), (K, D, D), freshly allocated (they are made read-only, not copied),
        weights normalised to sum to 1, exactly symmetric covariances, and a valid
        ``covariance_type``. What depends on the data is still tested, all components
        at once (statistics a user built by hand reach here too): shapes, weights on the
        simplex, finite values and positive-definiteness by the same rule as
        :func:`~gmm_helpers._validation.spd_cholesky`. If any test fails, the full
        constructor runs, so the error message is the usual one.
        """
        k = weights.shape[0] if weights.ndim == 1 else -1
        d = means.shape[1] if means.ndim == 2 else -1
        if (
            k < 1
            or d < 1
            or means.shape != (k, d)
            or covariances.shape != (k, d, d)
            or not np.all(np.isfinite(weights))
            or not np.all(np.isfinite(means))
            or np.any(weights < 0)
            or abs(weights.sum() - 1.0) > _SIMPLEX_ATOL
        ):
            return cls(weights, means, covariances, covariance_type)  # its message
        chol = spd_cholesky_batched(covariances)
        if chol is None:
            return cls(weights, means, covariances, covariance_type)
        self = object.__new__(cls)
        for name, arr in (
            ("weights", weights), ("means", means), ("covariances", covariances),
            ("_cholesky", chol),
        ):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "covariance_type", covariance_type)
        return self

    def __reduce__(self):
        # pickle and copy.deepcopy rebuild through __init__, so the copy is validated,
        # read-only and has its own Cholesky factors (a plain dataclass copy would have
        # writeable arrays and a cached factor that goes stale when they change)
        return (
            type(self),
            (self.weights, self.means, self.covariances, self.covariance_type),
        )

    def __copy__(self):
        return self  # immutable

    def __deepcopy__(self, memo):
        return self.__reduce__()[0](*self.__reduce__()[1])

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.weights.shape[0])

    @property
    def n_features(self) -> int:
        """Dimension D of the data."""
        return int(self.means.shape[1])

    @property
    def cholesky_factors(self) -> np.ndarray:
        r"""Lower Cholesky factors $L_k$ with $\Sigma_k = L_k L_k^\top$, shape (K, D, D)."""
        return self._cholesky

    def replace(self, **changes) -> GMMParams:
        """Return a copy with some fields replaced (the object itself is immutable)."""
        kw = dict(
            weights=self.weights,
            means=self.means,
            covariances=self.covariances,
            covariance_type=self.covariance_type,
        )
        kw.update(changes)
        return GMMParams(**kw)

    def permute(self, order) -> GMMParams:
        """Return the same mixture with components reordered (label switching).

        ``order`` must be a permutation of ``range(n_components)``; component ``j``
        of the result is component ``order[j]`` of this one.
        """
        order = np.asarray(order)
        k = self.n_components
        if (
            order.shape != (k,)
            or not np.issubdtype(order.dtype, np.integer)
            or not np.array_equal(np.sort(order), np.arange(k))
        ):
            raise ValueError(
                f"expected order to be a permutation of range({k}), got {order.tolist()!r}"
            )
        return GMMParams(
            self.weights[order], self.means[order], self.covariances[order], self.covariance_type
        )

    def __eq__(self, other):
        if not isinstance(other, GMMParams):
            return NotImplemented
        return (
            self.covariance_type == other.covariance_type
            and np.array_equal(self.weights, other.weights)
            and np.array_equal(self.means, other.means)
            and np.array_equal(self.covariances, other.covariances)
        )

    __hash__ = None

    def __repr__(self):
        with np.printoptions(precision=4, suppress=True):
            return (
                f"GMMParams(n_components={self.n_components}, n_features={self.n_features}, "
                f"covariance_type={self.covariance_type!r},\n  weights={self.weights},\n"
                f"  means={np.array2string(self.means, prefix='  means=')})"
            )
