"""Figures for the lessons: each function takes numbers the library computed and returns a Figure.

Nothing here counts or measures; ``cost.py`` and ``widgets.py`` compute, this module draws.
Every figure is made for a projector: large type, thick lines, a colour-blind-safe palette
(Okabe-Ito) and units on every axis (MMACs = millions of multiply-accumulates, M params =
millions of parameters).

In a notebook end the cell with ``plt.show()`` or a ``;`` so the figure is shown once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

if TYPE_CHECKING:
    import pandas as pd

    from .cost import Cost
    from .widgets import ScalingState

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


def _stage_labels(stages: "pd.DataFrame") -> list[str]:
    short = {"Conv3x3": "stem Conv3x3", "Conv1x1 & Pooling & FC": "head 1x1, pool, FC"}
    sizes = stages.in_resolution.map(lambda r: r.split("x")[0] if len(set(r.split("x"))) == 1 else r)
    return [f"{i}  {short.get(op, op.replace(', ', ' '))} @{size}"
            for i, op, size in zip(stages.index, stages.operator, sizes)]


# ---------------------------------------------------------------------------------------------
# Lesson 01: MBConv, stochastic depth
# ---------------------------------------------------------------------------------------------


@styled
def stochastic_depth(scales: Sequence[float], p: float, schedule: Sequence[float],
                     residual: Sequence[bool] | None = None) -> Figure:
    """Left: the factor each sample's residual branch was multiplied by in one training step
    (0 = dropped, 1/(1-p) = kept and rescaled). Right: the drop rate of each block (linear
    schedule); blocks without a skip connection (``residual`` False) are drawn hollow."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6), width_ratios=(1.2, 1))
    kept = 1 / (1 - p)
    left.bar(range(len(scales)), scales, color=BLUE, edgecolor=BLACK, linewidth=0.6)
    for i, scale in enumerate(scales):
        if scale == 0:
            left.annotate("dropped", (i, 0), xytext=(0, 6), textcoords="offset points", rotation=90,
                          ha="center", va="bottom", color=RED, fontsize=12, fontweight="bold")
    left.axhline(1.0, color=BLACK, linestyle="--", linewidth=1.5, label="eval mode: always 1")
    left.axhline(kept, color=BLUE, linestyle=":", linewidth=1.5, label=f"kept: 1/(1-p) = {kept:.2f}")
    left.set(xlabel="sample in the batch", ylabel="residual branch multiplied by",
             title=f"One training step, drop rate p = {p:g}", ylim=(0, kept * 1.35), xticks=range(len(scales)))
    left.grid(axis="x", visible=False)
    left.legend(loc="upper right", ncols=2)
    blocks = list(range(1, len(schedule) + 1))
    right.plot(blocks, schedule, color=ORANGE, zorder=1)
    residual = [True] * len(schedule) if residual is None else list(residual)
    for flag, label, face in ((True, "block with a skip", ORANGE), (False, "no skip: nothing to drop", "white")):
        xs = [b for b, r in zip(blocks, residual) if r == flag]
        ys = [v for v, r in zip(schedule, residual) if r == flag]
        if xs:
            right.plot(xs, ys, "o", color=ORANGE, markerfacecolor=face, markeredgewidth=2, label=label, zorder=2)
    right.set(xlabel="MBConv block (1 = first)", ylabel="drop rate p", title="Drop rate grows with depth",
              ylim=(0, max(schedule) * 1.2 if max(schedule) > 0 else 1))
    right.legend(loc="upper left")
    return fig


# ---------------------------------------------------------------------------------------------
# Lesson 02: where B0 spends its MACs and parameters
# ---------------------------------------------------------------------------------------------


@styled
def stage_costs(stages: "pd.DataFrame", title: str = "EfficientNet-B0: cost of each stage of Table 1",
                memory: bool = False) -> Figure:
    """Horizontal bars per Table 1 stage: MMACs and M params (and training activation MB)."""
    panels = [("macs", 1e6, "MMACs per image", BLUE, "{:.1f}"), ("params", 1e6, "M params", ORANGE, "{:.2f}")]
    if memory:
        panels.append(("activation_MB", 1, "training activations, MB per image", GREEN, "{:.1f}"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels) - 1.5 * (len(panels) - 1), 5.2),
                             sharey=True)
    labels = _stage_labels(stages)
    for ax, (column, scale, unit, colour, fmt) in zip(axes, panels):
        values = stages[column] / scale
        bars = ax.barh(labels, values, color=colour, edgecolor=BLACK, linewidth=0.6)
        _label_bars(ax, bars, fmt, horizontal=True)
        ax.set_xlabel(unit)
        ax.set_xlim(0, values.max() * 1.25)
        ax.grid(axis="y", visible=False)
    axes[0].invert_yaxis()  # stage 1 on top, as in the paper's table
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# Lesson 03: FLOPs are not latency, FLOPs are not memory
# ---------------------------------------------------------------------------------------------


@styled
def latency_vs_macs(table: "pd.DataFrame", device: str) -> Figure:
    """Measured latency (ms) against MACs (GMACs): one point per model (index = model name).

    ``table`` needs columns ``macs`` and ``latency_ms``; rows whose name starts with "B" are
    EfficientNets and are joined by a line."""
    fig, ax = plt.subplots(figsize=(10, 5.8))
    effnets = table[[str(n).upper().startswith("B") for n in table.index]]
    others = table.drop(effnets.index)
    ax.plot(effnets.macs / 1e9, effnets.latency_ms, marker="o", color=BLUE, label="EfficientNet")
    ax.plot(others.macs / 1e9, others.latency_ms, marker="s", linestyle="none", color=RED, label="ResNet-50")
    if len(effnets):  # what latency would be if every MAC cost as much time as in the smallest EfficientNet
        first = effnets.iloc[0]
        slope = first.latency_ms / (first.macs / 1e9)
        xmax = table.macs.max() / 1e9 * 1.2
        ax.plot([0, xmax], [0, slope * xmax], color=GREY, linestyle="--", linewidth=2,
                label=f"time proportional to MACs, at {effnets.index[0]}'s rate")
    for name, row in table.iterrows():
        ax.annotate(str(name), (row.macs / 1e9, row.latency_ms), xytext=(8, -4), textcoords="offset points",
                    fontsize=13, fontweight="bold")
    ax.set(xlabel="GMACs per image (conv + linear multiply-adds)", ylabel="latency, ms per image (batch 1)",
           title=f"Latency does not follow MACs ({device})", xlim=(0, table.macs.max() / 1e9 * 1.2),
           ylim=(0, table.latency_ms.max() * 1.25))
    ax.legend(loc="upper left")
    return fig


@styled
def compare_models(metrics: Mapping[str, Mapping[str, float]], title: str) -> Figure:
    """Small multiples: one panel per metric ("GMACs per image": {"B0": 0.39, "ResNet-50": 4.1}, ...).

    Each panel's title is its unit, so no number is ever shown without one."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 4.6))
    axes = [axes] if len(metrics) == 1 else list(axes)
    palette = [BLUE, RED, GREEN, ORANGE, PURPLE]
    for ax, (unit, values) in zip(axes, metrics.items()):
        names, numbers = list(values), list(values.values())
        bars = ax.bar(names, numbers, color=palette[: len(names)], edgecolor=BLACK, linewidth=0.6)
        _label_bars(ax, bars, "{:.3g}")
        ax.set_title(unit, fontsize=13)
        ax.set_ylim(0, max(numbers) * 1.25)
        ax.grid(axis="x", visible=False)
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# Lesson 04: compound scaling
# ---------------------------------------------------------------------------------------------

def _power_of_two_axis(ax) -> None:
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))


@styled
def staircase(phis: Sequence[float], ratios: Sequence[float], flops_factor: float,
              published: Mapping[str, tuple[float, float]] | None = None,
              effective: Mapping[str, float] | None = None, coefficients: str = "α=1.2, β=1.1, γ=1.15",
              marks: Sequence[float] = (0.5, 1.0)) -> Figure:
    """MACs relative to B0 against φ: the real count (a staircase), the ideal (α·β²·γ²)^φ and 2^φ.

    ``published``: name -> (nominal φ, MACs / B0) drawn as points; ``effective``: name -> the φ at
    which the formula reaches that variant's MACs, drawn as an arrow from the nominal φ."""
    import numpy as np

    phis = np.asarray(phis, dtype=float)
    fig, ax = plt.subplots(figsize=(11, 6.2))
    ax.plot(phis, float(flops_factor) ** phis, color=GREY, linestyle="--",
            label=f"ideal (α·β²·γ²)^φ = {flops_factor:.4f}^φ")
    ax.plot(phis, 2.0 ** phis, color=BLACK, linestyle=":", linewidth=2, label="2^φ")
    ax.step(phis, ratios, where="post", color=BLUE, label=f"real MACs, formula ({coefficients})")
    notes = []
    for phi in marks:
        r = float(np.interp(phi, phis, ratios))
        ax.plot([phi], [r], "o", color=BLUE, markeredgecolor=BLACK, zorder=6)
        ax.annotate(f"φ={phi:g}", (phi, r), xytext=(-10, 10), textcoords="offset points", ha="right",
                    fontsize=12, color=BLUE, fontweight="bold")
        notes.append(f"φ = {phi:g}: real {r:.2f}×,  ideal {flops_factor ** phi:.2f}×,  2^φ = {2 ** phi:.2f}×")
    if notes:
        ax.text(0.98, 0.04, "\n".join(notes), transform=ax.transAxes, ha="right", va="bottom", fontsize=12,
                color=BLUE, bbox=dict(boxstyle="round", facecolor="white", edgecolor=BLUE))
    if published:
        names = list(published)
        ax.plot([published[n][0] for n in names], [published[n][1] for n in names], "D", color=ORANGE,
                markeredgecolor=BLACK, label="published B0–B7 (at φ = their number)", zorder=5)
        for n in names:
            x, y = published[n]
            ax.annotate(n.upper(), (x, y), xytext=(6, -20), textcoords="offset points", fontsize=12,
                        fontweight="bold", color=RED)
            if effective and n in effective and abs(effective[n] - x) > 0.05:
                ax.annotate("", xy=(effective[n], y), xytext=(x, y),
                            arrowprops=dict(arrowstyle="->", color=RED, linewidth=1.8))
        if effective:
            ax.plot([], [], color=RED, marker=r"$\leftarrow$", linestyle="none", markersize=14,
                    label="arrow: effective φ (same MACs on the formula)")
    ax.axvline(0, color=GREY, linewidth=1)
    _power_of_two_axis(ax)
    ax.set(xlabel="compound coefficient φ", ylabel="MACs relative to B0 (log scale)",
           title="Compound scaling is a staircase, not a smooth 2^φ")
    ax.legend(loc="upper left")
    return fig


@styled
def formula_vs_published(table: "pd.DataFrame") -> Figure:
    """Depth, width and resolution of the formula (lines, φ = 0…7) and of B0–B7 (points);
    ``table`` as ``widgets.formula_vs_published`` returns it."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    panels = [("depth", "depth multiplier (× B0 layers)"), ("width", "width multiplier (× B0 channels)"),
              ("resolution", "input resolution, pixels")]
    for ax, (column, unit) in zip(axes, panels):
        ax.plot(table["phi"], table[(column, "formula")], marker="o", color=BLUE, label="formula α^φ, β^φ, γ^φ")
        ax.plot(table["phi"], table[(column, "published")], marker="D", linestyle="none", color=ORANGE,
                markeredgecolor=BLACK, label="published B0–B7")
        ax.set(xlabel="φ  (variant number for B0–B7)", title=unit)
    axes[0].legend(loc="upper left")
    fig.suptitle("The published variants do not follow the formula exactly")
    return fig


def _stage_bars(ax, base: Sequence[int], scaled: Sequence[int], title: str, colour: str, log: bool = False) -> None:
    import numpy as np

    x = np.arange(2, 2 + len(base))
    ax.bar(x - 0.2, base, width=0.4, color=GREY, edgecolor=BLACK, linewidth=0.5, label="B0")
    bars = ax.bar(x + 0.2, scaled, width=0.4, color=colour, edgecolor=BLACK, linewidth=0.5, label="scaled")
    _label_bars(ax, bars, "{:.0f}")
    ax.set(xticks=x, xlabel="Table 1 stage (MBConv stages 2–8)", title=title)
    ax.set_ylim(0, max(max(base), max(scaled)) * 1.22)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", fontsize=11)


def draw_scaling_dashboard(fig: Figure, state: "ScalingState", title: bool = True) -> Figure:
    """Fill ``fig`` with the explorer's four panels (no pyplot: safe inside a widget callback).

    ``title=False`` leaves out the headline (the explorer prints it as text above the figure)."""
    import numpy as np

    fig.clear()
    axes = fig.subplots(2, 2)
    (mult_ax, curve_ax), (layers_ax, width_ax) = axes

    # multipliers
    names = ["depth d", "width w", "resolution r"]
    values = [state.depth, state.width, state.resolution_mult]
    bars = mult_ax.bar(names, values, color=[BLUE, ORANGE, GREEN], edgecolor=BLACK, linewidth=0.6)
    _label_bars(mult_ax, bars, "×{:.3f}")
    mult_ax.axhline(1, color=BLACK, linewidth=1.2)
    mult_ax.set_ylim(0, max(max(values) * 1.25, 1.3))
    mult_ax.set(title="Multipliers relative to B0", ylabel="× B0")
    mult_ax.grid(axis="x", visible=False)

    # MACs against phi
    phis, ratios = np.asarray(state.curve_phi), np.asarray(state.curve_ratio)
    curve_ax.step(phis, ratios, where="post", color=BLUE, label="real MACs (formula)")
    curve_ax.plot(phis, state.constraint ** phis, color=GREY, linestyle="--",
                  label=f"(α·β²·γ²)^φ = {state.constraint:.3f}^φ")
    curve_ax.plot(phis, 2.0 ** phis, color=BLACK, linestyle=":", linewidth=2, label="2^φ")
    pub = state.published
    curve_ax.plot(list(pub.phi), list(pub.macs_ratio), "D", color=ORANGE, markeredgecolor=BLACK,
                  markersize=7, label="published B0–B7")
    curve_ax.plot([state.phi], [state.macs_ratio], "o", color=RED, markersize=13, markeredgecolor=BLACK,
                  zorder=6, label="this model")
    _power_of_two_axis(curve_ax)
    curve_ax.set(xlabel="φ", title="MACs relative to B0 (log scale)")
    curve_ax.legend(loc="upper left", fontsize=10)

    # per-stage layers and widths
    table = state.stage_table
    _stage_bars(layers_ax, table.b0_layers, table.layers, "Layers per stage", BLUE)
    _stage_bars(width_ax, table.b0_channels, table.channels, "Output channels per stage", ORANGE)
    if title:
        fig.suptitle(state.headline, fontsize=14)
    # A fixed layout: constrained layout would double the redraw time of the slider.
    fig.subplots_adjust(left=0.055, right=0.985, bottom=0.075, top=0.87 if title else 0.95, hspace=0.38,
                        wspace=0.16)
    return fig


@styled(constrained=False)
def scaling_dashboard(state: "ScalingState") -> Figure:
    """The compound-scaling explorer's figure for one state (also the static figure at defaults)."""
    fig = plt.figure(figsize=(14, 9))
    return draw_scaling_dashboard(fig, state)


# ---------------------------------------------------------------------------------------------
# Lessons 05, 06, 08: results of the sweeps (tables from experiments.load_results)
# ---------------------------------------------------------------------------------------------

RULE_COLOURS = {"base": BLACK, "width": BLUE, "depth": ORANGE, "resolution": GREEN, "compound": RED,
                "official": PURPLE, "formula": SKY}


def _provenance(table: "pd.DataFrame") -> str:
    devices = sorted(set(table.device))
    seeds = sorted(set(table.seeds_n))
    return (f"{', '.join(devices)}; {'/'.join(map(str, seeds))} seeds per point; "
            f"{int(table.n_train.iloc[0]):,} training images")


def _errorbars(ax, x, table: "pd.DataFrame", colour: str, label: str, marker: str = "o", line: bool = True) -> None:
    ax.errorbar(x, table.accuracy_mean * 100, yerr=table.accuracy_std * 100, color=colour, marker=marker,
                linestyle="-" if line else "none", capsize=5, label=label, zorder=3)
    for xi, accs in zip(x, table.accuracies):  # every seed, faint, so the spread is visible as data
        ax.scatter([xi] * len(accs), [a * 100 for a in accs], color=colour, alpha=0.35, s=22, zorder=2)


@styled
def accuracy_vs_macs(table: "pd.DataFrame", title: str = "Scaling one dimension vs all three",
                     rules: Sequence[str] = ("width", "depth", "resolution", "compound")) -> Figure:
    """Accuracy (mean, +-1 std error bars, each seed as a faint dot) against MMACs, one line per rule.

    The ``base`` row starts every line: each rule scales the same model."""
    import numpy as np
    import pandas as pd

    fig, ax = plt.subplots(figsize=(10.5, 6))
    base = table[table.rule == "base"]
    for rule in rules:
        part = table[table.rule == rule]
        if part.empty:
            continue
        part = pd.concat([base, part])
        _errorbars(ax, list(part.mmacs), part, RULE_COLOURS.get(rule, GREY), f"{rule} only" if rule in
                   ("width", "depth", "resolution") else rule)
    ax.set_xscale("log", base=2)
    if len(base):  # ticks at the budgets: 1x, 2x, 4x ... the base's MACs
        b = float(base.mmacs.iloc[0])
        top = float(table.mmacs.max()) / b
        ticks = [b * 2.0 ** k for k in range(0, int(round(np.log2(top))) + 1)] if top > 1 else [b]
        ax.set_xticks(ticks, [f"{t:.1f}\n({t / b:.0f}×)" for t in ticks])
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set(xlabel="MMACs per image (millions of multiply-adds, log scale; × the base)", ylabel="test accuracy, %",
           title=title)
    ax.text(0.01, 0.01, _provenance(table), transform=ax.transAxes, fontsize=10, color="#444444")
    ax.legend(loc="best")
    return fig


@styled
def grid_search(table: "pd.DataFrame", title: str = "The alpha-beta-gamma grid at phi = 1") -> Figure:
    """Every searched (alpha, beta, gamma), best first: accuracy with seed spread; the paper's point in red."""
    order = table.sort_values("accuracy_mean", ascending=True)
    fig, ax = plt.subplots(figsize=(10.5, 0.55 * len(order) + 2.2))
    y = range(len(order))
    paper = [bool(e.get("paper_point")) for e in order.extra]
    colours = [RED if p else BLUE for p in paper]
    # dots, not bars: the axis does not start at zero, and a bar's length would then mislead
    for yi, row, colour in zip(y, order.itertuples(), colours):
        ax.errorbar(row.accuracy_mean * 100, yi, xerr=row.accuracy_std * 100, color=colour, marker="o",
                    markersize=11, capsize=5, zorder=3)
        ax.scatter([a * 100 for a in row.accuracies], [yi] * len(row.accuracies), color=colour, alpha=0.35, s=22)
    labels = [f"α={r.alpha:g} β={r.beta:g} γ={r.gamma:g}  ({r.mmacs:.1f} MMACs)" for r in order.itertuples()]
    ax.set_yticks(list(y), labels, fontsize=11)
    low = (order.accuracy_mean - order.accuracy_std).min() * 100
    ax.set_xlim(max(0, low - 5), (order.accuracy_mean + order.accuracy_std).max() * 100 + 3)
    ax.set(xlabel="test accuracy, % (mean ± std over seeds)", title=title)
    ax.grid(axis="y", visible=False)
    rank = 1 + list(reversed(paper)).index(True) if any(paper) else None
    note = f"red: the paper's (1.2, 1.1, 1.15), rank {rank} of {len(order)}" if rank else "paper's point not in grid"
    ax.text(0.99, 0.01, note + "\n" + _provenance(table), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=10, color="#444444")
    return fig


@styled
def accuracy_vs_resolution(table: "pd.DataFrame", title: str = "Imagenette: one model at growing resolution") -> Figure:
    """Accuracy with seed spread against input resolution, MMACs printed at each point."""
    fig, ax = plt.subplots(figsize=(9, 5.6))
    res = [r if isinstance(r, int) else r[0] for r in table.resolution]
    _errorbars(ax, res, table, GREEN, "accuracy")
    for x, row in zip(res, table.itertuples()):
        ax.annotate(f"{row.mmacs:.1f} MMACs", (x, row.accuracy_mean * 100), xytext=(8, -16),
                    textcoords="offset points", fontsize=11)
    ax.set(xlabel="input resolution, px (square)", ylabel="test accuracy, %", title=title, xticks=res)
    ax.text(0.01, 0.99, _provenance(table), transform=ax.transAxes, fontsize=10, va="top", color="#444444")
    return fig


def save(fig: Figure, path) -> None:
    """Save a lesson figure (for the README or a handout) at print resolution."""
    with plt.rc_context(STYLE):
        fig.savefig(path, bbox_inches="tight")


__all__ = ["STYLE", "styled", "stochastic_depth", "stage_costs", "latency_vs_macs", "compare_models",
           "staircase", "formula_vs_published", "draw_scaling_dashboard", "scaling_dashboard", "accuracy_vs_macs",
           "grid_search", "accuracy_vs_resolution", "save"]


# --- lessons 05-06 ---


@styled
def live_over_saved(saved: "pd.DataFrame", live: "pd.DataFrame", note: str = "",
                    title: str = "Saved sweep (filled) and a tiny live run (hollow)") -> Figure:
    """Lesson 05: the saved accuracy-vs-MACs curves, and over them a live re-run's points (hollow
    squares, one per trial, labelled by rule). ``note`` says what the live run was (images, epochs)."""
    fig = accuracy_vs_macs(saved, title=title)
    ax = fig.axes[0]
    for rule in ("base", "width", "depth", "resolution", "compound"):
        part = live[live.rule == rule]
        if part.empty:
            continue
        ax.plot(list(part.mmacs), list(part.accuracy_mean * 100), "s", markersize=11, markerfacecolor="white",
                markeredgewidth=2.2, color=RULE_COLOURS.get(rule, GREY), zorder=5)
    ax.plot([], [], "s", markerfacecolor="white", markeredgewidth=2.2, color=BLACK,
            label="tiny live run (colour = rule)")
    ax.axhline(10, color=GREY, linestyle=":", linewidth=1.5)
    ax.annotate("chance (10 classes)", (0.99, 10), xycoords=("axes fraction", "data"), xytext=(0, 4),
                textcoords="offset points", ha="right", va="bottom", fontsize=10, color="#444444")
    ax.set_ylim(0, max(68, float((saved.accuracy_mean + saved.accuracy_std).max()) * 100 + 16))
    lo = min(float(saved.mmacs.min()), float(live.mmacs.min())) / 1.15
    hi = max(float(saved.mmacs.max()), float(live.mmacs.max())) * 1.15
    ax.set_xlim(lo, hi)
    ax.legend(loc="upper center", ncols=3, fontsize=11)  # above the curves, in the room made for it
    if note:
        ax.text(0.01, 0.07, "live: " + note, transform=ax.transAxes, fontsize=10, color="#444444")
    return fig


@styled
def run_vs_run(first: "pd.DataFrame", second: "pd.DataFrame", names: tuple[str, str] = ("first", "second"),
               title: str = "One sweep, two runs") -> Figure:
    """Each shared trial's accuracy in one run against the other (±1 std both ways), coloured by
    rule, with the diagonal where the runs agree exactly."""
    fig, ax = plt.subplots(figsize=(7.5, 7))
    shared = [t for t in first.trial_id if t in set(second.trial_id)]
    x, y = first.loc[shared], second.loc[shared]
    for rule in dict.fromkeys(x.rule):
        m = (x.rule == rule).to_numpy()
        ax.errorbar(x.accuracy_mean[m] * 100, y.accuracy_mean[m] * 100, xerr=x.accuracy_std[m] * 100,
                    yerr=y.accuracy_std[m] * 100, fmt="o", capsize=4, color=RULE_COLOURS.get(rule, GREY), label=rule)
    values = [*(x.accuracy_mean - x.accuracy_std), *(y.accuracy_mean - y.accuracy_std),
              *(x.accuracy_mean + x.accuracy_std), *(y.accuracy_mean + y.accuracy_std)]
    lo, hi = min(values) * 100 - 2, max(values) * 100 + 2
    ax.plot([lo, hi], [lo, hi], color=GREY, linestyle="--", linewidth=1.5, label="the same accuracy")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", title=title,
           xlabel=f"{names[0]}: test accuracy, %", ylabel=f"{names[1]}: test accuracy, %")
    ax.legend(loc="upper left", fontsize=11)
    return fig


def draw_constraint_maps(fig: Figure, data: Mapping, candidates: "pd.DataFrame | None" = None,
                         point: tuple[float, float] | None = None) -> Figure:
    """Fill ``fig`` with the lesson-06 maps over (alpha, beta): left the gamma implied by
    alpha·beta²·gamma² = 2, right the real MACs of the phi = 1 model over the base's. ``data`` as
    ``widgets.constraint_map_data`` returns it; ``candidates`` (the grid-search results) are drawn as
    dots, the paper's point as a star; ``point`` is marked with a cross."""
    import numpy as np
    from matplotlib import colors

    fig.clear()
    left, right = fig.subplots(1, 2)
    a, b = data["alphas"], data["betas"]
    extent = (a[0], a[-1], b[0], b[-1])
    ratio = data["macs_ratio"]
    target = float(data.get("target", 2.0))
    # MACs: a diverging map centred on the nominal target, so "above 2x" and "below 2x" read at a glance
    centred = colors.TwoSlopeNorm(vcenter=target, vmin=min(np.nanmin(ratio), target - 0.1),
                                  vmax=max(np.nanmax(ratio), target + 0.1))
    panels = ((left, data["gamma"], "viridis", None, "γ implied by α·β²·γ² = 2", "γ"),
              (right, ratio, "RdBu_r", centred, "Real MACs at φ = 1, × the base's",
               f"× base MACs (white: the nominal {target:g}×)"))
    for ax, values, cmap, norm, title, unit in panels:
        image = ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap=cmap, norm=norm,
                          interpolation="nearest")
        colourbar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        colourbar.set_label(unit)
        if ax is left:
            lines = ax.contour(a, b, values, levels=[1.05, 1.15, 1.25, 1.35], colors="white", linewidths=1)
            ax.clabel(lines, fmt=lambda v: f"γ={v:.2f}", fontsize=10)
        ax.set(xlabel="α (depth)", ylabel="β (width)", title=title)
        ax.set_xlim(a[0] - 0.02 * (a[-1] - a[0]), a[-1])   # room for the candidates on the edges
        ax.set_ylim(b[0] - 0.02 * (b[-1] - b[0]), b[-1])
        ax.grid(False)
        ax.text(0.98, 0.985, "blank: γ < 1, outside the search", transform=ax.transAxes, ha="right", va="top",
                fontsize=10, color="#444444")
        if candidates is not None:
            paper = np.array([bool(e.get("paper_point")) for e in candidates.extra])
            ax.plot(candidates.alpha[~paper], candidates.beta[~paper], "o", color="white", markeredgecolor=BLACK,
                    markersize=8, label="searched candidates", clip_on=False, zorder=5)
            ax.plot(candidates.alpha[paper], candidates.beta[paper], "*", color=RED, markeredgecolor=BLACK,
                    markersize=16, label="paper (1.2, 1.1, 1.15)", clip_on=False, zorder=6)
        if point is not None:
            ax.plot([point[0]], [point[1]], "o", markerfacecolor="none", markeredgecolor=SKY, markeredgewidth=3.5,
                    markersize=24, label="your (α, β)", zorder=7)
    if candidates is not None or point is not None:
        left.legend(loc="upper right", bbox_to_anchor=(1.0, 0.92), fontsize=10)
    # A fixed layout: constrained layout would slow the slider's redraw.
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.11, top=0.92, wspace=0.28)
    return fig


@styled(constrained=False)
def constraint_maps(data: Mapping, candidates: "pd.DataFrame | None" = None,
                    point: tuple[float, float] | None = None) -> Figure:
    """The lesson-06 constraint maps (see ``draw_constraint_maps``) as a stand-alone figure."""
    fig = plt.figure(figsize=(14, 5.6))
    return draw_constraint_maps(fig, data, candidates, point)


@styled
def grid_accuracy_vs_cost(table: "pd.DataFrame",
                          title: str = "The same nominal φ = 1, very different real costs") -> Figure:
    """Lesson 06: each searched (alpha, beta, gamma) at its real MACs over the base's (``budget_x``),
    accuracy with seed spread, coloured by the share of log(α·β²·γ²) spent on resolution (2·log γ)."""
    import numpy as np
    from matplotlib import cm, colors

    fig, ax = plt.subplots(figsize=(11, 6), layout="constrained")  # before the colour bar is made
    share = 2 * np.log(table.gamma.astype(float)) / np.log(table.alpha * table.beta**2 * table.gamma**2)
    norm = colors.Normalize(0, 1)
    cmap = plt.get_cmap("viridis")
    for row, s in zip(table.itertuples(), share):
        colour = cmap(norm(s))
        paper = bool(row.extra.get("paper_point"))
        ax.errorbar(row.budget_x, row.accuracy_mean * 100, yerr=row.accuracy_std * 100, color=colour,
                    marker="*" if paper else "o", markersize=17 if paper else 10, markeredgecolor=BLACK,
                    capsize=5, zorder=3)
        ax.scatter([row.budget_x] * len(row.accuracies), [a * 100 for a in row.accuracies], color=colour,
                   alpha=0.4, s=22, zorder=2)
        # label above the error bar; below it when a more accurate neighbour's label would collide
        top = lambda r: max(r.accuracy_mean + r.accuracy_std, max(r.accuracies))  # noqa: E731
        below = any(abs(o.budget_x - row.budget_x) < 0.15 and o.accuracy_mean > row.accuracy_mean
                    and abs(top(o) - top(row)) < 0.02 for o in table.itertuples() if o.trial_id != row.trial_id)
        edge = (min(row.accuracy_mean - row.accuracy_std, min(row.accuracies)) if below else
                max(row.accuracy_mean + row.accuracy_std, max(row.accuracies))) * 100
        ax.annotate(f"({row.alpha:g}, {row.beta:g}, {row.gamma:g})", (row.budget_x, edge),
                    xytext=(0, -8 if below else 8), textcoords="offset points", ha="center",
                    va="top" if below else "bottom", fontsize=10)
    ax.axvline(2.0, color=GREY, linestyle="--", linewidth=1.5)
    ax.annotate("nominal 2×", (2.0, 0.99), xycoords=("data", "axes fraction"), xytext=(4, 0),
                textcoords="offset points", va="top", fontsize=11, color="#444444")
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02)
    bar.set_label("share of the cost spent on resolution, 2·ln γ / ln(α·β²·γ²)")
    ax.set(xlabel="real MACs at φ = 1 over the base's (budget_x)", ylabel="test accuracy, %", title=title)
    ax.set_xlim(float(table.budget_x.min()) - 0.15, float(table.budget_x.max()) + 0.15)
    low = float((table.accuracy_mean - table.accuracy_std).min()) * 100
    high = float((table.accuracy_mean + table.accuracy_std).max()) * 100
    ax.set_ylim(low - 3.5, high + 2.5)
    ax.text(0.99, 0.01, "labels: (α, β, γ); star: the paper's point\n" + _provenance(table),
            transform=ax.transAxes, ha="right", va="bottom", fontsize=10, color="#444444")
    return fig


__all__ += ["live_over_saved", "run_vs_run", "draw_constraint_maps", "constraint_maps", "grid_accuracy_vs_cost"]


# --- lessons 07-08 ---


@styled
def objective_penalty(ws: Sequence[float] = (0.0, -0.07, -0.15), span: tuple[float, float] = (1 / 8, 8),
                      hard: bool = True) -> Figure:
    """Lesson 07: the factor the NAS objective multiplies accuracy by, against MACs / T, for a few
    soft exponents ``w`` and (``hard``) MnasNet's hard constraint."""
    import numpy as np

    from .nas import hard_objective, objective

    ratios = np.geomspace(span[0], span[1], 400)
    fig, ax = plt.subplots(figsize=(10, 5.6))
    for w, colour in zip(ws, (BLACK, BLUE, SKY, PURPLE, GREEN)):
        label = f"soft, w = {w:g}" + ("  (accuracy only)" if w == 0 else "  (the paper's)" if w == -0.07 else "")
        ax.plot(ratios, objective(np.ones_like(ratios), ratios, 1.0, w), color=colour, label=label)
    if hard:
        ax.plot(ratios, hard_objective(np.ones_like(ratios), ratios, 1.0), color=RED, linestyle="--",
                label="hard: 1 up to T, then T / MACs")
    ax.axvline(1.0, color=GREY, linestyle=":", linewidth=1.5)
    ax.annotate("MACs = T", (1.0, 0.02), xycoords=("data", "axes fraction"), xytext=(5, 0),
                textcoords="offset points", fontsize=11, color="#444444")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set(xlabel="MACs / T (log scale)", ylabel="score / accuracy  =  (MACs / T)^w",
           title="How the objective weighs cost", ylim=(0, 1.45))
    ax.legend(loc="lower left")
    return fig


def _objective_curve(state: "pd.DataFrame", score: float, macs):
    import numpy as np

    target, w = state.attrs["target"], state.attrs["w"]
    if state.attrs["mode"] == "hard":
        return score * np.where(macs <= target, 1.0, macs / target)
    return score * (macs / target) ** -w


def draw_objective(fig: Figure, state: "pd.DataFrame", title: str | None = None, label_all: bool | None = None) -> Figure:
    """Fill ``fig`` with a ranked objective table (``widgets.objective_state``): left, accuracy
    against MACs with the Pareto front, T and the curve of equal score through the winner; right,
    the scores, best on top."""
    import numpy as np

    fig.clear()
    left, right = fig.subplots(1, 2, width_ratios=(1.45, 1))
    target, mode, w = state.attrs["target"], state.attrs["mode"], state.attrs["w"]
    rule = f"soft, w = {w:g}" if mode == "soft" else "hard constraint"
    mmacs, acc = state.macs / 1e6, state.accuracy * 100
    best = state.iloc[0]
    left.scatter(mmacs, acc, s=70, color=BLUE, edgecolor=BLACK, linewidth=0.6, zorder=3, label="model")
    front = state[state.pareto].sort_values("macs")
    left.plot(front.macs / 1e6, front.accuracy * 100, color=GREEN, linewidth=2, zorder=2, drawstyle="steps-post",
              label="Pareto front")
    lo, hi = float(mmacs.min()) / 1.6, float(mmacs.max()) * 1.6
    grid = np.geomspace(min(lo, target / 1e6 / 1.2), max(hi, target / 1e6 * 1.2), 300)
    left.plot(grid, _objective_curve(state, float(best.score), grid * 1e6) * 100, color=RED, linestyle="--",
              linewidth=1.8, label="equal score to the winner")
    left.scatter([best.macs / 1e6], [best.accuracy * 100], s=380, marker="*", color=RED, edgecolor=BLACK,
                 zorder=4, label=f"winner: {best.name}")
    left.axvline(target / 1e6, color=GREY, linestyle=":", linewidth=1.8)
    left.annotate(f"T = {target / 1e6:,.4g} MMACs", (target / 1e6, 0.98), xycoords=("data", "axes fraction"),
                  xytext=(5, 0), textcoords="offset points", fontsize=11, va="top", color="#444444")
    label_all = len(state) <= 10 if label_all is None else label_all
    labelled = (state if label_all else state.head(3)).sort_values("macs")
    for k, (name, row) in enumerate(labelled.iterrows()):  # alternate right/left: neighbours overlap less
        left.annotate(str(name), (row.macs / 1e6, row.accuracy * 100), xytext=(9 if k % 2 == 0 else -9, 0),
                      textcoords="offset points", fontsize=10, va="center", ha="left" if k % 2 == 0 else "right")
    left.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    left.xaxis.set_major_formatter(plain)
    if max(grid) / min(grid) < 30:  # less than ~1.5 decades: label the minor ticks too, in plain numbers
        left.xaxis.set_minor_formatter(plain)
    span = float(acc.max() - acc.min()) or 1.0
    left.set(xlabel="MMACs per image (log scale)", ylabel="accuracy, %", xlim=(min(grid), max(grid)),
             ylim=(float(acc.min()) - 0.25 * span, float(acc.max()) + 0.3 * span),
             title=title or f"Accuracy against cost ({rule})")
    left.legend(loc="best", fontsize=10)
    order = state.iloc[::-1]
    colours = [RED if n == best.name else (BLUE if m <= target else SKY) for n, m in zip(order.index, order.macs)]
    bars = right.barh([str(n) for n in order.index], order.score, color=colours, edgecolor=BLACK, linewidth=0.6)
    _label_bars(right, bars, "{:.3f}", horizontal=True)
    smin, smax = float(state.score.min()), float(state.score.max())
    right.set_xlim(max(0.0, smin - 0.15 * (smax - smin + 1e-9) - 0.02), smax + 0.25 * (smax - smin + 1e-9) + 0.02)
    right.set(xlabel="score" + (" = ACC·(MACs/T)^w" if mode == "soft" else " (hard constraint)"),
              title="Ranked (blue: MACs ≤ T; light: above)")
    right.grid(axis="y", visible=False)
    fig.supxlabel("data: " + state.attrs.get("provenance", ""), fontsize=10, color="#444444", x=0.01, ha="left")
    return fig


@styled
def objective_ranking(state: "pd.DataFrame", title: str | None = None, label_all: bool | None = None) -> Figure:
    """``draw_objective`` on a new figure (the static version of the lesson-07 explorer)."""
    fig = plt.figure(figsize=(14, 5.8))
    return draw_objective(fig, state, title, label_all)


@styled
def class_activation_maps(images, rows: Mapping[str, tuple], labels: Sequence[str],
                          title: str = "Class activation maps: where each model looks") -> Figure:
    """Lesson 08: the images (top row) and, for each model, its CAM over the image.

    ``images``: uint8 (N, 3, H, W); ``rows``: model name -> (maps (N, H, W) in [0, 1], predicted
    class names, probabilities); ``labels``: the true class names."""
    n = len(labels)
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(2.9 * n, 3.15 * (1 + len(rows))), squeeze=False)
    pictures = images.permute(0, 2, 3, 1).cpu().numpy()
    for j in range(n):
        axes[0, j].imshow(pictures[j])
        axes[0, j].set_title(labels[j], fontsize=12, fontweight="bold")
        for i, (name, (maps, predicted, probability)) in enumerate(rows.items(), start=1):
            ax = axes[i, j]
            ax.imshow(pictures[j])
            ax.imshow(maps[j].cpu().numpy(), cmap="inferno", alpha=0.55, vmin=0, vmax=1,
                      extent=(-0.5, pictures.shape[2] - 0.5, pictures.shape[1] - 0.5, -0.5))
            right = predicted[j] == labels[j]
            ax.set_title(f"{'✓' if right else '✗'} {predicted[j]} ({probability[j]:.0%})", fontsize=11,
                         color=GREEN if right else RED)
    for i, name in enumerate(["image", *rows]):
        axes[i, 0].set_ylabel(name, fontsize=13, fontweight="bold")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.suptitle(title)
    return fig


__all__ += ["objective_penalty", "draw_objective", "objective_ranking", "class_activation_maps"]
