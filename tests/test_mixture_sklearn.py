"""gh.GaussianMixture as a drop-in for scikit-learn's (issue 18).

One test (or more) per item of "What a user switching from scikit-learn hits", the
README's "Using it with scikit-learn" code run as written, ``check_estimator``, and
the guarantee that the fits that existed before give exactly ``fit_em``'s numbers.
"""

import json
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn.exceptions
from sklearn.base import clone
from sklearn.mixture import GaussianMixture as SkGMM
from sklearn.model_selection import KFold

import gmm_helpers as gh
from gmm_helpers.kmeans import kmeans_plusplus

ROOT = Path(__file__).resolve().parents[1]
TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def X():
    return gh.make_dataset("overlapping", random_state=3)[0]


def _run(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert out.returncode == 0, out.stderr
    return out.stdout


# -- check_estimator ------------------------------------------------------------------

CHECK_ESTIMATOR = """
import json, warnings
import gmm_helpers as gh
from sklearn.utils import estimator_checks as ec
seen = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # e.g. "does not inherit from BaseEstimator"
    ec.check_estimator(gh.GaussianMixture(), on_fail=None,
                       callback=lambda **kw: seen.append([kw["check_name"], kw["status"],
                                                          repr(kw["exception"])]))
    # scikit-learn runs its pandas check outside check_estimator (its test_common.py)
    ec.check_dataframe_column_names_consistency("GaussianMixture", gh.GaussianMixture())
    seen.append(["check_dataframe_column_names_consistency", "passed", "None"])
print(json.dumps(seen))
"""


def test_check_estimator_passes_with_no_check_switched_off():
    """Every check scikit-learn yields for a density estimator runs and passes.

    In a fresh process with ``SCIPY_ARRAY_API=1`` (read when SciPy is first imported),
    so that ``check_array_api_input`` runs instead of being skipped; pandas is installed
    (test extra), so the DataFrame check runs too (scikit-learn 1.9 keeps
    ``check_dataframe_column_names_consistency`` outside ``check_estimator``: it is called
    here as scikit-learn's own test_common.py does). No ``expected_failed_checks``.
    """
    seen = json.loads(_run(CHECK_ESTIMATOR, env={"SCIPY_ARRAY_API": "1"}))
    bad = [s for s in seen if s[1] != "passed"]
    assert bad == [], bad
    names = {s[0] for s in seen}
    for name in ("check_dataframe_column_names_consistency", "check_estimators_unfitted",
                 "check_n_features_in_after_fitting", "check_dtype_object",
                 "check_array_api_input", "check_fit_idempotent", "check_estimators_pickle"):
        assert name in names
    assert len(seen) >= 42


def test_import_stays_numpy_only_and_works_without_sklearn():
    # fitting, warning and raising do not load scikit-learn...
    plain = _run(
        "import sys, warnings, gmm_helpers as gh\n"
        "X = gh.make_dataset('blobs')[0]\n"
        "gm = gh.GaussianMixture(4, random_state=0)\n"
        "try:\n    gm.predict(X)\nexcept gh.NotFittedError as e:\n    err = e\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    gh.GaussianMixture(4, max_iter=1, random_state=0).fit(X)\n"
        "gm.set_params(n_components=3).fit(X)\n"
        "print(type(err) is gh.NotFittedError, w[0].category is gh.ConvergenceWarning,\n"
        "      [m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas', 'scipy')])"
    )
    assert plain.split() == ["True", "True", "[]"]
    # ...and where it cannot be imported, there are no tags and everything else works
    blocked = _run(
        "import sys; sys.modules['sklearn'] = None\n"
        "import gmm_helpers as gh\n"
        "gm = gh.GaussianMixture(2, random_state=0)\n"
        "print(hasattr(gm, '__sklearn_tags__'), sorted(gm.get_params())[:2],\n"
        "      round(gm.fit(gh.make_dataset('blobs')[0]).score(gh.make_dataset('blobs')[0]), 3))"
    )
    assert blocked.split()[:3] == ["False", "['covariance_type',", "'init_params']"]


# -- clone, Pipeline, GridSearchCV: get_params / set_params -----------------------------

def test_get_params_set_params_and_clone(X):
    import inspect

    gm = gh.GaussianMixture(3, tol=1e-4, means_init=np.zeros((3, 2)), warm_start=True)
    names = set(inspect.signature(gh.GaussianMixture).parameters)
    assert set(gm.get_params()) == names and gm.get_params()["tol"] == 1e-4
    assert gm.set_params(n_components=2, verbose=1) is gm
    assert (gm.n_components, gm.verbose) == (2, 1)
    with pytest.raises(ValueError, match=r"Invalid parameter 'n_component'.*expected one of"):
        gm.set_params(n_component=4)
    twin = clone(gm)
    assert twin is not gm and not hasattr(twin, "params_")
    assert twin.get_params().keys() == gm.get_params().keys()
    assert twin.means_init is not gm.means_init  # clone copies parameters
    np.testing.assert_array_equal(twin.means_init, gm.means_init)
    assert repr(gh.GaussianMixture(3, random_state=0)) == (
        "GaussianMixture(n_components=3, random_state=0)")
    assert gh.GaussianMixture().__sklearn_tags__().estimator_type == "density_estimator"


def _readme_sklearn_code():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Using it with scikit-learn"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_readme_gridsearch_and_pipeline_code(capsys):
    """Runs the README's code exactly, then recomputes what it printed independently."""
    ns = {}
    exec(compile(_readme_sklearn_code(), "README.md", "exec"), ns)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    search, pipe, X = ns["search"], ns["pipe"], ns["X"]
    assert printed[0] == "{'n_components': 4}"  # the blobs data set has 4 clusters
    # GridSearchCV's score = -BIC on each held-out fold (KFold(5), no shuffle), by hand
    for i, k in enumerate(range(1, 8)):
        folds = [-gh.GaussianMixture(k, random_state=0).fit(X[tr]).bic(X[te])
                 for tr, te in KFold(5).split(X)]
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(np.mean(folds),
                                                                         rel=1e-12)
    assert search.best_estimator_.n_features_in_ == 2
    assert search.best_estimator_.bic(X) == pytest.approx(
        gh.GaussianMixture(4, random_state=0).fit(X).bic(X), rel=1e-12)  # refit on all of X
    # the pipeline = standardise by hand, then fit; scikit-learn's estimator agrees
    Z = (X - X.mean(0)) / X.std(0)
    assert float(printed[1]) == pytest.approx(
        gh.GaussianMixture(4, random_state=0).fit(Z).score(Z), rel=1e-12)
    assert float(printed[1]) == pytest.approx(SkGMM(4, tol=1e-8, random_state=0).fit(Z).score(Z),
                                              rel=1e-6)
    np.testing.assert_array_equal(pipe.predict(X), pipe[-1].predict(Z))


# -- the fits that existed before: exactly fit_em's numbers ------------------------------

@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("ours, theirs", [("kmeans", "kmeans++"), ("random", "random"),
                                          ("random_from_data", "random_from_data")])
def test_fit_is_exactly_fit_em(X, covariance_type, ours, theirs):
    for kw in (dict(n_init=3, random_state=1), dict(max_iter=7, random_state=2)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gh.ConvergenceWarning)
            gm = gh.GaussianMixture(3, covariance_type=covariance_type, init_params=ours,
                                    **kw).fit(X)
        ref = gh.fit_em(X, 3, covariance_type=covariance_type, init=theirs, **kw)
        np.testing.assert_array_equal(gm.weights_, ref.params.weights)
        np.testing.assert_array_equal(gm.means_, ref.params.means)
        np.testing.assert_array_equal(gm.params_.covariances, ref.params.covariances)
        np.testing.assert_array_equal(gm.lower_bounds_, ref.mean_log_likelihoods)
        assert (gm.n_iter_, gm.converged_) == (ref.n_iter, ref.converged)


def test_full_start_is_exactly_fit_em_from_initial_params(X):
    start = gh.init_params(X, 3, "random_from_data", random_state=5)
    prec = np.linalg.inv(start.covariances)
    gm = gh.GaussianMixture(3, weights_init=start.weights, means_init=start.means,
                            precisions_init=prec, n_init=4).fit(X)
    ref = gh.fit_em(X, 3, initial_params=gm.history_.history[0])
    np.testing.assert_array_equal(gm.means_, ref.params.means)
    np.testing.assert_allclose(gm.history_.history[0].covariances, start.covariances, rtol=1e-12)
    assert gm.history_.run_n_iter.shape == (1,)  # one run: every restart would be the same


# -- init_params: scikit-learn's names, scikit-learn's meanings --------------------------

def test_kmeans_plusplus_spelling_is_the_seeding_alone(X):
    gm = gh.GaussianMixture(3, init_params="k-means++", max_iter=0, random_state=4).fit(X)
    start = gm.history_.history[0]
    # the means are the k-means++ seeds themselves, data points (no Lloyd step)
    np.testing.assert_array_equal(start.means, kmeans_plusplus(X, 3, np.random.default_rng(4)))
    assert all((X == m).all(1).any() for m in start.means)
    np.testing.assert_allclose(start.weights, 1 / 3)
    pooled = np.cov(X.T, bias=True) + 1e-6 * np.eye(2)  # NumPy's covariance as the oracle
    np.testing.assert_allclose(start.covariances, [pooled] * 3, rtol=1e-12)
    # "kmeans" runs Lloyd from such seeds: its means are cluster means, not data points
    km = gh.GaussianMixture(3, init_params="kmeans", max_iter=0, random_state=4).fit(X)
    assert not any((X == m).all(1).any() for m in km.history_.history[0].means)
    # restarts: the kept run is the best of n_init such seedings
    best = gh.GaussianMixture(3, init_params="k-means++", n_init=4, random_state=4).fit(X)
    singles = [gh.fit_em(X, 3, initial_params=gh.mixture._kmeanspp_start(
        X, 3, rng, "full", 1e-6)).log_likelihoods[-1]
        for rng in [np.random.default_rng(4)] for _ in range(4)]
    assert best.history_.log_likelihoods[-1] == max(singles)


def test_fit_em_spelling_is_refused_with_the_mapping(X):
    with pytest.raises(ValueError, match=r"expected init_params in .*got 'kmeans\+\+'.*'kmeans'"):
        gh.GaussianMixture(2, init_params="kmeans++").fit(X)


# -- means_init, weights_init, precisions_init alone --------------------------------------

@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("piece", ["weights", "means", "precisions"])
def test_each_init_alone_and_the_rest_from_init_params(X, piece, covariance_type):
    ref = gh.init_params(X, 3, "kmeans++", random_state=0, covariance_type=covariance_type)
    other = gh.init_params(X, 3, "random_from_data", random_state=9,
                           covariance_type=covariance_type)
    prec = gh.mixture._from_full(np.linalg.inv(other.covariances), covariance_type)
    value = {"weights": np.array([0.2, 0.3, 0.5]), "means": other.means, "precisions": prec}
    gm = gh.GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=3,
                            **{f"{piece}_init": value[piece]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gh.ConvergenceWarning)
        gm.fit(X)
    start = gm.history_.history[0]
    expect = {"weights": ref.weights, "means": ref.means, "covariances": ref.covariances}
    expect[piece if piece != "precisions" else "covariances"] = (
        value["weights"] if piece == "weights" else
        value["means"] if piece == "means" else other.covariances)
    np.testing.assert_allclose(start.weights, expect["weights"], rtol=1e-12)
    np.testing.assert_allclose(start.means, expect["means"], rtol=1e-12)
    np.testing.assert_allclose(start.covariances, expect["covariances"], rtol=1e-9)
    # scikit-learn, given this whole start, takes the same EM steps (an oracle for the start)
    sk = SkGMM(3, covariance_type=covariance_type, weights_init=start.weights,
               means_init=start.means,
               precisions_init=gh.mixture._from_full(np.linalg.inv(start.covariances),
                                                     covariance_type),
               max_iter=3, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        sk.fit(X)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-7, atol=1e-9)


def test_partial_init_restarts_keep_the_best(X):
    means = gh.init_params(X, 3, "random_from_data", random_state=1).means
    gm = gh.GaussianMixture(3, means_init=means, init_params="random", n_init=3,
                            random_state=2).fit(X)
    rng = np.random.default_rng(2)
    finals = [gh.fit_em(X, 3, initial_params=gh.init_params(X, 3, "random", random_state=rng)
                        .replace(means=means)).log_likelihoods[-1] for _ in range(3)]
    assert len(set(finals)) > 1 and gm.history_.log_likelihoods[-1] == max(finals)


# -- warm_start, verbose, verbose_interval -----------------------------------------------

def test_warm_start_continues_where_the_last_fit_stopped(X):
    kw = dict(tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gh.ConvergenceWarning)
        warm = gh.GaussianMixture(3, warm_start=True, max_iter=5, n_init=3, **kw).fit(X)
        first = warm.lower_bounds_.copy()
        warm.fit(X)
        once = gh.GaussianMixture(3, max_iter=10, n_init=3, **kw).fit(X)
    np.testing.assert_allclose(np.r_[first, warm.lower_bounds_[1:]], once.lower_bounds_,
                               rtol=1e-12)
    np.testing.assert_allclose(warm.means_, once.means_, rtol=1e-11)
    assert warm.history_.run_n_iter.shape == (1,)  # n_init ignored when continuing
    with pytest.raises(ValueError, match="warm_start"):
        warm.set_params(n_components=2).fit(X)


def test_verbose_lines_every_verbose_interval(X, capsys):
    gm = gh.GaussianMixture(3, verbose=2, verbose_interval=4, n_init=2, random_state=0).fit(X)
    lines = capsys.readouterr().out.splitlines()
    inits = [ln for ln in lines if re.match(r"Initialization \d+: \d+ iterations", ln)]
    iters = [int(re.match(r"  Iteration (\d+)", ln).group(1)) for ln in lines
             if ln.startswith("  Iteration")]
    assert len(inits) == 2 and sum("(kept)" in ln for ln in inits) == 1
    assert iters == list(range(4, gm.n_iter_ + 1, 4))
    assert lines[-1].startswith(f"Initialization {gm.history_.best_run} converged")
    gh.GaussianMixture(3, verbose=1, random_state=0).fit(X)
    assert "Iteration" not in capsys.readouterr().out
    gh.GaussianMixture(3, random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="expected verbose_interval"):
        gh.GaussianMixture(3, verbose_interval=0).fit(X)


# -- ConvergenceWarning at max_iter ------------------------------------------------------

def test_convergence_warning_at_max_iter(X):
    with pytest.warns(gh.ConvergenceWarning, match="did not converge.*max_iter=2") as rec:
        gm = gh.GaussianMixture(3, max_iter=2, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2
    assert isinstance(rec[0].message, sklearn.exceptions.ConvergenceWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gh.GaussianMixture(3, random_state=0).fit(X).converged_  # no warning
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        gh.GaussianMixture(3, max_iter=2, random_state=0).fit(X)  # sklearn's filter applies


# -- random_state=np.random.RandomState(0) ---------------------------------------------

def test_random_state_accepts_a_randomstate(X):
    a = gh.GaussianMixture(3, n_init=2, random_state=np.random.RandomState(0)).fit(X)
    b = gh.GaussianMixture(3, n_init=2, random_state=np.random.RandomState(0)).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)  # deterministic
    words = np.random.RandomState(0).randint(0, 2**32, size=4, dtype=np.uint32)
    ref = gh.fit_em(X, 3, n_init=2, random_state=np.random.default_rng(
        np.random.SeedSequence(words.tolist())))
    np.testing.assert_array_equal(a.means_, ref.params.means)  # the documented mapping
    shared = np.random.RandomState(0)  # it advances, as in scikit-learn
    s1, s2 = (gh.GaussianMixture(3, init_params="random", max_iter=0, random_state=shared)
              for _ in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gh.ConvergenceWarning)
        assert not np.array_equal(s1.fit(X).history_.history[0].weights,
                                  s2.fit(X).history_.history[0].weights)
    assert a.sample(5)[0].shape == (5, 2)
    with pytest.raises(ValueError, match="expected random_state .*RandomState, got 'x'"):
        gh.GaussianMixture(3, random_state="x").fit(X)


# -- numeric object arrays, float32 ---------------------------------------------------

def test_numeric_object_arrays_are_converted(X):
    a = gh.GaussianMixture(3, random_state=0).fit(X)
    b = gh.GaussianMixture(3, random_state=0).fit(X.astype(object))
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.predict_proba(X.astype(object)), a.predict_proba(X))
    bad = X.astype(object)
    bad[0, 0] = {"a": 1}
    with pytest.raises(ValueError, match="expected X to hold numbers.*not 'dict'") as err:
        gh.GaussianMixture(3).fit(bad)
    assert isinstance(err.value, TypeError)  # NumPy's (and scikit-learn's) type for it


def test_float32_weights_init_within_float32_rounding(X):
    rng = np.random.default_rng(0)
    while True:  # float32 weights whose exact sum is 1 +- (1e-8 .. 1e-7)
        w = rng.dirichlet(np.ones(6)).astype(np.float32)
        w = (w / w.sum()).astype(np.float32)
        if 1e-8 < abs(w.astype(np.float64).sum() - 1) < 1e-7:
            break
    gm = gh.GaussianMixture(6, weights_init=w, max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gh.ConvergenceWarning)
        gm.fit(X)
    start = gm.history_.history[0].weights
    assert abs(start.sum() - 1) < 1e-15
    np.testing.assert_allclose(start, w, rtol=1e-6)
    # the same numbers in float64 are off by more than float64 rounding: refused
    with pytest.raises(ValueError, match=r"expected weights_init .*summing to 1 \(within 1\.0e-08"):
        gh.GaussianMixture(6, weights_init=w.astype(np.float64)).fit(X)


def test_float32_input_gives_float64_output(X):
    X32 = X.astype(np.float32)
    gm = gh.GaussianMixture(3, random_state=0).fit(X32)
    for att in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(gm, att).dtype == np.float64
    assert gm.predict_proba(X32).dtype == np.float64 and gm.score_samples(X32).dtype == np.float64
    ref = gh.GaussianMixture(3, random_state=0).fit(X32.astype(np.float64))
    np.testing.assert_array_equal(gm.means_, ref.means_)  # float32 is converted once, exactly


# -- NotFittedError, messages, feature names ------------------------------------------

def test_not_fitted_error_is_also_sklearns(X):
    from sklearn.utils.validation import check_is_fitted

    gm = gh.GaussianMixture(2)
    for call in (gm.predict, gm.score_samples, lambda X: gm.sample(2)):
        with pytest.raises(sklearn.exceptions.NotFittedError, match="not fitted yet") as err:
            call(X)
        assert isinstance(err.value, gh.NotFittedError)
    assert isinstance(pickle.loads(pickle.dumps(err.value)), gh.NotFittedError)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        check_is_fitted(gm)
    check_is_fitted(gm.fit(X))


def test_messages_keep_expected_got_and_sklearns_words(X):
    gm = gh.GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"expected X with 2 feature.*got 1: X has 1 features, "
                                         r"but GaussianMixture is expecting 2"):
        gm.predict(X[:, :1])
    with pytest.raises(ValueError, match=r"expected X of shape .*got shape \(5,\).*Reshape"):
        gm.score_samples(X[:5, 0])
    with pytest.raises(ValueError, match=r"expected X with at least 1 feature, got 0 feature"):
        gh.GaussianMixture().fit(np.empty((4, 0)))
    with pytest.raises(ValueError, match=r"expected X to hold real numbers.*Complex data"):
        gh.GaussianMixture().fit(X + 1j)
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match=r"expected X to be a dense array.*sparse"):
        gh.GaussianMixture().fit(sparse.csr_array(X))


def test_feature_names_in_from_dataframes(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["eruptions", "waiting"])
    gm = gh.GaussianMixture(2, random_state=0).fit(df)
    assert gm.feature_names_in_.tolist() == ["eruptions", "waiting"]
    assert gm.feature_names_in_.dtype == object
    plain = gh.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_array_equal(gm.means_, plain.means_)
    np.testing.assert_array_equal(gm.predict(df), plain.predict(X))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        gm.predict(df[["waiting", "eruptions"]])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        gm.predict(X)
    gm.fit(X)
    assert not hasattr(gm, "feature_names_in_")  # refit without names forgets them
