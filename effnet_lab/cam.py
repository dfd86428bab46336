"""Class activation maps (Zhou et al. 2016; the paper's Figure 7): where in the image a class is seen.

EfficientNet ends with global average pooling and one linear layer, so the logit of class c is

    logit_c = sum_k W[c, k] * mean_xy F[k, x, y] + b_c = mean_xy (sum_k W[c, k] * F[k, x, y]) + b_c

where F is the last feature map (``EfficientNet.features``). The map M_c = sum_k W[c, k] * F[k]
is the class activation map: its mean (plus the bias) *is* the logit, so it shows which places
pushed the prediction towards c. It has the feature map's size (input / 32), so it is coarse: a
64 px input gives a 2x2 map, 128 px a 4x4 one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .checks import Resolution
from .runtime import model_mode


@dataclass(frozen=True)
class ClassActivationMaps:
    """``maps`` (N, H, W) in [0, 1] at the input size; ``raw`` (N, h, w): M_c on the feature map,
    before ReLU and normalisation; ``classes`` (N,): the class each map is for; ``predicted`` (N,)
    and ``probabilities`` (N, num_classes): the model's softmax output."""

    maps: torch.Tensor
    raw: torch.Tensor
    classes: torch.Tensor
    predicted: torch.Tensor
    probabilities: torch.Tensor


def preprocess(images: torch.Tensor, resolution: Resolution) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> the float batch a model sees at evaluation: resized to
    ``resolution`` and normalised, exactly as ``loader.DeviceLoader`` does it (no augmentation)."""
    from .data import ImageTensors
    from .loader import DeviceLoader

    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"images must be a uint8 tensor (N, 3, H, W), got "
                         f"{getattr(images, 'dtype', type(images).__name__)} {tuple(getattr(images, 'shape', ()))}")
    data = ImageTensors(images.cpu(), torch.zeros(len(images), dtype=torch.int64), ["?"], "images")
    return torch.cat([x for x, _ in DeviceLoader(data, max(1, len(images)), resolution)])


def class_activation_maps(model: nn.Module, images: torch.Tensor,
                          classes: "int | Sequence[int] | torch.Tensor | None" = None) -> ClassActivationMaps:
    """The CAM of each image for ``classes`` (one per image, or one for all; default: the predicted class).

    ``model``: an ``EfficientNet`` (anything with ``features``, ``pool`` and a ``classifier``
    Linear); ``images``: the float batch the model takes (N, 3, H, W), already normalised (see
    ``preprocess``). Each map is M_c, ReLU'd, upsampled (bilinear) to H x W and scaled to [0, 1]
    (a map with nothing positive is all zeros). The model is evaluated in eval mode and left in the
    mode it was in.
    """
    for part in ("features", "pool", "classifier"):
        if not hasattr(model, part):
            raise ValueError(f"model must be an EfficientNet (with .features, .pool and .classifier); "
                             f"{type(model).__name__} has no .{part}")
    if not isinstance(model.classifier, nn.Linear):
        raise ValueError(f"model.classifier must be an nn.Linear, got {type(model.classifier).__name__}")
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4 \
            or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"images must be a float tensor (N, 3, H, W) with N >= 1, normalised as the model "
                         f"expects (uint8 images: use cam.preprocess first), got "
                         f"{getattr(images, 'dtype', type(images).__name__)} {tuple(getattr(images, 'shape', ()))}")
    n, num_classes = len(images), model.classifier.out_features
    with model_mode(model), torch.no_grad():
        feats = model.features(images)                                   # (N, C, h, w)
        logits = model.classifier(model.pool(feats).flatten(1))           # (N, num_classes)
    probabilities = logits.softmax(1)
    predicted = logits.argmax(1)
    if classes is None:
        chosen = predicted
    else:
        chosen = torch.as_tensor(classes).flatten().to(torch.int64)
        if chosen.numel() == 1:
            chosen = chosen.expand(n)
        if chosen.numel() != n:
            raise ValueError(f"classes must be one class index or one per image ({n}), got {chosen.numel()}")
        bad = chosen[(chosen < 0) | (chosen >= num_classes)]
        if bad.numel():
            raise ValueError(f"classes must be in [0, {num_classes - 1}] (the model has {num_classes} classes), "
                             f"got {bad.tolist()}")
        chosen = chosen.to(images.device)
    weights = model.classifier.weight.detach()[chosen]                      # (N, C)
    raw = torch.einsum("nc,nchw->nhw", weights, feats)                      # (N, h, w)
    maps = F.interpolate(raw.relu()[:, None], size=images.shape[2:], mode="bilinear",
                         align_corners=False)[:, 0]                         # (N, H, W)
    low = maps.flatten(1).min(1).values[:, None, None]
    span = maps.flatten(1).max(1).values[:, None, None] - low
    maps = torch.where(span > 0, (maps - low) / span.clamp(min=1e-12), torch.zeros_like(maps))
    return ClassActivationMaps(maps=maps, raw=raw, classes=chosen, predicted=predicted, probabilities=probabilities)


__all__ = ["ClassActivationMaps", "preprocess", "class_activation_maps"]
