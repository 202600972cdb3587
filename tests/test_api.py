"""The public API: names documented in the README exist, lazy names stay in sync."""

import subprocess
import sys

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
