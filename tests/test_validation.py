"""Every bad input gets a clear ValueError at the public API."""

import numpy as np
import pytest

import gmm_helpers as gh

X = np.random.default_rng(0).standard_normal((50, 2))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(5), r"expected X of shape \(n_samples, n_features\), got shape \(5,\)"),
        (np.zeros((2, 3, 4)), r"got shape \(2, 3, 4\)"),
        (np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 2.0]]), "expected X to be finite"),
        (np.array([[1.0, np.inf], [0.0, 1.0], [2.0, 2.0]]), "NaN or inf"),
        (np.array([["a", "b"], ["c", "d"]]), "expected X to hold numbers"),
        ([[1, 2], [3]], "expected X to be an array-like of numbers"),
        (np.array([[1 + 1j, 2], [3, 4]]), "real numbers"),
    ],
)
def test_bad_X(bad, match):
    with pytest.raises(ValueError, match=match):
        gh.fit_em(bad, 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_components=0), "expected n_components >= 1, got 0"),
        (dict(n_components=2.5), "expected n_components to be an integer"),
        (dict(n_components=51), "expected at least n_components=51 samples, got 50"),
        (dict(n_components=2, init="kmeans+++"), "expected init in"),
        (dict(n_components=2, covariance_type="circular"), "expected covariance_type in"),
        (dict(n_components=2, tol=-1.0), "expected tol to be a finite number >= 0"),
        (dict(n_components=2, reg_covar=-1e-3), "reg_covar"),
        (dict(n_components=2, reg_covar=float("nan")), "reg_covar"),
        (dict(n_components=2, max_iter=-1), "expected max_iter >= 0"),
        (dict(n_components=2, n_init=0), "expected n_init >= 1"),
        (dict(n_components=2, random_state="abc"), "random_state"),
        # bool is an Integral: True used to seed default_rng(1) silently
        (dict(n_components=2, random_state=True), "expected random_state to be None, an int"),
    ],
)
def test_bad_arguments(kwargs, match):
    n = kwargs.pop("n_components")
    with pytest.raises(ValueError, match=match):
        gh.fit_em(X, n, **kwargs)


def test_initial_params_must_match():
    p3 = gh.GMMParams([1.0], [[0.0, 0.0, 0.0]], [np.eye(3)])
    with pytest.raises(ValueError, match="expected parameters for 2 feature"):
        gh.fit_em(X, 1, initial_params=p3)
    p2 = gh.GMMParams([1.0], [[0.0, 0.0]], [np.eye(2)])
    with pytest.raises(ValueError, match="expected initial_params with n_components=2"):
        gh.fit_em(X, 2, initial_params=p2)
    with pytest.raises(ValueError, match="expected a GMMParams"):
        gh.e_step(X, {"weights": [1.0]})


@pytest.mark.parametrize(
    "w, m, c, match",
    [
        ([0.5, 0.6], [[0, 0], [1, 1]], [np.eye(2)] * 2, "expected weights on the simplex"),
        ([1.5, -0.5], [[0, 0], [1, 1]], [np.eye(2)] * 2, "simplex"),
        ([0.5, 0.5], [[0, 0]], [np.eye(2)] * 2, r"expected means of shape \(2, n_features\)"),
        ([0.5, 0.5], [[0, 0], [1, 1]], [np.eye(2)], r"expected covariances of shape \(2, 2, 2\)"),
        ([0.5, 0.5], [[0, 0], [1, 1]], [[[1, 0.5], [0, 1]], np.eye(2)], "symmetric"),
        ([0.5, 0.5], [[0, 0], [1, 1]], [[[1, 2], [2, 1]], np.eye(2)], "positive-definite"),
        ([0.5, 0.5], [[0, np.nan], [1, 1]], [np.eye(2)] * 2, "finite means"),
        ([[0.5, 0.5]], [[0, 0], [1, 1]], [np.eye(2)] * 2, "expected weights of shape"),
    ],
)
def test_gmmparams_validation(w, m, c, match):
    with pytest.raises(ValueError, match=match):
        gh.GMMParams(w, m, c)


def test_gmmparams_bad_type_and_properties():
    with pytest.raises(ValueError, match="covariance_type"):
        gh.GMMParams([1.0], [[0.0]], [[[1.0]]], covariance_type="wrong")
    p = gh.GMMParams([0.25, 0.75], [[0, 0], [1, 1]], [np.eye(2)] * 2, "tied")
    assert p.n_components == 2 and p.n_features == 2
    assert p.weights.dtype == np.float64 and not p.weights.flags.writeable


def test_m_step_and_init_validate():
    with pytest.raises(ValueError, match="covariance_type"):
        gh.m_step(X, np.full((50, 2), 0.5), covariance_type="bad")
    with pytest.raises(ValueError, match="expected init in"):
        gh.init_params(X, 2, "kmeans--")
    with pytest.raises(ValueError, match="expected init in"):
        gh.kmeans(X, 2, init="nope")


def test_fewer_distinct_points_than_components():
    Xd = np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)
    for method in ("kmeans++", "kmeans", "random_from_data"):
        with pytest.raises(ValueError, match="distinct"):
            gh.init_params(Xd, 3, method, random_state=0)


def test_estimator_not_fitted():
    gm = gh.GaussianMixture(2)
    with pytest.raises(ValueError, match="not fitted yet"):
        gm.predict(X)
    with pytest.raises(ValueError, match="not fitted yet"):
        gm.sample(3)
    # weights_init alone is accepted now (tests/test_mixture_sklearn.py), but checked
    with pytest.raises(ValueError, match=r"expected weights_init of shape \(2,\)"):
        gh.GaussianMixture(2, weights_init=[0.2, 0.3, 0.5]).fit(X)
    gm.fit(X)
    with pytest.raises(ValueError, match=r"expected X with 2 feature"):
        gm.predict(np.zeros((3, 3)))


def test_gmmparams_zero_features_and_bad_permutations():
    # D = 0 gave NumPy's "zero-size array to reduction operation" message
    with pytest.raises(ValueError, match=r"expected means of shape \(1, n_features\)"):
        gh.GMMParams([1.0], np.zeros((1, 0)), np.zeros((1, 0, 0)))
    p = gh.GMMParams([0.25, 0.75], [[0, 0], [1, 1]], [np.eye(2)] * 2)
    assert p.permute((1, 0)).weights.tolist() == [0.75, 0.25]
    # [0, 0] was blamed on the simplex, [0, 1, 2] raised IndexError
    for order in ([0, 0], [1], [0, 1, 2], [0.0, 1.0]):
        with pytest.raises(ValueError, match=r"expected order to be a permutation of range\(2\)"):
            p.permute(order)


def test_estimator_checks_its_starting_values():
    def fit(**kw):
        start = dict(weights_init=[0.5, 0.5], means_init=[[0, 0], [1, 1]],
                     precisions_init=np.array([np.eye(2)] * 2))
        start.update(kw)
        return gh.GaussianMixture(2, max_iter=2, **start).fit(X)

    fit()
    # each message used to name the derived covariances/means instead of the argument
    with pytest.raises(ValueError, match=r"expected weights_init of shape \(2,\)"):
        fit(weights_init=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="expected finite precisions_init"):
        fit(precisions_init=np.array([np.eye(2) * np.nan] * 2))
    with pytest.raises(ValueError, match="positive-definite precisions_init"):
        fit(precisions_init=np.array([-np.eye(2)] * 2))
    with pytest.raises(ValueError, match="positive-definite precisions_init"):
        fit(precisions_init=np.zeros((2, 2, 2)))


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_one_symmetry_rule_everywhere(scale):
    """GMMParams, log_gaussian_pdf, NIWPrior and plot_cov_ellipse judge symmetry alike:
    relative asymmetry (to the largest entry) above 1e-8 is refused, below it accepted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def cov(rel):
        c = scale * np.array([[2.0, 0.5], [0.5, 1.0]])
        c[0, 1] += rel * 2.0 * scale  # relative to the largest entry, 2 * scale
        return c

    X = np.zeros((3, 2))
    checks = [
        lambda c: gh.GMMParams([1.0], [[0.0, 0.0]], [c]),
        lambda c: gh.log_gaussian_pdf(X, [0.0, 0.0], c),
        lambda c: gh.NIWPrior(1.0, [0.0, 0.0], 1.0, c, 3.0),
        lambda c: gh.plot_cov_ellipse([0.0, 0.0], c, ax=plt.figure().add_subplot()),
    ]
    for check in checks:
        check(cov(5e-9))  # round-off level: accepted
        with pytest.raises(ValueError, match="expected symmetric"):
            check(cov(2e-8))
    plt.close("all")


# --- the trusted constructor of engine-built parameters (issue 14) ------------------------
def _engine_arrays(k=3, d=2, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, d, d))
    cov = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(d)
    w = rng.uniform(0.1, 1, k)
    return w / w.sum(), rng.standard_normal((k, d)), cov


def test_trusted_params_equal_validated_ones_bit_for_bit():
    from gmm_helpers import GMMParams

    w, m, c = _engine_arrays()
    full = GMMParams(w, m, c, "full")
    trusted = GMMParams._trusted(w.copy(), m.copy(), c.copy(), "full")
    assert trusted == full
    assert np.array_equal(trusted.cholesky_factors, full.cholesky_factors)
    for arr in (trusted.weights, trusted.means, trusted.covariances, trusted.cholesky_factors):
        assert not arr.flags.writeable


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda w, m, c: c.__setitem__((1, 0, 0), 0.0), "positive-definite"),
        (lambda w, m, c: c.__setitem__(1, np.ones((2, 2))), "positive-definite"),  # singular
        (lambda w, m, c: m.__setitem__((0, 1), np.nan), "finite means"),
        (lambda w, m, c: w.__setitem__(0, np.inf), "finite weights"),
    ],
)
def test_trusted_params_fall_back_to_the_full_message(spoil, message):
    from gmm_helpers import GMMParams

    w, m, c = _engine_arrays()
    spoil(w, m, c)
    with pytest.raises(ValueError, match=message):
        GMMParams._trusted(w, m, c, "full")


def test_engine_m_step_still_reports_a_singular_component():
    import gmm_helpers as gh

    X = np.r_[np.zeros((5, 2)), np.random.default_rng(0).standard_normal((50, 2))]
    start = gh.GMMParams([0.5, 0.5], [[0.0, 0.0], [0.1, 0.1]],
                         [np.eye(2) * 1e-3, np.eye(2)])
    with pytest.raises(ValueError, match="Increase reg_covar"):
        gh.em_iterations(X, start, reg_covar=0.0, max_iter=50)


@pytest.mark.parametrize("shape, order", [((1000, 2), "C"), ((1000, 2), "F"), ((300, 11), "C"),
                                          ((1, 1), "C"), ((500, 3), "F")])
def test_column_extremes_equal_numpys_axis_reduction(shape, order):
    from gmm_helpers._validation import column_extremes

    X = np.asarray(np.random.default_rng(0).standard_normal(shape), order=order)
    X[0, 0] = -0.0 if X.shape[0] > 1 else X[0, 0]
    lo, hi = column_extremes(X)
    np.testing.assert_array_equal(lo, X.min(axis=0))
    np.testing.assert_array_equal(hi, X.max(axis=0))
    lo, hi = column_extremes(X[::3])  # a strided view
    np.testing.assert_array_equal(lo, X[::3].min(axis=0))
