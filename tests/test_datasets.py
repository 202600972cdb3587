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


def test_make_moons_without_noise_is_sklearns_point_set():
    # test-only oracle: without noise and unshuffled, the points are deterministic
    from sklearn.datasets import make_moons as sk_make_moons

    for n in (1, 2, 7, 100, (3, 5), (0, 4)):
        X, y = gh.make_moons(n, shuffle=False)
        X_sk, y_sk = sk_make_moons(n, shuffle=False)
        np.testing.assert_allclose(X, X_sk, atol=1e-15)
        np.testing.assert_array_equal(y, y_sk)


def test_make_moons_noisy_shape_and_range_match_sklearn():
    from sklearn.datasets import make_moons as sk_make_moons

    X, y = gh.make_moons(4000, noise=0.1, random_state=0)
    X_sk, y_sk = sk_make_moons(4000, noise=0.1, random_state=0)
    assert X.shape == X_sk.shape == (4000, 2) and X.dtype == np.float64
    assert np.bincount(y).tolist() == np.bincount(y_sk).tolist() == [2000, 2000]
    for k in (0, 1):  # per moon: the same mean and spread as sklearn's, up to sampling noise
        np.testing.assert_allclose(X[y == k].mean(0), X_sk[y_sk == k].mean(0), atol=0.03)
        np.testing.assert_allclose(X[y == k].std(0), X_sk[y_sk == k].std(0), atol=0.03)
        np.testing.assert_allclose(X[y == k].min(0), X_sk[y_sk == k].min(0), atol=0.15)
        np.testing.assert_allclose(X[y == k].max(0), X_sk[y_sk == k].max(0), atol=0.15)
    # the noise: distance to the moon's circle is about |N(0, 0.1^2 I)| in the normal direction
    centre = np.where(y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    radial = np.linalg.norm(X - centre, axis=1) - 1.0
    assert abs(radial.std() - 0.1) < 0.01 and abs(radial.mean()) < 0.01


def test_make_moons_shuffle_and_seed():
    X1, y1 = gh.make_moons(50, noise=0.05, random_state=3)
    X2, y2 = gh.make_moons(50, noise=0.05, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1, np.sort(y1))          # shuffled
    X3, _ = gh.make_moons(50, noise=0.05, random_state=4)
    assert not np.allclose(X1, X3)
    X, y = gh.make_moons(9, shuffle=False, random_state=0)
    assert y.tolist() == [0] * 4 + [1] * 5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_samples=0), "expected n_samples >= 1, got 0"),
        (dict(n_samples=2.5), "expected n_samples to be an integer >= 1, got 2.5"),
        (dict(n_samples=(3,)), r"expected n_samples to be an int or a pair \(n_outer, n_inner\)"),
        (dict(n_samples=(2, -1)), r"expected n_samples\[1\] >= 0, got -1"),
        (dict(n_samples=(0, 0)), "expected at least one point in total"),
        (dict(noise=-0.1), "expected noise to be a finite number >= 0, got -0.1"),
        (dict(noise="0.1"), "expected noise to be a non-negative number, got '0.1'"),
        (dict(noise=1e308), "expected a noise level that keeps the points finite"),
        (dict(shuffle="yes"), "expected shuffle to be True or False, got 'yes'"),
        (dict(random_state=-1), "expected random_state >= 0, got -1"),
    ],
)
def test_make_moons_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gh.make_moons(**({"n_samples": 10, "random_state": 0} | kwargs))
