"""The compound-scaling explorer's figure, kernel side: a blitted redraw against a full one, side by side.

    python benchmarks/explorer_redraw.py [--changes N] [--dpi D]

A slider change costs the kernel three things before the browser gets a picture: the state
(``states.scaling_state``), moving the figure's artists (``ScalingDashboard.update``) and the JPEG
(``LiveFigure.jpeg``). When no axis limit moves (a drag of phi, the published toggle), ``jpeg``
repaints the saved background and draws only the moving bars, labels and marker; a drag of alpha,
beta or gamma draws the curves too, and the whole figure where a limit moves. This times,
interleaved (A B C A B C ...) over the same states:

- **explorer**: the explorer's path (update, then ``jpeg``: a blit, or a full draw where a limit moved
  or the set of moving artists changed);
- **full**: the same update with a full draw forced (what every change would cost without blitting);
- **new figure**: a new dashboard drawn from scratch for each state (no figure kept at all),

over two drags: phi across its slider, and alpha from the paper's 1.2 in the slider's steps (at phi
= 1), which moves the curves and, now and then, a limit. It prints each median and mean in ms, how
often the explorer's path drew the whole figure, and the ratios; the states' own cost apart. The browser adds
messaging, decoding and painting on top (``pytest -s tests/test_browser.py`` prints the whole delay).
A benchmark, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from effnet_lab.lessons import dashboards, states  # noqa: E402
from effnet_lab.lessons.explorers import DPI, CompoundScalingExplorer  # noqa: E402
from effnet_lab.lessons.style import STYLE  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=40, help="states of each drag timed per variant (default 40)")
    parser.add_argument("--dpi", type=int, default=DPI, help=f"pixels per inch of the JPEG (default {DPI}: the explorer's)")
    args = parser.parse_args()
    if args.changes < 2 or args.dpi < 10:
        parser.error(f"--changes must be >= 2 and --dpi >= 10, got {args.changes} and {args.dpi}")
    import matplotlib.pyplot as plt

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"matplotlib {matplotlib.__version__}, dpi {args.dpi}")
    step = (states.PHI_MAX - states.PHI_MIN) / args.changes
    drags = {"phi": [dict(phi=round(states.PHI_MIN + step * (i + 0.5), 3)) for i in range(args.changes)],
             # alpha in the slider's steps of 0.01 from the paper's 1.2, at phi = 1
             "alpha": [dict(alpha=round(1.2 + 0.01 * (i + 1), 2), phi=1.0) for i in range(args.changes)]}
    size = CompoundScalingExplorer.figsize
    for drag_name, changes in drags.items():
        state_ms, drag = [], []
        for change in changes:
            t = time.perf_counter()
            drag.append(states.scaling_state(**change))
            state_ms.append(1000 * (time.perf_counter() - t))
        with plt.rc_context(STYLE):
            first = states.scaling_state(phi=1.0) if drag_name == "alpha" else drag[0]
            kept = {name: dashboards.ScalingDashboard(Figure(figsize=size), first, title=False) for name in ("blit", "full")}
            for live in kept.values():
                live.jpeg(args.dpi)

            def blit(state):
                kept["blit"].update(state)
                return kept["blit"].jpeg(args.dpi)

            def full(state):
                kept["full"].update(state)
                kept["full"].redraw_all = True
                return kept["full"].jpeg(args.dpi)

            def new_figure(state):
                return dashboards.ScalingDashboard(Figure(figsize=size), state, title=False).jpeg(args.dpi)

            variants = {"blit": blit, "full": full, "new figure": new_figure}
            ms = {name: [] for name in variants}
            sizes, full_draws = {}, 0
            for state in drag:
                for name, redraw in variants.items():
                    key = getattr(kept["blit"], "_key", None)
                    t = time.perf_counter()
                    sizes[name] = len(redraw(state))
                    ms[name].append(1000 * (time.perf_counter() - t))
                    full_draws += name == "blit" and kept["blit"]._key != key
        median = {name: statistics.median(values) for name, values in ms.items()}
        print(f"\na drag of {drag_name}: {len(drag)} states; the state (scaling_state) median "
              f"{statistics.median(state_ms):.2f} ms; the explorer's path drew the whole figure {full_draws} times")
        for name in variants:
            label = "explorer" if name == "blit" else name
            print(f"{label:<11} median {median[name]:7.1f} ms  mean {statistics.mean(ms[name]):7.1f} ms  "
                  f"(min {min(ms[name]):.1f}, max {max(ms[name]):.1f}; JPEG {sizes[name] / 1000:.0f} kB)")
        print(f"full / explorer: {median['full'] / median['blit']:.1f}x; new figure / explorer: "
              f"{median['new figure'] / median['blit']:.1f}x (medians)")

if __name__ == "__main__":
    main()
