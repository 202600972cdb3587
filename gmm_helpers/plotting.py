r"""Pictures of Gaussian mixtures and of EM at work (matplotlib only).

Every function here takes ``ax=None`` (a new figure is made when it is ``None``), returns what it
drew, and never fits anything: the fitting is done by :func:`gmm_helpers.fit_em`, whose
:class:`~gmm_helpers.EMResult` carries the whole history (``history[t]`` are the parameters after
``t`` EM iterations, ``log_likelihoods[t]`` their total log-likelihood).

Colours are fixed per component index (:data:`COMPONENT_COLORS`), so component ``k`` has the same
colour in every iteration and in every plot of one fit.

The :math:`n`-sigma ellipse of a 2-D Gaussian :math:`\mathcal{N}(\mu, \Sigma)` is the contour
:math:`(x-\mu)^\top \Sigma^{-1} (x-\mu) = n^2`. With the eigen-decomposition
:math:`\Sigma = U \operatorname{diag}(\lambda_1, \lambda_2) U^\top`,
:math:`\lambda_1 \ge \lambda_2`, its semi-axes are :math:`n\sqrt{\lambda_1}` and
:math:`n\sqrt{\lambda_2}`, along the eigenvectors.
In 2-D the 2-sigma ellipse holds :math:`1 - e^{-2} \approx 86\%` of the probability mass
(the 1-sigma ellipse only 39%).
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.patches import Ellipse

import gmm_helpers as gh

from ._validation import check_symmetric

__all__ = [
    "COMPONENT_COLORS",
    "component_colors",
    "mix_colors",
    "snapshot_iterations",
    "plot_cov_ellipse",
    "plot_gmm",
    "plot_em_snapshots",
    "plot_log_likelihood",
    "plot_density",
    "save_em_animation",
    "plot_bic",
]

#: Colour of component ``k`` is ``COMPONENT_COLORS[k % len(COMPONENT_COLORS)]``.
#: The first eight are the Okabe & Ito (2008) colour-blind-safe palette (yellow moved to the end
#: of that block because it is faint on white); the last four come from Paul Tol's colour-blind-safe
#: "muted" scheme, for mixtures with more than eight components.
COMPONENT_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
    "#882255",  # wine (Tol muted)
    "#999933",  # olive (Tol muted)
    "#332288",  # indigo (Tol muted)
    "#44AA99",  # teal (Tol muted)
)

_LIGHT_GREY = "#BBBBBB"


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def component_colors(n_components: int) -> np.ndarray:
    """RGB colours of components ``0 .. n_components-1``.

    Parameters
    ----------
    n_components : int

    Returns
    -------
    colors : ndarray of shape (n_components, 3)
        RGB in [0, 1]; cycles through :data:`COMPONENT_COLORS` if there are more components.
    """
    n_components = int(n_components)
    if n_components < 1:
        raise ValueError(f"expected n_components >= 1, got {n_components}")
    return np.array(
        [to_rgb(COMPONENT_COLORS[k % len(COMPONENT_COLORS)]) for k in range(n_components)]
    )


def mix_colors(responsibilities, colors=None) -> np.ndarray:
    r"""Colour of each point as the responsibility-weighted mix of component colours.

    .. math:: c_n = \sum_k \gamma(z_{nk})\, c_k

    as in Bishop (2006), Fig. 9.8b: a point shared between two components gets a blend of their
    colours, so uncertain points stand out.

    Parameters
    ----------
    responsibilities : array-like of shape (n_samples, n_components)
    colors : array-like of shape (n_components, 3), optional
        Defaults to :func:`component_colors`.

    Returns
    -------
    rgb : ndarray of shape (n_samples, 3)
    """
    resp = np.asarray(responsibilities, dtype=float)
    if resp.ndim != 2:
        raise ValueError(f"expected responsibilities of shape (n_samples, K), got {resp.shape}")
    if colors is None:
        colors = component_colors(resp.shape[1])
    colors = np.asarray(colors, dtype=float)[:, :3]
    if colors.shape[0] != resp.shape[1]:
        raise ValueError(
            f"expected {resp.shape[1]} colours (one per component), got {colors.shape[0]}"
        )
    return np.clip(resp @ colors, 0.0, 1.0)


def snapshot_iterations(n_iter: int, every: int = 5) -> list[int]:
    """Iterations ``0, every, 2*every, ...`` plus the last one, ``n_iter``.

    Examples
    --------
    >>> snapshot_iterations(12, every=5)
    [0, 5, 10, 12]
    """
    every = int(every)
    if every < 1:
        raise ValueError(f"expected every >= 1, got {every}")
    n_iter = int(n_iter)
    its = list(range(0, n_iter + 1, every))
    if its[-1] != n_iter:
        its.append(n_iter)
    return its


def _ellipse_geometry(cov, n_std: float = 2.0) -> tuple[float, float, float]:
    """``(width, height, angle_degrees)`` of the n-sigma ellipse of a 2x2 covariance."""
    eigvals, eigvecs = np.linalg.eigh(cov)  # ascending
    eigvals = np.clip(eigvals, 0.0, None)
    major = eigvecs[:, 1]
    angle = math.degrees(math.atan2(major[1], major[0]))
    width = 2.0 * n_std * math.sqrt(eigvals[1])
    height = 2.0 * n_std * math.sqrt(eigvals[0])
    return width, height, angle


def _positive_number(value, name: str) -> float:
    """``value`` as a finite float > 0, or a ValueError (not matplotlib's TypeError)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"expected {name} to be a positive number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected {name} to be a finite number > 0, got {value!r}")
    return value


def _check_figsize(figsize) -> tuple[float, float]:
    try:
        width, height = figsize
    except (TypeError, ValueError):
        raise ValueError(f"expected figsize (width, height) in inches, got {figsize!r}") from None
    return _positive_number(width, "figsize width"), _positive_number(height, "figsize height")


#: An ellipse is drawn at most this many times the view (plus its distance from
#: the view) across: beyond that its visible part is indistinguishable from the
#: true curve, and Agg would spend minutes rasterising a 1e30-wide path.
_ELLIPSE_VIEW_CAP = 1e3


class _ViewClippedEllipse(Ellipse):
    """An :class:`~matplotlib.patches.Ellipse` whose drawn size is capped to the view.

    ``get_width()``/``get_height()`` report the true size; only ``draw`` uses the cap:
    :data:`_ELLIPSE_VIEW_CAP` times (view diagonal + distance of the centre from the
    view centre). The part of the boundary inside the view then moves by less than
    ``5e-7`` of the ellipse's size, far below a pixel.
    """

    def draw(self, renderer):
        ax = self.axes
        width, height = self._width, self._height
        if ax is not None:
            (x0, y0), (x1, y1) = ax.viewLim.get_points()
            cx, cy = self._center
            diag = math.hypot(x1 - x0, y1 - y0)
            far = math.hypot(cx - 0.5 * (x0 + x1), cy - 0.5 * (y0 + y1))
            cap = _ELLIPSE_VIEW_CAP * (diag + far)
            if math.isfinite(cap) and cap > 0 and max(width, height) > cap:
                self._width, self._height = min(width, cap), min(height, cap)
        try:
            return super().draw(renderer)
        finally:
            self._width, self._height = width, height


def _check_2d(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"expected {name} of shape (n_samples, 2) for a 2-D plot, got {X.shape}; "
            "select or project two features first"
        )
    return X


def _check_params_2d(params) -> None:
    for attr in ("weights", "means", "covariances"):
        if not hasattr(params, attr):
            raise ValueError(
                f"expected a GMMParams-like object with weights, means and covariances, "
                f"got {type(params).__name__}"
            )
    means = np.asarray(params.means)
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(f"expected 2-D components (means of shape (K, 2)), got {means.shape}")


def _check_result(result, *, need_2d: bool = False) -> None:
    """``result`` must be an EMResult (every fit's result is one); optionally 2-D."""
    if not isinstance(result, gh.EMResult):
        raise ValueError(
            "expected a fit result with history and log_likelihoods (from gh.fit_em, "
            f"gh.fit_map_em or gh.fit_variational), got {type(result).__name__}"
        )
    if need_2d and len(result.history):
        _check_params_2d(result.history[0])


def _data_limits(X, extra_points=None, pad: float = 0.08):
    """Axis limits covering ``X`` (and optional extra points) with a relative margin."""
    pts = X if extra_points is None else np.vstack([X, extra_points])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return (lo[0], hi[0]), (lo[1], hi[1])


def _weight_style(weights) -> tuple[np.ndarray, np.ndarray]:
    """Line widths and fill alphas of ellipses: heavier components are drawn bolder."""
    w = np.asarray(weights, dtype=float)
    rel = w / max(w.max(), 1e-12)
    return 0.8 + 2.7 * rel, 0.04 + 0.16 * rel


# ----------------------------------------------------------------------------------------------
# public plots
# ----------------------------------------------------------------------------------------------
def plot_cov_ellipse(mean, cov, ax=None, n_std: float = 2.0, **kwargs) -> Ellipse:
    r"""Draw the n-sigma contour of a 2-D Gaussian.

    The ellipse :math:`(x-\mu)^\top\Sigma^{-1}(x-\mu) = n^2`: with
    :math:`\Sigma = U\,\mathrm{diag}(\lambda_1,\lambda_2)\,U^\top` (:math:`\lambda_1\ge\lambda_2`),
    full width :math:`2n\sqrt{\lambda_1}` along the first eigenvector :math:`u_1`, full height
    :math:`2n\sqrt{\lambda_2}`, rotated by :math:`\operatorname{atan2}(u_{1,y}, u_{1,x})`.

    Parameters
    ----------
    mean : array-like of shape (2,)
    cov : array-like of shape (2, 2)
        Symmetric positive semi-definite.
    ax : matplotlib Axes, optional
        Defaults to ``plt.gca()``.
    n_std : float, default 2.0
        Mahalanobis radius :math:`n` (2.0 holds about 86% of the mass in 2-D).
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (``edgecolor``, ``facecolor``, ``lw``, ...).
        By default the ellipse is unfilled.

    Returns
    -------
    ellipse : matplotlib.patches.Ellipse
        The patch, already added to ``ax``.
    """
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.shape != (2,):
        raise ValueError(f"expected mean of shape (2,), got {mean.shape}")
    if cov.shape != (2, 2):
        raise ValueError(f"expected cov of shape (2, 2), got {cov.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError("expected finite mean and cov, got NaN or inf")
    check_symmetric(cov, "cov")
    if np.linalg.eigvalsh(cov)[0] < -1e-10 * max(1.0, abs(np.trace(cov))):
        raise ValueError("expected a positive semi-definite covariance, got a negative eigenvalue")
    n_std = _positive_number(n_std, "n_std")
    if ax is None:
        ax = plt.gca()
    width, height, angle = _ellipse_geometry(cov, n_std)
    kwargs.setdefault("facecolor", "none")
    ellipse = _ViewClippedEllipse(
        xy=(mean[0], mean[1]), width=width, height=height, angle=angle, **kwargs
    )
    ax.add_patch(ellipse)
    return ellipse


def _draw_gmm(
    ax, X, params, responsibilities, *, n_std, colors, point_size, show_means, fill, xlim, ylim
):
    """Draw the GMM picture into ``ax`` and return its artists (used by the widgets too)."""
    K = len(params.weights)
    colors = (
        component_colors(K)
        if colors is None
        else np.asarray([to_rgb(c) for c in colors], dtype=float)
    )
    if responsibilities is None:
        point_colors = np.tile(to_rgb(_LIGHT_GREY), (len(X), 1))
    else:
        point_colors = mix_colors(responsibilities, colors)
    scatter = ax.scatter(
        X[:, 0], X[:, 1], s=point_size, c=point_colors, linewidths=0, alpha=0.8, zorder=1
    )
    lws, alphas = _weight_style(params.weights)
    ellipses = []
    for k in range(K):
        face = (*colors[k], alphas[k]) if fill else "none"
        e = plot_cov_ellipse(
            params.means[k],
            params.covariances[k],
            ax=ax,
            n_std=n_std,
            edgecolor=colors[k],
            facecolor=face,
            lw=lws[k],
            zorder=2,
        )
        ellipses.append(e)
    means = None
    if show_means:
        means = ax.scatter(
            params.means[:, 0],
            params.means[:, 1],
            s=90,
            marker="X",
            c=colors,
            edgecolors="white",
            linewidths=1.2,
            zorder=3,
        )
    if xlim is None or ylim is None:
        auto_x, auto_y = _data_limits(X)
        xlim = auto_x if xlim is None else xlim
        ylim = auto_y if ylim is None else ylim
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return {"scatter": scatter, "ellipses": ellipses, "means": means, "colors": colors}


def _update_gmm(artists, params, responsibilities, n_std):
    """Move existing artists to new parameters / responsibilities (no new artists)."""
    colors = artists["colors"]
    if responsibilities is not None:
        artists["scatter"].set_facecolors(mix_colors(responsibilities, colors))
    lws, alphas = _weight_style(params.weights)
    for k, e in enumerate(artists["ellipses"]):
        width, height, angle = _ellipse_geometry(params.covariances[k], n_std)
        e.set_center((params.means[k, 0], params.means[k, 1]))
        e.set_width(width)
        e.set_height(height)
        e.set_angle(angle)
        e.set_linewidth(lws[k])
        fc = e.get_facecolor()
        if fc[3] > 0:
            e.set_facecolor((*colors[k], alphas[k]))
    if artists["means"] is not None:
        artists["means"].set_offsets(np.asarray(params.means))


def plot_gmm(
    X,
    params,
    ax=None,
    responsibilities=None,
    n_std: float = 2.0,
    *,
    colors=None,
    point_size: float = 12.0,
    show_means: bool = True,
    fill: bool = True,
    title=None,
    xlim=None,
    ylim=None,
):
    r"""Data coloured by soft assignment, with each component's n-sigma ellipse and mean.

    Point :math:`n` gets the colour :math:`\sum_k \gamma(z_{nk})\,c_k` (Bishop 2006, Fig. 9.8b),
    where :math:`\gamma(z_{nk}) = \pi_k\mathcal{N}(x_n|\mu_k,\Sigma_k) / \sum_j
    \pi_j\mathcal{N}(x_n|\mu_j,\Sigma_j)`. Ellipse line width and fill opacity grow with the
    mixing weight :math:`\pi_k`; means are marked with an ``X``.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
    params : GMMParams
        A 2-D mixture (``means`` of shape (K, 2)).
    ax : matplotlib Axes, optional
        Defaults to ``plt.gca()``.
    responsibilities : array-like of shape (n_samples, K), optional
        Soft assignments to colour the points with. If ``None`` they are computed with
        :func:`gmm_helpers.e_step` from ``params`` (one E-step, no fitting). Pass ``False`` to
        draw all points in grey.
    n_std : float, default 2.0
        Mahalanobis radius of the ellipses.
    colors : sequence of K matplotlib colours, optional
        Defaults to :data:`COMPONENT_COLORS`.
    point_size : float, default 12
    show_means : bool, default True
    fill : bool, default True
        Lightly fill the ellipses (opacity grows with the weight).
    title : str, optional
    xlim, ylim : (float, float), optional
        Axis limits; default: the data range plus an 8% margin.

    Returns
    -------
    ax : matplotlib Axes
    """
    X = _check_2d(X)
    _check_params_2d(params)
    n_std = _positive_number(n_std, "n_std")
    if ax is None:
        ax = plt.gca()
    if responsibilities is None:
        responsibilities = gh.e_step(X, params)[0]
    elif responsibilities is False:
        responsibilities = None
    else:
        responsibilities = np.asarray(responsibilities, dtype=float)
        if responsibilities.shape != (len(X), len(params.weights)):
            raise ValueError(
                f"expected responsibilities of shape {(len(X), len(params.weights))}, "
                f"got {responsibilities.shape}"
            )
    _draw_gmm(
        ax,
        X,
        params,
        responsibilities,
        n_std=n_std,
        colors=colors,
        point_size=point_size,
        show_means=show_means,
        fill=fill,
        xlim=xlim,
        ylim=ylim,
    )
    if title is not None:
        ax.set_title(title)
    return ax


def plot_em_snapshots(
    X,
    result,
    every: int = 5,
    ncols: int = 4,
    *,
    n_std: float = 2.0,
    panel_size: float = 2.8,
    point_size: float = 8.0,
    iterations=None,
):
    """Small multiples of EM: the fit at iterations 0, every, 2*every, ... and the last one.

    Each panel is :func:`plot_gmm` for ``result.history[t]``, points coloured by the
    responsibilities computed from those parameters, titled ``"iteration t, log L = ..."``. All
    panels share their axis limits, so the movement of the ellipses is visible.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The data the result was fitted to.
    result : EMResult
        From :func:`gmm_helpers.fit_em` (needs ``history`` and ``log_likelihoods``).
    every : int, default 5
        Snapshot spacing in iterations.
    ncols : int, default 4
        Panels per row.
    n_std : float, default 2.0
    panel_size : float, default 2.8
        Size of one panel in inches.
    point_size : float, default 8
    iterations : sequence of int, optional
        Explicit iterations to show instead of ``every``.

    Returns
    -------
    axes : ndarray of Axes, shape (n_snapshots,)
        One Axes per snapshot, in order (the figure is ``axes[0].figure``; unused grid cells are
        hidden).
    """
    X = _check_2d(X)
    _check_result(result, need_2d=True)
    n_std = _positive_number(n_std, "n_std")
    panel_size = _positive_number(panel_size, "panel_size")
    n_last = len(result.history) - 1
    its = snapshot_iterations(n_last, every) if iterations is None else list(iterations)
    if not its:
        raise ValueError("expected at least one iteration to show, got an empty iterations")
    for t in its:
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 0 <= t <= n_last:
            raise ValueError(f"expected iterations in [0, {n_last}] (integers), got {t!r}")
    its = [int(t) for t in its]
    ncols = max(1, min(int(ncols), len(its)))
    nrows = math.ceil(len(its) / ncols)
    fig, axs = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size * ncols, panel_size * nrows),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    all_means = np.vstack([result.history[t].means for t in its])
    xlim, ylim = _data_limits(X, all_means)
    flat = axs.ravel()
    for ax, t in zip(flat[: len(its)], its, strict=True):
        params = result.history[t]
        resp = gh.e_step(X, params)[0]
        plot_gmm(
            X,
            params,
            ax=ax,
            responsibilities=resp,
            n_std=n_std,
            point_size=point_size,
            xlim=xlim,
            ylim=ylim,
        )
        ax.set_title(f"iteration {t}, log L = {result.log_likelihoods[t]:.1f}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in flat[len(its) :]:
        ax.set_visible(False)
    return flat[: len(its)]


def plot_log_likelihood(
    result, ax=None, every: int = 5, *, per_sample: bool = False, tol: float = 1e-8
):
    r"""Log-likelihood :math:`\ln p(X|\theta^{(t)}) = \sum_n \ln\sum_k \pi_k
    \mathcal{N}(x_n|\mu_k,\Sigma_k)` against EM iteration :math:`t`.

    Exact EM (``reg_covar=0``) never decreases it. Markers sit at the snapshot iterations (0,
    every, ..., last) used by :func:`plot_em_snapshots`. If some step *does* decrease (by more
    than ``tol`` relative), the offending steps are marked with red triangles and a red note
    says where and why: with ``result.reg_covar > 0`` the regularised M-step does not maximise
    the likelihood exactly, so a decrease is possible; otherwise it points to a bug or a
    numerical problem.

    Parameters
    ----------
    result : EMResult
    ax : matplotlib Axes, optional
    every : int, default 5
        Spacing of the snapshot markers.
    per_sample : bool, default False
        Plot the mean log-likelihood per sample instead of the total.
    tol : float, default 1e-8
        Decreases smaller than ``tol * max(1, |log L|)`` count as round-off.

    What is plotted and checked is ``result.objective`` (named by ``result.objective_name``),
    the quantity the iterations never decrease: the log-likelihood for ``fit_em``, the
    log-likelihood + log-prior for ``fit_map_em``, the ELBO for ``fit_variational``.

    Returns
    -------
    ax : matplotlib Axes
    """
    _check_result(result)
    name = result.objective_name
    ll = np.asarray(result.objective, dtype=float)
    short = "log L" if name == "log-likelihood" else name
    if ll.ndim != 1 or ll.size == 0:
        raise ValueError(f"expected a non-empty 1-D log_likelihoods, got shape {ll.shape}")
    if per_sample:
        n = result.n_samples or len(result.responsibilities)
        ll = ll / n
    if ax is None:
        ax = plt.gca()
    t = np.arange(ll.size)
    ax.plot(t, ll, color=COMPONENT_COLORS[0], lw=1.5, zorder=2)
    its = snapshot_iterations(ll.size - 1, every)
    ax.plot(
        its,
        ll[its],
        "o",
        color=COMPONENT_COLORS[0],
        ms=5,
        zorder=3,
        label=f"snapshots (every {every})",
    )
    drops = np.flatnonzero(np.diff(ll) < -tol * np.maximum(1.0, np.abs(ll[1:])))
    if drops.size:
        listed = ", ".join(str(int(i) + 1) for i in drops[:5]) + (" ..." if drops.size > 5 else "")
        reg_covar = getattr(result, "reg_covar", None)
        if name == "log-likelihood" and reg_covar:
            why = (
                f"reg_covar={reg_covar:g} > 0: the regularised M-step does not\n"
                "maximise the likelihood exactly"
            )
        else:
            why = "the exact updates never do this: a numerical problem"
        note = (
            f"{short} decreased at iteration {listed}\n"
            f"(largest drop {(-np.diff(ll)[drops]).max():.3g}; {why})"
        )
        (flagged,) = ax.plot(drops + 1, ll[drops + 1], "v", color="#D55E00", ms=9, zorder=4)
        flagged.set_gid("decrease")
        # a legend placed with loc="best" keeps the note off the curve; added as its own artist
        # so that a later ax.legend() call adds a second legend instead of replacing the note
        note_legend = ax.legend(
            [flagged],
            [note],
            loc="best",
            labelcolor="#D55E00",
            edgecolor="#D55E00",
            framealpha=0.95,
            prop={"weight": "bold", "size": 8.5},
        )
        ax.add_artist(note_legend)
        ax.legend_ = None
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"{name} per sample" if per_sample else name)
    ax.grid(True, alpha=0.3)
    return ax


def plot_density(
    params,
    ax=None,
    X=None,
    *,
    n_grid: int = 200,
    n_levels: int = 11,
    depth: float = 10.0,
    cmap: str = "viridis",
    xlim=None,
    ylim=None,
    colorbar: bool = False,
    point_size: float = 6.0,
    levels=None,
    title: str | None = None,
    colors=None,
    linewidths: float = 1.0,
):
    r"""Contours of the mixture's log-density :math:`\ln p(x) = \ln\sum_k\pi_k
    \mathcal{N}(x|\mu_k,\Sigma_k)` on a grid (log-sum-exp, via :func:`gmm_helpers.score_samples`).

    Levels run from the maximum on the grid (rounded down to an integer) down by ``depth`` nats;
    for a single Gaussian a drop of 2 nats is the 2-sigma ellipse and 10 nats is about 4.5 sigma.

    Parameters
    ----------
    params : GMMParams
        A 2-D mixture.
    ax : matplotlib Axes, optional
    X : array-like of shape (n_samples, 2), optional
        Data to overlay as small grey points; also sets the grid range.
    n_grid : int, default 200
        Grid points per axis.
    n_levels : int, default 11
    depth : float, default 10
        Range of the contour levels below the maximum, in nats.
    cmap : str, default "viridis"
    xlim, ylim : (float, float), optional
        Grid range; default from ``X`` (8% margin) or means +- 3.5 sd.
    colorbar : bool, default False
        Add a colour bar labelled ``log p(x)``.
    point_size : float, default 6
    levels : array-like of float, optional
        Explicit contour levels of ``log p(x)`` (overrides ``n_levels``/``depth``): use the
        same levels in side-by-side panels, or one level such as an anomaly threshold.
    title : str, optional
    colors : colour or list of colours, optional
        Fixed contour colour(s) instead of ``cmap`` (e.g. ``"#D55E00"`` for a threshold).
    linewidths : float, default 1.0

    Returns
    -------
    ax : matplotlib Axes
        (the contour set itself is kept as ``ax._gmm_density``)
    """
    _check_params_2d(params)
    if X is not None:
        X = _check_2d(X)
    if ax is None:
        ax = plt.gca()
    if xlim is None or ylim is None:
        if X is not None:
            auto_x, auto_y = _data_limits(X)
        else:
            sd = np.sqrt(np.array([np.diag(c) for c in params.covariances]))
            lo = (params.means - 3.5 * sd).min(axis=0)
            hi = (params.means + 3.5 * sd).max(axis=0)
            auto_x, auto_y = (lo[0], hi[0]), (lo[1], hi[1])
        xlim = auto_x if xlim is None else xlim
        ylim = auto_y if ylim is None else ylim
    n_grid = gh._validation.check_positive_int(n_grid, "n_grid", minimum=2)
    gx = np.linspace(xlim[0], xlim[1], n_grid)
    gy = np.linspace(ylim[0], ylim[1], n_grid)
    GX, GY = np.meshgrid(gx, gy)
    logp = gh.score_samples(np.column_stack([GX.ravel(), GY.ravel()]), params)
    logp = logp.reshape(GX.shape)
    if levels is None:
        top = math.floor(float(np.max(logp)))  # round so that the levels are readable numbers
        levels = np.linspace(top - depth, top, int(n_levels))
    else:
        levels = np.sort(np.atleast_1d(np.asarray(levels, dtype=float)))
    style = {"colors": colors} if colors is not None else {"cmap": cmap}
    cs = ax.contour(GX, GY, logp, levels=levels, linewidths=linewidths, zorder=2, **style)
    ax._gmm_density = cs
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], s=point_size, color="0.45", linewidths=0, alpha=0.6, zorder=1)
    ax.plot(params.means[:, 0], params.means[:, 1], "+", color="black", ms=8, zorder=3)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label="log p(x)")
    if title is not None:
        ax.set_title(title)
    return ax


def save_em_animation(
    X,
    result,
    path,
    fps: int = 4,
    *,
    every: int = 1,
    max_frames: int = 60,
    hold_last: float = 1.5,
    n_std: float = 2.0,
    figsize=(4.5, 4.0),
    dpi: int = 80,
    point_size: float = 8.0,
):
    """Save EM's iterations as an animated GIF (matplotlib's Pillow writer), for slides.

    Frame ``t`` is :func:`plot_gmm` for ``result.history[t]`` on fixed axis limits; the last frame
    is held for ``hold_last`` seconds. The figure is closed afterwards.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
    result : EMResult
    path : str or Path
        Output file (``.gif``).
    fps : int, default 4
    every : int, default 1
        Iteration spacing of frames (the last iteration is always included).
    max_frames : int, default 60
        If there are more frames, they are thinned evenly (first and last kept).
    hold_last : float, default 1.5
        Seconds to hold the final frame.
    n_std : float, default 2.0
    figsize : (float, float), default (4.5, 4)
    dpi : int, default 80
    point_size : float, default 8

    Returns
    -------
    path : pathlib.Path
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    X = _check_2d(X)
    _check_result(result, need_2d=True)
    if int(fps) < 1:
        raise ValueError(f"expected fps >= 1, got {fps}")
    n_std = _positive_number(n_std, "n_std")
    figsize = _check_figsize(figsize)
    dpi = _positive_number(dpi, "dpi")
    path = Path(path)
    its = _thin(snapshot_iterations(len(result.history) - 1, every), max_frames)
    frames = its + [its[-1]] * int(round(hold_last * fps))
    all_means = np.vstack([result.history[t].means for t in its])
    xlim, ylim = _data_limits(X, all_means)
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi, layout="constrained")
    try:
        p0 = result.history[its[0]]
        artists = _draw_gmm(
            ax,
            X,
            p0,
            gh.e_step(X, p0)[0],
            n_std=n_std,
            colors=None,
            point_size=point_size,
            show_means=True,
            fill=True,
            xlim=xlim,
            ylim=ylim,
        )
        title = ax.set_title("")

        def update(t):
            params = result.history[t]
            _update_gmm(artists, params, gh.e_step(X, params)[0], n_std)
            title.set_text(f"iteration {t}, log L = {result.log_likelihoods[t]:.1f}")
            return []

        anim = FuncAnimation(fig, update, frames=frames, blit=False, repeat=False)
        anim.save(path, writer=PillowWriter(fps=int(fps)), dpi=dpi)
    finally:
        plt.close(fig)
    return path


def _thin(items: list, max_items: int) -> list:
    """At most ``max_items`` evenly spaced elements of ``items``, first and last kept."""
    max_items = int(max_items)
    if max_items < 2:
        raise ValueError(f"expected max_frames >= 2, got {max_items}")
    if len(items) <= max_items:
        return list(items)
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, max_items)).astype(int))
    return [items[i] for i in idx]


_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_bic(selection, ax=None, criterion: str = "bic"):
    r"""Information criterion against the number of components, one line per covariance type.

    :math:`\mathrm{BIC} = -2\ln\hat L + p\ln N` and :math:`\mathrm{AIC} = -2\ln\hat L + 2p`
    (lower is better); the best (lowest) point over all lines is marked with a star.
    Cells that :func:`gmm_helpers.select_model` flagged as degenerate (a component collapsed
    onto ``reg_covar``; ``selection.degenerate``) are left out of the lines, marked with a
    red cross, and never starred (mclust reports them as NA).

    Parameters
    ----------
    selection : object from :func:`gmm_helpers.select_model`
        Needs ``n_components_range`` (list of K), ``covariance_types`` and the dict attribute
        named by ``criterion`` (covariance type -> array over K); ``degenerate`` is optional.
    ax : matplotlib Axes, optional
    criterion : {"bic", "aic"}, default "bic"

    Returns
    -------
    ax : matplotlib Axes
    """
    if criterion not in ("bic", "aic"):
        raise ValueError(f"expected criterion 'bic' or 'aic', got {criterion!r}")
    if not all(hasattr(selection, a) for a in ("n_components_range", "covariance_types")):
        raise ValueError(
            f"expected the result of gh.select_model, got {type(selection).__name__}"
        )
    values = getattr(selection, criterion)
    degenerate = getattr(selection, "degenerate", None) or {}
    ks = np.asarray(list(selection.n_components_range))
    if ax is None:
        ax = plt.gca()
    best = (np.inf, None, None)
    flagged_x, flagged_y = [], []
    for i, cov_type in enumerate(selection.covariance_types):
        v = np.asarray(values[cov_type], dtype=float)
        if v.shape != ks.shape:
            raise ValueError(
                f"expected {criterion}[{cov_type!r}] of shape {ks.shape}, got {v.shape}"
            )
        bad = np.asarray(degenerate.get(cov_type, np.zeros(ks.shape, bool)), dtype=bool)
        shown = bad & np.isfinite(v)
        flagged_x += list(ks[shown])
        flagged_y += list(v[shown])
        v = np.where(bad, np.nan, v)
        ax.plot(
            ks,
            v,
            linestyle=_LINESTYLES[i % len(_LINESTYLES)],
            marker=_MARKERS[i % len(_MARKERS)],
            ms=5,
            color=COMPONENT_COLORS[i % len(COMPONENT_COLORS)],
            label=cov_type,
        )
        if np.any(np.isfinite(v)):
            j = int(np.nanargmin(np.where(np.isfinite(v), v, np.nan)))
            if v[j] < best[0]:
                best = (float(v[j]), int(ks[j]), cov_type)
    if flagged_x:
        ax.plot(flagged_x, flagged_y, "x", color="#D55E00", ms=9, mew=2, linestyle="none",
                zorder=4, label="degenerate fit (excluded)")
    if best[1] is not None:
        ax.plot(
            [best[1]],
            [best[0]],
            marker="*",
            ms=18,
            color="none",
            markeredgecolor="black",
            markeredgewidth=1.5,
            zorder=5,
            linestyle="none",
            label=f"best: K={best[1]}, {best[2]}",
        )
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    ax.set_xticks(ks)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax
