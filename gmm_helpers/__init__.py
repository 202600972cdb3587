"""gmm_helpers: Gaussian Mixture Models fitted by Expectation-Maximization, in NumPy.

The algorithms use NumPy only; ``plotting`` needs matplotlib and ``widgets``
needs ipywidgets (install the ``plot`` / ``widgets`` extras). Each function's
docstring names the notebook that derives it.
"""

from .datasets import (
    DATASET_NAMES,
    OLD_FAITHFUL_COLUMNS,
    load_old_faithful,
    make_blobs,
    make_dataset,
    sample_gmm,
    standardize,
)
from .em import EMResult, fit_em
from .estep import e_step, log_likelihood, score_samples
from .gaussian import component_log_densities, log_gaussian_pdf, logsumexp
from .init import init_params
from .kmeans import KMeansResult, kmeans
from .mixture import GaussianMixture, NotFittedError
from .model_selection import ModelSelection, aic, bic, n_parameters, select_model
from .mstep import m_step
from .params import GMMParams

__version__ = "0.1.0"

__all__ = [
    "DATASET_NAMES",
    "EMResult",
    "GMMParams",
    "GaussianMixture",
    "KMeansResult",
    "ModelSelection",
    "NotFittedError",
    "OLD_FAITHFUL_COLUMNS",
    "aic",
    "bic",
    "component_log_densities",
    "e_step",
    "fit_em",
    "init_params",
    "kmeans",
    "load_old_faithful",
    "log_gaussian_pdf",
    "log_likelihood",
    "logsumexp",
    "m_step",
    "make_blobs",
    "make_dataset",
    "n_parameters",
    "sample_gmm",
    "score_samples",
    "select_model",
    "standardize",
]


def __getattr__(name):
    # Plotting and widgets are imported lazily, so `import gmm_helpers` needs NumPy only.
    from importlib import import_module

    for module in ("plotting", "widgets", "bayes", "suffstats"):
        try:
            mod = import_module(f".{module}", __name__)
        except ImportError as exc:
            if module in ("plotting", "widgets") and name in _LAZY.get(module, ()):
                raise ImportError(
                    f"gmm_helpers.{name} needs the optional dependencies of '{module}': "
                    f"pip install 'gmm-helpers[{'plot' if module == 'plotting' else 'widgets'}]' "
                    f"({exc})"
                ) from exc
            continue
        if name in getattr(mod, "__all__", ()):
            return getattr(mod, name)
    raise AttributeError(f"module 'gmm_helpers' has no attribute {name!r}")


_LAZY = {"plotting": (), "widgets": ()}
