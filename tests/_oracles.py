"""Helpers shared by the tests that use scikit-learn as an oracle."""

import numpy as np


def sklearn_precisions(params, covariance_type):
    """``precisions_init`` in scikit-learn's shape for ``covariance_type`` (from GMMParams)."""
    prec = np.linalg.inv(params.covariances)
    if covariance_type == "full":
        return prec
    if covariance_type == "tied":
        return prec[0]
    diag = np.diagonal(prec, axis1=1, axis2=2)
    return diag if covariance_type == "diag" else diag[:, 0]


def sklearn_rtol(scale, shift, covariance_type, n_iter):
    """Relative tolerance for our EM against scikit-learn's, same start, ``n_iter`` iterations.

    Set by the conditioning of the two computations, not by one machine's rounding:

    * floor 1e-10: both do O(1)-conditioned float64 arithmetic (~1e-14 seen); 1e-10 leaves
      room for any BLAS kernel or SIMD level.
    * data of spread ``scale`` shifted by ``shift``: scikit-learn's tied/diag/spherical
      M-steps use the one-pass formula E[x^2] - mu^2, whose relative error is
      eps * (shift/scale)^2 (~1e-8 at shift 1e4, scale 1.4); its "full" M-step centres the
      data first and loses only eps * shift/scale. Such an error in a covariance moves the next
      responsibilities by up to a squared Mahalanobis distance (<~ 10) times as much, and EM on
      overlapping clusters barely damps it, so it adds up over the iterations: 10 * n_iter *
      per-step error, times 4 for safety.
    """
    eps = np.finfo(np.float64).eps
    ratio = shift / scale
    per_step = eps * (ratio if covariance_type == "full" else ratio**2)
    return 1e-10 + 40 * n_iter * per_step
