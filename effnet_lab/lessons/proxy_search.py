"""Lesson 07: a tiny random search over MBConv stage choices, scored by the NAS objective.

Cost comes from ``analytic_cost`` (exact); accuracy from a *proxy* (``training_proxy``: a few dozen
SGD steps on two CIFAR classes), which ranks candidates only roughly. The objective itself is
``effnet_lab.nas``; this module is lesson material on top of it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..checks import check_finite, is_int, is_real
from ..config import ModelConfig
from ..nas import W_SOFT, check_w, objective

if TYPE_CHECKING:
    import pandas as pd


# The search starts from B0's table at a quarter width and 32 px, so a candidate trains in seconds
# on a CPU. No dropout or stochastic depth (a few dozen steps do not overfit), and BatchNorm
# momentum 0.3 so the running statistics catch up within those few steps.
SEARCH_BASE = ModelConfig(width_mult=0.25, resolution=32, dropout=0.0, stochastic_depth=0.0, bn_momentum=0.3,
                          name="search-base")
KERNELS = (3, 5)
EXPAND_RATIOS = (1, 4, 6)
LAYER_DELTAS = (-1, 0, 1)   # layers of a stage = B0's layers + delta, never below 1
PROXY_CLASSES = ("airplane", "frog")


def _choices(name: str, values: object, allowed: str, valid) -> tuple:
    try:
        values = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be a non-empty sequence of {allowed}, got {values!r}") from None
    if not values or not all(valid(v) for v in values):
        raise ValueError(f"{name} must be a non-empty sequence of {allowed}, got {values!r}")
    return tuple(dict.fromkeys(values))  # drop repeats, keep order


def stage_choices_config(base: ModelConfig, kernels: Sequence[int], expand_ratios: Sequence[float],
                         layers: Sequence[int]) -> ModelConfig:
    """``base`` with new kernel, expansion and layer count for each of its base stages (seven for B0).

    Channels and strides stay those of the base table: the search changes only what MnasNet's
    per-stage search space changes."""
    stages = base.base_stages
    for name, values in (("kernels", kernels), ("expand_ratios", expand_ratios), ("layers", layers)):
        if len(values) != len(stages):
            raise ValueError(f"{name} must have one entry per stage ({len(stages)}), got {len(values)}: {values!r}")
    new = tuple(dataclasses.replace(s, kernel=k, expand_ratio=e, layers=n)
                for s, k, e, n in zip(stages, kernels, expand_ratios, layers))
    return base.replace(base_stages=new, name="candidate")


def random_stage_search(n_candidates: int, proxy: "Callable[[ModelConfig], float] | None" = None, *,
                        base: ModelConfig = SEARCH_BASE, kernels: Sequence[int] = KERNELS,
                        expand_ratios: Sequence[float] = EXPAND_RATIOS, layer_deltas: Sequence[int] = LAYER_DELTAS,
                        target: float | None = None, w: float = W_SOFT, num_classes: int = 2, seed: int = 0,
                        include_base: bool = True, log: "Callable[[str], None] | None" = None) -> "pd.DataFrame":
    """Sample ``n_candidates`` stage tables around ``base`` and score each with the soft objective.

    For every stage of ``base``: a kernel from ``kernels``, an expansion ratio from ``expand_ratios``
    and ``base layers + delta`` layers (delta from ``layer_deltas``, at least 1). Candidate 0 is the
    base table itself when ``include_base``. Cost comes from ``analytic_cost`` (exact); accuracy from
    ``proxy(config)`` -- a cheap stand-in such as ``training_proxy``, *not* a real accuracy. With
    ``proxy=None`` the score is cost only, ``(MACs / T)^w``, and the accuracy column is NaN.
    ``target`` T defaults to the base table's MACs (at the base's width and resolution), so a
    candidate costing what the base costs pays no penalty.

    Returns one row per candidate, best score first: ``kernels``, ``expand``, ``layers`` (one entry
    per stage), ``blocks``, ``macs``, ``mmacs``, ``params``, ``accuracy``, ``score``, ``config``.
    Same seed, same candidates.
    """
    import random

    import pandas as pd

    from ..cost import analytic_cost

    if not is_int(n_candidates) or n_candidates < 1:
        raise ValueError(f"n_candidates must be an integer >= 1, got {n_candidates!r}")
    if proxy is not None and not callable(proxy):
        raise ValueError(f"proxy must be None (cost-only score) or a callable config -> accuracy in [0, 1], "
                         f"got {proxy!r}")
    if not isinstance(base, ModelConfig):
        raise ValueError(f"base must be a ModelConfig, got {base!r}")
    kernels = _choices("kernels", kernels, "odd positive integers (e.g. 3, 5)",
                       lambda k: is_int(k) and k >= 1 and k % 2 == 1)
    expand_ratios = _choices("expand_ratios", expand_ratios, "real numbers >= 1 (e.g. 1, 4, 6)",
                             lambda e: is_real(e) and math.isfinite(e) and e >= 1)
    layer_deltas = _choices("layer_deltas", layer_deltas, "integers (e.g. -1, 0, 1)", is_int)
    w = check_w(w)
    if not is_int(num_classes) or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    if not is_int(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    base_macs = analytic_cost(base, num_classes=num_classes).macs
    target = base_macs if target is None else check_finite("target", target, positive=True)

    rng = random.Random(seed)
    stages = base.base_stages
    space = len(kernels) * len(expand_ratios) * len(layer_deltas)
    distinct = space ** len(stages)
    if n_candidates > distinct:
        raise ValueError(f"n_candidates must be <= {distinct} (the size of this search space), got {n_candidates}")
    seen, picks = set(), []
    if include_base:
        picks.append(tuple((s.kernel, s.expand_ratio, s.layers) for s in stages))
        seen.add(picks[0])
    while len(picks) < n_candidates:
        pick = tuple((rng.choice(kernels), rng.choice(expand_ratios), max(1, s.layers + rng.choice(layer_deltas)))
                     for s in stages)
        if pick not in seen:
            seen.add(pick)
            picks.append(pick)

    rows = []
    for i, pick in enumerate(picks):
        ks, es, ls = zip(*pick)
        config = stage_choices_config(base, ks, es, ls).replace(name=f"candidate {i}")
        cost = analytic_cost(config, num_classes=num_classes)
        accuracy = float("nan") if proxy is None else float(proxy(config))
        score = objective(1.0 if proxy is None else accuracy, cost.macs, target, w)
        rows.append(dict(candidate=i, kernels=ks, expand=tuple(int(e) if float(e).is_integer() else e for e in es),
                         layers=ls, blocks=config.num_blocks, macs=cost.macs, mmacs=cost.macs / 1e6,
                         params=cost.params, accuracy=accuracy, score=score, config=config))
        if log is not None:
            what = "cost only" if proxy is None else f"proxy accuracy {accuracy:.3f}"
            log(f"candidate {i}: {cost.macs / 1e6:.2f} MMACs, {what}, score {score:.4f}")
    table = pd.DataFrame(rows).set_index("candidate")
    table.attrs.update(target=target, w=w, base_macs=base_macs, proxy=proxy is not None, seed=seed)
    return table.sort_values("score", ascending=False, kind="stable")


def proxy_task(data: str = "cifar10", classes: Sequence[str] = PROXY_CLASSES, per_class: int = 100,
               test_per_class: int = 100, seed: int = 0):
    """A small two-class slice for the accuracy proxy: (train, test) ImageTensors relabelled 0..k-1.

    Ten classes in a few dozen steps stay at chance; two distinct classes do not."""
    import torch

    from ..data import ImageTensors, load

    train, test = load(data, "train"), load(data, "test")
    missing = [c for c in classes if c not in train.classes]
    if len(classes) < 2 or missing:
        raise ValueError(f"classes must name at least two classes of {data}, got {tuple(classes)!r}; "
                         f"allowed: {train.classes}")

    def pick(d: "ImageTensors", n: int) -> "ImageTensors":
        d = d.subset(n, seed)
        wanted = [d.classes.index(c) for c in classes]
        keep = torch.isin(d.labels, torch.tensor(wanted))
        labels = torch.tensor([wanted.index(int(v)) for v in d.labels[keep]], dtype=torch.int64)
        return ImageTensors(d.images[keep], labels, list(classes), f"{d.source}[{', '.join(classes)}]")

    return pick(train, per_class), pick(test, test_per_class)


def training_proxy(train, test, *, epochs: int = 4, batch_size: int = 25, lr: float = 0.05, seed: int = 0,
                   device=None) -> "Callable[[ModelConfig], float]":
    """An accuracy PROXY: train a fresh model for a few dozen SGD steps, return its test accuracy.

    Cheap and noisy (another seed moves it by several points): it ranks candidates only roughly.
    MnasNet's proxy trained each candidate for 5 epochs on ImageNet; this one, seconds on a CPU."""
    import torch

    from ..model import EfficientNet
    from ..train import evaluate, fit

    def proxy(config: ModelConfig) -> float:
        torch.manual_seed(seed)
        model = EfficientNet(config, num_classes=len(train.classes))
        fit(model, train, None, epochs, batch_size=batch_size, lr=lr, warmup_epochs=0.0, seed=seed,
            device=device, progress=False)
        return float(evaluate(model, test, device=device)["accuracy"])

    return proxy
