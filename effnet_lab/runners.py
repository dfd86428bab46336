"""Where a sweep's trials train: here, one after another, or on Ray workers, several at once.

``sweeps.run_sweep`` plans the trials, decides which to train and writes the results file; a
runner only runs the training jobs it is handed (``submit``) and hands back each result as it
finishes (``finished``). ``RayRunner`` uses Ray, the engine ML sweeps already run on, for what a
hand-made runner would have to build: starting and placing worker processes (CPUs, whole or shared
GPUs, the nodes of a cluster), retrying a trial whose worker died, and stopping them all on Ctrl-C.
Ray is an optional extra (``pip install 'effnet-lab[ray]'``); nothing here imports it until a
``RayRunner`` starts.
"""

from __future__ import annotations

import os
import socket
from typing import Callable

RAY_MISSING = "Ray is not installed; install it with pip install 'effnet-lab[ray]' (or leave out --workers and --address)"
# How often a trial whose worker process died (killed, out of memory, its node lost) is started again.
# It resumes from its per-epoch checkpoint, so a retry costs at most the epoch under way.
MAX_RETRIES = 3
# Seconds an --address gets to answer before the run gives up on it
CONNECT_TIMEOUT = 5.0


class InProcess:
    """Train each job in this process when ``finished`` asks for it: the sweep as it always ran."""

    def __init__(self) -> None:
        self._job = None

    def __enter__(self) -> "InProcess":
        return self

    def __exit__(self, *exc) -> None:
        self._job = None

    def has_room(self) -> bool:
        return self._job is None

    def submit(self, key, job: Callable[[], dict]) -> None:
        self._job = (key, job)

    def finished(self) -> tuple:
        key, job = self._job
        try:
            return key, job()
        finally:
            self._job = None


def check_options(workers: int | None, address: str | None, gpus_per_trial: float | None) -> None:
    """Refuse impossible runner options before any work, each naming the option and what to do."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1 (trials trained at once), got {workers!r}; leave it "
                         f"out to train in this process")
    if gpus_per_trial is not None:
        if workers is None and address is None:
            raise ValueError("gpus_per_trial: it applies to trials on Ray workers; give --workers N or --address too")
        if not 0 < gpus_per_trial <= 1:
            raise ValueError(f"gpus_per_trial must be in (0, 1] (the share of one GPU each trial takes: 0.25 lets "
                             f"four share it), got {gpus_per_trial:g}")


def check_address(address: str) -> None:
    """Fail within seconds, naming ``address``, when nothing answers there (``ray.init`` would keep
    retrying for a minute or more). ``auto`` is left to Ray: it looks for a cluster this machine started."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address {address!r} is not one Ray accepts: use auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ValueError(f"address {address!r}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
                         f"`ray start --head` on that machine, or leave out --address to start one here") from None


def import_ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError(RAY_MISSING) from None
    return ray


def _call(job: Callable[[], dict]) -> dict:
    return job()


class RayRunner:
    """Jobs as Ray tasks: up to ``workers`` at once (on a local Ray instance started for the run, which
    is given ``workers`` CPUs), or on the cluster at ``address``. Each task takes one CPU (one training
    thread: the processes share the cores) and ``gpus_per_trial`` of a GPU (default: a local run
    shares its GPUs among the workers, a cluster gives each trial one; none with ``device="cpu"``).
    A task whose worker dies is retried ``MAX_RETRIES`` times. Leaving the ``with`` block on an error
    or Ctrl-C cancels every task under way (their finished epochs are in their checkpoints) and stops
    the local instance."""

    def __init__(self, workers: int | None = None, address: str | None = None, gpus_per_trial: float | None = None,
                 device=None) -> None:
        check_options(workers, address, gpus_per_trial)
        if workers is None and address is None:
            raise ValueError("RayRunner needs workers (a local run) or an address (a cluster)")
        self.workers, self.address, self.gpus_per_trial, self.device = workers, address, gpus_per_trial, device
        self._tasks: dict = {}
        self._started = False

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        if self.workers is None:
            return f"as many trials at once as {where} holds"
        return f"up to {self.workers} trials at once on {where}"

    def __enter__(self) -> "RayRunner":
        return self

    def _start(self) -> None:
        """Start (or join) Ray: at the first job, so a sweep with nothing left to train never waits for it."""
        import torch

        cpu_only = self.device is not None and str(self.device).startswith("cpu")
        # No usage reports to Ray's makers; for a local run, loopback only: on Linux Ray advertises and
        # listens on the machine's routable address unless told the node is a single machine's. Ray
        # reads that variable when it is imported (its services and processes started here read it
        # from the environment), so a process that imported Ray before is told through the constant.
        single = {"RAY_USAGE_STATS_ENABLED": "0", **({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"} if self.address is None else {})}
        ray = import_ray()
        from ray._private import ray_constants

        self._environ = {k: os.environ.get(k) for k in single}
        self._constant = ray_constants.ENABLE_RAY_CLUSTER
        os.environ.update(single)
        ray_constants.ENABLE_RAY_CLUSTER = self.address is not None
        self._started = True  # from here on, close() puts everything back
        if self.address is not None:
            check_address(self.address)
            # what names the data and caches on this machine, for workers started elsewhere
            env = {k: v for k, v in os.environ.items() if k.startswith("EFFNET_LAB_")}
            try:
                ray.init(address=self.address, runtime_env={"env_vars": env} if env else None,
                         log_to_driver=True, logging_level="warning")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RuntimeError(f"address {self.address!r}: could not join a Ray cluster there ({exc})") from None
            gpus = 0 if cpu_only else ray.cluster_resources().get("GPU", 0)
            default = 1.0 if gpus else 0.0
        else:
            gpus = 0 if cpu_only else torch.cuda.device_count()
            # a small object store: results are a few numbers (the default takes 30 % of memory)
            ray.init(num_cpus=self.workers, num_gpus=gpus, include_dashboard=False, log_to_driver=True,
                     object_store_memory=80 * 2**20, logging_level="warning")
            default = min(1.0, gpus / self.workers)
        if self.gpus_per_trial is not None and not gpus:
            self.close()
            raise ValueError(f"gpus_per_trial {self.gpus_per_trial:g}: Ray sees no GPU "
                             f"{'(--device cpu)' if cpu_only else 'here' if self.address is None else 'in the cluster'}; "
                             f"leave it out to train on CPUs")
        self._gpus = self.gpus_per_trial if self.gpus_per_trial is not None else default
        self._remote = ray.remote(num_cpus=1, num_gpus=self._gpus, max_retries=MAX_RETRIES)(_call)

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._started:
            return
        ray = import_ray()
        for ref in self._tasks:  # work under way: its finished epochs are saved, the rest is given up
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 (a task that ended meanwhile cannot be cancelled: nothing to do)
                pass
        self._tasks.clear()
        self._started = False
        ray.shutdown()  # a local instance stops; from a cluster, this driver disconnects
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = self._constant
        for k, v in self._environ.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)

    def has_room(self) -> bool:
        return self.workers is None or len(self._tasks) < self.workers

    def submit(self, key, job: Callable[[], dict]) -> None:
        if not self._started:
            self._start()
        self._tasks[self._remote.remote(job)] = key

    def finished(self) -> tuple:
        """The key and result of the next task to finish (waits for it). A task's error is raised as it
        was raised in the worker; a worker that died more than ``MAX_RETRIES`` times is a RuntimeError."""
        ray = import_ray()
        ready, _ = ray.wait(list(self._tasks), num_returns=1)
        key = self._tasks.pop(ready[0])
        try:
            return key, ray.get(ready[0])
        except ray.exceptions.RayTaskError as exc:  # the job raised: the trial's own error
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise RuntimeError(str(exc)) from None
        except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory, node lost) every time
            raise RuntimeError(f"a trial's worker died {MAX_RETRIES + 1} times ({type(exc).__name__}); its finished "
                               f"epochs are kept: run the same command again to resume it") from None
