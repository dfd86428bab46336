"""effnet_lab: a small, exact EfficientNet library for learning compound scaling.

Configuration (pure Python) is always available; the model and measurement functions import torch
on first use, so ``import effnet_lab`` stays fast and works in a torch-free environment.

The layers point one way (tests/test_imports.py checks it): checks -> config -> cost -> blocks ->
model -> measure; runtime (devices, folders, atomic writes, provenance) -> data -> loader -> recipe,
checkpoints, distributed -> train -> stacked (a trial's seeds as one network); experiments (settings, plans) -> store (results) -> sweeps,
runners; nas, cam; the command line (``cli``, ``__main__``) on top. ``effnet_lab.lessons`` is the
lesson kit above it all (setup, state, figures, explorers, exercises); nothing in the library imports it.
"""

from .config import (
    B0_STAGES,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    PAPER_TOP1,
    PUBLISHED,
    BlockSpec,
    ModelConfig,
    StageSpec,
    compound_scaling,
    flops_factor,
    official_config,
    round_filters,
    round_repeats,
)
from .cost import Cost, analytic_cost

__version__ = "0.1.0"

_LAZY = {  # name -> module; these need torch
    "EfficientNet": "model", "efficientnet": "model", "load_torchvision_weights": "model",
    "MBConv": "blocks", "SqueezeExcitation": "blocks", "StochasticDepth": "blocks", "ConvBNAct": "blocks",
    "ptflops_cost": "measure", "latency": "measure", "measure_activation_bytes": "measure",
    "fit": "train", "evaluate": "train", "fit_stacked": "stacked",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'effnet_lab' has no attribute {name!r}")


__all__ = sorted([
    "B0_STAGES", "PAPER_ALPHA", "PAPER_BETA", "PAPER_GAMMA", "PAPER_TOP1", "PUBLISHED", "BlockSpec",
    "ModelConfig", "StageSpec", "compound_scaling", "flops_factor", "official_config", "round_filters",
    "round_repeats", "Cost", "analytic_cost", *_LAZY,
])
