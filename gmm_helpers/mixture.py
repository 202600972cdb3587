"""A scikit-learn-style estimator over the package's functions."""

from __future__ import annotations

import numpy as np

from ._validation import (
    as_real_array,
    check_array,
    check_covariance_type,
    check_init,
    check_positive_int,
    check_symmetric,
    spd_cholesky,
)
from .datasets import sample_gmm
from .em import fit_em
from .estep import _e_step
from .model_selection import aic as _aic
from .model_selection import bic as _bic
from .params import GMMParams


def _to_full(values, covariance_type, n_components, n_features, name):
    """Expand scikit-learn's per-type covariance/precision shapes to (K, D, D)."""
    a = as_real_array(values, name)
    k, d = n_components, n_features
    expected = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[
        covariance_type
    ]
    if a.shape != expected:
        raise ValueError(
            f"expected {name} of shape {expected} for covariance_type={covariance_type!r}, "
            f"got shape {a.shape}"
        )
    if covariance_type == "full":
        return a.copy()
    if covariance_type == "tied":
        return np.broadcast_to(a, (k, d, d)).copy()
    if covariance_type == "diag":
        out = np.zeros((k, d, d))
        out[:, np.arange(d), np.arange(d)] = a
        return out
    return a[:, None, None] * np.eye(d)


def _from_full(cov, covariance_type):
    """(K, D, D) -> scikit-learn's shape for ``covariance_type``."""
    if covariance_type == "full":
        return cov.copy()
    if covariance_type == "tied":
        return cov[0].copy()
    diag = np.diagonal(cov, axis1=1, axis2=2).copy()
    return diag if covariance_type == "diag" else diag[:, 0].copy()


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted model is called before ``fit``."""


class GaussianMixture:
    """Gaussian mixture estimator with scikit-learn's interface, fitted by :func:`fit_em`.

    Parameters
    ----------
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol : float
        Convergence threshold on the mean per-sample log-likelihood.
    reg_covar : float
    max_iter : int
    n_init : int
    init_params : {"kmeans++", "kmeans", "random", "random_from_data"}
    weights_init, means_init, precisions_init : array-like, optional
        Starting values (all three, or none), in scikit-learn's shapes;
        ``precisions_init`` in the shape of ``covariance_type``.
    random_state : None, int or numpy.random.Generator

    Attributes
    ----------
    weights_ : (n_components,)
    means_ : (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ :
        scikit-learn's shapes: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
        ``precisions_cholesky_`` is upper triangular with ``P = U U^T``, as in scikit-learn.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean per-sample log-likelihood of the final parameters.
    lower_bounds_ : ndarray
        Mean per-sample log-likelihood of every parameter set in ``history_``.
        (scikit-learn's ``lower_bounds_[t]`` scores the parameters *before* the
        M-step of iteration ``t+1``, so it matches ``lower_bounds_[:-1]`` here.)
    history_ : EMResult
    params_ : GMMParams
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-6,
        reg_covar=1e-6,
        max_iter=500,
        n_init=1,
        init_params="kmeans++",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state

    def __repr__(self):
        return (
            f"GaussianMixture(n_components={self.n_components}, "
            f"covariance_type={self.covariance_type!r})"
        )

    def _initial_params(self, n_features):
        given = [x is not None for x in (self.weights_init, self.means_init, self.precisions_init)]
        if not any(given):
            return None
        if not all(given):
            raise ValueError(
                "expected weights_init, means_init and precisions_init together, "
                "got only some of them"
            )
        k = check_positive_int(self.n_components, "n_components")
        weights = as_real_array(self.weights_init, "weights_init")
        if weights.shape != (k,):
            raise ValueError(f"expected weights_init of shape ({k},), got shape {weights.shape}")
        means = as_real_array(self.means_init, "means_init")
        if means.shape != (k, n_features):
            raise ValueError(
                f"expected means_init of shape {(k, n_features)}, got shape {means.shape}"
            )
        prec = _to_full(self.precisions_init, self.covariance_type, k, n_features,
                        "precisions_init")
        if not np.all(np.isfinite(prec)):
            raise ValueError("expected finite precisions_init, got NaN or inf")
        check_symmetric(prec, "precisions_init")
        if any(spd_cholesky(p) is None for p in prec):
            raise ValueError(
                "expected symmetric positive-definite precisions_init, got a singular or "
                "indefinite one"
            )
        cov = np.linalg.inv(prec)  # user-supplied precisions: invert once, here
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        return GMMParams(weights, means, cov, self.covariance_type)

    def fit(self, X, y=None):
        """Fit the mixture to ``X`` (n_samples, n_features); returns ``self``."""
        X = check_array(X)
        check_covariance_type(self.covariance_type)
        check_init(self.init_params)
        start = self._initial_params(X.shape[1])
        result = fit_em(
            X,
            self.n_components,
            covariance_type=self.covariance_type,
            init=self.init_params,
            n_init=self.n_init if start is None else 1,
            max_iter=self.max_iter,
            tol=self.tol,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
            initial_params=start,
        )
        self._set_fitted(result)
        return self

    def _set_fitted(self, result):
        p = result.params
        ct = self.covariance_type
        self.history_ = result
        self.params_ = p
        self.n_features_in_ = p.n_features
        self.weights_ = p.weights.copy()
        self.means_ = p.means.copy()
        self.covariances_ = _from_full(np.array(p.covariances), ct)
        eye = np.eye(p.n_features)
        # Precision Cholesky factor as scikit-learn: U = L^{-T}, so P = U U^T.
        prec_chol = np.array([np.linalg.solve(L, eye).T for L in p.cholesky_factors])
        prec = prec_chol @ np.swapaxes(prec_chol, 1, 2)
        if ct == "full":
            self.precisions_cholesky_, self.precisions_ = prec_chol, prec
        elif ct == "tied":
            self.precisions_cholesky_, self.precisions_ = prec_chol[0], prec[0]
        else:
            self.precisions_cholesky_ = _from_full(prec_chol, ct)
            self.precisions_ = _from_full(prec, ct)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.lower_bounds_ = result.mean_log_likelihoods
        self.lower_bound_ = float(self.lower_bounds_[-1])

    def _check_fitted(self, X):
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "This GaussianMixture is not fitted yet: call fit(X) before using this method"
            )
        X = check_array(X, n_features=self.n_features_in_)
        return X

    def fit_predict(self, X, y=None):
        """Fit, then return the most responsible component of every sample."""
        return self.fit(X).predict(X)

    def predict_proba(self, X):
        """Responsibilities, shape (n_samples, n_components)."""
        X = self._check_fitted(X)
        return np.exp(_e_step(X, self.params_)[0])

    def predict(self, X):
        """Index of the most responsible component, shape (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def score_samples(self, X):
        """Log-density ``log p(x_n)`` of every sample, shape (n_samples,)."""
        X = self._check_fitted(X)
        return _e_step(X, self.params_)[1]

    def score(self, X, y=None):
        """Mean per-sample log-likelihood."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """Draw ``(X, labels)`` from the fitted mixture (seeded by ``random_state``)."""
        if not hasattr(self, "params_"):
            raise NotFittedError("This GaussianMixture is not fitted yet: call fit(X) first")
        n_samples = check_positive_int(n_samples, "n_samples")
        return sample_gmm(self.params_, n_samples, random_state=self.random_state)

    def bic(self, X):
        """BIC of the fitted model on ``X`` (lower is better)."""
        X = self._check_fitted(X)
        return _bic(X, self.params_)

    def aic(self, X):
        """AIC of the fitted model on ``X`` (lower is better)."""
        X = self._check_fitted(X)
        return _aic(X, self.params_)


__all__ = ["GaussianMixture", "NotFittedError"]
