"""Correctness on every device a learner has: what is decided for CUDA and MPS is tested here on the
CPU (the decision), and on the device itself where one is present (skipped otherwise)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import effnet_lab as el
from effnet_lab import checkpoints, experiments as ex, measure, runtime, store, sweeps, train
from effnet_lab.model import EfficientNet

ROOT = Path(__file__).resolve().parent.parent
CUDA = torch.cuda.is_available()
MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine")
needs_mps = pytest.mark.skipif(not MPS, reason="no Apple MPS device on this machine")


# ---------------------------------------------------------------------------------------------
# Mixed precision: bf16 where the GPU has it, fp16 with a gradient scaler where it does not
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bf16", [True, False])
def test_autocast_is_bf16_where_the_gpu_has_it_and_fp16_with_a_scaler_where_not(monkeypatch, bf16):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    cuda = torch.device("cuda")
    assert train.autocast_dtype(cuda, True) == (torch.bfloat16 if bf16 else torch.float16)
    made = []
    monkeypatch.setattr(torch.amp, "GradScaler", lambda device, enabled: made.append((device, enabled)))
    train.grad_scaler(cuda, True)
    assert made == [("cuda", not bf16)]   # a T4 or a V100 (Colab) scales the loss; an A100 or H100 does not


def test_no_autocast_and_no_scaler_off_cuda_or_without_amp():
    for device in ("cpu", "mps"):
        assert train.autocast_dtype(torch.device(device), True) is None
        # a plain context, not autocast(enabled=False), which torch < 2.5 refused for MPS
        assert isinstance(train._autocast(torch.device(device), True), contextlib.nullcontext)
        assert not train.grad_scaler(torch.device(device), True).is_enabled()
    assert train.autocast_dtype(torch.device("cuda"), False) is None


@needs_cuda
def test_fp16_training_on_a_gpu_scales_the_loss_and_checkpoints_the_scaler(image_folder, tmp_path, monkeypatch):
    from effnet_lab.data import load_pair

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)   # as on a T4
    data, _ = load_pair(image_folder)
    model = EfficientNet(el.ModelConfig(width_mult=0.25, depth_mult=0.25, resolution=32), num_classes=len(data.classes))
    history = train.fit(model, data, None, 1, batch_size=12, device="cuda", checkpoint=tmp_path / "c.pt", progress=False)
    assert torch.isfinite(torch.tensor(history.final.train_loss))
    assert "scaler" in torch.load(tmp_path / "c.pt", weights_only=True)


# ---------------------------------------------------------------------------------------------
# Latency waits for the GPU: CUDA and MPS alike
# ---------------------------------------------------------------------------------------------


def test_latency_waits_for_cuda_and_mps_and_not_for_the_cpu():
    assert measure.synchronizer(torch.device("cuda")) is torch.cuda.synchronize
    assert measure.synchronizer(torch.device("mps")) is torch.mps.synchronize
    assert measure.synchronizer(torch.device("cpu"))() is None


@needs_mps
def test_latency_on_mps_measures_finished_work():
    model = el.efficientnet("b0", num_classes=10)
    result = el.latency(model, resolution=64, device="mps", repeats=3)
    assert result.device == "mps" and result.median_ms > 0


# ---------------------------------------------------------------------------------------------
# A resumed GPU run continues with the GPU's random state, not a fresh one
# ---------------------------------------------------------------------------------------------


def test_checkpoints_keep_the_cuda_random_state_on_a_cuda_run(monkeypatch):
    assert set(checkpoints.rng_state(torch.device("cpu"))) == {"rng"}
    saved = [torch.ByteTensor([1, 2, 3])]
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: saved)
    state = checkpoints.rng_state(torch.device("cuda"))
    assert state["cuda_rng"] is saved and torch.equal(state["rng"], torch.get_rng_state())
    restored = []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    checkpoints.set_rng_state(state, torch.device("cuda"))
    assert [torch.equal(a, b) for a, b in zip(restored[0], saved)] == [True]
    checkpoints.set_rng_state({"rng": torch.get_rng_state()}, torch.device("cuda"))   # an old checkpoint: CPU state only
    assert len(restored) == 1


@needs_cuda
def test_the_cuda_random_state_round_trips():
    state = checkpoints.rng_state(torch.device("cuda"))
    first = torch.rand(4, device="cuda")
    checkpoints.set_rng_state(state, torch.device("cuda"))
    assert torch.equal(torch.rand(4, device="cuda"), first)


# ---------------------------------------------------------------------------------------------
# Errors that name their file; results found by an explicit path; the class count recorded
# ---------------------------------------------------------------------------------------------


def test_an_unreadable_checkpoint_keeps_its_cause(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint" * 8)
    with pytest.raises(ValueError, match="is not a readable effnet_lab checkpoint") as caught:
        checkpoints.load_checkpoint(path)
    assert caught.value.__cause__ is not None


def test_a_damaged_results_file_is_named_when_networks_are_looked_up_for_reuse(tmp_path):
    store.results_path(tmp_path, "grid-search").write_text("{not json\n")
    with pytest.warns(UserWarning, match=rf"not reusing networks from {tmp_path / 'grid_search.jsonl'}: .*line 1"):
        assert sweeps.trained_networks(tmp_path, ex.Settings()) == {}


def test_results_are_found_by_an_explicit_path(tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.RESULTS_ENV, raising=False)
    assert runtime.results_dir() == ROOT / "results"
    monkeypatch.setenv(runtime.RESULTS_ENV, str(tmp_path))
    assert runtime.results_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="no results for 'grid-search'"):
        store.load_results("grid-search")
    monkeypatch.setenv(runtime.RESULTS_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="EFFNET_LAB_RESULTS=.*missing is not a folder"):
        runtime.results_dir()


def test_results_lines_record_their_class_count(tmp_path, monkeypatch):
    lines = (ROOT / "results" / "grid_search.jsonl").read_text().splitlines()
    assert store.recorded_classes(store.load_results("grid-search")) == 10   # committed lines: matched by parameters
    (tmp_path / "grid_search.jsonl").write_text("".join(json.dumps({**json.loads(x), "num_classes": 10}) + "\n"
                                                        for x in lines))
    monkeypatch.setattr(store, "analytic_cost", lambda *a, **k: pytest.fail("guessed instead of read"), raising=True)
    assert store.recorded_classes(store.ResultsStore(tmp_path / "grid_search.jsonl").table()) == 10


def test_a_non_editable_install_finds_the_lesson_kit_and_results_by_path(tmp_path):
    """pip install . (not -e): the wheel holds effnet_lab and effnet_lab.lessons, no results/."""
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path / "wheel"), str(ROOT)], capture_output=True, text=True)
    assert wheel.returncode == 0, wheel.stderr
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           *map(str, (tmp_path / "wheel").glob("*.whl"))], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    code = ("import effnet_lab, effnet_lab.lessons.states as s; from effnet_lab import store; "
            "assert effnet_lab.__file__.startswith(%r), effnet_lab.__file__; "
            "print(len(store.load_results('grid-search')), s.scaling_state().macs)" % str(target))
    env = {k: v for k, v in os.environ.items() if k != runtime.RESULTS_ENV}
    run = lambda extra: subprocess.run([sys.executable, "-s", "-c", code], capture_output=True, text=True,  # noqa: E731
                                       env={**env, **extra, "PYTHONPATH": str(target)}, cwd=tmp_path)
    without = run({})
    assert "set EFFNET_LAB_RESULTS to a clone's results/ folder" in without.stderr, without.stderr
    found = run({runtime.RESULTS_ENV: str(ROOT / "results")})
    assert found.returncode == 0, found.stderr
    assert found.stdout.split()[1] == str(el.analytic_cost(el.compound_scaling(1.0)).macs)


def test_published_points_are_a_fresh_table_for_every_caller():
    from effnet_lab.lessons import states

    first = states.published_points()
    first.loc["B0", "macs"] = -1
    first["extra"] = 0
    again = states.published_points()
    assert again.loc["B0", "macs"] == el.analytic_cost("b0").macs and "extra" not in again
    assert states.scaling_state().published.loc["B0", "macs"] == el.analytic_cost("b0").macs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        states.scaling_state()
