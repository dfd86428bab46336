"""Slider explorers for the lessons. Each has two halves:

* a **state function** (``scaling_state``, ``describe_phi``): plain Python that computes everything
  the view shows from ``analytic_cost`` in milliseconds; it is what the unit tests check;
* a **view** (``CompoundScalingExplorer``, ``PhiExplorer``): ipywidgets controls that call the state
  function on every change and show the result (a figure from ``plots``, or a line of text).

Sliders never build a model and never call ptflops: the closed-form count is exact and ~0.2 ms.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence
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
    """PNG bytes of a matplotlib figure (what an Image widget shows). Light compression: the bytes
    only travel to the browser, and default compression took 30-55 ms of a ~200 ms redraw here
    (level 1: 15-30 ms, the same size within 3 %)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
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
        # class names a browser test (and a stylesheet) can find the parts by
        for part, name in ((self.alpha, "alpha"), (self.beta, "beta"), (self.gamma, "gamma"), (self.phi, "phi"),
                           (self.mode, "mode"), (self.text, "headline"), (self.image, "dashboard")):
            part.add_class(f"effnet-{name}")
        for control in (self.alpha, self.beta, self.gamma, self.phi, self.mode):
            control.observe(self._changed, names="value")
        self.render()

    def _changed(self, _change) -> None:
        self.render()

    def render(self) -> ScalingState:
        from matplotlib.figure import Figure
        import matplotlib.pyplot as plt

        from . import plots

        try:
            state = scaling_state(self.alpha.value, self.beta.value, self.gamma.value, self.phi.value,
                                  self.mode.value)
        except ValueError as exc:  # a readable message in the page, never a traceback
            self.text.value = f"<span class='effnet-error' style='color:#D55E00'><b>Not drawn:</b> {html.escape(str(exc))}</span>"
            return self.state
        self.state = state
        # the numbers first (a few ms), then the figure (a few hundred ms on a small CPU)
        self.text.value = "<br>".join(f"<b>{line}</b>" if i == 0 else line
                                      for i, line in enumerate(state.headline.split("\n"))) + (
            f"<br><span class='effnet-exact'>exactly {state.macs:,} MACs and {state.params:,} parameters</span>")
        with plt.rc_context(plots.STYLE):
            fig = Figure(figsize=(14, 8.2))
            plots.draw_scaling_dashboard(fig, state, title=False)   # the headline is the text above
            self.image.value = figure_png(fig, self.dpi)
        self.renders += 1
        return state


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
           "compound_scaling_explorer", "PhiExplorer",
           # lessons 07-08
           "OBJECTIVE_SOURCES", "objective_points", "objective_state", "ObjectiveExplorer", "objective_explorer"]


# --- lessons 05-06 ---
# Lesson 05 (one dimension vs all three) and lesson 06 (finding alpha, beta, gamma): tables and
# slider states computed from the committed sweep results (``experiments.load_results``) and from
# ``analytic_cost`` / ``grid_cost``. Nothing here trains or reads a file by itself.


SCALING_RULES = ("width", "depth", "resolution", "compound")


def _results_base(table: "pd.DataFrame") -> ModelConfig:
    """The base model a sweep's results were made with (stored with every row)."""
    from .experiments import Settings

    return Settings.from_dict(table.settings.iloc[0]).base


def _row_config(row) -> ModelConfig:
    return ModelConfig.from_dict(row["config"])


def budget_table(table: "pd.DataFrame", budget: float = 4.0) -> "pd.DataFrame":
    """For each scaling rule, the saved model at one MAC budget (1, 2 or 4 × the base's MACs).

    ``table`` is ``load_results("single-vs-compound")``. At budget 1 every rule is the base model.
    Columns: the trial, width and depth multipliers, resolution, MBConv blocks, MMACs, MACs over the
    base's, thousands of parameters, accuracy mean and std in %, and the change from the base in
    percentage points."""
    import pandas as pd

    budget = check_finite("budget", budget, positive=True)
    budgets = sorted({float(b) for b in table.budget.dropna()})
    if not any(math.isclose(budget, b) for b in budgets):
        raise ValueError(f"no trials at budget {budget:g}x; the results hold budgets "
                         f"{', '.join(f'{b:g}x' for b in budgets)}")
    base = table[table.rule == "base"].iloc[0]
    rows = []
    for rule in SCALING_RULES:
        if math.isclose(budget, 1.0):
            row = base
        else:
            match = table[(table.rule == rule) & (table.budget.astype(float).sub(budget).abs() < 1e-9)]
            if match.empty:
                continue
            row = match.iloc[0]
        rows.append({"rule": rule, "trial": row.trial_id, "width_mult": round(float(row.width_mult), 4),
                     "depth_mult": round(float(row.depth_mult), 4), "resolution": row.resolution,
                     "blocks": _row_config(row).num_blocks, "MMACs": round(float(row.mmacs), 2),
                     "× base MACs": round(float(row.budget_x), 2), "k params": round(float(row.kparams), 1),
                     "accuracy %": round(100 * float(row.accuracy_mean), 1),
                     "± std": round(100 * float(row.accuracy_std), 1),
                     "vs base (points)": round(100 * (float(row.accuracy_mean) - float(base.accuracy_mean)), 1)})
    return pd.DataFrame(rows).set_index("rule")


def compound_vs_best_single(table: "pd.DataFrame") -> "pd.DataFrame":
    """At each budget above 1×: compound scaling against the best single-dimension rule.

    ``gap`` is compound minus best single (percentage points); ``noise`` is the two seed spreads
    combined (sqrt(std1² + std2²), points), so |gap| < noise means the seeds cannot tell them apart."""
    import pandas as pd

    rows = []
    for budget in sorted({float(b) for b in table.budget.dropna() if float(b) != 1.0}):
        at = table[table.budget.astype(float).sub(budget).abs() < 1e-9]
        singles = at[at.rule.isin(["width", "depth", "resolution"])]
        compound = at[at.rule == "compound"]
        if singles.empty or compound.empty:
            continue
        best, comp = singles.loc[singles.accuracy_mean.idxmax()], compound.iloc[0]
        gap = 100 * (comp.accuracy_mean - best.accuracy_mean)
        noise = 100 * math.hypot(comp.accuracy_std, best.accuracy_std)
        rows.append({"budget": f"{budget:g}×", "compound MMACs": round(float(comp.mmacs), 2),
                     "compound %": round(100 * float(comp.accuracy_mean), 1), "best single": best.rule,
                     "its MMACs": round(float(best.mmacs), 2), "its %": round(100 * float(best.accuracy_mean), 1),
                     "gap (points)": round(gap, 1), "noise (points)": round(noise, 1),
                     "beyond noise": abs(gap) > noise})
    return pd.DataFrame(rows).set_index("budget")


def compare_runs(first: "pd.DataFrame", second: "pd.DataFrame", names: tuple[str, str] = ("first", "second")) -> "pd.DataFrame":
    """The trials two runs of one sweep share (say the same settings on a GPU and on a CPU), side by
    side: mean and std of each (%), the ``difference`` (second minus first, points) and ``noise``,
    the two seed spreads combined (sqrt(std1² + std2²)); ``beyond noise`` marks |difference| > noise."""
    import pandas as pd

    a, b = names
    shared = [t for t in first.trial_id if t in set(second.trial_id)]
    if not shared:
        raise ValueError(f"the two runs share no trial (first: {list(first.trial_id)}, second: {list(second.trial_id)})")
    rows = []
    for trial in shared:
        x, y = first.loc[trial], second.loc[trial]
        if x.macs != y.macs:
            raise ValueError(f"trial {trial!r} is a different network in the two runs ({x.macs} vs {y.macs} MACs)")
        diff, noise = 100 * (y.accuracy_mean - x.accuracy_mean), 100 * math.hypot(x.accuracy_std, y.accuracy_std)
        rows.append({"trial": trial, "MMACs": round(float(x.mmacs), 2),
                     f"{a} %": round(100 * float(x.accuracy_mean), 1), f"{a} ±": round(100 * float(x.accuracy_std), 1),
                     f"{b} %": round(100 * float(y.accuracy_mean), 1), f"{b} ±": round(100 * float(y.accuracy_std), 1),
                     "difference (points)": round(diff, 1), "noise (points)": round(noise, 1),
                     "beyond noise": abs(diff) > noise})
    return pd.DataFrame(rows).set_index("trial")


class BudgetExplorer(widgets.VBox):
    """A slider over the MAC budgets of the single-vs-compound sweep; shows ``budget_table``."""

    def __init__(self, table: "pd.DataFrame", budget: float = 4.0) -> None:
        budgets = sorted({float(b) for b in table.budget.dropna()})
        self.results = table
        self.budget = widgets.SelectionSlider(options=[(f"{b:g}×", b) for b in budgets], value=float(budget),
                                              description="budget", continuous_update=True,
                                              style={"description_width": "4em"}, layout=widgets.Layout(width="24em"))
        self.html = widgets.HTML()
        self.frame: "pd.DataFrame | None" = None
        super().__init__([self.budget, self.html])
        self.budget.observe(lambda _change: self.render(), names="value")
        self.render()

    def render(self) -> "pd.DataFrame":
        self.frame = budget_table(self.results, self.budget.value)
        title = (f"<b>Each rule at {self.budget.value:g}× the base's MACs</b> "
                 f"(saved results, {int(self.results.seeds_n.iloc[0])} seeds, {self.results.device.iloc[0]})")
        self.html.value = title + self.frame.to_html()
        return self.frame


def implied_gamma(alpha: float, beta: float, target: float = 2.0) -> float:
    """The gamma that makes alpha * beta^2 * gamma^2 equal ``target``: sqrt(target / (alpha * beta^2))."""
    alpha, beta = check_finite("alpha", alpha, positive=True), check_finite("beta", beta, positive=True)
    target = check_finite("target", target, positive=True)
    return math.sqrt(target / (alpha * beta**2))


def constraint_map_data(base: ModelConfig, alphas: "Sequence[float]", betas: "Sequence[float]",
                        num_classes: int = 10, target: float = 2.0) -> dict:
    """Keyword arguments for ``plots.constraint_maps``: over a grid of (alpha, beta), the gamma that
    the constraint alpha·beta²·gamma² = ``target`` implies, and the real MACs of the phi = 1 model
    over the base's (``grid_cost``; NaN where gamma < 1, which the search does not allow)."""
    import numpy as np

    from .cost import grid_cost

    a, b = np.meshgrid(np.asarray(alphas, dtype=float), np.asarray(betas, dtype=float), indexing="xy")
    gamma = np.sqrt(target / (a * b**2))
    macs = grid_cost(a, b, gamma, 1.0, base=base, num_classes=num_classes)["macs"].numpy().astype(float)
    ratio = macs / analytic_cost(base, num_classes=num_classes).macs
    valid = gamma >= 1.0
    return dict(alphas=np.asarray(alphas, dtype=float), betas=np.asarray(betas, dtype=float),
                gamma=np.where(valid, gamma, np.nan), macs_ratio=np.where(valid, ratio, np.nan), target=target)


@dataclass(frozen=True)
class GridPointState:
    """What the (alpha, beta) explorer shows: the point on the constraint surface and the nearest
    searched candidate (distance measured in log alpha, log beta, log gamma, as the search spreads them)."""

    alpha: float
    beta: float
    gamma: float            # implied by the constraint
    config: ModelConfig     # phi = 1 on the sweep's base
    macs: int
    params: int
    base_macs: int
    nearest: "pd.Series"    # the candidate's row of the results table
    distance: float
    rank: int               # of the nearest candidate, by mean accuracy (1 = best)
    n_candidates: int

    @property
    def allowed(self) -> bool:
        """The search keeps alpha, beta, gamma >= 1 (no dimension shrinks)."""
        return self.alpha >= 1 and self.beta >= 1 and self.gamma >= 1

    @property
    def budget_x(self) -> float:
        return self.macs / self.base_macs

    @property
    def headline(self) -> str:
        n = self.nearest
        point = (f"α = {self.alpha:.3f}, β = {self.beta:.3f} → γ = {self.gamma:.3f} "
                 f"(α·β²·γ² = {flops_factor(self.alpha, self.beta, self.gamma):.2f})"
                 + ("" if self.allowed else "  — γ < 1: outside the search (it would shrink the resolution)"))
        built = (f"built at φ = 1: width ×{self.config.width_mult:.3f}, depth ×{self.config.depth_mult:.3f}, "
                 f"{self.config.hw[0]} px, {self.config.num_blocks} blocks → {self.macs / 1e6:.2f} MMACs "
                 f"= {self.budget_x:.2f}× the base (nominal 2×)")
        near = (f"nearest searched candidate: α = {n.alpha:g}, β = {n.beta:g}, γ = {n.gamma:g}: "
                f"{100 * n.accuracy_mean:.1f} % ± {100 * n.accuracy_std:.1f} "
                f"(rank {self.rank} of {self.n_candidates}), {n.mmacs:.2f} MMACs = {n.budget_x:.2f}× the base")
        return "\n".join([point, built, near])


def grid_point_state(table: "pd.DataFrame", alpha: float, beta: float, num_classes: int = 10) -> GridPointState:
    """The lesson-06 explorer's state for one (alpha, beta): gamma from alpha·beta²·gamma² = 2, the
    phi = 1 model on the sweep's base with its cost, and the nearest candidate of ``table``
    (``load_results("grid-search")``) with its accuracy and rank."""
    import numpy as np

    gamma = implied_gamma(alpha, beta)
    base = _results_base(table)
    config = compound_scaling(1.0, alpha, beta, gamma, base=base)
    cost = analytic_cost(config, num_classes=num_classes)
    points = np.log(table[["alpha", "beta", "gamma"]].to_numpy(dtype=float))
    distances = np.linalg.norm(points - np.log([alpha, beta, gamma]), axis=1)
    i = int(np.argmin(distances))
    ranks = table.accuracy_mean.rank(ascending=False, method="min").astype(int)
    return GridPointState(alpha=float(alpha), beta=float(beta), gamma=gamma, config=config, macs=cost.macs,
                          params=cost.params, base_macs=analytic_cost(base, num_classes=num_classes).macs,
                          nearest=table.iloc[i], distance=float(distances[i]), rank=int(ranks.iloc[i]),
                          n_candidates=len(table))


class GridExplorer(widgets.VBox):
    """Sliders for alpha and beta (gamma follows from the constraint): the constraint maps with the
    point marked, and a text line with the nearest searched candidate's accuracy and cost."""

    def __init__(self, table: "pd.DataFrame", alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                 dpi: int = 80) -> None:
        import numpy as np

        self.results = table
        self.alpha = _slider("α", alpha, 1.0, 2.0, 0.01)
        self.beta = _slider("β", beta, 1.0, 1.42, 0.01)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.text = widgets.HTML()
        self.dpi = dpi
        self.renders = 0
        self.state: GridPointState | None = None
        self.maps = constraint_map_data(_results_base(table), np.linspace(1.0, 2.0, 101), np.linspace(1.0, 1.42, 85))
        super().__init__([widgets.HBox([self.alpha, self.beta]), self.text, self.image])
        for control in (self.alpha, self.beta):
            control.observe(lambda _change: self.render(), names="value")
        self.render()

    def render(self) -> GridPointState:
        from matplotlib.figure import Figure
        import matplotlib.pyplot as plt

        from . import plots

        self.state = grid_point_state(self.results, self.alpha.value, self.beta.value)
        with plt.rc_context(plots.STYLE):
            fig = Figure(figsize=(14, 5.6))
            plots.draw_constraint_maps(fig, self.maps, self.results, point=(self.state.alpha, self.state.beta))
            self.image.value = figure_png(fig, self.dpi)
        self.text.value = "<br>".join(f"<b>{line}</b>" if i == 2 else line
                                      for i, line in enumerate(self.state.headline.split("\n")))
        self.renders += 1
        return self.state


def search_cost(candidates: "Sequence[tuple[float, float, float]]", base: ModelConfig, images: int, epochs: float,
                seeds: int = 3, num_classes: int = 1000) -> dict:
    """Training multiply-adds of a grid search: every candidate (alpha, beta, gamma) built at phi = 1
    on ``base`` and trained ``seeds`` times for ``epochs`` over ``images``. A training step costs
    about 3 forward passes (forward, and backward for activations and for weights); the factor
    cancels in every ratio."""
    import numpy as np

    from .cost import grid_cost

    a, b, g = (np.array([c[i] for c in candidates], dtype=float) for i in range(3))
    macs = grid_cost(a, b, g, 1.0, base=base, num_classes=num_classes)["macs"].numpy().astype(float)
    seen = float(images) * float(epochs)
    return {"base_macs": analytic_cost(base, num_classes=num_classes).macs, "mean_candidate_macs": float(macs.mean()),
            "images_seen": seen, "runs": len(candidates) * seeds,
            "training_macs": 3.0 * float(macs.sum()) * seeds * seen}


def search_cost_table(candidates: "Sequence[tuple[float, float, float]]",
                      settings: "dict[str, tuple[ModelConfig, int, float, int]]", seeds: int = 3,
                      reference: str | None = None) -> "pd.DataFrame":
    """``search_cost`` for several bases, one row each: ``settings`` maps a row name to
    (base config, training images, epochs, classes). ``reference`` names the row the last column
    divides by (default: the second row)."""
    import pandas as pd

    rows = {}
    for name, (base, images, epochs, classes) in settings.items():
        c = search_cost(candidates, base, images, epochs, seeds, classes)
        rows[name] = {"base GMACs": c["base_macs"] / 1e9, "mean candidate GMACs": c["mean_candidate_macs"] / 1e9,
                      "images × epochs": c["images_seen"], "runs": c["runs"],
                      "search, training multiply-adds": c["training_macs"]}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    reference = reference if reference is not None else frame.index[min(1, len(frame) - 1)]
    frame[f"× {reference}"] = frame["search, training multiply-adds"] / frame.loc[reference, "search, training multiply-adds"]
    return frame


def official_vs_formula(table: "pd.DataFrame") -> "pd.DataFrame":
    """Lesson 06: each published variant's coefficients against the phi formula at equal MACs
    (``load_results("formula-vs-official")``), side by side: nominal multipliers, the rounded network
    (layers and channels per stage, resolution), cost and accuracy, and whether the two built
    networks are identical."""
    import pandas as pd

    rows = []
    for variant in [v for v in dict.fromkeys(e.get("variant") for e in table.extra) if v]:
        pair = {r.rule: r for _, r in table[[e.get("variant") == variant for e in table.extra]].iterrows()}
        official, formula = pair["official"], pair["formula"]
        oc, fc = _row_config(official), _row_config(formula)
        rows.append({
            "variant": variant.upper(), "φ (formula)": round(float(formula.phi), 3),
            "width official": round(float(official.width_mult), 4), "width formula": round(float(formula.width_mult), 4),
            "depth official": round(float(official.depth_mult), 4), "depth formula": round(float(formula.depth_mult), 4),
            "layers official": [s.layers for s in oc.stages], "layers formula": [s.layers for s in fc.stages],
            "channels official": [s.out_channels for s in oc.stages],
            "channels formula": [s.out_channels for s in fc.stages],
            "px official": official.resolution, "px formula": formula.resolution,
            "MMACs official": round(float(official.mmacs), 3), "MMACs formula": round(float(formula.mmacs), 3),
            "accuracy % official": round(100 * float(official.accuracy_mean), 2),
            "accuracy % formula": round(100 * float(formula.accuracy_mean), 2),
            "same network": (oc.stages, oc.stem_channels, oc.head_channels, oc.hw)
                            == (fc.stages, fc.stem_channels, fc.head_channels, fc.hw),
        })
    return pd.DataFrame(rows).set_index("variant")


__all__ += ["SCALING_RULES", "budget_table", "compound_vs_best_single", "compare_runs", "BudgetExplorer", "implied_gamma",
            "constraint_map_data", "GridPointState", "grid_point_state", "GridExplorer", "search_cost",
            "search_cost_table", "official_vs_formula"]


# --- lessons 07-08 ---
# The NAS objective explorer: a state function (``objective_state``) and a view (``ObjectiveExplorer``).

OBJECTIVE_SOURCES = ("published", "single-vs-compound", "grid-search", "formula-vs-official", "imagenette-resolution")
OBJECTIVE_MODES = ("soft", "hard")


def objective_points(source: str = "published") -> "pd.DataFrame":
    """Accuracy and MACs of one table of models, with the T it is scored against by default.

    ``"published"``: B0–B7 with the paper's ImageNet top-1 (``PAPER_TOP1``) and our exact MACs at
    1000 classes; T = 400 M, the paper's. A sweep name: its committed ``results/`` trials (mean
    accuracy over seeds); their models cost a few MMACs, so T is the sweep's median MACs (half its
    trials fit a hard budget). ``attrs`` holds ``target`` and a ``provenance`` line."""
    import pandas as pd

    from .config import PAPER_TOP1
    from .nas import TARGET_MACS

    if source not in OBJECTIVE_SOURCES:
        raise ValueError(f"source must be one of {OBJECTIVE_SOURCES}, got {source!r}")
    if source == "published":
        names = list(PUBLISHED)
        table = pd.DataFrame({"macs": [analytic_cost(official_config(n), num_classes=1000).macs for n in names],
                              "accuracy": [PAPER_TOP1[n] / 100 for n in names]},
                             index=pd.Index([n.upper() for n in names], name="model"))
        target, where = TARGET_MACS, "paper top-1 (config.PAPER_TOP1); MACs: analytic_cost at 1000 classes"
    else:
        from .experiments import load_results, results_path

        results = load_results(source)
        table = pd.DataFrame({"macs": results.macs.astype(float), "accuracy": results.accuracy_mean},
                             index=pd.Index(results.trial_id, name="model"))
        target = float(table.macs.median())
        devices = ", ".join(sorted(set(results.device)))
        where = (f"{results_path('results', source)}: mean of {results.seeds_n.min()} seeds, {devices}")
    table.attrs.update(target=float(target), provenance=where, source=source)
    return table


def objective_state(source: "str | pd.DataFrame" = "published", w: float = -0.07, target: float | None = None,
                    mode: str = "soft") -> "pd.DataFrame":
    """The table of ``source`` (a name from ``OBJECTIVE_SOURCES`` or a DataFrame with ``macs`` and
    ``accuracy`` columns) scored by the NAS objective and ranked, best first.

    ``mode="soft"``: ACC·(MACs/T)^w; ``mode="hard"``: MnasNet's hard constraint (``w`` is ignored).
    ``target`` T defaults to the source's own (``objective_points``). Adds ``score``, ``rank``
    (1 = best), ``factor`` (score / accuracy), ``within_target`` and ``pareto`` (on the front of
    cost and accuracy); ``attrs`` keeps ``w``, ``target``, ``mode``, ``provenance``."""
    from .nas import hard_objective, objective, pareto_front

    if mode not in OBJECTIVE_MODES:
        raise ValueError(f"mode must be one of {OBJECTIVE_MODES}, got {mode!r}")
    if isinstance(source, str):
        table = objective_points(source)
    else:
        import pandas as pd

        if not isinstance(source, pd.DataFrame) or not {"macs", "accuracy"} <= set(source.columns):
            raise ValueError("source must be one of "
                             f"{OBJECTIVE_SOURCES} or a DataFrame with 'macs' and 'accuracy' columns, got "
                             f"{type(source).__name__}")
        table = source[["macs", "accuracy"]].astype(float).copy()
        table.attrs.update(target=float(source.attrs.get("target", table.macs.median())),
                           provenance=source.attrs.get("provenance", "a table you passed"), source=source.attrs.get("source", "table"))
    w = check_finite("w", w)
    target = table.attrs["target"] if target is None else check_finite("target", target, positive=True)
    if mode == "soft":
        table["score"] = objective(table.accuracy.to_numpy(), table.macs.to_numpy(), target, w)
    else:
        table["score"] = hard_objective(table.accuracy.to_numpy(), table.macs.to_numpy(), target)
    table["factor"] = table.score / table.accuracy
    table["within_target"] = table.macs <= target
    front = pareto_front(table, cost="macs", score="accuracy")
    table["pareto"] = table.index.isin(front.index)
    table = table.sort_values(["score", "macs"], ascending=[False, True], kind="stable")
    table["rank"] = range(1, len(table) + 1)
    table.attrs.update(w=w, target=float(target), mode=mode)
    return table


class ObjectiveExplorer(widgets.VBox):
    """Sliders for w and T (log scale), a soft/hard toggle and a table picker; every change calls
    ``objective_state`` and redraws ``plots.draw_objective`` and the ranked table."""

    def __init__(self, source: str = "published", w: float = -0.07, target: float | None = None,
                 mode: str = "soft", dpi: int = 80) -> None:
        self.source = widgets.Dropdown(options=OBJECTIVE_SOURCES, value=source, description="table")
        self.w = _slider("w", w, -0.5, 0.0, 0.01)
        self.target = widgets.FloatLogSlider(value=1.0, base=2, min=-4, max=4, step=0.25, description="T ×",
                                             continuous_update=False, readout_format=".3g",
                                             layout=widgets.Layout(width="24em"))
        self.mode = widgets.ToggleButtons(options=[("soft ACC·(MACs/T)^w", "soft"), ("hard: MACs ≤ T", "hard")],
                                          value=mode, style={"button_width": "12em"})
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.text = widgets.HTML()
        self.dpi = dpi
        self.renders = 0
        self.state: "pd.DataFrame | None" = None
        self._points: dict[str, "pd.DataFrame"] = {}   # each table is read once, not on every slider move
        if target is not None:
            self.target.value = target / self.points(source).attrs["target"]
        super().__init__([widgets.HBox([self.source, self.mode]), widgets.HBox([self.w, self.target]),
                          self.text, self.image])
        for part, name in ((self.source, "source"), (self.w, "w"), (self.target, "target"), (self.mode, "mode"),
                           (self.text, "ranking"), (self.image, "figure")):
            part.add_class(f"effnet-objective-{name}")
        for control in (self.source, self.w, self.target, self.mode):
            control.observe(lambda _change: self.render(), names="value")
        self.render()

    def points(self, source: str) -> "pd.DataFrame":
        """``objective_points(source)``, read once per explorer."""
        if source not in self._points:
            self._points[source] = objective_points(source)
        return self._points[source]

    def render(self) -> "pd.DataFrame":
        from matplotlib.figure import Figure
        import matplotlib.pyplot as plt

        from . import plots

        points = self.points(self.source.value)
        self.state = objective_state(points, self.w.value, points.attrs["target"] * self.target.value, self.mode.value)
        with plt.rc_context(plots.STYLE):
            fig = Figure(figsize=(14, 5.5))
            plots.draw_objective(fig, self.state)
            self.image.value = figure_png(fig, self.dpi)
        columns = ["mmacs", "accuracy", "score", "rank"]
        shown = self.state.assign(mmacs=self.state.macs / 1e6)[columns].round(4)
        self.text.value = (f"<b>T = {self.state.attrs['target'] / 1e6:,.4g} MMACs</b> (the table's default × "
                           f"{self.target.value:.3g});  {self.state.attrs['provenance']}" + shown.to_html())
        self.renders += 1
        return self.state


def objective_explorer(**defaults) -> ObjectiveExplorer:
    """The lesson-07 explorer (see ``ObjectiveExplorer`` for the arguments)."""
    return ObjectiveExplorer(**defaults)
