"""Images in, uint8 tensors out: datasets decoded once, cached, and served from the training device.

A dataset is named (``"cifar10"``, ``"cifar100"``, ``"imagenet-subset"``, ...) or given as a path.
Names are looked up under ``EFFNET_LAB_DATA`` first (one folder per dataset, ImageFolder layout);
CIFAR falls back to torchvision's download. A folder is either a *split root* holding ``train/``
and ``test/`` (or ``val/``) ImageFolder trees, or a tree of class folders itself.

Decoding happens once per source and selection and is cached on disk as one uint8 tensor, so an
epoch never touches a PNG or JPEG: ``loader.DeviceLoader`` moves the tensor to the device and
makes the batches there.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from .checks import Resolution, as_hw, check_positive_int, check_resolution
from .runtime import DATA_ENV, TORCH_LOAD_ERRORS, atomic_save, cache_dir, data_root

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Part of every decode cache key: a change to how files decode (2: 16-bit greyscale scaled, not clipped)
# must not serve tensors decoded the old way.
DECODE_VERSION = 2
TORCHVISION_SETS = ("cifar10", "cifar100")


# ---------------------------------------------------------------------------------------------
# Decoded images
# ---------------------------------------------------------------------------------------------


@dataclass
class ImageTensors:
    """A whole (sub)set of images, decoded: ``images`` (N, 3, H, W) uint8, ``labels`` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    source: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be a uint8 tensor (N, 3, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])

    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def take(self, index: torch.Tensor, source: str | None = None) -> "ImageTensors":
        return ImageTensors(self.images[index], self.labels[index], list(self.classes), source or self.source)

    def subset(self, per_class: int, seed: int = 0) -> "ImageTensors":
        """``per_class`` images of every class, chosen at random with ``seed`` (same seed, same images)."""
        return self.take(self.split(per_class, seed)[0], f"{self.source}[{per_class}/class, seed {seed}]")

    def split(self, per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Class-balanced seeded split: indices of ``per_class`` images per class, and of the rest."""
        per_class = check_positive_int("per_class", per_class)
        smallest = min(self.counts())
        if per_class > smallest:
            raise ValueError(f"per_class must be <= {smallest} (the smallest class of {self.source}), "
                             f"got {per_class}")
        generator = torch.Generator().manual_seed(seed)
        chosen = []
        for c in range(len(self.classes)):
            members = torch.nonzero(self.labels == c).flatten()
            chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
        picked = torch.cat(chosen).sort().values
        mask = torch.ones(len(self), dtype=torch.bool)
        mask[picked] = False
        return picked, torch.nonzero(mask).flatten()

    def train_val_split(self, val_per_class: int, seed: int = 0) -> tuple["ImageTensors", "ImageTensors"]:
        """Hold out ``val_per_class`` images of every class for validation (seeded); every class keeps
        at least one image for training."""
        val_per_class = check_positive_int("val_per_class", val_per_class)
        short = [f"{name} ({n})" for name, n in zip(self.classes, self.counts()) if n <= val_per_class]
        if short:
            raise ValueError(f"holding out {val_per_class} image(s) per class of {self.source} leaves no training "
                             f"image in class(es) {', '.join(short)}; every class needs at least "
                             f"{val_per_class + 1} images")
        val, train = self.split(val_per_class, seed)
        return (self.take(train, f"{self.source}[train part, seed {seed}]"),
                self.take(val, f"{self.source}[val {val_per_class}/class, seed {seed}]"))


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _is_class_tree(root: Path) -> bool:
    folders = _class_folders(root)
    return bool(folders) and any(f.suffix.lower() in IMAGE_EXTENSIONS for d in folders[:3] for f in d.iterdir())


def find_split(root: Path, split: str) -> Path:
    """``root/train`` for "train"; for "test", ``root/test`` else ``root/val``; else root itself."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {str(root)!r} does not exist")
    names = ("train",) if split == "train" else ("test", "val")
    for name in names:
        if (root / name).is_dir():
            return root / name
    if _is_class_tree(root) and not any((root / n).is_dir() for n in ("train", "test", "val")):
        return root  # a plain tree of class folders
    want = "train/" if split == "train" else "test/ or val/"
    raise FileNotFoundError(f"{str(root)!r} has no {want} folder and is not a folder of class folders")


def _list_images(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = [d.name for d in _class_folders(root)]
    if not classes:
        raise ValueError(f"{str(root)!r} holds no class folders (expected <class>/<image> files)")
    files, empty = [], []
    for index, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            empty.append(name)
        files += [(p, index) for p in found]
    if empty:
        raise ValueError(f"class folder(s) with no images in {str(root)!r}: {', '.join(empty)} "
                         f"(extensions looked for: {', '.join(IMAGE_EXTENSIONS)})")
    return classes, files


class UnsupportedImage(ValueError):
    """A file that decodes, but into pixels with no 8-bit reading to assume (32-bit float, say)."""


def _rgb(im) -> torch.Tensor:
    """(3, H, W) uint8 of a PIL image, by torchvision's loader convention (convert to RGB), except
    16-bit greyscale: Pillow's convert clips it at 255 (a white image), so it is scaled, 65535 -> 255."""
    import numpy as np
    from torchvision.transforms.functional import pil_to_tensor

    if im.mode.startswith("I"):  # "I;16", "I;16B", ... and "I" (32-bit, how some 16-bit files open)
        a = np.asarray(im).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise UnsupportedImage(f"{im.mode} pixels from {a.min()} to {a.max()}: not a 16-bit range")
        grey = torch.from_numpy(((a + 128) // 257).astype(np.uint8))
        return grey.expand(3, *grey.shape).contiguous()
    if im.mode == "F":
        raise UnsupportedImage("32-bit float pixels: no 8-bit range to assume")
    return pil_to_tensor(im.convert("RGB"))


def _decode(files: Sequence[tuple[Path, int]], image_size: tuple[int, int] | None, classes: Sequence[str],
            root: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from PIL import Image
    from torchvision.transforms.functional import center_crop, resize

    images, labels, bad = [], [], []
    for path, label in files:
        try:
            with Image.open(path) as im:
                im.load()
                x = _rgb(im)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            bad.append(f"{path.name} ({exc if isinstance(exc, UnsupportedImage) else type(exc).__name__})")
            continue
        images.append(x)
        labels.append(label)
    if not images:
        raise ValueError(f"none of the {len(files)} image files could be read; first: {', '.join(bad[:3])}")
    # a class whose every file failed would train as a class with no examples, without a word
    lost = sorted(set(range(len(classes))) - set(labels))
    if lost:
        raise ValueError(f"no image of class(es) {', '.join(classes[i] for i in lost)} in {str(root)!r} could be "
                         f"read (unreadable: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}); fix or "
                         f"replace those files")
    sizes = Counter(tuple(x.shape[1:]) for x in images)
    target = image_size or sizes.most_common(1)[0][0]
    if len(sizes) > 1 or target not in sizes:
        images = [x if tuple(x.shape[1:]) == target else
                  center_crop(resize(x, min(target), antialias=True), list(target)) for x in images]
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64), bad


def load_folder(root: "str | Path", image_size: Resolution | None = None, cache: bool = True) -> ImageTensors:
    """Decode an ImageFolder tree (class folders of images) into one uint8 tensor, cached on disk.

    Images of another size than ``image_size`` (default: the most common size) are resized (shorter
    side) and centre-cropped. Unreadable files are skipped with one warning that names them.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {str(root)!r} does not exist")
    size = as_hw(check_resolution(image_size, "image_size")) if image_size is not None else None
    classes, files = _list_images(root)
    # the cache key covers the file list, sizes and dates: edit the folder and it is decoded anew
    key = hashlib.sha256(repr((str(root), size, classes, [(str(p.relative_to(root)), p.stat().st_size,
                                                           p.stat().st_mtime_ns) for p, _ in files],
                               DECODE_VERSION)).encode()).hexdigest()[:16]
    path = cache_dir() / f"{root.parent.name}-{root.name}-{key}.pt"
    if cache and path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            return ImageTensors(saved["images"], saved["labels"], saved["classes"], str(root))
        except (*TORCH_LOAD_ERRORS, TypeError) as exc:  # only a cache: said, removed, decoded again
            warnings.warn(f"the decode cache {path} is damaged ({type(exc).__name__}: {exc}); decoding {root} "
                          f"again", stacklevel=2)
            path.unlink(missing_ok=True)
    images, labels, bad = _decode(files, size, classes, root)
    if bad:
        warnings.warn(f"skipped {len(bad)} of {len(files)} unreadable image(s) in {root}: "
                      f"{', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}", stacklevel=2)
    if cache:
        try:
            atomic_save({"images": images, "labels": labels, "classes": classes}, path)
        except OSError as exc:  # only a cache: the images are decoded, so carry on without it
            warnings.warn(f"could not write the decode cache {path} ({exc.strerror or exc}); the folder will be "
                          f"decoded again next time (EFFNET_LAB_CACHE chooses a writable folder)", stacklevel=2)
    return ImageTensors(images, labels, classes, str(root))


def _torchvision_set(name: str, split: str) -> ImageTensors:
    import torchvision

    folder = cache_dir() / "torchvision"
    cls = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100}[name]
    try:
        ds = cls(str(folder), train=(split == "train"), download=True)
    except Exception as exc:  # offline: say where the data can go instead
        raise FileNotFoundError(
            f"could not download {name} with torchvision ({type(exc).__name__}: {exc}). Offline, put an "
            f"ImageFolder copy at <root>/{name}/train/<class>/*.png and <root>/{name}/test/..., then "
            f"set {DATA_ENV}=<root> (or pass the folder's path instead of the name)") from exc
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return ImageTensors(images, torch.tensor(ds.targets, dtype=torch.int64), list(ds.classes), f"torchvision:{name}")


def resolve(data: "str | Path") -> "Path | str":
    """A dataset name or path -> the folder to read, or "torchvision:<name>" for a CIFAR download."""
    text = str(data)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    root = data_root()
    if root is not None and (root / text).is_dir():
        return root / text
    if text.lower() in TORCHVISION_SETS:
        return f"torchvision:{text.lower()}"
    if path.exists():
        raise NotADirectoryError(f"data {text!r} is a file; give a folder (train/ and test/, or class folders) "
                                 f"or a dataset name")
    if "/" in text or os.sep in text or text.startswith(("~", ".")):
        raise FileNotFoundError(f"data folder {text!r} does not exist")
    where = f"{DATA_ENV}={root}" if root is not None else f"{DATA_ENV} is not set"
    raise FileNotFoundError(f"data {text!r} is neither a folder nor a dataset under the data root ({where}); "
                            f"names that download: {', '.join(TORCHVISION_SETS)}")


def load(data: "str | Path", split: str = "train", image_size: Resolution | None = None) -> ImageTensors:
    """One split ("train" or "test"; "test" falls back to "val/") of a named dataset or a folder."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    where = resolve(data)
    if isinstance(where, str):
        return _torchvision_set(where.split(":", 1)[1], split)
    return load_folder(find_split(where, split), image_size)


def load_pair(data: "str | Path", image_size: Resolution | None = None,
              seed: int = 0) -> tuple[ImageTensors, ImageTensors]:
    """Train and test splits, checked to have the same classes in the same order.

    A plain tree of class folders has no test split: a seeded tenth of every class is held out.
    """
    where = resolve(data)
    if not isinstance(where, str) and find_split(where, "train") == find_split(where, "test"):
        everything = load_folder(where, image_size)
        single = [name for name, n in zip(everything.classes, everything.counts()) if n < 2]
        if single:
            raise ValueError(f"a plain tree of class folders holds out a tenth of every class (at least one image) "
                             f"for testing, so every class needs two or more images; in {str(where)!r} "
                             f"{', '.join(single)} has only one: add images, or make train/ and test/ folders")
        held_out = max(1, min(everything.counts()) // 10)
        return everything.train_val_split(held_out, seed)
    train, test = load(data, "train", image_size), load(data, "test", image_size)
    if train.classes != test.classes:
        only_train = sorted(set(train.classes) - set(test.classes))
        only_test = sorted(set(test.classes) - set(train.classes))
        raise ValueError(f"train and test classes differ in {data!s}: only in train {only_train}, "
                         f"only in test {only_test}" if only_train or only_test else
                         f"train and test list the same classes in a different order in {data!s}")
    if test.image_size != train.image_size:
        test = ImageTensors(F.interpolate(test.images.float(), size=train.image_size, mode="bilinear",
                                          antialias=True).round().clamp(0, 255).to(torch.uint8),
                            test.labels, test.classes, test.source)
    return train, test
