"""Data sets: synthetic mixtures with known answers, and Old Faithful."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

from ._validation import (
    check_array,
    check_nonnegative_float,
    check_positive_int,
    check_random_state,
)
from .params import GMMParams

OLD_FAITHFUL_COLUMNS = ("eruptions", "waiting")


def make_blobs(
    n_samples=100,
    centers=3,
    cluster_std=1.0,
    n_features=2,
    center_box=(-10.0, 10.0),
    shuffle=True,
    random_state=None,
):
    """Isotropic Gaussian blobs, with the meaning of scikit-learn's ``make_blobs``.

    Parameters
    ----------
    n_samples : int or sequence of int
        Total number of points (split as evenly as possible, the first centres
        taking the remainder), or the number of points per centre.
    centers : int or array-like of shape (n_centers, n_features)
        Number of centres to draw uniformly in ``center_box``, or the centres.
    cluster_std : float or sequence of float
        Standard deviation of each blob.
    n_features : int
        Used when ``centers`` is an int.
    center_box : (float, float)
    shuffle : bool
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    """
    rng = check_random_state(random_state)
    if np.isscalar(centers):
        n_centers = check_positive_int(centers, "centers")
        n_features = check_positive_int(n_features, "n_features")
        box = np.asarray(center_box, dtype=float)
        if box.shape != (2,) or not np.all(np.isfinite(box)):
            raise ValueError(f"expected center_box to be (low, high), got {center_box!r}")
        centers = rng.uniform(box[0], box[1], size=(n_centers, n_features))
    else:
        centers = check_array(centers, "centers")
        n_centers, n_features = centers.shape
    if np.isscalar(n_samples):
        total = check_positive_int(n_samples, "n_samples")
        counts = np.full(n_centers, total // n_centers)
        counts[: total % n_centers] += 1
    else:
        counts = np.asarray(n_samples)
        if (
            counts.shape != (n_centers,)
            or not np.issubdtype(counts.dtype, np.integer)
            or np.any(counts < 0)
        ):
            raise ValueError(
                f"expected n_samples to be an int or {n_centers} non-negative integer counts, "
                f"got {n_samples!r}"
            )
    std = np.asarray(cluster_std, dtype=float)
    if std.shape not in ((), (n_centers,)):
        raise ValueError(
            f"expected cluster_std to be a number or {n_centers} numbers (one per centre), "
            f"got shape {std.shape}"
        )
    std = np.broadcast_to(std, (n_centers,))
    if np.any(std <= 0) or not np.all(np.isfinite(std)):
        raise ValueError(f"expected positive cluster_std, got {cluster_std!r}")
    X = np.concatenate(
        [rng.normal(centers[j], std[j], size=(counts[j], n_features)) for j in range(n_centers)]
    )
    _check_finite_sample(X, "centers and cluster_std")
    labels = np.repeat(np.arange(n_centers), counts)
    if shuffle:
        order = rng.permutation(X.shape[0])
        X, labels = X[order], labels[order]
    return X, labels


def _check_finite_sample(X, what):
    # (sample_gmm cannot overflow: a finite covariance has sqrt(eigenvalue) < 1.4e154,
    # far below the rounding step of a mean near 1.8e308)
    if not np.all(np.isfinite(X)):
        raise ValueError(
            f"expected {what} small enough that every sample is finite (below 1.8e308), "
            f"got {int(np.size(X) - np.count_nonzero(np.isfinite(X)))} inf value(s)"
        )


def make_moons(n_samples=100, *, shuffle=True, noise=None, random_state=None):
    r"""Two interleaving half circles, with the meaning of scikit-learn's ``make_moons``.

    The outer moon is the upper unit half circle, $x = (\cos t, \sin t)$, the
    inner one the lower half circle $x = (1 - \cos t,\ \tfrac12 - \sin t)$, each with
    $t$ evenly spaced on $[0, \pi]$; then Gaussian noise of standard deviation
    ``noise`` is added to every coordinate. No Gaussian mixture with a few
    components describes this shape, which is what makes it a test of a mixture
    used as a flexible density (notebook 08).

    Parameters
    ----------
    n_samples : int or (int, int)
        Total number of points (the outer moon gets ``n_samples // 2``), or the
        number of points in the outer and in the inner moon.
    shuffle : bool
        Shuffle the points (and labels); otherwise the outer moon comes first.
    noise : None or float
        Standard deviation of the Gaussian noise added to each coordinate
        (``None``: no noise, the points lie on the two half circles).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    labels : ndarray of shape (n_samples,)
        0 for the outer moon, 1 for the inner one.
    """
    if isinstance(n_samples, (tuple, list)) and len(n_samples) == 2:
        n_out = check_positive_int(n_samples[0], "n_samples[0]", 0)
        n_in = check_positive_int(n_samples[1], "n_samples[1]", 0)
        if n_out + n_in < 1:
            raise ValueError(f"expected at least one point in total, got n_samples={n_samples!r}")
    elif isinstance(n_samples, (tuple, list)):
        raise ValueError(
            f"expected n_samples to be an int or a pair (n_outer, n_inner), got {n_samples!r}"
        )
    else:
        total = check_positive_int(n_samples, "n_samples")
        n_out = total // 2
        n_in = total - n_out
    if noise is not None:
        noise = check_nonnegative_float(noise, "noise")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"expected shuffle to be True or False, got {shuffle!r}")
    rng = check_random_state(random_state)
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [np.column_stack([np.cos(t_out), np.sin(t_out)]),
         np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)])]
    )
    labels = np.repeat([0, 1], [n_out, n_in])
    if shuffle:
        order = rng.permutation(len(X))
        X, labels = X[order], labels[order]
    if noise is not None:
        X += rng.normal(scale=noise, size=X.shape)
        if not np.all(np.isfinite(X)):
            raise ValueError(f"expected a noise level that keeps the points finite, got {noise}")
    return X, labels


def sample_gmm(params, n_samples, random_state=None):
    r"""Draw from a mixture by ancestral sampling.

    First $z_n \sim \mathrm{Categorical}(\pi)$, then
    $x_n \sim \mathcal{N}(\mu_{z_n}, \Sigma_{z_n})$, computed as
    $\mu + L\varepsilon$ with $\Sigma = LL^\top$ and $\varepsilon\sim\mathcal{N}(0, I)$.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
        The latent component $z_n$ of each point.
    """
    if not isinstance(params, GMMParams):
        raise ValueError(f"expected a GMMParams, got {type(params).__name__}")
    n_samples = check_positive_int(n_samples, "n_samples")
    rng = check_random_state(random_state)
    labels = rng.choice(params.n_components, size=n_samples, p=params.weights)
    eps = rng.standard_normal((n_samples, params.n_features))
    X = params.means[labels]
    for k in range(params.n_components):  # per component: no (N, D, D) temporary
        idx = labels == k
        X[idx] += eps[idx] @ params.cholesky_factors[k].T
    return X, labels


def load_old_faithful(standardize=False):
    """The Old Faithful geyser data: 272 eruptions (duration, waiting), in minutes.

    Shipped inside the package (``gmm_helpers/data/old_faithful.csv``, from R's
    ``datasets::faithful``; provenance in ``gmm_helpers/data/README.md``), so no
    network is needed. Columns: ``OLD_FAITHFUL_COLUMNS``.

    Parameters
    ----------
    standardize : bool
        Return z-scores of each column (as Bishop, Fig. 9.8).

    Returns
    -------
    ndarray of shape (272, 2)
    """
    text = resources.files("gmm_helpers").joinpath("data/old_faithful.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    if tuple(rows[0]) != OLD_FAITHFUL_COLUMNS:
        raise ValueError(f"expected columns {OLD_FAITHFUL_COLUMNS}, got {rows[0]}")
    X = np.array(rows[1:], dtype=np.float64)
    return globals()["standardize"](X) if standardize else X


def standardize(X):
    """Z-scores: subtract each column's mean, divide by its (population) standard deviation."""
    X = check_array(X)
    # scale each column by its largest |value| first, so x**2 can neither overflow
    # (|x| ~ 1e200) nor underflow (|x| ~ 1e-200) inside the standard deviation
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    centred = Xs - Xs.mean(axis=0)
    std = np.sqrt(np.mean(centred**2, axis=0))
    if np.any(std == 0):
        raise ValueError("expected every column to vary, got a constant column")
    return centred / std


def _rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _true_params(name):
    if name == "anisotropic":
        # Three elongated, rotated clusters (k-means' hard case, EM's easy one).
        angles = np.deg2rad([30.0, -45.0, 80.0])
        sds = [(2.0, 0.4), (1.8, 0.35), (1.5, 0.5)]
        cov = np.array([_rotation(a) @ np.diag(np.square(s)) @ _rotation(a).T
                        for a, s in zip(angles, sds)])
        return GMMParams([1 / 3, 1 / 3, 1 / 3], [[-4.0, 2.0], [3.0, 3.0], [0.0, -3.5]], cov)
    if name == "varied":
        # Different spreads and weights.
        sd = np.array([1.0, 2.2, 0.5])
        cov = sd[:, None, None] ** 2 * np.eye(2)
        return GMMParams([0.5, 0.3, 0.2], [[-3.0, -1.0], [4.0, 3.0], [2.0, -4.0]], cov)
    if name == "overlapping":
        # Three clusters close enough that the components overlap heavily.
        cov = np.array(
            [[[1.0, 0.3], [0.3, 0.8]], [[0.8, -0.2], [-0.2, 1.0]], [[1.2, 0.0], [0.0, 0.6]]]
        )
        return GMMParams([0.4, 0.35, 0.25], [[0.0, 0.0], [1.8, 1.2], [2.2, -1.0]], cov)
    raise KeyError(name)


DATASET_NAMES = ("blobs", "anisotropic", "varied", "overlapping")


def make_dataset(name, random_state=0):
    """One of the course's named 2-D data sets, with its true labels and parameters.

    ``"blobs"``
        500 points, 4 isotropic blobs with standard deviation 1.0, centres drawn
        in the box [-10, 10]^2 at least 4 apart (the project brief's data set).
    ``"anisotropic"``
        500 points from 3 long, rotated clusters.
    ``"varied"``
        500 points from 3 clusters with different spreads and weights.
    ``"overlapping"``
        500 points from 3 heavily overlapping clusters: EM's hard case.

    Returns
    -------
    X : ndarray of shape (500, 2)
    labels : ndarray of shape (500,)
    true_params : GMMParams
        The mixture the data were drawn from (for ``"blobs"``: equal weights,
        the drawn centres and ``I`` covariances).
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"expected name in {DATASET_NAMES}, got {name!r}")
    rng = check_random_state(random_state)
    if name == "blobs":
        # Redraw until the centres are at least 4 standard deviations apart, so
        # the four blobs are visibly separate (as in the project brief's picture).
        while True:
            centers = rng.uniform(-10.0, 10.0, size=(4, 2))
            gaps = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
            if gaps[np.triu_indices(4, 1)].min() >= 4.0:
                break
        X, labels = make_blobs(500, centers, 1.0, random_state=rng)
        params = GMMParams(np.full(4, 0.25), centers, np.broadcast_to(np.eye(2), (4, 2, 2)))
        return X, labels, params
    params = _true_params(name)
    X, labels = sample_gmm(params, 500, random_state=rng)
    return X, labels, params
