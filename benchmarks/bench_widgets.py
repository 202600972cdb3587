"""Time one slider step of the live EM explorer (``gh.em_explorer``) on the Agg backend.

A step is what happens in the kernel when the slider moves: one E-step for the point colours,
moving the ellipse/mean/marker artists, and rendering the figure to PNG bytes for the
``widgets.Image``. The responsibilities cache is cleared before every step, so each step pays for
its E-step (the worst case: a first pass over the iterations).

Targets (issue 3): median <= 50 ms for N = 500, <= 150 ms for N = 5000.

Run: ``.venv/bin/python benchmarks/bench_widgets.py [--repeats 40]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import gmm_helpers as gh  # noqa: E402
from gmm_helpers.widgets import em_explorer  # noqa: E402

TARGETS_MS = {500: 50.0, 5000: 150.0}


def bench(n_samples: int, repeats: int = 40, seed: int = 0) -> dict:
    """Median / min / max time in ms of one live slider step for ``n_samples`` points."""
    X, _ = gh.make_blobs(n_samples, centers=4, cluster_std=1.0, random_state=seed)
    result = gh.fit_em(X, 4, init="random_from_data", random_state=seed, max_iter=60)
    explorer = em_explorer(X, result)
    n_iter = result.n_iter
    times = []
    for i in range(repeats + 3):
        t = (i * 7 + 1) % (n_iter + 1)
        if t == explorer.slider.value:
            t = (t + 1) % (n_iter + 1)
        explorer._resp_cache.clear()
        start = time.perf_counter()
        explorer.slider.value = t
        elapsed = time.perf_counter() - start
        if i >= 3:  # warm-up
            times.append(elapsed * 1e3)
    png_kb = len(explorer.image.value) / 1024
    explorer.close()
    return {
        "n_samples": n_samples,
        "n_iter": n_iter,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "png_kb": png_kb,
    }


def bench_static(n_samples: int = 500, seed: int = 0) -> dict:
    """Build time and stored PNG size of the kernel-free explorer."""
    X, _ = gh.make_blobs(n_samples, centers=4, cluster_std=1.0, random_state=seed)
    result = gh.fit_em(X, 4, init="random_from_data", random_state=seed, max_iter=60)
    start = time.perf_counter()
    explorer = em_explorer(X, result, static=True)
    elapsed = time.perf_counter() - start
    out = {
        "n_samples": n_samples,
        "frames": len(explorer.frames),
        "build_s": elapsed,
        "stored_kb": explorer.n_bytes / 1024,
    }
    explorer.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    np.set_printoptions(precision=3)
    ok = True
    for n in (500, 5000):
        r = bench(n, args.repeats)
        target = TARGETS_MS[n]
        status = "OK" if r["median_ms"] <= target else "SLOW"
        ok &= status == "OK"
        print(
            f"live step  N={n:5d}: median {r['median_ms']:6.1f} ms "
            f"(min {r['min_ms']:.1f}, max {r['max_ms']:.1f}; {r['n_iter']} iterations; "
            f"PNG {r['png_kb']:.0f} kB)  target <= {target:.0f} ms  {status}"
        )
    for n in (500, 5000):
        s = bench_static(n)
        print(
            f"static     N={n:5d}: {s['frames']} frames built in {s['build_s']:.2f} s, "
            f"{s['stored_kb']:.0f} kB of PNG"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
