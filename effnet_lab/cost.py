"""What a configuration costs, counted in closed form: MACs, FLOPs, parameters, activation memory.

``analytic_cost`` counts in closed form from the scaled stage table, without building a model:
the totals take microseconds, so a slider can redraw on every move. Its headline ``macs`` follow
the paper's convention: multiply-accumulates of convolutions and the linear layer (biases
included), which is what the paper calls "FLOPs", what ptflops' ``aten`` backend reports and what
torchvision lists as "GFLOPS". ``flops`` is 2 x ``macs``, the convention of
``torch.utils.flop_counter``. ``grid_cost`` gives the same totals for a whole grid of scaling
coefficients at once. ``measure.py`` measures these quantities (and latency) on a built model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Callable, NamedTuple

from .checks import Resolution, check_finite, check_positive_int, check_resolution, conv_out
from .config import ModelConfig, config_from

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

F32 = 4  # bytes per float32
# The most rows ``Cost.layers`` builds (B7 has about 800; 100,000 take about a second and 50 MB)
MAX_LAYER_ROWS = 100_000


class Layer(NamedTuple):
    """One operation of the network as the cost model sees it (per image)."""

    stage: int          # paper Table 1 row: 1 = stem, 2-8 = MBConv stages, 9 = head
    block: int          # block index within the stage (0 for stem and head)
    name: str           # module path in our model, e.g. "stages.1.0.depthwise.conv"
    op: str             # conv, dwconv, bn, silu, pool, se-conv, linear, mul
    out_shape: tuple[int, int, int]  # (C, H, W) after the operation
    macs: int           # conv/linear multiply-accumulates incl. bias: the paper's convention
    params: int
    other_ops: int      # what ptflops' pytorch backend adds: BN 2/elem, SiLU 1/elem, pool 2/elem
    saved_bytes: int    # what autograd keeps for backward in training (float32 activations)


# ---------------------------------------------------------------------------------------------
# Closed-form counting, layer by layer. One function per kind of layer; blocks are lists of them.
# ---------------------------------------------------------------------------------------------


def _op(stage: int, block: int, name: str, op: str, out_shape: tuple[int, int, int], *, macs: int = 0,
        params: int = 0, other_ops: int = 0, saved_bytes: int = 0) -> Layer:
    """A ``Layer`` by name: every count not given is zero."""
    return Layer(stage, block, name, op, out_shape, macs, params, other_ops, saved_bytes)


def _conv(stage, block, name, c_in, c_out, k, s, h, w, groups=1, bias=False, op="conv"):
    ho, wo = conv_out(h, k, s), conv_out(w, k, s)
    weights = k * k * (c_in // groups) * c_out
    macs = weights * ho * wo + (c_out * ho * wo if bias else 0)
    # a conv keeps its input for the weight gradient
    return _op(stage, block, name, op, (c_out, ho, wo), macs=macs, params=weights + (c_out if bias else 0),
               saved_bytes=F32 * c_in * h * w)


def _conv_bn_act(stage, block, name, c_in, c_out, k, s, h, w, groups=1, act=True):
    conv = _conv(stage, block, f"{name}.conv", c_in, c_out, k, s, h, w, groups,
                 op="dwconv" if groups > 1 else "conv")
    c, ho, wo = conv.out_shape
    n = c * ho * wo
    # BatchNorm keeps its input (and per-channel statistics, which do not grow with the batch and
    # are left out); SiLU keeps its input too (its gradient is computed from it).
    layers = [conv, _op(stage, block, f"{name}.bn", "bn", conv.out_shape, params=2 * c, other_ops=2 * n,
                        saved_bytes=F32 * n)]
    if act:
        layers.append(_op(stage, block, f"{name}.act", "silu", conv.out_shape, other_ops=n, saved_bytes=F32 * n))
    return layers


def _mbconv(stage, block, name, spec, h, w, drop_rate):
    layers: list[Layer] = []
    c, e = spec.in_channels, spec.expanded_channels
    if spec.has_expand:
        layers += _conv_bn_act(stage, block, f"{name}.expand", c, e, 1, 1, h, w)
    layers += _conv_bn_act(stage, block, f"{name}.depthwise", e, e, spec.kernel, spec.stride, h, w,
                           groups=e)
    _, h, w = layers[-1].out_shape
    n = e * h * w
    if spec.squeeze_channels:
        sq = spec.squeeze_channels
        layers += [
            # ptflops counts adaptive pooling twice (module hook + patched functional)
            _op(stage, block, f"{name}.se.pool", "pool", (e, 1, 1), other_ops=2 * n),
            _conv(stage, block, f"{name}.se.reduce", e, sq, 1, 1, 1, 1, bias=True, op="se-conv"),
            _op(stage, block, f"{name}.se.act", "silu", (sq, 1, 1), other_ops=sq, saved_bytes=F32 * sq),
            _conv(stage, block, f"{name}.se.expand", sq, e, 1, 1, 1, 1, bias=True, op="se-conv"),
            _op(stage, block, f"{name}.se.gate", "sigmoid", (e, 1, 1), saved_bytes=F32 * e),
            # x * gate keeps both factors (the gate is already counted): a second full-size map
            _op(stage, block, f"{name}.se.mul", "mul", (e, h, w), saved_bytes=F32 * n),
        ]
    layers += _conv_bn_act(stage, block, f"{name}.project", e, spec.out_channels, 1, 1, h, w, act=False)
    if spec.residual and drop_rate > 0:  # one float per image: the stochastic-depth coin
        layers.append(_op(stage, block, f"{name}.stochastic_depth", "mul", layers[-1].out_shape, saved_bytes=F32))
    return layers


def _network_layers(config: ModelConfig, num_classes: int, repeats: bool) -> list[tuple[list[Layer], int]]:
    """Groups of layers with a multiplicity. With ``repeats=False`` every block is listed once;
    with ``repeats=True`` the identical blocks after a stage's first share one group (fast totals)."""
    h, w = config.hw
    stem = _conv_bn_act(1, 0, "stem", 3, config.stem_channels, 3, config.stem_stride, h, w)
    groups = [(stem, 1)]
    _, h, w = stem[-1].out_shape
    block_id, n_blocks = 0, config.num_blocks
    for s, stage in enumerate(config.stages):
        def block(b, h, w):
            rate = config.stochastic_depth * (block_id + b) / n_blocks  # the model's linear schedule
            return _mbconv(s + 2, b, f"stages.{s}.{b}", stage.block(b), h, w, rate)

        first = block(0, h, w)
        groups.append((first, 1))
        _, h, w = first[-1].out_shape
        if stage.layers > 1 and repeats:
            groups.append((block(1, h, w), stage.layers - 1))
        elif stage.layers > 1:
            groups += [(block(b, h, w), 1) for b in range(1, stage.layers)]
        block_id += stage.layers
    c_last, c_head = config.stages[-1].out_channels, config.head_channels
    head_stage = len(config.stages) + 2
    linear = c_head * num_classes + num_classes   # weights and biases: as many MACs as parameters
    head = _conv_bn_act(head_stage, 0, "head", c_last, c_head, 1, 1, h, w)
    head += [
        _op(head_stage, 0, "pool", "pool", (c_head, 1, 1), other_ops=2 * c_head * h * w),
        # dropout keeps its mask (float32 on the CPU; CUDA's fused kernel keeps one byte per value)
        _op(head_stage, 0, "dropout", "dropout", (c_head, 1, 1), saved_bytes=F32 * c_head if config.dropout > 0 else 0),
        _op(head_stage, 0, "classifier", "linear", (num_classes, 1, 1), macs=linear, params=linear,
            saved_bytes=F32 * c_head),
    ]
    groups.append((head, 1))
    return groups


# ---------------------------------------------------------------------------------------------
# The result object
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """MACs, parameters and (for analytic counts) per-layer detail of one model at one resolution.

    ``macs``: multiply-accumulates per image as ``source`` counts them; ``flops`` = 2 x ``macs``.
    For ``source="analytic"``, ``macs`` follows the paper (conv + linear, biases included) and
    ``ptflops_pytorch_macs`` adds BatchNorm, SiLU and pooling the way ptflops' default backend does.
    """

    macs: int
    params: int
    resolution: tuple[int, int]
    source: str = "analytic"
    other_ops: int | None = None
    activation_bytes: int | None = None  # float32 tensors kept for backward, per image
    config: ModelConfig | None = field(default=None, repr=False)
    num_layers: int | None = None  # rows of the per-layer table (analytic counts only)
    _layers: Callable[[], list[Layer]] | None = field(default=None, repr=False, compare=False)
    # per Table 1 row: (macs, params, other_ops, saved_bytes), counted in closed form
    _stage_totals: dict[int, tuple[int, int, int, int]] | None = field(default=None, repr=False, compare=False)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def ptflops_pytorch_macs(self) -> int | None:
        return None if self.other_ops is None else self.macs + self.other_ops

    @cached_property
    def layers(self) -> "pd.DataFrame":
        """Every operation: stage, block, module name, output shape, MACs, params, saved floats."""
        import pandas as pd

        if self._layers is None:
            raise AttributeError(f"a {self.source} cost has totals only; per-layer tables come from "
                                 f"analytic_cost")
        if self.num_layers > MAX_LAYER_ROWS:  # a deep phi lists billions of blocks: never ends
            raise ValueError(f"{self.config.name} has {self.num_layers:,} layers, more than the {MAX_LAYER_ROWS:,} "
                             f"a per-layer table lists; read the per-stage table (cost.stages) instead")
        return pd.DataFrame(self._layers(), columns=Layer._fields)

    @cached_property
    def stages(self) -> "pd.DataFrame":
        """Paper Table 1 for this config (nine rows: stem, MBConv stages, head) with each row's cost."""
        if self.config is None:
            raise AttributeError(f"a {self.source} cost has totals only; per-stage tables come from "
                                 f"analytic_cost")
        import pandas as pd

        totals = pd.DataFrame.from_dict(self._stage_totals, orient="index",
                                        columns=["macs", "params", "other_ops", "saved_bytes"])
        table = self.config.replace(resolution=self.resolution).table1().join(totals)
        table["macs_share"] = table.macs / table.macs.sum()
        table["activation_MB"] = table.pop("saved_bytes") / 1e6
        return table


def analytic_cost(config: "ModelConfig | str", resolution: Resolution | None = None,
                  num_classes: int = 1000) -> Cost:
    """Count MACs, parameters and training activation memory in closed form (no model, no tensor).

    ``resolution`` overrides the config's (an int or an (H, W) pair); costs are per image.
    """
    config = config_from(config)
    if resolution is not None:
        config = config.replace(resolution=check_resolution(resolution))
    num_classes = check_positive_int("num_classes", num_classes)

    # A stage's blocks after its first are identical, so each group of layers is counted once and
    # multiplied: totals and the per-stage table cost the same at any depth (Python ints: exact).
    stages: dict[int, list[int]] = {}
    num_layers = 0
    for layers, times in _network_layers(config, num_classes, repeats=True):
        row = stages.setdefault(layers[0].stage, [0, 0, 0, 0])
        for layer in layers:
            row[0] += times * layer.macs
            row[1] += times * layer.params
            row[2] += times * layer.other_ops
            row[3] += times * layer.saved_bytes
        num_layers += times * len(layers)
    macs, params, other, saved = (sum(row[i] for row in stages.values()) for i in range(4))
    for name, total in (("MACs", macs), ("parameters", params), ("activation bytes", saved)):
        try:  # shares, megabytes and plots are floats: a count beyond float64 cannot be shown
            float(total)
        except OverflowError:
            digits = int(total.bit_length() * 0.30103)  # log10(2): the power of ten
            raise ValueError(f"{config.name} counts about 10^{digits} {name}, beyond the range of a float64 "
                             f"(about 1.8e308); choose a smaller phi or resolution") from None

    def every_layer() -> list[Layer]:
        return [layer for layers, _ in _network_layers(config, num_classes, repeats=False) for layer in layers]

    return Cost(macs=macs, params=params, resolution=config.hw, other_ops=other, activation_bytes=saved,
                config=config, num_layers=num_layers, _layers=every_layer,
                _stage_totals={stage: tuple(row) for stage, row in stages.items()})


def solve_for_macs(make_config: Callable[[float], ModelConfig], target_macs: float, lo: float, hi: float,
                   num_classes: int = 1000, iterations: int = 60) -> float:
    """The smallest x in [lo, hi] with ``analytic_cost(make_config(x)).macs >= target_macs``.

    MACs grow with a width, depth, resolution or phi multiplier, but in steps (channels round to
    multiples of 8, layers and pixels to integers), so an exact match rarely exists: bisection
    finds where the staircase crosses the target. Used to match MAC budgets and to find the
    effective phi of a published variant.
    """
    check_finite("target_macs", target_macs, positive=True)
    target = float(target_macs)
    macs = lambda x: analytic_cost(make_config(x), num_classes=num_classes).macs  # noqa: E731
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo!r}, hi={hi!r}")
    if macs(lo) >= target:
        return lo
    if macs(hi) < target:
        raise ValueError(f"target_macs={target_macs:,.0f} is above the {macs(hi):,} MACs reached at "
                         f"hi={hi!r}; widen the search range")
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if macs(mid) >= target else (mid, hi)
    return hi


# ---------------------------------------------------------------------------------------------
# The same count for a whole grid of coefficients at once
# ---------------------------------------------------------------------------------------------


def grid_cost(alpha, beta, gamma, phi, base: ModelConfig | None = None,
              num_classes: int = 1000) -> dict[str, "np.ndarray"]:
    """MACs and parameters of ``compound_scaling(phi, alpha, beta, gamma, base=base)`` for every point
    of a grid: the four arguments broadcast against each other (numbers, lists or arrays).

    A second, vectorised implementation of ``analytic_cost``'s totals (tested equal point by point):
    the rounding rules run as numpy array ops (no torch), so a 200 x 200 map, or the explorer's
    MACs-against-phi curve, takes milliseconds. Returns int64 arrays ``macs``, ``params``,
    ``height``, ``width`` and float64 ``width_mult``, ``depth_mult``; a grid with a point beyond
    int64's range is refused (ValueError).
    """
    import numpy as np

    base = base if base is not None else ModelConfig()
    num_classes = check_positive_int("num_classes", num_classes)
    a, b, g, p = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (alpha, beta, gamma, phi)))
    for name, v in (("alpha", a), ("beta", b), ("gamma", g)):
        if not (np.isfinite(v).all() and (v > 0).all()):
            raise ValueError(f"{name} must hold finite real numbers > 0, got {v[~(np.isfinite(v) & (v > 0))][:3]}")
    if not np.isfinite(p).all():
        raise ValueError(f"phi must hold finite real numbers, got {p[~np.isfinite(p)][:3]}")
    # numpy's float64 power is the C library's, like Python's **: the multipliers match compound_scaling
    with np.errstate(over="ignore"):  # an overflow becomes inf, which the range check below refuses
        width_mult, depth_mult = base.width_mult * b**p, base.depth_mult * a**p
        h0, w0 = base.hw
        scale = g**p
        exact_hw = np.round(h0 * scale), np.round(w0 * scale)
    if (exact_hw[0] < 1).any() or (exact_hw[1] < 1).any():
        raise ValueError("some grid points shrink the resolution below 1 pixel; raise phi or gamma")

    def count(dtype):
        """The totals with every integer held as ``dtype``: int64 (exact) or float64 (the range check)."""
        height, width = (x.astype(dtype) for x in exact_hw)
        h, w = height, width

        def round_channels(c):  # round_filters, as array ops
            exact = c * width_mult if isinstance(c, int) else c.astype(np.float64)
            r = np.maximum(np.floor(exact + 4).astype(dtype) // 8 * 8, 8)
            return np.where(r < 0.9 * exact, r + 8, r)

        def out(size, k, s):
            return (size + 2 * ((k - 1) // 2) - k) // s + 1

        c = round_channels(base.base_stem_channels)
        h, w = out(h, 3, base.stem_stride), out(w, 3, base.stem_stride)
        macs = 27 * c * h * w
        params = 27 * c + 2 * c
        for spec in base.base_stages:
            c_out = round_channels(spec.out_channels)
            layers = np.ceil(spec.layers * depth_mult).astype(dtype)
            for first in (True, False):
                c_in = c if first else c_out
                s = spec.stride if first else 1
                e = round_channels(c_in * spec.expand_ratio)
                sq = np.maximum(np.floor(c_in * spec.se_ratio).astype(dtype), 1)
                se = 2 * e * sq + sq + e if spec.se_ratio > 0 else 0  # two biased 1x1 convs on a 1x1 map
                ho, wo = out(h, spec.kernel, s), out(w, spec.kernel, s)
                expand = np.where(e != c_in, c_in * e, 0)                # MBConv1 has no expansion conv
                block_macs = expand * h * w + spec.kernel**2 * e * ho * wo + se + e * c_out * ho * wo
                block_params = (expand + np.where(e != c_in, 2 * e, 0) + spec.kernel**2 * e + 2 * e
                                + se + e * c_out + 2 * c_out)
                times = 1 if first else layers - 1
                macs = macs + times * block_macs
                params = params + times * block_params
                if first:
                    h, w = ho, wo
            c = c_out
        head = (base.base_head_channels * c // base.base_stages[-1].out_channels if base.head_rule == "torchvision"
                else round_channels(base.base_head_channels))
        macs = macs + c * head * h * w + head * num_classes + num_classes
        params = params + c * head + 2 * head + head * num_classes + num_classes
        return macs, params, height, width

    # int64 wraps around past 2^63 without a word (phi = 40 gave 3.7e18 for 7.7e19): count in float64
    # first, within ~1e-13 of the exact value, and refuse the points that come near the limit. Every
    # intermediate is a part of these nonnegative sums, so none of them wraps either.
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are refused just below
        approx = np.stack(np.broadcast_arrays(*count(np.float64)))
    too_big = ~(approx < 2.0**62).all(0)  # NaN (from an inf) counts as too big
    if too_big.any():
        i = int(np.flatnonzero(too_big)[0])
        at = ", ".join(f"{n}={v.flatten()[i]:g}" for n, v in (("alpha", a), ("beta", b), ("gamma", g), ("phi", p)))
        macs = float(approx[0].flatten()[i])
        size = f"about {macs:.3g} MACs" if math.isfinite(macs) else "beyond float64's range"
        raise ValueError(f"grid_cost counts in int64, which holds up to 9.2e18: {int(too_big.sum())} of "
                         f"{too_big.size} grid point(s) go beyond (first: {at}, {size}); analytic_cost "
                         f"counts those exactly")
    macs, params, height, width = (np.asarray(x) for x in count(np.int64))
    return {"macs": macs, "params": params, "height": height, "width": width,
            "width_mult": width_mult, "depth_mult": depth_mult}
