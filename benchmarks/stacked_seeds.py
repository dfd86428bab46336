"""The seeds of one trial trained one after another (``fit`` per seed) vs together (``fit_stacked``).

    python benchmarks/stacked_seeds.py [--device cuda] [--seeds 3] [--configs base compound-x4]
                                       [--images 1920] [--epochs 2] [--repeats 3] [--threads 1]

For each sweep network named (single-vs-compound's trial ids; default: the base and the largest)
it trains K = --seeds models on the same CIFAR images with the sweeps' training settings, once as K
``fit`` runs and once as one ``fit_stacked`` run, alternating (A B A B ...), and prints the median
wall time of each and their ratio. The first epoch is a warm-up (cuDNN autotuning, caches) and is
left out of the times. Synthetic images of CIFAR's shape are used when no CIFAR-10 is found (the
timing does not depend on the pixels). A benchmark, not a test: timings depend on the machine and
its load.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch

from effnet_lab import experiments as ex
from effnet_lab.data import ImageTensors
from effnet_lab.model import EfficientNet
from effnet_lab.runtime import device_name, pick_device
from effnet_lab.stacked import fit_stacked
from effnet_lab.train import fit


def images(n: int) -> ImageTensors:
    try:
        from effnet_lab.data import load_pair

        train, _ = load_pair("cifar10")
        return train.take(torch.arange(min(n, len(train))))
    except (FileNotFoundError, ValueError, RuntimeError):
        g = torch.Generator().manual_seed(0)
        return ImageTensors(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                            torch.arange(n) % 10, [str(c) for c in range(10)], "synthetic")


def run(cfg, train, seeds, epochs, device, stacked: bool) -> float:
    """Seconds of training after the first epoch, summed over the seeds (one run when stacked)."""
    settings = ex.default_settings("single-vs-compound")
    recipe = {k: getattr(settings, k) for k in ex.RECIPE_FIELDS if k != "tta"}
    common = dict(batch_size=settings.batch_size, warmup_epochs=min(settings.warmup_epochs, 1.0), device=device,
                  progress=False, **recipe)
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(EfficientNet(cfg, num_classes=10))
    if stacked:
        histories = fit_stacked(models, train, epochs, seeds=seeds, **common)
        return sum(e.seconds for e in histories[0].epochs[1:]) * len(seeds)
    return sum(sum(e.seconds for e in fit(m, train, None, epochs, seed=s, **common).epochs[1:])
               for m, s in zip(models, seeds))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default=None)
    p.add_argument("--seeds", type=int, default=3, help="models trained together (default %(default)s)")
    p.add_argument("--configs", nargs="+", default=["base", "compound-x4"], metavar="TRIAL")
    p.add_argument("--images", type=int, default=1920)
    p.add_argument("--epochs", type=int, default=2, help="the first is a warm-up (default %(default)s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = p.parse_args()
    for name, value, low in (("--seeds", args.seeds, 1), ("--images", args.images, 128), ("--epochs", args.epochs, 2),
                             ("--repeats", args.repeats, 1)):
        if value < low:
            p.error(f"{name} must be >= {low}, got {value}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    settings = ex.default_settings("single-vs-compound")
    trials = {t.trial_id: t for t in ex.plan("single-vs-compound", settings, num_classes=10)}
    unknown = [c for c in args.configs if c not in trials]
    if unknown:
        p.error(f"--configs: unknown trial(s) {', '.join(unknown)}; choose from {', '.join(trials)}")
    train = images(args.images)
    seeds = list(range(args.seeds))
    print(f"{device_name(device)}, torch {torch.__version__}, {platform.machine()}; {len(train)} images "
          f"({train.source}), {args.seeds} seeds, {args.epochs - 1} timed epoch(s), batch {settings.batch_size}")
    for name in args.configs:
        cfg = trials[name].config
        times = {False: [], True: []}
        for _ in range(args.repeats):
            for stacked in (False, True):
                times[stacked].append(run(cfg, train, seeds, args.epochs, device, stacked))
        one, together = statistics.median(times[False]), statistics.median(times[True])
        steps = (args.epochs - 1) * (len(train) // settings.batch_size) * args.seeds
        print(f"{name}: one after another {one:.2f} s, stacked {together:.2f} s ({steps} model-steps each): "
              f"stacked is {one / together:.2f}x as fast; per model-step {1e3 * one / steps:.1f} vs "
              f"{1e3 * together / steps:.1f} ms")


if __name__ == "__main__":
    main()
