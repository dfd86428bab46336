"""The training-recipe ablation: each change alone on the sweeps' base setting, three seeds.

    python scripts/recipe_ablation.py --out results/recipe_ablation [--worker 1/2] [--variants NAME ...]
    python scripts/recipe_ablation.py --out results/recipe_ablation --collect   # -> results/recipe_ablation.jsonl

The setting is single-vs-compound's base network and data (``experiments.default_settings``:
300 CIFAR-10 images per class, 30 epochs of batch 128, 2 warm-up epochs, the full 2,000-image
test split), one CPU thread per process, NHWC. A variant changes one training option of ``fit``
(``VARIANTS``); every run also keeps a weight average, so each trained network is evaluated four
ways (plain, mirror-averaged, the average, both): EMA and TTA change no training step, so they
are measured on the very networks of each row rather than on separately trained ones.

Each (variant, seed) run writes ``OUT/runs/VARIANT-seedS.json`` when done and keeps a checkpoint
per epoch in ``OUT/.partial/``: a re-run skips finished runs and resumes the one under way.
``--worker I/N`` takes every N-th run starting at the I-th, so N processes share the list.
``--collect`` gathers the finished runs into ``OUT.jsonl`` (one line each, sorted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from effnet_lab import experiments, train
from effnet_lab.data import atomic_write_text, load_pair
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
}


def run_one(name: str, options: dict, seed: int, out: Path) -> dict:
    settings = experiments.default_settings("single-vs-compound")
    trainset, test = load_pair(settings.data)
    trainset = trainset.subset(settings.per_class, seed=0)
    kwargs = {"batch_size": settings.batch_size, "warmup_epochs": settings.warmup_epochs, **options}
    partial = out / ".partial" / f"{name}-seed{seed}.pt"
    torch.manual_seed(seed)
    model = EfficientNet(settings.base, num_classes=len(trainset.classes))
    began = time.perf_counter()
    history = train.fit(model, trainset, None, settings.epochs, seed=seed, ema=EMA_DECAY, channels_last=True,
                        checkpoint=partial, progress=False, **kwargs)
    wall = time.perf_counter() - began
    averaged = model  # fit hands back the weight average
    plain = EfficientNet(settings.base, num_classes=len(trainset.classes))
    plain.load_state_dict(torch.load(partial, weights_only=True)["model"])
    plain = plain.to(memory_format=torch.channels_last)
    accuracy = {}
    for label, net in (("plain", plain), ("ema", averaged)):
        for tta in (False, True):
            accuracy[label + ("+tta" if tta else "")] = train.evaluate(net, test, device="cpu", tta=tta)["accuracy"]
    return {"variant": name, "options": options, "seed": seed, "ema_decay": EMA_DECAY, "accuracy": accuracy,
            "train_seconds": sum(e.seconds for e in history.epochs), "wall_seconds_this_run": wall,
            "train_loss": [e.train_loss for e in history.epochs], "settings": settings.to_dict(),
            **train.provenance("cpu")}


def collect(out: Path) -> Path:
    rows = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    order = list(VARIANTS)
    rows.sort(key=lambda r: (order.index(r["variant"]) if r["variant"] in order else len(order), r["seed"]))
    target = out.with_suffix(".jsonl")
    atomic_write_text(target, "".join(json.dumps(r) + "\n" for r in rows))
    for name in order:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue
        cells = []
        for key in ("plain", "plain+tta", "ema", "ema+tta"):
            values = [100 * r["accuracy"][key] for r in mine]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{key} {statistics.mean(values):.1f} ± {spread:.1f}")
        seconds = statistics.mean(r["train_seconds"] for r in mine)
        print(f"{name:20s} n={len(mine)}  " + "  ".join(cells) + f"  {seconds:.0f} s/run")
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
