"""One model on several devices: ``torchrun --nproc-per-node N -m effnet_lab train ...``.

torchrun starts N processes (ranks) and tells each its rank in the environment; ``process_group``
joins them (NCCL on CUDA GPUs, gloo on CPUs) and ``fit`` then trains with DistributedDataParallel:
every rank takes its slice of each global batch of the epoch's seeded permutation (``--batch-size``
stays the global batch, so the learning rate and the steps are those of one process), gradients are
averaged, BatchNorm statistics are those of the global batch (``sync_batchnorm``), and rank 0 alone
writes checkpoints and metrics. Without torchrun nothing here changes anything.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist
from torch import nn


def launched() -> bool:
    """Whether torchrun (or another launcher setting its variables) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> tuple[int, int]:
    """(processes, this one's rank) of the running process group; (1, 0) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def local_device(device: torch.device) -> torch.device:
    """The device of this rank: on CUDA, GPU ``LOCAL_RANK`` of this machine (one GPU per process)."""
    if device.type == "cuda" and launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


@contextlib.contextmanager
def process_group(device: torch.device):
    """Join torchrun's ranks for the block (a no-op in a single process); yields ``world()``."""
    if not launched():
        yield world()
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def sum_across(*tensors: torch.Tensor) -> None:
    """Sum each tensor over the ranks, in place (epoch totals: losses, correct predictions)."""
    for t in tensors:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)


class _SumAcross(torch.autograd.Function):
    """The sum of a tensor over the ranks, differentiable: the gradient of a sum is the sum of the
    ranks' gradients. (``torch.distributed.nn.functional.all_reduce`` did this and is deprecated;
    its named successor, ``_functional_collectives``, is private and has no autograd for it.)"""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d normalising with the statistics of the global batch, on any device. torch's
    ``SyncBatchNorm`` (used on CUDA) refuses CPU tensors, so on gloo the per-channel sums are added
    over the ranks (``_SumAcross``): the gradient flows back through the statistics to every rank,
    as it would in one process. The parameters and buffers are BatchNorm2d's, so checkpoints load
    into the plain model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        stats = _SumAcross.apply(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp(min=0)  # the biased variance, as BatchNorm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), momentum)  # the unbiased one, as BatchNorm keeps
        shape = (1, c, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every BatchNorm2d normalising over the global batch: torch's ``SyncBatchNorm``
    on CUDA, ``GlobalBatchNorm2d`` elsewhere. The layers are replaced in place (same parameters)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            bn = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                   child.track_running_stats).to(child.weight.device if child.affine else device)
            bn.load_state_dict(child.state_dict())
            bn.train(child.training)
            setattr(model, name, bn)
        else:
            sync_batchnorm(child, device)
    return model


def rng_states() -> list[torch.Tensor]:
    """Every rank's CPU random state (dropout, stochastic depth), for rank 0's checkpoint."""
    states: list = [None] * world()[0]
    dist.all_gather_object(states, torch.get_rng_state())
    return states
