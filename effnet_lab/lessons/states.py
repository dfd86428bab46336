"""What the lessons' explorers show, as plain data: state functions and the tables beside them.

No matplotlib and no ipywidgets here: every function computes from the library (``analytic_cost``,
``grid_cost``, the committed results) in milliseconds and returns numbers, dataclasses or DataFrames.
``figures`` draws them; ``explorers`` puts controls around both. The unit tests check this layer.
Sliders never build a model and never call ptflops: the closed-form count is exact and ~0.2 ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..checks import check_finite
from ..config import (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PUBLISHED, ModelConfig, compound_scaling, flops_factor,
                      official_config)
from ..cost import analytic_cost, grid_cost

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd


PHI_MIN, PHI_MAX, PHI_STEP = -2.0, 7.0, 0.05   # the explorer's phi slider
CURVE_STEP = 0.025                            # fine enough to show every step of the staircase
MODES = ("formula", "published")
BASE = "b0"


# ---------------------------------------------------------------------------------------------
# Lesson 04: compound scaling
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

    Counted by ``grid_cost`` (``analytic_cost``'s totals as array ops, the same integers): a few
    milliseconds for the slider's 181 points, where an ``analytic_cost`` per point took ~0.1 s in all,
    the step that made a new alpha, beta or gamma slow. Cached per (alpha, beta, gamma)."""
    base_macs = _base_cost()[0]
    n = int(round((phi_max - phi_min) / step))
    phis = tuple(round(phi_min + i * step, 10) for i in range(n + 1))
    try:
        macs = [int(m) for m in grid_cost(alpha, beta, gamma, phis)["macs"]]
    except ValueError:  # a point beyond int64 (alpha, beta, gamma far past the sliders): count exactly
        macs = [analytic_cost(compound_scaling(p, alpha, beta, gamma)).macs for p in phis]
    return phis, tuple(m / base_macs for m in macs)


@lru_cache(maxsize=64)
def scaling_extent(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                   ) -> tuple[float, int, int]:
    """The largest multiplier (depth, width or resolution), layers of a stage and output channels of
    a stage that ``scaling_state`` reaches anywhere on the phi slider for these alpha, beta, gamma,
    or for B0-B7 in either mode: the explorer's axes span them, so moving phi or switching between
    formula and published moves bars only (and a learner sees them grow against a scale that
    stays put). Each is monotone in phi (a power of alpha, beta or gamma, rounded), so the
    slider's two ends hold the formula's extremes."""
    base_resolution = _base_cost()[2]
    configs = ([official_config(name) for name in PUBLISHED] +
               [compound_scaling(p, alpha, beta, gamma) for p in (PHI_MIN, PHI_MAX)])
    return (max(max(c.depth_mult, c.width_mult, c.hw[0] / base_resolution) for c in configs),
            max(s.layers for c in configs for s in c.stages), max(s.out_channels for c in configs for s in c.stages))


@lru_cache(maxsize=1)
def _published_rows() -> tuple[dict, ...]:
    base_macs, base_params, _ = _base_cost()
    rows = []
    for k, name in enumerate(PUBLISHED):
        cost = analytic_cost(name)
        rows.append(dict(name=name.upper(), phi=float(k), macs=cost.macs, params=cost.params,
                         macs_ratio=cost.macs / base_macs, params_ratio=cost.params / base_params))
    return tuple(rows)


def published_points() -> "pd.DataFrame":
    """B0–B7 at their own resolution: nominal phi (= the variant number), MACs and params vs B0.

    A new table on every call (the counts behind it are cached): a caller may change it freely."""
    import pandas as pd

    return pd.DataFrame(list(_published_rows())).set_index("name")


def stage_table(config: ModelConfig) -> "pd.DataFrame":
    """The seven MBConv stages of ``config`` beside B0's: output channels and layers."""
    import pandas as pd

    base = official_config(BASE)
    rows = [dict(stage=i, operator=s.operator, b0_channels=b.out_channels, channels=s.out_channels,
                 b0_layers=b.layers, layers=s.layers)
            for i, (b, s) in enumerate(zip(base.stages, config.stages), start=2)]
    return pd.DataFrame(rows).set_index("stage")


def formula_vs_published_table(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
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
    """Keyword arguments for ``figures.staircase``: the MACs-vs-phi curve, B0–B7 and (optionally)
    each variant's effective phi, the phi at which the formula first reaches its MACs."""
    from ..cost import solve_for_macs

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
    published: "pd.DataFrame"
    stage_table: "pd.DataFrame"
    extent: tuple[float, int, int]   # ``scaling_extent``: what the whole phi slider reaches

    @property
    def curve_phi(self) -> tuple[float, ...]:
        """The phis of the MACs-vs-phi curve for these alpha, beta, gamma (``macs_curve`` at the
        slider's own step: every phi the marker can sit on). Computed when first read, not with the
        state: a new alpha takes ~0.1 s for the curve, which the explorer's figure thread pays while
        the numbers are already shown."""
        return self._curve()[0]

    @property
    def curve_ratio(self) -> tuple[float, ...]:
        """MACs relative to B0 at each of ``curve_phi``."""
        return self._curve()[1]

    def _curve(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return macs_curve(round(self.alpha, 6), round(self.beta, 6), round(self.gamma, 6), step=PHI_STEP)

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
    return ScalingState(alpha=alpha, beta=beta, gamma=gamma, phi=phi, mode=mode, config=config,
                        macs=cost.macs, params=cost.params, base_macs=base_macs, base_params=base_params,
                        published=published_points(),
                        stage_table=stage_table(config),
                        extent=scaling_extent(round(alpha, 6), round(beta, 6), round(gamma, 6)))


def describe_phi(phi: float, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                 gamma: float = PAPER_GAMMA) -> str:
    """One line about compound_scaling(phi): multipliers, blocks, resolution, MMACs, M params."""
    config = compound_scaling(phi, alpha, beta, gamma)
    cost = analytic_cost(config)
    return (f"φ = {phi:+.2f}: depth ×{config.depth_mult:.3f}, width ×{config.width_mult:.3f}, "
            f"{config.hw[0]} px, {config.num_blocks} blocks → {cost.macs / 1e6:,.0f} MMACs, "
            f"{cost.params / 1e6:.2f} M params")


# ---------------------------------------------------------------------------------------------
# Lesson 06: the constraint surface over (alpha, beta)
# ---------------------------------------------------------------------------------------------


def _results_base(table: "pd.DataFrame") -> ModelConfig:
    """The base model a sweep's results were made with (stored with every row)."""
    from ..experiments import Settings

    return Settings.from_dict(table.settings.iloc[0]).base


def implied_gamma(alpha: float, beta: float, target: float = 2.0) -> float:
    """The gamma that makes alpha * beta^2 * gamma^2 equal ``target``: sqrt(target / (alpha * beta^2))."""
    alpha, beta = check_finite("alpha", alpha, positive=True), check_finite("beta", beta, positive=True)
    target = check_finite("target", target, positive=True)
    return math.sqrt(target / (alpha * beta**2))


def constraint_map_data(base: ModelConfig, alphas: "Sequence[float]", betas: "Sequence[float]",
                        num_classes: int = 10, target: float = 2.0) -> dict:
    """Keyword arguments for ``dashboards.constraint_maps``: over a grid of (alpha, beta), the gamma that
    the constraint alpha·beta²·gamma² = ``target`` implies, and the real MACs of the phi = 1 model
    over the base's (``grid_cost``; NaN where gamma < 1, which the search does not allow)."""
    import numpy as np


    a, b = np.meshgrid(np.asarray(alphas, dtype=float), np.asarray(betas, dtype=float), indexing="xy")
    gamma = np.sqrt(target / (a * b**2))
    macs = grid_cost(a, b, gamma, 1.0, base=base, num_classes=num_classes)["macs"].astype(float)
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


# ---------------------------------------------------------------------------------------------
# Lesson 07: the NAS objective over a table of models
# ---------------------------------------------------------------------------------------------

OBJECTIVE_SOURCES = ("published", "single-vs-compound", "grid-search", "formula-vs-official", "imagenette-resolution")
OBJECTIVE_MODES = ("soft", "hard")


def objective_points(source: str = "published") -> "pd.DataFrame":
    """Accuracy and MACs of one table of models, with the T it is scored against by default.

    ``"published"``: B0–B7 with the paper's ImageNet top-1 (``PAPER_TOP1``) and our exact MACs at
    1000 classes; T = 400 M, the paper's. A sweep name: its committed ``results/`` trials (mean
    accuracy over seeds); their models cost a few MMACs, so T is the sweep's median MACs (half its
    trials fit a hard budget). ``attrs`` holds ``target`` and a ``provenance`` line."""
    import pandas as pd

    from ..config import PAPER_TOP1
    from ..nas import TARGET_MACS

    if source not in OBJECTIVE_SOURCES:
        raise ValueError(f"source must be one of {OBJECTIVE_SOURCES}, got {source!r}")
    if source == "published":
        names = list(PUBLISHED)
        table = pd.DataFrame({"macs": [analytic_cost(official_config(n), num_classes=1000).macs for n in names],
                              "accuracy": [PAPER_TOP1[n] / 100 for n in names]},
                             index=pd.Index([n.upper() for n in names], name="model"))
        target, where = TARGET_MACS, "paper top-1 (config.PAPER_TOP1); MACs: analytic_cost at 1000 classes"
    else:
        from ..store import load_results, results_path

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
    from ..nas import hard_objective, objective, pareto_front

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
