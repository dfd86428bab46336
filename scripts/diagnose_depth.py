"""Why did depth x4 collapse? Loss curves and gradient norms by stage, with and without the recipe.

    python scripts/diagnose_depth.py --out results/depth_diagnosis [--trial depth-x4] [--recipe old new]

Trains single-vs-compound's ``--trial`` network (default depth-x4: 40 blocks at width 0.25) on the
sweep's data and schedule, seed 0, once with the recipe the committed sweeps used
(``experiments.RECIPE_BEFORE``, batch 128) and once with today's (``config.RECIPE``, the sweeps'
batch 64). Hooks on the
parameters record, at every step, the gradient's L2 norm summed over each part of the network
(stem, stage 1..7, head, classifier); fit itself is unchanged. Writes ``OUT/TRIAL-RECIPE.json``
(per-epoch loss, per-step norms by part, test accuracy, provenance), skipping runs already there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from effnet_lab import experiments, train, runtime
from effnet_lab.config import RECIPE
from effnet_lab.runtime import atomic_write_text
from effnet_lab.data import load_pair
from effnet_lab.model import EfficientNet


def part_of(name: str) -> str:
    if name.startswith("stages."):
        return f"stage{int(name.split('.')[1]) + 1}"
    return name.split(".")[0]  # stem, head, classifier


def run(trial_id: str, recipe_name: str, out: Path) -> dict:
    settings = experiments.default_settings("single-vs-compound")
    # the old sweeps also trained at batch 128; today's at the default Settings batch (64)
    recipe = ({**experiments.RECIPE_BEFORE, "batch_size": 128} if recipe_name == "old" else
              {**{k: RECIPE[k] for k in experiments.RECIPE_FIELDS}, "batch_size": settings.batch_size})
    settings = replace(settings, **recipe)
    trainset, test = load_pair(settings.data)
    trainset = trainset.subset(settings.per_class, seed=0)
    trial = {t.trial_id: t for t in experiments.plan("single-vs-compound", settings, num_classes=10)}[trial_id]
    torch.manual_seed(0)
    model = EfficientNet(trial.config, num_classes=len(trainset.classes))
    steps: list[dict[str, float]] = [{}]
    squares: dict[str, float] = {}

    def hook(name):
        def record(p):
            squares[part_of(name)] = squares.get(part_of(name), 0.0) + float(p.grad.detach().pow(2).sum())
        return record

    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(hook(name))

    def close_step(optimizer, args, kwargs):  # before every optimizer step: the step's norms are complete
        steps[-1] = {k: v ** 0.5 for k, v in squares.items()}
        squares.clear()
        steps.append({})

    handle = register_optimizer_step_pre_hook(close_step)
    began = time.perf_counter()
    try:
        history = train.fit(model, trainset, test, settings.epochs, batch_size=settings.batch_size, seed=0,
                            warmup_epochs=settings.warmup_epochs, channels_last=True, progress=False,
                            **{k: getattr(settings, k) for k in experiments.RECIPE_FIELDS})
    finally:
        handle.remove()
    return {"trial": trial_id, "recipe": recipe_name, "options": recipe, "config": trial.config.to_dict(),
            "blocks": trial.config.num_blocks, "seconds": time.perf_counter() - began,
            "history": history.to_dicts(), "accuracy": history.final.val_accuracy,
            "grad_norms": [s for s in steps if s], **runtime.provenance("cpu")}


def summary(out: Path, trial: str) -> str:
    """A markdown table per recipe: the loss curve at a few epochs, and each part's gradient norm
    (median over the first and the last 50 steps)."""
    import statistics

    lines = []
    for path in sorted(out.glob(f"{trial}-*.json")):
        row = json.loads(path.read_text())
        hist, norms = row["history"], row["grad_norms"]
        epochs = [e for e in (1, 2, 5, 10, 20, 30) if e <= len(hist)]
        lines.append(f"**{trial}, {row['recipe']} recipe** ({row['blocks']} blocks; final test accuracy "
                     f"{100 * row['accuracy']:.1f} %, no TTA in the per-epoch figures: "
                     + ", ".join(f"epoch {e}: loss {hist[e - 1]['train_loss']:.3f}, test "
                                 f"{100 * hist[e - 1]['val_accuracy']:.1f} %" for e in epochs) + ")")
        lines += ["", "| part | gradient norm, first 50 steps | last 50 steps |", "|---|---|---|"]
        for part in norms[0]:
            first = statistics.median(n.get(part, 0.0) for n in norms[:50])
            last = statistics.median(n.get(part, 0.0) for n in norms[-50:])
            lines.append(f"| {part} | {first:.3g} | {last:.3g} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/depth_diagnosis"))
    p.add_argument("--trial", default="depth-x4")
    p.add_argument("--recipe", nargs="+", choices=("old", "new"), default=["old", "new"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--summary", action="store_true", help="print the tables of the runs in OUT, train nothing")
    args = p.parse_args(argv)
    if args.summary:
        print(summary(args.out, args.trial))
        return 0
    torch.set_num_threads(args.threads)
    for name in args.recipe:
        target = args.out / f"{args.trial}-{name}.json"
        if target.exists():
            continue
        row = run(args.trial, name, args.out)
        atomic_write_text(target, json.dumps(row) + "\n")
        print(f"{args.trial} with the {name} recipe: accuracy {row['accuracy']:.3f}, {row['seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
