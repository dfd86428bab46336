"""The explorers' figures: drawn once, then moved to each new state (``style.LiveFigure``).

``ScalingDashboard`` is lesson 04's compound-scaling dashboard (multipliers, MACs against phi,
layers and channels per stage); ``ConstraintMaps`` lesson 06's maps over (alpha, beta). Each has a
stand-alone version for the static figure before the sliders (``scaling_dashboard``,
``constraint_maps``). They read ``states`` only; nothing here counts or measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .style import BLACK, BLUE, GREEN, GREY, ORANGE, RED, SKY, LiveFigure, nice_ceiling, power_of_two_axis, styled

if TYPE_CHECKING:
    import pandas as pd

    from .states import ScalingState


def _stage_bars(ax, base: Sequence[int], title: str, colour: str) -> tuple:
    """B0's bars and, beside them, bars for the scaled model (heights and labels set by ``_set_bars``)."""
    import numpy as np

    x = np.arange(2, 2 + len(base))
    ax.bar(x - 0.2, base, width=0.4, color=GREY, edgecolor=BLACK, linewidth=0.5, label="B0")
    bars = ax.bar(x + 0.2, [0] * len(base), width=0.4, color=colour, edgecolor=BLACK, linewidth=0.5, label="scaled")
    ax.set(xticks=x, xlabel="Table 1 stage (MBConv stages 2–8)", title=title)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", fontsize=11)
    return bars, _bar_labels(ax, bars)


class ScalingDashboard(LiveFigure):
    """The compound-scaling explorer's four panels, drawn once into ``fig``: multipliers, MACs
    against phi, layers and channels per stage. ``update(state)`` moves the same artists to a new
    ``ScalingState`` (bar heights, line data, labels, limits); ``jpeg`` redraws only the bars, their
    labels and the marker while the axes' limits stay (they span the whole phi slider for the
    current alpha, beta and gamma: ``states.scaling_extent``), and the curves too when alpha, beta
    or gamma moved (the MACs axis snaps to powers of two, so a small move keeps it), far faster
    than a new figure. No pyplot: safe inside a widget callback. ``title=False`` leaves out the
    headline (the explorer prints it as text above the figure)."""

    def __init__(self, fig: Figure, state: "ScalingState", title: bool = True) -> None:
        import numpy as np

        self.figure, self.title = fig, title
        fig.clear()
        (self.mult_ax, self.curve_ax), (self.layers_ax, self.width_ax) = fig.subplots(2, 2)

        # multipliers
        ax = self.mult_ax
        self.mult_bars = ax.bar(["depth d", "width w", "resolution r"], [1, 1, 1], color=[BLUE, ORANGE, GREEN],
                                edgecolor=BLACK, linewidth=0.6)
        self.mult_labels = _bar_labels(ax, self.mult_bars)
        ax.axhline(1, color=BLACK, linewidth=1.2)
        ax.set(title="Multipliers relative to B0", ylabel="× B0")
        ax.grid(axis="x", visible=False)

        # MACs against phi: the curve changes with alpha, beta, gamma; the marker with phi
        ax = self.curve_ax
        (self.real,) = ax.step([0, 1], [1, 1], where="post", color=BLUE, label="real MACs (formula)")
        (self.ideal,) = ax.plot([0, 1], [1, 1], color=GREY, linestyle="--", label="(α·β²·γ²)^φ")
        (self.doubling,) = ax.plot([0, 1], [1, 1], color=BLACK, linestyle=":", linewidth=2, label="2^φ")
        pub = state.published
        (self.published,) = ax.plot(list(pub.phi), list(pub.macs_ratio), "D", color=ORANGE, markeredgecolor=BLACK,
                                    markersize=7, label="published B0–B7")
        (self.marker,) = ax.plot([0], [1], "o", color=RED, markersize=13, markeredgecolor=BLACK, zorder=6,
                                 label="this model")
        power_of_two_axis(ax)
        ax.set(xlabel="φ", title="MACs relative to B0 (log scale)")
        self.legend = ax.legend(loc="upper left", fontsize=10)
        self.published_range = (min(pub.macs_ratio), max(pub.macs_ratio))

        # per-stage layers and widths: B0's bars stay, the scaled ones move
        table = state.stage_table
        self.layer_bars, self.layer_labels = _stage_bars(self.layers_ax, table.b0_layers, "Layers per stage", BLUE)
        self.width_bars, self.width_labels = _stage_bars(self.width_ax, table.b0_channels,
                                                         "Output channels per stage", ORANGE)
        self.b0_layers, self.b0_channels = np.asarray(table.b0_layers), np.asarray(table.b0_channels)
        self.suptitle = fig.suptitle("", fontsize=14) if title else None
        # A fixed layout: constrained layout would double the redraw time of the slider.
        fig.subplots_adjust(left=0.055, right=0.985, bottom=0.075, top=0.87 if title else 0.95, hspace=0.38,
                            wspace=0.16)
        self.curve: tuple | None = None
        self.bars = [*self.mult_bars, *self.mult_labels, *self.layer_bars, *self.layer_labels, *self.width_bars,
                     *self.width_labels]
        # what a change of alpha, beta or gamma moves besides: the curves, B0-B7 and the legend over them,
        # in the order a full draw paints them (zorder), so a blit shows the same picture
        self.curves = [self.real, self.ideal, self.doubling, self.published, self.legend]
        self.moving = [*self.bars, self.marker]   # the first background holds the curves
        self.update(state)

    def update(self, state: "ScalingState") -> Figure:
        """Show ``state`` with the artists drawn at the start."""
        import numpy as np

        values = [state.depth, state.width, state.resolution_mult]
        _set_bars(self.mult_bars, self.mult_labels, values, "×{:.3f}")
        # every axis spans what the whole phi slider and B0-B7 reach (``state.extent``): moving phi or
        # switching mode changes no limit, so each step of a drag repaints the bars alone
        top_multiplier, top_layers, top_channels = state.extent
        self.mult_ax.set_ylim(0, nice_ceiling(max(top_multiplier * 1.25, 1.3)))
        curve = (state.curve_phi, state.curve_ratio, state.constraint)
        if curve != self.curve:  # only alpha, beta and gamma change the curves
            phis, ratios = np.asarray(state.curve_phi), np.asarray(state.curve_ratio)
            ideal = state.constraint ** phis
            self.real.set_data(phis, ratios)
            self.ideal.set_data(phis, ideal)
            self.doubling.set_data(phis, 2.0 ** phis)
            self.legend.get_texts()[1].set_text(f"(α·β²·γ²)^φ = {state.constraint:.3f}^φ")
            # limits at whole powers of two beyond every point: a small move of alpha, beta or gamma
            # keeps them, so its redraw is a blit like phi's (a new limit draws the figure anew)
            low = min(ratios.min(), ideal.min(), 2.0 ** phis[0], self.published_range[0]) / 1.05
            high = max(ratios.max(), ideal.max(), 2.0 ** phis[-1], self.published_range[1]) * 1.05
            self.curve_ax.set_ylim(2.0 ** np.floor(np.log2(low)), 2.0 ** np.ceil(np.log2(high)))
            margin = 0.05 * (phis[-1] - phis[0])   # matplotlib's own margin
            self.curve_ax.set_xlim(phis[0] - margin, phis[-1] + margin)
        # A drag of phi repaints the bars and the marker over a background that holds the curves. Once
        # alpha, beta or gamma move, the curves are repainted with every change too (a blit ~2x as long
        # as phi's alone, where a full draw takes ~8x): one new background, never a switch back and forth.
        if curve != self.curve and self.curve is not None:
            self.moving = [*self.bars, *self.curves, self.marker]
        self.curve = curve
        self.marker.set_data([state.phi], [state.macs_ratio])
        table = state.stage_table
        for ax, bars, labels, base, scaled, top in (
                (self.layers_ax, self.layer_bars, self.layer_labels, self.b0_layers, table.layers, top_layers),
                (self.width_ax, self.width_bars, self.width_labels, self.b0_channels, table.channels, top_channels)):
            _set_bars(bars, labels, list(scaled), "{:.0f}")
            ax.set_ylim(0, nice_ceiling(max(base.max(), top) * 1.22))
        if self.suptitle is not None:
            self.suptitle.set_text(state.headline)
            self.redraw_all = True
        return self.figure


def _bar_labels(ax, bars) -> list:
    """One value label 3 points above each bar, filled in by ``_set_bars``: plain text shifted by a
    transform, which draws faster than an annotation (no clipping test, no offset arithmetic)."""
    from matplotlib.transforms import ScaledTranslation

    above = ax.transData + ScaledTranslation(0, 3 / 72, ax.figure.dpi_scale_trans)
    return [ax.text(bar.get_x() + bar.get_width() / 2, 0, "", transform=above, ha="center", va="bottom",
                    fontsize=11) for bar in bars]


def _set_bars(bars, labels, values, fmt: str) -> None:
    for bar, label, value in zip(bars, labels, values):
        bar.set_height(value)
        label.set_position((bar.get_x() + bar.get_width() / 2, value))
        label.set_text(fmt.format(value))


def draw_scaling_dashboard(fig: Figure, state: "ScalingState", title: bool = True) -> Figure:
    """Fill ``fig`` with the explorer's four panels for ``state`` (see ``ScalingDashboard``)."""
    return ScalingDashboard(fig, state, title).figure


@styled(constrained=False)
def scaling_dashboard(state: "ScalingState") -> Figure:
    """The compound-scaling explorer's figure for one state (also the static figure at defaults)."""
    fig = plt.figure(figsize=(14, 9))
    return draw_scaling_dashboard(fig, state)


# ---------------------------------------------------------------------------------------------
# Lesson 06: the constraint alpha * beta^2 * gamma^2 = 2 over (alpha, beta)
# ---------------------------------------------------------------------------------------------


class ConstraintMaps(LiveFigure):
    """The lesson-06 maps over (alpha, beta), drawn once into ``fig``: left the gamma implied by
    alpha·beta²·gamma² = 2, right the real MACs of the phi = 1 model over the base's. ``data`` as
    ``states.constraint_map_data`` returns it; ``candidates`` (the grid-search results) are drawn as
    dots, the paper's point as a star; ``point`` is marked with a ring, which ``update(point)`` moves
    (the maps themselves never change)."""

    def __init__(self, fig: Figure, data: Mapping, candidates: "pd.DataFrame | None" = None,
                 point: tuple[float, float] | None = None) -> None:
        self.figure = fig
        self.rings = self.moving = _draw_constraint_maps(fig, data, candidates, point)

    def update(self, point: tuple[float, float]) -> Figure:
        for ring in self.rings:
            ring.set_data([point[0]], [point[1]])
        return self.figure


def draw_constraint_maps(fig: Figure, data: Mapping, candidates: "pd.DataFrame | None" = None,
                         point: tuple[float, float] | None = None) -> Figure:
    """Fill ``fig`` with the lesson-06 constraint maps (see ``ConstraintMaps``)."""
    return ConstraintMaps(fig, data, candidates, point).figure


def _draw_constraint_maps(fig: Figure, data: Mapping, candidates, point) -> list:
    import numpy as np
    from matplotlib import colors

    fig.clear()
    left, right = fig.subplots(1, 2)
    a, b = data["alphas"], data["betas"]
    extent = (a[0], a[-1], b[0], b[-1])
    ratio = data["macs_ratio"]
    target = float(data.get("target", 2.0))
    # MACs in bins of 0.25 on a sequential map: a diverging map centred on 2x was pale exactly there,
    # unreadable on a projector; the nominal target is the black line on the colour bar
    lo, hi = math.floor(min(np.nanmin(ratio), target) * 4) / 4, math.ceil(max(np.nanmax(ratio), target) * 4) / 4
    binned = colors.BoundaryNorm(np.arange(lo, hi + 0.125, 0.25), ncolors=256)
    panels = ((left, data["gamma"], "viridis", None, "γ implied by α·β²·γ² = 2", "γ"),
              (right, ratio, "plasma", binned, "Real MACs at φ = 1, × the base's",
               f"× base MACs (black line: the nominal {target:g}×)"))
    rings = []
    for ax, values, cmap, norm, title, unit in panels:
        image = ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap=cmap, norm=norm,
                          interpolation="nearest")
        colourbar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        colourbar.set_label(unit)
        if ax is left:
            lines = ax.contour(a, b, values, levels=[1.05, 1.15, 1.25, 1.35], colors="white", linewidths=1)
            ax.clabel(lines, fmt=lambda v: f"γ={v:.2f}", fontsize=12)
        else:
            colourbar.ax.axhline(target, color=BLACK, linewidth=3)
        ax.set(xlabel="α (depth)", ylabel="β (width)", title=title)
        ax.set_xlim(a[0] - 0.02 * (a[-1] - a[0]), a[-1])   # room for the candidates on the edges
        ax.set_ylim(b[0] - 0.02 * (b[-1] - b[0]), b[-1])
        ax.grid(False)
        ax.text(0.98, 0.985, "blank: γ < 1, outside the search", transform=ax.transAxes, ha="right", va="top",
                fontsize=12, color="#444444")
        if candidates is not None:
            paper = np.array([bool(e.get("paper_point")) for e in candidates.extra])
            ax.plot(candidates.alpha[~paper], candidates.beta[~paper], "o", color="white", markeredgecolor=BLACK,
                    markersize=8, label="searched candidates", clip_on=False, zorder=5)
            ax.plot(candidates.alpha[paper], candidates.beta[paper], "*", color=RED, markeredgecolor=BLACK,
                    markersize=16, label="paper (1.2, 1.1, 1.15)", clip_on=False, zorder=6)
        if point is not None:
            rings += ax.plot([point[0]], [point[1]], "o", markerfacecolor="none", markeredgecolor=SKY,
                             markeredgewidth=3.5, markersize=24, label="your (α, β)", zorder=7)
    if candidates is not None or point is not None:
        left.legend(loc="upper right", bbox_to_anchor=(1.0, 0.92), fontsize=10)
    # A fixed layout: constrained layout would slow the slider's redraw.
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.11, top=0.92, wspace=0.28)
    return rings


@styled(constrained=False)
def constraint_maps(data: Mapping, candidates: "pd.DataFrame | None" = None,
                    point: tuple[float, float] | None = None) -> Figure:
    """The lesson-06 constraint maps (see ``draw_constraint_maps``) as a stand-alone figure."""
    fig = plt.figure(figsize=(14, 5.6))
    return draw_constraint_maps(fig, data, candidates, point)
