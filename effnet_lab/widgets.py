"""Slider explorers for the lessons. Each has two halves:

* a **state function** (``scaling_state``, ``describe_phi``): plain Python that computes everything
  the view shows from ``analytic_cost`` in milliseconds; it is what the unit tests check;
* a **view** (``CompoundScalingExplorer``, ``PhiExplorer``): ipywidgets controls that call the state
  function on every change and show the result (a figure from ``plots``, or a line of text).

Sliders never build a model and never call ptflops: the closed-form count is exact and ~0.2 ms.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import ipywidgets as widgets

from .config import (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PUBLISHED, ModelConfig, check_finite,
                     compound_scaling, flops_factor, official_config)
from .cost import analytic_cost

if TYPE_CHECKING:
    import pandas as pd

PHI_MIN, PHI_MAX, PHI_STEP = -2.0, 7.0, 0.05   # the explorer's phi slider
CURVE_STEP = 0.025                            # fine enough to show every step of the staircase
MODES = ("formula", "published")
BASE = "b0"


# ---------------------------------------------------------------------------------------------
# State: numbers only
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _base_cost() -> tuple[int, int, int]:
    cost = analytic_cost(BASE)
    return cost.macs, cost.params, cost.resolution[0]


@lru_cache(maxsize=64)
def macs_curve(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
               phi_min: float = PHI_MIN, phi_max: float = PHI_MAX, step: float = CURVE_STEP,
               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(phis, MACs relative to B0) of ``compound_scaling(phi, alpha, beta, gamma)`` on a grid.

    Cached per (alpha, beta, gamma): moving only the phi slider costs one ``analytic_cost`` call."""
    base_macs = _base_cost()[0]
    n = int(round((phi_max - phi_min) / step))
    phis = tuple(round(phi_min + i * step, 10) for i in range(n + 1))
    ratios = tuple(analytic_cost(compound_scaling(p, alpha, beta, gamma)).macs / base_macs for p in phis)
    return phis, ratios


@lru_cache(maxsize=1)
def published_points() -> "pd.DataFrame":
    """B0–B7 at their own resolution: nominal phi (= the variant number), MACs and params vs B0."""
    import pandas as pd

    base_macs, base_params, _ = _base_cost()
    rows = []
    for k, name in enumerate(PUBLISHED):
        cost = analytic_cost(name)
        rows.append(dict(name=name.upper(), phi=float(k), macs=cost.macs, params=cost.params,
                         macs_ratio=cost.macs / base_macs, params_ratio=cost.params / base_params))
    return pd.DataFrame(rows).set_index("name")


def stage_table(config: ModelConfig) -> "pd.DataFrame":
    """The seven MBConv stages of ``config`` beside B0's: output channels and layers."""
    import pandas as pd

    base = official_config(BASE)
    rows = [dict(stage=i, operator=s.operator, b0_channels=b.out_channels, channels=s.out_channels,
                 b0_layers=b.layers, layers=s.layers)
            for i, (b, s) in enumerate(zip(base.stages, config.stages), start=2)]
    return pd.DataFrame(rows).set_index("stage")


def formula_vs_published(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                         ) -> "pd.DataFrame":
    """For k = 0…7, the published Bk beside the formula at phi = k.

    Columns are pairs (quantity, "published" | "formula") for depth, width, resolution, blocks and
    MACs / B0; the index is the variant name and a column ``phi`` holds k."""
    import pandas as pd

    base_macs = _base_cost()[0]
    quantities = ("depth", "width", "resolution", "blocks", "MACs / B0")

    def describe(config: ModelConfig) -> tuple:
        return (round(config.depth_mult, 3), round(config.width_mult, 3), config.hw[0], config.num_blocks,
                round(analytic_cost(config).macs / base_macs, 3))

    rows, index = [], []
    for k, name in enumerate(PUBLISHED):
        published, formula = describe(official_config(name)), describe(compound_scaling(k, alpha, beta, gamma))
        rows.append([k] + [v for pair in zip(published, formula) for v in pair])
        index.append(name.upper())
    columns = pd.MultiIndex.from_tuples([("phi", "")] + [(q, who) for q in quantities
                                                         for who in ("published", "formula")])
    return pd.DataFrame(rows, index=pd.Index(index, name="variant"), columns=columns)


def staircase_data(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                   effective: bool = True) -> dict:
    """Keyword arguments for ``plots.staircase``: the MACs-vs-phi curve, B0–B7 and (optionally)
    each variant's effective phi, the phi at which the formula first reaches its MACs."""
    from .cost import solve_for_macs

    phis, ratios = macs_curve(alpha, beta, gamma)
    pub = published_points()
    eff = None
    if effective:
        eff = {name: solve_for_macs(lambda p: compound_scaling(p, alpha, beta, gamma), row.macs, PHI_MIN, PHI_MAX + 2)
               for name, row in pub.iloc[1:].iterrows()}
    return dict(phis=phis, ratios=ratios, flops_factor=flops_factor(alpha, beta, gamma),
                published={name: (row.phi, row.macs_ratio) for name, row in pub.iterrows()}, effective=eff,
                coefficients=f"α={alpha:g}, β={beta:g}, γ={gamma:g}")


@dataclass(frozen=True)
class ScalingState:
    """Everything the compound-scaling explorer shows for one position of its controls."""

    alpha: float
    beta: float
    gamma: float
    phi: float          # in "published" mode: the variant number, rounded and clipped to 0…7
    mode: str
    config: ModelConfig
    macs: int
    params: int
    base_macs: int
    base_params: int
    curve_phi: tuple[float, ...]
    curve_ratio: tuple[float, ...]
    published: "pd.DataFrame"
    stage_table: "pd.DataFrame"

    @property
    def constraint(self) -> float:
        """alpha * beta^2 * gamma^2: the factor one step of phi should multiply the MACs by."""
        return flops_factor(self.alpha, self.beta, self.gamma)

    @property
    def depth(self) -> float:
        return self.config.depth_mult

    @property
    def width(self) -> float:
        return self.config.width_mult

    @property
    def resolution(self) -> int:
        return self.config.hw[0]

    @property
    def resolution_mult(self) -> float:
        return self.resolution / _base_cost()[2]

    @property
    def macs_ratio(self) -> float:
        return self.macs / self.base_macs

    @property
    def params_ratio(self) -> float:
        return self.params / self.base_params

    @property
    def ideal_ratio(self) -> float:
        return self.constraint ** self.phi

    @property
    def name(self) -> str:
        return self.config.name.upper() if self.mode == "published" else f"φ = {self.phi:g}"

    @property
    def headline(self) -> str:
        what = (f"published {self.name}" if self.mode == "published"
                else f"formula at φ = {self.phi:.2f}  (α = {self.alpha:.2f}, β = {self.beta:.2f}, γ = {self.gamma:.2f})")
        return (f"{what};  α·β²·γ² = {self.constraint:.3f}\n"
                f"{self.config.num_blocks} blocks, {self.resolution} px:  {self.macs / 1e6:,.0f} MMACs "
                f"= {self.macs_ratio:.2f}× B0 (ideal {self.ideal_ratio:.2f}×, 2^φ = {2 ** self.phi:.2f}×),  "
                f"{self.params / 1e6:.2f} M params = {self.params_ratio:.2f}× B0")


def scaling_state(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                  phi: float = 1.0, mode: str = "formula") -> ScalingState:
    """What the explorer shows: the config for (alpha, beta, gamma, phi), or for the published
    variant B<round(phi)> in ``mode="published"``, with its cost and the MACs-vs-phi curve."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    alpha, beta, gamma = (check_finite(n, v, positive=True) for n, v in
                          (("alpha", alpha), ("beta", beta), ("gamma", gamma)))
    phi = check_finite("phi", phi)
    if mode == "published":
        k = min(len(PUBLISHED) - 1, max(0, round(phi)))
        phi, config = float(k), official_config(list(PUBLISHED)[k])
    else:
        config = compound_scaling(phi, alpha, beta, gamma)
    cost = analytic_cost(config)
    base_macs, base_params, _ = _base_cost()
    curve_phi, curve_ratio = macs_curve(round(alpha, 6), round(beta, 6), round(gamma, 6))
    return ScalingState(alpha=alpha, beta=beta, gamma=gamma, phi=phi, mode=mode, config=config,
                        macs=cost.macs, params=cost.params, base_macs=base_macs, base_params=base_params,
                        curve_phi=curve_phi, curve_ratio=curve_ratio, published=published_points(),
                        stage_table=stage_table(config))


def describe_phi(phi: float, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                 gamma: float = PAPER_GAMMA) -> str:
    """One line about compound_scaling(phi): multipliers, blocks, resolution, MMACs, M params."""
    config = compound_scaling(phi, alpha, beta, gamma)
    cost = analytic_cost(config)
    return (f"φ = {phi:+.2f}: depth ×{config.depth_mult:.3f}, width ×{config.width_mult:.3f}, "
            f"{config.hw[0]} px, {config.num_blocks} blocks → {cost.macs / 1e6:,.0f} MMACs, "
            f"{cost.params / 1e6:.2f} M params")


# ---------------------------------------------------------------------------------------------
# Views: ipywidgets
# ---------------------------------------------------------------------------------------------


def figure_png(fig, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib figure (what an Image widget shows)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _slider(description: str, value: float, lo: float, hi: float, step: float) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               readout_format=".2f", continuous_update=False,
                               style={"description_width": "2.5em"}, layout=widgets.Layout(width="24em"))


class CompoundScalingExplorer(widgets.VBox):
    """Sliders for alpha, beta, gamma and phi, a formula/published toggle, and the dashboard figure.

    Every change calls ``scaling_state`` and redraws ``plots.draw_scaling_dashboard`` into an Image
    widget. ``state`` and ``renders`` are kept for tests and for the curious."""

    def __init__(self, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                 phi: float = 1.0, mode: str = "formula", dpi: int = 80) -> None:
        self.alpha = _slider("α", alpha, 1.0, 2.0, 0.01)
        self.beta = _slider("β", beta, 1.0, 1.5, 0.01)
        self.gamma = _slider("γ", gamma, 1.0, 1.5, 0.01)
        self.phi = _slider("φ", phi, PHI_MIN, PHI_MAX, PHI_STEP)
        self.mode = widgets.ToggleButtons(options=[("formula α^φ, β^φ, γ^φ", "formula"),
                                                   ("published B0–B7 (φ picks Bφ)", "published")],
                                          value=mode, style={"button_width": "16em"})
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.text = widgets.HTML()
        self.dpi = dpi
        self.renders = 0
        self.state: ScalingState | None = None
        controls = widgets.HBox([widgets.VBox([self.alpha, self.beta]), widgets.VBox([self.gamma, self.phi])])
        super().__init__([self.mode, controls, self.text, self.image])
        for control in (self.alpha, self.beta, self.gamma, self.phi, self.mode):
            control.observe(self._changed, names="value")
        self.render()

    def _changed(self, _change) -> None:
        self.render()

    def render(self) -> ScalingState:
        from matplotlib.figure import Figure
        import matplotlib.pyplot as plt

        from . import plots

        self.state = scaling_state(self.alpha.value, self.beta.value, self.gamma.value, self.phi.value,
                                   self.mode.value)
        with plt.rc_context(plots.STYLE):
            fig = Figure(figsize=(14, 9))
            plots.draw_scaling_dashboard(fig, self.state)
            self.image.value = figure_png(fig, self.dpi)
        self.text.value = "<br>".join(f"<b>{line}</b>" if i == 0 else line
                                      for i, line in enumerate(self.state.headline.split("\n")))
        self.renders += 1
        return self.state


def compound_scaling_explorer(**defaults) -> CompoundScalingExplorer:
    """The lesson-04 explorer (see ``CompoundScalingExplorer`` for the arguments)."""
    return CompoundScalingExplorer(**defaults)


class PhiExplorer(widgets.VBox):
    """One phi slider and one line of text from ``describe_phi``: the smallest possible explorer."""

    def __init__(self, phi: float = 0.0) -> None:
        self.phi = _slider("φ", phi, PHI_MIN, PHI_MAX, 0.1)
        self.phi.continuous_update = True  # text only: cheap enough to follow the mouse
        self.phi.layout = widgets.Layout(width="36em")
        self.text = widgets.HTML()
        super().__init__([self.phi, self.text])
        self.phi.observe(lambda _change: self.render(), names="value")
        self.render()

    def render(self) -> str:
        line = describe_phi(self.phi.value)
        self.text.value = f"<pre style='font-size: 1.1em'>{line}</pre>"
        return line


__all__ = ["PHI_MIN", "PHI_MAX", "ScalingState", "scaling_state", "macs_curve", "published_points",
           "stage_table", "formula_vs_published", "staircase_data", "describe_phi", "figure_png", "CompoundScalingExplorer",
           "compound_scaling_explorer", "PhiExplorer"]
