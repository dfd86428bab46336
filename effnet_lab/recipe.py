"""The training recipe's parts: the optimizer, the learning-rate schedule, and the small-budget pieces.

``fit`` puts them together. What each small-budget piece buys is measured in results/README.md
("Training recipe"): ``zero_init_`` starts every residual branch and the classifier at zero,
``WeightEMA`` keeps an exponential moving average of the weights for evaluation,
``recalibrate_bn_`` recomputes the BatchNorm statistics after training, and ``predict`` with
``tta`` averages the logits of an image and its mirror.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from .blocks import MBConv
from .checks import check_finite


def make_optimizer(name: str, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """``name`` (sgd: with Nesterov momentum, rmsprop: the paper's, adamw) over ``params``."""
    # no weight decay on BatchNorm and biases: decaying them only hurts small models
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    if name == "rmsprop":  # the paper's: decay 0.9, momentum 0.9, TF's epsilon 1e-3
        return torch.optim.RMSprop(groups, lr=lr, alpha=0.9, momentum=0.9, eps=1e-3)
    return torch.optim.AdamW(groups, lr=lr)


def make_schedule(name: str, optimizer, total_steps: int, warmup_steps: int):
    """A linear warm-up over ``warmup_steps``, then ``name`` (cosine, linear, constant) to
    ``total_steps``; or one-cycle, which warms up over the same steps. Stepped once per batch."""
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total_steps,
            pct_start=max(warmup_steps, 1) / total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if name == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if name == "linear":  # straight down to zero at the last step
            return 1.0 - progress
        return 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class WeightEMA:
    """An exponential moving average of a model's weights and BatchNorm statistics, for evaluation.

    After update n (counting from 1) every floating-point tensor t of the copy becomes
    ``d * t + (1 - d) * current`` with ``d = min(decay, n / (n + 9))``: the warm-up keeps the
    average from remembering the random initialisation when a run has only a few hundred steps.
    Integer buffers (BatchNorm's batch counter) are copied. (``torch.optim.swa_utils.AveragedModel``
    has no such warm-up, and its ``use_buffers`` averages integer buffers too, so this is written out.)
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = check_finite("ema", decay, minimum=0, maximum=1)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    def _pairs(self, model: nn.Module):
        """(ours, theirs) lists of floating-point and of other tensors, built once per model: its
        tensors are updated in place by the optimizer, so the same references serve every step."""
        if getattr(self, "_source", None) is not model:
            ours, theirs = self.model.state_dict(), model.state_dict()
            split = {True: ([], []), False: ([], [])}
            for k in ours:
                split[ours[k].is_floating_point()][0].append(ours[k])
                split[ours[k].is_floating_point()][1].append(theirs[k])
            self._source, self._split = model, split
        return self._split

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, self.updates / (self.updates + 9))
        split = self._pairs(model)
        torch._foreach_lerp_(*split[True], 1.0 - d)
        for a, b in zip(*split[False]):
            a.copy_(b)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


def zero_init_(model: nn.Module) -> nn.Module:
    """Zero the last BatchNorm's scale in every residual branch and the classifier's weights and bias:
    each residual block then starts as the identity, and the first predictions give every class the
    same odds (first loss ln C), so early steps are not spent undoing a random start."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, MBConv) and m.stochastic_depth is not None:  # the blocks with a skip
                nn.init.zeros_(m.project.bn.weight)
        classifier = getattr(model, "classifier", None)
        if isinstance(classifier, nn.Linear):
            nn.init.zeros_(classifier.weight)
            nn.init.zeros_(classifier.bias)
    return model


@torch.no_grad()
def recalibrate_bn_(model: nn.Module, batches) -> nn.Module:
    """Recompute every BatchNorm's running mean and variance as the plain average over ``batches``
    (an iterable of (images, labels)) with the weights as they are now, instead of the moving
    average that training left, which after a few hundred steps still remembers early weights.
    Dropout and stochastic depth stay off (eval mode), so the statistics are those of the eval-time
    network; the model is left in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average, every batch weighted alike
        m.train()
    try:
        for x, _ in batches:
            model(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
            m.eval()
    return model


def predict(model: nn.Module, x: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Logits of ``model`` for the batch ``x``; with ``tta``, the mean of x's and its mirror image's."""
    logits = model(x).float()
    if tta:
        logits = (logits + model(x.flip(-1)).float()) / 2
    return logits

