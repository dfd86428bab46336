"""Configuration: paper Table 1 as data, the rounding rules, and compound scaling.

Pure Python on purpose (no torch): the cost model, the sliders and the tests read these
objects thousands of times a second, and a learner can explore them without a deep-learning stack.

The flow is one-way: a ``ModelConfig`` holds the *base* stage table (B0's seven MBConv rows) plus
multipliers; ``ModelConfig.stages`` is the *scaled* table derived from it. The model and the cost
model only ever read the scaled table, so there is exactly one place where scaling happens.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .checks import (Resolution, as_hw, check_fields, check_finite, check_positive_int, check_resolution, conv_out,
                     is_int)

if TYPE_CHECKING:  # pandas is only needed when a table is rendered
    import pandas as pd


# --------------------------------------------------------------------------------------------
# Rounding rules
# --------------------------------------------------------------------------------------------


def round_filters(channels: float, width_mult: float = 1.0, divisor: int = 8) -> int:
    """Scale a channel count and round it to a multiple of ``divisor`` (8 keeps hardware happy).

    Round to the nearest multiple (``+ divisor / 2`` then floor), never below ``divisor``, and
    never more than 10 % below the exact value: if rounding down lost more, add one ``divisor``.
    """
    exact = channels * width_mult
    rounded = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * exact:
        rounded += divisor
    return int(rounded)


def round_repeats(layers: int, depth_mult: float = 1.0) -> int:
    """Scale a stage's layer count: always *up* (ceil), so a stage never disappears."""
    return int(math.ceil(layers * depth_mult))


# --------------------------------------------------------------------------------------------
# One stage of Table 1
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    """One MBConv stage: ``layers`` blocks; only the first has the stride and the channel change."""

    expand_ratio: float
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    layers: int
    se_ratio: float = 0.25  # squeeze width = max(1, int(block input channels * se_ratio)); 0 = no SE

    def __post_init__(self) -> None:
        check_finite("StageSpec.expand_ratio", self.expand_ratio, minimum=1)
        if not is_int(self.kernel) or self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"StageSpec.kernel must be an odd positive integer (1, 3, 5, ...), "
                             f"got {self.kernel!r}")
        if not is_int(self.stride) or self.stride not in (1, 2):
            raise ValueError(f"StageSpec.stride must be 1 or 2, got {self.stride!r}")
        check_positive_int("StageSpec.in_channels", self.in_channels)
        check_positive_int("StageSpec.out_channels", self.out_channels)
        check_positive_int("StageSpec.layers", self.layers)
        check_finite("StageSpec.se_ratio", self.se_ratio, minimum=0, maximum=1)

    @property
    def operator(self) -> str:
        e = self.expand_ratio
        return f"MBConv{int(e) if float(e).is_integer() else e}, k{self.kernel}x{self.kernel}"

    def block(self, index: int) -> "BlockSpec":
        """Block ``index`` of this stage: block 0 has the stride and the channel change."""
        block_in = self.in_channels if index == 0 else self.out_channels
        return BlockSpec(
            in_channels=block_in,
            expanded_channels=round_filters(block_in * self.expand_ratio),
            squeeze_channels=max(1, int(block_in * self.se_ratio)) if self.se_ratio > 0 else 0,
            out_channels=self.out_channels,
            kernel=self.kernel,
            stride=self.stride if index == 0 else 1,
        )


@dataclass(frozen=True, kw_only=True)
class BlockSpec:
    """The exact widths of one MBConv block, as the model builds it and the cost model counts it."""

    in_channels: int
    expanded_channels: int
    squeeze_channels: int  # SE width follows the block *input*: B0 stage 3 goes 96 -> 4 -> 96; 0 = no SE
    out_channels: int
    kernel: int
    stride: int

    @property
    def has_expand(self) -> bool:
        return self.expanded_channels != self.in_channels

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


# Paper Table 1, stages 2-8 (stage 1 is the stem, stage 9 the head: see ModelConfig).
B0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(expand_ratio=1, kernel=3, stride=1, in_channels=32, out_channels=16, layers=1),
    StageSpec(expand_ratio=6, kernel=3, stride=2, in_channels=16, out_channels=24, layers=2),
    StageSpec(expand_ratio=6, kernel=5, stride=2, in_channels=24, out_channels=40, layers=2),
    StageSpec(expand_ratio=6, kernel=3, stride=2, in_channels=40, out_channels=80, layers=3),
    StageSpec(expand_ratio=6, kernel=5, stride=1, in_channels=80, out_channels=112, layers=3),
    StageSpec(expand_ratio=6, kernel=5, stride=2, in_channels=112, out_channels=192, layers=4),
    StageSpec(expand_ratio=6, kernel=3, stride=1, in_channels=192, out_channels=320, layers=1),
)

HEAD_RULES = ("torchvision", "tf")


# --------------------------------------------------------------------------------------------
# A whole network
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Everything that defines an EfficientNet: base table, multipliers, resolution, regularisers.

    ``stages``, ``stem_channels`` and ``head_channels`` are the *scaled* values derived from the
    base fields; the model and the cost model read only those.
    """

    base_stages: tuple[StageSpec, ...] = B0_STAGES
    base_stem_channels: int = 32
    base_head_channels: int = 1280
    stem_stride: int = 2
    width_mult: float = 1.0
    depth_mult: float = 1.0
    resolution: Resolution = 224
    dropout: float = 0.2
    stochastic_depth: float = 0.2  # drop rate of the *last* block; block i gets rate * i / N
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1  # PyTorch convention: TF's "momentum 0.99" is 0.01 here
    # "torchvision": head = base_head * scaled last stage / base last stage (4x for B0), so weights
    # transfer; "tf": round_filters(base_head * width_mult). Equal for B0-B7, not in general.
    head_rule: str = "torchvision"
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        stages = tuple(self.base_stages)
        if not stages or not all(isinstance(s, StageSpec) for s in stages):
            raise TypeError(f"base_stages must be a non-empty sequence of StageSpec, got {self.base_stages!r}")
        object.__setattr__(self, "base_stages", stages)
        for prev, nxt in zip(stages, stages[1:]):
            if prev.out_channels != nxt.in_channels:
                raise ValueError(f"base_stages do not chain: a stage ends with {prev.out_channels} "
                                 f"channels but the next starts with {nxt.in_channels}")
        check_positive_int("base_stem_channels", self.base_stem_channels)
        if self.base_stem_channels != stages[0].in_channels:
            raise ValueError(f"base_stem_channels ({self.base_stem_channels}) must equal the first "
                             f"stage's in_channels ({stages[0].in_channels})")
        check_positive_int("base_head_channels", self.base_head_channels)
        if not is_int(self.stem_stride) or self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride!r}")
        object.__setattr__(self, "width_mult", check_finite("width_mult", self.width_mult, positive=True))
        object.__setattr__(self, "depth_mult", check_finite("depth_mult", self.depth_mult, positive=True))
        object.__setattr__(self, "resolution", check_resolution(self.resolution))
        check_finite("dropout", self.dropout, minimum=0, maximum=0.999)
        check_finite("stochastic_depth", self.stochastic_depth, minimum=0, maximum=0.999)
        check_finite("bn_eps", self.bn_eps, positive=True)
        check_finite("bn_momentum", self.bn_momentum, minimum=0, maximum=1)
        if self.head_rule not in HEAD_RULES:
            raise ValueError(f"head_rule must be one of {HEAD_RULES}, got {self.head_rule!r}")

    # -- the derived (scaled) network ---------------------------------------------------------
    @cached_property
    def stages(self) -> tuple[StageSpec, ...]:
        """The scaled stage table: rounded channels, ceil-rounded layer counts."""
        return tuple(dataclasses.replace(
            s,
            in_channels=round_filters(s.in_channels, self.width_mult),
            out_channels=round_filters(s.out_channels, self.width_mult),
            layers=round_repeats(s.layers, self.depth_mult),
        ) for s in self.base_stages)

    @property
    def stem_channels(self) -> int:
        return self.stages[0].in_channels

    @property
    def head_channels(self) -> int:
        if self.head_rule == "tf":
            return round_filters(self.base_head_channels, self.width_mult)
        # torchvision: a fixed multiple of the last stage width (1280 / 320 = 4 for B0)
        return self.base_head_channels * self.stages[-1].out_channels // self.base_stages[-1].out_channels

    @property
    def num_blocks(self) -> int:
        return sum(s.layers for s in self.stages)

    @property
    def hw(self) -> tuple[int, int]:
        return as_hw(self.resolution)

    @property
    def network_key(self) -> tuple:
        """What the built network depends on, and nothing else: two configs with equal keys build
        the same layers from the same seed (e.g. width 0.25 and 0.258 round to the same channels),
        so training both would repeat one experiment. The name and the unrounded multipliers are not in it."""
        return (self.stages, self.stem_stride, self.stem_channels, self.head_channels, self.hw, self.dropout,
                self.stochastic_depth, self.bn_eps, self.bn_momentum)

    def replace(self, **changes: object) -> "ModelConfig":
        """A copy with some fields changed (validated like a new config)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            allowed = ", ".join(f.name for f in dataclasses.fields(self))
            raise TypeError(f"unknown ModelConfig field(s) {sorted(unknown)}; allowed: {allowed}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (checkpoints, results files); ``ModelConfig.from_dict`` inverts it."""
        d = dataclasses.asdict(self)
        d["base_stages"] = [dataclasses.asdict(s) for s in self.base_stages]
        d["resolution"] = list(self.resolution) if isinstance(self.resolution, tuple) else self.resolution
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """A config from ``to_dict``'s dict (a checkpoint's, a results line's). A field this version
        does not know is refused by name: ignoring it would build another network than was saved."""
        check_fields("config", d, cls)
        d = dict(d)
        stages = d.get("base_stages", ())
        if not isinstance(stages, (list, tuple)):
            raise ValueError(f"config base_stages must be a list of stage dicts, got {stages!r}")
        for s in stages:
            check_fields("config base_stages entry", s, StageSpec)
        d["base_stages"] = tuple(StageSpec(**s) for s in stages)
        if isinstance(d.get("resolution"), list):
            d["resolution"] = tuple(d["resolution"])
        return cls(**d)

    def table1(self) -> "pd.DataFrame":
        """All nine rows of paper Table 1 for this config (stem, seven MBConv stages, head)."""
        import pandas as pd

        h, w = self.hw
        res = lambda: f"{h}x{w}"  # noqa: E731 - reads like the paper's column
        rows = [dict(stage=1, operator="Conv3x3", in_resolution=res(), channels=self.stem_channels,
                     layers=1, stride=self.stem_stride)]
        h, w = conv_out(h, 3, self.stem_stride), conv_out(w, 3, self.stem_stride)
        for i, s in enumerate(self.stages, start=2):
            rows.append(dict(stage=i, operator=s.operator, in_resolution=res(), channels=s.out_channels,
                             layers=s.layers, stride=s.stride))
            h, w = conv_out(h, s.kernel, s.stride), conv_out(w, s.kernel, s.stride)
        rows.append(dict(stage=len(self.stages) + 2, operator="Conv1x1 & Pooling & FC", in_resolution=res(),
                         channels=self.head_channels, layers=1, stride=1))
        return pd.DataFrame(rows).set_index("stage")


# --------------------------------------------------------------------------------------------
# The published variants and compound scaling
# --------------------------------------------------------------------------------------------

# (width, depth, resolution, dropout) from the official TensorFlow code; the paper gives none.
PUBLISHED: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}

# Paper ImageNet top-1 (%), parameters and multiply-adds, for plots of "what the paper reports".
PAPER_TOP1 = {"b0": 77.1, "b1": 79.1, "b2": 80.1, "b3": 81.6, "b4": 82.9, "b5": 83.6, "b6": 84.0, "b7": 84.3}

PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA = 1.2, 1.1, 1.15

# torch.compile's modes, accepted by train.fit(compile=...) and `train --compile MODE` (kept here,
# torch-free, so the command line can list them without importing torch)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# train.fit's optimizers and learning-rate schedules (torch-free for the same reason)
OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "linear", "onecycle", "constant")
# The small-budget training recipe: train.fit's defaults, the sweeps' and the command line's (what
# each part buys is measured in results/README.md, "Training recipe"). lr None: 0.1 x batch / 128.
RECIPE = {"lr": None, "schedule": "cosine", "warmup_epochs": 1.0, "weight_decay": 5e-5, "label_smoothing": 0.1,
          "zero_init": True, "ema": 0.0, "recalibrate_bn": False, "tta": True}


def _variant_key(name: object) -> str:
    key = str(name).lower().strip()
    for prefix in ("efficientnet_", "efficientnet-"):
        key = key.removeprefix(prefix)
    if not isinstance(name, str) or key not in PUBLISHED:
        raise ValueError(f"unknown EfficientNet variant {name!r}; valid names: {', '.join(PUBLISHED)}")
    return key


def official_config(name: str, **overrides: object) -> ModelConfig:
    """The published B0-B7 configuration (torchvision's BatchNorm settings: eps 1e-3 from B5 on)."""
    key = _variant_key(name)
    width, depth, res, dropout = PUBLISHED[key]
    bn = dict(bn_eps=1e-3, bn_momentum=0.01) if key in ("b5", "b6", "b7") else {}
    cfg = ModelConfig(width_mult=width, depth_mult=depth, resolution=res, dropout=dropout, name=key, **bn)
    return cfg.replace(**overrides) if overrides else cfg


def flops_factor(alpha: float, beta: float, gamma: float) -> float:
    """alpha * beta^2 * gamma^2: how much one step of phi multiplies the FLOPs (ideally)."""
    return alpha * beta**2 * gamma**2


def compound_scaling(phi: float, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                     gamma: float = PAPER_GAMMA, base_resolution: Resolution | None = None,
                     base: ModelConfig | None = None, **overrides: object) -> ModelConfig:
    """Scale ``base`` (default: B0) by depth alpha^phi, width beta^phi, resolution gamma^phi.

    Any real phi works, negative too (models smaller than B0), as long as a float64 holds
    alpha^phi, beta^phi and gamma^phi (|phi| up to a few thousand). The resolution is rounded to the
    nearest integer; ``base_resolution`` defaults to the base config's (224 for B0). Dropout,
    stochastic depth and BatchNorm settings are the base's unless overridden.
    """
    phi = check_finite("phi", phi)
    alpha = check_finite("alpha", alpha, positive=True)
    beta = check_finite("beta", beta, positive=True)
    gamma = check_finite("gamma", gamma, positive=True)
    if base is None:
        base = ModelConfig(name="b0")
    elif not isinstance(base, ModelConfig):
        raise TypeError(f"base must be a ModelConfig, got {type(base).__name__}")
    h, w = as_hw(check_resolution(base.resolution if base_resolution is None else base_resolution,
                                  "base_resolution"))

    def scaled(start: float, name: str, coefficient: float) -> float:
        """start * coefficient^phi, or a ValueError where a float64 cannot hold it (phi = 10000)."""
        try:
            value = start * coefficient**phi
        except OverflowError:
            value = math.inf
        if not math.isfinite(value) or value == 0:
            raise ValueError(f"phi={phi:g} is out of range: {name}^phi = {coefficient:g}^{phi:g} is too "
                             f"{'large' if value else 'small'} for a float64; choose a phi nearer 0")
        return value

    size = (round(scaled(h, "gamma", gamma)), round(scaled(w, "gamma", gamma)))
    if min(size) < 1:
        raise ValueError(f"phi={phi:g} with gamma={gamma:g} shrinks the resolution {h}x{w} to "
                         f"{size[0]}x{size[1]} pixels; choose a larger phi (resolution must stay >= 1)")
    cfg = base.replace(
        width_mult=scaled(base.width_mult, "beta", beta),
        depth_mult=scaled(base.depth_mult, "alpha", alpha),
        resolution=size[0] if h == w else size,
        name=f"phi={phi:g}",
    )
    return cfg.replace(**overrides) if overrides else cfg


def config_from(name_or_config: "str | ModelConfig", **overrides: object) -> ModelConfig:
    """A variant name or a ModelConfig, with overrides applied (shared by model, cost and CLI)."""
    if isinstance(name_or_config, ModelConfig):
        return name_or_config.replace(**overrides) if overrides else name_or_config
    if isinstance(name_or_config, str):
        return official_config(name_or_config, **overrides)
    raise TypeError(f"expected a variant name ({', '.join(PUBLISHED)}) or a ModelConfig, "
                    f"got {type(name_or_config).__name__}")
