"""The sweeps' results: one JSON line per finished trial, one file per sweep (``results_path``),
written atomically by ``ResultsStore`` and read back, checked and in plan order, by ``load_results``.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

from .config import ModelConfig
from .cost import analytic_cost
from .experiments import Settings, check_sweep, plan
from .runtime import atomic_write_text, results_dir

SCHEMA = "effnet_lab.sweep/1"


# What every results line holds (``sweeps._row`` writes them): a line without one of them is damaged.
REQUIRED_FIELDS = ("sweep", "trial_id", "rule", "alpha", "beta", "gamma", "phi", "width_mult", "depth_mult",
                   "resolution", "macs", "params", "budget", "budget_ratio", "seeds", "accuracies", "accuracy_mean",
                   "accuracy_std", "train_seconds", "images_per_second", "n_train", "n_test", "config", "settings",
                   "extra", "command", "commit", "device", "torch", "date")


class ResultsStore:
    """One JSON object per line, one line per finished trial. Every write replaces the file
    atomically (write a temporary file, then rename), so a crash leaves the old or the new file, and
    a trial already in the file is never appended twice. One process writes it: the sweep's driver
    (``run_sweep``; its workers hand their results back), so no lock is needed, and none that a
    network filesystem would have to honour."""

    def __init__(self, path: "str | Path") -> None:
        self.path = Path(path)

    def read(self) -> list[dict]:
        """Every line, checked (JSON, schema, fields); a trial id that occurs twice (two runs that
        each finished it) is read once, from its first line, with a warning naming the file."""
        if not self.path.exists():
            return []
        rows, seen, repeated = [], set(), []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.path}: line {number} is not valid JSON ({exc.msg}); the file is "
                                 f"damaged: fix or remove that line (finished trials are the other lines)") from None
            if not isinstance(row, dict) or row.get("schema") != SCHEMA:
                found = row.get("schema") if isinstance(row, dict) else type(row).__name__
                raise ValueError(f"{self.path}: line {number} has schema {found!r}, this version reads {SCHEMA!r}; "
                                 f"write new results to another folder")
            _check_row(row, f"{self.path}: line {number}")
            if row["trial_id"] in seen:
                repeated.append(f"{row['trial_id']} (line {number})")
                continue
            seen.add(row["trial_id"])
            rows.append(row)
        if repeated:
            warnings.warn(f"{self.path} holds trial(s) more than once: {', '.join(repeated[:5])}"
                          f"{' ...' if len(repeated) > 5 else ''}; the first line of each is read", stacklevel=2)
        return rows

    def append(self, row: dict) -> bool:
        """Add ``row``, unless its trial is in the file already: False then."""
        rows = self.read()
        if any(r["trial_id"] == row["trial_id"] for r in rows):
            return False
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in [*rows, row]))
        return True

    def table(self):
        """The results as a pandas DataFrame, one row per trial."""
        import pandas as pd

        return pd.DataFrame(self.read())


def _check_row(row: dict, where: str) -> None:
    """A results line must hold every field of ``REQUIRED_FIELDS``, and settings and a config this
    version reads: what the tables, plots and resumes take from it."""
    missing = [k for k in REQUIRED_FIELDS if k not in row]
    if missing:
        raise ValueError(f"{where} lacks field(s) {', '.join(missing)}; the file is damaged: fix or remove that line")
    if not isinstance(row["trial_id"], str) or not isinstance(row["settings"], dict):
        raise ValueError(f"{where}: trial_id must be a string and settings a dict; the file is damaged")
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(row["settings"]) - known)
    if unknown:
        raise ValueError(f"{where} has settings field(s) {unknown} that this version does not know (written by a "
                         f"newer one?); write new results to another folder")
    try:
        Settings.from_dict(row["settings"])
        ModelConfig.from_dict(row["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc if not isinstance(exc, KeyError) else f'settings lack {exc}'}; "
                         f"the file is damaged: fix or remove that line") from None


def load_results(sweep: str, folder: "str | Path | None" = None):
    """A sweep's committed (or your own) results as a pandas DataFrame in plan order.

    ``folder`` defaults to ``runtime.results_dir()`` (EFFNET_LAB_RESULTS, else the repository's
    ``results/``). Adds ``mmacs`` (MACs / 1e6), ``kparams``, ``seeds_n`` and ``budget_x`` (MACs over
    the base model's, measured, not the target).
    """
    check_sweep(sweep)
    folder = Path(folder) if folder is not None else results_dir()
    path = results_path(folder, sweep)
    if not path.exists():
        raise FileNotFoundError(f"no results for {sweep!r} at {str(path)!r}; run "
                                f"`python -m effnet_lab sweep {sweep} --out {folder}` to make them")
    table = ResultsStore(path).table()
    if table.empty:
        raise ValueError(f"{str(path)!r} holds no trials yet")
    settings = Settings.from_dict(table.settings.iloc[0])
    classes = recorded_classes(table)
    # a file that grew holds lines of several plans: their trials in the order of the first plan, then the next
    order: list[str] = []
    for stored in dict.fromkeys(json.dumps(d, sort_keys=True) for d in table.settings):
        order += [t.trial_id for t in plan(sweep, Settings.from_dict(json.loads(stored)), num_classes=classes)
                  if t.trial_id not in order]
    table["order"] = [order.index(t) if t in order else len(order) for t in table.trial_id]
    table = table.sort_values("order").drop(columns="order").set_index("trial_id", drop=False)
    base_macs = analytic_cost(settings.base, num_classes=classes).macs
    table["mmacs"] = table.macs / 1e6
    table["kparams"] = table.params / 1e3
    table["seeds_n"] = table.seeds.map(len)
    table["budget_x"] = table.macs / base_macs
    return table


def recorded_classes(table) -> int:
    """The class count a results table was trained with: its ``num_classes`` column. Lines written
    before it was recorded (the committed results: CIFAR-10 and Imagenette, 10 classes each) are
    matched by the first row's parameter count, which the classifier's size fixes."""
    if "num_classes" in table and table.num_classes.notna().all():
        return int(table.num_classes.iloc[0])
    first = ModelConfig.from_dict(table.config.iloc[0])
    for n in (10, 100, 1000):
        if analytic_cost(first, num_classes=n).params == table.params.iloc[0]:
            return n
    raise ValueError(f"results lines without num_classes whose parameter count ({table.params.iloc[0]:,}) matches "
                     f"no 10, 100 or 1000 classes; add \"num_classes\" to each line")


def results_path(out_dir: "str | Path", sweep: str) -> Path:
    names = {"imagenette-resolution": "imagenette_resolution.jsonl"}
    return Path(out_dir) / names.get(sweep, sweep.replace("-", "_") + ".jsonl")

