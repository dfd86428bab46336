"""Figures of the NAS objective for lesson 07: how ACC·(MACs/T)^w weighs cost, and a ranked table.

``objective_penalty`` draws the factor the objective multiplies accuracy by; ``ObjectiveFigure``
draws a ranking (``states.objective_state``) once and moves its artists to another w, T or mode
(the lesson-07 explorer's figure); ``objective_ranking`` is its static version. Nothing here
trains, counts or measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .style import BLACK, BLUE, GREEN, GREY, PURPLE, RED, SKY, LiveFigure, styled

if TYPE_CHECKING:
    import pandas as pd


@styled
def objective_penalty(ws: Sequence[float] = (0.0, -0.07, -0.15), span: tuple[float, float] = (1 / 8, 8),
                      hard: bool = True) -> Figure:
    """Lesson 07: the factor the NAS objective multiplies accuracy by, against MACs / T, for a few
    soft exponents ``w`` and (``hard``) MnasNet's hard constraint."""
    import numpy as np

    from ..nas import hard_objective, objective

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


class ObjectiveFigure(LiveFigure):
    """A ranked objective table (``states.objective_state``) drawn once into ``fig``: left, accuracy
    against MACs with the Pareto front, T and the curve of equal score through the winner; right,
    the scores, best on top. ``update(state)`` moves the same artists to another ranking of the
    same models (another w, T or mode); a table of other models is drawn anew."""

    def __init__(self, fig: Figure, state: "pd.DataFrame", title: str | None = None,
                 label_all: bool | None = None, chance: float | None = None) -> None:
        self.figure, self.title, self.label_all, self.chance = fig, title, label_all, chance
        self.moving: list = []   # a new w or T moves most of the figure: ``jpeg`` draws it whole
        self._draw(state)

    @staticmethod
    def _models(state: "pd.DataFrame") -> tuple:
        return tuple(sorted(zip(map(str, state.index), state.macs, state.accuracy)))

    def _draw(self, state: "pd.DataFrame") -> None:
        fig = self.figure
        fig.clear()
        self.left, self.right = left, right = fig.subplots(1, 2, width_ratios=(1.45, 1))
        self.models = self._models(state)
        mmacs, acc = state.macs / 1e6, state.accuracy * 100
        left.scatter(mmacs, acc, s=70, color=BLUE, edgecolor=BLACK, linewidth=0.6, zorder=3, label="model")
        front = state[state.pareto].sort_values("macs")
        # hollow markers: a front of one model is a point, which a line alone would not show
        left.plot(front.macs / 1e6, front.accuracy * 100, color=GREEN, linewidth=2, zorder=2, drawstyle="steps-post",
                  marker="o", markersize=9, markerfacecolor="none", markeredgewidth=2, label="Pareto front")
        (self.curve,) = left.plot([], [], color=RED, linestyle="--", linewidth=1.8, label="equal score to the winner")
        self.winner = left.scatter([0], [0], s=380, marker="*", color=RED, edgecolor=BLACK, zorder=4, label="winner")
        self.t_line = left.axvline(1, color=GREY, linestyle=":", linewidth=1.8)
        self.t_text = left.annotate("", (1, 0.98), xycoords=("data", "axes fraction"), xytext=(5, 0),
                                    textcoords="offset points", fontsize=11, va="top", color="#444444", zorder=5,
                                    # the equal-score curve may cross the label: keep it readable
                                    bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none", alpha=0.9))
        self.names: list = []
        left.set_xscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        left.xaxis.set_major_formatter(plain)
        self.lo, self.hi = float(mmacs.min()) / 1.6, float(mmacs.max()) * 1.6
        span = float(acc.max() - acc.min()) or 1.0
        low = float(acc.min()) - 0.25 * span
        if self.chance is not None:  # no legend label: the legend's entries are addressed by position
            low = min(low, 100 * self.chance - 0.1 * span)
            left.axhline(100 * self.chance, color=GREY, linestyle="-.", linewidth=1.5, zorder=1)
            left.annotate(f"chance: {100 * self.chance:g} %", (0.99, 100 * self.chance), xycoords=("axes fraction", "data"),
                          xytext=(0, 4), textcoords="offset points", ha="right", fontsize=11, color="#444444")
        left.set(xlabel="MMACs per image (log scale)", ylabel="accuracy, %",
                 ylim=(low, float(acc.max()) + 0.3 * span))
        self.legend = left.legend(loc="best", fontsize=10)
        self.bars = right.barh([str(n) for n in state.index[::-1]], [0.0] * len(state), edgecolor=BLACK, linewidth=0.6)
        self.bar_labels = [right.annotate("", (0, bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                                          textcoords="offset points", va="center", ha="left", fontsize=11)
                           for bar in self.bars]
        right.set(title="Ranked (blue: MACs ≤ T; light: above)")
        right.grid(axis="y", visible=False)
        self.provenance = fig.supxlabel("", fontsize=12, color="#444444", x=0.01, ha="left")
        self.update(state)

    def update(self, state: "pd.DataFrame") -> Figure:
        """Show ``state``: a ranking of the models drawn at the start, or of others (drawn anew)."""
        import numpy as np

        if self._models(state) != self.models:
            self._draw(state)
            return self.figure
        target, mode, w = state.attrs["target"], state.attrs["mode"], state.attrs["w"]
        rule = f"soft, w = {w:g}" if mode == "soft" else "hard constraint"
        best = state.iloc[0]
        grid = np.geomspace(min(self.lo, target / 1e6 / 1.2), max(self.hi, target / 1e6 * 1.2), 300)
        self.curve.set_data(grid, _objective_curve(state, float(best.score), grid * 1e6) * 100)
        self.winner.set_offsets([[best.macs / 1e6, best.accuracy * 100]])
        self.legend.get_texts()[3].set_text(f"winner: {best.name}")
        self.t_line.set_xdata([target / 1e6, target / 1e6])
        self.t_text.xy = (target / 1e6, 0.98)
        self.t_text.set_text(f"T = {target / 1e6:,.4g} MMACs")
        for text in self.names:
            text.remove()
        label_all = len(state) <= 10 if self.label_all is None else self.label_all
        labelled = (state if label_all else state.head(3)).sort_values("macs")
        self.names = [self.left.annotate(str(name), (row.macs / 1e6, row.accuracy * 100),  # alternate sides:
                                         xytext=(9 if k % 2 == 0 else -9, 0), textcoords="offset points",  # less overlap
                                         fontsize=10, va="center", ha="left" if k % 2 == 0 else "right")
                      for k, (name, row) in enumerate(labelled.iterrows())]
        left = self.left
        left.set_xlim(min(grid), max(grid))
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        # less than ~1.5 decades: label the minor ticks too, in plain numbers
        left.xaxis.set_minor_formatter(plain if max(grid) / min(grid) < 30 else FuncFormatter(lambda v, _: ""))
        left.set_title(self.title or f"Accuracy against cost ({rule})")
        order = state.iloc[::-1]
        for bar, label, name, macs, score in zip(self.bars, self.bar_labels, order.index, order.macs, order.score):
            bar.set_width(score)
            bar.set_color(RED if name == best.name else (BLUE if macs <= target else SKY))
            bar.set_edgecolor(BLACK)
            label.xy = (score, bar.get_y() + bar.get_height() / 2)
            label.set_text(f"{score:.3f}")
        self.right.set_yticks(range(len(order)), [str(n) for n in order.index])
        smin, smax = float(state.score.min()), float(state.score.max())
        self.right.set_xlim(max(0.0, smin - 0.15 * (smax - smin + 1e-9) - 0.02),
                            smax + 0.25 * (smax - smin + 1e-9) + 0.02)
        self.right.set_xlabel("score" + (" = ACC·(MACs/T)^w" if mode == "soft" else " (hard constraint)"))
        self.provenance.set_text("data: " + state.attrs.get("provenance", ""))
        self.redraw_all = True
        return self.figure


def draw_objective(fig: Figure, state: "pd.DataFrame", title: str | None = None, label_all: bool | None = None,
                   chance: float | None = None) -> Figure:
    """Fill ``fig`` with a ranked objective table (see ``ObjectiveFigure``); ``chance``: the accuracy
    of guessing (0.5 for two classes), drawn as a line."""
    return ObjectiveFigure(fig, state, title, label_all, chance).figure


@styled
def objective_ranking(state: "pd.DataFrame", title: str | None = None, label_all: bool | None = None,
                      chance: float | None = None) -> Figure:
    """``draw_objective`` on a new figure (the static version of the lesson-07 explorer)."""
    fig = plt.figure(figsize=(14, 5.8))
    return draw_objective(fig, state, title, label_all, chance)
