"""The training-recipe ablation: each change alone on the sweeps' base setting, three seeds.

    python scripts/recipe_ablation.py --out results/recipe_ablation [--worker 1/2] [--variants NAME ...]
    python scripts/recipe_ablation.py --out results/recipe_ablation --collect   # -> results/recipe_ablation.jsonl

The setting is single-vs-compound's base network and data (``experiments.default_settings``:
300 CIFAR-10 images per class, 30 epochs of batch 128, 2 warm-up epochs, the full 2,000-image
test split), one CPU thread per process, NHWC. A variant changes one training option of ``fit``
(``VARIANTS``; the second round changes one option on top of zero-init). Every run also keeps a
weight average, so each trained network is evaluated eight ways (``EVALUATIONS``: its last weights
or their average, with or without recalibrated BatchNorm statistics, with or without mirror TTA):
those three change no training step, so they are measured on the very networks of each row rather
than on separately trained ones (the first round's runs predate the recalibration and have
four evaluations).

Each (variant, seed) run writes ``OUT/runs/VARIANT-seedS.json`` when done and keeps a checkpoint
per epoch in ``OUT/.partial/``: a re-run skips finished runs and resumes the one under way.
``--worker I/N`` takes every N-th run starting at the I-th, so N processes share the list.
``--collect`` gathers the finished runs into ``OUT.jsonl`` (one line each, sorted).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from effnet_lab import experiments, recipe, train, runtime
from effnet_lab.data import load_pair
from effnet_lab.loader import DeviceLoader
from effnet_lab.runtime import atomic_write_text
from effnet_lab.model import EfficientNet

EMA_DECAY = 0.99
# name -> fit() options that differ from the baseline (today's defaults in the sweeps)
VARIANTS = {
    "baseline": {},
    "zero-init": {"zero_init": True},
    "lr-0.2": {"lr": 0.2},
    "lr-0.05": {"lr": 0.05},
    "linear-decay": {"schedule": "linear"},
    "no-label-smoothing": {"label_smoothing": 0.0},
    "batch-64": {"batch_size": 64},
    "weight-decay-5e-4": {"weight_decay": 5e-4},
    # round 2: each change on top of zero-init, the first round's clear gain
    "zi+weight-decay-5e-4": {"zero_init": True, "weight_decay": 5e-4},
    "zi+batch-64": {"zero_init": True, "batch_size": 64},
    "zi+lr-0.05": {"zero_init": True, "lr": 0.05},
    "zi+no-dropout-no-sd": {"zero_init": True, "config": {"dropout": 0.0, "stochastic_depth": 0.0}},
    "zi+linear-decay": {"zero_init": True, "schedule": "linear"},
}
EVALUATIONS = ("plain", "plain+tta", "plain+recal", "plain+recal+tta", "ema", "ema+tta", "ema+recal", "ema+recal+tta")


def run_one(name: str, options: dict, seed: int, out: Path) -> dict:
    settings = experiments.default_settings("single-vs-compound")
    trainset, test = load_pair(settings.data)
    trainset = trainset.subset(settings.per_class, seed=0)
    options = dict(options)
    config = settings.base.replace(**options.pop("config", {}))
    kwargs = {"batch_size": settings.batch_size, "warmup_epochs": settings.warmup_epochs, **options}
    partial = out / ".partial" / f"{name}-seed{seed}.pt"
    torch.manual_seed(seed)
    model = EfficientNet(config, num_classes=len(trainset.classes))
    began = time.perf_counter()
    history = train.fit(model, trainset, None, settings.epochs, seed=seed, ema=EMA_DECAY, channels_last=True,
                        checkpoint=partial, progress=False, **kwargs)
    wall = time.perf_counter() - began
    averaged = model  # fit hands back the weight average
    plain = EfficientNet(config, num_classes=len(trainset.classes))
    plain.load_state_dict(torch.load(partial, weights_only=True)["model"])
    plain = plain.to(memory_format=torch.channels_last)
    accuracy = {}
    for label, net in (("plain", plain), ("ema", averaged)):
        for recal in (False, True):
            if recal:  # as fit(recalibrate_bn=True) does after its last epoch
                net = copy.deepcopy(net)
                loader = DeviceLoader(trainset, kwargs["batch_size"], config.resolution, "cpu", train=True, seed=seed,
                                      channels_last=True)
                loader.set_epoch(settings.epochs)
                recipe.recalibrate_bn_(net, loader)
            for tta in (False, True):
                key = label + ("+recal" if recal else "") + ("+tta" if tta else "")
                accuracy[key] = train.evaluate(net, test, device="cpu", tta=tta)["accuracy"]
    return {"variant": name, "options": VARIANTS[name], "seed": seed, "ema_decay": EMA_DECAY, "accuracy": accuracy,
            "train_seconds": sum(e.seconds for e in history.epochs), "wall_seconds_this_run": wall,
            "train_loss": [e.train_loss for e in history.epochs], "settings": settings.to_dict(),
            **runtime.provenance("cpu")}


def _cell(rows: list[dict], key: str) -> str:
    values = [100 * r["accuracy"][key] for r in rows]
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.1f}"


def table(rows: list[dict]) -> str:
    """The markdown table of results/README.md: a row per trained variant (its last weights, no TTA,
    its training time), then the evaluation-only changes measured on every run that has them."""
    lines = ["| change | test accuracy, % (3 seeds) | vs its reference | training s/run |", "|---|---|---|---|"]
    by_name = {name: [r for r in rows if r["variant"] == name] for name in VARIANTS}
    for name, mine in by_name.items():
        if not mine:
            continue
        reference = "baseline" if not name.startswith("zi+") else "zero-init"
        gap = ""
        if name not in ("baseline",) and by_name.get(reference):
            ours = statistics.mean(r["accuracy"]["plain"] for r in mine)
            theirs = statistics.mean(r["accuracy"]["plain"] for r in by_name[reference])
            gap = f"{100 * (ours - theirs):+.1f} (vs {reference})"
        seconds = statistics.mean(r["train_seconds"] for r in mine)
        lines.append(f"| {name} | {_cell(mine, 'plain')} | {gap} | {seconds:.0f} |")
    lines += ["", "| evaluated as | on the runs of | accuracy, % | the same runs, last weights, no TTA |",
              "|---|---|---|---|"]
    for key in EVALUATIONS[1:]:
        for name, mine in by_name.items():
            if mine and all(key in r["accuracy"] for r in mine) and name in ("baseline", "zero-init") + tuple(
                    n for n in VARIANTS if n.startswith("zi+")):
                lines.append(f"| {key} | {name} | {_cell(mine, key)} | {_cell(mine, 'plain')} |")
    return "\n".join(lines)


def collect(out: Path) -> Path:
    rows = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    order = list(VARIANTS)
    rows.sort(key=lambda r: (order.index(r["variant"]) if r["variant"] in order else len(order), r["seed"]))
    target = out.with_suffix(".jsonl")
    atomic_write_text(target, "".join(json.dumps(r) + "\n" for r in rows))
    print(table(rows))
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/recipe_ablation"))
    p.add_argument("--worker", default="1/1", metavar="I/N")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--collect", action="store_true")
    args = p.parse_args(argv)
    if args.collect:
        print(f"wrote {collect(args.out)}")
        return 0
    try:
        part, parts = (int(v) for v in args.worker.split("/"))
        assert 1 <= part <= parts
    except (ValueError, AssertionError):
        p.error(f"--worker must be I/N with 1 <= I <= N, got {args.worker!r}")
    torch.set_num_threads(args.threads)
    jobs = [(name, seed) for name in args.variants for seed in args.seeds][part - 1::parts]
    for name, seed in jobs:
        done = args.out / "runs" / f"{name}-seed{seed}.json"
        if done.exists():
            continue
        row = run_one(name, VARIANTS[name], seed, args.out)
        atomic_write_text(done, json.dumps(row) + "\n")
        (args.out / ".partial" / f"{name}-seed{seed}.pt").unlink(missing_ok=True)
        print(f"{name} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row["accuracy"].items())
              + f" ({row['train_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
