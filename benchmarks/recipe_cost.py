"""What the training recipe costs in time: the sweeps' base trial before and after, side by side.

    python benchmarks/recipe_cost.py [--repeats 3] [--threads 1]

One epoch of single-vs-compound's base network on its 3,000 training images, then one evaluation of
the 2,000 test images, timed for the sweeps' old setting (batch 128, no TTA) and the new one
(batch 64, zero_init, mirror TTA), interleaved, ``--repeats`` times each; prints the medians and
their ratio. A trial is 30 such epochs and one such evaluation per seed, so the printed "trial"
line is the per-trial ratio. Run it on an otherwise idle CPU for figures to quote.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from effnet_lab import experiments, train
from effnet_lab.data import load_pair
from effnet_lab.model import EfficientNet

SETTINGS = {
    "before (batch 128)": dict(batch_size=128, zero_init=False, tta=False),
    "recipe (batch 64, zero_init, TTA)": dict(batch_size=64, zero_init=True, tta=True),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    settings = experiments.default_settings("single-vs-compound")
    trainset, test = load_pair(settings.data)
    trainset = trainset.subset(settings.per_class, seed=0)
    times: dict[str, dict[str, list[float]]] = {k: {"epoch": [], "eval": []} for k in SETTINGS}
    for _ in range(args.repeats):
        for name, options in SETTINGS.items():
            model = EfficientNet(settings.base, num_classes=10)
            history = train.fit(model, trainset, None, 1, batch_size=options["batch_size"], warmup_epochs=0.0,
                                zero_init=options["zero_init"], tta=options["tta"], channels_last=True,
                                progress=False)
            times[name]["epoch"].append(history.final.seconds)
            began = time.perf_counter()
            train.evaluate(model, test, tta=options["tta"])
            times[name]["eval"].append(time.perf_counter() - began)
    medians = {k: {part: statistics.median(v) for part, v in t.items()} for k, t in times.items()}
    before, after = (medians[k] for k in SETTINGS)
    for name, m in medians.items():
        print(f"{name:36s} epoch {m['epoch']:.2f} s, evaluation {m['eval']:.2f} s (medians of {args.repeats})")
    trial = lambda m: settings.epochs * m["epoch"] + m["eval"]  # noqa: E731
    print(f"epoch ratio (recipe / before): {after['epoch'] / before['epoch']:.3f}; "
          f"trial ratio ({settings.epochs} epochs + 1 evaluation): {trial(after) / trial(before):.3f}")


if __name__ == "__main__":
    main()
