"""Command line: ``python -m effnet_lab profile --model b3`` (more commands: ``--help``).

Every command calls the same library functions the notebooks use.
"""

from __future__ import annotations

import argparse
import sys

from .config import (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PUBLISHED, Resolution, check_resolution,
                     compound_scaling, flops_factor, official_config)


def parse_resolution(text: str) -> Resolution:
    """'224' -> 224; '240x320' or '240,320' -> (240, 320)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
        return check_resolution(values[0] if len(values) == 1 else tuple(values))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid resolution {text!r}: use a positive integer (224) or HxW (240x320)") from None


def _add_model_args(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", default=None, choices=list(PUBLISHED), help="a published variant (default b0)")
    which.add_argument("--phi", type=float, help="compound coefficient: scale B0 by alpha^phi, beta^phi, gamma^phi")
    p.add_argument("--alpha", type=float, help=f"depth base (with --phi), default {PAPER_ALPHA}")
    p.add_argument("--beta", type=float, help=f"width base (with --phi), default {PAPER_BETA}")
    p.add_argument("--gamma", type=float, help=f"resolution base (with --phi), default {PAPER_GAMMA}")
    p.add_argument("--resolution", type=parse_resolution, help="input size: 224 or HxW (default: the model's)")
    p.add_argument("--num-classes", type=int, default=1000, help="classifier outputs (default %(default)s)")


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser):
    given = [n for n in ("alpha", "beta", "gamma") if getattr(args, n) is not None]
    if args.phi is None and given:
        parser.error(f"--{given[0]} only applies with --phi")
    for name, paper in (("alpha", PAPER_ALPHA), ("beta", PAPER_BETA), ("gamma", PAPER_GAMMA)):
        if getattr(args, name) is None:
            setattr(args, name, paper)
    try:
        if args.phi is not None:
            config = compound_scaling(args.phi, args.alpha, args.beta, args.gamma)
        else:
            config = official_config(args.model or "b0")
        if args.resolution is not None:
            config = config.replace(resolution=args.resolution)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    if args.num_classes < 1:
        parser.error(f"--num-classes must be >= 1, got {args.num_classes}")
    return config


def cmd_profile(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import pandas as pd

    from .cost import analytic_cost

    config = _config(args, parser)
    cost = analytic_cost(config, num_classes=args.num_classes)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m effnet_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("profile", help="print Table 1 of a model with MACs, parameters and memory per stage",
                       description="Per-stage cost of a published variant (--model) or a compound-scaled B0 (--phi).")
    _add_model_args(p)
    p.add_argument("--per-layer", action="store_true", help="one row per layer instead of per stage")
    p.set_defaults(func=cmd_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser._subparsers._group_actions[0].choices[args.command]  # errors name the subcommand
    return args.func(args, sub)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head` closed the pipe: not an error
        sys.stderr.close()
        sys.exit(0)
