"""In-place vs out-of-place SiLU: one training step of each sweep network, measured side by side.

    python benchmarks/silu_inplace.py [--steps N] [--sweeps NAME ...] [--threads T]

Our blocks use ``nn.SiLU()`` out of place. An in-place SiLU saves nothing here: its backward pass
needs the input, so autograd copies the input before overwriting it. For every distinct network of
the default sweep plans this builds both variants from one seed (NHWC, the sweep's batch size),
times their training steps interleaved (A B A B ...), and prints the median step of each, their
ratio, and the ratio summed over the networks weighted by the steps each sweep trains them for.
The losses must be identical: the arithmetic is the same. A benchmark, not a test: timings depend
on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

from effnet_lab import experiments as ex
from effnet_lab.model import EfficientNet


def build(cfg, inplace: bool, batch: int, seed: int = 0):
    torch.manual_seed(seed)
    model = EfficientNet(cfg, num_classes=10).train().to(memory_format=torch.channels_last)
    for module in model.modules():
        if isinstance(module, nn.SiLU):
            module.inplace = inplace
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, *cfg.hw, generator=generator).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=generator)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-5)
    rng = [torch.get_rng_state()]  # each variant keeps its own stream (dropout, stochastic depth)

    def step() -> tuple[float, float]:
        torch.set_rng_state(rng[0])
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seconds = time.perf_counter() - start
        rng[0] = torch.get_rng_state()
        return seconds, loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant and network (default 5)")
    parser.add_argument("--sweeps", nargs="+", default=list(ex.SWEEPS), choices=ex.SWEEPS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as one sweep shard per core)")
    args = parser.parse_args()
    if args.steps < 1 or args.threads < 1:
        parser.error(f"--steps and --threads must be >= 1, got {args.steps} and {args.threads}")
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, torch threads {torch.get_num_threads()}")
    networks = {}
    for sweep in args.sweeps:
        settings = ex.default_settings(sweep)
        steps = settings.epochs * (settings.per_class * 10 // settings.batch_size)
        for trial in ex.plan(sweep, settings):
            networks.setdefault(trial.config.network_key, (sweep, trial, settings.batch_size, steps))
    total = {True: 0.0, False: 0.0}
    print(f"{'sweep':22} {'trial':16} {'in place (ms)':>14} {'out of place (ms)':>18} {'ratio':>6}")
    for sweep, trial, batch, steps in networks.values():
        runs = {inplace: build(trial.config, inplace, batch) for inplace in (True, False)}
        times = {True: [], False: []}
        losses = {True: [], False: []}
        for i in range(args.steps + 2):  # two warm-up steps
            for inplace, step in runs.items():
                seconds, loss = step()
                losses[inplace].append(loss)
                if i >= 2:
                    times[inplace].append(seconds)
        if losses[True] != losses[False]:
            raise SystemExit(f"{trial.trial_id}: the losses differ ({losses[True]} vs {losses[False]})")
        median = {k: statistics.median(v) for k, v in times.items()}
        for k in total:
            total[k] += median[k] * steps
        print(f"{sweep:22} {trial.trial_id:16} {median[True] * 1e3:14.0f} {median[False] * 1e3:18.0f} "
              f"{median[True] / median[False]:6.3f}")
    print(f"summed over the networks, one seed each as the sweeps train them: in place {total[True] / 3600:.2f} h, "
          f"out of place {total[False] / 3600:.2f} h, ratio {total[True] / total[False]:.3f}; losses identical")


if __name__ == "__main__":
    main()
