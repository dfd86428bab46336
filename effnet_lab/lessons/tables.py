"""Tables of the committed sweep results for lessons 05 and 06, computed from
``store.load_results`` and the cost model. Nothing here trains or reads a file by itself.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..checks import check_finite
from ..config import ModelConfig
from ..cost import analytic_cost, grid_cost

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd


SCALING_RULES = ("width", "depth", "resolution", "compound")


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
    if not rows:
        raise ValueError("the table holds no budget above 1x with both compound scaling and a single-dimension rule")
    return pd.DataFrame(rows).set_index("budget")


def gaps_with_error(accuracy: "pd.DataFrame", reference: str) -> "pd.DataFrame":
    """Trials with several seeds each, against one of them: is a gap a finding?

    ``accuracy`` has one column per trial and one row per seed (fractions; a trial may miss seeds).
    Per trial: its seeds, mean and std (%), the standard error of its mean (std / sqrt(seeds)), and
    its gap to ``reference`` (points) with two standard errors: ``se`` treats the two trials' seeds
    as independent (sqrt(se1² + se2²)); ``paired se`` uses the seeds both have (the spread of the
    per-seed differences / sqrt(n): a seed fixes the image order for both, so they may move
    together). ``gap / se`` above about 2 is a finding; the standard error falls as one over the
    square root of the seeds, while the std (what three seeds hide) does not."""
    import pandas as pd

    if reference not in accuracy.columns:
        raise ValueError(f"reference {reference!r} is not a column; the trials are {', '.join(map(str, accuracy.columns))}")
    pct = 100 * accuracy.astype(float)
    counts = pct.notna().sum()
    if (counts < 2).any():
        raise ValueError(f"every trial needs at least 2 seeds; {', '.join(map(str, counts[counts < 2].index))} "
                         f"{'has' if (counts < 2).sum() == 1 else 'have'} fewer")
    ref = pct[reference]
    rows = []
    for trial in pct.columns:
        x = pct[trial]
        se = x.std() / math.sqrt(x.count())
        row = {"trial": trial, "seeds": int(x.count()), "mean %": round(x.mean(), 2), "std": round(x.std(), 2),
               "se of mean": round(se, 2)}
        if trial != reference:
            gap = x.mean() - ref.mean()
            se_gap = math.hypot(se, ref.std() / math.sqrt(ref.count()))
            both = (x - ref).dropna()
            paired = both.std() / math.sqrt(len(both)) if len(both) >= 2 else float("nan")
            row.update({f"gap to {reference}": round(gap, 2), "se": round(se_gap, 2),
                        "paired se": round(paired, 2), "gap / se": round(gap / se_gap, 1)})
        rows.append(row)
    return pd.DataFrame(rows).set_index("trial")


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


def ranking(runs: "dict[str, pd.DataFrame]", budget: float) -> "pd.DataFrame":
    """The rules at one budget, ranked in each of several runs of single-vs-compound (say 30 and 60
    epochs): mean ± std (%) and rank (1 = most accurate) per run, one row per rule present in every
    run. A rank that changes by less than the noise between neighbours is not a change of ranking:
    the table shows the spreads so the reader can judge."""
    import pandas as pd

    check_finite("budget", budget, minimum=1)
    if not runs:
        raise ValueError("runs must name at least one results table")
    columns, present = {}, None
    for name, table in runs.items():
        at = table[(table.budget.astype(float).sub(budget).abs() < 1e-9) & table.rule.isin(SCALING_RULES)]
        at = at.set_index("rule")
        present = [r for r in (present if present is not None else SCALING_RULES) if r in at.index]
        columns[name] = at
    if not present:
        raise ValueError(f"no rule was trained at {budget:g}x in every run ({', '.join(runs)})")
    out = pd.DataFrame(index=pd.Index(present, name="rule"))
    for name, at in columns.items():
        mean, std = 100 * at.loc[present, "accuracy_mean"].astype(float), 100 * at.loc[present, "accuracy_std"].astype(float)
        out[f"{name} %"] = mean.round(1).to_numpy()
        out[f"{name} ±"] = std.round(1).to_numpy()
        out[f"{name} rank"] = mean.rank(ascending=False, method="min").astype(int).to_numpy()
    return out


def search_cost(candidates: "Sequence[tuple[float, float, float]]", base: ModelConfig, images: int, epochs: float,
                seeds: int = 3, num_classes: int = 1000) -> dict:
    """Training multiply-adds of a grid search: every candidate (alpha, beta, gamma) built at phi = 1
    on ``base`` and trained ``seeds`` times for ``epochs`` over ``images``. A training step costs
    about 3 forward passes (forward, and backward for activations and for weights); the factor
    cancels in every ratio."""
    import numpy as np

    a, b, g = (np.array([c[i] for c in candidates], dtype=float) for i in range(3))
    macs = grid_cost(a, b, g, 1.0, base=base, num_classes=num_classes)["macs"].astype(float)
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
