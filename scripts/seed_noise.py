"""How much of a trial's seed spread is the finite test set, and how much is the networks themselves.

    python scripts/seed_noise.py train --trial base --seeds 0 2 4 6     # one process per core
    python scripts/seed_noise.py train --trial base --seeds 1 3 5 7
    python scripts/seed_noise.py report --trial base
    python scripts/seed_noise.py curve --trial base --seeds 0 4             # the test accuracy per epoch
    python scripts/seed_noise.py cross --trial base --pairs 0:4 4:0        # init seed : training seed
    python scripts/seed_noise.py train --setting 10k --trial compound-x4 --seeds 0 3 4 5 6 7 1 2
    python scripts/seed_noise.py train --setting 10k --trial compound-x4 --seeds 0 1 --layout nchw
    python scripts/seed_noise.py layouts --setting 10k --trial compound-x4

``train`` trains one single-vs-compound trial of the sweeps' default setting (``Settings()``: 300
images per class, the CPU recipe) once per seed, through the sweep's own ``train_trial`` (so the
numbers are the sweep's, and an interrupted seed resumes from its last epoch). It then records which
images each network gets right: the 2,000 test images, and the 7,000 training images the sweep's
subset leaves out (``held-out``: never trained on, never used to choose anything). One JSON file per
seed under ``results/seed_noise/`` (the correct/wrong flags as hex bit strings), with provenance.
``--setting 10k`` trains ``results/cpu-recipe-10k/``'s setting instead (all 10,000 training images,
9 epochs, 0.6 warm-up epochs: the same SGD steps); it leaves no image unused, so only the test
images are recorded, in ``TRIAL-10k-seedN.json``. ``--layout nchw`` trains in PyTorch's default
memory layout instead of NHWC (channels last): the same network, images and random numbers; only the
order in which the CPU's kernels add float32 numbers differs (``TRIAL[-10k]-nchw-seedN.json``). It
asks how far a rounding-level change alone moves a seed's accuracy: another kind of CPU changes the
same thing. ``layouts`` compares each seed trained both ways (the two accuracies, and the share of
test images one network gets right and the other wrong) with what two different seeds give.

``report`` compares, for each image set, the spread of the accuracy over seeds with the spread that
the test set's finite size alone would give. If each network got each image right or wrong
independently (image i with its own chance p_i, estimated by the share of seeds that got it right),
the accuracy on n images would vary over seeds by sqrt(sum_i p_i (1 - p_i)) / n. What is left above
that is spread of the networks' accuracy on the whole distribution.

``curve`` trains the same way (``fit`` with the sweep's options) and tests after every epoch, to see
how a low seed differs from a high one (a loss spike, or slower all the way); one JSON file per seed.

``cross`` separates what a seed decides: the initial weights (``torch.manual_seed`` before the
network is built) from the training's randomness (``fit(seed=...)``: the order of the images, their
crops and flips, the dropout and stochastic-depth coins). ``--pairs 0:4`` builds the network with
seed 0 and trains it with seed 4. One JSON file per pair (``TRIAL-init0-train4.json``), so
processes running side by side never write the same file.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from effnet_lab.data import load_pair  # noqa: E402
from effnet_lab.experiments import Settings, plan  # noqa: E402
from effnet_lab.model import EfficientNet  # noqa: E402
from effnet_lab.recipe import predict  # noqa: E402
from effnet_lab.runtime import atomic_write_text, model_mode, provenance  # noqa: E402
from effnet_lab.sweeps import train_trial  # noqa: E402

OUT = ROOT / "results" / "seed_noise"


def correct_flags(model, images, tta: bool) -> torch.Tensor:
    """Whether ``model`` gets each of ``images`` right (bool, in the images' order)."""
    from effnet_lab.loader import DeviceLoader

    loader = DeviceLoader(images, 250, model.config.resolution, "cpu")
    flags = []
    with model_mode(model), torch.inference_mode():
        for x, y in loader:
            flags.append(predict(model, x, tta).argmax(1) == y)
    return torch.cat(flags)


def to_hex(flags: torch.Tensor) -> str:
    """The flags as a hex string, first image first (``from_hex`` reads it back)."""
    bits = "".join("1" if f else "0" for f in flags.tolist())
    return f"{int(bits, 2):0{-(-len(bits) // 4)}x}"


def from_hex(text: str, n: int) -> list[int]:
    return [int(b) for b in f"{int(text, 16):0{len(text) * 4}b}"[-n:]]


# --setting: the sweeps' default, or cpu-recipe-10k's (all the images at the same SGD steps)
SETTINGS = {"default": {}, "10k": {"per_class": 1000, "epochs": 9, "warmup_epochs": 0.6}}
LAYOUTS = ("nhwc", "nchw")   # --layout: the memory layout the CPU trains in (NHWC: the sweeps')


def setup(trial_id: str, threads: int, setting: str = "default"):
    """The sweeps' settings (``SETTINGS[setting]`` changed) and the named single-vs-compound trial,
    on ``threads`` threads."""
    torch.set_num_threads(threads)
    settings = replace(Settings(), **SETTINGS[setting])
    return settings, next(t for t in plan("single-vs-compound", settings) if t.trial_id == trial_id)


def file_stem(trial_id: str, setting: str = "default", layout: str = "nhwc") -> str:
    """How the files of a trial in a setting are named: ``depth-x2``, ``compound-x4-10k``,
    ``compound-x4-10k-nchw`` (NCHW; NHWC, the sweeps' CPU layout, goes unnamed)."""
    return "-".join([trial_id] + [setting] * (setting != "default") + [layout] * (layout != "nhwc"))


def fit_seeded(trial, settings, train_set, test, init_seed: int, train_seed: int, **extra):
    """``trial``'s network built with ``init_seed`` and trained as ``train_trial`` trains it (the
    sweep's options, NHWC) with ``train_seed``; returns the model and its history."""
    from effnet_lab.experiments import RECIPE_FIELDS
    from effnet_lab.train import fit

    torch.manual_seed(init_seed)  # as train_trial seeds each network
    model = EfficientNet(trial.config, num_classes=len(train_set.classes))
    history = fit(model, train_set, test, settings.epochs, batch_size=settings.batch_size,
                  warmup_epochs=settings.warmup_epochs, device="cpu", progress=False, channels_last=True,
                  seed=train_seed, **{k: getattr(settings, k) for k in RECIPE_FIELDS}, **extra)
    return model, history


def train(trial_id: str, seeds: list[int], threads: int, setting: str = "default", layout: str = "nhwc") -> None:
    settings, trial = setup(trial_id, threads, setting)
    full_train, test = load_pair(settings.data)
    chosen, rest = full_train.split(settings.per_class, seed=0)
    train_set, held_out = full_train.take(chosen), full_train.take(rest)
    image_sets = [("test", test)] + ([("held_out", held_out)] if len(held_out) else [])
    name = file_stem(trial_id, setting, layout)
    for seed in seeds:
        out = OUT / f"{name}-seed{seed}.json"
        if out.exists():
            print(f"{out.name} exists: skipped", flush=True)
            continue
        stem = OUT / ".partial" / f"{name}-s{seed}"
        stem.parent.mkdir(parents=True, exist_ok=True)
        start = time.time()
        measured = train_trial(trial, replace(settings, seeds=(seed,)), stem, device="cpu",
                               channels_last=layout == "nhwc",
                               keep_model=True, data=(train_set, test))["measured"]
        saved = torch.load(stem.with_name(f"{stem.name}-model.pt"), weights_only=True)
        model = EfficientNet(trial.config, num_classes=len(full_train.classes))
        model.load_state_dict(saved["model"])
        flags = {key: correct_flags(model, images, settings.tta) for key, images in image_sets}
        row = {"trial_id": trial_id, "seed": seed, "accuracy_sweep": measured["accuracies"][0],
               **{f"accuracy_{k}": v.float().mean().item() for k, v in flags.items()},
               **{f"n_{k}": len(v) for k, v in flags.items()}, **{f"correct_{k}": to_hex(v) for k, v in flags.items()},
               "train_seconds": measured["train_seconds"], "wall_seconds": time.time() - start,
               **provenance("cpu"),
               "settings": f"Settings() of single-vs-compound with {SETTINGS[setting] or 'no change'} "
                           f"(per_class {settings.per_class}, {settings.epochs} epochs, the CPU recipe), {layout.upper()}"}
        atomic_write_text(out, json.dumps(row) + "\n")
        for f in stem.parent.glob(f"{stem.name}-*"):
            f.unlink()
        print(f"{name} seed {seed}: test {row['accuracy_test']:.4f} (sweep {row['accuracy_sweep']:.4f}), "
              f"held-out {row.get('accuracy_held_out', float('nan')):.4f}, {row['wall_seconds']:.0f} s", flush=True)


def curve(trial_id: str, seeds: list[int], threads: int) -> None:
    from effnet_lab.sweeps import sweep_data

    settings, trial = setup(trial_id, threads)
    train_set, test = sweep_data(settings)
    for seed in seeds:
        _, history = fit_seeded(trial, settings, train_set, test, seed, seed, eval_every=1)
        row = {"trial_id": trial_id, "seed": seed, "epochs": history.to_dicts(), **provenance("cpu")}
        atomic_write_text(OUT / f"{trial_id}-seed{seed}-curve.json", json.dumps(row) + "\n")
        print(f"{trial_id} seed {seed}: " + ", ".join(f"{e['val_accuracy']:.3f}" for e in row["epochs"]), flush=True)


def cross(trial_id: str, pairs: list[str], threads: int) -> None:
    from effnet_lab.sweeps import sweep_data
    from effnet_lab.train import evaluate

    settings, trial = setup(trial_id, threads)
    train_set, test = sweep_data(settings)
    for pair in pairs:
        init_seed, train_seed = (int(x) for x in pair.split(":"))
        out = OUT / f"{trial_id}-init{init_seed}-train{train_seed}.json"
        if out.exists():
            continue
        model, _ = fit_seeded(trial, settings, train_set, None, init_seed, train_seed)
        row = {"trial_id": trial_id, "init_seed": init_seed, "train_seed": train_seed,
               "accuracy": evaluate(model, test, tta=settings.tta)["accuracy"], **provenance("cpu")}
        atomic_write_text(out, json.dumps(row) + "\n")
        print(f"{trial_id} init seed {init_seed}, training seed {train_seed}: {row['accuracy']:.4f}", flush=True)


def spread(rows: list[dict], key: str) -> dict:
    n = rows[0][f"n_{key}"]
    flags = [from_hex(r[f"correct_{key}"], n) for r in rows]
    acc = [sum(f) / n for f in flags]
    p = [sum(col) / len(flags) for col in zip(*flags)]
    # sum p(1-p) estimated with the unbiased per-image variance k/(k-1) p(1-p) over k seeds
    k = len(flags)
    finite = math.sqrt(sum(q * (1 - q) for q in p) * k / (k - 1)) / n
    observed = statistics.stdev(acc)
    return {"images": n, "mean": statistics.mean(acc), "std": observed, "finite_set_std": finite,
            "rest_std": math.sqrt(max(observed**2 - finite**2, 0.0))}


def disagreement(a: dict, b: dict, key: str = "test") -> float:
    """The share of ``key``'s images that one of two networks gets right and the other wrong."""
    n = a[f"n_{key}"]
    return sum(x != y for x, y in zip(from_hex(a[f"correct_{key}"], n), from_hex(b[f"correct_{key}"], n))) / n


def seed_rows(name: str) -> dict[int, dict]:
    """The ``train`` files of ``name`` (a ``file_stem``), by seed in order (curve files left out)."""
    rows = (json.loads(p.read_text()) for p in OUT.glob(f"{name}-seed*.json") if not p.name.endswith("-curve.json"))
    return dict(sorted((r["seed"], r) for r in rows))


def layouts(trial_id: str, setting: str = "default") -> None:
    """Each seed trained in both layouts: its two accuracies and how many test images they disagree
    on, against the same for two different seeds in NHWC (what a new seed changes)."""
    nhwc, nchw = (seed_rows(file_stem(trial_id, setting, layout)) for layout in LAYOUTS)
    pairs = sorted(set(nhwc) & set(nchw))
    if not pairs:
        sys.exit(f"layouts: no seed of {file_stem(trial_id, setting)} trained in both layouts under {OUT}")
    print(f"{file_stem(trial_id, setting)}: the same seed in two layouts (test accuracy %, images disagreed on)")
    for seed in pairs:
        a, b = nhwc[seed], nchw[seed]
        print(f"seed {seed}: NHWC {100 * a['accuracy_test']:.2f}, NCHW {100 * b['accuracy_test']:.2f}, "
              f"difference {100 * (b['accuracy_test'] - a['accuracy_test']):+.2f} points, "
              f"disagree on {100 * disagreement(a, b):.1f} % of the images")
    seeds = list(nhwc)
    others = [disagreement(nhwc[i], nhwc[j]) for i in seeds for j in seeds if i < j]
    accs = [100 * nhwc[i]["accuracy_test"] for i in seeds]
    if len(seeds) >= 2:
        print(f"two different seeds, NHWC ({len(seeds)} seeds, {len(others)} pairs): disagree on "
              f"{100 * statistics.mean(others):.1f} % of the images on average ({100 * min(others):.1f}-"
              f"{100 * max(others):.1f}); accuracies differ by {statistics.stdev(accs) * math.sqrt(2):.2f} "
              f"points (std x sqrt 2)")


def report(trial_id: str, setting: str = "default", layout: str = "nhwc") -> None:
    name = file_stem(trial_id, setting, layout)
    rows = list(seed_rows(name).values())
    if len(rows) < 3:
        sys.exit(f"report: {len(rows)} seeds of {name} under {OUT}; at least 3 are needed")
    print(f"{name}: {len(rows)} seeds ({', '.join(str(r['seed']) for r in rows)})")
    print(f"{'images':<24}{'n':>6}{'mean %':>9}{'seed std':>10}{'finite-set std':>16}{'the rest':>10}")
    for key, label in (("test", "test"), ("held_out", "held-out (unused train)")):
        if f"n_{key}" not in rows[0]:
            continue
        s = spread(rows, key)
        print(f"{label:<24}{s['images']:>6}{100 * s['mean']:>9.2f}{100 * s['std']:>10.2f}"
              f"{100 * s['finite_set_std']:>16.2f}{100 * s['rest_std']:>10.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--trial", default="base")
    t.add_argument("--seeds", type=int, nargs="+", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--setting", choices=tuple(SETTINGS), default="default")
    t.add_argument("--layout", choices=LAYOUTS, default="nhwc")
    r = sub.add_parser("report")
    r.add_argument("--trial", default="base")
    r.add_argument("--setting", choices=tuple(SETTINGS), default="default")
    r.add_argument("--layout", choices=LAYOUTS, default="nhwc")
    lay = sub.add_parser("layouts", help="seeds trained in both layouts, against different seeds")
    lay.add_argument("--trial", default="base")
    lay.add_argument("--setting", choices=tuple(SETTINGS), default="default")
    c = sub.add_parser("curve")
    c.add_argument("--trial", default="base")
    c.add_argument("--seeds", type=int, nargs="+", required=True)
    c.add_argument("--threads", type=int, default=1)
    x = sub.add_parser("cross")
    x.add_argument("--trial", default="base")
    x.add_argument("--pairs", nargs="+", required=True, help="INIT:TRAIN seed pairs, e.g. 0:4")
    x.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    trials = [t.trial_id for t in plan("single-vs-compound", Settings())]
    if args.trial not in trials:
        p.error(f"--trial: {args.trial!r} is not a single-vs-compound trial; choose one of {', '.join(trials)}")
    if args.command == "cross" and not all(re.fullmatch(r"\d+:\d+", pair) for pair in args.pairs):
        p.error(f"--pairs: each pair is INIT:TRAIN, two seeds (e.g. 0:4), got {' '.join(args.pairs)}")
    if args.command == "cross":
        cross(args.trial, args.pairs, args.threads)
    elif args.command == "train":
        train(args.trial, args.seeds, args.threads, args.setting, args.layout)
    elif args.command == "curve":
        curve(args.trial, args.seeds, args.threads)
    elif args.command == "layouts":
        layouts(args.trial, args.setting)
    else:
        report(args.trial, args.setting, args.layout)


if __name__ == "__main__":
    main()
