import json
import os
import subprocess
import sys

import pytest
import torch

import effnet_lab as el
from effnet_lab import data, train
from effnet_lab.__main__ import main

SMALL = el.compound_scaling(-3, resolution=32, stem_stride=1, dropout=0.1)


def tiny_model(num_classes, seed=0):
    torch.manual_seed(seed)
    return el.efficientnet(SMALL, num_classes=num_classes)


def strip_times(history):
    return [{k: v for k, v in e.items() if k not in ("seconds", "images_per_second")} for e in history.to_dicts()]


def test_a_few_steps_reduce_the_loss_on_real_data(shared_cifar):
    root, real = shared_cifar
    subset = data.load(root, "train").subset(20, seed=0)
    history = train.fit(tiny_model(10), subset, epochs=5, batch_size=25, optimizer="adamw", progress=False)
    first, last = history.epochs[0].train_loss, history.final.train_loss
    assert last < first - 0.05, f"loss did not fall ({first:.3f} -> {last:.3f}, real data: {real})"
    assert len(history.epochs) == 5 and history.final.images_per_second > 0


def test_seeded_runs_repeat_exactly_on_cpu(image_folder):
    trainset, testset = data.load_pair(image_folder)
    a = train.fit(tiny_model(3), trainset, testset, epochs=2, batch_size=8, seed=1, progress=False)
    b = train.fit(tiny_model(3), trainset, testset, epochs=2, batch_size=8, seed=1, progress=False)
    assert strip_times(a) == strip_times(b)


def test_eval_every_tests_fewer_epochs_and_trains_the_same(image_folder):
    trainset, testset = data.load_pair(image_folder)
    every = train.fit(tiny_model(3), trainset, testset, epochs=5, batch_size=8, seed=1, progress=False)
    sparse = train.fit(tiny_model(3), trainset, testset, epochs=5, batch_size=8, seed=1, progress=False,
                       eval_every=2)
    assert [e.epoch for e in sparse.epochs if e.val_accuracy is not None] == [2, 4, 5]  # and always the last
    for a, b in zip(strip_times(every), strip_times(sparse)):  # evaluating draws no random numbers
        assert a == {**b, "val_loss": a["val_loss"], "val_accuracy": a["val_accuracy"]}
        assert b["val_accuracy"] in (None, a["val_accuracy"])


@pytest.mark.parametrize("options", [
    {},  # the defaults
    # a weight average, the linear schedule, BatchNorm recalibration: their state must resume too
    {"ema": 0.9, "schedule": "linear", "recalibrate_bn": True, "zero_init": True, "tta": True},
], ids=["defaults", "ema-linear-recalibrated"])
def test_resume_after_an_interrupt_matches_an_uninterrupted_run(image_folder, tmp_path, monkeypatch, options):
    trainset, testset = data.load_pair(image_folder)
    run = dict(epochs=3, batch_size=8, seed=2, progress=False, **options)
    whole = tiny_model(3)
    reference = train.fit(whole, trainset, testset, **run)

    real_evaluate, calls = train.evaluate, []

    def interrupted(*args, **kwargs):  # Ctrl-C during epoch 2, before its checkpoint is written
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    checkpoint = tmp_path / "run" / "last.pt"
    monkeypatch.setattr(train, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.fit(tiny_model(3), trainset, testset, checkpoint=checkpoint, **run)
    monkeypatch.setattr(train, "evaluate", real_evaluate)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    assert not list(checkpoint.parent.glob(".*tmp"))  # no half-written file left behind

    resumed_model = tiny_model(3, seed=99)  # different init: everything must come from the checkpoint
    resumed = train.fit(resumed_model, trainset, testset, checkpoint=checkpoint, **run)
    assert strip_times(resumed) == strip_times(reference)
    for (k, a), b in zip(whole.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), k  # with ema: both hold the weight average
    with pytest.raises(ValueError, match="belongs to a 3-epoch run, not 5"):
        train.fit(tiny_model(3), trainset, testset, checkpoint=checkpoint, **{**run, "epochs": 5})
    if options.get("ema"):
        with pytest.raises(ValueError, match="trained with a weight average"):
            train.fit(tiny_model(3), trainset, testset, checkpoint=checkpoint, **{**run, "ema": 0.0})


def test_evaluate_reports_per_class_accuracy_and_confusion(image_folder):
    _, testset = data.load_pair(image_folder)
    result = train.evaluate(tiny_model(3), testset)
    confusion = torch.tensor(result["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == 18 and confusion.sum(1).tolist() == [6, 6, 6]
    assert result["accuracy"] == pytest.approx(confusion.diag().sum().item() / 18)
    assert set(result["per_class_accuracy"]) == {"cat", "dog", "frog"}
    assert 0 <= result["accuracy"] <= 1


def test_bad_training_arguments(image_folder):
    trainset, _ = data.load_pair(image_folder)
    model = tiny_model(3)
    for kwargs, message in [
        (dict(epochs=0), "epochs must be an integer >= 1, got 0"),
        (dict(optimizer="lion"), r"optimizer must be one of \('sgd', 'rmsprop', 'adamw'\), got 'lion'"),
        (dict(schedule="step"), "schedule must be one of"),
        (dict(lr=-1), "lr must be a finite real number > 0, got -1"),
        (dict(batch_size=100), r"batch_size \(100\) must not exceed the 36 training images"),
        (dict(device="tpu"), "device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got 'tpu'"),
        (dict(eval_every=0), "eval_every must be an integer >= 1, got 0"),
        (dict(compile="fast"), r"compile must be True, False or a mode among \('default', 'reduce-overhead'"),
    ]:
        with pytest.raises(ValueError, match=message):
            train.fit(model, trainset, **{"epochs": 1, "progress": False, **kwargs})


def test_out_of_memory_names_the_batch_size(image_folder, monkeypatch):
    trainset, _ = data.load_pair(image_folder)
    model = tiny_model(3)

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(model, "forward", oom)
    with pytest.raises(RuntimeError, match="out of GPU memory at batch size 16; try --batch-size 8"):
        train.fit(model, trainset, epochs=1, batch_size=16, progress=False)


def test_cli_train_then_evaluate_round_trip(image_folder, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", str(image_folder), "--out", str(out), "--phi", "-3", "--resolution", "32",
            "--stem-stride", "1", "--epochs", "2", "--batch-size", "8", "--quiet", "--channels-last", "on"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["channels_last"] is True  # NHWC on request, also on a CPU
    assert {"accuracy", "history", "config", "seconds", "classes", "commit", "device", "date"} <= set(metrics)
    assert 0 <= metrics["accuracy"] <= 1 and len(metrics["history"]) == 2
    assert el.ModelConfig.from_dict(metrics["config"]).stem_stride == 1
    capsys.readouterr()
    for data_arg in (image_folder, image_folder / "test"):  # a split root or a tree of class folders
        assert main(["evaluate", "--checkpoint", str(out / "last.pt"), "--data", str(data_arg)]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["accuracy"] == pytest.approx(metrics["accuracy"]) and result["n"] == 18
    # a second run with the same --out resumes: nothing left to train, same accuracy
    assert main(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == pytest.approx(metrics["accuracy"])


@pytest.mark.parametrize("argv, message", [
    (["train", "--out", "x"], "the following arguments are required: --data"),
    (["train", "--data", "/no/such/folder", "--out", "x"], "data folder '/no/such/folder' does not exist"),
    (["train", "--data", "d", "--out", "x", "--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["train", "--data", "d", "--out", "x", "--eval-every", "0"], "--eval-every must be >= 1, got 0"),
    (["train", "--data", "d", "--out", "x", "--stem-stride", "3"], "--stem-stride must be 1 or 2, got 3"),
    (["train", "--data", "d", "--out", "x", "--device", "tpu"], "device must be"),
    (["train", "--data", "d", "--out", "x", "--channels-last", "1"], "invalid choice: '1'"),
    (["train", "--data", "d", "--out", "x", "--optimizer", "lion"], "invalid choice: 'lion'"),
    (["train", "--data", "d", "--out", "x", "--compile", "fast"], "invalid choice: 'fast'"),
    (["evaluate", "--checkpoint", "/no/file.pt", "--data", "d"], "checkpoint '/no/file.pt' does not exist"),
])
def test_cli_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_evaluate_refuses_foreign_files_and_classes(image_folder, tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    torch.save({"weights": torch.zeros(2)}, junk)
    with pytest.raises(SystemExit):
        main(["evaluate", "--checkpoint", str(junk), "--data", str(image_folder)])
    assert "is not an effnet_lab training checkpoint" in capsys.readouterr().err
    model = tiny_model(2)
    ckpt = tmp_path / "two.pt"
    torch.save({"model": model.state_dict(), "config": SMALL.to_dict(), "classes": ["a", "b"],
                "resolution": 32}, ckpt)
    with pytest.raises(SystemExit):
        main(["evaluate", "--checkpoint", str(ckpt), "--data", str(image_folder)])
    assert "differ from the checkpoint's ['a', 'b']" in capsys.readouterr().err


def test_module_help_runs():
    done = subprocess.run([sys.executable, "-m", "effnet_lab", "train", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--stem-stride" in done.stdout


def test_cudnn_autotuning_is_on_for_cuda_only_and_restored():
    before = torch.backends.cudnn.benchmark
    with train.cudnn_autotune("cpu"):
        assert torch.backends.cudnn.benchmark == before
    with pytest.raises(KeyboardInterrupt):  # the flag is a global: restored however the block ends
        with train.cudnn_autotune("cuda"):  # setting the flag needs no GPU
            assert torch.backends.cudnn.benchmark is True
            raise KeyboardInterrupt
    assert torch.backends.cudnn.benchmark == before


def test_compiled_keeps_its_code_on_disk_and_lifts_the_recompile_limit(tmp_path, monkeypatch):
    import torch._dynamo

    net = torch.nn.Linear(2, 2)
    assert train.compiled(net, False) is net
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("EFFNET_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 8)
    wrapped = train.compiled(net, True)  # compiling waits for the first call: nothing runs here
    assert wrapped is not net
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "inductor")
    assert torch._dynamo.config.recompile_limit >= train.RECOMPILE_LIMIT
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))  # a user's choice is kept
    train.compiled(net, "reduce-overhead")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")
