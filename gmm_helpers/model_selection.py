"""Counting parameters, BIC and AIC, and choosing K and the covariance type."""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    check_array,
    check_covariance_type,
    check_params,
    check_positive_int,
    check_random_state,
)
from .estep import log_likelihood


def n_parameters(n_components, n_features, covariance_type):
    r"""Number of free parameters $p$ of a Gaussian mixture.

    $p = (K-1) + KD + c$ with $c = KD(D+1)/2$ (full), $D(D+1)/2$ (tied),
    $KD$ (diag) or $K$ (spherical). For $D=5$, $K=2$: 41, 26, 21, 13.
    """
    k = check_positive_int(n_components, "n_components")
    d = check_positive_int(n_features, "n_features")
    check_covariance_type(covariance_type)
    cov = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return (k - 1) + k * d + cov


def bic(X, params):
    r"""Bayesian information criterion, lower is better: $-2\log L + p\ln N$.

    R's mclust reports $2\log L - p\ln N$ (higher is better): the same number
    with the opposite sign.
    """
    X = check_array(X)
    check_params(params, X.shape[1])
    p = n_parameters(params.n_components, params.n_features, params.covariance_type)
    return -2.0 * log_likelihood(X, params) + p * np.log(X.shape[0])


def aic(X, params):
    r"""Akaike information criterion, lower is better: $-2\log L + 2p$."""
    X = check_array(X)
    check_params(params, X.shape[1])
    p = n_parameters(params.n_components, params.n_features, params.covariance_type)
    return -2.0 * log_likelihood(X, params) + 2.0 * p


@dataclass
class ModelSelection:
    """Result of :func:`select_model`: one row of numbers per (covariance type, K).

    Attributes
    ----------
    n_components_range : list of int
    covariance_types : tuple of str
    log_likelihood, bic, aic : dict str -> ndarray of shape (len(n_components_range),)
        Best total log-likelihood over the restarts, and the criteria computed from it.
    n_parameters : dict str -> ndarray of int
    best_n_components : int
    best_covariance_type : str
    best_params : GMMParams
        The model with the lowest BIC among the non-degenerate cells.
    results : dict (str, int) -> EMResult
    n_samples : int
    degenerate : dict str -> ndarray of bool
        Cells whose best fit has a component collapsed to the regulariser (its
        smallest covariance eigenvalue minus ``reg_covar`` below 1e-6 of the data's
        smallest variance, e.g. a component on tied or repeated values). Their
        likelihood is an artefact, not a fit: they are not chosen as best (mclust
        reports such cells as NA).
    """

    n_components_range: list
    covariance_types: tuple
    log_likelihood: dict
    bic: dict
    aic: dict
    n_parameters: dict
    best_n_components: int
    best_covariance_type: str
    best_params: object
    results: dict = field(repr=False)
    n_samples: int = 0
    degenerate: dict = field(default_factory=dict)

    def table(self, criterion="bic"):
        """Rows ``(covariance_type, K, value)`` as a list, for printing.

        ``criterion`` is ``"bic"``, ``"aic"``, ``"log_likelihood"`` or ``"n_parameters"``.
        """
        names = ("bic", "aic", "log_likelihood", "n_parameters")
        if criterion not in names:
            raise ValueError(f"expected criterion in {names}, got {criterion!r}")
        values = getattr(self, criterion)
        return [
            (ct, k, float(values[ct][i]))
            for ct in self.covariance_types
            for i, k in enumerate(self.n_components_range)
        ]


def _iterable(value):
    try:
        iter(value)
    except TypeError:
        return False
    return True


def select_model(
    X,
    n_components_range,
    covariance_types=("spherical", "diag", "tied", "full"),
    n_init=5,
    random_state=0,
    init="kmeans++",
    exclude_degenerate=True,
    **fit_kwargs,
):
    r"""Fit every (covariance type, K) and pick the lowest BIC.

    Each cell keeps the best of ``n_init`` EM restarts: a single run can land in
    a poor local optimum, and then the BIC curve shows noise instead of the
    trade-off between fit and the $p\ln N$ penalty (notebook 06 measures how
    many restarts make the surface stable).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components_range : iterable of int
    covariance_types : tuple of str, or one str
    n_init : int
    random_state : None, int or numpy.random.Generator
    init : str
    exclude_degenerate : bool, default True
        Never pick a cell whose fit collapsed a component onto the regulariser
        (see ``ModelSelection.degenerate``).
    **fit_kwargs
        Passed to :func:`fit_em` (``tol``, ``reg_covar``, ``max_iter``).

    Returns
    -------
    ModelSelection
    """
    from .em import fit_em

    X = check_array(X)
    if isinstance(n_components_range, (numbers.Number, str)) or not _iterable(
        n_components_range
    ):
        raise ValueError(
            "expected n_components_range to be an iterable of int such as range(1, 7), "
            f"got {n_components_range!r}"
        )
    ks = [check_positive_int(k, "n_components") for k in n_components_range]
    if not ks:
        raise ValueError("expected a non-empty n_components_range, got an empty one")
    if isinstance(covariance_types, str):  # one type: "full" is not ("f", "u", "l", "l")
        covariance_types = (covariance_types,)
    if not _iterable(covariance_types):
        raise ValueError(
            f"expected covariance_types to be a str or a tuple of str, got {covariance_types!r}"
        )
    covariance_types = tuple(covariance_types)
    if not covariance_types:
        raise ValueError("expected at least one covariance type, got an empty covariance_types")
    for ct in covariance_types:
        check_covariance_type(ct)
    rng = check_random_state(random_state)
    n, d = X.shape
    if np.any(X.var(axis=0) == 0):
        raise ValueError(
            "expected every column of X to vary, got a constant column (every diag, tied and "
            "full fit would collapse onto reg_covar in it); drop that column"
        )
    default_reg = inspect.signature(fit_em).parameters["reg_covar"].default
    reg_covar = fit_kwargs.get("reg_covar", default_reg)
    ll, b, a, p, results, degenerate = {}, {}, {}, {}, {}, {}
    for ct in covariance_types:
        ll[ct] = np.empty(len(ks))
        degenerate[ct] = np.zeros(len(ks), dtype=bool)
        p[ct] = np.array([n_parameters(k, d, ct) for k in ks])
        for i, k in enumerate(ks):
            res = fit_em(
                X, k, covariance_type=ct, init=init, n_init=n_init, random_state=rng, **fit_kwargs
            )
            results[(ct, k)] = res
            ll[ct][i] = res.log_likelihoods[-1]
            # collapsed: what is left of the smallest variance once reg_covar is
            # taken off is zero to within 1e-6 of the data's smallest variance
            smallest = np.linalg.eigvalsh(res.params.covariances).min()
            degenerate[ct][i] = smallest - reg_covar <= 1e-6 * X.var(axis=0).min()
        b[ct] = -2.0 * ll[ct] + p[ct] * np.log(n)
        a[ct] = -2.0 * ll[ct] + 2.0 * p[ct]
    cells = [
        (ct, i)
        for ct in covariance_types
        for i in range(len(ks))
        if not (exclude_degenerate and degenerate[ct][i])
    ]
    if not cells:
        raise ValueError(
            "expected at least one non-degenerate fit, got every cell collapsed onto "
            "reg_covar; increase reg_covar or rescale the data"
        )
    best_ct, best_i = min(cells, key=lambda c: b[c[0]][c[1]])
    best_k = ks[best_i]
    return ModelSelection(
        n_components_range=ks,
        covariance_types=covariance_types,
        log_likelihood=ll,
        bic=b,
        aic=a,
        n_parameters=p,
        best_n_components=best_k,
        best_covariance_type=best_ct,
        best_params=results[(best_ct, best_k)].params,
        results=results,
        n_samples=n,
        degenerate=degenerate,
    )
