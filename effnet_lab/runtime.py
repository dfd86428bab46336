"""The runtime environment every layer shares: which device, where data, caches and results live,
how files are written (atomically), where a result came from (provenance), and the mode a model
runs in while it is measured (``model_mode``).

Standard library only at import time; torch is imported inside the functions that need it, so
``store`` can write results and ``data`` can find a folder without loading a deep-learning stack.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

QUICK_ENV = "EFFNET_LAB_QUICK"      # "1": small slices and short runs (CI sets it for nbval)
DATA_ENV = "EFFNET_LAB_DATA"        # a folder holding one folder per dataset: cifar10/, imagenet-subset/
CACHE_ENV = "EFFNET_LAB_CACHE"      # where decoded tensors are kept
RESULTS_ENV = "EFFNET_LAB_RESULTS"  # the committed sweep results (default: the repository's results/)
# What torch.load raises for a file it cannot read back: empty (EOFError), truncated (RuntimeError),
# not a torch file (KeyError, pickle's UnpicklingError), unreadable (OSError)
TORCH_LOAD_ERRORS = (OSError, RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError)


# ---------------------------------------------------------------------------------------------
# Where things are
# ---------------------------------------------------------------------------------------------


def quick_mode() -> bool:
    """Whether EFFNET_LAB_QUICK asks for small slices and short runs (the notebooks under test)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def data_root() -> Path | None:
    """The folder named by EFFNET_LAB_DATA, or None when it is unset (data.py looks there first)."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where decoded tensors are kept: EFFNET_LAB_CACHE, else ~/.cache/effnet_lab (never the data)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    folder = Path(value).expanduser() if value else Path.home() / ".cache" / "effnet_lab"
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{CACHE_ENV}={value} names a file, not a folder; point it at a folder "
                                 f"(or unset it for ~/.cache/effnet_lab)")
    return folder


def results_dir() -> Path:
    """The committed sweep results that ``store.load_results`` reads by default: the folder
    EFFNET_LAB_RESULTS names, else ``results/`` of the repository this package runs from (a clone,
    or an editable install). A non-editable install has no repository: set EFFNET_LAB_RESULTS to a
    clone's ``results/`` folder, or pass a folder to ``load_results``."""
    value = os.environ.get(RESULTS_ENV, "").strip()
    if value:
        folder = Path(value).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"{RESULTS_ENV}={value} is not a folder; point it at a results/ folder "
                                    f"(one .jsonl file per sweep)")
        return folder
    folder = Path(__file__).resolve().parent.parent / "results"
    if not folder.is_dir():
        raise FileNotFoundError(f"no results/ folder beside the effnet_lab package ({folder}): an installed copy "
                                f"carries no results; set {RESULTS_ENV} to a clone's results/ folder, or pass the "
                                f"folder explicitly")
    return folder


# ---------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``: a crash
    leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_save(obj: object, path: Path) -> None:
    """torch.save, atomically (see ``_atomic_write``)."""
    import torch

    _atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file atomically (see ``_atomic_write``)."""
    _atomic_write(path, lambda tmp: tmp.write_text(text))


# ---------------------------------------------------------------------------------------------
# Devices, the mode a model runs in, and provenance
# ---------------------------------------------------------------------------------------------


def pick_device(device: "str | torch.device | None" = None) -> "torch.device":
    """The requested device, else the best available: CUDA, then Apple's MPS, then the CPU."""
    import torch

    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}") from None
        # refused here, by name, not at the first tensor moved there (a RuntimeError deep in torch)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r}: CUDA is not available on this machine (torch "
                             f"{torch.__version__}); use 'cpu'")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"numbered from 0")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                      and torch.backends.mps.is_available()):
            raise ValueError(f"device {str(device)!r}: Apple's MPS is not available on this machine; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: "str | torch.device") -> str:
    """The device as results record it: the GPU's name, or the CPU's architecture, the vector
    instructions torch's CPU kernels use (AVX2, AVX512, ...) and the threads. The instruction set
    is recorded because kernels built for different ones add float32 numbers in different orders,
    so a seeded CPU run repeats its numbers only on a CPU of the same kind (results/README.md,
    "Pinned first steps")."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    import platform

    isa = f" {torch.backends.cpu.get_cpu_capability()}" if dev.type == "cpu" else ""
    return f"{dev.type}: {platform.machine()}{isa}, {torch.get_num_threads()} threads"


@contextlib.contextmanager
def model_mode(model: "torch.nn.Module", training: bool = False):
    """Run the ``with`` block with ``model`` in eval mode (or train mode: ``training=True``), then
    put it back as ``model.training`` was, also when the block raises: evaluating or measuring a
    caller's model must not switch it over (dropout off in the middle of training, say)."""
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


def utc_now() -> str:
    """The date and time in UTC, to the second (ISO 8601), as results record it."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def provenance(device: "str | torch.device") -> dict:
    """Where a result came from: command, git commit, device, torch version, date (UTC)."""
    import subprocess
    import sys

    import torch

    # a copy of the code whose .git is missing or stale (a remote GPU machine) says which commit it is
    commit = os.environ.get("EFFNET_LAB_COMMIT") or None
    if commit is None:
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                    cwd=Path(__file__).resolve().parent).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"command": " ".join(["python -m effnet_lab"] + sys.argv[1:]) if sys.argv[0].endswith("__main__.py")
            else " ".join(sys.argv), "commit": commit, "device": device_name(device), "torch": torch.__version__,
            "date": utc_now()}
