"""The one setup call every lesson starts with: seeds, device, data location, quick mode."""

from __future__ import annotations

import platform
import random
from dataclasses import dataclass
from pathlib import Path

from ..runtime import DATA_ENV, data_root, pick_device, quick_mode



@dataclass(frozen=True)
class Setup:
    seed: int
    device: str
    quick: bool
    data_root: Path | None

    @property
    def channels_last(self) -> bool | None:
        """The memory layout for a lesson's live training: NHWC on a CPU, where it trains these small
        models about 1.5x faster than NCHW (results/README.md, "Training recipe") and where the saved
        CPU sweeps ran in it too; elsewhere ``fit``'s own choice (None: NHWC on CUDA only)."""
        return True if self.device == "cpu" else None

    def __str__(self) -> str:
        import torch

        from .. import __version__

        # the folder is named, not its machine path, so saved notebook outputs carry no local paths
        data = (f"found (${DATA_ENV}, s.data_root)" if self.data_root is not None else f"not set (set {DATA_ENV})")
        return (f"effnet_lab {__version__} | torch {torch.__version__} | python {platform.python_version()}\n"
                f"device: {self.device} | quick mode: {'on' if self.quick else 'off'} | seed: {self.seed}\n"
                f"data: {data}")


def setup(seed: int = 0, device: str | None = None, threads: int | None = None) -> Setup:
    """Seed Python and torch, pick the device (CUDA, then MPS, then CPU) and report the settings.

    ``threads`` caps torch's CPU threads; quick mode (tests run two notebooks side by side on
    small machines) defaults to one, where oversubscribed threads would slow each other down.
    """
    import torch

    if threads is None and quick_mode():
        threads = 1
    if threads is not None:
        torch.set_num_threads(threads)
    random.seed(seed)
    torch.manual_seed(seed)
    return Setup(seed=seed, device=str(pick_device(device)), quick=quick_mode(), data_root=data_root())
