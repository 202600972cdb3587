"""The public API: names documented in the README exist, lazy names stay in sync."""

import subprocess
import sys

import numpy as np
import pytest

import gmm_helpers as gh


def test_lazy_names_match_module_all():
    import gmm_helpers.player as player
    import gmm_helpers.plotting as plotting
    import gmm_helpers.widgets as widgets

    assert set(gh._LAZY["plotting"]) == set(plotting.__all__)
    assert set(gh._LAZY["player"]) == set(player.__all__)
    assert set(gh._LAZY["widgets"]) == set(widgets.__all__)
    import gmm_helpers.distributed as distributed

    assert set(gh._LAZY["distributed"]) == set(distributed.__all__)
    for name in gh.__all__:
        assert getattr(gh, name) is not None, name
    assert "plot_gmm" in dir(gh) and "em_explorer" in dir(gh) and "em_player" in dir(gh)


def test_core_import_needs_numpy_only():
    code = (
        "import sys, gmm_helpers as gh; "
        "X = gh.make_dataset('blobs')[0]; gh.fit_em(X, 4, random_state=0); "
        "bad = [m for m in ('matplotlib', 'ipywidgets', 'scipy', 'sklearn', 'dask') "
        "if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_readme_one_liner():
    code = ("import gmm_helpers as gh; "
            "print(gh.fit_em(gh.make_dataset('blobs')[0], 4).log_likelihoods[-1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 0


def _names_used_through_gh():
    """Every ``gh.<name>`` the notebooks and the README use."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]
    names = set()
    for path in files:
        names |= set(re.findall(r"\bgh\.([A-Za-z]\w*)", path.read_text(encoding="utf-8")))
    return names


def test_every_name_the_course_uses_is_public():
    used = _names_used_through_gh()
    assert {"fit_em", "digamma", "elbo", "variational_m_step", "quadratic_features"} <= used
    missing_all = sorted(used - set(gh.__all__))
    missing_dir = sorted(used - set(dir(gh)))
    assert not missing_all, f"used as gh.<name> but not in __all__: {missing_all}"
    assert not missing_dir, f"used as gh.<name> but not in dir(gh): {missing_dir}"


def test_no_fall_through_beyond_the_lazy_modules():
    lazy = set(gh._LAZY_NAMES)
    eager = [name for name in gh.__all__ if name not in lazy]
    # eager names are real module attributes, not answers of __getattr__
    assert all(name in vars(gh) for name in eager), [n for n in eager if n not in vars(gh)]
    assert len(set(gh.__all__)) == len(gh.__all__)
    # names public in a submodule but not listed are not reachable as gh.<name> by accident
    for name in ("_map_m_step", "_elbo", "_em_loop", "_LOG_2PI", "no_such_name"):
        with pytest.raises(AttributeError, match="has no attribute"):
            getattr(gh, name)
    for module in (gh.bayes, gh.variational, gh.suffstats, gh._special):
        assert set(module.__all__) <= set(gh.__all__), module.__name__


def test_every_fit_runs_through_the_one_em_loop(monkeypatch):
    """A spy on em._em_loop: each fit (every engine, MAP, VB, Dask, the estimator) calls it."""
    import dask
    import dask.array as da

    import gmm_helpers.em as em

    calls = []
    real = em._em_loop

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(em, "_em_loop", spy)
    X = gh.make_dataset("blobs")[0]

    def count(fit):
        calls.clear()
        result = fit()
        return len(calls), result

    for engine in ("suffstats", "reference"):
        n, result = count(lambda e=engine: gh.fit_em(X, 4, engine=e, n_init=3, random_state=0))
        assert n == 3, engine  # one loop per restart
        assert result.n_iter == len(result.history) - 1 >= 1
    n, _ = count(lambda: gh.em_iterations(X, gh.fit_em(X, 4, max_iter=0).params, max_iter=5))
    assert n == 2  # the fit_em that built the start, then em_iterations
    with dask.config.set(scheduler="synchronous"):
        n, _ = count(lambda: gh.fit_em_dask(da.from_array(X, chunks=(128, -1)), 4,
                                             random_state=0, max_iter=20))
    assert n == 1
    n, result = count(lambda: gh.fit_map_em(X, 4, random_state=0))
    assert n == 1 and isinstance(calls[0], gh.GMMParams)
    n, result = count(lambda: gh.fit_variational(X, 6, random_state=0))
    assert n == 1 and isinstance(result, gh.EMResult)
    n, _ = count(lambda: gh.GaussianMixture(4, random_state=0).fit(X))
    assert n == 1

    # and the loop is really what produced the numbers: a loop that stops at once
    def no_iterations(start, e_side, m_side, n_samples, max_iter, tol, **kwargs):
        return real(start, e_side, m_side, n_samples, 0, tol, **kwargs)

    monkeypatch.setattr(em, "_em_loop", no_iterations)
    for fit in (lambda: gh.fit_em(X, 4, random_state=0),
                lambda: gh.fit_em(X, 4, random_state=0, engine="reference"),
                lambda: gh.fit_map_em(X, 4, random_state=0),
                lambda: gh.fit_variational(X, 4, random_state=0)):
        assert fit().n_iter == 0


def test_restart_rule_is_is_better():
    import gmm_helpers.em as em

    assert em._is_better(-10.0, None, 100)
    assert em._is_better(-10.0, -11.0, 100)
    assert not em._is_better(-11.0, -10.0, 100)
    assert not em._is_better(-10.0, -10.0, 100)  # ties keep the earlier run
    X = gh.make_dataset("blobs")[0]
    result = gh.fit_em(X, 4, init="random", n_init=4, random_state=1)
    lls, kept = result.run_log_likelihoods, result.run_log_likelihoods[result.best_run]
    # the kept run is the best up to the rounding margin of _is_better, and no later run beat it
    assert kept >= lls.max() - em._RESTART_MARGIN * (abs(lls.max()) + len(X))
    assert not any(em._is_better(ll, kept, len(X)) for ll in lls[result.best_run + 1:])
    assert result.log_likelihoods[-1] == kept


def test_one_result_family():
    X = gh.make_dataset("blobs")[0]
    results = [gh.fit_em(X, 4, random_state=0), gh.fit_map_em(X, 4, random_state=0),
               gh.fit_variational(X, 4, random_state=0)]
    names = ["log-likelihood", "log-likelihood + log-prior", "ELBO"]
    for result, name in zip(results, names, strict=True):
        assert isinstance(result, gh.EMResult)
        assert result.objective_name == name
        assert result.objective.shape == result.log_likelihoods.shape == (result.n_iter + 1,)
        assert np.all(np.diff(result.objective) >= -1e-9 * np.abs(result.objective[:-1]))
        # responsibilities are the fit's own E-step, and responsibilities_at(X, -1) repeats it
        # (fit_em's default engine computes them chunked: equal up to rounding)
        np.testing.assert_allclose(result.responsibilities_at(X, -1), result.responsibilities,
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(result.responsibilities.sum(axis=1), 1.0, rtol=1e-12)
    ml, mp, vb = results
    np.testing.assert_array_equal(ml.objective, ml.log_likelihoods)
    np.testing.assert_array_equal(mp.objective, mp.log_likelihoods + mp.log_priors)
    np.testing.assert_array_equal(vb.objective, vb.elbo)
    # MAP: the plain E-step; VB: the variational r_nk, which is not the plug-in E-step
    np.testing.assert_allclose(mp.responsibilities_at(X, 2), gh.e_step(X, mp.history[2])[0])
    t = 1
    r_vb = vb.responsibilities_at(X, t)
    np.testing.assert_array_equal(r_vb, gh.variational_e_step(X, vb.posteriors[t]))
    assert not np.allclose(r_vb, gh.e_step(X, vb.history[t])[0], atol=1e-6)
    assert vb.posterior is vb.posteriors[-1] and len(vb.posteriors) == vb.n_iter + 1
