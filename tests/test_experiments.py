import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import effnet_lab as el
from effnet_lab import experiments as ex, store, sweeps
from effnet_lab.__main__ import main


def tiny(sweep, data):
    return ex.Settings(**{**ex.quick_settings(sweep).__dict__, "data": str(data), "per_class": 4, "batch_size": 4,
                          "epochs": 1, "warmup_epochs": 0.0})


def line(settings, trial_id="x", **changes):
    """A results line with every field (most of them None), for tests of the store itself."""
    return {**dict.fromkeys(store.REQUIRED_FIELDS), "schema": store.SCHEMA, "trial_id": trial_id,
            "config": settings.base.to_dict(), "settings": settings.to_dict(), **changes}


def strip(rows):
    volatile = {"train_seconds", "images_per_second", "date", "command", "commit"}
    return [{k: v for k, v in r.items() if k not in volatile} for r in rows]


def test_budgets_are_matched_on_the_staircase():
    s = ex.default_settings("single-vs-compound")
    trials = ex.plan("single-vs-compound", s)
    base = el.analytic_cost(s.base, num_classes=10).macs
    assert [t.trial_id for t in trials][:5] == ["base", "width-x2", "depth-x2", "resolution-x2", "compound-x2"]
    for t in trials:
        ratio = el.analytic_cost(t.config, num_classes=10).macs / (t.budget * base)
        # width, resolution and compound land within 5 %; depth moves in whole layers
        assert abs(ratio - 1) <= (0.15 if t.rule == "depth" else 0.05), (t.trial_id, ratio)
    compound = next(t for t in trials if t.trial_id == "compound-x4")
    assert compound.config == el.compound_scaling(compound.phi, base=s.base)


def test_grid_respects_the_constraint_and_includes_the_paper_point():
    points = ex.grid_candidates(0.1, 9)
    assert len(points) == 9 and points[0] == (1.2, 1.1, 1.15)
    assert len(set(points)) == 9
    for a, b, g in points:
        assert min(a, b, g) >= 1 and abs(a * b * b * g * g - 2) <= 0.1 + 1e-9
    with pytest.raises(ValueError, match=r"no \(alpha, beta, gamma\) on a 0.05 grid satisfies .* <= 0.0001"):
        ex.grid_candidates(0.0001)
    with pytest.raises(ValueError, match="tolerance must be a finite real number >= 0, got -1"):
        ex.grid_candidates(-1)


def test_the_default_grid_is_the_start_of_the_committed_nine():
    # farthest-point sampling only adds points: the default six are the committed runs' first six,
    # so `--max-candidates 9` grows a default run into the committed one
    s = ex.default_settings("grid-search")
    six = ex.grid_candidates(s.tolerance, s.max_candidates, base=s.base, num_classes=10)
    nine = ex.grid_candidates(s.tolerance, 9, base=s.base, num_classes=10)
    assert s.max_candidates == 6 and nine[:6] == six
    committed = store.load_results("grid-search")
    assert set(committed.trial_id) == {t.trial_id for t in ex.plan("grid-search", ex.Settings(max_candidates=9))}


def test_the_committed_cpu_rerun_reproduced_every_accuracy():
    # results/cpu-rerun: single-vs-compound run again on a CPU by later code (SiLU out of place, other
    # shards): a seed gives the same numbers on a CPU, so every accuracy must be the same
    results = Path(ex.__file__).resolve().parent.parent / "results"
    first = store.load_results("single-vs-compound", results / "cpu")
    again = store.load_results("single-vs-compound", results / "cpu-rerun")
    assert list(again.trial_id) == list(first.trial_id) and len(first) == 9
    assert list(again.accuracies) == list(first.accuracies)
    assert set(again.commit).isdisjoint(set(first.commit))
    assert all(d.startswith("cpu") for d in {*again.device, *first.device})


def test_the_recipe_sweep_reproduced_the_ablation_base():
    # results/cpu-recipe's base is the ablation's zi+batch-64 network evaluated with TTA, trained by
    # other code paths (run_sweep against scripts/recipe_ablation.py) at other commits: on a CPU a seed
    # gives the same numbers, so the three accuracies must be the same
    import json

    results = Path(ex.__file__).resolve().parent.parent / "results"
    sweep = store.load_results("single-vs-compound", results / "cpu-recipe").set_index("trial_id")
    ablation = [json.loads(line) for line in (results / "recipe_ablation.jsonl").read_text().splitlines()]
    runs = sorted((r for r in ablation if r["variant"] == "zi+batch-64"), key=lambda r: r["seed"])
    assert [r["seed"] for r in runs] == list(sweep.loc["base", "seeds"]) == [0, 1, 2]
    assert list(sweep.loc["base", "accuracies"]) == [r["accuracy"]["plain+tta"] for r in runs]
    settings = ex.Settings.from_dict(sweep.loc["base", "settings"])
    assert (settings.zero_init, settings.tta, settings.batch_size) == (True, True, 64)


def test_old_results_lines_read_as_the_recipe_they_were_made_with():
    old = store.load_results("single-vs-compound")  # the H200 run, before the recipe was a setting
    settings = ex.Settings.from_dict(old.settings.iloc[0])
    assert "zero_init" not in old.settings.iloc[0]
    assert {k: getattr(settings, k) for k in ex.RECIPE_FIELDS} == ex.RECIPE_BEFORE
    assert settings.batch_size == 128 and settings.test_per_class is None


def test_budgets_beyond_the_first_search_range_and_out_of_reach():
    s = ex.Settings(budgets=(1.0, 16.0))
    base = el.analytic_cost(s.base, num_classes=10).macs
    trials = ex.plan("single-vs-compound", s)
    depth = next(t for t in trials if t.trial_id == "depth-x16")
    assert depth.extra["multiplier"] > 8  # past the first range [1, 8], which stops near 6x
    assert abs(el.analytic_cost(depth.config, num_classes=10).macs / (16 * base) - 1) <= 0.05
    with pytest.raises(ValueError, match=r"budgets: 1e\+06x the base by depth alone: .* out of reach: a multiplier "
                                         r"of 2048 gives .*; choose a smaller budget"):
        ex.plan("single-vs-compound", ex.Settings(budgets=(1e6,)))
    for bad, message in [({"budgets": (0.5,)}, "budgets must be a finite real number >= 1, got 0.5"),
                         ({"budgets": (2.0, 2)}, "budgets must be distinct numbers"),
                         ({"budgets": ()}, "budgets must be distinct numbers (at least one)"),
                         ({"resolutions": (64, 0)}, "resolutions must be an integer >= 1, got 0"),
                         ({"resolutions": (64, 64)}, "resolutions must be distinct sizes"),
                         ({"variants": ()}, "variants must be distinct names among b1-b7 (at least one)"),
                         ({"variants": ("b0",)}, "variants must be names among b1-b7, got 'b0'")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            ex.Settings(**bad)


def test_a_sweep_grows_by_new_trials_and_keeps_its_lines(image_folder, tmp_path):
    small = tiny("single-vs-compound", image_folder)
    first = sweeps.run_sweep("single-vs-compound", tmp_path, small, log=lambda m: None)
    # more budgets only add trials: the file's lines stay, only the 3x trials are trained
    bigger = ex.Settings(**{**small.__dict__, "budgets": (1.0, 2.0, 3.0)})
    assert sweeps.settings_digest(bigger) == sweeps.settings_digest(small)  # work in progress survives too
    logs = []
    grown = sweeps.run_sweep("single-vs-compound", tmp_path, bigger, log=logs.append)
    assert grown[:len(first)] == first
    assert [r["trial_id"] for r in grown[len(first):]] == ["width-x3", "depth-x3", "resolution-x3", "compound-x3"]
    assert "9 trials x 1 seeds" in logs[0] and "5 already done" in logs[0]
    # the smaller plan again: nothing to train, the extra lines are kept and said so
    logs = []
    assert sweeps.run_sweep("single-vs-compound", tmp_path, small, log=logs.append) == grown
    assert "5 already done" in logs[0] and "4 trials outside this plan (kept)" in logs[0]
    assert not any("accuracy" in m for m in logs)  # nothing trained
    table = store.load_results("single-vs-compound", tmp_path)
    assert list(table.trial_id) == [t.trial_id for t in ex.plan("single-vs-compound", bigger)]
    # a training setting is another experiment: refused, naming it
    with pytest.raises(ValueError, match=r"other settings \(trial base: per_class 4 \(this run: 3\)\)"):
        sweeps.run_sweep("single-vs-compound", tmp_path, ex.Settings(**{**bigger.__dict__, "per_class": 3}))


def test_formula_matches_official_macs():
    trials = {t.trial_id: t for t in ex.plan("formula-vs-official", ex.default_settings("formula-vs-official"))}
    for v in ("b1", "b2", "b3"):
        official = el.analytic_cost(trials[f"official-{v}"].config, num_classes=10).macs
        formula = el.analytic_cost(trials[f"formula-{v}"].config, num_classes=10).macs
        assert abs(formula / official - 1) <= 0.05


def test_quick_sweep_resumes_and_equals_an_uninterrupted_run(image_folder, tmp_path):
    settings = tiny("single-vs-compound", image_folder)
    whole = sweeps.run_sweep("single-vs-compound", tmp_path / "a", settings, log=lambda m: None)
    assert [r["trial_id"] for r in whole] == ["base", "width-x2", "depth-x2", "resolution-x2", "compound-x2"]
    row = whole[0]
    for key in ("schema", "sweep", "trial_id", "rule", "alpha", "beta", "gamma", "phi", "width_mult", "depth_mult",
                "resolution", "macs", "params", "seeds", "accuracies", "accuracy_mean", "accuracy_std",
                "train_seconds", "images_per_second", "device", "torch", "commit", "command", "date", "channels_last"):
        assert key in row, key
    assert row["channels_last"] is False  # fit's default on a CPU, recorded
    # a run that stopped after two trials, then resumed, gives the same file
    path = store.results_path(tmp_path / "b", "single-vs-compound")
    path.parent.mkdir()
    lines = store.results_path(tmp_path / "a", "single-vs-compound").read_text().splitlines()
    path.write_text("\n".join(lines[:2]) + "\n")
    trained = []
    resumed = sweeps.run_sweep("single-vs-compound", tmp_path / "b", settings, log=trained.append)
    assert strip(resumed) == strip(whole)
    assert not any("base:" in m or "width-x2:" in m for m in trained)  # finished trials were skipped


def test_a_network_already_trained_is_reused_not_trained_again(image_folder, tmp_path):
    settings = tiny("formula-vs-official", image_folder)
    trials = {t.trial_id: t for t in ex.plan("formula-vs-official", settings)}
    # at this width the published B1 and the phi formula round to one network (names and multipliers differ)
    assert trials["official-b1"].config != trials["formula-b1"].config
    assert trials["official-b1"].config.network_key == trials["formula-b1"].config.network_key
    assert trials["b0"].config.network_key != trials["official-b1"].config.network_key
    # single-vs-compound first: its base is formula-vs-official's b0, trained with the same settings
    base = sweeps.run_sweep("single-vs-compound", tmp_path, ex.Settings(**{**settings.__dict__, "budgets": (1.0,)}),
                        log=lambda m: None)
    logs = []
    rows = {r["trial_id"]: r for r in sweeps.run_sweep("formula-vs-official", tmp_path, settings, log=logs.append)}
    assert rows["b0"]["reused_from"] == "single_vs_compound.jsonl#base"
    assert rows["b0"]["accuracies"] == base[0]["accuracies"] and rows["b0"]["train_seconds"] == 0.0
    assert rows["formula-b1"]["reused_from"] == "formula_vs_official.jsonl#official-b1"
    assert rows["formula-b1"]["accuracies"] == rows["official-b1"]["accuracies"]
    assert "reused_from" not in rows["official-b1"] and rows["official-b1"]["train_seconds"] > 0
    assert sum("not trained again" in m for m in logs) == 2
    # other training settings (here more epochs) are another experiment: nothing is reused
    other = ex.Settings(**{**settings.__dict__, "epochs": 2})
    fresh = sweeps.run_sweep("formula-vs-official", tmp_path / "other", other, log=lambda m: None)
    assert [r.get("reused_from") for r in fresh] == [None, None, "formula_vs_official.jsonl#official-b1"]


def test_an_interrupt_loses_one_epoch_and_the_resumed_sweep_is_the_same(image_folder, tmp_path, monkeypatch):
    from effnet_lab import train

    settings = ex.Settings(**{**tiny("formula-vs-official", image_folder).__dict__, "epochs": 3, "seeds": (0, 1)})
    whole = sweeps.run_sweep("formula-vs-official", tmp_path / "a", settings, log=lambda m: None)
    saves, real_save = [], train.atomic_save

    def save_then_stop(obj, path):
        real_save(obj, path)
        saves.append(path)
        if len(saves) == 7:  # b0 took 2 seeds x 3 epochs; stop after official-b1's first epoch (seed 0)
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run_sweep("formula-vs-official", tmp_path / "b", settings, log=lambda m: None)
    monkeypatch.undo()
    partial = sorted(p.name for p in (tmp_path / "b" / ".partial").iterdir())
    digest = sweeps.settings_digest(settings)
    assert partial == [f"formula-vs-official-official-b1-{digest}-seed0.pt"]
    assert [r["trial_id"] for r in store.ResultsStore(store.results_path(tmp_path / "b", "formula-vs-official")).read()] == ["b0"]
    logs = []
    resumed = sweeps.run_sweep("formula-vs-official", tmp_path / "b", settings, log=logs.append)
    assert any("official-b1: resuming seed 0" in m for m in logs)
    assert strip(resumed) == strip(whole)  # the same accuracies as the uninterrupted run
    assert not list((tmp_path / "b" / ".partial").iterdir())  # nothing left behind
    # work in progress made with other settings is not resumed: their digests differ
    assert sweeps.settings_digest(ex.Settings(**{**settings.__dict__, "epochs": 4})) != digest


def test_damaged_or_foreign_results_files_are_refused(image_folder, tmp_path):
    settings = tiny("grid-search", image_folder)
    path = store.results_path(tmp_path, "grid-search")
    path.write_text('{"schema": "effnet_lab.sweep/1", "trial_id": "x"\n')
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        sweeps.run_sweep("grid-search", tmp_path, settings)
    path.write_text(json.dumps({"schema": "other/9"}) + "\n")
    with pytest.raises(ValueError, match="line 1 has schema 'other/9', this version reads 'effnet_lab.sweep/1'"):
        sweeps.run_sweep("grid-search", tmp_path, settings)
    path.write_text(json.dumps({**line(settings), "settings": {**settings.to_dict(), "epochs": 99}}) + "\n")
    with pytest.raises(ValueError, match=r"holds trials trained with other settings \(trial x: epochs 99 \(this run: 1\)\)"):
        sweeps.run_sweep("grid-search", tmp_path, settings)


def test_an_interrupt_mid_trial_leaves_a_valid_file(image_folder, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "effnet_lab", "sweep", "formula-vs-official", "--quick", "--data", str(image_folder),
           "--out", str(out), "--epochs", "3", "--per-class", "4", "--batch-size", "4"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    path = store.results_path(out, "formula-vs-official")
    deadline = time.time() + 120
    while time.time() < deadline and not path.exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # Ctrl-C, mid-way through a later trial
    proc.wait(timeout=60)
    rows = store.ResultsStore(path).read()  # parses: no half-written line
    assert 1 <= len(rows) <= 3
    assert not list(out.glob(".*tmp"))


def test_sweep_cli_rejects_bad_arguments(capsys, tmp_path):
    for argv, message in [
        (["sweep", "nope"], "invalid choice: 'nope'"),
        (["sweep", "grid-search", "--quick", "--out", str(tmp_path / "results")], "quick mode never writes to a results/ folder"),
        (["sweep", "grid-search", "--epochs", "0", "--out", str(tmp_path)], "epochs must be an integer >= 1, got 0"),
        (["sweep", "grid-search", "--seeds", "1", "1", "--out", str(tmp_path)], "seeds must be distinct integers"),
        (["sweep", "grid-search", "--channels-last", "yes", "--out", str(tmp_path)], "invalid choice: 'yes'"),
        (["sweep", "grid-search", "--tolerance", "0.001", "--quick", "--data", "/no/data", "--out", str(tmp_path)],
         "data folder '/no/data' does not exist"),
        (["sweep", "grid-search", "--budgets", "1", "2", "--out", str(tmp_path)],
         "argument --budgets: shapes the single-vs-compound sweep only, not grid-search"),
        (["sweep", "single-vs-compound", "--max-candidates", "3", "--out", str(tmp_path)],
         "argument --max-candidates: shapes the grid-search sweep only, not single-vs-compound"),
        (["sweep", "single-vs-compound", "--budgets", "0.5", "--out", str(tmp_path)],
         "budgets must be a finite real number >= 1, got 0.5"),
        (["sweep", "formula-vs-official", "--variants", "b9", "--out", str(tmp_path)],
         "variants must be names among b1-b7, got 'b9'"),
        (["sweep", "imagenette-resolution", "--resolutions", "64", "abc", "--out", str(tmp_path)],
         "argument --resolutions: invalid int value: 'abc'"),
        (["sweep", "grid-search", "--max-candidates", "0", "--out", str(tmp_path)],
         "--max-candidates must be an integer >= 1, got 0"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown sweep 'nope'; valid sweeps: single-vs-compound"):
        ex.plan("nope")


def test_settings_round_trip_through_a_results_line():
    for sweep in ex.SWEEPS:
        settings = ex.default_settings(sweep)
        assert ex.Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_workers_get_the_largest_trials_first_and_equals_keep_plan_order():
    trials = ex.plan("single-vs-compound", ex.default_settings("single-vs-compound"))
    ordered = sweeps.largest_first(trials, num_classes=10)
    macs = [el.analytic_cost(t.config, num_classes=10).macs for t in ordered]
    assert macs == sorted(macs, reverse=True) and sorted(t.trial_id for t in ordered) == sorted(t.trial_id for t in trials)
    assert ordered[-1].trial_id == "base"
    twins = [trials[0], trials[0].__class__("again", "base", trials[0].config)]   # equal MACs: plan order
    assert [t.trial_id for t in sweeps.largest_first(twins, 10)] == ["base", "again"]
