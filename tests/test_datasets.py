"""Data sets: shapes, known answers, provenance."""

import numpy as np
import pytest

import gmm_helpers as gh


def test_old_faithful_matches_provenance():
    X = gh.load_old_faithful()
    assert X.shape == (272, 2)
    np.testing.assert_allclose(X.mean(0), [3.487783, 70.897059], atol=1e-6)
    np.testing.assert_allclose(X.std(0, ddof=1), [1.141371, 13.594974], atol=1e-6)
    Z = gh.load_old_faithful(standardize=True)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(0), 1)


def test_old_faithful_two_clusters():
    res = gh.fit_em(gh.load_old_faithful(standardize=True), 2, random_state=0)
    # the classic answer: a short and a long eruption mode, roughly 35% / 65%
    np.testing.assert_allclose(np.sort(res.params.weights), [0.356, 0.644], atol=0.01)


@pytest.mark.parametrize("name", gh.DATASET_NAMES)
def test_make_dataset(name):
    X, labels, params = gh.make_dataset(name, random_state=0)
    assert X.shape == (500, 2) and labels.shape == (500,)
    assert params.n_components == len(np.unique(labels))
    X2, _, _ = gh.make_dataset(name, random_state=0)
    np.testing.assert_array_equal(X, X2)
    for k in range(params.n_components):
        np.testing.assert_allclose(X[labels == k].mean(0), params.means[k],
                                   atol=4 * np.sqrt(params.covariances[k].max() / 100) + 0.05)


def test_make_dataset_unknown():
    with pytest.raises(ValueError, match="expected name in"):
        gh.make_dataset("spirals")


def test_make_blobs_counts_and_std():
    X, y = gh.make_blobs([100, 300], centers=[[0, 0], [10, 10]], cluster_std=[0.5, 2.0],
                         random_state=1)
    assert np.bincount(y).tolist() == [100, 300]
    np.testing.assert_allclose(X[y == 1].std(0), 2.0, rtol=0.15)
    X, y = gh.make_blobs(10, 3, random_state=0)
    assert np.bincount(y).tolist() == [4, 3, 3]


def test_sample_gmm_moments():
    p = gh.GMMParams([0.2, 0.8], [[0, 0], [5, 5]], [[[1, 0.8], [0.8, 1]], np.eye(2) * 0.5])
    X, z = gh.sample_gmm(p, 20000, random_state=0)
    assert abs((z == 0).mean() - 0.2) < 0.01
    np.testing.assert_allclose(np.cov(X[z == 0].T), p.covariances[0], atol=0.05)


def test_make_blobs_rejects_mismatched_lengths():
    # a cluster_std of the wrong length raised NumPy's broadcast error, and
    # fractional counts were truncated silently
    with pytest.raises(ValueError, match="expected cluster_std to be a number or 3 numbers"):
        gh.make_blobs(30, 3, cluster_std=[1.0, 2.0], random_state=0)
    with pytest.raises(ValueError, match="non-negative integer counts"):
        gh.make_blobs([10.5, 3], 2, random_state=0)
    with pytest.raises(ValueError, match=r"expected center_box to be \(low, high\), got 5"):
        gh.make_blobs(10, 2, center_box=5)  # was TypeError: 'int' object is not subscriptable
    X, labels = gh.make_blobs([4, 0, 2], 3, cluster_std=[1.0, 2.0, 0.5], random_state=0)
    assert X.shape == (6, 2) and np.bincount(labels, minlength=3).tolist() == [4, 0, 2]
