"""Bad input and faults (issue 16): no traceback from the command line, no hang, no silent wrong
number, nothing half-applied. One test per kind of fault, each with the examples that stand for it."""

import json
import os
import re
import time
import warnings

import numpy as np
import pytest
import torch

import effnet_lab as el
from conftest import make_image_folder
from effnet_lab import data, experiments as ex, nas, train, runtime, store, sweeps
from effnet_lab.lessons import proxy_search
from effnet_lab.__main__ import main
from effnet_lab.cli import flag_message

SMALL = el.compound_scaling(-3, resolution=32, stem_stride=1, dropout=0.1)
TRAIN = ["--phi", "-3", "--resolution", "32", "--stem-stride", "1", "--epochs", "1", "--batch-size", "8", "--quiet"]


def usage_error(argv, capsys):
    """Run the CLI on a refused command line: exit status 2 and two lines, the message and 'see --help'."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    command = argv[0] if argv and not argv[0].startswith("-") else None
    assert len(lines) == 2 and lines[1] == "see --help", err
    assert lines[0].startswith(f"python -m effnet_lab{' ' + command if command else ''}: error: "), err
    return lines[0]


def run_error(argv, capsys):
    """Run the CLI on a command that fails while it runs: exit status 1, one line, no usage."""
    assert main(argv) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m effnet_lab {argv[0]}: error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small split root, with a decode cache beside it for the whole module."""
    root = tmp_path_factory.mktemp("faults")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EFFNET_LAB_CACHE", str(root / "cache"))
        yield root, make_image_folder(root / "data")


@pytest.fixture(scope="module")
def trained(folder):
    """One finished 1-epoch train run: its --out folder and the arguments that made it."""
    root, images = folder
    argv = ["train", "--data", str(images), "--out", str(root / "run"), *TRAIN]
    assert main(argv) == 0
    return root / "run", argv


# ---------------------------------------------------------------------------------------------
# 1. No traceback from the command line: one place turns library errors into a line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["profile", "--phi", "10000"], "--phi=10000 is out of range: gamma^phi = 1.15^10000 is too large for a float64"),
    (["profile", "--phi", "4000"], "alpha^phi = 1.2^4000 is too large"),
    (["profile", "--phi", "3000"], "beyond the range of a float64"),
    (["profile", "--phi", "1", "--gamma", "0"], "--gamma must be a finite real number > 0, got 0.0"),
    (["profile", "--model", "b9"], "invalid choice: 'b9'"),
    (["evaluate", "--checkpoint", "x.pt", "--data", "d", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["sweep", "grid-search", "--quick", "--workers", "0"], "--workers must be an integer >= 1"),
])
def test_cli_errors_are_two_lines_without_the_usage_block(argv, message, capsys):
    assert message in usage_error(argv, capsys)


def test_every_command_with_an_out_folder_refuses_an_unusable_one(folder, tmp_path, capsys):
    _, images = folder
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for command in (["train", "--data", str(images), *TRAIN], ["sweep", "grid-search", "--quick"]):
        line = usage_error([*command, "--out", str(blocker)], capsys)
        assert f"--out {blocker}: a file of that name is in the way" in line
        line = usage_error([*command, "--out", str(blocker / "sub")], capsys)
        assert f"--out {blocker / 'sub'}: cannot create the folder: {blocker} is a file" in line
    assert blocker.read_text() == ""


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user whom permissions bind (not root)")
def test_an_out_folder_without_write_permission_is_refused(folder, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    for command in (["train", "--data", str(folder[1]), *TRAIN], ["sweep", "grid-search", "--quick"]):
        line = usage_error([*command, "--out", str(locked / "run")], capsys)
        assert f"cannot create the folder: no permission to write in {locked}" in line


def test_data_naming_a_file_says_so(tmp_path, capsys):
    afile = tmp_path / "images.zip"
    afile.write_bytes(b"PK")
    with pytest.raises(NotADirectoryError, match=f"data '{afile}' is a file; give a folder"):
        data.load(afile)
    assert f"--data '{afile}' is a file; give a folder" in usage_error(
        ["train", "--data", str(afile), "--out", str(tmp_path / "r"), *TRAIN], capsys)


def test_a_cache_variable_naming_a_file_is_refused(folder, tmp_path, monkeypatch, capsys):
    afile = tmp_path / "cache-file"
    afile.write_text("")
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(afile))
    with pytest.raises(NotADirectoryError, match=f"EFFNET_LAB_CACHE={afile} names a file, not a folder"):
        runtime.cache_dir()
    assert "names a file, not a folder" in usage_error(
        ["train", "--data", str(folder[1]), "--out", str(tmp_path / "run"), *TRAIN], capsys)
    assert "names a file, not a folder" in usage_error(["sweep", "grid-search", "--quick"], capsys)
    assert not (tmp_path / "run").exists()


def test_an_unwritable_cache_only_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path / "cache"))
    images = make_image_folder(tmp_path / "d", per_split={"train": 2})
    real = runtime.atomic_save

    def full_disk(obj, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data, "atomic_save", full_disk)
    with pytest.warns(UserWarning, match=r"could not write the decode cache .* \(No space left on device\)"):
        assert len(data.load(images, "train")) == 6
    monkeypatch.setattr(data, "atomic_save", real)


def test_a_device_that_is_not_there_is_refused_by_name(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device 'cuda': CUDA is not available on this machine"):
        runtime.pick_device("cuda")
    for argv in (["train", "--data", str(folder[1]), "--out", str(tmp_path / "run"), *TRAIN],
                 ["evaluate", "--checkpoint", "x.pt", "--data", str(folder[1])],
                 ["sweep", "grid-search", "--quick", "--out", str(tmp_path / "sweep")]):
        assert "--device 'cuda:0': CUDA is not available on this machine" in usage_error(
            [*argv, "--device", "cuda:0"], capsys)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"device 'cuda:3': this machine has 1 CUDA device\(s\), numbered from 0"):
        runtime.pick_device("cuda:3")
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()


def test_a_damaged_or_foreign_checkpoint_on_resume_is_one_line(trained, tmp_path, capsys):
    out, argv = trained
    other = tmp_path / "run"
    other.mkdir()
    (other / "last.pt").write_bytes((out / "last.pt").read_bytes()[:1000])  # cut short: a full disk, a crash
    resume = [*argv[:4], str(other), *argv[5:]]
    assert f"checkpoint '{other / 'last.pt'}' is damaged (" in run_error(resume, capsys)
    torch.save({"weights": torch.zeros(2)}, other / "last.pt")
    assert "is not a checkpoint that fit wrote (it needs epoch, epochs, history, model" in run_error(resume, capsys)
    assert not (other / "metrics.json").exists()


def test_a_checkpoint_from_a_newer_version_names_the_unknown_field(folder, tmp_path, capsys):
    model = el.efficientnet(SMALL, num_classes=3)
    for config in ({**SMALL.to_dict(), "groups": 4},
                   {**SMALL.to_dict(), "base_stages": [{**SMALL.to_dict()["base_stages"][0], "fused": True}]}):
        torch.save({"model": model.state_dict(), "config": config, "classes": ["cat", "dog", "frog"]},
                   tmp_path / "c.pt")
        unknown = "groups" if "groups" in config else "fused"
        with pytest.raises(ValueError, match=rf"field\(s\) \['{unknown}'\] that this version of effnet_lab does not"):
            el.ModelConfig.from_dict(config)
        line = usage_error(["evaluate", "--checkpoint", str(tmp_path / "c.pt"), "--data", str(folder[1])], capsys)
        assert f"'{tmp_path / 'c.pt'}' does not rebuild an effnet_lab model: config" in line and unknown in line


def test_evaluate_says_a_folder_is_a_folder(trained, capsys):
    out, _ = trained
    line = usage_error(["evaluate", "--checkpoint", str(out), "--data", "d"], capsys)
    assert f"--checkpoint '{out}' is a folder, not a checkpoint file; did you mean '{out / 'last.pt'}'?" in line


def test_a_results_line_with_a_missing_or_unknown_field_is_named(folder, tmp_path, capsys):
    settings = ex.Settings(**{**ex.quick_settings("grid-search").__dict__, "data": str(folder[1]), "per_class": 4,
                              "batch_size": 4})
    sweeps.run_sweep("grid-search", tmp_path, settings, log=lambda m: None)
    path = store.results_path(tmp_path, "grid-search")
    good = path.read_text().splitlines()
    argv = ["sweep", "grid-search", "--quick", "--data", str(folder[1]), "--out", str(tmp_path), "--per-class", "4",
            "--batch-size", "4"]
    for change, message in [(lambda r: r.pop("macs"), "line 2 lacks field(s) macs; the file is damaged"),
                            (lambda r: r["settings"].update(shiny=1), "line 2 has settings field(s) ['shiny']"),
                            (lambda r: r["config"].update(fused=True), "line 2: config has field(s) ['fused']")]:
        row = json.loads(good[1])
        change(row)
        path.write_text("\n".join([good[0], json.dumps(row)]) + "\n")
        with pytest.raises(ValueError, match=re.escape(message)):
            store.load_results("grid-search", tmp_path)
        assert message in run_error(argv, capsys)


def test_an_error_during_a_run_is_the_runs_not_a_usage_error(folder, tmp_path, monkeypatch, capsys):
    def late_failure(*args, **kwargs):  # what fit or a sweep may raise after hours
        raise ValueError("batch_size (64) must not exceed the 36 training images")

    monkeypatch.setattr(train, "fit", late_failure)
    line = run_error(["train", "--data", str(folder[1]), "--out", str(tmp_path / "run"), *TRAIN], capsys)
    assert line.endswith("error: --batch-size (64) must not exceed the 36 training images")
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("out of GPU memory")

    monkeypatch.setattr(sweeps, "run_sweep", out_of_memory)
    assert run_error(["sweep", "grid-search", "--quick", "--out", str(tmp_path / "s")], capsys).endswith(
        "error: out of GPU memory")
    monkeypatch.setattr(sweeps, "run_sweep", lambda *a, **k: {}["a bug"])
    with pytest.raises(KeyError):  # a bug is not bad input: it keeps its traceback
        main(["sweep", "grid-search", "--quick", "--out", str(tmp_path / "s")])
    monkeypatch.setenv("EFFNET_LAB_TRACEBACK", "1")
    monkeypatch.setattr(train, "fit", late_failure)
    with pytest.raises(ValueError, match="must not exceed"):
        main(["train", "--data", str(folder[1]), "--out", str(tmp_path / "run"), *TRAIN])


@pytest.mark.parametrize("message, parser_command, expected", [
    ("batch_size (128) must not exceed the 36 training images", "train",
     "--batch-size (128) must not exceed the 36 training images"),
    ("seed 1 differs from the 0 that ...", "train", "--seed 1 differs from the 0 that ..."),
    ("per_class must be <= 12 (the smallest class of x), got 20", "sweep", "--per-class must be <= 12 (the smallest"),
    ("out of GPU memory at batch size 16; try --batch-size 8", "train", "out of GPU memory at batch size 16"),
    ("data folder '/x' does not exist", "train", "data folder '/x' does not exist"),
    ("width_mult must be a finite real number > 0, got 0", "profile", "width_mult must be"),  # not a profile flag
])
def test_messages_name_the_flag_a_value_came_from(message, parser_command, expected):
    from effnet_lab.__main__ import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices[parser_command]
    assert flag_message(message, sub).startswith(expected)


# ---------------------------------------------------------------------------------------------
# 2. No hang: per-stage tables in closed form at any phi, per-layer tables refused when huge
# ---------------------------------------------------------------------------------------------


def test_a_deep_phi_costs_and_tabulates_at_once(capsys):
    began = time.perf_counter()
    cost = el.analytic_cost(el.compound_scaling(100))
    table = cost.stages
    assert time.perf_counter() - began < 2  # was: never (1.3e9 blocks listed one by one)
    assert cost.num_layers > 10**10 and list(table.index) == list(range(1, 10))
    assert int(table.macs.sum()) == cost.macs and int(table.params.sum()) == cost.params
    with pytest.raises(ValueError, match=rf"phi=100 has {cost.num_layers:,} layers, more than the 100,000 a per-layer"):
        cost.layers
    assert main(["profile", "--phi", "100"]) == 0
    assert f"{cost.macs:>16,}" in capsys.readouterr().out
    assert time.perf_counter() - began < 5
    assert "--per-layer: phi=50 has 2,156,849 layers, more than the 100,000" in usage_error(
        ["profile", "--phi", "50", "--per-layer"], capsys)


@pytest.mark.parametrize("config", [el.official_config(n) for n in ("b0", "b3", "b7")]
                         + [el.compound_scaling(-1.7), el.compound_scaling(2.3, alpha=1.4, base_resolution=(97, 131)),
                            el.ModelConfig(width_mult=0.37, depth_mult=0.6, stochastic_depth=0.0, resolution=(1, 5))])
def test_the_closed_form_stage_table_equals_the_sum_of_its_layers(config):
    cost = el.analytic_cost(config, num_classes=10)
    by_layer = cost.layers.groupby("stage")[["macs", "params", "other_ops", "saved_bytes"]].sum()
    stages = cost.stages
    for column in ("macs", "params", "other_ops"):
        assert stages[column].tolist() == by_layer[column].tolist(), column
    assert stages.activation_MB.tolist() == (by_layer.saved_bytes / 1e6).tolist()
    assert cost.num_layers == len(cost.layers)


def test_a_model_too_big_for_memory_is_refused_by_its_size(folder, tmp_path, capsys):
    began = time.perf_counter()
    params = el.analytic_cost(el.compound_scaling(30), num_classes=10).params
    with pytest.raises(ValueError, match=f"EfficientNet phi=30 with 10 classes has {params:,} parameters: "
                                         f"1,261 GiB of float32 weights, more than this machine's"):
        el.efficientnet(el.compound_scaling(30), num_classes=10)  # was: minutes, then the OOM killer
    with pytest.raises(ValueError, match="phi=100 with 1000 classes has"):
        el.efficientnet(el.compound_scaling(100))
    assert time.perf_counter() - began < 2
    with torch.device("meta"):  # no memory needed: built as before
        assert el.efficientnet("b7").num_classes == 1000
    line = usage_error(["train", "--data", str(folder[1]), "--out", str(tmp_path / "r"), *TRAIN, "--phi", "40"],
                       capsys)
    assert "EfficientNet phi=40 with 3 classes has" in line and not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------------
# 3. No silent wrong number
# ---------------------------------------------------------------------------------------------


def test_grid_cost_refuses_what_int64_cannot_hold():
    from effnet_lab.cost import grid_cost

    assert int(grid_cost(1.2, 1.1, 1.15, 30)["macs"]) == el.analytic_cost(el.compound_scaling(30)).macs
    with pytest.raises(ValueError, match=r"int64, which holds up to 9.2e18: 1 of 2 grid point\(s\) go beyond "
                                         r"\(first: alpha=1.2, beta=1.1, gamma=1.15, phi=40, about 7.75e\+19 MACs\)"):
        grid_cost(1.2, 1.1, 1.15, [1, 40])  # wrapped around to 3.7e18
    assert el.analytic_cost(el.compound_scaling(40)).macs == 77_462_150_319_846_314_542
    huge = el.ModelConfig(resolution=10**8)  # the same kind without phi: a vast base
    with pytest.raises(ValueError, match="1 of 1 grid point"):
        grid_cost(1.2, 1.1, 1.15, 0, base=huge)
    with pytest.raises(ValueError, match="phi=10000, beyond float64's range"):
        grid_cost(1.2, 1.1, 1.15, 10000)


def test_sixteen_bit_greyscale_decodes_scaled_and_float_pixels_are_named(tmp_path):
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "d" / c).mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(tmp_path / "d" / c / "rgb.png")
    deep = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)  # 0 .. 63000 of 65535
    Image.fromarray(deep).save(tmp_path / "d" / "a" / "grey16.png")
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "d" / "b" / "float.tif")
    with pytest.warns(UserWarning, match=r"skipped 1 of 4 .*float.tif \(32-bit float pixels: no 8-bit range"):
        loaded = data.load_folder(tmp_path / "d", cache=False)
    assert loaded.labels.tolist() == [0, 0, 1]
    grey = loaded.images[0]  # a/grey16.png
    expected = torch.from_numpy(np.round(deep / 257).astype(np.uint8))
    assert all(torch.equal(grey[k], expected) for k in range(3))  # was 255 everywhere
    assert int(grey.max()) == round(63000 / 257)


def test_a_class_with_no_readable_image_or_one_image_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path / "cache"))
    root = make_image_folder(tmp_path / "d", per_split={"train": 3})
    for p in (root / "train" / "dog").iterdir():
        p.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"no image of class\(es\) dog in .* could be read \(unreadable: dog_000.png"):
        data.load_folder(root / "train", cache=False)
    plain = make_image_folder(tmp_path / "plain", per_split={"train": 5}) / "train"
    for p in sorted((plain / "frog").iterdir())[1:]:
        p.unlink()
    with pytest.raises(ValueError, match=r"every class needs two or more images; in .* frog has only one"):
        data.load_pair(plain)
    everything = data.load_folder(plain, cache=False)
    with pytest.raises(ValueError, match=r"leaves no training image in class\(es\) frog \(1\)"):
        everything.train_val_split(1)


# ---------------------------------------------------------------------------------------------
# 4. No option silently ignored or misrecorded
# ---------------------------------------------------------------------------------------------


def test_per_class_zero_and_a_disagreeing_class_count_are_refused(folder, tmp_path, capsys):
    base = ["train", "--data", str(folder[1]), "--out", str(tmp_path / "run"), *TRAIN]
    assert usage_error([*base, "--per-class", "0"], capsys).endswith("--per-class must be >= 1, got 0")
    assert "--per-class must be an integer >= 1, got 0" in usage_error(
        ["sweep", "grid-search", "--quick", "--out", str(tmp_path / "s"), "--per-class", "0"], capsys)
    line = usage_error([*base, "--num-classes", "10"], capsys)
    assert f"--num-classes 10 disagrees with the data: {folder[1]} has 3 classes" in line
    assert "--per-class must be <= 12 (the smallest class of" in usage_error([*base, "--per-class", "13"], capsys)
    assert not (tmp_path / "run").exists()
    sweep = ["sweep", "grid-search", "--quick", "--data", str(folder[1]), "--out", str(tmp_path / "s")]
    assert f"--per-class must be <= 12 (the smallest class of {folder[1]}), got 13" in run_error(  # was: 12 used
        [*sweep, "--per-class", "13"], capsys)


@pytest.mark.parametrize("flags, message", [
    (["--seed", "1"], "--seed 1 differs from the 0 that checkpoint"),
    (["--lr", "0.5"], "--lr 0.5 differs from the 0.00625 that checkpoint"),
    (["--weight-decay", "0.01"], "--weight-decay 0.01 differs from the 5e-05 that"),
    (["--schedule", "linear"], "--schedule 'linear' differs from the 'cosine' that"),
    (["--optimizer", "adamw"], "--optimizer 'adamw' differs from the 'sgd' that"),
    (["--zero-init", "off"], "--zero-init False differs from the True that"),
    (["--tta", "off"], "--tta False differs from the True that"),
    (["--dropout", "0.3"], "--dropout 0.3 differs from the 0.2 that"),
    (["--resolution", "24"], "--resolution [24, 24] differs from the [32, 32] that"),
    (["--per-class", "5"], "the training images (15 images, sha256 "),
    (["--ema", "0.9"], "was trained without a weight average (ema)"),
    (["--recalibrate-bn", "on"], "--recalibrate-bn True differs from the False that"),
    (["--batch-size", "4"], "--batch-size 4 differs from the 8 that"),
    (["--epochs", "2"], "belongs to a 1-epoch run, not 2"),
])
def test_a_resume_with_other_training_options_is_refused_naming_both_values(trained, flags, message, capsys):
    out, argv = trained
    before = (out / "metrics.json").read_bytes()
    assert message in run_error([*argv, *flags], capsys)
    assert (out / "metrics.json").read_bytes() == before  # the record still says how the model was trained


def test_fit_compares_every_training_option_on_resume(folder, tmp_path):
    trainset, _ = data.load_pair(folder[1])
    checkpoint = tmp_path / "last.pt"
    options = dict(epochs=1, batch_size=8, seed=0, progress=False, checkpoint=checkpoint)
    train.fit(el.efficientnet(SMALL, num_classes=3), trainset, **options)
    for change, name in [(dict(label_smoothing=0.0), "label_smoothing 0.0 differs from the 0.1"),
                         (dict(warmup_epochs=0.0), "warmup_epochs 0.0 differs from the 1.0"),
                         (dict(tta=False), "tta False differs from the True"),
                         (dict(batch_size=4), "batch_size 4 differs from the 8"),
                         (dict(resolution=16), r"resolution \[16, 16\] differs from the \[32, 32\]")]:
        with pytest.raises(ValueError, match=rf"{name} that checkpoint '.*last.pt' was trained with; resume with"):
            train.fit(el.efficientnet(SMALL, num_classes=3), trainset, **{**options, **change})
    with pytest.raises(ValueError, match="stochastic_depth 0.0 differs from the 0.2"):
        train.fit(el.efficientnet(SMALL.replace(stochastic_depth=0.0), num_classes=3), trainset, **options)


def test_a_warm_up_longer_than_the_run_is_refused(folder, tmp_path, capsys):
    trainset, _ = data.load_pair(folder[1])
    with pytest.raises(ValueError, match=r"warmup_epochs \(3\) must not exceed the 2 epoch\(s\) of the run: the "
                                         r"learning rate would still be warming up at the end and the cosine "
                                         r"schedule never start"):
        train.fit(el.efficientnet(SMALL, num_classes=3), trainset, epochs=2, batch_size=8, warmup_epochs=3,
                  progress=False)
    argv = ["train", "--data", str(folder[1]), "--out", str(tmp_path / "r"), *TRAIN]
    for value in ("5", "1e308"):  # 1e308: was an OverflowError naming nothing
        assert f"--warmup-epochs ({float(value):g}) must not exceed the 1 epoch(s)" in run_error(
            [*argv, "--warmup-epochs", value], capsys)


def test_nothing_to_evaluate_is_not_an_accuracy_of_zero(folder):
    _, test = data.load_pair(folder[1])
    empty = test.take(torch.tensor([], dtype=torch.int64))
    with pytest.raises(ValueError, match="nothing to evaluate: the data holds no images"):
        train.evaluate(el.efficientnet(SMALL, num_classes=3), empty)


def test_batch_size_one_is_refused_up_front_naming_it(folder, tmp_path, capsys):
    trainset, _ = data.load_pair(folder[1])
    with pytest.raises(ValueError, match="batch_size must be >= 2 to train, got 1: BatchNorm"):
        train.fit(el.efficientnet(SMALL, num_classes=3), trainset, epochs=1, batch_size=1, progress=False)
    line = usage_error(["train", "--data", str(folder[1]), "--out", str(tmp_path / "r"), *TRAIN, "--batch-size", "1"],
                       capsys)
    assert line.endswith("--batch-size must be >= 2, got 1 (BatchNorm needs at least 2 images per batch in training)")
    assert "--batch-size must be >= 2, got 1" in usage_error(
        ["sweep", "grid-search", "--quick", "--out", str(tmp_path / "s"), "--batch-size", "1"], capsys)


def test_variant_names_are_accepted_alike_by_the_library_and_the_cli(capsys):
    assert el.official_config("B3") == el.official_config("efficientnet_b3") == el.official_config("b3")
    for name in ("B3", "efficientnet-b3"):
        assert main(["profile", "--model", name]) == 0
        assert "EfficientNet b3:" in capsys.readouterr().out
    assert "invalid choice: 'B9'" in usage_error(["profile", "--model", "B9"], capsys)
    from effnet_lab.__main__ import build_parser

    args = build_parser().parse_args(["sweep", "formula-vs-official", "--variants", "B3", "b2"])
    assert args.variants == ["b3", "b2"]


def test_a_positive_w_is_refused(capsys):
    with pytest.raises(ValueError, match=r"w must be <= 0 \(the exponent of the cost penalty\), got 0.07: with w > 0"):
        nas.objective(0.7, 8e8, w=0.07)
    with pytest.raises(ValueError, match="w must be <= 0"):
        proxy_search.random_stage_search(2, w=0.5)
    assert nas.objective(0.7, 8e8, w=0.0) == 0.7


# ---------------------------------------------------------------------------------------------
# 5. Nothing half-applied
# ---------------------------------------------------------------------------------------------


def test_torchvision_weights_are_checked_entry_by_entry_before_any_copy():
    import torchvision

    ours = el.efficientnet("b0")
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    theirs = torchvision.models.efficientnet_b0().state_dict()
    last = list(theirs)[-1]
    counter = [k for k in theirs if k.endswith("num_batches_tracked")][-1]
    for key, value, message in [
        (last, theirs[last].numpy(), rf"1 entr\(ies\) not a torch.Tensor, first: {last} \(numpy.ndarray\)"),
        (last, [0.0] * 1000, rf"first: {last} \(builtins.list\)"),
        (last, torch.empty(1000, device="meta"),
         rf"1 tensor\(s\) without data \(meta device or sparse\), first: {last}"),
        (last, theirs[last].long(),
         rf"1 dtype mismatch\(es\), first: {last} \(torchvision torch.int64, ours torch.float32\)"),
        (counter, theirs[counter].float(), rf"first: {counter} \(torchvision torch.float32, ours torch.int64\)"),
    ]:
        with pytest.raises(ValueError, match=message + r".*The model was left unchanged"):
            el.load_torchvision_weights(ours, {**theirs, key: value})
        after = ours.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)  # was: 82 of 360 tensors overwritten
    el.load_torchvision_weights(ours, {k: v.double() if v.is_floating_point() else v for k, v in theirs.items()})
    assert torch.equal(ours.classifier.bias, theirs["classifier.1.bias"])


# ---------------------------------------------------------------------------------------------
# 6. The results file: a trial once
# ---------------------------------------------------------------------------------------------


def test_a_results_file_never_yields_a_trial_twice(tmp_path):
    settings = ex.Settings()
    row = {**dict.fromkeys(store.REQUIRED_FIELDS), "schema": store.SCHEMA, "config": settings.base.to_dict(),
           "settings": settings.to_dict()}
    path = store.results_path(tmp_path, "grid-search")
    path.write_text("".join(json.dumps({**row, "trial_id": t, "macs": i}) + "\n" for i, t in enumerate("abab")))
    with pytest.warns(UserWarning, match=rf"{path} holds trial\(s\) more than once: a \(line 3\), b \(line 4\); "
                                         rf"the first"):
        rows = store.ResultsStore(path).read()
    assert [(r["trial_id"], r["macs"]) for r in rows] == [("a", 0), ("b", 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert store.ResultsStore(path).append({**row, "trial_id": "a", "macs": 9}) is False
        assert store.ResultsStore(path).append({**row, "trial_id": "c", "macs": 9}) is True
    assert [r["trial_id"] for r in store.ResultsStore(path).read()] == ["a", "b", "c"]


