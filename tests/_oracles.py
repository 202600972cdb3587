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
