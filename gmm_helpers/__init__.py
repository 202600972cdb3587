"""gmm_helpers: Gaussian Mixture Models fitted by Expectation-Maximization, in NumPy.

The algorithms use NumPy only; ``plotting`` and ``player`` (the kernel-free EM
player) need matplotlib, and ``widgets`` (the live explorer) needs ipywidgets
(install the ``plot`` / ``widgets`` extras). Each function's docstring names the
notebook that derives it.
"""

from ._special import digamma, gammaln, multivariate_gammaln
from ._threads import default_n_threads
from .bayes import (
    MAPEMResult,
    NIWPrior,
    default_map_prior,
    default_variational_prior,
    fit_map_em,
    log_dirichlet_pdf,
    log_niw_pdf,
    map_log_prior,
    map_m_step,
)

# the project's checks of a student's own code (NumPy only; check_ellipse imports matplotlib)
from .checks import (
    CheckResult,
    check_e_step,
    check_ellipse,
    check_em,
    check_log_gaussian_pdf,
    check_logsumexp,
    check_m_step,
)
from .datasets import (
    DATASET_NAMES,
    OLD_FAITHFUL_COLUMNS,
    load_old_faithful,
    make_blobs,
    make_dataset,
    make_moons,
    sample_gmm,
    standardize,
)
from .em import EMResult, fit_em
from .estep import e_step, log_likelihood, score_samples
from .gaussian import component_log_densities, log_gaussian_pdf, logsumexp
from .init import init_params
from .kmeans import KMeansResult, kmeans
from .mixture import ConvergenceWarning, GaussianMixture, NotFittedError
from .model_selection import ModelSelection, aic, bic, n_parameters, select_model
from .mstep import m_step
from .params import GMMParams
from .suffstats import (
    EXP_FLOOR,
    SufficientStatistics,
    compute_statistics,
    em_iterations,
    params_from_statistics,
    quadratic_features,
    responsibilities_chunked,
)
from .variational import (
    VariationalPosterior,
    VariationalResult,
    elbo,
    fit_variational,
    variational_e_step,
    variational_m_step,
)

__version__ = "0.1.0"

# Names from the optional-dependency modules, imported on first use so that
# `import gmm_helpers` needs NumPy only (tests/test_api.py keeps these lists in
# sync with each module's __all__).
_LAZY = {
    "plotting": (
        "COMPONENT_COLORS",
        "component_colors",
        "mix_colors",
        "snapshot_iterations",
        "plot_cov_ellipse",
        "plot_gmm",
        "plot_em_snapshots",
        "plot_log_likelihood",
        "plot_density",
        "save_em_animation",
        "plot_bic",
    ),
    "player": ("EMFigure", "EMPlayer", "em_player"),
    "widgets": ("EMExplorer", "em_explorer"),
    "distributed": ("DaskEMResult", "dask_statistics", "fit_em_dask", "responsibilities_dask"),
}
_EXTRA = {"plotting": "plot", "player": "plot", "widgets": "widgets", "distributed": "scale"}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}

# Every public name, the ones the notebooks and the README use as gh.<name> included
# (tests/test_api.py checks that). The optional-dependency names come last, imported lazily.
__all__ = [
    "ConvergenceWarning",
    "DATASET_NAMES",
    "EMResult",
    "EXP_FLOOR",
    "GMMParams",
    "GaussianMixture",
    "KMeansResult",
    "MAPEMResult",
    "ModelSelection",
    "NIWPrior",
    "NotFittedError",
    "OLD_FAITHFUL_COLUMNS",
    "SufficientStatistics",
    "VariationalPosterior",
    "VariationalResult",
    "aic",
    "bic",
    "component_log_densities",
    "compute_statistics",
    "default_n_threads",
    "default_map_prior",
    "default_variational_prior",
    "digamma",
    "e_step",
    "elbo",
    "em_iterations",
    "fit_em",
    "fit_map_em",
    "fit_variational",
    "gammaln",
    "init_params",
    "kmeans",
    "load_old_faithful",
    "log_dirichlet_pdf",
    "log_gaussian_pdf",
    "log_likelihood",
    "log_niw_pdf",
    "logsumexp",
    "m_step",
    "make_blobs",
    "make_dataset",
    "make_moons",
    "map_log_prior",
    "map_m_step",
    "multivariate_gammaln",
    "n_parameters",
    "params_from_statistics",
    "quadratic_features",
    "responsibilities_chunked",
    "sample_gmm",
    "score_samples",
    "select_model",
    "standardize",
    "variational_e_step",
    "variational_m_step",
    "CheckResult",
    "check_e_step",
    "check_ellipse",
    "check_em",
    "check_log_gaussian_pdf",
    "check_logsumexp",
    "check_m_step",
    *_LAZY_NAMES,
]


def __getattr__(name):
    # only the optional-dependency modules are imported on first use
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'gmm_helpers' has no attribute {name!r}")
    from importlib import import_module

    try:
        mod = import_module(f".{module}", __name__)
    except ImportError as exc:
        raise ImportError(
            f"gmm_helpers.{name} needs the optional dependencies of gmm_helpers.{module}: "
            f"pip install 'gmm-helpers[{_EXTRA[module]}]' ({exc})"
        ) from exc
    return getattr(mod, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
