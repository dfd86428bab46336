"""Batches made on the training device: cut, augmented, resized and normalised there.

``DeviceLoader`` copies a decoded set (``data.ImageTensors``, uint8) to the device once; each epoch
is a seeded permutation, and each batch is cropped and flipped at random (training), resized to
the model's resolution and normalised *on the device*. Resizing a 32x32 image to a model's 64x64
resolution is one interpolation of a batch on the GPU, not a CPU transform per image. The random
draws are made on the CPU, so a seed gives the same batches on every device.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator

import torch
import torch.nn.functional as F

from .checks import Resolution, as_hw, check_positive_int, check_resolution

if TYPE_CHECKING:
    from .data import ImageTensors

# Channel statistics of ImageNet, as torchvision's pretrained weights expect; fine for CIFAR too.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def draw_crop_flip(batch: int, padding: int, generator: torch.Generator) -> torch.Tensor:
    """The random part of ``random_crop_flip`` for one batch, drawn on the CPU so that a seed gives
    the same augmentation on every device: (3, batch) int64 rows dy, dx, flip."""
    dy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    flip = torch.rand(batch, generator=generator) < 0.5
    return torch.stack([dy, dx, flip.long()])


def crop_flip(x: torch.Tensor, padding: int, draws: torch.Tensor) -> torch.Tensor:
    """Crop each image of a zero-padded batch at (dy, dx) and flip it where ``flip``; ``draws`` is
    ``draw_crop_flip``'s (3, B), on x's device. Everything here runs on the device."""
    padded = F.pad(x, (padding,) * 4)
    if x.device.type != "cpu":
        return gather_crop_flip(padded, draws, x.shape[2], x.shape[3])
    # One slice per image: on a CPU the gather takes about 2x as long at 32 px and 11x at 224 px
    # (benchmarks/crop_flip.py); on a GPU it is one kernel where slicing would be 2B launches.
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    for i, (top, left, mirror) in enumerate(draws.T.tolist()):
        crop = padded[i, :, top:top + x.shape[2], left:left + x.shape[3]]
        out[i] = crop.flip(-1) if mirror else crop
    return out


def gather_crop_flip(padded: torch.Tensor, draws: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``crop_flip`` as one gather over the padded batch (the same values): the path for GPUs."""
    b = padded.shape[0]
    dy, dx, flip = draws[0], draws[1], draws[2].bool()
    rows = dy[:, None] + torch.arange(h, device=padded.device)                   # (B, H)
    cols = torch.arange(w, device=padded.device).expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + dx[:, None]           # (B, W)
    batch = torch.arange(b, device=padded.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]                   # (B, H, W, C)
    # contiguous NCHW, as the CPU path gives (the loader sets the layout the model wants)
    return out.permute(0, 3, 1, 2).contiguous()


def random_crop_flip(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Per-sample random crop of a zero-padded batch and random horizontal flip, on x's device."""
    return crop_flip(x, padding, draw_crop_flip(x.shape[0], padding, generator).to(x.device))


class DeviceLoader:
    """Batches of a decoded set, produced on ``device``: float, augmented, resized, normalised.

    The whole uint8 set is copied to the device once (CIFAR-10 is 150 MB). Each epoch is a seeded
    permutation; ``len()`` is the number of batches.
    """

    def __init__(self, data: ImageTensors, batch_size: int, resolution: Resolution,
                 device: "str | torch.device" = "cpu", train: bool = False, seed: int = 0,
                 padding: int | None = None, channels_last: bool = False, part: tuple[int, int] = (0, 1)) -> None:
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.part = part  # (rank, ranks): a training loader yields slice ``rank`` of each global batch
        self.resolution = as_hw(check_resolution(resolution))
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.classes = data.classes
        self.train = train
        self.seed = seed
        h = data.image_size[0]
        self.padding = max(1, round(h / 8)) if padding is None else padding  # 4 px at 32 px, as for CIFAR
        self.channels_last = channels_last
        self.mean = torch.tensor(MEAN, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(STD, device=self.device).view(1, 3, 1, 1) * 255
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.train and n >= self.batch_size else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = len(self.labels), self.batch_size
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(n, generator=generator) if self.train else torch.arange(n)
        augment = self.train and self.padding > 0
        if augment:  # every batch's crops and flips, drawn in the order batch-by-batch drawing takes them
            draws = torch.cat([draw_crop_flip(len(order[i * bs:(i + 1) * bs]), self.padding, generator)
                               for i in range(len(self))], dim=1).to(self.device)
        # One copy to the device per epoch, not per batch: copying a CPU tensor to a CUDA device
        # waits for the GPU to finish its queue, so per-batch copies would stall every step.
        order = order.to(self.device)
        rank, ranks = self.part if self.train else (0, 1)
        share = bs // ranks
        for i in range(len(self)):
            lo, hi = (i * bs + rank * share, i * bs + (rank + 1) * share) if ranks > 1 else (i * bs, (i + 1) * bs)
            index = order[lo:hi]
            x = self.images[index]                                            # (B, 3, h, w) uint8
            if augment:
                x = crop_flip(x, self.padding, draws[:, lo:hi])
            x = x.float()
            if tuple(x.shape[2:]) != self.resolution:
                up = self.resolution[0] > x.shape[2]
                x = F.interpolate(x, size=self.resolution, mode="bilinear", align_corners=False,
                                  antialias=not up)                            # (B, 3, H, W)
            x = (x - self.mean) / self.std
            x = x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
            yield x, self.labels[index]
