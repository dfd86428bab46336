"""Diagrams for the lessons, drawn from the library's own numbers (nothing is copied from a paper):

* ``mbconv_block(spec, resolution)``: one MBConv block as a left-to-right flow, each box as tall as
  its channel count (the *inverted* bottleneck: narrow, wide, wide, narrow), with the tensor shape
  under every box and the squeeze-and-excitation branch above;
* ``scaling_kinds(phi)``: the four ways to grow a network (width, depth, resolution, all three) next
  to the baseline, each at the same nominal cost, using ``config.compound_scaling``'s arithmetic.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from ..config import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, BlockSpec, flops_factor
from ..checks import conv_out
from .style import BLUE, GREEN, GREY, ORANGE, PURPLE, RED, SKY, styled


def _box(ax, x: float, y: float, w: float, h: float, colour: str, label: str, alpha: float = 0.9) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#222222", linewidth=1.5, alpha=alpha))
    ax.text(x, y, label, ha="center", va="center", fontsize=13, fontweight="bold", color="white")


def _arrow(ax, start, end, colour: str = "#222222", style: str = "-|>", dashed: bool = False, **kw) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=18, linewidth=2, color=colour,
                                 linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0, **kw))


@styled(constrained=False)
def mbconv_block(spec: BlockSpec, resolution: int) -> Figure:
    """One MBConv block with its tensor shapes (channels x height x width) for a square input."""
    h_in = resolution
    h_out = conv_out(h_in, spec.kernel, spec.stride)
    c, e, s, c_out = spec.in_channels, spec.expanded_channels, spec.squeeze_channels, spec.out_channels
    scale = 2.6 / math.sqrt(max(c, e, c_out))  # box height ~ sqrt(channels): 6x wider stays on the page

    def height(ch: int) -> float:
        return max(0.25, scale * math.sqrt(ch))

    steps = [("input", c, h_in, GREY)]
    if spec.has_expand:
        steps.append(("expand\n1×1", e, h_in, BLUE))
    steps.append((f"depthwise\n{spec.kernel}×{spec.kernel}, s{spec.stride}", e, h_out, ORANGE))
    steps.append(("× gate", e, h_out, PURPLE) if s else ("", e, h_out, PURPLE))
    steps.append(("project\n1×1", c_out, h_out, GREEN))
    steps.append(("output", c_out, h_out, GREY))
    if not s:
        steps = [st for st in steps if st[0]]

    fig = Figure(figsize=(14, 5.6))
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.86))
    xs = [1.2 + 2.05 * i for i in range(len(steps))]
    y0, width = 0.0, 1.35
    for i, ((name, ch, hw, colour), x) in enumerate(zip(steps, xs)):
        _box(ax, x, y0, width, height(ch), colour, name)
        ax.text(x, y0 - height(ch) / 2 - 0.18, f"{ch}×{hw}×{hw}", ha="center", va="top", fontsize=13)
        if i:
            _arrow(ax, (xs[i - 1] + width / 2, y0), (x - width / 2, y0))
    if s:  # the SE branch: from the depthwise output up, across, and down into the gate
        dw, gate = xs[steps.index(next(st for st in steps if st[0].startswith("depthwise")))], xs[
            steps.index(next(st for st in steps if st[0] == "× gate"))]
        top = 2.05
        mid = (dw + gate) / 2
        _arrow(ax, (dw + 0.2, y0 + height(e) / 2), (dw + 0.2, top), colour=PURPLE, style="-")
        _arrow(ax, (dw + 0.2, top), (gate, top), colour=PURPLE, style="-")
        _arrow(ax, (gate, top), (gate, y0 + height(e) / 2), colour=PURPLE)
        ax.text(mid, top + 0.12, f"squeeze-and-excitation: average pool → {e}×1×1 → 1×1 conv to {s} → SiLU\n"
                                 f"→ 1×1 conv to {e} → sigmoid: one gate in (0, 1) per channel",
                ha="center", va="bottom", fontsize=12, color=PURPLE)
    bottom = -2.05
    if spec.residual:
        _arrow(ax, (xs[0], y0 - height(c) / 2 - 0.55), (xs[0], bottom), colour=RED, style="-")
        _arrow(ax, (xs[0], bottom), (xs[-1], bottom), colour=RED, style="-")
        _arrow(ax, (xs[-1], bottom), (xs[-1], y0 - height(c_out) / 2 - 0.55), colour=RED)
        skip = "skip: output = input + branch (stride 1 and equal channels: the shapes match)"
    else:
        why = [f"stride {spec.stride}"] if spec.stride != 1 else []
        why += [f"{c} → {c_out} channels"] if c != c_out else []
        skip = f"no skip connection: {' and '.join(why)} change the shape, so input + branch is undefined"
    ax.text((xs[0] + xs[-1]) / 2, bottom - 0.12, skip, ha="center", va="top", fontsize=13, color=RED,
            fontweight="bold")
    ax.set_xlim(0, xs[-1] + 1.2)
    ax.set_ylim(bottom - 0.7, top + 0.9 if s else 2.4)
    ax.axis("off")
    fig.suptitle(f"MBConv{e // c if spec.has_expand else 1} block, {c} → {c_out} channels, {h_in} px in: "
                 f"box height ∝ √channels", fontsize=16, fontweight="bold")
    return fig


def _network(ax, x: float, layers: int, width: float, side: float, colour: str, title: str, detail: str) -> None:
    """A network as a stack of layers (width = channels) on its input image (side = resolution)."""
    ax.add_patch(Rectangle((x - side / 2, 0), side, side, facecolor=SKY, edgecolor="#222222", linewidth=1.5,
                           hatch="..", alpha=0.7))
    y = side + LAYER_GAP
    for _ in range(layers):
        ax.add_patch(Rectangle((x - width / 2, y), width, LAYER_HEIGHT, facecolor=colour, edgecolor="#222222",
                               linewidth=1.2))
        y += LAYER_STEP
    ax.text(x, -0.25, title, ha="center", va="top", fontsize=15, fontweight="bold", color=colour)
    ax.text(x, -1.25, detail, ha="center", va="top", fontsize=13)


LAYER_HEIGHT, LAYER_STEP, LAYER_GAP = 0.2, 0.27, 0.3


@styled(constrained=False)
def scaling_kinds(phi: float = 2.0, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                  gamma: float = PAPER_GAMMA, base_layers: int = 4) -> Figure:
    """Baseline, wider, deeper, higher resolution and compound scaling, all at the same nominal cost
    (alpha * beta^2 * gamma^2)^phi x the baseline's MACs, from MACs ~ depth * width^2 * resolution^2."""
    budget = flops_factor(alpha, beta, gamma) ** phi
    base_w, base_side = 1.3, 1.3
    kinds = [
        ("baseline", 1.0, 1.0, 1.0, GREY),
        ("wider", 1.0, math.sqrt(budget), 1.0, BLUE),
        ("deeper", budget, 1.0, 1.0, ORANGE),
        ("higher\nresolution", 1.0, 1.0, math.sqrt(budget), GREEN),
        ("compound", alpha**phi, beta**phi, gamma**phi, RED),
    ]
    fig = Figure(figsize=(15, 7.2))
    ax = fig.add_axes((0.01, 0.08, 0.98, 0.84))
    xs = [1.8 + 3.4 * i for i in range(len(kinds))]
    top = 0.0
    for (name, d, w, r, colour), x in zip(kinds, xs):
        layers = max(1, round(base_layers * d))
        _network(ax, x, layers, base_w * w, base_side * r, colour, name,
                 f"depth ×{d:.2f}\nwidth ×{w:.2f}\nresolution ×{r:.2f}\n{layers} layers")
        top = max(top, base_side * r + LAYER_GAP + LAYER_STEP * layers)
    ax.set_xlim(0, xs[-1] + 1.8)
    ax.set_ylim(-3.2, top + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(f"Four ways to spend {budget:.2f}× the MACs (φ = {phi:g}, α = {alpha}, β = {beta}, γ = {gamma})",
                 fontsize=17, fontweight="bold")
    fig.text(0.5, 0.015, "bar width = channels, bars = layers, dotted square = input image. MACs ∝ d·w²·r²: "
             "all four scaled models have the same nominal cost",
             ha="center", va="bottom", fontsize=13)
    return fig


__all__ = ["mbconv_block", "scaling_kinds"]
