import os
import warnings

import pytest

# Reference facts from the paper, torchvision and ptflops (see REFERENCE.md in the project notes):
# params, conv+linear MACs (= ptflops aten), ptflops pytorch-backend MACs, at native resolution.
REFERENCE = {
    "b0": (5_288_548, 385_825_092, 410_196_896),
    "b1": (7_794_184, 686_817_992, 726_705_368),
    "b2": (9_109_994, 993_578_282, 1_044_413_452),
    "b3": (12_233_232, 1_827_162_472, 1_914_414_728),
    "b4": (19_341_616, 4_393_801_064, 4_577_005_104),
    "b5": (30_389_784, 10_266_426_072, 10_634_854_184),
    "b6": (43_040_704, 19_067_647_136, 19_691_902_448),
    "b7": (66_347_960, 37_745_958_392, 38_832_701_672),
}


@pytest.fixture(autouse=True)
def _quiet_known_warnings():
    # ptflops and torchvision warn about things that do not concern these tests
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="ptflops")
        yield


@pytest.fixture(autouse=True)
def _close_figures():
    # figures a test draws are closed after it (only where the test imported matplotlib)
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="session")
def torch():
    import torch

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    return torch


def make_image_folder(root, classes=("cat", "dog", "frog"), per_split=None, size=16, seed=0):
    """A small ImageFolder split root (train/ and test/) of PNGs whose colour depends on the class,
    so a model can learn it in a few steps. Returns the root path."""
    import numpy as np
    from PIL import Image

    per_split = per_split or {"train": 12, "test": 6}
    rng = np.random.default_rng(seed)
    for split, n in per_split.items():
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                hue = 2 * np.pi * c / len(classes)  # one distinct colour per class
                base = np.zeros((size, size, 3)) + 128 + 100 * np.cos(hue + np.array([0, 2.1, 4.2]))
                pixels = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype("uint8")
                Image.fromarray(pixels).save(folder / f"{name}_{i:03d}.png")
    return root


@pytest.fixture
def image_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path / "cache"))
    return make_image_folder(tmp_path / "data")


@pytest.fixture(scope="session")
def shared_cifar():
    """The real CIFAR-10 subset when EFFNET_LAB_DATA points at it; a generated stand-in otherwise."""
    from pathlib import Path
    import tempfile

    root = os.environ.get("EFFNET_LAB_DATA")
    if root and (Path(root) / "cifar10" / "train").is_dir():
        return Path(root) / "cifar10", True
    folder = Path(tempfile.mkdtemp()) / "cifar10"
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    return make_image_folder(folder, classes, {"train": 30, "test": 10}, size=32), False
