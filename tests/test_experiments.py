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
from effnet_lab import experiments as ex
from effnet_lab.__main__ import main
from effnet_lab.cost import analytic_cost


def tiny(sweep, data):
    return ex.Settings(**{**ex.quick_settings(sweep).__dict__, "data": str(data), "per_class": 4, "batch_size": 4,
                          "epochs": 1, "warmup_epochs": 0.0})


def line(settings, trial_id="x", **changes):
    """A results line with every field (most of them None), for tests of the store itself."""
    return {**dict.fromkeys(ex.REQUIRED_FIELDS), "schema": ex.SCHEMA, "trial_id": trial_id,
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
    committed = ex.load_results("grid-search")
    assert set(committed.trial_id) == {t.trial_id for t in ex.plan("grid-search", ex.Settings(max_candidates=9))}


def test_the_committed_cpu_rerun_reproduced_every_accuracy():
    # results/cpu-rerun: single-vs-compound run again on a CPU by later code (SiLU out of place, other
    # shards): a seed gives the same numbers on a CPU, so every accuracy must be the same
    results = Path(ex.__file__).resolve().parent.parent / "results"
    first = ex.load_results("single-vs-compound", results / "cpu")
    again = ex.load_results("single-vs-compound", results / "cpu-rerun")
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
    sweep = ex.load_results("single-vs-compound", results / "cpu-recipe").set_index("trial_id")
    ablation = [json.loads(line) for line in (results / "recipe_ablation.jsonl").read_text().splitlines()]
    runs = sorted((r for r in ablation if r["variant"] == "zi+batch-64"), key=lambda r: r["seed"])
    assert [r["seed"] for r in runs] == list(sweep.loc["base", "seeds"]) == [0, 1, 2]
    assert list(sweep.loc["base", "accuracies"]) == [r["accuracy"]["plain+tta"] for r in runs]
    settings = ex.Settings.from_dict(sweep.loc["base", "settings"])
    assert (settings.zero_init, settings.tta, settings.batch_size) == (True, True, 64)


def test_old_results_lines_read_as_the_recipe_they_were_made_with():
    old = ex.load_results("single-vs-compound")  # the H200 run, before the recipe was a setting
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
    first = ex.run_sweep("single-vs-compound", tmp_path, small, log=lambda m: None)
    # more budgets only add trials: the file's lines stay, only the 3x trials are trained
    bigger = ex.Settings(**{**small.__dict__, "budgets": (1.0, 2.0, 3.0)})
    assert ex.settings_digest(bigger) == ex.settings_digest(small)  # work in progress survives too
    logs = []
    grown = ex.run_sweep("single-vs-compound", tmp_path, bigger, log=logs.append)
    assert grown[:len(first)] == first
    assert [r["trial_id"] for r in grown[len(first):]] == ["width-x3", "depth-x3", "resolution-x3", "compound-x3"]
    assert "9 trials x 1 seeds" in logs[0] and "5 already done" in logs[0]
    # the smaller plan again: nothing to train, the extra lines are kept and said so
    logs = []
    assert ex.run_sweep("single-vs-compound", tmp_path, small, log=logs.append) == grown
    assert "5 already done" in logs[0] and "4 trials outside this plan (kept)" in logs[0]
    assert not any("accuracy" in m for m in logs)  # nothing trained
    table = ex.load_results("single-vs-compound", tmp_path)
    assert list(table.trial_id) == [t.trial_id for t in ex.plan("single-vs-compound", bigger)]
    # a training setting is another experiment: refused, naming it
    with pytest.raises(ValueError, match=r"other settings \(trial base: per_class 4 \(this run: 3\)\)"):
        ex.run_sweep("single-vs-compound", tmp_path, ex.Settings(**{**bigger.__dict__, "per_class": 3}))


def test_formula_matches_official_macs():
    trials = {t.trial_id: t for t in ex.plan("formula-vs-official", ex.default_settings("formula-vs-official"))}
    for v in ("b1", "b2", "b3"):
        official = el.analytic_cost(trials[f"official-{v}"].config, num_classes=10).macs
        formula = el.analytic_cost(trials[f"formula-{v}"].config, num_classes=10).macs
        assert abs(formula / official - 1) <= 0.05


def test_quick_sweep_resumes_and_equals_an_uninterrupted_run(image_folder, tmp_path):
    settings = tiny("single-vs-compound", image_folder)
    whole = ex.run_sweep("single-vs-compound", tmp_path / "a", settings, log=lambda m: None)
    assert [r["trial_id"] for r in whole] == ["base", "width-x2", "depth-x2", "resolution-x2", "compound-x2"]
    row = whole[0]
    for key in ("schema", "sweep", "trial_id", "rule", "alpha", "beta", "gamma", "phi", "width_mult", "depth_mult",
                "resolution", "macs", "params", "seeds", "accuracies", "accuracy_mean", "accuracy_std",
                "train_seconds", "images_per_second", "device", "torch", "commit", "command", "date", "channels_last"):
        assert key in row, key
    assert row["channels_last"] is False  # fit's default on a CPU, recorded
    # a run that stopped after two trials, then resumed, gives the same file
    path = ex.results_path(tmp_path / "b", "single-vs-compound")
    path.parent.mkdir()
    lines = ex.results_path(tmp_path / "a", "single-vs-compound").read_text().splitlines()
    path.write_text("\n".join(lines[:2]) + "\n")
    trained = []
    resumed = ex.run_sweep("single-vs-compound", tmp_path / "b", settings, log=trained.append)
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
    base = ex.run_sweep("single-vs-compound", tmp_path, ex.Settings(**{**settings.__dict__, "budgets": (1.0,)}),
                        log=lambda m: None)
    logs = []
    rows = {r["trial_id"]: r for r in ex.run_sweep("formula-vs-official", tmp_path, settings, log=logs.append)}
    assert rows["b0"]["reused_from"] == "single_vs_compound.jsonl#base"
    assert rows["b0"]["accuracies"] == base[0]["accuracies"] and rows["b0"]["train_seconds"] == 0.0
    assert rows["formula-b1"]["reused_from"] == "formula_vs_official.jsonl#official-b1"
    assert rows["formula-b1"]["accuracies"] == rows["official-b1"]["accuracies"]
    assert "reused_from" not in rows["official-b1"] and rows["official-b1"]["train_seconds"] > 0
    assert sum("not trained again" in m for m in logs) == 2
    # other training settings (here more epochs) are another experiment: nothing is reused
    other = ex.Settings(**{**settings.__dict__, "epochs": 2})
    fresh = ex.run_sweep("formula-vs-official", tmp_path / "other", other, log=lambda m: None)
    assert [r.get("reused_from") for r in fresh] == [None, None, "formula_vs_official.jsonl#official-b1"]


def test_an_interrupt_loses_one_epoch_and_the_resumed_sweep_is_the_same(image_folder, tmp_path, monkeypatch):
    from effnet_lab import train

    settings = ex.Settings(**{**tiny("formula-vs-official", image_folder).__dict__, "epochs": 3, "seeds": (0, 1)})
    whole = ex.run_sweep("formula-vs-official", tmp_path / "a", settings, log=lambda m: None)
    saves, real_save = [], train.atomic_save

    def save_then_stop(obj, path):
        real_save(obj, path)
        saves.append(path)
        if len(saves) == 7:  # b0 took 2 seeds x 3 epochs; stop after official-b1's first epoch (seed 0)
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        ex.run_sweep("formula-vs-official", tmp_path / "b", settings, log=lambda m: None)
    monkeypatch.undo()
    partial = sorted(p.name for p in (tmp_path / "b" / ".partial").iterdir())
    digest = ex.settings_digest(settings)
    assert partial == [f"formula-vs-official-official-b1-{digest}-seed0.pt"]
    assert [r["trial_id"] for r in ex.ResultsStore(ex.results_path(tmp_path / "b", "formula-vs-official")).read()] == ["b0"]
    logs = []
    resumed = ex.run_sweep("formula-vs-official", tmp_path / "b", settings, log=logs.append)
    assert any("official-b1: resuming seed 0" in m for m in logs)
    assert strip(resumed) == strip(whole)  # the same accuracies as the uninterrupted run
    assert not list((tmp_path / "b" / ".partial").iterdir())  # nothing left behind
    # work in progress made with other settings is not resumed: their digests differ
    assert ex.settings_digest(ex.Settings(**{**settings.__dict__, "epochs": 4})) != digest


def test_damaged_or_foreign_results_files_are_refused(image_folder, tmp_path):
    settings = tiny("grid-search", image_folder)
    path = ex.results_path(tmp_path, "grid-search")
    path.write_text('{"schema": "effnet_lab.sweep/1", "trial_id": "x"\n')
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        ex.run_sweep("grid-search", tmp_path, settings)
    path.write_text(json.dumps({"schema": "other/9"}) + "\n")
    with pytest.raises(ValueError, match="line 1 has schema 'other/9', this version reads 'effnet_lab.sweep/1'"):
        ex.run_sweep("grid-search", tmp_path, settings)
    path.write_text(json.dumps({**line(settings), "settings": {**settings.to_dict(), "epochs": 99}}) + "\n")
    with pytest.raises(ValueError, match=r"holds trials trained with other settings \(trial x: epochs 99 \(this run: 1\)\)"):
        ex.run_sweep("grid-search", tmp_path, settings)


def test_an_interrupt_mid_trial_leaves_a_valid_file(image_folder, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "effnet_lab", "sweep", "formula-vs-official", "--quick", "--data", str(image_folder),
           "--out", str(out), "--epochs", "3", "--per-class", "4", "--batch-size", "4"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    path = ex.results_path(out, "formula-vs-official")
    deadline = time.time() + 120
    while time.time() < deadline and not path.exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # Ctrl-C, mid-way through a later trial
    proc.wait(timeout=60)
    rows = ex.ResultsStore(path).read()  # parses: no half-written line
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


def test_shards_split_the_plan_and_share_one_file(image_folder, tmp_path):
    settings = tiny("formula-vs-official", image_folder)
    whole = ex.run_sweep("formula-vs-official", tmp_path / "a", settings, log=lambda m: None)
    first = ex.run_sweep("formula-vs-official", tmp_path / "b", settings, log=lambda m: None, shard=(1, 2))
    # shards split the distinct networks, biggest first: official-b1 and formula-b1 build one
    # network, which shard 1 trains once; b0 goes to shard 2
    assert [r["trial_id"] for r in whole] == ["b0", "official-b1", "formula-b1"]
    assert [r["trial_id"] for r in first] == ["official-b1", "formula-b1"]
    both = ex.run_sweep("formula-vs-official", tmp_path / "b", settings, log=lambda m: None, shard=(2, 2))
    by_id = lambda rows: sorted(strip(rows), key=lambda r: r["trial_id"])  # noqa: E731
    assert by_id(both) == by_id(whole)
    for bad, message in [((0, 2), "1 <= i <= n"), ((3, 2), "got 3/2"), (("a", 2), "pair")]:
        with pytest.raises(ValueError, match=message):
            ex.run_sweep("formula-vs-official", tmp_path / "c", settings, shard=bad)


def test_shards_deal_distinct_networks_out_by_macs():
    trials = ex.plan("formula-vs-official", ex.default_settings("formula-vs-official"))
    # four networks (b0, then each official-bN with its twin formula-bN); b3 is the biggest, and
    # b1 + b2 outweigh b0, so b0 joins b3
    ids = lambda part: [t.trial_id for t in ex.shard_trials(trials, (part, 2))]  # noqa: E731
    assert ids(1) == ["b0", "official-b3", "formula-b3"]
    assert ids(2) == ["official-b1", "formula-b1", "official-b2", "formula-b2"]
    imagenette = ex.plan("imagenette-resolution", ex.default_settings("imagenette-resolution"))
    assert [[t.trial_id for t in ex.shard_trials(imagenette, (i, 2))] for i in (1, 2)] == [["res-128"], ["res-64", "res-96"]]
    for sweep in ex.SWEEPS:
        trials = ex.plan(sweep, ex.default_settings(sweep))
        macs = {t.config.network_key: analytic_cost(t.config).macs for t in trials}
        for parts in (2, 3, 4):
            shards = [ex.shard_trials(trials, (i, parts)) for i in range(1, parts + 1)]
            # every trial once, in plan order within a shard, twins in one shard
            assert sorted(t.trial_id for s in shards for t in s) == sorted(t.trial_id for t in trials)
            assert all(s == [t for t in trials if t in s] for s in shards)
            owners = [{t.config.network_key for t in s} for s in shards]
            assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])
            # greedy dealing: no shard is more than the biggest network ahead of the lightest one
            loads = [sum(macs[k] for k in keys) for keys in owners]
            assert max(loads) - min(loads) <= max(macs.values()) + 1e-9, (sweep, parts, loads)


def test_concurrent_appends_keep_every_line(tmp_path):
    import threading

    store = ex.ResultsStore(tmp_path / "r.jsonl")
    settings = ex.Settings()
    threads = [threading.Thread(target=lambda i=i: [store.append(line(settings, f"{i}-{k}")) for k in range(20)])
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["trial_id"] for r in store.read()) == sorted(f"{i}-{k}" for i in range(4) for k in range(20))


def test_sweep_cli_rejects_a_bad_shard(capsys, tmp_path):
    for text in ("2", "a/b", "1/2/3", "3/2"):
        with pytest.raises(SystemExit) as exc:
            main(["sweep", "grid-search", "--quick", "--out", str(tmp_path), "--shard", text])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--shard" in err or "shard must satisfy" in err, err


def test_sweep_parallel_script_refuses_bad_arguments(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "sweep_parallel.sh")
    for args, message in [([], "usage:"), ([str(tmp_path), "0", "grid-search"], "SHARDS must be a whole number"),
                          ([str(tmp_path), "2", "grid-serch"], "unknown sweep 'grid-serch'"),
                          ([str(tmp_path), "2", "grid-search", "--chain"], "--chain goes first"),
                          (["--chian", str(tmp_path), "2", "grid-search"], "unknown option '--chian'")]:
        done = subprocess.run(["bash", script, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    done = subprocess.run(["bash", script, str(tmp_path), "2", "grid-search"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "STOP_GRACE": "soon"})
    assert done.returncode == 2 and "STOP_GRACE must be a whole number of seconds, got 'soon'" in done.stderr
    assert not (tmp_path / "logs").exists()


def test_sweep_parallel_script_runs_shards_into_one_file(image_folder, tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "sweep_parallel.sh")
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": os.getcwd()}
    done = subprocess.run(["bash", script, str(tmp_path), "2", "formula-vs-official", "--", "--quick", "--data",
                           str(image_folder), "--per-class", "4", "--batch-size", "4"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr + "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    rows = ex.ResultsStore(ex.results_path(tmp_path, "formula-vs-official")).read()
    settings = tiny("formula-vs-official", image_folder)
    assert sorted(r["trial_id"] for r in rows) == sorted(t.trial_id for t in ex.plan("formula-vs-official", settings))
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["formula-vs-official-1.log", "formula-vs-official-2.log"]


def test_sweep_parallel_script_chains_sweeps_per_shard(image_folder, tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "sweep_parallel.sh")
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": os.getcwd()}
    sweeps = ["formula-vs-official", "grid-search"]
    done = subprocess.run(["bash", script, "--chain", str(tmp_path), "2", *sweeps, "--", "--quick", "--data",
                           str(image_folder), "--per-class", "4", "--batch-size", "4"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr + "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    for sweep in sweeps:
        rows = ex.ResultsStore(ex.results_path(tmp_path, sweep)).read()
        assert sorted(r["trial_id"] for r in rows) == sorted(t.trial_id for t in ex.plan(sweep, tiny(sweep, image_folder)))
    assert len(list((tmp_path / "logs").iterdir())) == 4


FAKE_SWEEP = """import os, signal, sys, time
if os.environ["FAKE_RESTORE"] == "1":  # as effnet_lab's __main__ does; else like a sweep still importing
    signal.signal(signal.SIGINT, signal.default_int_handler)
open(os.path.join(os.environ["FAKE_LOG"], str(os.getpid())), "w").write(" ".join(sys.argv[1:]))
try:
    time.sleep(float(os.environ["FAKE_SLEEP"]))
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize("chain", [True, False])
@pytest.mark.parametrize("restores_sigint", [True, False])
def test_sweep_parallel_script_stops_every_shard_on_a_signal(tmp_path, chain, restores_sigint):
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "sweep_parallel.sh")
    fake = tmp_path / "fake.py"
    fake.write_text(FAKE_SWEEP)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {fake} \"$@\"\n")
    python.chmod(0o755)
    started = tmp_path / "started"
    started.mkdir()
    env = {**os.environ, "PYTHON": str(python), "FAKE_LOG": str(started), "FAKE_SLEEP": "60",
           "FAKE_RESTORE": str(int(restores_sigint)), "STOP_GRACE": "2"}
    args = ["--chain"] * chain + [str(tmp_path / "out"), "2", "grid-search", "formula-vs-official"]
    proc = subprocess.Popen(["bash", script, *args], env=env)
    deadline = time.monotonic() + 30
    while len(list(started.iterdir())) < (2 if chain else 4) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # let the fakes install their handlers
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    assert time.monotonic() - t0 < 20  # the shards were stopped (by TERM after the grace), not waited for
    commands = sorted(p.read_text() for p in started.iterdir())
    # a chain runs its shard of grid-search and, once stopped, starts no further sweep
    expected = ["grid-search"] * 2 if chain else ["formula-vs-official"] * 2 + ["grid-search"] * 2
    assert [c.split()[3] for c in commands] == expected, commands


def test_settings_round_trip_through_a_results_line():
    for sweep in ex.SWEEPS:
        settings = ex.default_settings(sweep)
        assert ex.Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
