"""Figures of what models cost, for the lessons: each function takes numbers the library or
``state`` computed and returns (or fills) a Figure. Nothing here counts or measures.

In a notebook end the cell with ``plt.show()`` or a ``;`` so the figure is shown once. The style
(projector-sized, colour-blind-safe) is ``style.STYLE``; the explorers' figures, drawn once and
moved to each new state, are in ``dashboards``; figures of trained results in ``result_figures``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .style import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, RED, _label_bars, power_of_two_axis, styled

if TYPE_CHECKING:
    import pandas as pd


def _stage_labels(stages: "pd.DataFrame") -> list[str]:
    short = {"Conv3x3": "stem Conv3x3", "Conv1x1 & Pooling & FC": "head 1x1, pool, FC"}
    sizes = stages.in_resolution.map(lambda r: r.split("x")[0] if len(set(r.split("x"))) == 1 else r)
    return [f"{i}  {short.get(op, op.replace(', ', ' '))} @{size}"
            for i, op, size in zip(stages.index, stages.operator, sizes)]


# ---------------------------------------------------------------------------------------------
# Lesson 01: MBConv, stochastic depth
# ---------------------------------------------------------------------------------------------


@styled
def stochastic_depth_schedule(scales: Sequence[float], p: float, schedule: Sequence[float],
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
    power_of_two_axis(ax)
    ax.set(xlabel="compound coefficient φ", ylabel="MACs relative to B0 (log scale)",
           title="Compound scaling is a staircase, not a smooth 2^φ")
    ax.legend(loc="upper left")
    return fig


@styled
def formula_vs_published(table: "pd.DataFrame") -> Figure:
    """Depth, width and resolution of the formula (lines, φ = 0…7) and of B0–B7 (points);
    ``table`` as ``states.formula_vs_published_table`` returns it."""
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
