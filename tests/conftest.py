import os

import matplotlib
import numpy as np
import pytest
from hypothesis import settings

matplotlib.use("Agg")  # only the helper-package tests use Agg; notebooks keep inline

# Property tests explore new random examples on every local run; in CI they replay a
# fixed sequence so a landing never depends on luck (each passed 300-400 examples here).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):
    """Skip browser tests unless asked for (``make test-browser`` / ``-m browser``)."""
    markexpr = config.getoption("-m") or ""
    if "browser" in markexpr:
        return
    skip = pytest.mark.skip(
        reason="browser test: run `make test-browser` (needs `apt-get install -y chromium`)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def blobs():
    import gmm_helpers as gh

    X, labels, params = gh.make_dataset("blobs", random_state=0)
    return X, labels, params


@pytest.fixture(scope="module")
def blobs_em_fit():
    """Blobs fitted from a poor start (``random_from_data``): EM has iterations to show."""
    import gmm_helpers as gh

    X, _, _ = gh.make_dataset("blobs", random_state=0)
    result = gh.fit_em(X, 4, init="random_from_data", random_state=0)
    assert result.n_iter >= 20
    return X, result
