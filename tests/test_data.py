import re
import warnings

import pytest
import torch

from effnet_lab import data
from effnet_lab import loader as loading
from effnet_lab.data import ImageTensors
from effnet_lab.loader import DeviceLoader
from conftest import make_image_folder


def test_split_root_and_class_tree_load_the_same_images(image_folder):
    train, test = data.load_pair(image_folder)
    assert (len(train), len(test)) == (36, 18)
    assert train.classes == ["cat", "dog", "frog"] and train.counts() == [12, 12, 12]
    assert train.images.dtype == torch.uint8 and train.image_size == (16, 16)
    same = data.load(image_folder / "train", "train")  # a folder of class folders itself
    assert torch.equal(same.images, train.images)
    # colour follows the class, so labels really belong to their images
    red = [train.images[train.labels == c][:, 0].float().mean().item() for c in range(3)]
    assert red[0] > 180 and red[1] < 120 and red[2] < 120


def test_decoded_tensors_are_cached_and_keyed_by_content(image_folder, tmp_path):
    first = data.load(image_folder, "train")
    cached = list((tmp_path / "cache").glob("*.pt"))
    assert len(cached) == 1
    assert torch.equal(data.load(image_folder, "train").images, first.images)
    make_image_folder(image_folder, ("cat",), {"train": 13})  # one more cat: a new cache entry
    assert len(data.load(image_folder, "train")) == 37
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2
    # a damaged cache file (truncated, empty, foreign) is decoded anew, not an error, and the warning names it
    for damage in (b"damaged", b"", b"not a torch file at all" * 10):
        for path in (tmp_path / "cache").glob("*.pt"):
            path.write_bytes(damage)
        with pytest.warns(UserWarning, match=rf"the decode cache {re.escape(str(tmp_path / 'cache'))}/\S+\.pt is damaged"):
            assert len(data.load(image_folder, "train")) == 37


def test_named_datasets_come_from_the_data_root(image_folder, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_DATA", str(image_folder.parent))
    assert data.resolve("data") == image_folder
    assert len(data.load("data", "test")) == 18
    monkeypatch.delenv("EFFNET_LAB_DATA")
    with pytest.raises(FileNotFoundError, match=r"data 'nothing-here' is neither a folder nor a dataset under the data root \(EFFNET_LAB_DATA is not set\)"):
        data.load("nothing-here")


def test_cifar_download_failure_says_where_to_put_the_data(monkeypatch, tmp_path):
    import torchvision

    def offline(*args, **kwargs):
        raise RuntimeError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    monkeypatch.delenv("EFFNET_LAB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"could not download cifar10.*<root>/cifar10/train/<class>.*EFFNET_LAB_DATA=<root>"):
        data.load("cifar10")


def test_subsets_are_class_balanced_and_seeded(image_folder):
    train = data.load(image_folder, "train")
    a, b, c = train.subset(5, seed=1), train.subset(5, seed=1), train.subset(5, seed=2)
    assert a.counts() == [5, 5, 5] and torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    fit_part, val_part = train.train_val_split(4, seed=3)
    assert val_part.counts() == [4, 4, 4] and fit_part.counts() == [8, 8, 8]
    seen = {tuple(x.flatten()[:20].tolist()) for x in torch.cat([fit_part.images, val_part.images])}
    assert len(seen) == 36  # disjoint and complete
    with pytest.raises(ValueError, match=r"per_class must be <= 12 \(the smallest class of .*\), got 13"):
        train.subset(13)
    with pytest.raises(ValueError, match="per_class must be an integer >= 1, got 0"):
        train.subset(0)


def test_bad_data_gives_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load(tmp_path / "missing")
    root = make_image_folder(tmp_path / "d")
    (root / "train" / "empty").mkdir()
    with pytest.raises(ValueError, match=r"class folder\(s\) with no images in .*train': empty"):
        data.load(root, "train")
    (root / "train" / "empty").rmdir()
    (root / "test" / "extra").mkdir()
    make_image_folder(root, ("extra",), {"test": 2})
    with pytest.raises(ValueError, match=r"train and test classes differ.*only in train \[\], only in test \['extra'\]"):
        data.load_pair(root)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "readme.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match="has no train/ folder and is not a folder of class folders"):
        data.load(plain)


def test_unreadable_images_are_skipped_with_one_warning(image_folder):
    (image_folder / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    good = image_folder / "train" / "dog" / "dog_000.png"
    (image_folder / "train" / "dog" / "half.png").write_bytes(good.read_bytes()[:60])
    with pytest.warns(UserWarning, match=r"skipped 2 of 38 unreadable image\(s\) in .*: .*broken.png"):
        train = data.load(image_folder, "train")
    assert len(train) == 36


def test_mixed_sizes_are_resized_to_one(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path / "cache"))
    root = make_image_folder(tmp_path / "a", size=16)
    make_image_folder(tmp_path / "a", ("cat",), {"train": 2}, size=24, seed=5)  # overwrites two cats at 24 px
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train = data.load(root, "train")
    assert train.image_size == (16, 16)
    assert data.load(root, "train", image_size=(20, 12)).image_size == (20, 12)


def test_device_loader_cuts_augments_and_resizes_on_the_device():
    images = torch.arange(4 * 3 * 8 * 8, dtype=torch.int64).remainder(256).to(torch.uint8).view(4, 3, 8, 8)
    ds = ImageTensors(images, torch.tensor([0, 1, 0, 1]), ["a", "b"], "test")
    loader = DeviceLoader(ds, batch_size=3, resolution=(16, 12), train=True, seed=0)
    assert len(loader) == 1  # drop_last while training
    x, y = next(iter(loader))
    assert x.shape == (3, 3, 16, 12) and x.dtype == torch.float32 and x.is_contiguous()
    loader.set_epoch(0)
    x2, _ = next(iter(loader))
    assert torch.equal(x, x2)  # same seed and epoch: same batch
    loader.set_epoch(1)
    assert not torch.equal(next(iter(loader))[0], x)
    plain = DeviceLoader(ds, batch_size=3, resolution=8)
    assert len(plain) == 2 and [len(b[1]) for b in plain] == [3, 1]
    raw = next(iter(plain))[0] * torch.tensor(loading.STD).view(1, 3, 1, 1) * 255 + torch.tensor(loading.MEAN).view(1, 3, 1, 1) * 255
    assert torch.allclose(raw, images[:3].float(), atol=1e-3)  # no augmentation outside training


def test_random_crop_flip_moves_whole_images():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4).expand(2, 3, 4, 4)
    g = torch.Generator().manual_seed(0)
    out = loading.random_crop_flip(x, 0, g)
    for i in range(2):  # padding 0: each image is itself or its mirror
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    padded = loading.random_crop_flip(x, 2, torch.Generator().manual_seed(1))
    assert padded.shape == x.shape
    assert set(padded.unique().tolist()) <= set(x.unique().tolist()) | {0.0}


def test_the_cpu_crop_flip_gives_the_gpu_paths_values():
    # the CPU slices image by image, a GPU gathers the whole batch at once: the same pixels, bit for bit
    g = torch.Generator().manual_seed(3)
    for size, padding in ((32, 4), (9, 2), (12, 0)):
        x = torch.randint(0, 256, (17, 3, size, size), dtype=torch.uint8, generator=g)
        draws = loading.draw_crop_flip(17, padding, g)
        assert draws[2].any() and not draws[2].all()  # both mirrored and plain images are checked
        padded = torch.nn.functional.pad(x, (padding,) * 4)
        assert torch.equal(loading.crop_flip(x, padding, draws), loading.gather_crop_flip(padded, draws, size, size))


def test_an_epochs_augmentation_is_drawn_at_once_as_batch_by_batch_drawing_would():
    images = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ds = data.ImageTensors(images, torch.arange(50) % 5, list("abcde"), "synthetic")
    loader = DeviceLoader(ds, batch_size=16, resolution=8, train=True, seed=7)
    loader.set_epoch(2)
    # the reference: draw each batch's crops and flips just before using it
    g = torch.Generator().manual_seed(7 * 100_003 + 2)
    order = torch.randperm(50, generator=g)
    batches = list(loader)
    assert len(batches) == 3  # 50 // 16: the partial batch is dropped while training
    for i, (x, y) in enumerate(batches):
        index = order[i * 16:(i + 1) * 16]
        expected = loading.random_crop_flip(images[index], loader.padding, g).float()
        expected = (expected - loader.mean) / loader.std
        assert torch.equal(y, ds.labels[index]) and torch.allclose(x, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_batches_on_a_gpu_never_wait_for_it():
    images = torch.randint(0, 256, (512, 3, 32, 32), dtype=torch.uint8)
    ds = data.ImageTensors(images, torch.arange(512) % 4, list("abcd"), "synthetic")
    batches = iter(DeviceLoader(ds, 64, 48, "cuda", train=True, channels_last=True))
    next(batches)  # the epoch's order and draws go to the GPU once, here
    torch.cuda.set_sync_debug_mode("error")  # any later host-device synchronisation raises
    try:
        rest = [x.sum() for x, _ in batches]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(rest) == 7


def test_a_plain_class_tree_holds_out_a_seeded_tenth(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path / "cache"))
    root = make_image_folder(tmp_path / "d", per_split={"all": 20}) / "all"
    train, test = data.load_pair(root, seed=4)
    assert test.counts() == [2, 2, 2] and train.counts() == [18, 18, 18]
    again, _ = data.load_pair(root, seed=4)
    assert torch.equal(again.images, train.images)
