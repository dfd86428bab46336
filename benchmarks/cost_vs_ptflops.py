"""Closed-form counting (analytic_cost) vs ptflops on the same models, measured side by side.

    python benchmarks/cost_vs_ptflops.py [--repeats N]

Prints the median seconds per call of each, their ratio, and checks that the counts are identical.
A benchmark, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import torch

import effnet_lab as el


def median_seconds(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="ptflops calls per model (default 5)")
    parser.add_argument("--models", nargs="+", default=["b0", "b7"], choices=list(el.PUBLISHED))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, torch {torch.__version__}, torch threads {torch.get_num_threads()}")
    print(f"{'model':6} {'analytic (s)':>14} {'ptflops aten (s)':>17} {'ptflops pytorch (s)':>20} "
          f"{'aten/analytic':>14} {'pytorch/analytic':>17} counts")
    for name in args.models:
        config = el.official_config(name)
        model = el.efficientnet(config)
        cost = el.analytic_cost(config)
        aten = el.ptflops_cost(model, backend="aten")
        pytorch = el.ptflops_cost(model, backend="pytorch")
        same = aten.macs == cost.macs and pytorch.macs == cost.ptflops_pytorch_macs and aten.params == cost.params
        # interleave the three so that load changes hit all of them alike
        t_analytic, t_aten, t_pytorch = [], [], []
        for _ in range(args.repeats):
            # a fresh config each call, as a slider makes: the scaled table is derived anew
            t_analytic.append(median_seconds(lambda: el.analytic_cost(el.official_config(name)), 200))
            t_aten.append(median_seconds(lambda: el.ptflops_cost(model, backend="aten"), 1))
            t_pytorch.append(median_seconds(lambda: el.ptflops_cost(model, backend="pytorch"), 1))
        a, b, c = (statistics.median(t) for t in (t_analytic, t_aten, t_pytorch))
        print(f"{name:6} {a:14.6f} {b:17.3f} {c:20.3f} {b / a:13,.0f}x {c / a:16,.0f}x "
              f"{'identical' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit(f"{name}: analytic and ptflops counts differ")


if __name__ == "__main__":
    main()
