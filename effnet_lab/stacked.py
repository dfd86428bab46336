"""The seeds of one trial trained together as one network: ``stack``, ``unstack`` and ``fit_stacked``.

A sweep's networks are small, and a small network's step is bound by per-step overhead on a GPU,
not by arithmetic. K networks of one architecture can run as one: every layer holds the K models
side by side along the channel dimension. A convolution with g groups becomes one with K*g groups, a
BatchNorm over C channels one over K*C (it normalises each channel on its own, so each model keeps
its own statistics), the classifier a batched matrix product, and model k reads its own batch from
input channels 3k to 3k+2. Nothing mixes the models: each one's gradient is that of its own loss,
and SGD, weight decay and the weight average work element by element, so each model trains as it
would alone. Dropout and stochastic depth draw each model's coins from its own generator, seeded as
``fit`` seeds the global one and drawn in the same order, so on a CPU in float32 each model's
losses and weights equal those of its own ``fit`` to rounding (tested to 1e-5).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import StochasticDepth
from .checkpoints import restore_training, resume_state, training_options
from .config import RECIPE
from .data import ImageTensors
from .loader import DeviceLoader
from .recipe import WeightEMA, make_optimizer, make_schedule, recalibrate_bn_, zero_init_
from .runtime import atomic_save, pick_device
from .train import (EpochStats, History, _autocast, check_training, compiled, cudnn_autotune, grad_scaler,
                    uses_channels_last)


class StackedLinear(nn.Module):
    """K linear layers applied to the K slices of the features: (B, K*in) -> (B, K*out)."""

    def __init__(self, k: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.empty(k, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(k, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        x = x.reshape(b, self.k, -1).transpose(0, 1)                                # (K, B, in)
        out = torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))  # (K, B, out)
        return out.transpose(0, 1).reshape(b, -1)                                  # (B, K*out)


class _Coins(nn.Module):
    """Base of the stacked random layers: one generator per model, shared by every layer."""

    def __init__(self, p: float, generators: list) -> None:
        super().__init__()
        self.p, self.generators = p, generators

    def coins(self, shape: tuple, like: torch.Tensor, survival: float) -> torch.Tensor:
        """One tensor of ``shape`` per model, each filled by its generator as ``fit`` would fill it."""
        return torch.stack([torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(survival, generator=g)
                            for g in self.generators], dim=1)

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}, models={len(self.generators)}"


class StackedStochasticDepth(_Coins):
    """``blocks.StochasticDepth`` for K stacked models: one coin per sample and model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        keep = self.coins((x.shape[0], 1, 1, 1), x, survival)                  # (B, K, 1, 1, 1)
        return (x.unflatten(1, (len(self.generators), -1)) * keep / survival).flatten(1, 2)


class StackedDropout(_Coins):
    """``nn.Dropout`` on (B, K*C) features for K stacked models, with torch's arithmetic on a CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        noise = self.coins((x.shape[0], x.shape[1] // len(self.generators)), x, 1.0 - self.p)  # (B, K, C)
        return x * noise.flatten(1).div_(1.0 - self.p)


def _stacked_layer(layer: nn.Module, k: int, generators: list) -> "nn.Module | None":
    """The K-model version of one leaf layer, or None for a layer without weights or coins."""
    kind = type(layer)
    if kind is nn.Conv2d:
        return nn.Conv2d(k * layer.in_channels, k * layer.out_channels, layer.kernel_size, layer.stride,
                         layer.padding, layer.dilation, k * layer.groups, layer.bias is not None)
    if kind is nn.BatchNorm2d:
        return nn.BatchNorm2d(k * layer.num_features, layer.eps, layer.momentum)
    if kind is nn.Linear:
        return StackedLinear(k, layer.in_features, layer.out_features)
    if kind is StochasticDepth:
        return StackedStochasticDepth(layer.p, generators)
    if kind is nn.Dropout:
        return StackedDropout(layer.p, generators)
    if any(True for _ in layer.parameters(recurse=False)) or any(True for _ in layer.buffers(recurse=False)):
        raise TypeError(f"cannot stack a {kind.__name__}: only Conv2d, BatchNorm2d and Linear hold weights here")
    return None


def _replace_layers(module: nn.Module, k: int, generators: list) -> None:
    for name, child in module.named_children():
        new = _stacked_layer(child, k, generators) if not list(child.children()) else None
        if new is None:
            _replace_layers(child, k, generators)
        else:
            setattr(module, name, new)


def stack(models: "list[nn.Module]", generators: "list[torch.Generator] | None" = None) -> nn.Module:
    """One network that computes ``models`` (same architecture and classes) at once: input (B, K*3, H, W)
    (model k's images in channels 3k..3k+2), output (B, K*classes). Weights are copied in; with
    ``generators`` (one per model) its dropout and stochastic depth draw from them."""
    if not models:
        raise ValueError("models must hold at least one model to stack")
    shapes = {k: v.shape for k, v in models[0].state_dict().items()}
    for i, m in enumerate(models[1:], start=1):
        if {k: v.shape for k, v in m.state_dict().items()} != shapes:
            raise ValueError(f"models[{i}] is not the architecture of models[0]: only seeds of one network stack")
    generators = generators if generators is not None else [torch.default_generator] * len(models)
    if len(generators) != len(models):
        raise ValueError(f"generators: one per model, got {len(generators)} for {len(models)} models")
    k = len(models)
    net = copy.deepcopy(models[0])
    _replace_layers(net, k, generators)
    ours = net.state_dict()
    states = [m.state_dict() for m in models]
    with torch.no_grad():
        for key, target in ours.items():
            parts = [s[key] for s in states]
            if target.dim() == 0:  # BatchNorm's step counter: one for all (the models step together)
                target.copy_(parts[0])
            else:
                target.copy_(torch.stack(parts) if target.dim() > parts[0].dim() else torch.cat(parts))
    net.stacked_models = k
    return net


def unstack(net: nn.Module, models: "list[nn.Module]") -> "list[nn.Module]":
    """Copy the K models' weights and statistics out of ``stack``'s ``net`` into ``models``."""
    k = getattr(net, "stacked_models", None)
    if k != len(models):
        raise ValueError(f"net stacks {k} models, got {len(models)} to copy into")
    ours = net.state_dict()
    with torch.no_grad():
        for i, m in enumerate(models):
            for key, target in m.state_dict().items():
                t = ours[key]
                t = t if t.dim() == 0 else t[i] if t.dim() > target.dim() else t.chunk(k)[i]
                target.copy_(t)
    return models


def fit_stacked(models: "list[nn.Module]", train: ImageTensors, epochs: int = 10, *, seeds: "list[int]",
                batch_size: int = 128, lr: float | None = RECIPE["lr"], optimizer: str = "sgd",
                schedule: str = RECIPE["schedule"], weight_decay: float = RECIPE["weight_decay"],
                label_smoothing: float = RECIPE["label_smoothing"], warmup_epochs: float = RECIPE["warmup_epochs"],
                zero_init: bool = RECIPE["zero_init"], ema: float = RECIPE["ema"],
                recalibrate_bn: bool = RECIPE["recalibrate_bn"], resolution=None,
                device: "str | torch.device | None" = None, amp: bool = True, channels_last: bool | None = None,
                compile: "bool | str" = False, checkpoint: "str | Path | None" = None,
                progress: bool = True) -> "list[History]":
    """Train each of ``models`` (seeds of one network) as ``fit(models[i], train, None, epochs,
    seed=seeds[i], ...)`` would, all at once as one stacked network; return their histories. Each
    model then holds its trained weights (the weight average with ``ema``), ready for ``evaluate``.

    The options are ``fit``'s and mean the same; there is no validation set (evaluate each model
    after) and one process (no torchrun). Each epoch's ``seconds`` in a history is its share, 1/K,
    of the epoch's wall time, and ``images_per_second`` counts all K models' images. A ``checkpoint``
    is saved atomically after every epoch and resumed as ``fit`` resumes."""
    received = dict(locals())
    from tqdm.auto import tqdm

    from . import distributed

    epochs, batch_size, lr, weight_decay, label_smoothing, warmup_epochs, ema = check_training(
        epochs, batch_size, optimizer, schedule, lr, weight_decay, label_smoothing, warmup_epochs, ema,
        {"zero_init": zero_init, "recalibrate_bn": recalibrate_bn}, compile)
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(models) or not seeds:
        raise ValueError(f"seeds: one per model, got {len(seeds)} for {len(models)} models")
    if distributed.world()[0] > 1:
        raise ValueError("fit_stacked trains in one process; under torchrun use fit")
    if len(train) < batch_size:
        raise ValueError(f"batch_size ({batch_size}) must not exceed the {len(train)} training images")
    dev = pick_device(device)
    channels_last = uses_channels_last(dev, channels_last)
    res = resolution if resolution is not None else models[0].config.resolution
    k = len(models)

    if zero_init:
        for m in models:
            zero_init_(m)
    generators = [torch.Generator(device=dev).manual_seed(s) for s in seeds]
    net = stack(models, generators).to(dev)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    averaged = WeightEMA(net, ema) if ema > 0 else None
    loaders = [DeviceLoader(train, batch_size, res, dev, train=True, seed=s, channels_last=channels_last)
               for s in seeds]
    opt = make_optimizer(optimizer, list(net.parameters()), lr, weight_decay)
    sched = make_schedule(schedule, opt, epochs * len(loaders[0]), int(warmup_epochs * len(loaders[0])))
    scaler = grad_scaler(dev, amp)
    histories, start = [History() for _ in models], 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        options = training_options(models[0], received, lr, res, train)
    if path is not None and path.exists():
        state = resume_state(path, dev, options)
        restore_training(state, net, opt, sched, averaged, scaler)
        for g, s in zip(generators, state["generators"]):
            g.set_state(s.cpu())
        histories, start = [History.from_dicts(h) for h in state["history"]], state["epoch"]

    step_fn = compiled(net, compile)
    with cudnn_autotune(dev):
        for epoch in range(start, epochs):
            for loader in loaders:
                loader.set_epoch(epoch)
            net.train()
            began = time.perf_counter()
            loss_sum = torch.zeros(k, device=dev)
            correct = torch.zeros(k, device=dev, dtype=torch.int64)
            seen = 0
            for batches in tqdm(zip(*loaders), total=len(loaders[0]), desc=f"epoch {epoch + 1}/{epochs}",
                                disable=not progress, leave=False):
                x = torch.cat([b[0] for b in batches], dim=1)   # (B, K*3, H, W)
                y = torch.stack([b[1] for b in batches], dim=1)  # (B, K)
                with _autocast(dev, amp):
                    logits = step_fn(x).float().unflatten(1, (k, -1))  # (B, K, classes)
                    # each model's mean loss, summed: each gradient is that of its model's own loss
                    losses = F.cross_entropy(logits.transpose(1, 2), y, label_smoothing=label_smoothing,
                                             reduction="none").mean(0)  # (K,)
                opt.zero_grad(set_to_none=True)
                scaler.scale(losses.sum()).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
                if averaged is not None:
                    averaged.update(net)
                loss_sum += losses.detach() * len(y)
                correct += (logits.argmax(2) == y).sum(0)
                seen += len(y)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - began
            judged = averaged.model if averaged is not None else net
            if recalibrate_bn and epoch == epochs - 1:
                for loader in loaders:
                    loader.set_epoch(epochs)
                recalibrate_bn_(judged, ((torch.cat([b[0] for b in bs], dim=1), None) for bs in zip(*loaders)))
            for i, h in enumerate(histories):
                h.epochs.append(EpochStats(
                    epoch=epoch + 1, train_loss=loss_sum[i].item() / seen, train_accuracy=correct[i].item() / seen,
                    val_loss=None, val_accuracy=None, lr=opt.param_groups[0]["lr"], seconds=seconds / k,
                    images_per_second=k * seen / seconds,
                    peak_memory_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None))
            if progress:
                losses_text = ", ".join(f"{h.final.train_loss:.3f}" for h in histories)
                tqdm.write(f"epoch {epoch + 1}/{epochs}: losses {losses_text}, {k * seen / seconds:.0f} img/s")
            if path is not None:
                atomic_save({"model": net.state_dict(), "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                             "rng": torch.get_rng_state(), "generators": [g.get_state() for g in generators],
                             "epoch": epoch + 1, "epochs": epochs, "history": [h.to_dicts() for h in histories],
                             "options": options, **({"ema": averaged.state_dict()} if averaged is not None else {}),
                             **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {})},
                            path)
    unstack(averaged.model if averaged is not None else net, models)
    return histories
