"""Lloyd's k-means with k-means++ seeding (used to initialise EM)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import (
    check_array,
    check_data_scale,
    check_n_components,
    check_positive_int,
    check_random_state,
)


class KMeansResult(NamedTuple):
    """Output of :func:`kmeans`."""

    centers: np.ndarray  #: (n_clusters, n_features)
    labels: np.ndarray  #: (n_samples,) int
    inertia: float  #: sum of squared distances to the assigned centre
    n_iter: int  #: Lloyd iterations run


def _squared_distances(X, centers):
    """(N, K) squared Euclidean distances, computed from differences (no cancellation)."""
    out = np.empty((X.shape[0], centers.shape[0]))
    for j, c in enumerate(centers):
        diff = X - c
        out[:, j] = np.einsum("nd,nd->n", diff, diff)
    return out


def _n_distinct_rows(X):
    return np.unique(X, axis=0).shape[0]


def kmeans_plusplus(X, n_clusters, rng):
    r"""k-means++ seeding (Arthur & Vassilvitskii, 2007).

    The first centre is a uniformly random data point; each next one is a data
    point drawn with probability proportional to $D(x)^2$, its squared distance to
    the nearest centre chosen so far. Points already chosen have $D(x) = 0$, so
    no two centres coincide.

    Returns
    -------
    ndarray of shape (n_clusters, n_features)
    """
    n = X.shape[0]
    centers = np.empty((n_clusters, X.shape[1]))
    centers[0] = X[rng.integers(n)]
    d2 = _squared_distances(X, centers[:1])[:, 0]
    for j in range(1, n_clusters):
        total = d2.sum()
        if total <= 0:
            raise ValueError(
                f"expected at least n_clusters={n_clusters} distinct points, "
                f"got {_n_distinct_rows(X)}"
            )
        idx = rng.choice(n, p=d2 / total)
        centers[j] = X[idx]
        d2 = np.minimum(d2, _squared_distances(X, centers[j : j + 1])[:, 0])
    return centers


def random_distinct_rows(X, n, rng):
    """``n`` distinct rows of ``X`` chosen uniformly at random, shape (n, D)."""
    uniq = np.unique(X, axis=0)
    if uniq.shape[0] < n:
        raise ValueError(f"expected at least {n} distinct points, got {uniq.shape[0]}")
    if uniq.shape[0] == X.shape[0]:
        return X[rng.choice(X.shape[0], size=n, replace=False)]
    return uniq[rng.choice(uniq.shape[0], size=n, replace=False)]


def _lloyd(X, centers, max_iter):
    labels = None
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        d2 = _squared_distances(X, centers)
        new_labels = np.argmin(d2, axis=1)
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        centers = centers.copy()
        counts = np.bincount(labels, minlength=centers.shape[0])
        for j in range(centers.shape[0]):
            if counts[j] > 0:
                centers[j] = X[labels == j].mean(axis=0)
            else:
                # Empty cluster: move it to the point worst served by its centre.
                far = int(np.argmax(d2[np.arange(X.shape[0]), labels]))
                centers[j] = X[far]
                labels[far] = j
                d2[far] = 0.0
    d2 = _squared_distances(X, centers)
    labels = np.argmin(d2, axis=1)
    inertia = float(d2[np.arange(X.shape[0]), labels].sum())
    return KMeansResult(centers, labels, inertia, n_iter)


def kmeans(X, n_clusters, init="k-means++", max_iter=300, random_state=None):
    r"""Lloyd's algorithm: minimise $\sum_n \lVert x_n - c_{z_n}\rVert^2$.

    Alternates assigning each point to its nearest centre and moving each
    centre to the mean of its points, until the assignment stops changing
    (k-means is EM's hard-assignment, equal-spherical-covariance limit).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    init : {"k-means++", "kmeans++", "random"}
        k-means++ seeding (either spelling), or ``n_clusters`` distinct data points at random.
    max_iter : int
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    KMeansResult
        ``centers`` (n_clusters, n_features), ``labels`` (n_samples,),
        ``inertia``, ``n_iter``.
    """
    X = check_data_scale(check_array(X))
    n_clusters = check_n_components(n_clusters, X.shape[0])
    max_iter = check_positive_int(max_iter, "max_iter")
    rng = check_random_state(random_state)
    if init in ("k-means++", "kmeans++"):  # fit_em spells it "kmeans++": accept both
        centers = kmeans_plusplus(X, n_clusters, rng)
    elif init == "random":
        centers = random_distinct_rows(X, n_clusters, rng)
    else:
        raise ValueError(f"expected init in ('k-means++', 'kmeans++', 'random'), got {init!r}")
    return _lloyd(X, centers, max_iter)
