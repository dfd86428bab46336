"""Running a sweep: ``run_sweep`` trains every trial of a plan not yet in the results file.

Each trial trains with several seeds; one JSON line per trial is appended to the sweep's results
file (atomically, ``store``), so a re-run skips finished trials; the trial under way keeps a
checkpoint per epoch in ``OUT/.partial/``, so an interrupt loses at most one epoch. ``--workers N``
trains N trials at once on Ray (``runners``), ``--address`` on a Ray cluster; the driver alone
writes the results.
"""

from __future__ import annotations

import json
import os
import statistics
import warnings
from pathlib import Path
from typing import Callable

from .config import ModelConfig
from .cost import analytic_cost
from .experiments import RECIPE_FIELDS, SETTINGS_BEFORE, SWEEPS, Settings, Trial, check_sweep, default_settings, plan
from .runtime import atomic_write_text
from .store import SCHEMA, ResultsStore, results_path


# The settings that decide how a network is trained and tested (the grid's tolerance, say, does not).
TRAINING_SETTINGS = ("data", "per_class", "test_per_class", "epochs", "batch_size", "warmup_epochs") + RECIPE_FIELDS + (
    "seeds",)
# With the base, they also fix what a trial id means ("width-x2" of another base is another network).
# The rest (budgets, tolerance, max_candidates, variants, resolutions) only choose which trials a plan
# holds, so one results file can grow: a sweep re-run with more budgets or grid candidates trains
# the new trials and keeps the old lines.
TRIAL_SETTINGS = TRAINING_SETTINGS + ("base",)


def trial_settings(settings: "Settings | dict") -> dict:
    """The part of ``settings`` (a ``Settings`` or a results line's ``settings``) that every line of
    one results file must share: ``TRIAL_SETTINGS``."""
    d = settings.to_dict() if isinstance(settings, Settings) else {**SETTINGS_BEFORE, **settings}
    return {k: d.get(k) for k in TRIAL_SETTINGS}


def trained_networks(out_dir: "str | Path", settings: Settings) -> dict[tuple, tuple[str, dict]]:
    """Networks already trained in ``out_dir`` (any sweep) with the same data, training and seeds:
    ``{network_key: ("file#trial_id", row)}``. A trial whose network is among them is not trained
    again (the published B1 and the phi formula often round to one network; ``formula-vs-official``'s
    b0 is ``single-vs-compound``'s base): same network, same seeds, same images give the same
    experiment (bit for bit on a CPU), so a re-run would only spend time."""
    wanted = {k: settings.to_dict()[k] for k in TRAINING_SETTINGS}
    found: dict[tuple, tuple[str, dict]] = {}
    for sweep in SWEEPS:
        path = results_path(out_dir, sweep)
        try:
            rows = ResultsStore(path).read()
        except ValueError as exc:  # refused when its own sweep runs; here only its networks are not reused
            warnings.warn(f"not reusing networks from {path}: {exc}", stacklevel=2)
            continue
        for row in rows:
            theirs = trial_settings(row.get("settings", {}))
            if row.get("reused_from") or {k: theirs[k] for k in TRAINING_SETTINGS} != wanted:
                continue
            key = ModelConfig.from_dict(row["config"]).network_key
            found.setdefault(key, (f"{path.name}#{row['trial_id']}", row))
    return found


def settings_digest(settings: Settings) -> str:
    """A short digest of ``trial_settings(settings)``: work in progress trained with other settings is
    never resumed (a trial's work survives a change of the plan, such as more budgets)."""
    import hashlib

    return hashlib.sha256(json.dumps(trial_settings(settings), sort_keys=True).encode()).hexdigest()[:12]


def sweep_data(settings: Settings):
    """The (train, test) images a sweep's trials train and test on: the seeded class-balanced subsets
    its settings name. The driver and every worker compute the same ones from the data's cache."""
    from .data import load_pair

    train, test = load_pair(settings.data)
    if settings.per_class > min(train.counts()):  # fewer images than asked would train, recorded as asked
        raise ValueError(f"per_class must be <= {min(train.counts())} (the smallest class of {settings.data}), "
                         f"got {settings.per_class}")
    if settings.per_class < min(train.counts()):
        train = train.subset(settings.per_class, seed=0)
    if settings.test_per_class is not None and settings.test_per_class < min(test.counts()):
        test = test.subset(settings.test_per_class, seed=0)
    return train, test


def train_trial(trial: Trial, settings: Settings, stem: "str | Path", device=None, channels_last: bool | None = None,
                keep_model: bool = False, data=None, log: Callable[[str], None] = print,
                stack_seeds: bool = False) -> dict:
    """Train ``trial`` with every seed of ``settings`` and test it: what a results line measures, with
    the ``device``, ``torch``, ``channels_last`` and ``stack_seeds`` it ran with. Runs in the sweep's
    process or on a worker (``runners``); it writes only work in progress, beside ``stem``
    (``OUT/.partial/`` or the ``--storage`` folder): a checkpoint after every epoch, then each seed's
    result (and with ``keep_model`` seed 0's model, which the driver moves to ``OUT/checkpoints/``). A
    run that stopped (an interrupt, a killed worker) resumes from there, losing at most the epoch
    under way, with the same numbers (on a CPU, bit for bit). ``stack_seeds``: the seeds not yet
    trained train together as one network (``stacked.fit_stacked``: the same numbers to rounding;
    faster where one small network leaves a GPU idle, slower on a CPU). ``data``: the (train, test)
    pair, else ``sweep_data``'s."""
    import torch

    from .model import EfficientNet
    from .runtime import atomic_save, device_name, pick_device
    from .stacked import fit_stacked
    from .train import evaluate, fit, uses_channels_last

    dev = pick_device(device)
    layout = uses_channels_last(dev, channels_last)
    train, test = data if data is not None else sweep_data(settings)
    stem = Path(stem)
    finished = {seed: stem.with_name(f"{stem.name}-seed{seed}.json") for seed in settings.seeds}
    measured, todo = {}, []
    for seed in settings.seeds:
        if finished[seed].exists():
            try:
                result = json.loads(finished[seed].read_text())
                measured[seed] = {k: float(result[k]) for k in ("accuracy", "seconds", "images_per_second")}
                continue
            except (ValueError, KeyError, TypeError):  # damaged by hand: that seed is trained again
                log(f"{trial.trial_id}: {finished[seed].name} is damaged; training seed {seed} again")
        todo.append(seed)
    options = dict(batch_size=settings.batch_size, warmup_epochs=settings.warmup_epochs, device=dev, progress=False,
                   channels_last=layout, **{k: getattr(settings, k) for k in RECIPE_FIELDS if k != "tta"})
    for group in ([todo] if stack_seeds and len(todo) > 1 else [[seed] for seed in todo]):
        name = f"seed{group[0]}" if len(group) == 1 else "seeds" + "-".join(map(str, group))
        partial = stem.with_name(f"{stem.name}-{name}.pt")
        if partial.exists():
            which = f"seed {group[0]}" if len(group) == 1 else "seeds " + ", ".join(map(str, group))
            log(f"{trial.trial_id}: resuming {which} from {partial.name}")
        models = []
        for seed in group:
            torch.manual_seed(seed)
            models.append(EfficientNet(trial.config, num_classes=len(train.classes)))
        if len(group) > 1:
            histories = fit_stacked(models, train, settings.epochs, seeds=group, checkpoint=partial, **options)
        else:
            histories = [fit(models[0], train, None, settings.epochs, seed=group[0], checkpoint=partial,
                             tta=settings.tta, **options)]
        for seed, model, history in zip(group, models, histories):
            result = {"accuracy": evaluate(model, test, device=dev, tta=settings.tta)["accuracy"],
                      "seconds": sum(e.seconds for e in history.epochs),
                      "images_per_second": statistics.mean(e.images_per_second for e in history.epochs)}
            if keep_model and seed == settings.seeds[0]:
                atomic_save({"model": model.cpu().state_dict(), "config": trial.config.to_dict(),
                             "classes": train.classes, "resolution": trial.config.to_dict()["resolution"],
                             "accuracy": result["accuracy"]}, stem.with_name(f"{stem.name}-model.pt"))
            atomic_write_text(finished[seed], json.dumps(result))
            measured[seed] = result
        partial.unlink(missing_ok=True)
    accuracies = [measured[seed]["accuracy"] for seed in settings.seeds]
    return {"measured": {"accuracies": accuracies, "accuracy_mean": statistics.mean(accuracies),
                         "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                         "train_seconds": sum(m["seconds"] for m in measured.values()),
                         "images_per_second": statistics.mean(m["images_per_second"] for m in measured.values())},
            "device": device_name(dev), "torch": torch.__version__, "channels_last": layout,
            "stack_seeds": len(todo) > 1 and stack_seeds}


def run_sweep(sweep: str, out_dir: "str | Path", settings: Settings | None = None, device=None,
              log: Callable[[str], None] = print, checkpoint_dir: "str | Path | None" = None,
              channels_last: bool | None = None, workers: int | None = None, address: str | None = None,
              gpus_per_trial: float | None = None, storage: "str | Path | None" = None,
              stack_seeds: bool = False) -> list[dict]:
    """Train every trial of ``sweep`` not yet in ``out_dir``'s results file; return all rows.

    Without ``workers`` or ``address`` the trials train here, one after another. ``workers=N`` trains
    up to N at once on a local Ray instance started for the run, ``address`` on an existing Ray
    cluster (``runners.RayRunner``; ``gpus_per_trial`` lets several trials share a GPU). Either way
    this process alone writes the results file: a worker hands back what it measured, and the line is
    appended (atomically) as its trial finishes. Work in progress lives in ``storage``'s
    ``.partial/`` (default ``out_dir``; on a cluster, a folder every node sees), so a retried or
    re-run trial resumes where it stopped. A trial whose network was already trained in
    ``out_dir`` with the same training settings (see ``trained_networks``) is recorded from that
    result, with ``reused_from`` naming it and ``train_seconds`` 0, instead of being trained again
    (trials that build one network wait for the first of them). ``channels_last`` goes to ``fit``
    (None: its default) and is recorded in each line: like the device, it changes the arithmetic,
    not the experiment; so is ``stack_seeds`` (``train_trial``). ``checkpoint_dir``: where seed 0's
    model of each trained trial is kept.
    One sweep command per folder at a time: parallelism comes from ``workers``, not from a second run.
    """
    import functools
    import shutil

    from .runners import InProcess, RayRunner
    from .runtime import pick_device, provenance

    check_sweep(sweep)
    settings = settings or default_settings(sweep)
    parallel = workers is not None or address is not None
    runner = RayRunner(workers, address, gpus_per_trial, device) if parallel else InProcess()
    dev = pick_device(device) if not parallel else None  # a worker picks its own (its node's GPU)
    # the code that runs is the code at the start: a commit made while a long sweep runs is not it
    origin = {k: v for k, v in provenance(dev or "cpu").items() if k not in ("device", "torch")}
    store = ResultsStore(results_path(out_dir, sweep))
    done = {}
    wanted = trial_settings(settings)
    for row in store.read():
        theirs = trial_settings(row.get("settings", {}))
        if theirs != wanted:
            differ = "; ".join(f"{k} {theirs[k]!r} (this run: {wanted[k]!r})" for k in TRIAL_SETTINGS
                               if theirs[k] != wanted[k])
            raise ValueError(f"{store.path} holds trials trained with other settings (trial {row['trial_id']}: "
                             f"{differ}); finish them with the same settings or write to another folder")
        done[row["trial_id"]] = row
    train, test = sweep_data(settings)
    classes = len(train.classes)
    trials = plan(sweep, settings, num_classes=classes)
    base_macs = analytic_cost(settings.base, num_classes=classes).macs
    with runner:  # a local Ray instance starts here (it takes seconds): after the checks above
        others = len(set(done) - {t.trial_id for t in trials})
        where = f"device {dev}" if dev is not None else runner.describe()
        log(f"{sweep}: {len(trials)} trials x {len(settings.seeds)} seeds on {len(train)} training images "
            f"({settings.data}), {len(done) - others} already done, {where}"
            + (f"; the file also holds {others} trials outside this plan (kept)" if others else ""))
        for t in trials:
            ratio = analytic_cost(t.config, num_classes=classes).macs / base_macs / (t.budget or 1.0)
            if t.budget and abs(ratio - 1) > 0.05:
                log(f"note: {t.trial_id} costs {ratio * t.budget:.2f}x the base, not {t.budget:g}x: the nearest "
                    f"its channel, layer and pixel rounding allows")
        prefix = {t.trial_id: f"[{n}/{len(trials)}] " for n, t in enumerate(trials, start=1)}
        number = {t: p + t for t, p in prefix.items()}
        # work in progress is named by the trial and a digest of the settings: other settings never resume it
        partial = Path(storage if storage is not None else out_dir) / ".partial"
        stem = lambda t: partial / f"{sweep}-{t.trial_id}-{settings_digest(settings)}"  # noqa: E731
        queue = [t for t in trials if t.trial_id not in done]
        if parallel:
            queue = largest_first(queue, classes)
        training: dict[tuple, Trial] = {}  # network -> the trial training it
        while queue or training:
            known = trained_networks(out_dir, settings)
            for trial in list(queue):  # in plan order (largest first on workers)
                key = trial.config.network_key
                if key in training:  # a twin: recorded from it once it is done
                    continue
                cost = analytic_cost(trial.config, num_classes=classes)
                if key in known:
                    reused_from, src = known[key]
                    row = _row(sweep, trial, cost, base_macs, settings, train, test, origin,
                               {**{k: src[k] for k in ("accuracies", "accuracy_mean", "accuracy_std",
                                                       "images_per_second")},
                                "train_seconds": 0.0, "reused_from": reused_from})
                    # where and how the accuracies were measured
                    row.update(device=src["device"], torch=src["torch"], channels_last=src.get("channels_last"),
                               stack_seeds=src.get("stack_seeds", False))
                    store.append(row)
                    queue.remove(trial)
                    log(f"{number[trial.trial_id]}: the same network as {reused_from}, not trained again "
                        f"(accuracy {row['accuracy_mean']:.3f})")
                    continue
                if not runner.has_room():
                    break
                queue.remove(trial)
                training[key] = trial
                job = functools.partial(train_trial, trial, settings, stem(trial), device, channels_last,
                                        checkpoint_dir is not None, stack_seeds=stack_seeds)
                if parallel:
                    runner.submit(key, job)
                    log(f"{number[trial.trial_id]}: started")
                else:  # the data already loaded, messages to this log
                    runner.submit(key, functools.partial(job, data=(train, test), log=lambda m, n=prefix[trial.trial_id]:
                                                         log(n + m)))
            if not training:
                continue
            key, result = runner.finished()
            trial = training.pop(key)
            cost = analytic_cost(trial.config, num_classes=classes)
            row = _row(sweep, trial, cost, base_macs, settings, train, test, origin, result["measured"])
            row.update(device=result["device"], torch=result["torch"], channels_last=result["channels_last"],
                       stack_seeds=result["stack_seeds"])
            model = stem(trial).with_name(f"{stem(trial).name}-model.pt")
            if checkpoint_dir is not None and model.exists():  # before the line: a crash between keeps both
                target = Path(checkpoint_dir) / f"{sweep}-{trial.trial_id}.pt"
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(model, tmp)  # the storage folder may be another filesystem
                os.replace(tmp, target)
            store.append(row)
            for seed in settings.seeds:
                stem(trial).with_name(f"{stem(trial).name}-seed{seed}.json").unlink(missing_ok=True)
            model.unlink(missing_ok=True)
            log(f"{number[trial.trial_id]}: {cost.macs / 1e6:.1f} MMACs, accuracy {row['accuracy_mean']:.3f} "
                f"+- {row['accuracy_std']:.3f} ({row['train_seconds']:.0f} s)")
    return store.read()


def largest_first(trials: "list[Trial]", num_classes: int) -> "list[Trial]":
    """``trials`` with the most MACs per image first (plan order among equals). Every trial of a sweep
    trains the same images, epochs and seeds, so MACs rank their cost; handing the longest jobs out
    first keeps N workers busy to the end instead of leaving one to train the largest model alone
    (the longest-processing-time rule)."""
    return sorted(trials, key=lambda t: -analytic_cost(t.config, num_classes=num_classes).macs)


def _row(sweep, trial, cost, base_macs, settings, train, test, origin: dict, measured: dict) -> dict:
    """One results line: the trial's plan and cost, ``measured`` (accuracies, time), ``origin``
    (``runtime.provenance`` at the sweep's start) with the date the trial finished."""
    from .runtime import utc_now

    finished = utc_now()
    return {
        "schema": SCHEMA, "sweep": sweep, "trial_id": trial.trial_id, "rule": trial.rule,
        "alpha": trial.alpha, "beta": trial.beta, "gamma": trial.gamma, "phi": trial.phi,
        "width_mult": trial.config.width_mult, "depth_mult": trial.config.depth_mult,
        "resolution": trial.config.to_dict()["resolution"], "macs": cost.macs, "params": cost.params,
        "budget": trial.budget, "budget_ratio": cost.macs / (trial.budget * base_macs) if trial.budget else None,
        "seeds": list(settings.seeds), **measured, "n_train": len(train), "n_test": len(test),
        "num_classes": len(train.classes),
        "config": trial.config.to_dict(), "settings": settings.to_dict(), "extra": trial.extra, **origin, "date": finished,
    }
