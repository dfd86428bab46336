"""Precision and memory layout per layer type: one training step (forward and backward) of each
kind of layer B0 is made of, in fp32, bf16 and fp16 autocast, NCHW and NHWC.

    python benchmarks/layer_precision.py [--device cuda] [--batch 128] [--resolution 32] [--repeats 20]

A 1x1 convolution (expand, project), a depthwise convolution and squeeze-and-excitation do very
different work per byte moved, so a precision or layout that helps one can slow another. The layers
are B0's stage-4 block at the given input size (80 -> 480 channels, 3x3 depthwise, SE to 20). Each
variant's steps run interleaved with the others' (A B C ... A B C ...), and the median is printed
with its ratio to fp32 NCHW. fp16 is tried on CUDA only, bf16 where the device supports it. A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from effnet_lab.blocks import ConvBNAct, SqueezeExcitation
from effnet_lab.runtime import device_name, pick_device


def layers(resolution: int) -> dict:
    """name -> (layer, input shape without the batch) for B0's stage 4 (stride 2 before it: 1/16 size)."""
    side = max(2, resolution // 16)
    return {
        "expand 1x1 (80->480)": (ConvBNAct(80, 480, 1), (80, side, side)),
        "depthwise 3x3 (480)": (ConvBNAct(480, 480, 3, groups=480), (480, side, side)),
        "squeeze-excite (480->20)": (SqueezeExcitation(480, 20), (480, side, side)),
        "project 1x1 (480->80)": (ConvBNAct(480, 80, 1, activation=False), (480, side, side)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default=None)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--resolution", type=int, default=32, help="the network's input size (default %(default)s)")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    for name, value in (("--batch", args.batch), ("--resolution", args.resolution), ("--repeats", args.repeats)):
        if value < 1:
            p.error(f"{name} must be >= 1, got {value}")
    device = pick_device(args.device)
    dtypes = {"fp32": None}
    if device.type != "cuda" or torch.cuda.is_bf16_supported():
        dtypes["bf16"] = torch.bfloat16
    if device.type == "cuda":
        dtypes["fp16"] = torch.float16
    layouts = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}
    print(f"{device_name(device)}, torch {torch.__version__}; batch {args.batch}, input {args.resolution} px, "
          f"median of {args.repeats} interleaved steps")
    for name, (layer, shape) in layers(args.resolution).items():
        variants = {}
        for lname, fmt in layouts.items():
            module = copy.deepcopy(layer).to(device).to(memory_format=fmt).train()  # one copy per layout
            x = torch.randn(args.batch, *shape, device=device).contiguous(memory_format=fmt).requires_grad_()
            for dname, dtype in dtypes.items():
                variants[f"{dname} {lname}"] = (module, x, dtype)

        def step(module: nn.Module, x: torch.Tensor, dtype) -> float:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            began = time.perf_counter()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = module(x)
            out.float().square().mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter() - began

        times = {v: [] for v in variants}
        for v in variants:  # warm-up: autotuning, first-call allocations
            step(*variants[v])
        for _ in range(args.repeats):
            for v in variants:
                times[v].append(step(*variants[v]))
        base = statistics.median(times["fp32 NCHW"])
        cells = ", ".join(f"{v} {1e3 * statistics.median(t):.3f} ms ({base / statistics.median(t):.2f}x)"
                          for v, t in times.items())
        print(f"{name}: {cells}", flush=True)


if __name__ == "__main__":
    main()
