"""How long `train` takes to reach its first training step, with and without torch.compile.

    python benchmarks/first_step.py [--data cifar10] [--device cuda] [--compile MODE] [--repeats 2]

Runs ``python -m effnet_lab train`` as a new process (what a learner or an instructor types) on
130 images with batch size 128: one training step, then the test. The wall time from starting the
process to its exit is an upper bound on the time to the first step; what the run itself reports
(its one epoch and the test) is printed beside it. Each variant runs ``--repeats`` times in a row
with one compile cache (``TORCHINDUCTOR_CACHE_DIR``, emptied first): the first run compiles, later
ones find the compiled code on disk. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(args, compile_mode: str | None, cache: Path, out: Path) -> dict:
    command = [sys.executable, "-m", "effnet_lab", "train", "--data", args.data, "--model", "b0", "--per-class", "13",
               "--batch-size", "128", "--epochs", "1", "--resolution", str(args.resolution), "--warmup-epochs", "0",
               "--quiet", "--out", str(out)]
    if args.device:
        command += ["--device", args.device]
    if compile_mode:
        command += ["--compile"] + ([] if compile_mode == "default" else [compile_mode])
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall": wall, "epoch_seconds": metrics["history"][0]["seconds"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="cifar10")
    p.add_argument("--device", default=None)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--compile", nargs="+", default=["none", "default", "reduce-overhead"], metavar="MODE",
                   help="variants: none (eager), default, reduce-overhead, max-autotune (default: the first three)")
    p.add_argument("--repeats", type=int, default=2, help="runs per variant with one cache (default %(default)s)")
    args = p.parse_args()
    allowed = ("none", "default", "reduce-overhead", "max-autotune")
    bad = [m for m in args.compile if m not in allowed]
    if bad:
        p.error(f"--compile: {', '.join(bad)} not among {', '.join(allowed)}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    work = Path(tempfile.mkdtemp(prefix="first-step-"))
    try:
        for mode in args.compile:
            cache = work / f"cache-{mode}"
            shutil.rmtree(cache, ignore_errors=True)
            for i in range(args.repeats):
                r = one_run(args, None if mode == "none" else mode, cache, work / f"run-{mode}-{i}")
                state = "cold cache" if i == 0 and mode != "none" else "warm cache" if mode != "none" else "eager"
                print(f"compile {mode}, run {i + 1} ({state}): {r['wall']:.1f} s from start to exit "
                      f"(the one-step epoch: {r['epoch_seconds']:.1f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
