"""n_parameters, BIC/AIC, select_model and the GaussianMixture estimator vs scikit-learn."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGMM

import gmm_helpers as gh


@pytest.mark.parametrize(
    "covariance_type, expected", [("spherical", 13), ("diag", 21), ("tied", 26), ("full", 41)]
)
def test_n_parameters_exact(covariance_type, expected):
    assert gh.n_parameters(2, 5, covariance_type) == expected


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_bic_aic_match_sklearn(covariance_type):
    X, _, _ = gh.make_dataset("varied")
    sk = SkGMM(3, covariance_type=covariance_type, random_state=0, tol=1e-8).fit(X)
    cov = gh.mixture._to_full(sk.covariances_, covariance_type, 3, 2, "cov")
    p = gh.GMMParams(sk.weights_, sk.means_, cov, covariance_type)
    assert gh.bic(X, p) == pytest.approx(sk.bic(X), rel=1e-10)
    assert gh.aic(X, p) == pytest.approx(sk.aic(X), rel=1e-10)


def test_select_model_recovers_k():
    X, _, _ = gh.make_dataset("blobs", random_state=2)
    sel = gh.select_model(X, range(1, 7), covariance_types=("spherical", "full"), n_init=3)
    assert sel.best_n_components == 4
    assert set(sel.bic) == {"spherical", "full"} and sel.bic["full"].shape == (6,)
    # likelihood alone keeps improving with K (up to restarts), BIC does not
    assert sel.log_likelihood["full"][-1] > sel.log_likelihood["full"][3]
    i = sel.n_components_range.index(4)
    assert sel.bic[sel.best_covariance_type][i] == min(v.min() for v in sel.bic.values())
    np.testing.assert_allclose(
        sel.bic["full"], -2 * sel.log_likelihood["full"] + sel.n_parameters["full"] * np.log(500)
    )


def test_estimator_api(blobs):
    X, labels, _ = blobs
    gm = gh.GaussianMixture(4, random_state=0).fit(X)
    sk = SkGMM(4, random_state=0, tol=1e-8, n_init=3).fit(X)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(gm.predict(X), labels) > 0.98
    assert gm.score(X) == pytest.approx(sk.score(X), rel=1e-6)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert gm.score_samples(X).shape == (500,)
    Xs, ys = gm.sample(50)
    assert Xs.shape == (50, 2) and ys.shape == (50,)
    assert gm.bic(X) == pytest.approx(gh.bic(X, gm.params_))
    assert gm.history_.n_iter == gm.n_iter_ and gm.lower_bound_ == gm.lower_bounds_[-1]
    np.testing.assert_array_equal(gm.fit_predict(X), gm.predict(X))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_estimator_init_shapes(covariance_type):
    X, _, _ = gh.make_dataset("anisotropic")
    sk = SkGMM(3, covariance_type=covariance_type, random_state=0).fit(X)
    gm = gh.GaussianMixture(3, covariance_type=covariance_type, weights_init=sk.weights_,
                            means_init=sk.means_, precisions_init=sk.precisions_, max_iter=5)
    gm.fit(X)
    assert gm.covariances_.shape == sk.covariances_.shape
    assert gm.precisions_.shape == sk.precisions_.shape
    assert gm.history_.init == "given"
    start = gm.history_.history[0]
    np.testing.assert_allclose(start.weights, sk.weights_ / sk.weights_.sum())
    np.testing.assert_allclose(start.means, sk.means_)
    full_cov = gh.mixture._to_full(sk.covariances_, covariance_type, 3, 2, "cov")
    np.testing.assert_allclose(start.covariances, full_cov, rtol=1e-8)


def test_select_model_skips_fits_collapsed_onto_repeated_values():
    """Old Faithful's waiting times repeat (14 eruptions at exactly 83 min): a diag
    component can sit on them with variance reg_covar and an artificially high likelihood."""
    X = gh.load_old_faithful()
    sel = gh.select_model(X, range(1, 7), n_init=10, random_state=1)
    assert sel.degenerate["diag"].any()  # the collapse happens for this seed
    i = sel.n_components_range.index(sel.best_n_components)
    assert not sel.degenerate[sel.best_covariance_type][i]
    # the degenerate cell would have won on raw BIC
    raw_best = min(v.min() for v in sel.bic.values())
    assert raw_best < sel.bic[sel.best_covariance_type][i]
    assert (sel.best_covariance_type, sel.best_n_components) == ("tied", 3)  # as mclust (EEE, 3)
    keep = gh.select_model(X, range(1, 7), n_init=10, random_state=1, exclude_degenerate=False)
    j = keep.n_components_range.index(keep.best_n_components)
    assert keep.degenerate[keep.best_covariance_type][j]
    assert keep.bic[keep.best_covariance_type][j] == raw_best


def test_degenerate_flag_is_relative_to_reg_covar():
    """A large reg_covar must not flag healthy fits (review of notebook 06)."""
    X = gh.load_old_faithful()
    sel = gh.select_model(X, range(1, 5), covariance_types=("tied", "full"), n_init=3,
                          reg_covar=1e-2)
    assert not any(v.any() for v in sel.degenerate.values())


def test_select_model_bad_ranges_and_types():
    X = np.random.default_rng(0).standard_normal((40, 2))
    # an int range raised TypeError, an empty covariance_types blamed reg_covar
    with pytest.raises(ValueError, match="expected n_components_range to be an iterable"):
        gh.select_model(X, 3)
    with pytest.raises(ValueError, match="expected at least one covariance type"):
        gh.select_model(X, [1, 2], covariance_types=())
    # one string is one type, not its letters
    sel = gh.select_model(X, [1, 2], covariance_types="full", n_init=1)
    assert sel.covariance_types == ("full",)
    assert [row[:2] for row in sel.table("aic")] == [("full", 1), ("full", 2)]
    with pytest.raises(ValueError, match="expected criterion in"):
        sel.table("BIC")  # was AttributeError (and "results" or "n_samples" crashed later)


def test_select_model_refuses_a_constant_column():
    X = gh.make_dataset("blobs")[0].copy()
    X[:, 1] = 3.0
    with pytest.raises(ValueError, match="expected every column of X to vary"):
        gh.select_model(X, [1, 2])
