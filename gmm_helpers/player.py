r"""A kernel-free EM player: self-contained HTML + JavaScript, frames embedded (matplotlib only).

:func:`em_player` pre-renders the mixture at a few EM iterations (``result.history[t]`` beside the
log-likelihood curve with a marker at :math:`t`) and returns an :class:`EMPlayer`. Displayed in a
notebook it is one ``text/html`` output that needs **no kernel, no widget manager and no network**:

* the frames are PNGs embedded as ``data:`` URIs, the buttons are inline SVG (no Font Awesome),
  and the stepping is ~40 lines of plain JavaScript inside the output;
* frame 0 is a plain ``<img>``, so a renderer that strips scripts (an *untrusted* notebook in
  JupyterLab, GitHub) still shows the figure, and the output also carries an ``image/png``
  fallback for renderers that show no HTML at all;
* the arrow keys (and Home/End/space) on a focused player step it and are *not* passed on, so on a
  reveal.js slide they do not also change the slide.

It works in a saved, trusted notebook opened in JupyterLab without a kernel, in exported HTML
opened from ``file://``, on the course slides and the course site (``make slides``, ``make site``).

Which one to use:

* :func:`gmm_helpers.widgets.em_explorer` (ipywidgets) is the **live** explorer: it needs a
  running kernel, re-renders any iteration on demand and can split iterations into E- and M-steps.
* :func:`em_player` (this module) is the **kernel-free** player: a fixed set of frames that keep
  working everywhere the notebook's outputs are shown.

:class:`EMFigure` is the figure both draw (the live explorer re-renders it on each slider move).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math

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

__all__ = ["EMFigure", "EMPlayer", "em_player"]

#: CSS classes / data attributes of the player's HTML (for styling and for browser tests).
CSS_PLAYER = "gmm-em-player"

_MARK_COLOR = "#D55E00"


class EMFigure:
    r"""The picture of one EM fit at slider position ``step``: :func:`~gmm_helpers.plotting.
    plot_gmm` of ``result.history[t]`` (left) beside the log-likelihood curve with a marker at
    :math:`t` (right). Shared by the live explorer and the kernel-free player.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
    result : EMResult or a Bayesian result of :mod:`gmm_helpers.bayes`
    n_std : float
        Mahalanobis radius of the ellipses.
    figsize : (float, float)
    dpi : int
    point_size : float or None
        Default shrinks with the number of points.
    quantize : bool
        Encode PNGs with a 256-colour palette (about 3x smaller, slower): for stored frames.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        Not registered with pyplot (never leaks, never shown twice by the inline backend).
    ax_gmm, ax_ll : matplotlib.axes.Axes
    history : list of GMMParams
    log_likelihoods : ndarray of shape (n_iter + 1,)
        The objective stepped through (ELBO or log-posterior for Bayesian fits).
    n_iter : int
    """

    def __init__(self, X, result, *, n_std, figsize, dpi, point_size, quantize):
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
        if not (isinstance(dpi, (int, np.integer)) or float(dpi).is_integer()) or dpi < 10:
            raise ValueError(f"expected an integer dpi >= 10, got {dpi!r}")
        self.result = result
        self.history = history
        self.n_iter = len(history) - 1
        self.n_std = float(n_std)
        self.dpi = int(dpi)
        self._quantize = bool(quantize)
        #: zlib level of the PNGs: 1 for the live explorer (sent on every slider move, fast),
        #: 9 for small stored frames; the player's large frames use 6 (6x faster, 12% larger).
        self.compress_level = 9 if self._quantize else 1
        n = len(self.X)
        self.point_size = float(
            point_size
            if point_size is not None
            else np.clip(12.0 * math.sqrt(500.0 / max(n, 1)), 2.0, 12.0)
        )
        self._resp_cache: dict[int, np.ndarray] = {}
        self._build_figure(figsize)

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
        if self._quantize:  # stored in the notebook: 256-colour palette, about 3x smaller
            image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
        image.save(buf, format="png", compress_level=self.compress_level)
        return buf.getvalue()


    def close(self):
        """Drop the figure's artists (the figure is not registered with pyplot)."""
        self.figure.clear()


# ------------------------------------------------------------------------------------ player
# Inline SVG icons (24x24): no icon font, no CDN.
_ICONS = {
    "first": '<path d="M6 5h2v14H6zM20 5v14L9 12z"/>',
    "prev": '<path d="M18 5v14L7 12zM5 5h1v14H5z" transform="translate(-1 0)"/>',
    "play": '<path d="M7 4v16l13-8z"/>',
    "pause": '<path d="M6 4h4v16H6zM14 4h4v16h-4z"/>',
    "next": '<path d="M6 5v14l11-7zM18 5h1v14h-1z" transform="translate(1 0)"/>',
    "last": '<path d="M4 5v14l11-7zM16 5h2v14h-2z"/>',
}
_BUTTONS = (
    ("first", "first frame (Home)"),
    ("prev", "previous frame (\u2190)"),
    ("play", "play / pause (space)"),
    ("next", "next frame (\u2192)"),
    ("last", "last frame (End)"),
)


def _svg(name: str) -> str:
    return (
        '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" '
        f'fill="currentColor">{_ICONS[name]}</svg>'
    )


# The player's behaviour. It only looks inside its own element, found through a data attribute
# that hashes its frames, so two players on one page (or the same one twice) do not interfere.
_SCRIPT = r"""
(function () {
  var frames = %(frames)s, readouts = %(readouts)s, iters = %(iters)s;
  var pause = '%(pause)s', play = '%(play)s', interval = %(interval)d;
  var roots = document.querySelectorAll('div[data-gmm-em-player="%(key)s"]');
  Array.prototype.forEach.call(roots, function (root) {
    if (root.getAttribute('data-ready')) { return; }
    root.setAttribute('data-ready', '1');
    var img = root.querySelector('img'), slider = root.querySelector('input');
    var readout = root.querySelector('.gmm-em-player-readout');
    var playBtn = root.querySelector('button[data-act="play"]'), timer = null;
    frames[0] = img.getAttribute('src');
    function show(i) {
      i = Math.max(0, Math.min(frames.length - 1, i));
      img.src = frames[i];
      img.alt = 'EM at iteration ' + iters[i];
      slider.value = i;
      readout.innerHTML = readouts[i];
      root.setAttribute('data-frame', i);
      root.setAttribute('data-iteration', iters[i]);
    }
    function cur() { return parseInt(root.getAttribute('data-frame'), 10); }
    function stop() { if (timer) { clearInterval(timer); timer = null; } playBtn.innerHTML = play; }
    function toggle() {
      if (timer) { stop(); return; }
      if (cur() === frames.length - 1) { show(0); }
      playBtn.innerHTML = pause;
      timer = setInterval(function () {
        if (cur() >= frames.length - 1) { stop(); } else { show(cur() + 1); }
      }, interval);
    }
    var acts = {first: function () { stop(); show(0); },
                prev: function () { stop(); show(cur() - 1); },
                next: function () { stop(); show(cur() + 1); },
                last: function () { stop(); show(frames.length - 1); },
                play: toggle};
    Array.prototype.forEach.call(root.querySelectorAll('button'), function (b) {
      b.addEventListener('click', function (e) {
        e.stopPropagation(); acts[b.getAttribute('data-act')](); root.focus();
      });
    });
    slider.addEventListener('input', function () { stop(); show(parseInt(slider.value, 10)); });
    var keys = {ArrowLeft: 'prev', ArrowDown: 'prev', PageUp: 'prev', ArrowRight: 'next',
                ArrowUp: 'next', PageDown: 'next', Home: 'first', End: 'last', ' ': 'play'};
    root.addEventListener('keydown', function (e) {
      var act = keys[e.key];
      if (!act || e.altKey || e.ctrlKey || e.metaKey) { return; }
      // the key is the player's: reveal.js (and JupyterLab) must not also act on it
      e.preventDefault(); e.stopPropagation();
      acts[act]();
    });
    root.querySelector('.gmm-em-player-controls').style.display = 'flex';
    var hint = root.querySelector('.gmm-em-player-noscript');
    if (hint) { hint.parentNode.removeChild(hint); }
  });
})();
"""


class EMPlayer:
    r"""Kernel-free player over pre-rendered EM frames. Build it with :func:`em_player`.

    Displaying it (last expression of a cell) shows :meth:`to_html` (``text/html``), with
    frame 0 as ``image/png`` fallback and :func:`repr` as ``text/plain``.

    Attributes
    ----------
    iterations : list of int
        The EM iteration :math:`t` shown by each frame (first 0, last ``n_iter``).
    frames : list of bytes
        One PNG per entry of ``iterations``.
    readouts : list of str
        HTML line under the buttons for each frame: iteration, objective and its change.
    n_iter : int
    width, height : int
        Pixel size of each frame.
    key : str
        Hash of the frames; the HTML element carries it as ``data-gmm-em-player``.
    """

    def __init__(self, iterations, frames, readouts, *, n_iter, size, interval):
        if not (len(iterations) == len(frames) == len(readouts) >= 1):
            raise ValueError(
                "expected as many iterations, frames and readouts (at least one), got "
                f"{len(iterations)}, {len(frames)}, {len(readouts)}"
            )
        self.iterations = [int(t) for t in iterations]
        self.frames = list(frames)
        self.readouts = list(readouts)
        self.n_iter = int(n_iter)
        self.width, self.height = (int(v) for v in size)
        self.interval = int(interval)
        digest = hashlib.sha1()
        for png in self.frames:
            digest.update(png)
        self.key = digest.hexdigest()[:16]

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def n_bytes(self) -> int:
        """Bytes of PNG held by the player (all frames)."""
        return sum(len(png) for png in self.frames)

    def _uri(self, i: int) -> str:
        return "data:image/png;base64," + base64.b64encode(self.frames[i]).decode("ascii")

    def to_html(self) -> str:
        """The player as one self-contained HTML fragment (no external reference).

        Without JavaScript it is frame 0 (a plain ``<img>``) with its readout and a one-line
        note; the script reveals the buttons and the slider and steps through the frames.
        """
        last = self.n_frames - 1
        buttons = "".join(
            f'<button type="button" data-act="{act}" title="{title}" aria-label="{title}" '
            'style="display:inline-flex;align-items:center;justify-content:center;'
            "width:34px;height:30px;padding:0;margin:0;border:1px solid #999;"
            'border-radius:4px;background:#f4f4f4;color:#222;cursor:pointer">'
            f"{_svg(act)}</button>"
            for act, title in _BUTTONS
        )
        script = _SCRIPT % {
            "frames": json.dumps([None] + [self._uri(i) for i in range(1, self.n_frames)]),
            "readouts": json.dumps(self.readouts),
            "iters": json.dumps(self.iterations),
            "pause": _svg("pause"),
            "play": _svg("play"),
            "interval": self.interval,
            "key": self.key,
        }
        return (
            f'<div class="{CSS_PLAYER}" data-gmm-em-player="{self.key}" data-frame="0" '
            f'data-iteration="0" data-n-frames="{self.n_frames}" tabindex="0" '
            'data-lm-suppress-shortcuts="true" '
            'style="display:inline-block;max-width:100%;outline-offset:2px;'
            'font-family:sans-serif;font-size:14px;line-height:1.4">'
            '<div class="gmm-em-player-controls" '
            'style="display:none;align-items:center;gap:6px;margin:2px 0 4px 0">'
            f"{buttons}"
            f'<input type="range" min="0" max="{last}" step="1" value="0" '
            'aria-label="frame" style="width:360px;margin:0 8px">'
            f'<span style="color:#555">{self.n_frames} frames of {self.n_iter} iterations</span>'
            "</div>"
            f'<div class="gmm-em-player-readout">{self.readouts[0]}</div>'
            f'<img src="{self._uri(0)}" width="{self.width}" height="{self.height}" '
            f'alt="EM at iteration {self.iterations[0]}" '
            'style="display:block;max-width:100%;height:auto">'
            '<div class="gmm-em-player-noscript" style="color:#555;font-size:12px">'
            "Iteration 0 only: the player's buttons need JavaScript (trust the notebook, "
            "or open the exported HTML / course site).</div>"
            f"<script>{script}</script>"
            "</div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "text/html": self.to_html(),
            "image/png": base64.b64encode(self.frames[0]).decode("ascii"),
            "text/plain": repr(self),
        }

    def __repr__(self) -> str:
        return (
            f"EMPlayer(n_iter={self.n_iter}, {self.n_frames} frames, kernel-free; "
            "frame 0 shown without JavaScript)"
        )

    def save_html(self, path) -> None:
        """Write a standalone HTML page holding only the player."""
        from pathlib import Path

        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>EM player</title></head><body>{self.to_html()}</body></html>"
        )
        Path(path).write_text(page, encoding="utf-8")

    def save_gif(self, path, *, frame_ms=None, hold_last_ms=1500) -> None:
        """Write the frames as an animated GIF (for renderers and slides without script)."""
        images = [Image.open(io.BytesIO(png)).convert("RGB") for png in self.frames]
        durations = [int(frame_ms or self.interval)] * len(images)
        durations[-1] += int(hold_last_ms)
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=durations, loop=0
        )


def em_player(
    X,
    result,
    *,
    every=None,
    max_frames=16,
    n_std=2.0,
    figsize=(8.4, 3.6),
    dpi=150,
    point_size=None,
    interval=500,
):
    r"""Kernel-free player over the iterations of an EM fit: the mixture at iteration :math:`t`
    beside the log-likelihood curve :math:`\ln p(X|\theta^{(t)})`, :math:`t` chosen with buttons,
    a slider or the arrow keys.

    Unlike :func:`gmm_helpers.widgets.em_explorer` (live, needs a running kernel), the result is
    plain HTML + JavaScript with the frames embedded: it keeps working in a saved notebook opened
    without a kernel (trusted; untrusted shows frame 0), in exported HTML, on slides and on the
    course site, with no network. Fits nothing.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The data ``result`` was fitted to.
    result : EMResult
        From :func:`gmm_helpers.fit_em` (or a Bayesian fit of :mod:`gmm_helpers.bayes`).
    every : int, optional
        Iteration spacing of frames (default: chosen so that there are at most ``max_frames``;
        the last iteration is always included).
    max_frames : int, default 16
        At most this many frames (about 40-60 kB each at the default size).
    n_std : float, default 2.0
        Mahalanobis radius of the ellipses.
    figsize : (float, float), default (8.4, 3.6)
    dpi : int, default 150
        1260 x 540 px at the default size: sharp on a 1280 x 720 projector.
    point_size : float, optional
        Default shrinks with the number of points.
    interval : int, default 500
        Milliseconds between frames when playing.

    Returns
    -------
    player : EMPlayer
        ``.iterations``, ``.frames`` (PNG bytes), ``.to_html()``, ``.save_html(path)``,
        ``.save_gif(path)``.

    Examples
    --------
    >>> result = gh.fit_em(X, 3, random_state=0)        # doctest: +SKIP
    >>> gh.em_player(X, result)                          # doctest: +SKIP
    """
    fig = EMFigure(
        X, result, n_std=n_std, figsize=figsize, dpi=dpi, point_size=point_size, quantize=True
    )
    fig.compress_level = 6
    try:
        if every is None:
            every = max(1, math.ceil(fig.n_iter / max(int(max_frames) - 1, 1)))
        elif int(every) < 1:
            raise ValueError(f"expected every >= 1, got {every}")
        its = _thin(snapshot_iterations(fig.n_iter, int(every)), max_frames)
        frames, readouts = [], []
        for t in its:
            readouts.append(fig.draw(t, half=False))
            frames.append(fig.to_png())
        size = fig.figure.canvas.get_width_height()
    finally:
        fig.close()
    return EMPlayer(its, frames, readouts, n_iter=fig.n_iter, size=size, interval=interval)
