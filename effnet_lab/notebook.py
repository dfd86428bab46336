"""The one setup call every lesson starts with: seeds, device, data location, quick mode."""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass
from pathlib import Path

QUICK_ENV = "EFFNET_LAB_QUICK"  # "1": small slices and short runs (CI sets it for nbval)
DATA_ENV = "EFFNET_LAB_DATA"    # a folder holding one folder per dataset: cifar10/, imagenet-subset/


def quick_mode() -> bool:
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def data_root() -> Path | None:
    """The folder named by EFFNET_LAB_DATA, or None when it is unset (data.py looks there first)."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else None


@dataclass(frozen=True)
class Setup:
    seed: int
    device: str
    quick: bool
    data_root: Path | None

    def __str__(self) -> str:
        import torch

        from . import __version__

        data = self.data_root if self.data_root is not None else f"not set (set {DATA_ENV})"
        return (f"effnet_lab {__version__} | torch {torch.__version__} | python {platform.python_version()}\n"
                f"device: {self.device} | quick mode: {'on' if self.quick else 'off'} | seed: {self.seed}\n"
                f"data: {data}")


def setup(seed: int = 0, device: str | None = None, threads: int | None = None) -> Setup:
    """Seed Python and torch, pick the device (CUDA, then MPS, then CPU) and report the settings.

    ``threads`` caps torch's CPU threads; quick mode (tests run two notebooks side by side on
    small machines) defaults to one, where oversubscribed threads would slow each other down.
    """
    import torch

    from .train import pick_device

    if threads is None and quick_mode():
        threads = 1
    if threads is not None:
        torch.set_num_threads(threads)
    random.seed(seed)
    torch.manual_seed(seed)
    return Setup(seed=seed, device=str(pick_device(device)), quick=quick_mode(), data_root=data_root())
