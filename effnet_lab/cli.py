"""The command line's parts: its argument types and shared flags, the checks that refuse a bad
argument before any work, and the translation of a library error into one line that names the flag.
``__main__`` builds the commands from them.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from .checks import Resolution, check_resolution
from .config import (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PUBLISHED, SCHEDULES, _variant_key, compound_scaling,
                     official_config)

# What the library raises for bad input and failed runs (RuntimeError: out of GPU memory, a
# checkpoint torch cannot map). Anything else is a bug and keeps its traceback.
LIBRARY_ERRORS = (ValueError, TypeError, OSError, OverflowError, RuntimeError)
# A library message starts with the parameter it is about ("batch_size must be ...", "seed 1 differs
# ..."); when that parameter is a flag of the command, the message names the flag instead.
_PARAMETER = re.compile(r"([a-z][a-z_]*)(?= must\b| \(| ['\"\[\d-]|=| True\b| False\b| None\b|:)")

# The values of the on/off and layout flags, as fit's arguments
CHANNELS_LAST = {"auto": None, "on": True, "off": False}
ON_OFF = {"on": True, "off": False}
RECIPE_FLAGS = ("lr", "schedule", "warmup_epochs", "weight_decay", "label_smoothing", "zero_init", "ema",
                "recalibrate_bn", "tta")
SWITCHES = ("zero_init", "recalibrate_bn", "tta")  # on/off flags


def flag_message(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with a leading parameter name that is one of ``parser``'s flags written as the
    flag: "batch_size (128) must not exceed ..." -> "--batch-size (128) must not exceed ..."."""
    found = _PARAMETER.match(message)
    if found:
        for action in parser._actions:
            flags = [o for o in action.option_strings if o.startswith("--")]
            if action.dest == found.group(1) and flags:
                return flags[0] + message[found.end():]
    return message


class Parser(argparse.ArgumentParser):
    """argparse with short errors: the message and a pointer to --help, not the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {flag_message(message, self)}\nsee --help\n")


def run_error(exc: BaseException) -> str:
    """One line for a library error: its message (an OSError's: the file and the reason)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def parse_resolution(text: str) -> Resolution:
    """'224' -> 224; '240x320' or '240,320' -> (240, 320)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
        return check_resolution(values[0] if len(values) == 1 else tuple(values))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid resolution {text!r}: use a positive integer (224) or HxW (240x320)") from None


def variant_name(text: str) -> str:
    """--model as official_config reads it: b3, B3 and efficientnet_b3 all name B3."""
    try:
        return _variant_key(text)
    except ValueError:
        return text  # argparse's "invalid choice" lists the valid ones


def add_model_args(p: argparse.ArgumentParser, num_classes: "int | None" = 1000) -> None:
    """The flags that choose a model: a published ``--model`` or ``--phi`` (with its bases), and its input size."""
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", default=None, type=variant_name, choices=list(PUBLISHED),
                       help="a published variant (default b0)")
    which.add_argument("--phi", type=float, help="compound coefficient: scale B0 by alpha^phi, beta^phi, gamma^phi")
    p.add_argument("--alpha", type=float, help=f"depth base (with --phi), default {PAPER_ALPHA}")
    p.add_argument("--beta", type=float, help=f"width base (with --phi), default {PAPER_BETA}")
    p.add_argument("--gamma", type=float, help=f"resolution base (with --phi), default {PAPER_GAMMA}")
    p.add_argument("--resolution", type=parse_resolution, help="input size: 224 or HxW (default: the model's)")
    p.add_argument("--num-classes", type=int, default=num_classes,
                   help="classifier outputs (default %(default)s)" if num_classes else
                        "classifier outputs: the data's classes (another number is refused)")


def model_config(args: argparse.Namespace, parser: argparse.ArgumentParser):
    """The ``ModelConfig`` that ``add_model_args``' flags name; a bad combination is a usage error."""
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
    at_least(args, parser, num_classes=1)
    return config


def at_least(args: argparse.Namespace, parser: argparse.ArgumentParser, **minimum: int) -> None:
    """Refuse integer flags below their minimum (a flag not given, None, is not checked)."""
    for name, least in minimum.items():
        value = getattr(args, name)
        if value is not None and value < least:
            why = " (BatchNorm needs at least 2 images per batch in training)" if name == "batch_size" else ""
            parser.error(f"--{name.replace('_', '-')} must be >= {least}, got {value}{why if least == 2 else ''}")


def out_folder(text: str, parser: argparse.ArgumentParser) -> Path:
    """``--out`` checked before any work: a folder, or one that can be created, and writable. Nothing
    is created yet (a refused command leaves nothing behind)."""
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        parser.error(f"--out {text}: a file of that name is in the way (--out names a folder)")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        parser.error(f"--out {text}: cannot create the folder: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        parser.error(f"--out {text}: cannot {'write to' if existing == out else 'create'} the folder: "
                     f"no permission to write in {existing}")
    return out


def make_folder(out: Path, parser: argparse.ArgumentParser) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # what out_folder cannot foresee (a read-only disk, a name too long)
        parser.error(f"--out {out}: cannot create the folder ({exc.strerror or exc})")


def ema_decay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 0.9999:
        raise argparse.ArgumentTypeError(f"must be a decay in [0, 0.9999] (0: off), got {text!r}")
    return value


def add_recipe_args(p: argparse.ArgumentParser, defaults: dict | None) -> None:
    """The training recipe's flags (fit's options; results/README.md measures each). ``defaults``
    shows fit's in the help (train); None: the sweep's settings decide (sweep)."""
    def say(name: str) -> str:
        if defaults is None:
            return "default: the sweep's setting"
        value = defaults[name]
        return f"default {({True: 'on', False: 'off'}.get(value, value) if isinstance(value, bool) else value)}"

    p.add_argument("--lr", type=float, help="peak learning rate (default for sgd: 0.1 x batch size / 128)")
    p.add_argument("--schedule", choices=SCHEDULES, help=f"learning rate after the warm-up ({say('schedule')})")
    p.add_argument("--warmup-epochs", type=float, metavar="E", help=f"linear warm-up ({say('warmup_epochs')})")
    p.add_argument("--weight-decay", type=float, help=say("weight_decay"))
    p.add_argument("--label-smoothing", type=float, help=say("label_smoothing"))
    p.add_argument("--zero-init", choices=tuple(ON_OFF),
                   help=f"start residual branches and the classifier at zero ({say('zero_init')})")
    p.add_argument("--ema", type=ema_decay, metavar="DECAY",
                   help=f"evaluate a moving average of the weights, 0: off ({say('ema')})")
    p.add_argument("--recalibrate-bn", choices=tuple(ON_OFF),
                   help=f"recompute BatchNorm statistics after the last epoch ({say('recalibrate_bn')})")
    p.add_argument("--tta", choices=tuple(ON_OFF), help=f"average each test image with its mirror ({say('tta')})")


def recipe_options(args: argparse.Namespace) -> dict:
    """The recipe flags given on the command line, as fit's keyword arguments."""
    given = {k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k, None) is not None}
    return {k: ON_OFF[v] if k in SWITCHES else v for k, v in given.items()}


def add_channels_last(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channels-last", choices=tuple(CHANNELS_LAST), default="auto",
                   help="NHWC memory layout (auto: on a CUDA GPU only; on: also on a CPU, 1.2-1.5x faster on "
                        "2 cores; see results/README.md for why it is not the CPU default)")

