"""Command line: ``python -m effnet_lab profile --model b3`` (more commands: ``--help``).

Every command calls the same library functions the notebooks use. A bad argument or a failed run
ends with one or two lines (``python -m effnet_lab train: error: ...``), never a traceback
(``EFFNET_LAB_TRACEBACK=1`` shows it, for a bug report); ``cli`` holds the flags and those checks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cli import (CHANNELS_LAST, LIBRARY_ERRORS, ON_OFF, Parser, add_channels_last, add_model_args, add_recipe_args,
                  at_least, flag_message, make_folder, model_config, out_folder, recipe_options, run_error,
                  variant_name)
from .config import COMPILE_MODES, OPTIMIZERS, RECIPE, flops_factor


def cmd_profile(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import pandas as pd

    from .cost import MAX_LAYER_ROWS, analytic_cost

    config = model_config(args, parser)
    try:
        cost = analytic_cost(config, num_classes=args.num_classes)
    except (ValueError, OverflowError) as exc:
        parser.error(str(exc))
    if args.per_layer and cost.num_layers > MAX_LAYER_ROWS:
        parser.error(f"--per-layer: {config.name} has {cost.num_layers:,} layers, more than the {MAX_LAYER_ROWS:,} "
                     f"a per-layer table lists; leave out --per-layer for the per-stage table")
    h, w = config.hw
    print(f"EfficientNet {config.name}: width x{config.width_mult:.4g}, depth x{config.depth_mult:.4g}, "
          f"resolution {h}x{w}, {config.num_blocks} MBConv blocks, {args.num_classes} classes")
    if args.phi is not None:
        print(f"  phi={args.phi:g}, alpha={args.alpha:g}, beta={args.beta:g}, gamma={args.gamma:g}; "
              f"alpha*beta^2*gamma^2 = {flops_factor(args.alpha, args.beta, args.gamma):.4f}")
    table = cost.layers if args.per_layer else cost.stages
    table = table.drop(columns=["other_ops"])
    with pd.option_context("display.width", 200, "display.max_rows", None, "display.max_columns", None,
                           "display.float_format", "{:.3f}".format):
        print(table.to_string())
    print(f"MACs   {cost.macs:>16,}  (conv + linear multiply-adds: the paper's 'FLOPs', ptflops aten)")
    print(f"FLOPs  {cost.flops:>16,}  (= 2 x MACs, torch.utils.flop_counter's convention)")
    print(f"params {cost.params:>16,}")
    print(f"MACs incl. BN/SiLU/pool {cost.ptflops_pytorch_macs:,} (ptflops pytorch backend)")
    print(f"training activations {cost.activation_bytes / 1e6:,.1f} MB per image (float32)")
    return 0


def _write_json(path, obj) -> None:
    import json

    from .runtime import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")  # a crash leaves the old file or the new one


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .distributed import local_device, process_group
    from .runtime import pick_device

    try:
        device = local_device(pick_device(args.device))
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    # under torchrun: one process per device, joined for the run (a single process: nothing changes)
    with process_group(device) as (ranks, rank):
        return _train(args, parser, device, ranks, rank)


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser, device, ranks: int, rank: int) -> int:
    import time

    from .data import load_pair
    from .model import EfficientNet
    from .runtime import provenance, utc_now
    from .train import evaluate, fit, uses_channels_last

    config = model_config(args, parser)
    overrides = {k: v for k, v in (("width_mult", args.width_mult), ("depth_mult", args.depth_mult),
                                   ("stem_stride", args.stem_stride), ("dropout", args.dropout),
                                   ("stochastic_depth", args.stochastic_depth)) if v is not None}
    try:
        config = config.replace(**overrides)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    at_least(args, parser, epochs=1, batch_size=2, per_class=1, eval_every=1)
    out = out_folder(args.out, parser)
    try:
        train, test = load_pair(args.data)
        if args.per_class is not None:
            train = train.subset(args.per_class, seed=args.seed)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if args.num_classes is not None and args.num_classes != len(train.classes):
        parser.error(f"--num-classes {args.num_classes} disagrees with the data: {args.data} has {len(train.classes)} "
                     f"classes; leave --num-classes out (train takes the data's)")
    import torch

    torch.manual_seed(args.seed)
    try:
        model = EfficientNet(config, num_classes=len(train.classes))
    except ValueError as exc:  # a model too big for this machine's memory
        parser.error(str(exc))
    make_folder(out, parser)
    began = time.perf_counter()
    origin = provenance(device)  # the code at the start (a commit made during a long run is not it)
    recipe = {**RECIPE, **recipe_options(args)}
    info = {"config": config.to_dict(), "classes": train.classes, "resolution": config.to_dict()["resolution"],
            "tta": recipe["tta"]}  # evaluate scores the checkpoint as train did
    # an error from here on is one of the run (main reports it), not of the command line
    history = fit(model, train, test, args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                  **recipe_options(args), device=device, amp=not args.no_amp,
                  compile=args.compile, channels_last=CHANNELS_LAST[args.channels_last], seed=args.seed,
                  checkpoint=out / "last.pt", checkpoint_extra=info,
                  progress=not args.quiet, sync_bn=ON_OFF[args.sync_bn], eval_every=args.eval_every)
    if rank != 0:  # rank 0 alone evaluates and writes metrics.json
        return 0
    result = evaluate(model, test, device=device, tta=recipe["tta"])
    metrics = {"accuracy": result["accuracy"], "loss": result["loss"], "n_test": result["n"],
               "per_class_accuracy": result["per_class_accuracy"],
               # time of every epoch, including those of an interrupted earlier run
               "seconds": sum(e.seconds for e in history.epochs), "wall_seconds_this_run": time.perf_counter() - began,
               "epochs": args.epochs, "n_train": len(train), "data": str(args.data), "seed": args.seed,
               "processes": ranks,
               "channels_last": uses_channels_last(device, CHANNELS_LAST[args.channels_last]),
               "recipe": {"optimizer": args.optimizer, "batch_size": args.batch_size, **recipe},
               "history": history.to_dicts(), **info, **origin, "date": utc_now()}
    _write_json(out / "metrics.json", metrics)
    print(f"test accuracy {metrics['accuracy']:.4f} on {result['n']} images; wrote {out / 'metrics.json'} "
          f"and {out / 'last.pt'}")
    return 0


def cmd_evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import json

    from .checkpoints import load_checkpoint
    from .data import load
    from .runtime import pick_device
    from .train import evaluate

    at_least(args, parser, batch_size=1)
    try:
        device = pick_device(args.device)
        model, state = load_checkpoint(args.checkpoint, device)
        data = load(args.data, "test")
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if data.classes != state["classes"]:
        parser.error(f"the data's classes {data.classes} differ from the checkpoint's {state['classes']}")
    tta = bool(state.get("tta", False))
    result = evaluate(model, data, batch_size=args.batch_size, device=device, tta=tta)
    result.update(checkpoint=str(args.checkpoint), data=str(args.data), resolution=state["resolution"], tta=tta)
    print(json.dumps(result))
    return 0


# sweep options that choose which trials a plan holds, and the sweep each belongs to
PLAN_OPTIONS = {"budgets": "single-vs-compound", "tolerance": "grid-search", "max_candidates": "grid-search",
                "variants": "formula-vs-official", "resolutions": "imagenette-resolution"}


def cmd_sweep(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import dataclasses

    from .data import resolve
    from .experiments import default_settings, quick_settings
    from .runtime import cache_dir, pick_device, quick_mode
    from .store import results_path
    from .sweeps import run_sweep

    quick = args.quick or quick_mode()
    settings = quick_settings(args.name) if quick else default_settings(args.name)
    for option, sweep in PLAN_OPTIONS.items():
        if getattr(args, option) is not None and args.name != sweep:
            parser.error(f"argument --{option.replace('_', '-')}: shapes the {sweep} sweep only, not {args.name}")
    changes = {k: v for k, v in (("data", args.data), ("epochs", args.epochs), ("per_class", args.per_class),
                                 ("seeds", args.seeds), ("batch_size", args.batch_size))
               + tuple(recipe_options(args).items())
               + tuple((option, getattr(args, option)) for option in PLAN_OPTIONS) if v is not None}
    at_least(args, parser, batch_size=2)
    try:
        settings = dataclasses.replace(settings, **changes)
        out = Path(args.out) if args.out else (cache_dir() / "quick-results" if quick else Path("results"))
        resolve(settings.data)  # a missing data folder is said now, not after planning
    except (TypeError, ValueError, OSError) as exc:
        parser.error(str(exc))
    if quick and out.resolve().name == "results":
        parser.error(f"quick mode never writes to a results/ folder (got --out {args.out}); choose another --out")
    out_folder(str(out), parser)
    checkpoints = out / "checkpoints" if args.name == "imagenette-resolution" else None
    try:
        from .runners import RAY_MISSING, check_address, check_options

        check_options(args.workers, args.address, args.gpus_per_trial)
        if args.workers is not None or args.address is not None:
            import importlib.util

            if importlib.util.find_spec("ray") is None:
                parser.error(f"--{'workers' if args.workers is not None else 'address'}: {RAY_MISSING}")
        if args.address is not None:
            check_address(args.address)  # seconds, not the minute ray.init would keep retrying
        elif args.gpus_per_trial is not None:
            import torch

            if not torch.cuda.is_available() or str(args.device or "").startswith("cpu"):
                raise ValueError(f"gpus_per_trial {args.gpus_per_trial:g}: Ray sees no GPU "
                                 f"{'(--device cpu)' if torch.cuda.is_available() else 'here'}; leave it out to train on CPUs")
    except ValueError as exc:
        parser.error(str(exc))
    if args.storage is not None:
        out_folder(args.storage, parser)
    try:
        pick_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    # an error from here on is one of the run (main reports it), not of the command line
    run_sweep(args.name, out, settings, device=args.device, checkpoint_dir=checkpoints,
              channels_last=CHANNELS_LAST[args.channels_last], workers=args.workers, address=args.address,
              gpus_per_trial=args.gpus_per_trial, storage=args.storage, stack_seeds=ON_OFF[args.stack_seeds])
    print(f"results: {results_path(out, args.name)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m effnet_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("profile", help="print Table 1 of a model with MACs, parameters and memory per stage",
                       description="Per-stage cost of a published variant (--model) or a compound-scaled B0 (--phi).")
    add_model_args(p)
    p.add_argument("--per-layer", action="store_true", help="one row per layer instead of per stage")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("train", help="train a model from scratch; writes metrics.json and last.pt, resumes",
                       description="Train on an ImageFolder tree (train/ and test/ or val/) or a dataset name "
                                   "(cifar10, cifar100, or a folder under EFFNET_LAB_DATA). Re-running with the "
                                   "same --out resumes from the last finished epoch.")
    p.add_argument("--data", required=True, help="folder, or dataset name (cifar10, cifar100, imagenet-subset)")
    p.add_argument("--out", required=True, help="output folder for metrics.json and last.pt")
    add_model_args(p, num_classes=None)
    p.add_argument("--width-mult", type=float, help="override the width multiplier")
    p.add_argument("--depth-mult", type=float, help="override the depth multiplier")
    p.add_argument("--stem-stride", type=int, help="1 keeps small images (CIFAR) from shrinking to 1x1 maps")
    p.add_argument("--dropout", type=float, help="override the classifier dropout")
    p.add_argument("--stochastic-depth", type=float, help="override the last block's drop rate")
    p.add_argument("--epochs", type=int, default=10, help="default %(default)s")
    p.add_argument("--batch-size", type=int, default=128, help="default %(default)s")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    add_recipe_args(p, RECIPE)
    p.add_argument("--per-class", type=int, help="train on a class-balanced seeded subset of N images per class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--compile", nargs="?", const=True, default=False, choices=(True, *COMPILE_MODES), metavar="MODE",
                   help="torch.compile the model; optionally a mode: " + ", ".join(COMPILE_MODES)
                        + " (reduce-overhead adds CUDA graphs)")
    p.add_argument("--no-amp", action="store_true", help="no bf16/fp16 autocast on a GPU")
    add_channels_last(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--eval-every", type=int, default=1, metavar="N",
                   help="test after every N-th epoch and after the last (default %(default)s)")
    p.add_argument("--sync-bn", choices=tuple(ON_OFF), default="on",
                   help="under torchrun: BatchNorm statistics over the global batch, not each process's share "
                        "(default on)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a checkpoint on a data folder; prints one JSON object",
                       description="Evaluate a train checkpoint on test/ (else val/) of a split root, or on a "
                                   "folder of class folders, or a dataset name.")
    p.add_argument("--checkpoint", required=True, help="last.pt written by train")
    p.add_argument("--data", required=True, help="folder or dataset name")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.set_defaults(func=cmd_evaluate)

    from .experiments import SWEEPS

    p = sub.add_parser("sweep", help="run a scaling experiment; appends one JSON line per trial, resumes",
                       description="Train every trial of a sweep with several seeds. Finished trials in the "
                                   "results file are skipped, and the trial under way checkpoints every epoch "
                                   "(OUT/.partial/), so an interrupted sweep continues where it stopped. A "
                                   "network that another trial in OUT already trained with the same settings is "
                                   "not trained again. Options that choose the trials (--budgets, "
                                   "--max-candidates, ...) may change between runs: the file grows by the new "
                                   "trials.")
    p.add_argument("name", choices=SWEEPS)
    p.add_argument("--data", help="dataset name or folder (default: cifar10; imagenet-subset for imagenette-resolution)")
    p.add_argument("--out", help="results folder (default results/; quick mode: a cache folder)")
    p.add_argument("--quick", action="store_true", help="a tiny slice in a minute or two (also EFFNET_LAB_QUICK=1)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--per-class", type=int, help="training images per class")
    p.add_argument("--seeds", type=int, nargs="+")
    p.add_argument("--batch-size", type=int)
    add_recipe_args(p, None)
    p.add_argument("--budgets", type=float, nargs="+", metavar="X",
                   help="single-vs-compound: MAC budgets as multiples of the base's (default 1 2 4)")
    p.add_argument("--tolerance", type=float, help="grid-search: |alpha*beta^2*gamma^2 - 2| allowed (default 0.1)")
    p.add_argument("--max-candidates", type=int, metavar="N",
                   help="grid-search: how many (alpha, beta, gamma) to train (default 6; the committed runs: 9)")
    p.add_argument("--variants", nargs="+", metavar="BN", type=variant_name,
                   help="formula-vs-official: published variants to match (default b1 b2 b3; any of b1-b7)")
    p.add_argument("--resolutions", type=int, nargs="+", metavar="PX",
                   help="imagenette-resolution: input sizes in pixels (default 64 96 128)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    add_channels_last(p)
    p.add_argument("--stack-seeds", choices=tuple(ON_OFF), default="off",
                   help="train a trial's seeds together as one network (the same numbers to rounding; slower on "
                        "a CPU: benchmarks/stacked_seeds.py measures it; default off)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="train N trials at once on a local Ray instance started for the run (needs "
                        "pip install 'effnet-lab[ray]'; without it: one trial at a time, in this process)")
    p.add_argument("--address", metavar="ADDRESS",
                   help="train on the Ray cluster at ADDRESS instead (auto, HOST:PORT or ray://HOST:PORT); "
                        "with --workers N, at most N trials at once")
    p.add_argument("--gpus-per-trial", type=float, metavar="F",
                   help="share of a GPU each trial takes on Ray, in (0, 1]: 0.25 lets four small trials share "
                        "one (default: a local run shares its GPUs among the workers, a cluster gives each one)")
    p.add_argument("--storage", metavar="PATH",
                   help="folder for the work in progress (PATH/.partial/; default: --out). On a cluster every "
                        "node must see it: a retried or resumed trial goes on from there")
    p.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser._subparsers._group_actions[0].choices[args.command]  # errors name the subcommand
    try:
        return args.func(args, sub)
    except KeyboardInterrupt:
        if args.command in ("train", "sweep"):
            print("\ninterrupted: finished epochs/trials are saved; run the same command again to resume",
                  file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: handled below, not an error of the run
        raise
    except LIBRARY_ERRORS as exc:  # the run failed (maybe hours in): one line, exit status 1
        if os.environ.get("EFFNET_LAB_TRACEBACK"):
            raise
        print(f"{sub.prog}: error: {flag_message(run_error(exc), sub)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    import signal

    # A shell starts background jobs with Ctrl-C ignored, and Python then never raises
    # KeyboardInterrupt; restore it so `kill -INT` stops a background sweep cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head` closed the pipe: not an error
        sys.stderr.close()
        sys.exit(0)
