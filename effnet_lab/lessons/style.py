"""The lessons' figure style: made for a projector, with large type, thick lines, a colour-blind-safe
palette (Okabe-Ito) and units on every axis (MMACs = millions of multiply-accumulates, M params =
millions of parameters). ``figures`` and ``result_figures`` draw inside it.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


# Okabe-Ito: distinguishable with every common colour-vision deficiency, and on a projector.
BLUE, ORANGE, GREEN, RED, PURPLE, SKY, YELLOW, BLACK, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999")


STYLE = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.titleweight": "bold",
    "axes.labelsize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "legend.framealpha": 0.9,
    "figure.titlesize": 16,
    "figure.titleweight": "bold",
    "lines.linewidth": 2.5,
    "lines.markersize": 9,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#333333",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "figure.dpi": 100,
    "savefig.dpi": 150,
}


def styled(func=None, *, constrained: bool = True):
    """Draw inside the lesson style without changing the caller's matplotlib settings.

    ``constrained``: lay the figure out with matplotlib's constrained layout (the default)."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with plt.rc_context(STYLE):
                fig = func(*args, **kwargs)
                if constrained:
                    fig.set_layout_engine("constrained")
                return fig

        return wrapper

    return decorate(func) if func is not None else decorate


def _label_bars(ax, bars, fmt: str, inside_ratio: float = 0.0, horizontal: bool = False) -> None:
    for bar in bars:
        value = bar.get_width() if horizontal else bar.get_height()
        if horizontal:
            ax.annotate(fmt.format(value), (value, bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                        textcoords="offset points", va="center", ha="left", fontsize=11)
        else:
            ax.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, value), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=11)


def power_of_two_axis(ax) -> None:
    """A log-2 y axis labelled 1×, 2×, 4× …: cost relative to a base."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))


def save(fig: Figure, path) -> None:
    """Save a lesson figure (for the README or a handout) at print resolution."""
    with plt.rc_context(STYLE):
        fig.savefig(path, bbox_inches="tight")


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten that is >= ``x`` (> 0): an axis limit that
    stays put while the value under it moves (steps of 2 to 2.5x: a drag of alpha, which moves the
    limits of the explorer's bars, crosses one every ten or so slider steps, not every two or three)."""
    import math

    power = 10.0 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x * (1 - 1e-12))


class LiveFigure:
    """A figure drawn once whose moving parts are redrawn alone (blitting on the Agg canvas).

    A subclass draws into ``self.figure`` and lists the artists that ``update`` moves in
    ``self.moving`` (in the order a full draw paints them); what else ``update`` changes (a limit, a
    legend text) it marks with ``self.redraw_all = True``. ``jpeg(dpi)`` then repaints the cached
    rest of the figure and draws only the moving artists over it, unless the limits of an axes or
    the list of moving artists changed or ``redraw_all`` asks for everything. A plain ``savefig`` or
    ``plt.show`` draws the whole figure as usual."""

    figure: Figure
    moving: list

    def jpeg(self, dpi: int = 80, quality: int = 92) -> bytes:
        """JPEG bytes of the figure as it is now, for an Image widget: a JPEG encodes in a tenth of a
        PNG's time (about 10 vs 70 ms for the 1120 x 656 dashboard), the step that bounds a slider's
        redraw once only the moving artists are drawn."""
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        fig = self.figure
        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)
        if fig.dpi != dpi:
            fig.set_dpi(dpi)
        key = (dpi, fig.bbox.bounds, tuple((ax.get_xlim(), ax.get_ylim()) for ax in fig.axes),
               tuple(map(id, self.moving)))   # a background holds what does not move: a new set needs a new one
        for artist in self.moving:
            artist.set_animated(True)
        try:
            if getattr(self, "redraw_all", True) or key != getattr(self, "_key", None):
                fig.canvas.draw()
                self._background, self._key, self.redraw_all = fig.canvas.copy_from_bbox(fig.bbox), key, False
            else:
                fig.canvas.restore_region(self._background)
            for artist in self.moving:
                if artist.get_visible():
                    artist.axes.draw_artist(artist) if artist.axes is not None else fig.draw_artist(artist)
        finally:
            for artist in self.moving:
                artist.set_animated(False)
        buffer = io.BytesIO()
        image = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        image.convert("RGB").save(buffer, format="jpeg", quality=quality)
        return buffer.getvalue()
