"""Training throughput: effnet_lab's fit vs a plain torchvision loop, same data, model, batch, resolution.

    python benchmarks/train_throughput.py [--data cifar10] [--resolutions 32 128] [--images 1024]

Plain loop: torchvision ImageFolder + DataLoader (as many workers as cores; the decode, crop, flip
and resize happen per image on the CPU) + torchvision's efficientnet_b0, fp32, SGD. Ours: the same
images decoded once (``effnet_lab.data``), batches cut, augmented and resized on the device, our
B0 (identical architecture), ``fit`` with autocast/channels_last/compile where the device is a GPU.
Runs alternate (A B A B ...); the medians of images/s and their ratio are printed. One-time costs
(our decode and cache, compilation warm-up) are reported separately, not hidden.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import torch
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

import effnet_lab as el
from effnet_lab import data as eldata
from effnet_lab.loader import MEAN, STD
from effnet_lab.runtime import device_name, pick_device
from effnet_lab.train import fit


def plain_epoch(folder, indices, image_size, resolution, batch_size, device, workers) -> float:
    """One epoch of the textbook loop over ``indices``; returns images per second."""
    tf = transforms.Compose([  # the same augmentation as ours: crop with padding, flip, resize
        transforms.RandomCrop(image_size, padding=max(1, round(image_size / 8))),
        transforms.RandomHorizontalFlip(),
        transforms.Resize(resolution, antialias=True),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    ds = Subset(torchvision.datasets.ImageFolder(folder, tf), indices)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(num_classes=10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-5)
    model.train()
    seen, start = 0, time.perf_counter()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def ours_epoch(model, subset, resolution, batch_size, device, compile_model, amp=True, channels_last=None) -> float:
    # one model per resolution, reused by every repeat: torch.compile then compiles it once
    history = fit(model, subset, epochs=1, batch_size=batch_size, lr=0.05, device=device, amp=amp,
                  channels_last=channels_last, compile=compile_model, warmup_epochs=0, progress=False)
    return history.final.images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="cifar10", help="dataset name or ImageFolder split root (default cifar10)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--images", type=int, default=1024, help="training images per timed epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each loop")
    parser.add_argument("--device", default=None)
    parser.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE",
                        help="torch.compile our model (GPU); optionally a mode such as reduce-overhead (CUDA graphs)")
    parser.add_argument("--no-amp", action="store_true", help="ours without bf16/fp16 autocast")
    parser.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                        help="ours: channels_last memory format (auto: fit's default, on a CUDA GPU only)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    device = pick_device(args.device)
    from effnet_lab.config import COMPILE_MODES

    if args.compile is not True and args.compile is not False and args.compile not in COMPILE_MODES:
        parser.error(f"argument --compile: mode must be one of {', '.join(COMPILE_MODES)}, got {args.compile!r}")
    ours_options = (not args.no_amp, {"auto": None, "on": True, "off": False}[args.channels_last])
    workers = os.cpu_count() or 1
    where = eldata.resolve(args.data)
    if isinstance(where, str):
        raise SystemExit("the plain loop needs an ImageFolder copy: pass --data <folder> or set EFFNET_LAB_DATA")
    folder = eldata.find_split(where, "train")

    began = time.perf_counter()
    trainset = eldata.load(where, "train")
    decode_s = time.perf_counter() - began
    n = min(args.images, len(trainset))
    subset_index = torch.randperm(len(trainset), generator=torch.Generator().manual_seed(0))[:n]
    subset = trainset.take(subset_index)
    print(f"device: {device_name(device)}; {workers} CPU cores, python {platform.python_version()}, "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"data: {folder} ({len(trainset)} images), {n} per timed epoch, batch {args.batch_size}; "
          f"one-time decode/cache load of ours: {decode_s:.1f} s")
    print(f"ours: autocast {'off' if args.no_amp else 'on (GPU)'}, channels_last {args.channels_last}, "
          f"compile {args.compile}")
    print(f"{'res':>5} {'plain img/s':>12} {'ours img/s':>11} {'ratio':>7}   runs (plain | ours)")
    for res in args.resolutions:
        torch.manual_seed(0)
        model = el.efficientnet("b0", num_classes=10, resolution=res)
        if args.compile:  # compile once outside the timing; report it
            t = time.perf_counter()
            ours_epoch(model, subset, res, args.batch_size, device, args.compile, *ours_options)
            print(f"  compile warm-up at {res}px: {time.perf_counter() - t:.1f} s")
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(plain_epoch(folder, subset_index.tolist(), trainset.image_size[0], res, args.batch_size,
                                      device, workers))
            ours.append(ours_epoch(model, subset, res, args.batch_size, device, args.compile, *ours_options))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"{res:>5} {p:12.1f} {o:11.1f} {o / p:6.2f}x   {' '.join(f'{v:.0f}' for v in plain)} | "
              f"{' '.join(f'{v:.0f}' for v in ours)}")


if __name__ == "__main__":
    main()
