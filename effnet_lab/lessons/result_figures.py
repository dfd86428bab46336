"""Figures of trained results for the lessons: accuracy against cost, with every seed shown.

Each function takes numbers the library computed (``store.load_results``, the ``state``
tables) and returns a Figure; nothing here trains, counts or measures. In a notebook end the cell
with ``plt.show()`` or a ``;`` so the figure is shown once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .style import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, RED, SKY, styled

if TYPE_CHECKING:
    import pandas as pd


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
    ax.text(0.01, 0.01, _provenance(table), transform=ax.transAxes, fontsize=12, color="#444444")
    ax.legend(loc="best")
    return fig


@styled
def grid_search(table: "pd.DataFrame", title: str = "The alpha-beta-gamma grid at phi = 1") -> Figure:
    """Every searched (alpha, beta, gamma), best first: accuracy with seed spread; the paper's point in red."""
    order = table.sort_values("accuracy_mean", ascending=True)
    fig, ax = plt.subplots(figsize=(10.5, 0.55 * len(order) + 2.8))
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
    ax.set_ylim(-1.8, len(order) - 0.5)  # an empty band under the last point for the note: no data under it
    rank = 1 + list(reversed(paper)).index(True) if any(paper) else None
    note = f"red: the paper's (1.2, 1.1, 1.15), rank {rank} of {len(order)}" if rank else "paper's point not in grid"
    ax.text(0.99, 0.01, note + "\n" + _provenance(table), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=12, color="#444444")
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
    ax.text(0.01, 0.99, _provenance(table), transform=ax.transAxes, fontsize=12, va="top", color="#444444")
    return fig


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
                textcoords="offset points", ha="right", va="bottom", fontsize=12, color="#444444")
    ax.set_ylim(0, max(68, float((saved.accuracy_mean + saved.accuracy_std).max()) * 100 + 16))
    lo = min(float(saved.mmacs.min()), float(live.mmacs.min())) / 1.15
    hi = max(float(saved.mmacs.max()), float(live.mmacs.max())) * 1.15
    ax.set_xlim(lo, hi)
    ax.legend(loc="upper center", ncols=3, fontsize=11)  # above the curves, in the room made for it
    if note:
        ax.text(0.01, 0.07, "live: " + note, transform=ax.transAxes, fontsize=12, color="#444444")
    return fig


@styled
def seeds_and_means(panels: "Mapping[str, pd.DataFrame]", references: Sequence[str] = (),
                    title: str = "Every seed, and where each mean lies") -> Figure:
    """One panel per table (title: seeds x trials of test accuracy, fractions, as ``gaps_with_error``
    takes): each seed a dot, each trial's mean a bar with +-2 standard errors of the mean (std /
    sqrt(seeds)), and a dashed line across the panel at the mean of each trial in ``references``. Two
    means whose 2-se bars overlap widely are not told apart by these seeds."""
    import numpy as np

    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 5.8), squeeze=False, sharey=True)
    for ax, (name, table) in zip(axes[0], panels.items()):
        pct = 100 * table.astype(float)
        for x, trial in enumerate(pct.columns):
            values = pct[trial].dropna().to_numpy()
            colour = RULE_COLOURS.get(str(trial).split("-")[0], GREY)
            spread = np.linspace(-0.14, 0.14, len(values)) if len(values) > 1 else np.zeros(1)
            ax.scatter(x + spread, values, color=colour, alpha=0.55, s=34, zorder=2)
            se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
            ax.errorbar([x], [values.mean()], yerr=[2 * se], color=BLACK, capsize=9, marker="_", markersize=30,
                        markeredgewidth=2.5, linewidth=2, zorder=3)
            if trial in references:
                ax.axhline(values.mean(), color=colour, linestyle="--", linewidth=1.5, zorder=1)
        ax.set_xticks(range(len(pct.columns)),
                      [f"{t}\n{pct[t].count()} seeds" for t in pct.columns], rotation=0, fontsize=11)
        ax.set_xlim(-0.6, len(pct.columns) - 0.4)
        ax.set_title(name)
        ax.grid(axis="x", visible=False)
    axes[0][0].set_ylabel("test accuracy, %")
    axes[0][-1].errorbar([], [], yerr=[], color=BLACK, capsize=9, marker="_", label="mean ± 2 standard errors")
    axes[0][-1].legend(loc="lower right", fontsize=11)
    fig.suptitle(title)
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
        if "budget" in x:  # two points share a colour: the budget label tells x2 from x4
            for bx, by, budget in zip(x.accuracy_mean[m] * 100, y.accuracy_mean[m] * 100, x.budget[m]):
                if rule != "base":
                    ax.annotate(f"×{float(budget):g}", (bx, by), xytext=(7, -14), textcoords="offset points",
                                fontsize=12, fontweight="bold", color=RULE_COLOURS.get(rule, GREY),
                                bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1))
    values = [*(x.accuracy_mean - x.accuracy_std), *(y.accuracy_mean - y.accuracy_std),
              *(x.accuracy_mean + x.accuracy_std), *(y.accuracy_mean + y.accuracy_std)]
    lo, hi = min(values) * 100 - 2, max(values) * 100 + 2
    ax.plot([lo, hi], [lo, hi], color=GREY, linestyle="--", linewidth=1.5, label="the same accuracy")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", title=title,
           xlabel=f"{names[0]}: test accuracy, %", ylabel=f"{names[1]}: test accuracy, %")
    ax.legend(loc="upper left", fontsize=11)
    return fig


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
            transform=ax.transAxes, ha="right", va="bottom", fontsize=12, color="#444444")
    return fig


@styled
def cam_overlays(images, rows: Mapping[str, tuple], labels: Sequence[str],
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
            # the caption sits inside its own picture, so it cannot be read as the row above's
            ax.text(0.5, 0.03, f"{'✓' if right else '✗'} {predicted[j]} ({probability[j]:.0%})", fontsize=12,
                    transform=ax.transAxes, ha="center", va="bottom", color=GREEN if right else RED,
                    fontweight="bold", bbox=dict(facecolor="white", alpha=0.85, edgecolor="none", pad=2))
    for i, name in enumerate(["image", *rows]):
        axes[i, 0].set_ylabel(name, fontsize=13, fontweight="bold")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.suptitle(title)
    return fig
