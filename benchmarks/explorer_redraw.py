"""The compound-scaling explorer's figure, kernel side: a blitted redraw against a full one, side by side.

    python benchmarks/explorer_redraw.py [--changes N] [--dpi D]

A slider change costs the kernel three things before the browser gets a picture: the state
(``states.scaling_state``), moving the figure's artists (``ScalingDashboard.update``) and the JPEG
(``LiveFigure.jpeg``). When no axis limit moves (a drag of phi, the published toggle), ``jpeg``
repaints the saved background and draws only the moving bars, labels and marker; when alpha, beta or
gamma move, the curves and limits change and the whole figure is drawn. This times, interleaved
(A B C A B C ...) over the same states:

- **blit**: the explorer's path for a phi drag (update, then ``jpeg``);
- **full**: the same update with a full draw forced (what every change would cost without blitting,
  and what an alpha, beta or gamma change costs);
- **new figure**: a new dashboard drawn from scratch for each state (no figure kept at all).

It prints each median in ms and the ratios; the states' own cost is printed apart. The browser adds
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

from effnet_lab.lessons import figures, states  # noqa: E402
from effnet_lab.lessons.explorers import DPI, CompoundScalingExplorer  # noqa: E402
from effnet_lab.lessons.style import STYLE  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=40, help="states of a phi drag timed per variant (default 40)")
    parser.add_argument("--dpi", type=int, default=DPI, help=f"pixels per inch of the JPEG (default {DPI}: the explorer's)")
    args = parser.parse_args()
    if args.changes < 2 or args.dpi < 10:
        parser.error(f"--changes must be >= 2 and --dpi >= 10, got {args.changes} and {args.dpi}")
    import matplotlib.pyplot as plt

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"matplotlib {matplotlib.__version__}, dpi {args.dpi}")
    step = (states.PHI_MAX - states.PHI_MIN) / args.changes
    phis = [round(states.PHI_MIN + step * (i + 0.5), 3) for i in range(args.changes)]
    drag, state_ms = [], []
    for phi in phis:
        t = time.perf_counter()
        drag.append(states.scaling_state(phi=phi))
        state_ms.append(1000 * (time.perf_counter() - t))
    size = CompoundScalingExplorer.figsize
    with plt.rc_context(STYLE):
        kept = figures.ScalingDashboard(Figure(figsize=size), drag[0], title=False)
        kept.jpeg(args.dpi)

        def blit(state):
            kept.update(state)
            return kept.jpeg(args.dpi)

        def full(state):
            kept.update(state)
            kept.redraw_all = True
            return kept.jpeg(args.dpi)

        def new_figure(state):
            return figures.ScalingDashboard(Figure(figsize=size), state, title=False).jpeg(args.dpi)

        variants = {"blit": blit, "full": full, "new figure": new_figure}
        ms = {name: [] for name in variants}
        sizes = {}
        for state in drag:
            for name, redraw in variants.items():
                t = time.perf_counter()
                sizes[name] = len(redraw(state))
                ms[name].append(1000 * (time.perf_counter() - t))
    median = {name: statistics.median(values) for name, values in ms.items()}
    print(f"state (scaling_state): median {statistics.median(state_ms):.2f} ms, {len(drag)} states of a phi drag")
    for name in variants:
        print(f"{name:<11} median {median[name]:7.1f} ms  (min {min(ms[name]):.1f}, max {max(ms[name]):.1f}; "
              f"JPEG {sizes[name] / 1000:.0f} kB)")
    print(f"full / blit: {median['full'] / median['blit']:.1f}x; new figure / blit: "
          f"{median['new figure'] / median['blit']:.1f}x")


if __name__ == "__main__":
    main()
