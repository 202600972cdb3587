r"""A slider that steps through EM's iterations (ipywidgets + matplotlib).

:func:`em_explorer` shows, for the iteration :math:`t` chosen on a slider, :func:`~gmm_helpers.
plotting.plot_gmm` of ``result.history[t]`` beside the log-likelihood curve with a marker at
:math:`t`, and a readout of :math:`t`, :math:`\ln p(X|\theta^{(t)})` and its change.

Two variants:

* **live** (``static=False``, default): needs a running kernel. The figure is a private matplotlib
  :class:`~matplotlib.figure.Figure` (not registered with pyplot, so it never leaks into
  ``plt.get_fignums()`` and the inline backend never shows it twice); on every slider move its
  artists are *updated in place* and re-rendered to PNG bytes into a ``widgets.Image``. Nothing goes
  through an ``Output`` widget, so it works after ``%matplotlib inline`` without the ``plt.show()``
  trap, and nbval never sees unexpected output. An optional toggle splits each iteration into its
  E-step (new responsibilities, old ellipses) and M-step (new ellipses).
* **kernel-free** (``static=True``): a few pre-rendered PNG frames in a ``widgets.Stack`` of
  ``widgets.Image``; the slider's integer position is ``jslink``-ed to the stack's
  ``selected_index`` in the browser, so it still works in a saved notebook opened without a kernel
  and in exported HTML (as long as the widget state is saved with the notebook).
"""

from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

import gmm_helpers as gh
from gmm_helpers.plotting import (
    _check_2d,
    _check_params_2d,
    _check_result,
    _data_limits,
    _draw_gmm,
    _thin,
    _update_gmm,
    plot_log_likelihood,
    snapshot_iterations,
)

__all__ = ["EMExplorer", "em_explorer"]

#: CSS classes put on the widgets (for styling and for browser tests).
CSS_LIVE = "gmm-em-explorer"
CSS_STATIC = "gmm-em-explorer-static"
CSS_SLIDER = "gmm-em-slider"
CSS_PLAY = "gmm-em-play"
CSS_FIGURE = "gmm-em-figure"
CSS_READOUT = "gmm-em-readout"
CSS_HALF_STEPS = "gmm-em-half-steps"

_MARK_COLOR = "#D55E00"


class EMExplorer:
    r"""Step through the iterations of one EM fit. Build it with :func:`em_explorer`.

    Displaying the object (last expression of a cell, or ``display(explorer)``) shows
    :attr:`widget`.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole explorer. CSS class ``"gmm-em-explorer"`` (live) or
        ``"gmm-em-explorer-static"`` (kernel-free).
    slider : ipywidgets.IntSlider or ipywidgets.SelectionSlider
        Live: ``IntSlider`` whose ``value`` is the iteration :math:`t` (or the half-step
        :math:`s` when half-steps are on). Static: ``SelectionSlider`` labelled with the iteration
        numbers; its ``index`` is the frame number. CSS class ``"gmm-em-slider"``.
    play : ipywidgets.Play
        ``jslink``-ed to the slider (``value`` live, ``index`` static). CSS class ``"gmm-em-play"``.
    readout : ipywidgets.HTML or ipywidgets.Stack
        Iteration, log-likelihood and its change. Static: a ``Stack`` of ``HTML``, linked like the
        frames. CSS class ``"gmm-em-readout"``.
    image : ipywidgets.Image or None
        Live only: the rendered figure (CSS class ``"gmm-em-figure"``).
    stack : ipywidgets.Stack or None
        Static only: one ``widgets.Image`` per frame (CSS class ``"gmm-em-figure"``).
    figure : matplotlib.figure.Figure
        The explorer's one figure (left: mixture, right: log-likelihood curve). Not registered
        with pyplot.
    half_steps : ipywidgets.ToggleButton or None
        Live only: split iterations into E- and M-steps (CSS class ``"gmm-em-half-steps"``).
    frames : list of (int, str)
        Static only: ``(t, "iter")`` for each pre-rendered frame.
    links : list of ipywidgets.Link
        The ``jslink`` objects (play <-> slider, and static: slider -> stack, slider -> readout).
    """

    def __init__(
        self,
        X,
        result,
        *,
        static=False,
        half_steps=True,
        every=None,
        max_frames=21,
        n_std=2.0,
        figsize=(8.4, 3.6),
        dpi=None,
        point_size=None,
        interval=400,
    ):
        self.X = _check_2d(X)
        _check_result(result)
        history = list(result.history)
        if len(history) == 0:
            raise ValueError("expected a result with a non-empty history, got none")
        _check_params_2d(history[0])
        # every fit steps through its objective, what never decreases for it (the
        # log-likelihood, log-likelihood + log-prior for MAP-EM, the ELBO for VB)
        self.objective_name = result.objective_name
        self._short = "log L" if self.objective_name == "log-likelihood" else self.objective_name
        values = result.objective
        self.log_likelihoods = np.asarray(values, dtype=float)
        if self.log_likelihoods.shape != (len(history),):
            raise ValueError(
                f"expected log_likelihoods of length len(history) = {len(history)}, "
                f"got shape {self.log_likelihoods.shape}"
            )
        self.result = result
        self.history = history
        self.n_iter = len(history) - 1
        self.static = bool(static)
        self.n_std = float(n_std)
        self.dpi = int(dpi if dpi is not None else 80)
        n = len(self.X)
        self.point_size = float(
            point_size
            if point_size is not None
            else np.clip(12.0 * math.sqrt(500.0 / max(n, 1)), 2.0, 12.0)
        )
        self._resp_cache: dict[int, np.ndarray] = {}
        self._build_figure(figsize)
        self.links: list = []
        self.image = None
        self.stack = None
        self.half_steps = None
        self.frames: list[tuple[int, str]] = []
        if self.static:
            self._build_static(every, max_frames, interval)
        else:
            self._build_live(bool(half_steps), interval)

    # -------------------------------------------------------------------------------- figure
    def _resp(self, t: int) -> np.ndarray:
        """Responsibilities from ``history[t]`` (one E-step), cached."""
        if t not in self._resp_cache:
            self._resp_cache[t] = gh.e_step(self.X, self.history[t])[0]
        return self._resp_cache[t]

    def _build_figure(self, figsize):
        fig = Figure(figsize=figsize, dpi=self.dpi)
        FigureCanvasAgg(fig)
        ax_gmm = fig.add_axes((0.07, 0.13, 0.42, 0.76))
        ax_ll = fig.add_axes((0.62, 0.13, 0.36, 0.76))
        all_means = np.vstack([p.means for p in self.history])
        xlim, ylim = _data_limits(self.X, all_means)
        p0 = self.history[0]
        self._artists = _draw_gmm(
            ax_gmm,
            self.X,
            p0,
            self._resp(0),
            n_std=self.n_std,
            colors=None,
            point_size=self.point_size,
            show_means=True,
            fill=True,
            xlim=xlim,
            ylim=ylim,
        )
        self._title = ax_gmm.set_title("", fontsize=10)
        ax_gmm.tick_params(labelsize=8)
        ax_gmm.set_xlabel("$x_1$", fontsize=9, labelpad=1)
        ax_gmm.set_ylabel("$x_2$", fontsize=9, labelpad=1)
        plot_log_likelihood(self.result, ax=ax_ll, every=5)
        ax_ll.set_title(f"{self.objective_name} (total)", fontsize=10)
        ax_ll.set_ylabel("")
        ax_ll.tick_params(labelsize=8)
        ax_ll.xaxis.label.set_fontsize(9)
        ll0 = self.log_likelihoods[0]
        self._vline = ax_ll.axvline(0, color=_MARK_COLOR, lw=1.0, alpha=0.7, zorder=1)
        (self._marker,) = ax_ll.plot(
            [0], [ll0], "o", ms=10, mfc="none", mec=_MARK_COLOR, mew=2.0, zorder=5
        )
        self.figure = fig
        self.ax_gmm, self.ax_ll = ax_gmm, ax_ll
        # artists that change with the slider: drawn on top of a cached background (blitting)
        self._dynamic = [
            self._artists["scatter"],
            *self._artists["ellipses"],
            self._artists["means"],
            self._title,
            self._vline,
            self._marker,
        ]
        for artist in self._dynamic:
            artist.set_animated(True)
        self._background = None

    def _state(self, step: int, half: bool):
        """``(t_params, t_resp, t_ll, title, readout_html)`` of a slider position."""
        ll = self.log_likelihoods
        if not half:
            t = int(step)
            if t == 0:
                change = "&mdash; (start)"
            else:
                change = f"{ll[t] - ll[t - 1]:+.4g}"
            title = f"iteration {t}, {self._short} = {ll[t]:.2f}"
            html = (
                f"<b>iteration {t}</b> of {self.n_iter} &nbsp;|&nbsp; "
                f"{self._short} = {ll[t]:.4f} &nbsp;|&nbsp; change = {change}"
            )
            return t, t, t, title, html
        t, phase = divmod(int(step), 2)
        if phase == 0:  # E-step of iteration t+1: new responsibilities, ellipses unchanged
            title = f"iteration {t}: E-step (new responsibilities)"
            html = (
                f"<b>E-step</b> on iteration {t}: responsibilities recomputed from "
                f"the current ellipses &nbsp;|&nbsp; {self._short} = {ll[t]:.4f}"
            )
            return t, t, t, title, html
        # M-step: ellipses of t+1 from the responsibilities of t
        change = f"{ll[t + 1] - ll[t]:+.4g}"
        title = f"iteration {t + 1}: M-step (new ellipses)"
        html = (
            f"<b>M-step</b> &rarr; iteration {t + 1}: new weights, means and covariances "
            f"from the same responsibilities &nbsp;|&nbsp; {self._short} = {ll[t + 1]:.4f} "
            f"&nbsp;|&nbsp; change = {change}"
        )
        return t + 1, t, t + 1, title, html

    def draw(self, step: int, half: bool = False) -> str:
        """Move the figure's artists to slider position ``step``; returns the readout HTML."""
        t_params, t_resp, t_ll, title, html = self._state(step, half)
        _update_gmm(self._artists, self.history[t_params], self._resp(t_resp), self.n_std)
        self._title.set_text(title)
        self._vline.set_xdata([t_ll, t_ll])
        self._marker.set_data([t_ll], [self.log_likelihoods[t_ll]])
        return html

    def to_png(self) -> bytes:
        """Render the figure as it is now to PNG bytes.

        Blitting: the static part (axes, ticks, the log-likelihood curve) is drawn once and cached;
        each call restores it and draws only the moving artists (points, ellipses, means, title,
        iteration marker) on top, then encodes the RGBA buffer with Pillow.
        """
        canvas = self.figure.canvas
        if self._background is None:
            canvas.draw()  # animated artists are skipped by a plain draw
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self._dynamic:
            artist.axes.draw_artist(artist)
        image = Image.frombuffer(
            "RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
        ).convert("RGB")
        buf = io.BytesIO()
        if self.static:  # stored in the notebook: 256-colour palette, about 3x smaller
            image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
            image.save(buf, format="png", compress_level=9)
        else:  # sent on every slider move: fast
            image.save(buf, format="png", compress_level=1)
        return buf.getvalue()

    # -------------------------------------------------------------------------------- live
    def _build_live(self, half_steps: bool, interval: int):
        self.slider = widgets.IntSlider(
            value=0,
            min=0,
            max=self.n_iter,
            step=1,
            description="iteration",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self.play = widgets.Play(value=0, min=0, max=self.n_iter, step=1, interval=int(interval))
        self.links.append(widgets.jslink((self.play, "value"), (self.slider, "value")))
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png")
        children_top = [self.play, self.slider]
        if half_steps:
            self.half_steps = widgets.ToggleButton(
                value=False,
                description="E/M half-steps",
                tooltip="split each iteration into its E-step and its M-step",
            )
            self.half_steps.add_class(CSS_HALF_STEPS)
            self.half_steps.observe(self._on_half_steps, names="value")
            children_top.append(self.half_steps)
        self.slider.add_class(CSS_SLIDER)
        self.play.add_class(CSS_PLAY)
        self.readout.add_class(CSS_READOUT)
        self.image.add_class(CSS_FIGURE)
        self.widget = widgets.VBox([widgets.HBox(children_top), self.readout, self.image])
        self.widget.add_class(CSS_LIVE)
        self._busy = False
        self.slider.observe(self._on_slider, names="value")
        self._render()

    @property
    def is_half_steps(self) -> bool:
        """Whether the live slider currently counts half-steps."""
        return self.half_steps is not None and bool(self.half_steps.value)

    def _render(self):
        self.readout.value = self.draw(self.slider.value, self.is_half_steps)
        self.image.value = self.to_png()

    def _on_slider(self, change):
        if not self._busy:
            self._render()

    def _on_half_steps(self, change):
        self._busy = True
        try:
            if change["new"]:  # iteration t -> step 2t (E-step of iteration t)
                new_max = 2 * self.n_iter
                self.slider.max = self.play.max = new_max
                self.slider.value = min(2 * self.slider.value, new_max)
                self.slider.description = "half-step"
            else:  # step s -> iteration reached so far
                t = (self.slider.value + 1) // 2
                self.slider.value = t
                self.slider.max = self.play.max = self.n_iter
                self.slider.description = "iteration"
        finally:
            self._busy = False
        self._render()

    # -------------------------------------------------------------------------------- static
    def _build_static(self, every, max_frames, interval):
        if every is None:
            every = max(1, math.ceil(self.n_iter / max(int(max_frames) - 1, 1)))
        its = _thin(snapshot_iterations(self.n_iter, every), max_frames)
        self.frames = [(t, "iter") for t in its]
        images, readouts = [], []
        for t, _ in self.frames:
            html = self.draw(t, half=False)
            images.append(widgets.Image(value=self.to_png(), format="png"))
            readouts.append(widgets.HTML(value=html))
        self.stack = widgets.Stack(images, selected_index=0)
        self.readout = widgets.Stack(readouts, selected_index=0)
        self.slider = widgets.SelectionSlider(
            options=[(str(t), i) for i, (t, _) in enumerate(self.frames)],
            index=0,
            description="iteration",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self.play = widgets.Play(
            value=0, min=0, max=len(self.frames) - 1, step=1, interval=int(interval)
        )
        self.links.append(widgets.jslink((self.play, "value"), (self.slider, "index")))
        self.links.append(widgets.jslink((self.slider, "index"), (self.stack, "selected_index")))
        self.links.append(widgets.jslink((self.slider, "index"), (self.readout, "selected_index")))
        self.slider.add_class(CSS_SLIDER)
        self.play.add_class(CSS_PLAY)
        self.readout.add_class(CSS_READOUT)
        self.stack.add_class(CSS_FIGURE)
        self.widget = widgets.VBox(
            [widgets.HBox([self.play, self.slider]), self.readout, self.stack]
        )
        self.widget.add_class(CSS_STATIC)
        self.draw(0)

    @property
    def n_bytes(self) -> int:
        """Bytes of PNG held by the widget (all frames for the static variant)."""
        if self.static:
            return sum(len(img.value) for img in self.stack.children)
        return len(self.image.value)

    # -------------------------------------------------------------------------------- display
    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        kind = f"static, {len(self.frames)} frames" if self.static else "live"
        return f"EMExplorer(n_iter={self.n_iter}, {kind})"

    def close(self):
        """Close all widgets (and links) of the explorer and drop the figure."""
        for link in self.links:
            link.close()
        for w in self._all_widgets():
            w.close()
        self.figure.clear()

    def _all_widgets(self):
        out = [self.widget, self.slider, self.play]
        if self.static:
            out += [self.stack, self.readout, *self.stack.children, *self.readout.children]
        else:
            out += [self.readout, self.image]
            if self.half_steps is not None:
                out.append(self.half_steps)
        out += list(self.widget.children)
        return out


def em_explorer(
    X,
    result,
    static=False,
    *,
    half_steps=True,
    every=None,
    max_frames=21,
    n_std=2.0,
    figsize=(8.4, 3.6),
    dpi=None,
    point_size=None,
    interval=400,
):
    r"""Slider over the iterations of an EM fit: the mixture at iteration :math:`t` beside the
    log-likelihood curve :math:`\ln p(X|\theta^{(t)})`.

    Make it the last expression of a cell (or ``display`` it). Fits nothing: it only reads
    ``result.history`` and ``result.log_likelihoods`` (and runs E-steps for the colours).

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The data ``result`` was fitted to.
    result : EMResult
        From :func:`gmm_helpers.fit_em`.
    static : bool, default False
        ``False``: live explorer, needs a kernel; the figure is re-rendered on each slider move.
        ``True``: kernel-free; at most ``max_frames`` pre-rendered PNG frames in a
        ``widgets.Stack``, the slider ``jslink``-ed to it in the browser.
    half_steps : bool, default True
        Live only: offer an "E/M half-steps" toggle. With it on, slider position :math:`2t` is the
        E-step on iteration :math:`t` (responsibilities recomputed, ellipses of :math:`t`) and
        :math:`2t+1` the M-step (ellipses of :math:`t+1` from those responsibilities).
    every : int, optional
        Static only: iteration spacing of frames (default: chosen so that there are at most
        ``max_frames``; the last iteration is always included).
    max_frames : int, default 21
        Static only: at most this many frames (about 10-20 kB each at the default size).
    n_std : float, default 2.0
        Mahalanobis radius of the ellipses.
    figsize : (float, float), default (8.4, 3.6)
    dpi : int, optional
        Default 80 (the static frames are still only ~15 kB each).
    point_size : float, optional
        Default shrinks with the number of points.
    interval : int, default 400
        Milliseconds between frames of the Play button.

    Returns
    -------
    explorer : EMExplorer
        With ``.widget`` (CSS class ``"gmm-em-explorer"`` live, ``"gmm-em-explorer-static"``
        kernel-free), ``.slider`` (``"gmm-em-slider"``), ``.play`` (``"gmm-em-play"``),
        ``.readout`` (``"gmm-em-readout"``), ``.image`` / ``.stack`` (``"gmm-em-figure"``),
        ``.half_steps`` (``"gmm-em-half-steps"``), ``.figure`` and ``.links``.

    Notes
    -----
    The live figure is drawn to PNG bytes in a ``widgets.Image`` instead of an ``Output`` widget,
    so it does not depend on the matplotlib backend (works after ``%matplotlib inline``) and no
    pyplot figure is created (nothing leaks, nothing is shown twice). The static variant only
    works without a kernel if the notebook was saved with its widget state (JupyterLab's
    "Save Widget State Automatically", or ``nbconvert --execute``).

    Examples
    --------
    >>> result = gh.fit_em(X, 3, random_state=0)        # doctest: +SKIP
    >>> gh.em_explorer(X, result)                        # doctest: +SKIP
    >>> gh.em_explorer(X, result, static=True)           # doctest: +SKIP
    """
    return EMExplorer(
        X,
        result,
        static=static,
        half_steps=half_steps,
        every=every,
        max_frames=max_frames,
        n_std=n_std,
        figsize=figsize,
        dpi=dpi,
        point_size=point_size,
        interval=interval,
    )
