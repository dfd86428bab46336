"""Scaling experiments, small: the paper's claims re-run on CIFAR-10 and Imagenette, with seeds.

This module says what each sweep trains: the ``Settings`` its trials share and the ``plan`` of its
trials. ``sweeps.run_sweep`` trains them (``python -m effnet_lab sweep NAME``); ``store`` keeps
what they measured.

- ``single-vs-compound``: scale one base model by width only, depth only, resolution only, or all
  three (compound, the paper's alpha, beta, gamma) to matched MAC budgets, and train each.
- ``grid-search``: at phi = 1, a grid of (alpha, beta, gamma) with alpha * beta^2 * gamma^2 near 2.
- ``formula-vs-official``: the published B1-B3 coefficients against the phi formula at equal MACs.
- ``imagenette-resolution``: one small model on Imagenette at growing resolution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .checks import check_finite, check_positive_int
from .config import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PUBLISHED, RECIPE, SCHEDULES, ModelConfig, compound_scaling
from .cost import analytic_cost, grid_cost, solve_for_macs

SWEEPS = ("single-vs-compound", "grid-search", "formula-vs-official", "imagenette-resolution")

# The CIFAR base: B0's table at a quarter width and half depth, stem stride 1 so a 32 px image still
# has a 2x2 map at the end (with stride 2 it would be 1x1). 2.5 MMACs with 10 classes: trainable on a CPU.
CIFAR_BASE = ModelConfig(width_mult=0.25, depth_mult=0.5, stem_stride=1, resolution=32, dropout=0.1,
                         stochastic_depth=0.1, name="cifar-base")
IMAGENETTE_BASE = ModelConfig(width_mult=0.5, depth_mult=0.5, dropout=0.2, stochastic_depth=0.1,
                              resolution=128, name="imagenette-small")


# How every sweep trained before the recipe options were settings (results lines without them)
RECIPE_BEFORE = {"lr": None, "schedule": "cosine", "label_smoothing": 0.1, "weight_decay": 5e-5, "zero_init": False,
                 "ema": 0.0, "recalibrate_bn": False, "tta": False}
RECIPE_FIELDS = tuple(RECIPE_BEFORE)
# Settings added since the first results lines, with the values those lines were made with
SETTINGS_BEFORE = {**RECIPE_BEFORE, "test_per_class": None}


# Settings fields that hold several values, and what each value is
SEQUENCES = {"seeds": "integers", "budgets": "numbers", "variants": "names among b1-b7",
             "resolutions": "sizes in pixels"}


@dataclass(frozen=True)
class Settings:
    """What every trial of a sweep shares; stored with each result so a resume can check it."""

    data: str = "cifar10"
    # enough SGD steps (~700) for the 4x models to learn at all (results/README.md, "Notes from the code")
    per_class: int = 300
    test_per_class: int | None = None  # None: the whole test split (a quick run tests on a slice)
    epochs: int = 30
    batch_size: int = 64            # twice the steps of 128 in the same epochs (results/README.md, "Training recipe")
    warmup_epochs: float = 2.0
    # the training recipe (``train.fit``'s options of the same names; results/README.md, "Training recipe")
    lr: float | None = RECIPE["lr"]
    schedule: str = RECIPE["schedule"]
    label_smoothing: float = RECIPE["label_smoothing"]
    weight_decay: float = RECIPE["weight_decay"]
    zero_init: bool = RECIPE["zero_init"]
    ema: float = RECIPE["ema"]
    recalibrate_bn: bool = RECIPE["recalibrate_bn"]
    tta: bool = RECIPE["tta"]
    seeds: tuple[int, ...] = (0, 1, 2)
    budgets: tuple[float, ...] = (1.0, 2.0, 4.0)
    tolerance: float = 0.1          # grid search: |alpha * beta^2 * gamma^2 - 2| <= tolerance
    max_candidates: int = 6         # the default run's time on a CPU (results/README.md); committed: 9
    variants: tuple[str, ...] = ("b1", "b2", "b3")
    resolutions: tuple[int, ...] = (64, 96, 128)
    base: ModelConfig = CIFAR_BASE

    def __post_init__(self) -> None:
        check_positive_int("per_class", self.per_class)
        if self.test_per_class is not None:
            check_positive_int("test_per_class", self.test_per_class)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_finite("warmup_epochs", self.warmup_epochs, minimum=0)
        if self.lr is not None:
            check_finite("lr", self.lr, positive=True)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        check_finite("label_smoothing", self.label_smoothing, minimum=0, maximum=1)
        check_finite("weight_decay", self.weight_decay, minimum=0)
        check_finite("ema", self.ema, minimum=0, maximum=0.9999)
        for name in ("zero_init", "recalibrate_bn", "tta"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, what in SEQUENCES.items():  # stored as tuples, whatever sequence was given
            try:
                values = tuple(getattr(self, name))
            except TypeError:
                raise ValueError(f"{name} must be a sequence of distinct {what}, got {getattr(self, name)!r}") from None
            object.__setattr__(self, name, values)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct {what} (at least one), got {values!r}")
        for b in self.budgets:
            check_finite("budgets", b, minimum=1)  # the sweep scales the base up (its multipliers start at 1)
        for r in self.resolutions:
            check_positive_int("resolutions", r)
        check_finite("tolerance", self.tolerance, minimum=0)
        check_positive_int("max_candidates", self.max_candidates)
        for v in self.variants:
            if v not in PUBLISHED or v == "b0":
                raise ValueError(f"variants must be names among b1-b7, got {v!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "Settings":
        """The inverse of ``to_dict`` (as stored in every results line). A line written before the
        recipe was recorded was trained with ``RECIPE_BEFORE`` (``SETTINGS_BEFORE``), and says so."""
        return cls(**{**SETTINGS_BEFORE, **d, "base": ModelConfig.from_dict(d["base"])})

    def to_dict(self) -> dict:
        return {**asdict(self), "base": self.base.to_dict(), **{k: list(getattr(self, k)) for k in SEQUENCES}}


def quick_settings(sweep: str) -> Settings:
    """A small slice that runs every sweep in a minute or two on a CPU and still learns (about 30 % on
    CIFAR-10's ten classes): 120 steps of batch 50 on 100 images per class, tested on 50 per class
    (notebooks under CI). The learning rate is set, not left to the batch-size rule: 0.05 learned
    most in these few steps among 0.05, 0.1 and 0.2 (results/README.md, "Training recipe")."""
    base = IMAGENETTE_BASE.replace(width_mult=0.25, depth_mult=0.25) if sweep == "imagenette-resolution" else \
        CIFAR_BASE.replace(depth_mult=0.25)
    return Settings(data="imagenet-subset" if sweep == "imagenette-resolution" else "cifar10", per_class=100,
                    test_per_class=50, epochs=6, batch_size=50, lr=0.05, warmup_epochs=1.0, seeds=(0,),
                    budgets=(1.0, 2.0), max_candidates=2, variants=("b1",), resolutions=(40, 56), base=base)


def default_settings(sweep: str) -> Settings:
    if sweep == "imagenette-resolution":
        return Settings(data="imagenet-subset", per_class=300, epochs=15, batch_size=64, base=IMAGENETTE_BASE)
    return Settings()


def check_sweep(sweep: str) -> str:
    """``sweep`` if it is one of ``SWEEPS``; else a ValueError that lists them."""
    if sweep not in SWEEPS:
        raise ValueError(f"unknown sweep {sweep!r}; valid sweeps: {', '.join(SWEEPS)}")
    return sweep


@dataclass(frozen=True)
class Trial:
    trial_id: str
    rule: str
    config: ModelConfig
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    phi: float | None = None
    budget: float | None = None   # target MACs / base MACs
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Planning: which models each sweep trains
# ---------------------------------------------------------------------------------------------


def scale_one(base: ModelConfig, rule: str, x: float) -> ModelConfig:
    """``base`` scaled by ``x`` along one rule: width, depth, resolution (x = the side factor)."""
    if rule == "width":
        return base.replace(width_mult=base.width_mult * x, name=f"width x{x:.3f}")
    if rule == "depth":
        return base.replace(depth_mult=base.depth_mult * x, name=f"depth x{x:.3f}")
    if rule == "resolution":
        h, w = base.hw
        size = (max(1, round(h * x)), max(1, round(w * x)))
        return base.replace(resolution=size[0] if h == w else size, name=f"resolution x{x:.3f}")
    raise ValueError(f"rule must be width, depth or resolution, got {rule!r}")


def match_budget(make: Callable[[float], ModelConfig], target: float, lo: float, hi: float,
                 num_classes: int) -> tuple[float, ModelConfig]:
    """The multiplier whose MACs are nearest ``target``: the crossing of the staircase or the step below.
    A target beyond ``hi``'s MACs doubles ``hi`` (up to 8 times) before giving up."""
    for doubled in range(9):
        reached = analytic_cost(make(hi), num_classes=num_classes).macs
        if reached >= target:
            break
        if doubled == 8:
            raise ValueError(f"{target:,.0f} MACs are out of reach: a multiplier of {hi:g} gives {reached:,}; "
                             f"choose a smaller budget")
        hi *= 2
    x = solve_for_macs(make, target, lo, hi, num_classes=num_classes)
    candidates = [x]
    below = x - 1e-9 * max(1.0, abs(x))
    if below >= lo:
        candidates.append(below)
    best = min(candidates, key=lambda v: abs(analytic_cost(make(v), num_classes=num_classes).macs - target))
    return best, make(best)


def plan_single_vs_compound(s: Settings, num_classes: int) -> list[Trial]:
    base_macs = analytic_cost(s.base, num_classes=num_classes).macs
    trials = [Trial("base", "base", s.base, 1.0, 1.0, 1.0, 0.0, 1.0)]
    for budget in s.budgets:
        if budget == 1.0:
            continue
        target = budget * base_macs
        for rule in ("width", "depth", "resolution"):
            try:
                x, cfg = match_budget(lambda v, r=rule: scale_one(s.base, r, v), target, 1.0, 8.0, num_classes)
            except ValueError as exc:
                raise ValueError(f"budgets: {budget:g}x the base by {rule} alone: {exc}") from None
            trials.append(Trial(f"{rule}-x{budget:g}", rule, cfg, budget=budget, extra={"multiplier": x}))
        phi, cfg = match_budget(lambda p: compound_scaling(p, base=s.base), target, 0.0, 8.0, num_classes)
        trials.append(Trial(f"compound-x{budget:g}", "compound", cfg, PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, phi,
                            budget))
    return trials


def grid_candidates(tolerance: float = 0.1, max_candidates: int = 9, step: float = 0.05, base: ModelConfig | None = None,
                    num_classes: int = 1000) -> list[tuple[float, float, float]]:
    """(alpha, beta, gamma) on a grid of ``step`` with alpha, beta, gamma >= 1 and
    |alpha * beta^2 * gamma^2 - 2| <= tolerance, spread out by farthest-point sampling that starts
    at the paper's point. Among near-duplicates in cost, ``grid_cost`` keeps the one whose real
    MACs at phi = 1 are nearest the ideal 2x."""
    check_finite("tolerance", tolerance, minimum=0)
    check_positive_int("max_candidates", max_candidates)
    values = np.round(np.arange(1.0, 1.6 + 1e-9, step), 4)
    a, b, g = (v.ravel() for v in np.meshgrid(values, values, values, indexing="ij"))
    keep = np.abs(a * b**2 * g**2 - 2) <= tolerance + 1e-12
    if not keep.any():
        raise ValueError(f"no (alpha, beta, gamma) on a {step} grid satisfies |alpha*beta^2*gamma^2 - 2| <= "
                         f"{tolerance}; use a tolerance of at least 0.02")
    a, b, g = a[keep], b[keep], g[keep]
    base = base if base is not None else CIFAR_BASE
    macs = grid_cost(a, b, g, 1.0, base=base, num_classes=num_classes)["macs"]
    base_macs = analytic_cost(base, num_classes=num_classes).macs
    points = np.log(np.stack([a, b, g], 1))
    paper = np.log([PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA])
    chosen = [tuple(np.exp(paper))]
    distance = np.linalg.norm(points - paper, axis=1)
    while len(chosen) < min(max_candidates, len(a) + 1):
        # prefer far-away points, and among equally far ones those whose real cost is nearest 2x
        score = distance - 0.01 * np.abs(macs / base_macs - 2)
        i = int(np.argmax(score))
        if distance[i] <= 1e-9:
            break
        chosen.append((float(a[i]), float(b[i]), float(g[i])))
        distance = np.minimum(distance, np.linalg.norm(points - points[i], axis=1))
    return [(round(x, 4), round(y, 4), round(z, 4)) for x, y, z in chosen]


def plan_grid_search(s: Settings, num_classes: int) -> list[Trial]:
    return [Trial(f"a{a:g}-b{b:g}-g{g:g}", "compound", compound_scaling(1.0, a, b, g, base=s.base), a, b, g, 1.0,
                  extra={"constraint": float(a * b**2 * g**2), "paper_point": (a, b, g) == (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA)})
            for a, b, g in grid_candidates(s.tolerance, s.max_candidates, base=s.base, num_classes=num_classes)]


def plan_formula_vs_official(s: Settings, num_classes: int) -> list[Trial]:
    trials = [Trial("b0", "base", s.base, 1.0, 1.0, 1.0, 0.0, 1.0)]
    h, w = s.base.hw
    for name in s.variants:
        width, depth, res, dropout = PUBLISHED[name]
        ratio = res / 224
        size = (round(h * ratio), round(w * ratio))
        official = s.base.replace(width_mult=s.base.width_mult * width, depth_mult=s.base.depth_mult * depth,
                                  resolution=size[0] if h == w else size, name=f"official {name}")
        target = analytic_cost(official, num_classes=num_classes).macs
        phi, formula = match_budget(lambda p: compound_scaling(p, base=s.base), target, 0.0, 8.0, num_classes)
        trials.append(Trial(f"official-{name}", "official", official, budget=None, extra={"variant": name}))
        trials.append(Trial(f"formula-{name}", "formula", formula, PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, phi,
                            extra={"variant": name}))
    return trials


def plan_imagenette_resolution(s: Settings, num_classes: int) -> list[Trial]:
    return [Trial(f"res-{r}", "resolution", s.base.replace(resolution=r, name=f"{s.base.name} @{r}px"))
            for r in s.resolutions]


PLANS = {"single-vs-compound": plan_single_vs_compound, "grid-search": plan_grid_search,
         "formula-vs-official": plan_formula_vs_official, "imagenette-resolution": plan_imagenette_resolution}


def plan(sweep: str, settings: Settings | None = None, num_classes: int = 10) -> list[Trial]:
    return PLANS[check_sweep(sweep)](settings or default_settings(sweep), num_classes)
