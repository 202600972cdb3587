"""Responsibilities computed on first access (issue 14): the same numbers as the E-step,
a clear error if X changed after the fit, and a fit whose memory does not hold N*K."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

import gmm_helpers as gh
from gmm_helpers import em


def blobs(n, k=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, (k, 2))
    return centres[rng.integers(0, k, n)] + rng.standard_normal((n, 2))


def test_not_computed_by_the_fit_computed_once_on_access(monkeypatch):
    X = blobs(3000)
    calls = []
    real = em._responsibilities

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(em, "_responsibilities", spy)
    result = gh.fit_em(X, 3, random_state=0)
    assert calls == []
    first = result.responsibilities
    assert calls == [1] and result.responsibilities is first
    np.testing.assert_allclose(first, gh.e_step(X, result.params)[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-12)


def test_same_numbers_as_the_eager_chunked_pass():
    X = blobs(20_000)
    result = gh.fit_em(X, 4, random_state=1)
    expected, _ = gh.responsibilities_chunked(X, result.params)
    assert np.array_equal(result.responsibilities, expected)


@pytest.mark.parametrize(
    "change",
    [
        lambda X: X.__setitem__((0, 0), X[0, 0] + 1e-9),
        lambda X: X.__setitem__((slice(None), 0), X[::-1, 0].copy()),  # same values, reordered
        lambda X: X.__setitem__((slice(None),), X[:, ::-1].copy()),
        lambda X: setattr(X, "shape", (X.shape[0] // 2, 4)),
    ],
    ids=["one-value", "rows-reordered", "columns-swapped", "reshaped"],
)
def test_changed_data_raise_a_clear_error(change):
    X = blobs(2000)
    result = gh.fit_em(X, 3, random_state=0)
    change(X)
    with pytest.raises(ValueError, match="changed in place after the fit"):
        _ = result.responsibilities


def test_non_contiguous_data_are_checked_too():
    base = np.asfortranarray(blobs(70_000))  # Fortran order: checksum in row blocks
    X = base[:, :2]
    result = gh.fit_em(X, 3, random_state=0, max_iter=5)
    assert not X.flags.c_contiguous
    np.testing.assert_allclose(result.responsibilities, gh.e_step(X, result.params)[0],
                               atol=1e-12)
    again = gh.fit_em(X, 3, random_state=0, max_iter=5)
    base[-1, 1] = 0.0  # in the last row block
    with pytest.raises(ValueError, match="changed in place"):
        _ = again.responsibilities


def test_pickle_before_access_and_reference_engine_stay_eager():
    X = blobs(1000)
    result = gh.fit_em(X, 3, random_state=0)
    copy = pickle.loads(pickle.dumps(result))
    assert np.array_equal(copy.responsibilities, result.responsibilities)
    ref = gh.fit_em(X, 3, random_state=0, engine="reference")
    assert isinstance(ref.__dict__["_responsibilities"], np.ndarray)
    X[:] = 0.0  # the reference engine's array came from the E-step itself
    assert ref.responsibilities.shape == (1000, 3)


def test_estimator_keeps_no_data():
    X = blobs(5000)
    gm = gh.GaussianMixture(3, random_state=0).fit(X)
    assert len(pickle.dumps(gm)) < X.nbytes / 4
    with pytest.raises(ValueError, match="predict_proba"):
        _ = gm.history_.responsibilities
    np.testing.assert_allclose(gm.predict_proba(X), gh.e_step(X, gm.params_)[0], atol=1e-12)


def test_peak_memory_of_a_default_fit_is_below_one_and_a_half_x():
    """Issue 14's memory goal at its size, N = 1e6, K = 5: beyond X itself, a default fit
    (k-means++ start, EM with the default threads: each thread adds ~1.5 MiB of buffers)
    allocates at most 1.5 times the size of X."""
    X = blobs(1_000_000)
    tracemalloc.start()
    try:
        result = gh.fit_em(X, 5, random_state=0, max_iter=15)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1.5 * X.nbytes, f"peak {peak / 2**20:.1f} MiB, X {X.nbytes / 2**20:.1f} MiB"
    assert result.responsibilities.shape == (1_000_000, 5)  # still there when asked for
