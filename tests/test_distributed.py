"""EM over a dask.array (gmm_helpers.distributed) against the in-memory fit_em."""

import logging
import subprocess
import sys

import numpy as np
import pytest

import gmm_helpers as gh

da = pytest.importorskip("dask.array")
gd = pytest.importorskip("gmm_helpers.distributed")

TYPES = ("full", "tied", "diag", "spherical")


def make_data(n=3000, seed=0):
    """Three overlapping, sheared clusters in 2-D, far from the origin (EM needs many steps)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [2.5, 1.0], [0.5, 3.0]]) + 50.0
    labels = rng.integers(0, 3, n)
    shear = np.array([[1.0, 0.6], [0.0, 0.8]])
    return rng.standard_normal((n, 2)) @ shear + centres[labels]


@pytest.fixture(scope="module")
def data():
    return make_data()


def start_params(X, covariance_type, k=3, seed=1):
    """Means at k data points, the data covariance for all: a typical, slow EM start."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(len(X), k, replace=False)]
    cov = np.repeat(np.cov(X.T)[None], k, 0)
    return gh.GMMParams(np.full(k, 1.0 / k), means, cov, "full").replace(
        covariance_type=covariance_type
    )


def assert_same_fit(a, b, rtol=1e-10):
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(a.log_likelihoods, b.log_likelihoods, rtol=rtol, atol=0)
    np.testing.assert_allclose(a.params.weights, b.params.weights, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.params.means, b.params.means, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.params.covariances, b.params.covariances, rtol=1e-8, atol=1e-10)


def test_import_gmm_helpers_does_not_import_dask():
    code = (
        "import sys, gmm_helpers; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')"
        " or m == 'gmm_helpers.distributed'); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_equals_in_memory_fit(data, covariance_type):
    X = data
    start = start_params(X, covariance_type)
    kw = dict(covariance_type=covariance_type, initial_params=start, max_iter=40, tol=0.0)
    ref = gh.fit_em(X, 3, engine="reference", **kw)
    mem = gh.fit_em(X, 3, **kw)
    got = gd.fit_em_dask(da.from_array(X, chunks=(700, 2)), 3, **kw)
    assert got.n_iter == 40 and not got.converged
    assert_same_fit(got, mem)
    assert_same_fit(got, ref)
    for t in (0, 1, 17, 40):
        np.testing.assert_allclose(
            got.history[t].covariances, ref.history[t].covariances, rtol=1e-8, atol=1e-10
        )
    assert isinstance(got, gh.EMResult)
    assert got.init == "given" and got.covariance_type == covariance_type
    assert got.n_samples == len(X) and got.best_run == 0
    np.testing.assert_array_equal(got.run_n_iter, [40])


def test_convergence_and_lazy_responsibilities(data):
    X = data
    start = start_params(X, "full")
    mem = gh.fit_em(X, 3, initial_params=start)
    Xd = da.from_array(X, chunks=(1000, 2))
    got = gd.fit_em_dask(Xd, 3, initial_params=start)
    assert got.converged and mem.converged
    assert_same_fit(got, mem)
    resp = got.responsibilities
    assert isinstance(resp, da.Array) and resp.shape == (len(X), 3)
    np.testing.assert_allclose(resp.compute(), mem.responsibilities, atol=1e-10)
    at5 = got.responsibilities_at(Xd, 5)
    assert isinstance(at5, da.Array)
    np.testing.assert_allclose(at5.compute(), mem.responsibilities_at(X, 5), atol=1e-10)
    np.testing.assert_allclose(got.responsibilities_at(X, 5), at5.compute(), atol=1e-10)
    with pytest.raises(ValueError, match="expected 0 <= t"):
        got.responsibilities_at(Xd, got.n_iter + 1)


@pytest.mark.parametrize(
    "chunks",
    [(3000, 2), (1, 2), ((1000, 1, 999, 1000), 2), (250, 1)],
    ids=["one-block", "row-by-row", "uneven", "column-chunks"],
)
def test_chunk_layout_does_not_matter(data, chunks):
    X = data[:120] if chunks == (1, 2) else data  # 120 one-row blocks stay quick
    start = start_params(X, "full")
    kw = dict(initial_params=start, max_iter=15, tol=0.0)
    mem = gh.fit_em(X, 3, **kw)
    got = gd.fit_em_dask(da.from_array(X, chunks=chunks), 3, **kw)
    assert_same_fit(got, mem, rtol=1e-12)


def test_init_from_data_matches_fit_em_and_subsample_is_seeded(data):
    X = data
    Xd = da.from_array(X, chunks=(1000, 2))
    # N <= init_sample_size: the initialiser sees all rows, so the start is fit_em's
    got = gd.fit_em_dask(Xd, 3, random_state=0, max_iter=10, tol=0.0)
    mem = gh.fit_em(X, 3, random_state=0, max_iter=10, tol=0.0)
    assert got.init == "kmeans++"
    assert_same_fit(got, mem)
    # subsample: reproducible for a seed, and a sensible start
    a = gd.fit_em_dask(Xd, 3, init="kmeans", random_state=3, init_sample_size=500, max_iter=0)
    b = gd.fit_em_dask(Xd, 3, init="kmeans", random_state=3, init_sample_size=500, max_iter=0)
    np.testing.assert_array_equal(a.params.means, b.params.means)
    assert np.all(np.abs(a.params.means - X.mean(axis=0)) < 5)


def test_dask_statistics_equals_in_memory(data):
    X = data
    params = start_params(X, "full")
    shift = X.mean(axis=0)
    mem = gh.compute_statistics(X, params, shift=shift)
    got = gd.dask_statistics(
        da.from_array(X, chunks=(400, 2)), params, shift=shift, split_every=2
    )
    assert isinstance(got, gh.SufficientStatistics) and got.n_samples == len(X)
    np.testing.assert_allclose(got.Nk, mem.Nk, rtol=1e-12)
    np.testing.assert_allclose(got.Sx, mem.Sx, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(got.Sxx, mem.Sxx, rtol=1e-12)
    assert got.log_likelihood == pytest.approx(mem.log_likelihood, rel=1e-13)
    lazy = gd.dask_statistics(da.from_array(X, chunks=(400, 2)), params, compute=False)
    assert lazy.compute().log_likelihood == pytest.approx(mem.log_likelihood, rel=1e-13)


def test_float32_input_and_synchronous_scheduler(data):
    X = data.astype(np.float32)
    start = start_params(X.astype(np.float64), "diag")
    kw = dict(covariance_type="diag", initial_params=start, max_iter=10, tol=0.0)
    mem = gh.fit_em(X, 3, **kw)
    got = gd.fit_em_dask(da.from_array(X, chunks=(1000, 2)), 3, scheduler="synchronous", **kw)
    assert_same_fit(got, mem)


def test_bad_input(data):
    start = start_params(data, "full")
    with pytest.raises(ValueError, match="expected X to be a dask.array.Array"):
        gd.fit_em_dask(data, 3)
    with pytest.raises(ValueError, match="expected X of shape"):
        gd.fit_em_dask(da.zeros((10, 2, 2)), 3)
    bad = data.copy()
    bad[1234, 1] = np.nan
    with pytest.raises(ValueError, match="expected X to be finite"):
        gd.fit_em_dask(da.from_array(bad, chunks=(1000, 2)), 3, initial_params=start)
    with pytest.raises(ValueError, match="expected initial_params with n_components=2"):
        gd.fit_em_dask(da.from_array(data), 2, initial_params=start)
    with pytest.raises(ValueError, match="expected at least n_components"):
        gd.fit_em_dask(da.from_array(data[:2]), 3)
    with pytest.raises(ValueError, match="expected split_every >= 2"):
        gd.fit_em_dask(da.from_array(data), 3, split_every=1)
    unknown = da.from_array(data, chunks=(1000, 2))
    unknown = unknown[unknown[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="known chunk sizes"):
        gd.fit_em_dask(unknown, 3)


def outlier_data(distance):
    """Issue 13's far outlier: N(0, I) in 2-D plus one point at (distance, 0)."""
    X = np.random.default_rng(1).normal(size=(200, 2))
    return np.vstack([X, [[distance, 0.0]]])


# the outlier inside a block of 50 (5 blocks), inside one of 37 (6 blocks), or alone in one
FAR_CHUNKS = [(50, 2), (37, 2), ((100, 100, 1), (2,))]


@pytest.mark.parametrize("chunks", FAR_CHUNKS)
@pytest.mark.parametrize("distance", [1e5, 1e6])
def test_far_outlier_fit_is_exact_like_the_reference(distance, chunks):
    """Issue 13 in the Dask engine: blocks whose one-pass moments would lose their digits
    take the exact pass, and their moments are pooled about each component's own mean
    instead of being moved back to the common shift (main refuses this fit: 'singular')."""
    X = outlier_data(distance)
    start = gh.fit_em(X, 2, random_state=0, max_iter=0).history[0]
    kw = dict(initial_params=start, max_iter=40, tol=0.0)
    ref = gh.fit_em(X, 2, engine="reference", **kw)
    Xd = da.from_array(X, chunks=chunks)
    got = gd.fit_em_dask(Xd, 2, **kw)
    assert got.n_iter == ref.n_iter == 40
    np.testing.assert_allclose(got.log_likelihoods, ref.log_likelihoods, rtol=1e-8, atol=0)
    for params, ll in zip(got.history, got.log_likelihoods):
        # every reported value is the log-likelihood of the parameters it belongs to
        assert ll == pytest.approx(gh.log_likelihood(X, params), rel=1e-12)
    np.testing.assert_allclose(got.params.weights, ref.params.weights, rtol=1e-8)
    np.testing.assert_allclose(got.params.means, ref.params.means, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.params.covariances, ref.params.covariances, rtol=1e-8,
                               atol=1e-14)
    # the outlier has a component of its own, as in the reference
    assert np.any(np.abs(got.params.means[:, 0] - distance) < 1e-6 * distance)
    again = gd.fit_em_dask(Xd, 2, **kw)  # a fixed order of the block sums: deterministic
    np.testing.assert_array_equal(again.log_likelihoods, got.log_likelihoods)
    np.testing.assert_array_equal(again.params.covariances, got.params.covariances)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("distance", [1e4, 1e5, 1e6])
def test_far_outlier_fit_is_exact_for_every_covariance_type(distance, covariance_type):
    """main: 1.4e-5 relative off at 1e4 ("full", "diag", "spherical"), 'singular' at 1e5."""
    X = outlier_data(distance)
    kw = dict(covariance_type=covariance_type, random_state=0, max_iter=30, tol=0.0)
    ref = gh.fit_em(X, 2, engine="reference", **kw)  # n <= init_sample_size: the same start
    got = gd.fit_em_dask(da.from_array(X, chunks=(50, 2)), 2, **kw)
    np.testing.assert_array_equal(got.history[0].means, ref.history[0].means)
    np.testing.assert_allclose(got.log_likelihoods, ref.log_likelihoods, rtol=1e-8, atol=0)
    assert got.log_likelihoods[-1] == pytest.approx(gh.log_likelihood(X, got.params), rel=1e-12)


def test_dask_statistics_of_a_far_component_give_the_exact_m_step():
    """Without a shift the pooled moments stay about each component's own mean (the
    exact input of the M-step); with one they come back about it, as compute_statistics."""
    X = outlier_data(1e6)
    params = gh.fit_em(X, 2, random_state=0, max_iter=5, tol=0.0, engine="reference").params
    Xd = da.from_array(X, chunks=(37, 2))
    stats = gd.dask_statistics(Xd, params, split_every=2)
    assert stats.shift.shape == (2, 2)
    resp, ll = gh.e_step(X, params)
    want = gh.m_step(X, resp)
    got = gh.params_from_statistics(stats)
    np.testing.assert_allclose(got.weights, want.weights, rtol=1e-10)
    np.testing.assert_allclose(got.means, want.means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.covariances, want.covariances, rtol=1e-8, atol=1e-14)
    assert stats.log_likelihood == pytest.approx(ll, rel=1e-12)
    shift = X.mean(axis=0)
    about = gd.dask_statistics(Xd, params, shift=shift, split_every=2)
    whole = gh.compute_statistics(X, params, shift=shift)
    assert about.shift.shape == (2,)
    np.testing.assert_allclose(about.Nk, whole.Nk, rtol=1e-12)
    np.testing.assert_allclose(about.Sxx, whole.Sxx, rtol=1e-10)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def test_distributed_client_gives_the_same_fit(data, client):
    X = data
    start = start_params(X, "full")
    kw = dict(initial_params=start, max_iter=25, tol=0.0)
    mem = gh.fit_em(X, 3, **kw)
    Xd = da.from_array(X, chunks=(1000, 2))
    got = gd.fit_em_dask(Xd, 3, scheduler=client, **kw)
    assert_same_fit(got, mem)
    persisted = gd.fit_em_dask(Xd, 3, scheduler=client, persist=True, **kw)
    assert_same_fit(persisted, mem)
    # a Client made the default (what `Client()` does: it becomes the current client and
    # sets dask's scheduler to "dask.distributed") is picked up with no argument at all
    import dask
    from distributed import get_task_stream

    with client.as_current(), dask.config.set(scheduler="dask.distributed"):
        with get_task_stream(client) as stream:
            default = gd.fit_em_dask(Xd, 3, **kw)
    assert_same_fit(default, mem)
    ran = {t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in stream.data}
    assert any("_block_statistics" in str(key) for key in ran), "the cluster ran no EM tasks"

    np.testing.assert_allclose(
        default.responsibilities.compute(scheduler=client), mem.responsibilities, atol=1e-10
    )
