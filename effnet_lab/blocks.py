"""The building blocks of EfficientNet, named after the paper's concepts.

Only plain ``nn.Conv2d``, ``nn.BatchNorm2d``, ``nn.SiLU``, ``nn.AdaptiveAvgPool2d`` and ``nn.Sigmoid``
are used (no subclasses), because FLOP counters such as ptflops match modules by exact type.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_finite
from .config import BlockSpec


class ConvBNAct(nn.Sequential):
    """Conv (no bias: BatchNorm follows) -> BatchNorm -> SiLU, padding (k - 1) // 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1,
                 groups: int = 1, activation: bool = True, bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=(kernel - 1) // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        if activation:
            # Not in place: SiLU's backward needs its input, so an in-place SiLU makes autograd copy
            # it first anyway. Out of place is the same arithmetic and memory, and training the sweeps'
            # networks on one CPU thread is 3-5 % faster (benchmarks/silu_inplace.py).
            self.act = nn.SiLU()


class SqueezeExcitation(nn.Module):
    """Channel attention: squeeze the map to one number per channel, gate every channel by it."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)  # with bias, unlike convs before BN
        self.act = nn.SiLU()
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.pool(x)                                  # (B, C, 1, 1)
        s = self.gate(self.expand(self.act(self.reduce(s))))  # (B, C, 1, 1), each in (0, 1)
        return x * s                                      # (B, C, H, W)


class StochasticDepth(nn.Module):
    """Drop the whole residual branch for a random subset of the *samples* while training.

    Kept branches are scaled by 1 / (1 - p) so the expected output equals the eval-mode output.
    Older code calls this "drop connect", which is a different technique.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = check_finite("p", p, minimum=0, maximum=0.999)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        keep.bernoulli_(survival)                         # (B, 1, 1, 1): one coin per sample
        return x * keep / survival

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck: expand 1x1 -> depthwise kxk -> SE -> project 1x1 (+ skip)."""

    def __init__(self, spec: BlockSpec, stochastic_depth: float = 0.0, bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1) -> None:
        super().__init__()
        self.spec = spec
        bn = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
        c, e = spec.in_channels, spec.expanded_channels
        # MBConv1 (expand ratio 1) has nothing to expand: the block starts at the depthwise conv.
        self.expand = ConvBNAct(c, e, 1, **bn) if spec.has_expand else None
        self.depthwise = ConvBNAct(e, e, spec.kernel, spec.stride, groups=e, **bn)
        self.se = SqueezeExcitation(e, spec.squeeze_channels) if spec.squeeze_channels else None
        # The projection is linear (no activation): the "linear bottleneck" of MobileNetV2.
        self.project = ConvBNAct(e, spec.out_channels, 1, activation=False, **bn)
        # Only a block whose input and output shapes match can add its input back.
        self.stochastic_depth = StochasticDepth(stochastic_depth) if spec.residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x   # (B, e, H, W)
        out = self.depthwise(out)                                # (B, e, H/s, W/s)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)                                  # (B, out, H/s, W/s)
        if self.stochastic_depth is not None:
            out = self.stochastic_depth(out) + x
        return out
