"""Scaling experiments, small: the paper's claims re-run on CIFAR-10 and Imagenette, with seeds.

Sweeps (``python -m effnet_lab sweep NAME``):

- ``single-vs-compound``: scale one base model by width only, depth only, resolution only, or all
  three (compound, the paper's alpha, beta, gamma) to matched MAC budgets, and train each.
- ``grid-search``: at phi = 1, a grid of (alpha, beta, gamma) with alpha * beta^2 * gamma^2 near 2.
- ``formula-vs-official``: the published B1-B3 coefficients against the phi formula at equal MACs.
- ``imagenette-resolution``: one small model on Imagenette at growing resolution.

Each trial trains with several seeds; one JSON line per trial is appended to a results file
(atomically), so a re-run skips finished trials; the trial under way keeps a checkpoint per epoch
in ``OUT/.partial/``, so an interrupt loses at most one epoch. ``--workers N`` trains N trials at
once on Ray (``runners``), ``--address`` on a Ray cluster; the driver alone writes the results.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .checks import check_finite, check_positive_int
from .config import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PUBLISHED, RECIPE, SCHEDULES, ModelConfig, compound_scaling
from .cost import analytic_cost, grid_cost, solve_for_macs
from .runtime import atomic_write_text, results_dir

SCHEMA = "effnet_lab.sweep/1"
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
    CIFAR-10's ten classes): 80 steps of batch 50 on 100 images per class, tested on 50 per class
    (notebooks under CI). The learning rate is set, not left to the batch-size rule: 0.05 learned
    most in these few steps among 0.05, 0.1 and 0.2 (results/README.md, "Training recipe")."""
    base = IMAGENETTE_BASE.replace(width_mult=0.25, depth_mult=0.25) if sweep == "imagenette-resolution" else \
        CIFAR_BASE.replace(depth_mult=0.25)
    return Settings(data="imagenet-subset" if sweep == "imagenette-resolution" else "cifar10", per_class=100,
                    test_per_class=50, epochs=4, batch_size=50, lr=0.05, warmup_epochs=1.0, seeds=(0,),
                    budgets=(1.0, 2.0), max_candidates=2, variants=("b1",), resolutions=(40, 56), base=base)


def default_settings(sweep: str) -> Settings:
    if sweep == "imagenette-resolution":
        return Settings(data="imagenet-subset", per_class=300, epochs=15, batch_size=64, base=IMAGENETTE_BASE)
    return Settings()


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
    macs = grid_cost(a, b, g, 1.0, base=base, num_classes=num_classes)["macs"].numpy()
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
    if sweep not in PLANS:
        raise ValueError(f"unknown sweep {sweep!r}; valid sweeps: {', '.join(SWEEPS)}")
    return PLANS[sweep](settings or default_settings(sweep), num_classes)


# ---------------------------------------------------------------------------------------------
# The results store: JSON lines, atomic appends, resumable
# ---------------------------------------------------------------------------------------------


# What every results line holds (``_row`` writes them): a line without one of them is damaged.
REQUIRED_FIELDS = ("sweep", "trial_id", "rule", "alpha", "beta", "gamma", "phi", "width_mult", "depth_mult",
                   "resolution", "macs", "params", "budget", "budget_ratio", "seeds", "accuracies", "accuracy_mean",
                   "accuracy_std", "train_seconds", "images_per_second", "n_train", "n_test", "config", "settings",
                   "extra", "command", "commit", "device", "torch", "date")


class ResultsStore:
    """One JSON object per line, one line per finished trial. Every write replaces the file
    atomically (write a temporary file, then rename), so a crash leaves the old or the new file, and
    a trial already in the file is never appended twice. One process writes it: the sweep's driver
    (``run_sweep``; its workers hand their results back), so no lock is needed, and none that a
    network filesystem would have to honour."""

    def __init__(self, path: "str | Path") -> None:
        self.path = Path(path)

    def read(self) -> list[dict]:
        """Every line, checked (JSON, schema, fields); a trial id that occurs twice (two runs that
        each finished it) is read once, from its first line, with a warning naming the file."""
        if not self.path.exists():
            return []
        rows, seen, repeated = [], set(), []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.path}: line {number} is not valid JSON ({exc.msg}); the file is "
                                 f"damaged: fix or remove that line (finished trials are the other lines)") from None
            if not isinstance(row, dict) or row.get("schema") != SCHEMA:
                found = row.get("schema") if isinstance(row, dict) else type(row).__name__
                raise ValueError(f"{self.path}: line {number} has schema {found!r}, this version reads {SCHEMA!r}; "
                                 f"write new results to another folder")
            _check_row(row, f"{self.path}: line {number}")
            if row["trial_id"] in seen:
                repeated.append(f"{row['trial_id']} (line {number})")
                continue
            seen.add(row["trial_id"])
            rows.append(row)
        if repeated:
            warnings.warn(f"{self.path} holds trial(s) more than once: {', '.join(repeated[:5])}"
                          f"{' ...' if len(repeated) > 5 else ''}; the first line of each is read", stacklevel=2)
        return rows

    def append(self, row: dict) -> bool:
        """Add ``row``, unless its trial is in the file already: False then."""
        rows = self.read()
        if any(r["trial_id"] == row["trial_id"] for r in rows):
            return False
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in [*rows, row]))
        return True

    def table(self):
        """The results as a pandas DataFrame, one row per trial."""
        import pandas as pd

        return pd.DataFrame(self.read())


def _check_row(row: dict, where: str) -> None:
    """A results line must hold every field of ``REQUIRED_FIELDS``, and settings and a config this
    version reads: what the tables, plots and resumes take from it."""
    missing = [k for k in REQUIRED_FIELDS if k not in row]
    if missing:
        raise ValueError(f"{where} lacks field(s) {', '.join(missing)}; the file is damaged: fix or remove that line")
    if not isinstance(row["trial_id"], str) or not isinstance(row["settings"], dict):
        raise ValueError(f"{where}: trial_id must be a string and settings a dict; the file is damaged")
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(row["settings"]) - known)
    if unknown:
        raise ValueError(f"{where} has settings field(s) {unknown} that this version does not know (written by a "
                         f"newer one?); write new results to another folder")
    try:
        Settings.from_dict(row["settings"])
        ModelConfig.from_dict(row["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc if not isinstance(exc, KeyError) else f'settings lack {exc}'}; "
                         f"the file is damaged: fix or remove that line") from None


def load_results(sweep: str, folder: "str | Path | None" = None):
    """A sweep's committed (or your own) results as a pandas DataFrame in plan order.

    ``folder`` defaults to ``runtime.results_dir()`` (EFFNET_LAB_RESULTS, else the repository's
    ``results/``). Adds ``mmacs`` (MACs / 1e6), ``kparams``, ``seeds_n`` and ``budget_x`` (MACs over
    the base model's, measured, not the target).
    """
    if sweep not in SWEEPS:
        raise ValueError(f"unknown sweep {sweep!r}; valid sweeps: {', '.join(SWEEPS)}")
    folder = Path(folder) if folder is not None else results_dir()
    path = results_path(folder, sweep)
    if not path.exists():
        raise FileNotFoundError(f"no results for {sweep!r} at {str(path)!r}; run "
                                f"`python -m effnet_lab sweep {sweep} --out {folder}` to make them")
    table = ResultsStore(path).table()
    if table.empty:
        raise ValueError(f"{str(path)!r} holds no trials yet")
    settings = Settings.from_dict(table.settings.iloc[0])
    classes = recorded_classes(table)
    # a file that grew holds lines of several plans: their trials in the order of the first plan, then the next
    order: list[str] = []
    for stored in dict.fromkeys(json.dumps(d, sort_keys=True) for d in table.settings):
        order += [t.trial_id for t in plan(sweep, Settings.from_dict(json.loads(stored)), num_classes=classes)
                  if t.trial_id not in order]
    table["order"] = [order.index(t) if t in order else len(order) for t in table.trial_id]
    table = table.sort_values("order").drop(columns="order").set_index("trial_id", drop=False)
    base_macs = analytic_cost(settings.base, num_classes=classes).macs
    table["mmacs"] = table.macs / 1e6
    table["kparams"] = table.params / 1e3
    table["seeds_n"] = table.seeds.map(len)
    table["budget_x"] = table.macs / base_macs
    return table


def recorded_classes(table) -> int:
    """The class count a results table was trained with: its ``num_classes`` column. Lines written
    before it was recorded (the committed results: CIFAR-10 and Imagenette, 10 classes each) are
    matched by the first row's parameter count, which the classifier's size fixes."""
    if "num_classes" in table and table.num_classes.notna().all():
        return int(table.num_classes.iloc[0])
    first = ModelConfig.from_dict(table.config.iloc[0])
    for n in (10, 100, 1000):
        if analytic_cost(first, num_classes=n).params == table.params.iloc[0]:
            return n
    raise ValueError(f"results lines without num_classes whose parameter count ({table.params.iloc[0]:,}) matches "
                     f"no 10, 100 or 1000 classes; add \"num_classes\" to each line")


def results_path(out_dir: "str | Path", sweep: str) -> Path:
    names = {"imagenette-resolution": "imagenette_resolution.jsonl"}
    return Path(out_dir) / names.get(sweep, sweep.replace("-", "_") + ".jsonl")


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


# The settings that decide how a network is trained and tested (the grid's tolerance, say, does not).
TRAINING_SETTINGS = ("data", "per_class", "test_per_class", "epochs", "batch_size", "warmup_epochs") + RECIPE_FIELDS + (
    "seeds",)
# With the base, they also fix what a trial id means ("width-x2" of another base is another network).
# The rest (budgets, tolerance, max_candidates, variants, resolutions) only choose which trials a plan
# holds, so one results file can grow: a sweep re-run with more budgets or grid candidates trains
# the new trials and keeps the old lines.
TRIAL_SETTINGS = TRAINING_SETTINGS + ("base",)


def trial_settings(settings: "Settings | dict") -> dict:
    """The part of ``settings`` (a ``Settings`` or a results line's ``settings``) that every line of
    one results file must share: ``TRIAL_SETTINGS``."""
    d = settings.to_dict() if isinstance(settings, Settings) else {**SETTINGS_BEFORE, **settings}
    return {k: d.get(k) for k in TRIAL_SETTINGS}


def trained_networks(out_dir: "str | Path", settings: Settings) -> dict[tuple, tuple[str, dict]]:
    """Networks already trained in ``out_dir`` (any sweep) with the same data, training and seeds:
    ``{network_key: ("file#trial_id", row)}``. A trial whose network is among them is not trained
    again (the published B1 and the phi formula often round to one network; ``formula-vs-official``'s
    b0 is ``single-vs-compound``'s base): same network, same seeds, same images give the same
    experiment (bit for bit on a CPU), so a re-run would only spend time."""
    wanted = {k: settings.to_dict()[k] for k in TRAINING_SETTINGS}
    recorded = lambda row: {**SETTINGS_BEFORE, **row.get("settings", {})}  # noqa: E731
    found: dict[tuple, tuple[str, dict]] = {}
    for sweep in SWEEPS:
        path = results_path(out_dir, sweep)
        try:
            rows = ResultsStore(path).read()
        except ValueError as exc:  # refused when its own sweep runs; here only its networks are not reused
            warnings.warn(f"not reusing networks from {path}: {exc}", stacklevel=2)
            continue
        for row in rows:
            if row.get("reused_from") or {k: recorded(row).get(k) for k in TRAINING_SETTINGS} != wanted:
                continue
            key = ModelConfig.from_dict(row["config"]).network_key
            found.setdefault(key, (f"{path.name}#{row['trial_id']}", row))
    return found


def settings_digest(settings: Settings) -> str:
    """A short digest of ``trial_settings(settings)``: work in progress trained with other settings is
    never resumed (a trial's work survives a change of the plan, such as more budgets)."""
    import hashlib

    return hashlib.sha256(json.dumps(trial_settings(settings), sort_keys=True).encode()).hexdigest()[:12]


def sweep_data(settings: Settings):
    """The (train, test) images a sweep's trials train and test on: the seeded class-balanced subsets
    its settings name. The driver and every worker compute the same ones from the data's cache."""
    from .data import load_pair

    train, test = load_pair(settings.data)
    if settings.per_class > min(train.counts()):  # fewer images than asked would train, recorded as asked
        raise ValueError(f"per_class must be <= {min(train.counts())} (the smallest class of {settings.data}), "
                         f"got {settings.per_class}")
    if settings.per_class < min(train.counts()):
        train = train.subset(settings.per_class, seed=0)
    if settings.test_per_class is not None and settings.test_per_class < min(test.counts()):
        test = test.subset(settings.test_per_class, seed=0)
    return train, test


def train_trial(trial: Trial, settings: Settings, stem: "str | Path", device=None, channels_last: bool | None = None,
                keep_model: bool = False, data=None, log: Callable[[str], None] = print) -> dict:
    """Train ``trial`` with every seed of ``settings`` and test it: what a results line measures, with
    the ``device``, ``torch`` and ``channels_last`` it ran with. Runs in the sweep's process or on a
    worker (``runners``); it writes only work in progress, beside ``stem`` (``OUT/.partial/`` or the
    ``--storage`` folder): each seed's checkpoint after every epoch, then its result (and with
    ``keep_model`` seed 0's model, which the driver moves to ``OUT/checkpoints/``). A run that stopped
    (an interrupt, a killed worker) resumes from there, losing at most the epoch under way, with the
    same numbers (on a CPU, bit for bit). ``data``: the (train, test) pair, else ``sweep_data``'s."""
    import torch

    from .model import EfficientNet
    from .runtime import atomic_save, device_name, pick_device
    from .train import evaluate, fit, uses_channels_last

    dev = pick_device(device)
    layout = uses_channels_last(dev, channels_last)
    train, test = data if data is not None else sweep_data(settings)
    stem = Path(stem)
    measured = []
    for seed in settings.seeds:
        finished = stem.with_name(f"{stem.name}-seed{seed}.json")
        if finished.exists():
            try:
                result = json.loads(finished.read_text())
                measured.append({k: float(result[k]) for k in ("accuracy", "seconds", "images_per_second")})
                continue
            except (ValueError, KeyError, TypeError):  # damaged by hand: that seed is trained again
                log(f"{trial.trial_id}: {finished.name} is damaged; training seed {seed} again")
        partial = stem.with_name(f"{stem.name}-seed{seed}.pt")
        if partial.exists():
            log(f"{trial.trial_id}: resuming seed {seed} from {partial.name}")
        torch.manual_seed(seed)
        model = EfficientNet(trial.config, num_classes=len(train.classes))
        history = fit(model, train, None, settings.epochs, batch_size=settings.batch_size, seed=seed,
                      warmup_epochs=settings.warmup_epochs, device=dev, progress=False, checkpoint=partial,
                      channels_last=layout, **{k: getattr(settings, k) for k in RECIPE_FIELDS})
        result = {"accuracy": evaluate(model, test, device=dev, tta=settings.tta)["accuracy"],
                  "seconds": sum(e.seconds for e in history.epochs),
                  "images_per_second": statistics.mean(e.images_per_second for e in history.epochs)}
        if keep_model and seed == settings.seeds[0]:
            atomic_save({"model": model.cpu().state_dict(), "config": trial.config.to_dict(),
                         "classes": train.classes, "resolution": trial.config.to_dict()["resolution"],
                         "accuracy": result["accuracy"]}, stem.with_name(f"{stem.name}-model.pt"))
        atomic_write_text(finished, json.dumps(result))
        partial.unlink(missing_ok=True)
        measured.append(result)
    accuracies = [m["accuracy"] for m in measured]
    return {"measured": {"accuracies": accuracies, "accuracy_mean": statistics.mean(accuracies),
                         "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                         "train_seconds": sum(m["seconds"] for m in measured),
                         "images_per_second": statistics.mean(m["images_per_second"] for m in measured)},
            "device": device_name(dev), "torch": torch.__version__, "channels_last": layout}


def run_sweep(sweep: str, out_dir: "str | Path", settings: Settings | None = None, device=None,
              log: Callable[[str], None] = print, checkpoint_dir: "str | Path | None" = None,
              channels_last: bool | None = None, workers: int | None = None, address: str | None = None,
              gpus_per_trial: float | None = None, storage: "str | Path | None" = None) -> list[dict]:
    """Train every trial of ``sweep`` not yet in ``out_dir``'s results file; return all rows.

    Without ``workers`` or ``address`` the trials train here, one after another. ``workers=N`` trains
    up to N at once on a local Ray instance started for the run, ``address`` on an existing Ray
    cluster (``runners.RayRunner``; ``gpus_per_trial`` lets several trials share a GPU). Either way
    this process alone writes the results file: a worker hands back what it measured, and the line is
    appended (atomically) as its trial finishes. Work in progress lives in ``storage``'s
    ``.partial/`` (default ``out_dir``; on a cluster, a folder every node sees), so a retried or
    re-run trial resumes where it stopped. A trial whose network was already trained in
    ``out_dir`` with the same training settings (see ``trained_networks``) is recorded from that
    result, with ``reused_from`` naming it and ``train_seconds`` 0, instead of being trained again
    (trials that build one network wait for the first of them). ``channels_last`` goes to ``fit``
    (None: its default) and is recorded in each line: like the device, it changes the arithmetic,
    not the experiment. ``checkpoint_dir``: where seed 0's model of each trained trial is kept.
    One sweep command per folder at a time: parallelism comes from ``workers``, not from a second run.
    """
    import functools
    import shutil

    from .runners import InProcess, RayRunner
    from .runtime import pick_device, provenance

    if sweep not in SWEEPS:
        raise ValueError(f"unknown sweep {sweep!r}; valid sweeps: {', '.join(SWEEPS)}")
    settings = settings or default_settings(sweep)
    parallel = workers is not None or address is not None
    runner = RayRunner(workers, address, gpus_per_trial, device) if parallel else InProcess()
    dev = pick_device(device) if not parallel else None  # a worker picks its own (its node's GPU)
    # the code that runs is the code at the start: a commit made while a long sweep runs is not it
    origin = {k: v for k, v in provenance(dev or "cpu").items() if k not in ("device", "torch")}
    store = ResultsStore(results_path(out_dir, sweep))
    done = {}
    wanted = trial_settings(settings)
    for row in store.read():
        theirs = trial_settings(row.get("settings", {}))
        if theirs != wanted:
            differ = "; ".join(f"{k} {theirs[k]!r} (this run: {wanted[k]!r})" for k in TRIAL_SETTINGS
                               if theirs[k] != wanted[k])
            raise ValueError(f"{store.path} holds trials trained with other settings (trial {row['trial_id']}: "
                             f"{differ}); finish them with the same settings or write to another folder")
        done[row["trial_id"]] = row
    train, test = sweep_data(settings)
    classes = len(train.classes)
    trials = plan(sweep, settings, num_classes=classes)
    base_macs = analytic_cost(settings.base, num_classes=classes).macs
    with runner:  # a local Ray instance starts here (it takes seconds): after the checks above
        others = len(set(done) - {t.trial_id for t in trials})
        where = f"device {dev}" if dev is not None else runner.describe()
        log(f"{sweep}: {len(trials)} trials x {len(settings.seeds)} seeds on {len(train)} training images "
            f"({settings.data}), {len(done) - others} already done, {where}"
            + (f"; the file also holds {others} trials outside this plan (kept)" if others else ""))
        for t in trials:
            ratio = analytic_cost(t.config, num_classes=classes).macs / base_macs / (t.budget or 1.0)
            if t.budget and abs(ratio - 1) > 0.05:
                log(f"note: {t.trial_id} costs {ratio * t.budget:.2f}x the base, not {t.budget:g}x: the nearest "
                    f"its channel, layer and pixel rounding allows")
        prefix = {t.trial_id: f"[{n}/{len(trials)}] " for n, t in enumerate(trials, start=1)}
        number = {t: p + t for t, p in prefix.items()}
        # work in progress is named by the trial and a digest of the settings: other settings never resume it
        partial = Path(storage if storage is not None else out_dir) / ".partial"
        stem = lambda t: partial / f"{sweep}-{t.trial_id}-{settings_digest(settings)}"  # noqa: E731
        queue = [t for t in trials if t.trial_id not in done]
        training: dict[tuple, Trial] = {}  # network -> the trial training it
        while queue or training:
            known = trained_networks(out_dir, settings)
            for trial in list(queue):  # in plan order
                key = trial.config.network_key
                if key in training:  # a twin: recorded from it once it is done
                    continue
                cost = analytic_cost(trial.config, num_classes=classes)
                if key in known:
                    reused_from, src = known[key]
                    row = _row(sweep, trial, cost, base_macs, settings, train, test, origin,
                               {**{k: src[k] for k in ("accuracies", "accuracy_mean", "accuracy_std",
                                                       "images_per_second")},
                                "train_seconds": 0.0, "reused_from": reused_from})
                    # where and how the accuracies were measured
                    row.update(device=src["device"], torch=src["torch"], channels_last=src.get("channels_last"))
                    store.append(row)
                    queue.remove(trial)
                    log(f"{number[trial.trial_id]}: the same network as {reused_from}, not trained again "
                        f"(accuracy {row['accuracy_mean']:.3f})")
                    continue
                if not runner.has_room():
                    break
                queue.remove(trial)
                training[key] = trial
                job = functools.partial(train_trial, trial, settings, stem(trial), device, channels_last,
                                        checkpoint_dir is not None)
                if parallel:
                    runner.submit(key, job)
                    log(f"{number[trial.trial_id]}: started")
                else:  # the data already loaded, messages to this log
                    runner.submit(key, functools.partial(job, data=(train, test), log=lambda m, n=prefix[trial.trial_id]:
                                                         log(n + m)))
            if not training:
                continue
            key, result = runner.finished()
            trial = training.pop(key)
            cost = analytic_cost(trial.config, num_classes=classes)
            row = _row(sweep, trial, cost, base_macs, settings, train, test, origin, result["measured"])
            row.update(device=result["device"], torch=result["torch"], channels_last=result["channels_last"])
            model = stem(trial).with_name(f"{stem(trial).name}-model.pt")
            if checkpoint_dir is not None and model.exists():  # before the line: a crash between keeps both
                target = Path(checkpoint_dir) / f"{sweep}-{trial.trial_id}.pt"
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(model, tmp)  # the storage folder may be another filesystem
                os.replace(tmp, target)
            store.append(row)
            for seed in settings.seeds:
                stem(trial).with_name(f"{stem(trial).name}-seed{seed}.json").unlink(missing_ok=True)
            model.unlink(missing_ok=True)
            log(f"{number[trial.trial_id]}: {cost.macs / 1e6:.1f} MMACs, accuracy {row['accuracy_mean']:.3f} "
                f"+- {row['accuracy_std']:.3f} ({row['train_seconds']:.0f} s)")
    return store.read()


def _row(sweep, trial, cost, base_macs, settings, train, test, origin: dict, measured: dict) -> dict:
    """One results line: the trial's plan and cost, ``measured`` (accuracies, time), ``origin``
    (``runtime.provenance`` at the sweep's start) with the date the trial finished."""
    from .runtime import utc_now

    finished = utc_now()
    return {
        "schema": SCHEMA, "sweep": sweep, "trial_id": trial.trial_id, "rule": trial.rule,
        "alpha": trial.alpha, "beta": trial.beta, "gamma": trial.gamma, "phi": trial.phi,
        "width_mult": trial.config.width_mult, "depth_mult": trial.config.depth_mult,
        "resolution": trial.config.to_dict()["resolution"], "macs": cost.macs, "params": cost.params,
        "budget": trial.budget, "budget_ratio": cost.macs / (trial.budget * base_macs) if trial.budget else None,
        "seeds": list(settings.seeds), **measured, "n_train": len(train), "n_test": len(test),
        "num_classes": len(train.classes),
        "config": trial.config.to_dict(), "settings": settings.to_dict(), "extra": trial.extra, **origin, "date": finished,
    }
