"""Tests of gmm_helpers.bayes (MAP-EM with conjugate priors) and gmm_helpers.variational (VB).

SciPy and scikit-learn are test-only oracles: special functions and log densities are compared
with ``scipy.special`` / ``scipy.stats``, the ELBO with the exact log evidence (K = 1) and with a
Monte Carlo estimate, the variational fit with ``BayesianGaussianMixture``.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import scipy.special as sps
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import BayesianGaussianMixture

import gmm_helpers as gh
from gmm_helpers import variational

CENTERS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def separated_data(seed=0, n_per_cluster=150):
    """Three well-separated unit-variance clusters in 2-D, with their labels."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(c, 1.0, size=(n_per_cluster, 2)) for c in CENTERS])
    labels = np.repeat(np.arange(len(CENTERS)), n_per_cluster)
    return X, labels


def match(means_a, means_b):
    """Permutation of the rows of ``means_b`` closest to ``means_a`` (label switching)."""
    cost = np.linalg.norm(means_a[:, None, :] - means_b[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def random_spd(rng, d):
    A = rng.normal(size=(d, d))
    return A @ A.T + d * np.eye(d)


# -------------------------------------------------------------------------------------------
# Special functions
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        np.logspace(-10, 6, 300),
        np.linspace(0.01, 12.0, 500),
        -np.linspace(0.05, 7.3, 97),  # negative non-integers: reflection formula
    ],
    ids=["log-grid", "lin-grid", "negative"],
)
def test_digamma_matches_scipy(x):
    expected = sps.digamma(x)
    np.testing.assert_allclose(gh.digamma(x), expected, rtol=1e-12, atol=1e-12)


def test_digamma_scalars_and_poles():
    assert isinstance(gh.digamma(1.0), float)
    assert gh.digamma(1.0) == pytest.approx(-np.euler_gamma, abs=1e-14)
    assert gh.digamma(0.0) == -np.inf
    assert np.isnan(gh.digamma(-2.0))
    assert np.isnan(gh.digamma(np.nan))
    assert gh.digamma(np.inf) == np.inf
    x = np.array([[0.5, 3.0], [1e-3, 40.0]])
    assert gh.digamma(x).shape == (2, 2)


def test_gammaln_and_multivariate_gammaln_match_scipy():
    x = np.concatenate([np.logspace(-8, 4, 100), -np.linspace(0.1, 5.9, 30)])
    np.testing.assert_allclose(gh.gammaln(x), sps.gammaln(x), rtol=1e-13, atol=1e-13)
    assert gh.gammaln(0.0) == np.inf
    for d in (1, 2, 5):
        for a in (d / 2.0, 3.7, 50.0):
            assert gh.multivariate_gammaln(a, d) == pytest.approx(sps.multigammaln(a, d))


# -------------------------------------------------------------------------------------------
# The prior: validation and log densities
# -------------------------------------------------------------------------------------------


def valid_prior_kwargs(d=2):
    return dict(
        weight_concentration=1.0,
        mean=np.zeros(d),
        mean_precision=0.01,
        covariance_scale=np.eye(d),
        degrees_of_freedom=d + 2.0,
    )


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("weight_concentration", -1.0, "weight_concentration > 0"),
        ("weight_concentration", 0.0, "weight_concentration > 0"),
        ("weight_concentration", np.nan, "weight_concentration > 0"),
        ("mean_precision", 0.0, "mean_precision > 0"),
        ("mean_precision", "a lot", "mean_precision to be a positive number"),
        ("degrees_of_freedom", 1.0, r"degrees_of_freedom > n_features - 1 = 1"),
        ("degrees_of_freedom", 0.5, r"degrees_of_freedom > n_features - 1"),
        ("covariance_scale", np.diag([1.0, -1.0]), "positive definite covariance_scale"),
        ("covariance_scale", np.array([[1.0, 0.9], [0.0, 1.0]]), "symmetric covariance_scale"),
        ("covariance_scale", np.eye(3), r"covariance_scale of shape \(2, 2\)"),
        ("mean", np.zeros((2, 1)), r"mean of shape \(n_features,\)"),
    ],
)
def test_bad_hyperparameters_raise(field, value, match):
    kwargs = valid_prior_kwargs()
    kwargs[field] = value
    with pytest.raises(ValueError, match=match):
        gh.NIWPrior(**kwargs)


def test_prior_is_immutable_and_copies():
    kwargs = valid_prior_kwargs()
    prior = gh.NIWPrior(**kwargs)
    kwargs["mean"][0] = 5.0
    assert prior.mean[0] == 0.0
    with pytest.raises(ValueError):
        prior.covariance_scale[0, 0] = 2.0
    np.testing.assert_allclose(prior.precision_scale, np.eye(2))


def test_bad_hyperparameters_through_the_fitters():
    X, _ = separated_data()
    with pytest.raises(ValueError, match="weight_concentration > 0"):
        gh.fit_variational(X, 3, weight_concentration=-0.5)
    with pytest.raises(ValueError, match="degrees_of_freedom > n_features - 1"):
        gh.fit_variational(X, 3, degrees_of_freedom=0.9)
    with pytest.raises(ValueError, match="mean_precision > 0"):
        gh.fit_map_em(X, 3, mean_precision=0.0)
    with pytest.raises(ValueError, match="weight_concentration >= 1 for a MAP estimate"):
        gh.fit_map_em(X, 3, weight_concentration=0.5)
    with pytest.raises(ValueError, match="expected a prior for 2 features, got one for 3"):
        gh.fit_map_em(X, 3, prior=gh.NIWPrior(**valid_prior_kwargs(3)))
    with pytest.raises(ValueError, match="expected prior to be an NIWPrior"):
        gh.fit_variational(X, 3, prior={"weight_concentration": 1.0})
    with pytest.raises(ValueError, match="n_components"):
        gh.fit_variational(X, 0)


def test_default_priors_follow_fraley_raftery_and_sklearn():
    X, _ = separated_data()
    cov = np.cov(X, rowvar=False, bias=True)
    p = gh.default_map_prior(X, 4)
    assert (p.weight_concentration, p.mean_precision, p.degrees_of_freedom) == (1.0, 0.01, 4.0)
    np.testing.assert_allclose(p.mean, X.mean(axis=0))
    np.testing.assert_allclose(p.covariance_scale, cov / 4.0)  # K^(2/D) = 4 for K = 4, D = 2
    v = gh.default_variational_prior(X, 4)
    assert (v.weight_concentration, v.mean_precision, v.degrees_of_freedom) == (0.25, 1.0, 2.0)
    np.testing.assert_allclose(v.covariance_scale, cov)


def test_log_densities_match_scipy():
    rng = np.random.default_rng(3)
    for d in (1, 3):
        prior = gh.NIWPrior(0.7, rng.normal(size=d), 0.3, random_spd(rng, d), d + 1.5)
        mean, cov = rng.normal(size=d), random_spd(rng, d)
        expected = st.multivariate_normal(prior.mean, cov / prior.mean_precision).logpdf(mean)
        expected += st.invwishart(df=prior.degrees_of_freedom, scale=prior.covariance_scale).logpdf(
            cov
        )
        assert gh.log_niw_pdf(mean, cov, prior) == pytest.approx(expected, rel=1e-10)
    w = np.array([0.2, 0.5, 0.3])
    for alpha in (0.3, 1.0, 4.0):
        expected = st.dirichlet(np.full(3, alpha)).logpdf(w)
        assert gh.log_dirichlet_pdf(w, alpha) == pytest.approx(expected, rel=1e-12)
    # a zero weight is allowed under the flat Dirichlet (alpha = 1): log density log Gamma(K)
    assert gh.log_dirichlet_pdf([0.0, 0.4, 0.6], 1.0) == pytest.approx(np.log(2.0))


# -------------------------------------------------------------------------------------------
# MAP-EM
# -------------------------------------------------------------------------------------------


def expected_complete_log_posterior(X, resp, params, prior):
    """sum_nk r_nk [ln pi_k + ln N(x_n | mu_k, Sigma_k)] + ln p(theta), all with scipy."""
    total = st.dirichlet(np.full(len(params.weights), prior.weight_concentration)).logpdf(
        params.weights
    )
    for k in range(params.n_components):
        mu, cov = params.means[k], params.covariances[k]
        log_n = st.multivariate_normal(mu, cov).logpdf(X)
        total += np.sum(resp[:, k] * (np.log(params.weights[k]) + log_n))
        total += st.multivariate_normal(prior.mean, cov / prior.mean_precision).logpdf(mu)
        total += st.invwishart(df=prior.degrees_of_freedom, scale=prior.covariance_scale).logpdf(
            cov
        )
    return total


def test_map_m_step_maximises_the_expected_complete_log_posterior():
    """The closed form is the maximiser: random feasible perturbations only lower it."""
    rng = np.random.default_rng(7)
    X, _ = separated_data(seed=1, n_per_cluster=30)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    prior = gh.default_map_prior(X, 3)
    prior = gh.NIWPrior(2.5, prior.mean + 1.0, 0.5, prior.covariance_scale, 5.0)
    best = gh.map_m_step(X, resp, prior)
    f_best = expected_complete_log_posterior(X, resp, best, prior)
    for _ in range(20):
        w = best.weights * np.exp(0.05 * rng.normal(size=3))
        means = best.means + 0.05 * rng.normal(size=best.means.shape)
        A = np.eye(2) + 0.05 * rng.normal(size=(3, 2, 2))
        covs = A @ best.covariances @ np.transpose(A, (0, 2, 1))
        other = gh.GMMParams(w / w.sum(), means, covs)
        assert expected_complete_log_posterior(X, resp, other, prior) < f_best


def test_map_objective_is_log_likelihood_plus_log_prior():
    X, _ = separated_data()
    result = gh.fit_map_em(X, 3, random_state=0)
    t = result.n_iter // 2
    params = result.history[t]
    assert result.log_likelihoods[t] == pytest.approx(gh.log_likelihood(X, params))
    assert result.log_priors[t] == pytest.approx(gh.map_log_prior(params, result.prior))
    np.testing.assert_allclose(result.objective, result.log_likelihoods + result.log_priors)


def test_map_stays_well_posed_where_maximum_likelihood_collapses():
    """A cloud plus a far point repeated 3 times: ML puts a component on it and its covariance
    shrinks to 0 (likelihood unbounded); the inverse-Wishart prior keeps MAP finite."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.0, 1.0, size=(60, 2)), np.tile([[8.0, 8.0]], (3, 1))])
    start = gh.GMMParams([0.9, 0.1], [[0.0, 0.0], [8.0, 8.0]], [np.eye(2), 0.5 * np.eye(2)])

    try:
        ml = gh.fit_em(X, 2, initial_params=start, reg_covar=0.0)
    except ValueError as exc:  # the singular covariance was detected
        assert "positive-definite" in str(exc)
    else:  # or it survived as round-off: a covariance of ~1e-14 and a spike in the likelihood
        assert np.linalg.eigvalsh(ml.params.covariances[1]).max() < 1e-10
    final_ll = [
        gh.fit_em(X, 2, initial_params=start, reg_covar=reg).log_likelihoods[-1]
        for reg in (1e-4, 1e-8, 1e-12)
    ]
    assert np.all(np.diff(final_ll) > 10.0)  # the likelihood grows without bound as reg -> 0

    result = gh.fit_map_em(X, 2, initial_params=start)
    assert result.converged
    assert np.all(np.isfinite(result.objective))
    assert np.all(np.diff(result.objective) >= -1e-9 * np.abs(result.objective[:-1]))
    floor = np.linalg.eigvalsh(result.prior.covariance_scale)[0] / (
        result.prior.degrees_of_freedom + len(X) + 2 + 2
    )
    eigenvalues = np.linalg.eigvalsh(result.params.covariances)
    assert eigenvalues.min() >= floor > 0
    assert eigenvalues.min() > 1e-2
    np.testing.assert_allclose(result.params.means[1], [8.0, 8.0], atol=0.1)


@pytest.fixture(scope="module")
def large_sample_and_ml_fit():
    """3000 points from a known 3-component mixture and its maximum-likelihood fit."""
    true = gh.GMMParams(
        [0.3, 0.3, 0.4],
        [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]],
        [np.eye(2), [[1.0, 0.5], [0.5, 1.0]], 0.5 * np.eye(2)],
    )
    X, _ = gh.sample_gmm(true, 3000, random_state=1)
    ml = gh.fit_em(X, 3, random_state=0).params
    return X, ml


def test_map_with_a_weak_prior_approaches_maximum_likelihood(large_sample_and_ml_fit):
    X, ml = large_sample_and_ml_fit
    result = gh.fit_map_em(X, 3, random_state=0)
    order = match(ml.means, result.params.means)
    np.testing.assert_allclose(result.params.means[order], ml.means, atol=5e-3)
    np.testing.assert_allclose(result.params.weights[order], ml.weights, atol=5e-3)
    np.testing.assert_allclose(result.params.covariances[order], ml.covariances, atol=2e-2)


# -------------------------------------------------------------------------------------------
# Variational Bayes
# -------------------------------------------------------------------------------------------


def test_elbo_of_one_component_is_the_exact_log_evidence():
    """For K = 1 mean-field VB is exact, so the ELBO must equal ln p(X), which follows from
    p(X) = p(X | theta) p(theta) / p(theta | X) at any theta (all three densities from scipy)."""
    rng = np.random.default_rng(5)
    d = 3
    X = rng.normal(size=(40, d)) @ random_spd(rng, d) + 2.0
    prior = gh.NIWPrior(0.8, rng.normal(size=d), 0.7, random_spd(rng, d), d + 0.5)
    result = gh.fit_variational(X, 1, prior=prior, max_iter=3)

    n, xbar = len(X), X.mean(axis=0)
    kappa_n = prior.mean_precision + n
    m_n = (prior.mean_precision * prior.mean + n * xbar) / kappa_n
    psi_n = (
        prior.covariance_scale
        + (X - xbar).T @ (X - xbar)
        + prior.mean_precision * n / kappa_n * np.outer(xbar - prior.mean, xbar - prior.mean)
    )
    nu_n = prior.degrees_of_freedom + n
    mu, cov = X.mean(axis=0) + 0.3, np.cov(X, rowvar=False) + np.eye(d)  # any theta works

    def log_niw(m, kappa, psi, nu):
        return st.multivariate_normal(m, cov / kappa).logpdf(mu) + st.invwishart(
            df=nu, scale=psi
        ).logpdf(cov)

    log_evidence = (
        st.multivariate_normal(mu, cov).logpdf(X).sum()
        + log_niw(
            prior.mean, prior.mean_precision, prior.covariance_scale, prior.degrees_of_freedom
        )
        - log_niw(m_n, kappa_n, psi_n, nu_n)
    )
    np.testing.assert_allclose(result.elbo, log_evidence, rtol=1e-10)


def elbo_integrand(X, resp, posterior, prior, rng):
    """One draw theta ~ q(theta) of ln p(X, theta | q(Z)) - ln q(theta) + H[q(Z)], whose
    expectation is the ELBO (the sum over Z is exact given the responsibilities). scipy only."""
    K = resp.shape[1]
    q_pi = st.dirichlet(posterior.alpha)
    pi = q_pi.rvs(random_state=rng)[0]
    value = st.dirichlet(np.full(K, prior.weight_concentration)).logpdf(pi) - q_pi.logpdf(pi)
    positive = resp > 0
    value -= np.sum(resp[positive] * np.log(resp[positive]))
    p_lam = st.wishart(df=prior.degrees_of_freedom, scale=prior.precision_scale)
    for k in range(K):
        q_lam = st.wishart(df=posterior.nu[k], scale=posterior.W[k])
        lam = q_lam.rvs(random_state=rng)
        cov = np.linalg.inv(lam)
        q_mu = st.multivariate_normal(posterior.m[k], cov / posterior.beta[k])
        mu = q_mu.rvs(random_state=rng)
        log_n = st.multivariate_normal(mu, cov).logpdf(X)
        value += np.sum(resp[:, k] * (np.log(pi[k]) + log_n))
        value += st.multivariate_normal(prior.mean, cov / prior.mean_precision).logpdf(mu)
        value += p_lam.logpdf(lam) - q_mu.logpdf(mu) - q_lam.logpdf(lam)
    return value


def two_cluster_state():
    X, _ = separated_data(seed=2, n_per_cluster=15)
    X = X[:30]  # two clusters
    result = gh.fit_variational(X, 2, weight_concentration=2.0, max_iter=1, random_state=0)
    return X, result


def test_elbo_identity_at_the_optimal_q_theta():
    """With q(theta) the update for q(Z), ln q(theta) = E_Z[ln p(X, Z, theta)] + const, so the
    integrand is the same number, the ELBO, at every theta."""
    X, result = two_cluster_state()
    resp = gh.variational_e_step(X, result.posterior)
    posterior = gh.variational_m_step(X, resp, result.prior)
    exact = gh.elbo(X, resp, posterior, result.prior)
    rng = np.random.default_rng(0)
    draws = [elbo_integrand(X, resp, posterior, result.prior, rng) for _ in range(5)]
    np.testing.assert_allclose(draws, exact, rtol=1e-10)


def test_elbo_matches_a_monte_carlo_estimate():
    """With a q(theta) that is *not* the update for q(Z) (one step behind) the integrand varies;
    its Monte Carlo mean must match the closed form."""
    X, result = two_cluster_state()
    stale = result.posterior
    resp = gh.variational_e_step(X, stale)
    resp = 0.97 * resp + 0.03 * np.roll(resp, 1, axis=1)  # any other q(Z)
    exact = gh.elbo(X, resp, stale, result.prior)
    rng = np.random.default_rng(0)
    draws = np.array([elbo_integrand(X, resp, stale, result.prior, rng) for _ in range(300)])
    standard_error = draws.std(ddof=1) / np.sqrt(len(draws))
    assert standard_error > 1e-3  # a genuine Monte Carlo check, not the identity above
    assert abs(draws.mean() - exact) < 5 * standard_error


def test_effective_number_of_components_is_three():
    for seed in (0, 1):
        X, _ = separated_data(seed=seed)
        result = gh.fit_variational(X, 10, random_state=seed)
        assert result.converged
        assert result.effective_n_components() == 3
        counts = np.sort(result.expected_counts)[::-1]
        np.testing.assert_allclose(counts[:3], 150.0, atol=1.0)
        assert counts[3:].max() < 0.5


def test_dirichlet_concentration_controls_the_effective_number_of_components():
    """Small alpha_0 empties the surplus components; a large alpha_0 keeps all of them."""
    X, _ = separated_data()
    alphas = [1e-3, 1e-1, 10.0, 100.0]
    fits = [gh.fit_variational(X, 10, weight_concentration=a, random_state=0) for a in alphas]
    effective = [fit.effective_n_components() for fit in fits]
    assert effective[0] == effective[1] == 3
    assert effective[-1] == 10
    assert effective == sorted(effective)
    # not only prior pseudo-counts: with alpha_0 = 100 every component really holds data
    assert np.all(fits[-1].expected_counts > 0.05 * len(X))
    assert np.sum(fits[0].expected_counts > 0.01 * len(X)) == 3


def test_empty_components_do_not_produce_nan():
    """Components that start far from every point get responsibility exactly 0 (N_k = 0)."""
    X, _ = separated_data(n_per_cluster=20)
    far = np.array([[1e3, 1e3], [-1e3, 1e3], [1e3, -1e3]])
    start = gh.GMMParams(
        np.full(6, 1 / 6), np.vstack([CENTERS, far]), np.tile(np.eye(2), (6, 1, 1))
    )
    resp0 = gh.e_step(X, start)[0]
    assert np.all(resp0[:, 3:] == 0.0)
    result = gh.fit_variational(X, 6, initial_params=start, weight_concentration=1e-3)
    q = result.posterior
    for array in (q.alpha, q.beta, q.m, q.W, q.nu, result.elbo, result.log_likelihoods):
        assert np.all(np.isfinite(array))
    assert result.effective_n_components() == 3
    np.testing.assert_allclose(q.m[3:], np.broadcast_to(result.prior.mean, (3, 2)))


def test_variational_with_a_weak_prior_approaches_maximum_likelihood(large_sample_and_ml_fit):
    X, ml = large_sample_and_ml_fit
    result = gh.fit_variational(
        X, 3, weight_concentration=1.0, mean_precision=1e-3, random_state=0
    )
    order = match(ml.means, result.params.means)
    np.testing.assert_allclose(result.params.means[order], ml.means, atol=5e-3)
    np.testing.assert_allclose(result.params.weights[order], ml.weights, atol=5e-3)
    np.testing.assert_allclose(result.params.covariances[order], ml.covariances, atol=2e-2)


def sklearn_bgm(X, prior, n_components, seed, tol=1e-8):
    return BayesianGaussianMixture(
        n_components=n_components,
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=prior.weight_concentration,
        mean_precision_prior=prior.mean_precision,
        mean_prior=prior.mean,
        degrees_of_freedom_prior=prior.degrees_of_freedom,
        covariance_prior=prior.covariance_scale,
        reg_covar=0.0,
        tol=tol,
        max_iter=2000,
        random_state=seed,
    ).fit(X)


def test_labels_agree_with_sklearn_bayesian_gaussian_mixture():
    X, truth = separated_data(seed=3)
    result = gh.fit_variational(X, 10, random_state=0)
    ours = result.responsibilities.argmax(axis=1)
    theirs = sklearn_bgm(X, result.prior, 10, seed=0, tol=1e-4).predict(X)
    assert adjusted_rand_score(ours, theirs) >= 0.95
    assert adjusted_rand_score(ours, truth) >= 0.95


def test_converged_posterior_matches_sklearn_with_the_same_prior():
    """scikit-learn's lower_bound_ drops constants, so compare the fitted posteriors instead."""
    X, _ = separated_data(seed=4, n_per_cluster=100)
    result = gh.fit_variational(X, 3, random_state=0, tol=1e-10)
    bgm = sklearn_bgm(X, result.prior, 3, seed=0)
    order = match(result.posterior.m, bgm.means_)
    np.testing.assert_allclose(bgm.means_[order], result.posterior.m, atol=1e-6)
    np.testing.assert_allclose(bgm.weights_[order], result.params.weights, atol=1e-6)
    np.testing.assert_allclose(bgm.degrees_of_freedom_[order], result.posterior.nu, rtol=1e-6)
    np.testing.assert_allclose(bgm.mean_precision_[order], result.posterior.beta, rtol=1e-6)
    np.testing.assert_allclose(
        bgm.covariances_[order],
        result.posterior.W_inv / result.posterior.nu[:, None, None],
        rtol=1e-5,
    )


def test_variational_result_mirrors_em_result():
    X, _ = separated_data(n_per_cluster=40)
    result = gh.fit_variational(X, 5, random_state=0)
    assert len(result.history) == result.n_iter + 1 == len(result.elbo)
    assert len(result.log_likelihoods) == len(result.history)
    assert all(isinstance(p, gh.GMMParams) for p in result.history)
    assert result.params == result.history[-1]
    np.testing.assert_allclose(result.responsibilities.sum(axis=1), 1.0)
    assert result.responsibilities_at(X, 0).shape == (len(X), 5)
    assert result.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, result.params))
    q = result.posterior
    np.testing.assert_allclose(result.params.weights, q.alpha / q.alpha.sum())
    np.testing.assert_allclose(result.params.covariances, np.linalg.inv(q.nu[:, None, None] * q.W))
    assert result.objective is result.elbo
    assert "effective_n_components=" in repr(result) and len(repr(result)) < 200
    with pytest.raises(ValueError, match="expected 0 <= t <="):
        result.responsibilities_at(X, result.n_iter + 1)
    map_result = gh.fit_map_em(X, 5, random_state=0)
    assert len(map_result.history) == map_result.n_iter + 1 == len(map_result.objective)
    assert map_result.responsibilities_at(X, -1).shape == (len(X), 5)
    assert "objective=" in repr(map_result) and len(repr(map_result)) < 200
    assert gh.fit_variational is gh.fit_variational  # exported lazily by the package
    assert gh.fit_map_em is gh.fit_map_em

    import matplotlib.pyplot as plt

    axes = gh.plot_em_snapshots(X, result, every=10)
    assert len(axes) >= 2
    plt.close("all")


def test_monotonicity_check_raises_on_a_decrease(monkeypatch):
    """The debug flag catches a broken update (here: q(theta) built from the wrong q(Z))."""
    X, _ = separated_data(n_per_cluster=30)
    original = variational._variational_m_step  # what the fit calls (unvalidated)
    calls = {"n": 0}

    def sabotaged(X, resp, prior):
        calls["n"] += 1
        if calls["n"] == 2:  # the first iteration's update ignores the responsibilities
            resp = np.full_like(resp, 1.0 / resp.shape[1])
        return original(X, resp, prior)

    monkeypatch.setattr(variational, "_variational_m_step", sabotaged)
    with pytest.raises(RuntimeError, match="ELBO decreased"):
        gh.fit_variational(X, 3, random_state=0)


# -------------------------------------------------------------------------------------------
# Property: both objectives never decrease
# -------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=hst.integers(0, 2**31 - 1),
    n_components=hst.integers(1, 6),
    n_features=hst.integers(1, 3),
    n_samples=hst.integers(15, 80),
    init=hst.sampled_from(["kmeans++", "random", "random_from_data"]),
)
def test_elbo_and_map_objective_never_decrease(seed, n_components, n_features, n_samples, init):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 4.0, size=(3, n_features))
    X = centers[rng.integers(0, 3, n_samples)] + rng.normal(size=(n_samples, n_features))
    X = X * rng.uniform(0.1, 10.0)  # any scale

    vb = gh.fit_variational(
        X, n_components, init=init, random_state=seed, max_iter=60, check_monotone=False
    )
    slack = 1e-9 * np.maximum(1.0, np.abs(vb.elbo[:-1]))
    assert np.all(np.diff(vb.elbo) >= -slack)
    assert np.all(np.isfinite(vb.log_likelihoods))

    mp = gh.fit_map_em(
        X, n_components, init=init, random_state=seed, max_iter=60, check_monotone=False
    )
    slack = 1e-9 * np.maximum(1.0, np.abs(mp.objective[:-1]))
    assert np.all(np.diff(mp.objective) >= -slack)


def test_result_classes_keep_their_docstrings():
    # a class attribute placed before the docstring turned it into a no-op string and
    # left the dataclass's auto-generated signature as __doc__
    for cls in (gh.MAPEMResult, gh.VariationalResult):
        assert "Attributes" in cls.__doc__ and ":class:`gmm_helpers.EMResult`" in cls.__doc__
        assert issubclass(cls, gh.EMResult)  # one result family
    assert gh.MAPEMResult.objective_name == "log-likelihood + log-prior"
    assert gh.VariationalResult.objective_name == "ELBO"


def test_map_m_step_validates_its_inputs():
    X = np.random.default_rng(0).standard_normal((20, 2))
    prior = gh.default_map_prior(X, 2)
    resp = np.full((20, 2), 0.5)
    # a list X used to raise AttributeError, a wrong resp a matmul error
    np.testing.assert_array_equal(
        gh.map_m_step(X.tolist(), resp, prior).means, gh.map_m_step(X, resp, prior).means
    )
    with pytest.raises(ValueError, match=r"expected resp of shape \(20, n_components\)"):
        gh.map_m_step(X, resp[:10], prior)
    with pytest.raises(ValueError, match="non-negative resp"):
        gh.map_m_step(X, -resp, prior)
    with pytest.raises(ValueError, match="expected a prior for 2 features"):
        gh.map_m_step(X, resp, gh.default_map_prior(X[:, :1], 2))
    with pytest.raises(ValueError, match="expected prior to be an NIWPrior"):
        gh.map_m_step(X, resp, None)


def test_variational_functions_validate_their_inputs_like_map_m_step():
    X = np.random.default_rng(0).standard_normal((20, 2))
    prior = gh.default_variational_prior(X, 2)
    resp = np.full((20, 2), 0.5)
    q = gh.variational_m_step(X, resp, prior)
    # array-likes are accepted and give the same numbers
    np.testing.assert_array_equal(gh.variational_m_step(X.tolist(), resp.tolist(), prior).m, q.m)
    np.testing.assert_array_equal(gh.variational_e_step(X.tolist(), q),
                                  gh.variational_e_step(X, q))
    assert gh.elbo(X.tolist(), resp.tolist(), q, prior) == gh.elbo(X, resp, q, prior)
    bad_calls = [
        (lambda: gh.variational_m_step(X, resp[:10], prior), r"expected resp of shape \(20,"),
        (lambda: gh.variational_m_step(X, -resp, prior), "non-negative resp"),
        (lambda: gh.variational_m_step(X, resp * np.nan, prior), "finite, non-negative resp"),
        (lambda: gh.variational_m_step(X, resp[:, 0], prior), r"expected resp of shape \(20,"),
        (lambda: gh.variational_m_step(X, resp, None), "expected prior to be an NIWPrior"),
        (lambda: gh.variational_m_step(X, resp, gh.default_variational_prior(X[:, :1], 2)),
         "expected a prior for 2 features"),
        (lambda: gh.variational_m_step(X[:, 0], resp, prior), "expected X of shape"),
        (lambda: gh.variational_e_step(X, None), "expected posterior to be a VariationalPosterior"),
        (lambda: gh.variational_e_step(X[:, :1], q), "expected a posterior for 1 features"),
        (lambda: gh.variational_e_step(np.full((20, 2), np.inf), q), "expected X to be finite"),
        (lambda: gh.elbo(X, resp[:, :1], q, prior), "expected resp with 2 columns"),
        (lambda: gh.elbo(X, resp, q, "prior"), "expected prior to be an NIWPrior"),
        (lambda: gh.elbo(X, resp, "q", prior), "expected posterior to be a VariationalPosterior"),
    ]
    for call, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            call()
