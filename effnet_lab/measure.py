"""Measurements on a built model: ptflops' counts, forward latency, and the activation memory a
training step keeps. ``cost.analytic_cost`` predicts the same quantities without building anything;
``benchmarks/cost_vs_ptflops.py`` and the tests hold the two against each other.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .checks import Resolution, as_hw, check_positive_int, check_resolution
from .cost import Cost
from .runtime import model_mode

if TYPE_CHECKING:
    import torch
    from torch import nn


def _input_hw(model: "nn.Module", resolution: Resolution | None) -> tuple[int, int]:
    if resolution is None:
        config = getattr(model, "config", None)
        if config is None:
            raise ValueError("resolution is required for a model without a .config")
        return config.hw
    return as_hw(check_resolution(resolution))



def ptflops_cost(model: "nn.Module", resolution: Resolution | None = None, backend: str = "aten") -> Cost:
    """Count with ptflops on a copy of ``model`` (batch 1), so the caller's model is untouched.

    ``backend="aten"`` counts convolutions and matmuls (the paper's convention); ``"pytorch"`` also
    counts BatchNorm, activations and pooling. Raises instead of returning None on failure.
    """
    from ptflops import get_model_complexity_info

    if backend not in ("aten", "pytorch"):
        raise ValueError(f"backend must be 'aten' or 'pytorch', got {backend!r}")
    h, w = _input_hw(model, resolution)
    if backend == "pytorch" and any(p.is_meta for p in model.parameters()):
        raise ValueError("ptflops' pytorch backend miscounts models on the meta device (it counts the "
                         "classifier twice); build the model on the CPU, or use backend='aten'")
    # ptflops leaves hooks behind (aten) and switches to eval mode: give it a throwaway copy.
    probe = copy.deepcopy(model).eval()
    macs, params = get_model_complexity_info(probe, (3, h, w), as_strings=False, backend=backend,
                                             print_per_layer_stat=False, verbose=False)
    if macs is None or params is None:
        raise RuntimeError(f"ptflops ({backend} backend) failed to count {type(model).__name__} at {h}x{w}")
    return Cost(macs=int(macs), params=int(params), resolution=(h, w), source=f"ptflops-{backend}")



def measure_activation_bytes(model: "nn.Module", resolution: Resolution | None = None) -> int:
    """Bytes that one more image adds to what autograd keeps for backward in a training step.

    Counted exactly with saved-tensor hooks (each storage once, parameters excluded), as the
    difference between a batch of 3 and a batch of 2 (a batch of 1 cannot train BatchNorm on a
    1x1 map), so it works on any device. A GPU's peak adds gradients, optimizer state and slack.
    """
    import torch

    h, w = _input_hw(model, resolution)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    device = next(model.parameters()).device

    def saved_bytes(batch_size: int) -> int:
        storages: dict[int, int] = {}

        def pack(t: "torch.Tensor") -> "torch.Tensor":
            storage = t.untyped_storage()
            if storage.data_ptr() not in params:
                storages[storage.data_ptr()] = storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(torch.randn(batch_size, 3, h, w, device=device))
        del out
        return sum(storages.values())

    with model_mode(model, training=True):
        state = copy.deepcopy(model.state_dict())  # training steps update BatchNorm running statistics
        try:
            return saved_bytes(3) - saved_bytes(2)
        finally:
            model.load_state_dict(state)



@dataclass(frozen=True)
class Latency:
    """Wall-clock forward time of one batch, in milliseconds."""

    median_ms: float
    samples_ms: tuple[float, ...]
    device: str
    batch_size: int
    resolution: tuple[int, int]

    @property
    def spread_ms(self) -> float:
        return max(self.samples_ms) - min(self.samples_ms)



def synchronizer(device: "torch.device"):
    """What waits for ``device`` to finish its queued work: a GPU (CUDA or Apple's MPS) runs
    asynchronously, so a clock read without it measures how fast work is queued, not done."""
    import torch

    if device.type == "cuda":
        return torch.cuda.synchronize
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def latency(model: "nn.Module", resolution: Resolution | None = None, device: "str | None" = None,
            batch_size: int = 1, warmup: int = 3, repeats: int = 10) -> Latency:
    """Median forward latency (eval mode, no autograd) on ``device`` (default: where the model is)."""
    import torch

    h, w = _input_hw(model, resolution)
    batch_size = check_positive_int("batch_size", batch_size)
    repeats = check_positive_int("repeats", repeats)
    warmup = check_positive_int("warmup", warmup, minimum=0)
    home = next(model.parameters()).device
    dev = torch.device(device) if device is not None else home
    with model_mode(model):
        try:
            model.to(dev)
            x = torch.randn(batch_size, 3, h, w, device=dev)
            sync = synchronizer(dev)
            samples = []
            with torch.inference_mode():
                for i in range(warmup + repeats):
                    sync()
                    start = time.perf_counter()
                    model(x)
                    sync()
                    if i >= warmup:
                        samples.append((time.perf_counter() - start) * 1e3)
        finally:
            model.to(home)  # the caller's model stays where it was
    return Latency(statistics.median(samples), tuple(samples), str(dev), batch_size, (h, w))
