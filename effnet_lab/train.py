"""Training and evaluation: ``fit`` and ``evaluate``.

One loop for every device: data already on the device (``DeviceLoader``), bf16 autocast,
channels_last and cuDNN autotuning on a CUDA GPU (channels_last on request elsewhere), optional
``torch.compile``, seeded determinism on the CPU, and an atomic checkpoint after every epoch from
which a run resumes (``checkpoints``). What it trains with comes from ``recipe``: by default SGD
with Nesterov momentum, a warm-up then a cosine schedule, and label smoothing (``config.RECIPE``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .checkpoints import restore_training, resume_state, rng_state, set_rng_state, training_options
from .checks import check_finite, check_positive_int
from .config import COMPILE_MODES, OPTIMIZERS, RECIPE, SCHEDULES
from .data import ImageTensors
from .loader import DeviceLoader
from .recipe import WeightEMA, make_optimizer, make_schedule, predict, recalibrate_bn_, zero_init_
from .runtime import atomic_save, model_mode, pick_device


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float
    images_per_second: float
    peak_memory_mb: float | None  # CUDA only


@dataclass
class History:
    epochs: list[EpochStats] = field(default_factory=list)

    @property
    def final(self) -> EpochStats:
        return self.epochs[-1]

    def to_dicts(self) -> list[dict]:
        return [asdict(e) for e in self.epochs]

    @classmethod
    def from_dicts(cls, rows: list[dict]) -> "History":
        return cls([EpochStats(**r) for r in rows])


def autocast_dtype(device: torch.device, amp: bool) -> "torch.dtype | None":
    """What ``amp`` computes in on ``device``: bfloat16 on a CUDA GPU that has it (Ampere and later),
    float16 on one without (T4, V100: Colab), None (float32) elsewhere and without ``amp``."""
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(device: torch.device, amp: bool):
    dtype = autocast_dtype(device, amp)
    # nullcontext, not autocast(enabled=False): older torch refuses an MPS autocast even when disabled
    return torch.autocast("cuda", dtype=dtype) if dtype is not None else contextlib.nullcontext()


def grad_scaler(device: torch.device, amp: bool) -> "torch.amp.GradScaler":
    """A loss scaler, enabled for float16 autocast only: float16's small range makes small gradients
    underflow to zero unless the loss is scaled up first (bfloat16 has float32's range: no scaler)."""
    return torch.amp.GradScaler("cuda", enabled=autocast_dtype(device, amp) == torch.float16)


def _oom_message(batch_size: int) -> str:
    return (f"out of GPU memory at batch size {batch_size}; try --batch-size {max(1, batch_size // 2)} "
            f"(or a lower resolution): activation memory grows with batch x resolution^2")


@contextlib.contextmanager
def cudnn_autotune(device: "str | torch.device"):
    """On CUDA, let cuDNN time its convolution algorithms for each new input shape and keep the
    fastest (``torch.backends.cudnn.benchmark``); the setting is restored afterwards. Training
    batches all share one shape (a partial last batch is dropped), so the timing is paid once."""
    if torch.device(device).type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def uses_channels_last(device: "str | torch.device", channels_last: bool | None = None) -> bool:
    """The memory layout ``fit`` trains in: ``channels_last`` if given, else NHWC on CUDA only.

    On a CPU NHWC trains faster, but the recipe was measured in NCHW and one run per layout cannot
    tell a layout effect from run-to-run spread (results/README.md, ``cifar10_recipe_channels_last``),
    so the CPU default stays the layout of the measurements and ``channels_last=True`` opts in."""
    return torch.device(device).type == "cuda" if channels_last is None else bool(channels_last)


def _is_channels_last(model: nn.Module) -> bool:
    """Whether the model's weights are NHWC (as ``fit`` leaves them): feed it the same layout, since
    mixing layouts takes slow paths."""
    for p in model.parameters():
        if p.dim() == 4 and p.shape[-1] > 1:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False


def evaluate(model: nn.Module, data: "ImageTensors | DeviceLoader", batch_size: int = 256,
             device: "str | torch.device | None" = None, resolution=None, amp: bool = True,
             tta: bool = False) -> dict:
    """Accuracy, mean loss, per-class accuracy and the confusion matrix (rows: true, columns: predicted).
    ``tta``: average each image's logits with its horizontal mirror's (see ``recipe.predict``)."""
    if isinstance(data, ImageTensors):
        res = resolution if resolution is not None else model.config.resolution
        data = DeviceLoader(data, batch_size, res, pick_device(device), channels_last=_is_channels_last(model))
    if len(data.labels) == 0:  # an accuracy of 0 over nothing would read as a result
        raise ValueError("nothing to evaluate: the data holds no images")
    model = model.to(data.device)
    n_classes = len(data.classes)
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.int64, device=data.device)
    # float64 like the Python float it replaces (MPS has no float64)
    loss_sum = torch.zeros((), dtype=torch.float32 if data.device.type == "mps" else torch.float64, device=data.device)
    n = 0
    with model_mode(model), torch.inference_mode(), _autocast(data.device, amp):
        for x, y in data:
            logits = predict(model, x, tta)
            loss_sum += F.cross_entropy(logits, y, reduction="sum")  # summed on the device: no sync per batch
            n += len(y)
            confusion += torch.bincount(y * n_classes + logits.argmax(1),
                                        minlength=n_classes**2).view(n_classes, n_classes)
    confusion = confusion.cpu()
    per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1)).tolist()
    return {"accuracy": confusion.diag().sum().item() / max(n, 1), "loss": loss_sum.item() / max(n, 1), "n": n,
            "per_class_accuracy": dict(zip(data.classes, per_class)), "confusion": confusion.tolist(),
            "classes": list(data.classes)}


# Compiled networks a process may hold before torch.compile stops compiling new ones: a sweep
# trains dozens in one process (each seed is a new model: a recompile of the same forward).
RECOMPILE_LIMIT = 512


def compiled(net: nn.Module, compile: "bool | str") -> nn.Module:
    """``net`` through ``torch.compile`` (``compile``: True for its default mode, or a mode name), else
    ``net``. The compiled code is kept on disk (torch's FX graph cache, in ``TORCHINDUCTOR_CACHE_DIR``:
    if unset, ``inductor/`` under the data cache), so a second run of the same network loads it
    instead of compiling again. The recompile limit is raised to ``RECOMPILE_LIMIT``: past torch's
    default (8), the next network would run uncompiled with no more than a log line to say so."""
    if not compile:
        return net
    import os

    import torch._dynamo

    from .runtime import cache_dir

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
    config = torch._dynamo.config
    for name in ("recompile_limit", "accumulated_recompile_limit", "cache_size_limit"):  # older torch: the last
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
    return torch.compile(net) if compile is True else torch.compile(net, mode=compile)


def check_training(epochs: int, batch_size: int, optimizer: str, schedule: str, lr: float | None,
                   weight_decay: float, label_smoothing: float, warmup_epochs: float, ema: float, flags: dict,
                   compile: "bool | str") -> tuple:
    """``fit``'s training options checked (a clear error naming the first bad one) and normalised:
    (epochs, batch_size, lr, weight_decay, label_smoothing, warmup_epochs, ema) as Python numbers, lr
    filled in from the optimizer and batch size when None. ``flags``: name -> value, each a bool."""
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 to train, got {batch_size}: BatchNorm normalises each channel "
                         f"over the images of a batch, and a one-image batch of a 1x1 map has nothing to normalise")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if lr is None:
        # linear scaling with the batch size: 0.1 at 128 for SGD; the paper's 0.016 at 256 for RMSProp
        lr = {"sgd": 0.1 * batch_size / 128, "rmsprop": 0.016 * batch_size / 256, "adamw": 2e-3}[optimizer]
    # as Python floats: a numpy float in the optimizer's state would make the checkpoint unloadable
    lr = check_finite("lr", lr, positive=True)
    weight_decay = check_finite("weight_decay", weight_decay, minimum=0)
    label_smoothing = check_finite("label_smoothing", label_smoothing, minimum=0, maximum=1)
    warmup_epochs = check_finite("warmup_epochs", warmup_epochs, minimum=0)
    if warmup_epochs > epochs:  # the rate would still be warming up at the end: the schedule ignored
        raise ValueError(f"warmup_epochs ({warmup_epochs:g}) must not exceed the {epochs} epoch(s) of the run: the "
                         f"learning rate would still be warming up at the end and the {schedule} schedule never start")
    ema = check_finite("ema", ema, minimum=0, maximum=0.9999)
    if not isinstance(compile, bool) and compile not in COMPILE_MODES:
        raise ValueError(f"compile must be True, False or a mode among {COMPILE_MODES}, got {compile!r}")
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    return epochs, batch_size, lr, weight_decay, label_smoothing, warmup_epochs, ema


def fit(model: nn.Module, train: ImageTensors, val: ImageTensors | None = None, epochs: int = 10, *,
        batch_size: int = 128, lr: float | None = RECIPE["lr"], optimizer: str = "sgd",
        schedule: str = RECIPE["schedule"], weight_decay: float = RECIPE["weight_decay"],
        label_smoothing: float = RECIPE["label_smoothing"], warmup_epochs: float = RECIPE["warmup_epochs"],
        zero_init: bool = RECIPE["zero_init"], ema: float = RECIPE["ema"],
        recalibrate_bn: bool = RECIPE["recalibrate_bn"], tta: bool = RECIPE["tta"],
        resolution=None, device: "str | torch.device | None" = None, amp: bool = True,
        channels_last: bool | None = None, compile: "bool | str" = False, seed: int = 0,
        checkpoint: "str | Path | None" = None, checkpoint_extra: dict | None = None,
        progress: bool = True, sync_bn: bool = True, eval_every: int = 1) -> History:
    """Train ``model`` on ``train`` for ``epochs``; evaluate on ``val`` after every ``eval_every``-th
    epoch and after the last (the epochs between record no validation figures: on a CPU a test of
    the 2,000 CIFAR images with TTA costs a tenth to an eighth of the README recipe's epoch).

    The recipe: ``zero_init`` zeroes every residual branch's last BatchNorm scale and the classifier
    before the first step (a model trained from scratch; pass False to fine-tune loaded weights);
    ``ema`` (a decay in [0, 0.9999], 0 = off) keeps a moving average of the weights, which is what
    is evaluated and what ``model`` holds when ``fit`` returns; ``recalibrate_bn`` recomputes the
    BatchNorm statistics of that model on one pass over the training set after the last epoch
    (``recalibrate_bn_``); ``tta`` evaluates each image and its mirror. ``compile``: True for
    ``torch.compile``'s default mode, or a mode name ("reduce-overhead" adds CUDA graphs,
    "max-autotune"). ``resolution`` defaults to ``model.config.resolution``; images are resized on
    the device. With a ``checkpoint`` path, state is saved atomically after every epoch and an
    existing checkpoint is resumed (same seed: the same numbers as an uninterrupted run on the CPU);
    a resume with other training options is refused, naming them. ``checkpoint_extra`` (plain
    data: config dict, class names) is stored beside the state so the file rebuilds the model.

    Under torchrun (a process group is running: ``distributed``) every rank trains its slice of each
    global batch of ``batch_size`` with DistributedDataParallel, ``sync_bn`` (default) normalising
    over the global batch; the history holds the global losses, and rank 0 alone writes the checkpoint.
    """
    received = dict(locals())  # every argument, for the options a resume must share (below)
    from tqdm.auto import tqdm

    epochs, batch_size, lr, weight_decay, label_smoothing, warmup_epochs, ema = check_training(
        epochs, batch_size, optimizer, schedule, lr, weight_decay, label_smoothing, warmup_epochs, ema,
        {"zero_init": zero_init, "recalibrate_bn": recalibrate_bn, "tta": tta}, compile)
    eval_every = check_positive_int("eval_every", eval_every)
    dev = pick_device(device)
    ranks, rank = distributed.world()
    if batch_size % ranks:
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of the {ranks} processes: each trains an "
                         f"equal share of every global batch")
    if len(train) < batch_size:
        raise ValueError(f"batch_size ({batch_size}) must not exceed the {len(train)} training images")
    channels_last = uses_channels_last(dev, channels_last)
    res = resolution if resolution is not None else model.config.resolution

    torch.manual_seed(seed)
    if zero_init:
        zero_init_(model)  # before the EMA copy; a resumed run overwrites it with its checkpoint
    if ranks > 1 and sync_bn:
        model = distributed.sync_batchnorm(model, dev)
    model = model.to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    averaged = WeightEMA(model, ema) if ema > 0 else None
    train_loader = DeviceLoader(train, batch_size, res, dev, train=True, seed=seed, channels_last=channels_last,
                                part=(rank, ranks))
    val_loader = DeviceLoader(val, 256, res, dev, channels_last=channels_last) if val is not None else None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params, lr, weight_decay)
    steps = epochs * len(train_loader)
    sched = make_schedule(schedule, opt, steps, int(warmup_epochs * len(train_loader)))
    history, start = History(), 0
    scaler = grad_scaler(dev, amp)

    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:  # what a resume must share with the run that wrote the checkpoint
        options = training_options(model, received, lr, res, train)
    if path is not None and path.exists():
        state = resume_state(path, dev, options)
        restore_training(state, model, opt, sched, averaged, scaler)
        set_rng_state(state, dev)
        history, start = History.from_dicts(state["history"]), state["epoch"]
    if ranks > 1:  # each rank its own dropout and stochastic-depth draws (resumed: where they stood)
        states = state.get("rng_ranks", []) if start else []
        if len(states) == ranks:
            torch.set_rng_state(states[rank].cpu())
        else:
            torch.manual_seed(seed * 1_000_003 + rank + 7_919 * start)

    net = model
    if ranks > 1:  # gradients averaged over the ranks (the parameters start as rank 0's)
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    progress = progress and rank == 0
    step_fn = compiled(net, compile)
    with cudnn_autotune(dev):
        for epoch in range(start, epochs):
            train_loader.set_epoch(epoch)
            model.train()
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            began = time.perf_counter()
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            seen = 0
            bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
            for x, y in bar:
                try:
                    with _autocast(dev, amp):
                        logits = step_fn(x)
                        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()   # with the scaler off: loss.backward(), opt.step()
                    scaler.step(opt)
                    scaler.update()
                except torch.OutOfMemoryError:
                    raise RuntimeError(_oom_message(batch_size)) from None
                sched.step()
                if averaged is not None:
                    averaged.update(model)
                loss_sum += loss.detach() * len(y)  # summed on the device: no sync per step
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                if progress and bar.n % 10 == 0:
                    bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}", acc=f"{correct.item() / seen:.3f}",
                                    img_s=f"{seen / (time.perf_counter() - began):.0f}")
            if ranks > 1:  # the epoch's totals over the global batch
                seen = torch.tensor(seen, device=dev)
                distributed.sum_across(loss_sum, correct, seen)
                seen = int(seen)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - began
            judged = averaged.model if averaged is not None else model
            if recalibrate_bn and epoch == epochs - 1:
                train_loader.set_epoch(epochs)  # a pass of its own, seeded like every epoch
                recalibrate_bn_(judged, train_loader)
            due = (epoch + 1) % eval_every == 0 or epoch == epochs - 1
            ev = evaluate(judged, val_loader, amp=amp, tta=tta) if val_loader is not None and due else None
            history.epochs.append(EpochStats(
                epoch=epoch + 1, train_loss=loss_sum.item() / seen, train_accuracy=correct.item() / seen,
                val_loss=ev["loss"] if ev else None, val_accuracy=ev["accuracy"] if ev else None,
                lr=opt.param_groups[0]["lr"], seconds=seconds, images_per_second=seen / seconds,
                peak_memory_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None))
            if progress:
                e = history.final
                val_text = f", val acc {e.val_accuracy:.3f}" if e.val_accuracy is not None else ""
                tqdm.write(f"epoch {e.epoch}/{epochs}: loss {e.train_loss:.3f}, acc {e.train_accuracy:.3f}"
                           f"{val_text}, {e.images_per_second:.0f} img/s")
            rngs = distributed.rng_states() if ranks > 1 and path is not None else None
            if path is not None and rank == 0:
                atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                             "schedule": sched.state_dict(), **rng_state(dev), "epoch": epoch + 1,
                             "epochs": epochs, "history": history.to_dicts(), "options": options,
                             **({"rng_ranks": rngs} if rngs else {}),
                             **({"ema": averaged.state_dict()} if averaged is not None else {}),
                             **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {}),
                             **(checkpoint_extra or {})}, path)
    if averaged is not None:  # the model handed back is the one that was evaluated
        model.load_state_dict(averaged.model.state_dict())
    return history
