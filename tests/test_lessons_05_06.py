"""Lessons 05 and 06: the tables, slider states, figures and exercise checkers built on the saved sweeps."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import effnet_lab as el  # noqa: E402
from effnet_lab import experiments, store  # noqa: E402
from effnet_lab.lessons import dashboards, exercises, explorers, result_figures, states, tables
from effnet_lab.cost import grid_cost  # noqa: E402


@pytest.fixture(scope="module")
def single():
    return store.load_results("single-vs-compound")


@pytest.fixture(scope="module")
def grid():
    return store.load_results("grid-search")


# --------------------------------------------------------------------------------------------
# Lesson 05
# --------------------------------------------------------------------------------------------


def test_budget_table_picks_each_rules_model_at_the_budget(single):
    table = tables.budget_table(single, 4.0)
    assert list(table.index) == ["width", "depth", "resolution", "compound"]
    assert list(table.trial) == ["width-x4", "depth-x4", "resolution-x4", "compound-x4"]
    row = single.loc["resolution-x4"]
    assert table.loc["resolution", "resolution"] == row.resolution == 64
    assert table.loc["resolution", "accuracy %"] == round(100 * row.accuracy_mean, 1)
    assert table.loc["resolution", "± std"] == round(100 * row.accuracy_std, 1)
    assert table.loc["depth", "blocks"] == el.ModelConfig.from_dict(single.loc["depth-x4", "config"]).num_blocks
    assert table["× base MACs"].between(3.5, 4.5).all()
    assert table.loc["depth", "vs base (points)"] < 0 < table.loc["resolution", "vs base (points)"]


def test_budget_table_at_1x_is_the_base_for_every_rule_and_rejects_unknown_budgets(single):
    table = tables.budget_table(single, 1)
    assert set(table.trial) == {"base"} and (table["× base MACs"] == 1.0).all()
    assert (table["vs base (points)"] == 0).all()
    with pytest.raises(ValueError, match="1x, 2x, 4x"):
        tables.budget_table(single, 3.0)


def test_compound_vs_best_single_compares_with_the_most_accurate_single_rule(single):
    versus = tables.compound_vs_best_single(single)
    assert list(versus.index) == ["2×", "4×"]
    at4 = single[(single.budget == 4.0) & single.rule.isin(["width", "depth", "resolution"])]
    best = at4.loc[at4.accuracy_mean.idxmax()]
    assert versus.loc["4×", "best single"] == best.rule
    gap = 100 * (single.loc["compound-x4", "accuracy_mean"] - best.accuracy_mean)
    noise = 100 * math.hypot(single.loc["compound-x4", "accuracy_std"], best.accuracy_std)
    assert versus.loc["4×", "gap (points)"] == round(gap, 1)
    assert versus.loc["4×", "beyond noise"] == (abs(gap) > noise)
    with pytest.raises(ValueError, match="no budget above 1x with both compound scaling and a single"):
        tables.compound_vs_best_single(single[single.rule != "compound"])


def test_ranking_ranks_the_rules_of_each_run_at_one_budget(single):
    other = single.copy()
    other.loc["width-x2", "accuracy_mean"] = 0.99          # width first in the second run
    other = other.drop(index="depth-x2")                   # a rule missing from one run is left out
    table = tables.ranking({"a": single, "b": other}, 2.0)
    assert list(table.index) == ["width", "resolution", "compound"]
    at2 = single[(single.budget == 2.0) & (single.rule != "depth")].set_index("rule")
    expected = (100 * at2.accuracy_mean).rank(ascending=False, method="min").astype(int)
    assert list(table["a rank"]) == [expected[r] for r in table.index]
    assert table.loc["width", "b rank"] == 1 and table.loc["width", "b %"] == 99.0
    assert table.loc["compound", "a ±"] == round(100 * single.loc["compound-x2", "accuracy_std"], 1)
    with pytest.raises(ValueError, match="no rule was trained at 3x"):
        tables.ranking({"a": single}, 3.0)
    with pytest.raises(ValueError, match="budget"):
        tables.ranking({"a": single}, 0.5)
    with pytest.raises(ValueError, match="at least one"):
        tables.ranking({}, 2.0)


def test_budget_explorer_follows_its_slider(single):
    explorer = explorers.BudgetExplorer(single, budget=4.0)
    assert [value for _, value in explorer.budget.options] == [1.0, 2.0, 4.0]
    assert explorer.frame.equals(tables.budget_table(single, 4.0))
    explorer.budget.value = 2.0
    assert explorer.frame.equals(tables.budget_table(single, 2.0))
    assert "compound-x2" in explorer.html.value and "2× the base" in explorer.html.value


def test_live_over_saved_draws_the_live_points_hollow(single):
    live = single[single.budget <= 2.0].copy()
    fig = result_figures.live_over_saved(single, live, note="test")
    ax = fig.axes[0]
    hollow = [line for line in ax.lines if line.get_marker() == "s" and line.get_markerfacecolor() == "white"]
    assert sum(len(line.get_xdata()) for line in hollow) == len(live)
    assert any("tiny live run" in t.get_text() for t in ax.get_legend().get_texts())


# --------------------------------------------------------------------------------------------
# Lesson 06
# --------------------------------------------------------------------------------------------


def test_compare_runs_lines_up_the_shared_trials(single):
    other = single.copy()
    other["accuracy_mean"] = other.accuracy_mean + 0.01     # one point better everywhere
    other["accuracy_std"] = other.accuracy_std * 0
    other = other.drop(index="depth-x4")
    table = tables.compare_runs(single, other, ("H200", "CPU"))
    assert list(table.index) == [t for t in single.trial_id if t != "depth-x4"]
    base = single.loc["base"]
    assert table.loc["base", "H200 %"] == round(100 * base.accuracy_mean, 1)
    assert table.loc["base", "difference (points)"] == pytest.approx(1.0)
    assert table.loc["base", "noise (points)"] == round(100 * base.accuracy_std, 1)
    assert list(table["beyond noise"]) == [1.0 > 100 * s for s in single.drop(index="depth-x4").accuracy_std]
    other.loc["base", "macs"] += 1
    with pytest.raises(ValueError, match="trial 'base' is a different network in the two runs"):
        tables.compare_runs(single, other)
    with pytest.raises(ValueError, match="the two runs share no trial"):
        tables.compare_runs(single, other.iloc[0:0])
    fig = result_figures.run_vs_run(single, other, ("H200", "CPU"))
    assert fig.axes[0].get_xlabel().startswith("H200") and fig.axes[0].get_ylabel().startswith("CPU")


def test_implied_gamma_satisfies_the_constraint():
    for alpha, beta in ((1.2, 1.1), (1.0, 1.0), (1.9, 1.3)):
        assert el.flops_factor(alpha, beta, states.implied_gamma(alpha, beta)) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        states.implied_gamma(0.0, 1.0)


def test_grid_point_state_at_the_paper_point(grid):
    state = states.grid_point_state(grid, 1.2, 1.1)
    assert state.gamma == pytest.approx(math.sqrt(2 / (1.2 * 1.21)))
    base = experiments.CIFAR_BASE
    config = el.compound_scaling(1.0, 1.2, 1.1, state.gamma, base=base)
    assert state.config == config
    assert state.macs == el.analytic_cost(config, num_classes=10).macs
    assert state.budget_x == pytest.approx(state.macs / el.analytic_cost(base, num_classes=10).macs)
    assert bool(state.nearest.extra["paper_point"]) and state.allowed
    expected_rank = 1 + int((grid.accuracy_mean > state.nearest.accuracy_mean).sum())
    assert state.rank == expected_rank and state.n_candidates == len(grid) == 9
    assert f"rank {expected_rank} of 9" in state.headline


def test_grid_point_state_finds_the_nearest_candidate_and_flags_gamma_below_one(grid):
    state = states.grid_point_state(grid, 1.0, 1.0)         # gamma = sqrt(2): resolution only
    assert (state.nearest.alpha, state.nearest.beta, state.nearest.gamma) == (1.0, 1.0, 1.4)
    outside = states.grid_point_state(grid, 1.9, 1.3)
    assert outside.gamma < 1 and not outside.allowed and "outside the search" in outside.headline


def test_constraint_map_data_matches_analytic_cost_point_by_point():
    base = experiments.CIFAR_BASE
    data = states.constraint_map_data(base, [1.0, 1.2, 1.9], [1.0, 1.1, 1.3])
    base_macs = el.analytic_cost(base, num_classes=10).macs
    for j, beta in enumerate(data["betas"]):
        for i, alpha in enumerate(data["alphas"]):
            gamma = states.implied_gamma(alpha, beta)
            if gamma < 1:
                assert math.isnan(data["gamma"][j, i]) and math.isnan(data["macs_ratio"][j, i])
                continue
            macs = el.analytic_cost(el.compound_scaling(1.0, alpha, beta, gamma, base=base), num_classes=10).macs
            assert data["macs_ratio"][j, i] == pytest.approx(macs / base_macs)
            assert data["gamma"][j, i] == pytest.approx(gamma)


def test_grid_explorer_follows_its_sliders(grid):
    explorer = explorers.GridExplorer(grid)
    assert explorer.state.nearest.trial_id == "a1.2-b1.1-g1.15" and bytes(explorer.image.value[:3]) == b"\xff\xd8\xff"
    explorer.alpha.value, explorer.beta.value = 1.0, 1.0
    assert explorer.state.nearest.trial_id == "a1-b1-g1.4" and explorer.renders == 3
    assert "rank 1 of 9" in explorer.text.value


def test_search_cost_ratio_is_the_ratio_of_the_candidates_macs(grid):
    candidates = list(zip(grid.alpha, grid.beta, grid.gamma))
    b0, b7 = el.official_config("b0"), el.official_config("b7")
    table = tables.search_cost_table(candidates, {"B0": (b0, 1000, 10, 1000), "B7": (b7, 1000, 10, 1000)},
                                      reference="B0")
    macs = {name: sum(el.analytic_cost(el.compound_scaling(1.0, a, b, g, base=cfg)).macs for a, b, g in candidates)
            for name, cfg in (("B0", b0), ("B7", b7))}
    assert table.loc["B7", "× B0"] == pytest.approx(macs["B7"] / macs["B0"])
    assert table.loc["B0", "search, training multiply-adds"] == pytest.approx(3 * macs["B0"] * 3 * 1000 * 10)
    assert table.loc["B0", "runs"] == 27


def test_official_vs_formula_finds_identical_networks():
    table = tables.official_vs_formula(store.load_results("formula-vs-official"))
    assert list(table.index) == ["B1", "B2", "B3"]
    assert table["same network"].all()
    assert (table["MMACs official"] == table["MMACs formula"]).all()
    assert (table["width official"] != table["width formula"]).any()     # nominal multipliers differ


def test_lesson_06_figures_draw(grid):
    data = states.constraint_map_data(experiments.CIFAR_BASE, np.linspace(1, 2, 11), np.linspace(1, 1.4, 9))
    fig = dashboards.constraint_maps(data, grid, point=(1.2, 1.1))
    assert len(fig.axes) == 4                                    # two maps, two colour bars
    fig = result_figures.grid_accuracy_vs_cost(grid)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "(1.2, 1.1, 1.15)" in labels and len([t for t in labels if t.startswith("(")]) == len(grid)


# --------------------------------------------------------------------------------------------
# Exercise checkers
# --------------------------------------------------------------------------------------------


def test_lesson_05_checkers(single, capsys):
    exercises.check_best_rule_at_4x("resolution")
    exercises.check_depth_drop_at_4x(100 * (single.loc["depth-x4", "accuracy_mean"] - single.loc["base", "accuracy_mean"]))
    exercises.check_final_map_side(4)
    assert capsys.readouterr().out.count("✓") == 3
    with pytest.raises(AssertionError, match="Hint"):
        exercises.check_best_rule_at_4x("compound")
    with pytest.raises(AssertionError, match="sign"):
        exercises.check_depth_drop_at_4x(27.6)
    with pytest.raises(AssertionError, match="too small"):
        exercises.check_final_map_side(2)
    with pytest.raises(NotImplementedError):
        exercises.check_final_map_side(...)


def test_lesson_06_checkers(grid, capsys):
    exercises.check_implied_gamma(math.sqrt(2 / 1.4))
    exercises.check_paper_rank(int(grid.accuracy_mean.rank(ascending=False, method="min")["a1.2-b1.1-g1.15"]))
    exercises.check_paper_budget(grid.loc["a1.2-b1.1-g1.15", "budget_x"])
    a, b, g = (grid[c].to_numpy() for c in ("alpha", "beta", "gamma"))
    ratio = (grid_cost(a, b, g, 1.0, base=el.official_config("b7"))["macs"].sum()
             / grid_cost(a, b, g, 1.0, base=el.official_config("b0"))["macs"].sum()).item()
    exercises.check_b7_search_ratio(ratio)
    assert capsys.readouterr().out.count("✓") == 4
    with pytest.raises(AssertionError, match="Hint"):
        exercises.check_implied_gamma(1.15)
    with pytest.raises(AssertionError, match="Hint"):
        exercises.check_paper_rank(1)
    with pytest.raises(AssertionError, match="Hint"):
        exercises.check_paper_budget(1.92)
    with pytest.raises(AssertionError, match="Hint"):
        exercises.check_b7_search_ratio(98)


def test_gaps_with_error_gives_each_trials_gap_and_standard_errors():
    import pandas as pd

    acc = pd.DataFrame({"a": [0.60, 0.62, 0.64, 0.62], "b": [0.58, 0.59, 0.60, None]}, index=[0, 1, 2, 3])
    table = tables.gaps_with_error(acc, reference="b")
    a, b = table.loc["a"], table.loc["b"]
    assert (a.seeds, b.seeds) == (4, 3) and (a["mean %"], b["mean %"]) == (62.0, 59.0)
    se_a, se_b = (0.0163299 * 100) / 2, 1.0 / 3 ** 0.5      # std / sqrt(seeds), in points
    assert a["se of mean"] == round(se_a, 2) and b["se of mean"] == round(se_b, 2)
    assert a["gap to b"] == 3.0 and a.se == round((se_a**2 + se_b**2) ** 0.5, 2)
    # paired over seeds 0-2: differences 2, 3, 4 points, std 1, so 1 / sqrt(3)
    assert a["paired se"] == round(1 / 3 ** 0.5, 2) and a["gap / se"] == round(3.0 / (se_a**2 + se_b**2) ** 0.5, 1)
    assert pd.isna(b["gap to b"])                                  # the reference has no gap to itself
    with pytest.raises(ValueError, match="reference 'c' is not a column"):
        tables.gaps_with_error(acc, "c")
    with pytest.raises(ValueError, match="at least 2 seeds; b has fewer"):
        tables.gaps_with_error(acc.assign(b=[0.5, None, None, None]), "a")


def test_seeds_and_means_draws_every_seed_and_two_standard_errors_of_each_mean():
    import pandas as pd
    from matplotlib.collections import PathCollection

    acc = pd.DataFrame({"base": [0.60, 0.62, 0.64, 0.62], "compound-x2": [0.58, 0.59, 0.60, None]})
    fig = result_figures.seeds_and_means({"both": acc, "one": acc[["base"]]}, references=("compound-x2",))
    ax = fig.axes[0]
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in dots] == [4, 3]                # every seed, none of the gaps
    assert sorted(dots[0].get_offsets()[:, 1]) == pytest.approx([60, 62, 62, 64])
    mean, _caps, (bar,) = ax.containers[1].lines
    assert mean.get_ydata()[0] == pytest.approx(59.0)
    se = 1 / 3 ** 0.5                                                     # std 1 point over 3 seeds
    assert bar.get_segments()[0][:, 1] == pytest.approx([59 - 2 * se, 59 + 2 * se])
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == pytest.approx(59.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["base\n4 seeds", "compound-x2\n3 seeds"]
    one = fig.axes[1]   # a panel without the reference trial draws no reference line
    assert len([c for c in one.collections if isinstance(c, PathCollection)]) == 1
    assert not [line for line in one.lines if line.get_linestyle() == "--"]
