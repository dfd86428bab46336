"""The search objective behind B0 (MnasNet's, with FLOPs in place of latency) and Pareto fronts.

B0 was found by maximising ACC(m) * (FLOPS(m) / T)^w with T = 400M and w = -0.07, where the
paper's "FLOPS" are multiply-adds: pass MACs for both ``macs`` and ``target``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .checks import check_finite

if TYPE_CHECKING:
    import pandas as pd

TARGET_MACS = 400e6
W_SOFT = -0.07


def _check(accuracy, macs, target):
    acc, cost = np.asarray(accuracy, dtype=float), np.asarray(macs, dtype=float)
    if not (np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()):
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {accuracy!r}")
    if not (np.isfinite(cost).all() and (cost > 0).all()):
        raise ValueError(f"macs must be finite and > 0 (multiply-adds), got {macs!r}")
    check_finite("target", target, positive=True)
    return acc, cost


def check_w(w: float) -> float:
    w = check_finite("w", w)
    if w > 0:  # a sign slip, not a search: the objective would then reward cost
        raise ValueError(f"w must be <= 0 (the exponent of the cost penalty), got {w:g}: with w > 0, "
                         f"ACC * (MACs / T)^w rewards cost, a bigger model scoring higher at equal accuracy; "
                         f"the paper's w is {W_SOFT}")
    return w


def objective(accuracy, macs, target: float = TARGET_MACS, w: float = W_SOFT):
    """Soft constraint: ACC * (MACs / T)^w. With w = -0.07, twice the MACs must buy ~5 % more accuracy
    (relative) to score the same: 2^0.07 = 1.0497. Works on numbers or arrays; w > 0 is refused."""
    acc, cost = _check(accuracy, macs, target)
    check_w(w)
    result = acc * (cost / target) ** w
    return float(result) if result.ndim == 0 else result


def hard_objective(accuracy, macs, target: float = TARGET_MACS):
    """MnasNet's hard constraint: exponent 0 while MACs <= T (accuracy alone counts), -1 above
    (every extra multiply-add is paid for in full)."""
    acc, cost = _check(accuracy, macs, target)
    result = acc * np.where(cost <= target, 1.0, (cost / target) ** -1.0)
    return float(result) if result.ndim == 0 else result


def pareto_front(table: "pd.DataFrame", cost: str = "macs", score: str = "accuracy_mean") -> "pd.DataFrame":
    """Rows no other row beats on both counts (lower ``cost`` and higher ``score``), by cost."""
    for column in (cost, score):
        if column not in table.columns:
            raise ValueError(f"column {column!r} is not in the table; columns: {list(table.columns)}")
    ordered = table.sort_values([cost, score], ascending=[True, False])
    best, keep = -np.inf, []
    for index, value in zip(ordered.index, ordered[score]):
        if value > best:  # strictly better than everything cheaper
            keep.append(index)
            best = value
    return ordered.loc[keep]


# ---------------------------------------------------------------------------------------------
# A tiny random search over MBConv stage choices (lesson 07)
# ---------------------------------------------------------------------------------------------


