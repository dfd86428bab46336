"""EfficientNet assembled from a ModelConfig, and the weight import from torchvision."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from .blocks import ConvBNAct, MBConv
from .checks import check_positive_int
from .config import ModelConfig, config_from


class EfficientNet(nn.Module):
    """Stem -> seven MBConv stages -> head (1x1 conv, pool, dropout, linear).

    The network reads only the config's *scaled* table (``config.stages``); it never sees a
    multiplier. It works at any input size; ``config.resolution`` is what the cost model and the
    data pipeline use.
    """

    def __init__(self, config: ModelConfig, num_classes: int = 1000) -> None:
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise TypeError(f"config must be a ModelConfig, got {type(config).__name__}")
        self.config = config
        self.num_classes = check_positive_int("num_classes", num_classes)
        _check_memory(config, self.num_classes)
        bn = dict(bn_eps=config.bn_eps, bn_momentum=config.bn_momentum)

        self.stem = ConvBNAct(3, config.stem_channels, 3, config.stem_stride, **bn)
        n_blocks, block_id = config.num_blocks, 0
        stages = []
        for stage in config.stages:
            blocks = []
            for i in range(stage.layers):
                # stochastic depth grows linearly with depth: 0 for the first block
                p = config.stochastic_depth * block_id / n_blocks
                blocks.append(MBConv(stage.block(i), p, **bn))
                block_id += 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ConvBNAct(config.stages[-1].out_channels, config.head_channels, 1, **bn)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.head_channels, self.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's scheme, so a model trained from scratch here behaves like theirs.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, before pooling (used for class activation maps)."""
        x = self.stem(x)        # (B, 32, H/2, W/2) for B0
        x = self.stages(x)      # (B, 320, H/32, W/32)
        return self.head(x)     # (B, 1280, H/32, W/32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)  # (B, 1280)
        return self.classifier(self.dropout(x))     # (B, num_classes)


def _check_memory(config: ModelConfig, num_classes: int) -> None:
    """Refuse, by its size, a model whose float32 weights alone exceed this machine's memory: building
    it would take minutes before failing, or end the process (phi = 30: 1.4 TB). The meta device
    (no memory) builds anything."""
    import os

    from .cost import analytic_cost

    get_default = getattr(torch, "get_default_device", None)  # torch >= 2.3
    if get_default is not None and get_default().type == "meta":
        return
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: no way to tell
        return
    params = analytic_cost(config, num_classes=num_classes).params
    if 4 * params > memory:
        raise ValueError(f"EfficientNet {config.name} with {num_classes} classes has {params:,} parameters: "
                         f"{4 * params / 2**30:,.0f} GiB of float32 weights, more than this machine's "
                         f"{memory / 2**30:,.0f} GiB of memory; choose a smaller model")


def efficientnet(name_or_config: "str | ModelConfig", num_classes: int = 1000,
                 **overrides: object) -> EfficientNet:
    """``efficientnet("b3", num_classes=10)`` or ``efficientnet(config, dropout=0.0)``."""
    return EfficientNet(config_from(name_or_config, **overrides), num_classes)


# --------------------------------------------------------------------------------------------
# torchvision weight import
# --------------------------------------------------------------------------------------------


def _conv_bn_names(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.conv.": f"{theirs}.0.", f"{ours}.bn.": f"{theirs}.1."}


def torchvision_names(model: EfficientNet) -> dict[str, str]:
    """Our state-dict key -> torchvision's key, for every tensor of ``model``."""
    prefixes = _conv_bn_names("stem", "features.0")
    for s, stage in enumerate(model.stages):
        for b, block in enumerate(stage):
            ours, theirs = f"stages.{s}.{b}", f"features.{s + 1}.{b}.block"
            k = 0  # torchvision numbers the parts of a block; the expand conv may be missing
            if block.expand is not None:
                prefixes |= _conv_bn_names(f"{ours}.expand", f"{theirs}.{k}")
                k += 1
            prefixes |= _conv_bn_names(f"{ours}.depthwise", f"{theirs}.{k}")
            k += 1
            if block.se is not None:
                prefixes[f"{ours}.se.reduce."] = f"{theirs}.{k}.fc1."
                prefixes[f"{ours}.se.expand."] = f"{theirs}.{k}.fc2."
                k += 1
            prefixes |= _conv_bn_names(f"{ours}.project", f"{theirs}.{k}")
    prefixes |= _conv_bn_names("head", f"features.{len(model.stages) + 1}")
    prefixes["classifier."] = "classifier.1."

    names = {}
    for key in model.state_dict():
        prefix = key[: key.rindex(".") + 1]
        names[key] = prefixes[prefix] + key[len(prefix):]
    return names


def load_torchvision_weights(model: EfficientNet, state_dict: "Mapping[str, torch.Tensor] | nn.Module",
                             ) -> EfficientNet:
    """Copy a torchvision EfficientNet state dict into ``model``; check everything before copying.

    Every entry must be a tensor with data (not a numpy array, not on the meta device) whose name,
    shape and kind of dtype (floating point or integer) line up with ours (a B3 state dict does not
    load into a B0). On any mismatch a ValueError names the first mismatching entries and the model
    is left untouched.
    """
    if isinstance(state_dict, nn.Module):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of tensors (or a torchvision model), "
                        f"got {type(state_dict).__name__}")
    names = torchvision_names(model)
    ours = model.state_dict()
    missing = [t for t in names.values() if t not in state_dict]
    unexpected = sorted(set(state_dict) - set(names.values()))
    given = {o: state_dict[t] for o, t in names.items() if t in state_dict}
    not_tensor = [f"{names[o]} ({type(v).__module__}.{type(v).__name__})" for o, v in given.items()
                  if not isinstance(v, torch.Tensor)]
    tensors = {o: v for o, v in given.items() if isinstance(v, torch.Tensor)}
    no_data = [names[o] for o, v in tensors.items() if v.is_meta or v.layout != torch.strided]
    wrong_shape = [f"{names[o]} (torchvision {tuple(v.shape)}, ours {tuple(ours[o].shape)})"
                   for o, v in tensors.items() if tuple(v.shape) != tuple(ours[o].shape)]
    # a float copied into an integer buffer truncates; an integer into a weight is no weight
    wrong_dtype = [f"{names[o]} (torchvision {v.dtype}, ours {ours[o].dtype})" for o, v in tensors.items()
                   if v.is_floating_point() != ours[o].is_floating_point() or v.is_complex()]
    problems = []
    for found, what, sep in ((missing, "tensor(s) missing", ", "), (unexpected, "unexpected tensor(s)", ", "),
                             (not_tensor, "entr(ies) not a torch.Tensor", "; "),
                             (no_data, "tensor(s) without data (meta device or sparse)", ", "),
                             (wrong_shape, "shape mismatch(es)", "; "), (wrong_dtype, "dtype mismatch(es)", "; ")):
        if found:
            problems.append(f"{len(found)} {what}, first: {sep.join(found[:3])}")
    if problems:
        raise ValueError(
            f"state_dict does not match this model (config {model.config.name!r}, "
            f"{model.num_classes} classes): " + " | ".join(problems)
            + ". Is it the same variant and number of classes? The model was left unchanged.")
    # converted first (a no-op where device and dtype already agree), so the copies below cannot fail half-way
    converted = {o: v.to(device=ours[o].device, dtype=ours[o].dtype) for o, v in tensors.items()}
    with torch.no_grad():
        for o, v in converted.items():
            ours[o].copy_(v)
    return model
