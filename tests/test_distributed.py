"""``torchrun --nproc-per-node 2 -m effnet_lab train`` on the CPU (gloo): one checkpoint and one
metrics.json, the losses of one process with the same global batch, and a resume under torchrun."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from effnet_lab.__main__ import main

# No dropout or stochastic depth: their draws differ between one process and two. What is left to
# differ is the order of float additions (gradients averaged over ranks, BatchNorm's sums over two
# halves), so the per-epoch losses agree far more closely than this tolerance.
TOLERANCE = 1e-4
TRAIN = ["--width-mult", "0.25", "--depth-mult", "0.25", "--stem-stride", "1", "--resolution", "16", "--dropout", "0",
         "--stochastic-depth", "0", "--epochs", "4", "--batch-size", "8", "--device", "cpu", "--quiet"]


def torchrun(data, out, **popen):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "effnet_lab",
           "train", "--data", str(data), "--out", str(out), *TRAIN]
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def losses(out):
    return [e["train_loss"] for e in json.loads((out / "metrics.json").read_text())["history"]]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")
def test_torchrun_trains_like_one_process_and_resumes(image_folder, tmp_path):
    whole = torchrun(image_folder, tmp_path / "ddp")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--data", str(image_folder), "--out", str(tmp_path / "one"), *TRAIN]) == 0
    finally:
        torch.set_num_threads(threads)
    output = whole.communicate(timeout=300)[0]
    assert whole.returncode == 0, output
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["last.pt", "metrics.json"]  # rank 0 alone
    assert output.count("test accuracy") == 1
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["recipe"]["batch_size"] == 8
    assert losses(tmp_path / "ddp") == pytest.approx(losses(tmp_path / "one"), rel=TOLERANCE)

    # interrupted after its first epoch (torchrun and both ranks stopped), then the same command again
    run = torchrun(image_folder, tmp_path / "cut")
    checkpoint = tmp_path / "cut" / "last.pt"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not checkpoint.exists() and run.poll() is None:
        time.sleep(0.02)
    run.send_signal(signal.SIGTERM)  # torchrun passes it on to the ranks and waits for them
    run.communicate(timeout=60)
    epoch = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= epoch < 4 and not (tmp_path / "cut" / "metrics.json").exists()
    again = torchrun(image_folder, tmp_path / "cut")
    output = again.communicate(timeout=300)[0]
    assert again.returncode == 0, output
    assert losses(tmp_path / "cut") == losses(tmp_path / "ddp")  # the uninterrupted run's, bit for bit

