r"""Special functions for the Bayesian GMMs, in NumPy only (private; re-exported as ``gh.*``).

:func:`gammaln`, :func:`digamma` and :func:`multivariate_gammaln` are what the Dirichlet and
Wishart normalising constants of :mod:`gmm_helpers.bayes` and :mod:`gmm_helpers.variational`
need, so that ``import gmm_helpers`` does not need SciPy (notebook 07 checks them against it).
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_real_array

__all__ = ["digamma", "gammaln", "multivariate_gammaln"]

#: Above this, ln Gamma(x) ~ x (ln x - 1) exceeds the float range (math.lgamma would
#: raise OverflowError): the value is +inf, as in scipy.special.gammaln.
_GAMMALN_OVERFLOW = 2.5e305
_gammaln_scalar = np.vectorize(
    lambda x: math.inf if x > _GAMMALN_OVERFLOW else math.lgamma(x), otypes=[float]
)


def gammaln(x):
    r"""Natural log of the absolute value of the gamma function, $\ln|\Gamma(x)|$, elementwise.

    Parameters
    ----------
    x : array-like
        Arguments; non-positive integers are poles and give ``inf``.

    Returns
    -------
    ndarray or float
        Same shape as ``x``.
    """
    x = as_real_array(x, "x")
    poles = (x <= 0) & (x == np.floor(x))
    safe = np.where(poles | ~np.isfinite(x), 1.0, x)
    out = _gammaln_scalar(safe)
    out = np.where(poles, np.inf, out)
    out = np.where(np.isfinite(x), out, np.where(np.isnan(x), np.nan, np.inf))
    return out[()] if out.ndim == 0 else out


# Coefficients B_{2n} / (2n) of the asymptotic series psi(x) ~ ln x - 1/(2x) - sum B_2n/(2n x^2n).
_DIGAMMA_SERIES = (
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
    -691.0 / 32760.0,
    1.0 / 12.0,
)


def digamma(x):
    r"""Digamma function $\psi(x) = \frac{d}{dx} \ln \Gamma(x)$, elementwise.

    The recurrence $\psi(x) = \psi(x + 1) - 1/x$ moves every argument to $x \ge 10$, where the
    asymptotic series

    .. math::

        \psi(x) \approx \ln x - \frac{1}{2x} - \sum_{n=1}^{7} \frac{B_{2n}}{2n\,x^{2n}}

    is accurate to about $10^{-16}$. Negative non-integers use the reflection formula
    $\psi(x) = \psi(1 - x) - \pi / \tan(\pi x)$; non-positive integers are poles (``nan``).

    Parameters
    ----------
    x : array-like
        Arguments.

    Returns
    -------
    ndarray or float
        $\psi(x)$, same shape as ``x``.
    """
    x_in = as_real_array(x, "x")
    x = x_in.copy()  # shifted in place below
    result = np.zeros_like(x)
    poles = (x <= 0) & (x == np.floor(x))
    reflect = (x < 0) & ~poles
    result[reflect] -= np.pi / np.tan(np.pi * x[reflect])
    x[reflect] = 1.0 - x[reflect]
    x[poles] = np.nan
    while True:
        small = x < 10.0  # False for nan
        if not small.any():
            break
        result[small] -= 1.0 / x[small]
        x[small] += 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        inv2 = 1.0 / (x * x)
        series = np.zeros_like(x)
        for coefficient in reversed(_DIGAMMA_SERIES):
            series = (series + coefficient) * inv2
        result += np.log(x) - 0.5 / x - series
    result[poles] = np.nan
    result[x_in == 0] = -np.inf  # scipy's convention at the pole 0
    return result[()] if result.ndim == 0 else result


def multivariate_gammaln(a, n_features):
    r"""Log of the multivariate gamma function,
    $\ln\Gamma_D(a) = \frac{D(D-1)}{4}\ln\pi
    + \sum_{i=1}^{D} \ln\Gamma\!\left(a + \frac{1-i}{2}\right)$.

    Parameters
    ----------
    a : float or array-like
        Argument(s), each $> (D - 1)/2$.
    n_features : int
        The dimension $D$.

    Returns
    -------
    ndarray or float
        Same shape as ``a``.
    """
    a = as_real_array(a, "a")
    offsets = (1.0 - np.arange(1, n_features + 1)) / 2.0
    out = n_features * (n_features - 1) / 4.0 * math.log(math.pi)
    out = out + gammaln(a[..., None] + offsets).sum(axis=-1)
    return out[()] if np.ndim(out) == 0 else out
