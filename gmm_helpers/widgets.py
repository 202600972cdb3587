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
  and in exported HTML (as long as the widget state is saved with the notebook *and* the page can
  load ipywidgets' widget manager, from a CDN by default). Measured: offline it is blank, and
  JupyterLab shows only its text repr in a saved notebook opened without a kernel.

Which one to use: this module is for a **running kernel**. For a player that works with no kernel,
no widget manager and no network (saved notebooks, exported HTML, slides, the course site), use
:func:`gmm_helpers.player.em_player` (``gh.em_player(X, result)``).
"""

from __future__ import annotations

import math

import ipywidgets as widgets

from gmm_helpers.player import EMFigure
from gmm_helpers.plotting import _thin, snapshot_iterations

__all__ = ["EMExplorer", "em_explorer"]

#: CSS classes put on the widgets (for styling and for browser tests).
CSS_LIVE = "gmm-em-explorer"
CSS_STATIC = "gmm-em-explorer-static"
CSS_SLIDER = "gmm-em-slider"
CSS_PLAY = "gmm-em-play"
CSS_FIGURE = "gmm-em-figure"
CSS_READOUT = "gmm-em-readout"
CSS_HALF_STEPS = "gmm-em-half-steps"

class EMExplorer(EMFigure):
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
        self.static = bool(static)
        super().__init__(
            X,
            result,
            n_std=n_std,
            figsize=figsize,
            dpi=80 if dpi is None else dpi,
            point_size=point_size,
            quantize=self.static,
        )
        self.links: list = []
        self.image = None
        self.stack = None
        self.half_steps = None
        self.frames: list[tuple[int, str]] = []
        if self.static:
            self._build_static(every, max_frames, interval)
        else:
            self._build_live(bool(half_steps), interval)

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
        ``widgets.Stack``, the slider ``jslink``-ed to it in the browser. It still needs
        ipywidgets' widget manager in the page; :func:`gmm_helpers.em_player` needs nothing
        (plain HTML + JS) and is the one to use for saved notebooks, exports, slides and the site.
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
