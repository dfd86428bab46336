"""Checkpoints: what a run saves to resume where it stopped, what a resume must share with the run
that wrote it, and rebuilding a trained model from the file ``train`` writes (``load_checkpoint``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .checks import as_hw, check_resolution
from .config import ModelConfig
from .data import ImageTensors
from .model import EfficientNet
from .runtime import TORCH_LOAD_ERRORS


def rng_state(device: torch.device) -> dict:
    """The random state a resumed run needs: the CPU's, and every CUDA device's on a CUDA run
    (dropout and stochastic depth draw there), so it continues as an uninterrupted run would."""
    state = {"rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore what ``rng_state`` saved (a CPU run's checkpoint has no CUDA state, and needs none)."""
    torch.set_rng_state(state["rng"].cpu())
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])


# fit's arguments that do not change what a run trains (the device, the layout and autocast change
# the arithmetic, as in the sweeps' records), or that are the run's data and files themselves. Every
# other argument, a new one too, is stored in the checkpoint and must be the same on resume.
NOT_TRAINING_OPTIONS = ("model", "models", "train", "val", "device", "amp", "channels_last", "compile", "checkpoint",
                        "checkpoint_extra", "progress", "eval_every")


def _plain(value):
    """``value`` as ``torch.load(weights_only=True)`` reads it back (a numpy float would not load)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _fingerprint(data: ImageTensors) -> str:
    """Which images a run trains on, in a few words: another --data or --per-class changes it."""
    digest = hashlib.sha256(data.images.cpu().contiguous().numpy())
    digest.update(data.labels.cpu().contiguous().numpy())
    return f"{len(data)} images, sha256 {digest.hexdigest()[:12]}"


def training_options(model: torch.nn.Module, received: dict, lr: float, resolution, train: ImageTensors) -> dict:
    """What a resume must share with the run that wrote the checkpoint: the model's config (but its
    name), every argument ``fit`` ``received`` but ``NOT_TRAINING_OPTIONS``, the learning rate used
    (after the optimizer and batch size it follows by default), the resolution and the training images."""
    config = getattr(model, "config", None)
    return _plain({**({k: v for k, v in config.to_dict().items() if k != "name"} if config else {}),
                   **{k: v for k, v in received.items() if k not in NOT_TRAINING_OPTIONS + ("lr",)},
                   "lr": lr, "resolution": as_hw(check_resolution(resolution)), "training_images": _fingerprint(train)})


def resume_state(path: Path, device: torch.device, options: dict) -> dict:
    """The checkpoint at ``path``, read and checked against this run's training ``options``: a resume
    with another seed, learning rate, model or data would go on from the old run's weights and
    schedule while its caller records the new options, so any difference is refused by name."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except TORCH_LOAD_ERRORS as exc:  # truncated, overwritten, not a torch file: nothing to resume from
        raise ValueError(f"checkpoint {str(path)!r} is damaged ({type(exc).__name__}); delete it to start the run "
                         f"afresh, or use another --out folder") from exc
    needed = {"model", "optimizer", "schedule", "rng", "epoch", "epochs", "history"}
    if not isinstance(state, dict) or not needed <= set(state):
        raise ValueError(f"{str(path)!r} is not a checkpoint that fit wrote (it needs {', '.join(sorted(needed))}); "
                         f"delete it to start the run afresh, or use another --out folder")
    if state["epochs"] != options["epochs"]:
        raise ValueError(f"checkpoint {str(path)!r} belongs to a {state['epochs']}-epoch run, not "
                         f"{options['epochs']}; use another --out folder or the same epochs")
    if ("ema" in state) != (options["ema"] > 0):
        raise ValueError(f"checkpoint {str(path)!r} was trained {'with' if 'ema' in state else 'without'} "
                         f"a weight average (ema); resume it with the same ema, or use another --out folder")
    for name, value in options.items():  # (checkpoints written before options were kept have none)
        stored = state.get("options", {}).get(name, value)
        if stored != value and name == "training_images":
            raise ValueError(f"the training images ({value}) differ from those checkpoint {str(path)!r} was trained "
                             f"with ({stored}): other data or another --per-class? Resume with the same, or use "
                             f"another --out folder")
        if stored != value:
            raise ValueError(f"{name} {value!r} differs from the {stored!r} that checkpoint {str(path)!r} was "
                             f"trained with; resume with the same {name}, or use another --out folder")
    return state


def restore_training(state: dict, model, optimizer, schedule, averaged=None, scaler=None) -> None:
    """Load a checkpoint's training state (``resume_state``'s) into the run's model, optimizer,
    schedule, weight average and loss scaler; the caller restores its random state and history."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    if averaged is not None:
        averaged.load_state_dict(state["ema"])
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])


def load_checkpoint(path: "str | Path", device: "str | torch.device" = "cpu"):
    """Rebuild the model a ``train`` run saved: returns (model, checkpoint dict). Safe: weights_only."""
    path = Path(path)
    if path.is_dir():
        hint = f"; did you mean {str(path / 'last.pt')!r}?" if (path / "last.pt").is_file() else ""
        raise IsADirectoryError(f"checkpoint {str(path)!r} is a folder, not a checkpoint file{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except TORCH_LOAD_ERRORS as exc:  # kept as the cause
        raise ValueError(f"{str(path)!r} is not a readable effnet_lab checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or not {"model", "config", "classes"} <= set(state):
        raise ValueError(f"{str(path)!r} is not an effnet_lab training checkpoint (it needs model, config "
                         f"and classes entries; torchvision weights load with load_torchvision_weights)")
    try:
        model = EfficientNet(ModelConfig.from_dict(state["config"]), num_classes=len(state["classes"]))
        # a run with a weight average is judged by the average (what fit hands back), not its last step
        model.load_state_dict(state["ema"]["model"] if "ema" in state else state["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(f"{str(path)!r} does not rebuild an effnet_lab model: {exc}") from None
    return model.to(device).eval(), state
