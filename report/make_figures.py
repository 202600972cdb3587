"""Compute every figure and every number quoted in the report, deterministically.

Writes into ``report/figures/`` (or ``--out-dir``):

- ``log_likelihood.png``  log-likelihood per EM iteration of one run, and its increments;
- ``em_snapshots.png``    the same run every 5 iterations (ellipses + responsibilities);
- ``local_optima.png``    final log-likelihood of many single runs per initialisation method;
- ``numbers.json``        every number the text quotes; ``build.py`` fills the
  ``{{name:fmt}}`` placeholders of ``report.md.in`` with them.

All seeds are fixed, so the PNGs and numbers come out byte-identical on every run (about 13 s of
CPU). Run from anywhere::

    python report/make_figures.py
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script that only writes files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import gmm_helpers as gh  # noqa: E402

REPORT_DIR = Path(__file__).resolve().parent
FIGURE_DIR = REPORT_DIR / "figures"

#: Figure width = text width of the report (A4 minus 2 x 1.8 cm margins): 8 pt here is 8 pt there.
TEXT_WIDTH_IN = (21.0 - 2 * 1.8) / 2.54
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 200,
}

#: One run that starts badly enough to show the components travel: fig. 1 and the snapshot grid.
CONVERGENCE = {"dataset": "blobs", "n_components": 4, "init": "random", "random_state": 51}
SNAPSHOT_EVERY = 5
#: Single runs per initialisation method, on data with local optima.
OPTIMA = {"dataset": "blobs", "n_components": 4, "seeds": range(50), "tol_per_point": 1e-3}
INIT_METHODS = ("random", "random_from_data", "kmeans", "kmeans++")
#: Restarts: how often the best of ``n_init`` random starts reaches the best optimum.
RESTARTS = {"init": "random", "n_init": 5, "n_trials": 20}
#: BIC on Old Faithful (standardised) for K = 1..6 and the four covariance types.
BIC_KS = tuple(range(1, 7))
#: Variational Bayes on Old Faithful with a generous K and the default Dirichlet alpha_0 = 1/K.
VB = {"n_components": 6, "random_state": 0, "weight_threshold": 0.01}


def save(fig, path: Path) -> None:
    """Save a PNG without a version string (same bytes on every run) and close the figure."""
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


# --------------------------------------------------------------------------- experiments


def convergence_run():
    """One EM run from a random start; its history feeds two figures."""
    X, _, true_params = gh.make_dataset(CONVERGENCE["dataset"], random_state=0)
    result = gh.fit_em(X, CONVERGENCE["n_components"], init=CONVERGENCE["init"],
                       random_state=CONVERGENCE["random_state"])
    return X, result, true_params


def local_optima():
    """Final total log-likelihood of one single run per seed for every init method."""
    X, _, _ = gh.make_dataset(OPTIMA["dataset"], random_state=0)
    finals, iters = {}, {}
    for method in INIT_METHODS:
        runs = [gh.fit_em(X, OPTIMA["n_components"], init=method, random_state=seed)
                for seed in OPTIMA["seeds"]]
        finals[method] = np.array([r.log_likelihoods[-1] for r in runs])
        iters[method] = np.array([r.n_iter for r in runs])
    restarts = np.array([
        gh.fit_em(X, OPTIMA["n_components"], init=RESTARTS["init"], n_init=RESTARTS["n_init"],
                  random_state=1000 + trial).log_likelihoods[-1]
        for trial in range(RESTARTS["n_trials"])
    ])
    return X, finals, iters, restarts


def bic_scan():
    """gh.select_model on standardised Old Faithful: best of 5 k-means++ runs per (type, K)."""
    X = gh.load_old_faithful(standardize=True)
    return X, gh.select_model(X, BIC_KS, random_state=0)


def variational(X):
    """Variational Bayes with more components than the data need."""
    return gh.fit_variational(X, VB["n_components"], random_state=VB["random_state"])


# --------------------------------------------------------------------------- figures


def plot_log_likelihood(result, path):
    """Left: gh.plot_log_likelihood; right: the increments on a log axis (all positive)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, 1.85), layout="constrained")
    gh.plot_log_likelihood(result, ax=ax1, every=SNAPSHOT_EVERY)
    ax1.legend(loc="lower right")
    ax1.set_title("log-likelihood per iteration")
    inc = np.diff(result.log_likelihoods)
    t = np.arange(1, inc.size + 1)
    ax2.semilogy(t, np.where(inc > 0, inc, np.nan), marker="o", ms=2.5, lw=1,
                 color=gh.COMPONENT_COLORS[0])
    ax2.set(xlabel="iteration $t$", ylabel=r"$\ell(\theta^t) - \ell(\theta^{t-1})$",
            title="increase per iteration (log scale)")
    ax2.grid(True, alpha=0.3)
    save(fig, path)


def plot_snapshots(X, result, path):
    """gh.plot_em_snapshots at its own panel size, four panels per row.

    The PNG is shrunk to the text width in the PDF (by ``TEXT_WIDTH_IN / (4 * panel)``), so the
    library's markers and line widths shrink with it; the text is set larger to stay readable.
    """
    ncols, panel = 4, 2.8
    axes = gh.plot_em_snapshots(X, result, every=SNAPSHOT_EVERY, ncols=ncols, panel_size=panel)
    scale = TEXT_WIDTH_IN / (ncols * panel)
    for ax, t in zip(axes, gh.snapshot_iterations(result.n_iter, SNAPSHOT_EVERY), strict=True):
        ll = f"{result.log_likelihoods[t]:.0f}".replace("-", "\u2212")
        ax.set_title(f"iteration {t}: $\\ell$ = {ll}", fontsize=8 / scale)
        ax.tick_params(labelsize=6.5 / scale)
    save(axes[0].figure, path)


def plot_local_optima(finals, n_samples, path):
    """Final mean log-likelihood of every single run, one column of points per init method."""
    best = max(v.max() for v in finals.values()) / n_samples
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH_IN, 1.45), layout="constrained")
    rng = np.random.default_rng(0)  # horizontal jitter only
    for i, method in enumerate(INIT_METHODS):
        y = finals[method] / n_samples
        ax.scatter(i + rng.uniform(-0.2, 0.2, y.size), y, s=9, alpha=0.6, lw=0,
                   color=gh.COMPONENT_COLORS[i])
    ax.axhline(best, ls="--", lw=0.8, color="k")
    ax.set_xticks(range(len(INIT_METHODS)), [f'init="{m}"' for m in INIT_METHODS])
    ax.set(ylabel=r"final $\ell / N$")
    ax.grid(True, axis="y", alpha=0.3)
    save(fig, path)


# --------------------------------------------------------------------------- numbers


def make_all(out_dir: Path = FIGURE_DIR) -> dict:
    """Run every experiment, write every figure and ``numbers.json`` into ``out_dir``.

    Returns the numbers (a flat dict of JSON scalars). Matplotlib's global settings are left
    as they were.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        numbers = _experiments_and_figures(out_dir)
    with open(out_dir / "numbers.json", "w", encoding="utf-8") as fh:
        json.dump(numbers, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return numbers


def _experiments_and_figures(out_dir: Path) -> dict:
    numbers: dict = {}

    X, run, true_params = convergence_run()
    ll = run.log_likelihoods
    inc = np.diff(ll)
    numbers.update(
        conv_dataset=CONVERGENCE["dataset"], conv_n=int(X.shape[0]),
        conv_k=CONVERGENCE["n_components"], conv_init=CONVERGENCE["init"],
        conv_true_k=int(true_params.n_components),
        conv_seed=CONVERGENCE["random_state"], conv_n_iter=int(run.n_iter),
        conv_converged=bool(run.converged),
        conv_ll_start=float(ll[0]), conv_ll_final=float(ll[-1]),
        conv_min_increase=float(inc.min()), conv_n_decreases=int(np.sum(inc < 0)),
        conv_tol=float(inspect.signature(gh.fit_em).parameters["tol"].default),
        snapshot_every=SNAPSHOT_EVERY,
        snapshot_n_std=float(inspect.signature(gh.plot_em_snapshots).parameters["n_std"].default),
    )
    # how the components move: mean steps, widest standard deviation, weights
    means = np.array([p.means for p in run.history])
    steps = np.linalg.norm(np.diff(means, axis=0), axis=2).max(axis=1)  # (n_iter,)
    widest = [np.sqrt(np.linalg.eigvalsh(p.covariances).max()) for p in run.history]
    weights = np.array([p.weights for p in run.history])
    numbers.update(
        move_max=float(steps.max()), move_max_iter=int(steps.argmax()) + 1,
        move_last=float(steps[-SNAPSHOT_EVERY:].max()),
        sd_start=float(widest[0]), sd_final=float(widest[-1]),
        sd_true=float(np.sqrt(np.linalg.eigvalsh(true_params.covariances).max())),
        w_peak=float(weights.max()), w_peak_iter=int(weights.max(axis=1).argmax()),
    )
    plot_log_likelihood(run, out_dir / "log_likelihood.png")
    plot_snapshots(X, run, out_dir / "em_snapshots.png")

    Xo, finals, iters, restarts = local_optima()
    n = Xo.shape[0]
    best = max(v.max() for v in finals.values())
    tol = OPTIMA["tol_per_point"] * n
    numbers.update(
        optima_dataset=OPTIMA["dataset"], optima_n=int(n), optima_k=OPTIMA["n_components"],
        optima_runs=len(OPTIMA["seeds"]), optima_first_seed=OPTIMA["seeds"][0],
        optima_last_seed=OPTIMA["seeds"][-1],
        optima_tol=OPTIMA["tol_per_point"], optima_best=float(best),
        optima_best_mean=float(best / n),
    )
    for method in INIT_METHODS:
        key = method.replace("+", "p")
        numbers[f"reached_{key}"] = int(np.sum(finals[method] >= best - tol))
        numbers[f"worst_{key}"] = float(finals[method].min() / n)
        numbers[f"median_iter_{key}"] = float(np.median(iters[method]))
    single_rate = numbers["reached_" + RESTARTS["init"].replace("+", "p")] / len(OPTIMA["seeds"])
    numbers.update(
        restarts_init=RESTARTS["init"], restarts_n_init=RESTARTS["n_init"],
        restarts_trials=RESTARTS["n_trials"],
        restarts_reached=int(np.sum(restarts >= best - tol)),
        # independent starts: a repeated fit fails only if all n_init starts fail
        restarts_expected=RESTARTS["n_trials"] * (1 - (1 - single_rate) ** RESTARTS["n_init"]),
    )
    plot_local_optima(finals, n, out_dir / "local_optima.png")

    Xf, sel = bic_scan()
    full_bic = sel.bic["full"]
    numbers.update(
        bic_n=int(Xf.shape[0]), bic_k_min=BIC_KS[0], bic_k_max=BIC_KS[-1],
        bic_n_types=len(sel.covariance_types),
        bic_n_init=int(inspect.signature(gh.select_model).parameters["n_init"].default),
        bic_best_k=int(sel.best_n_components), bic_best_type=sel.best_covariance_type,
        bic_best=float(sel.bic[sel.best_covariance_type][BIC_KS.index(sel.best_n_components)]),
        bic_full_best_k=BIC_KS[int(np.argmin(full_bic))], bic_full_best=float(full_bic.min()),
    )

    vb = variational(Xf)
    vb_weights = np.sort(vb.posterior.expected_weights)[::-1]
    numbers.update(
        vb_k=VB["n_components"], vb_alpha0=float(vb.prior.weight_concentration),
        vb_effective=vb.effective_n_components(VB["weight_threshold"]),
        vb_threshold=VB["weight_threshold"], vb_w1=float(vb_weights[0]),
        vb_w2=float(vb_weights[1]), vb_w_rest_max=float(vb_weights[2]),
    )
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=FIGURE_DIR,
                        help="where to write the PNGs and numbers.json (default: report/figures)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    make_all(args.out_dir)
    print(f"wrote figures and numbers.json to {args.out_dir} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
