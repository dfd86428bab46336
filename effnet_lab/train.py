"""Training and evaluation (fit / evaluate): device choice, mixed precision, checkpoints."""

from __future__ import annotations

import torch


def pick_device(device: "str | torch.device | None" = None) -> torch.device:
    """The requested device, else the best available: CUDA, then Apple's MPS, then the CPU."""
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
