"""How large the seed spread of a sweep is, pooled over its trials, and what the issue's target asks.

    python scripts/seed_spread.py results/cpu-recipe results/cpu-recipe-10k results/cpu-recipe-60ep
    python scripts/seed_spread.py results/cpu-recipe --target 1.5 --sweep single-vs-compound

For each folder: every trial's sample standard deviation over its seeds, the pooled one (the root
of the mean variance: every trial has the same number of seeds), and, if every trial's networks
had that pooled spread, the chance that all of the trials' sample spreads come out at or under
``--target`` points. Seed accuracies are treated as normal, so a sample variance over n seeds is
sigma^2 chi^2(n-1) / (n-1); the chi-square distribution function has a closed form for even n-1
(odd seed counts), the only case handled. Last, the spread at which that chance would be 80 %.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from effnet_lab.store import ResultsStore, results_path  # noqa: E402


def chance_under(target: float, sigma: float, seeds: int) -> float:
    """P(sample std over ``seeds`` normal draws of spread ``sigma`` <= ``target``)."""
    dof = seeds - 1
    if dof < 2 or dof % 2:
        raise ValueError(f"only odd seed counts >= 3 have the closed form used here, got {seeds}")
    half = dof * target**2 / sigma**2 / 2  # P(chi2(dof) <= x), x / 2
    return 1 - math.exp(-half) * sum(half**j / math.factorial(j) for j in range(dof // 2))


def spread_for(chance: float, target: float, seeds: int, trials: int) -> float:
    """The common spread at which all ``trials`` come out at or under ``target`` with ``chance``."""
    lo, hi = 1e-3, 10.0
    for _ in range(100):  # bisection: the chance falls as the spread grows
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if chance_under(target, mid, seeds) ** trials > chance else (lo, mid)
    return lo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--sweep", default="single-vs-compound")
    p.add_argument("--target", type=float, default=1.5, help="points (default %(default)s)")
    args = p.parse_args()
    if not args.target > 0:
        p.error(f"--target must be > 0 points, got {args.target}")
    for folder in args.folders:
        path = results_path(folder, args.sweep)
        if not path.is_file():
            p.error(f"{path} does not exist")
        rows = [r for r in ResultsStore(path).read() if not r.get("reused_from")]
        stds = {r["trial_id"]: 100 * statistics.stdev(r["accuracies"]) for r in rows}
        seeds = {len(r["accuracies"]) for r in rows}
        if len(seeds) != 1:
            p.error(f"{path}: trials with different seed counts ({sorted(seeds)}) do not pool")
        n = seeds.pop()
        pooled = math.sqrt(statistics.mean(s**2 for s in stds.values()))
        all_under = chance_under(args.target, pooled, n) ** len(stds)
        over = [f"{t} {s:.1f}" for t, s in stds.items() if s > args.target]
        print(f"{folder}: {len(stds)} trials x {n} seeds; pooled seed std {pooled:.2f} points; "
              f"over {args.target:g}: {', '.join(over) or 'none'}")
        print(f"  if every trial's spread were {pooled:.2f}: chance that all {len(stds)} come out <= {args.target:g} "
              f"is {100 * all_under:.0f} %; an 80 % chance needs a spread of "
              f"{spread_for(0.8, args.target, n, len(stds)):.2f} points")


if __name__ == "__main__":
    main()
