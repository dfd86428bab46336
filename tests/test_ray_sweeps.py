"""Sweeps on Ray workers (``--workers``, ``--address``): the same results as in this process, a
killed worker's trial retried from its checkpoint, Ctrl-C, and the options' errors. CPU only."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from effnet_lab import experiments as ex, store, sweeps
from effnet_lab.__main__ import main

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'effnet-lab[ray]'")

SWEEP = "formula-vs-official"  # two networks to train (b0, official-b1) and a twin recorded from one


def settings_for(data):
    # enough steps that the accuracies are not all chance: equal accuracies then say something
    return ex.Settings(**{**ex.quick_settings(SWEEP).__dict__, "data": str(data), "per_class": 12, "batch_size": 6,
                          "epochs": 3, "warmup_epochs": 0.0, "seeds": (0, 1), "lr": 0.2})


def measured(rows):
    keep = ("trial_id", "accuracies", "accuracy_mean", "reused_from", "macs", "config", "settings")
    return sorted(({k: r.get(k) for k in keep} for r in rows), key=lambda r: r["trial_id"])


def descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    lines: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            lines[int(entry)] = Path(f"/proc/{entry}/cmdline").read_text().replace("\0", " ").strip()
        except OSError:
            continue
        children.setdefault(int(stat.rpartition(")")[2].split()[1]), []).append(int(entry))
    found, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found[p] = lines.get(p, "")
        todo += children.get(p, [])
    return found


def listening_addresses(pids) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) of TCP sockets the processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.add(fields[1].rpartition(":")[0])
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
def test_two_ray_workers_give_the_in_process_results_even_when_one_is_killed(image_folder, tmp_path):
    import torch

    settings = settings_for(image_folder)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each worker trains (one thread each), so the arithmetic is the same
    try:
        here = sweeps.run_sweep(SWEEP, tmp_path / "here", settings, log=lambda m: None)
    finally:
        torch.set_num_threads(threads)
    assert len({a for r in here for a in r["accuracies"]}) > 1  # not every trial at chance
    partial = tmp_path / "ray" / ".partial"
    seen = {}

    def kill_one_worker_mid_trial():
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not list(partial.glob("*-seed0.pt")):
            time.sleep(0.05)  # the first epoch of a trial is saved: a trial is under way
        procs = descendants(os.getpid())
        seen["listening"] = listening_addresses(procs)
        busy = [p for p, line in procs.items() if line.startswith("ray::_call")]
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            seen["killed"] = busy[0]

    killer = threading.Thread(target=kill_one_worker_mid_trial)
    killer.start()
    logs = []
    rows = sweeps.run_sweep(SWEEP, tmp_path / "ray", settings, log=logs.append, workers=2, device="cpu")
    killer.join()
    assert "killed" in seen, "no worker was found training"
    assert measured(rows) == measured(here)  # every trial once, the same accuracies
    assert "up to 2 trials at once on a local Ray instance" in logs[0]
    assert seen["listening"] and seen["listening"] <= LOOPBACK, seen["listening"]  # nothing beyond loopback
    assert not [p for p in partial.iterdir() if not p.name.startswith(".")]  # no work in progress left
    assert not [p for p, line in descendants(os.getpid()).items() if line.startswith("ray::")]  # Ray stopped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the Ray processes in /proc")
def test_ctrl_c_stops_the_workers_and_the_rerun_completes_the_file(image_folder, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    # 12 epochs, not 4: a 4-epoch trial of this slice could finish between the first partial checkpoint
    # and the Ctrl-C, leaving nothing to resume (seen once in a fresh-clone run)
    cmd = [sys.executable, "-m", "effnet_lab", "sweep", SWEEP, "--quick", "--data", str(image_folder), "--out",
           str(out), "--epochs", "12", "--per-class", "12", "--batch-size", "6", "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list((out / ".partial").glob("*.pt")):
        time.sleep(0.05)
    ray_processes = descendants(proc.pid)
    assert any(line.startswith("ray::") for line in ray_processes.values()), ray_processes
    proc.send_signal(signal.SIGINT)  # Ctrl-C on the driver, mid-trial
    output = proc.communicate(timeout=90)[0]
    assert proc.returncode == 130, output
    assert "interrupted: finished epochs/trials are saved" in output
    path = store.results_path(out, SWEEP)
    assert len(store.ResultsStore(path).read()) < 3  # parses (no half-written line); not finished
    time.sleep(2)
    alive = [p for p in ray_processes if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().split(") ")[1][0] != "Z"]
    assert not alive, {p: ray_processes[p] for p in alive}  # the workers (and the local instance) stopped
    # the same command again resumes; here in this process (no --workers): the workers' checkpoints are
    # the same files, and one Ray start less keeps the test short
    done = subprocess.run(cmd[:-2], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming seed 0" in done.stdout
    rows = store.ResultsStore(path).read()
    assert sorted(r["trial_id"] for r in rows) == ["b0", "formula-b1", "official-b1"]


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers must be an integer >= 1 (trials trained at once), got 0; leave it out"),
    (["--workers", "2", "--gpus-per-trial", "0"], "--gpus-per-trial must be in (0, 1]"),
    (["--workers", "2", "--gpus-per-trial", "1.5"], "--gpus-per-trial must be in (0, 1] (the share of one GPU"),
    (["--gpus-per-trial", "0.5"], "--gpus-per-trial: it applies to trials on Ray workers; give --workers N"),
    (["--address", "somewhere"], "--address 'somewhere' is not one Ray accepts: use auto, HOST:PORT"),
])
def test_bad_runner_options_are_refused_before_any_work(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", SWEEP, "--quick", "--out", str(tmp_path / "out"), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_address_fails_within_seconds_naming_it(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        began = time.monotonic()
        with pytest.raises(SystemExit) as exc:
            main(["sweep", SWEEP, "--quick", "--out", str(tmp_path), "--address", address])
        assert exc.value.code == 2 and time.monotonic() - began < 10
        err = capsys.readouterr().err
        assert f"--address {address!r}: no Ray cluster answers there" in err and "ray start --head" in err, err


def test_without_ray_the_runner_options_say_how_to_install_it(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(SystemExit) as exc:
        main(["sweep", SWEEP, "--quick", "--out", str(tmp_path), "--workers", "2"])
    assert exc.value.code == 2
    assert "--workers: Ray is not installed; install it with pip install 'effnet-lab[ray]'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # and the library says the same
    from effnet_lab.runners import RayRunner

    with pytest.raises(RuntimeError, match=r"pip install 'effnet-lab\[ray\]'"):
        RayRunner(workers=2).submit("x", lambda: {})


def test_a_gpu_share_without_a_gpu_is_refused(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", SWEEP, "--quick", "--out", str(tmp_path), "--workers", "2", "--gpus-per-trial", "0.5"])
    assert exc.value.code == 2
    assert "--gpus-per-trial 0.5: Ray sees no GPU here; leave it out to train on CPUs" in capsys.readouterr().err
