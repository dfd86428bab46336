"""Lessons 07-08: the random stage search, the objective explorer's state function, class
activation maps, their figures and the exercise checkers."""

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import effnet_lab as el  # noqa: E402
from effnet_lab import nas  # noqa: E402
from effnet_lab.lessons import exercises, explorers, objective_figures, proxy_search, result_figures, states


# --------------------------------------------------------------------------------------------
# proxy_search.random_stage_search
# --------------------------------------------------------------------------------------------


def test_search_is_seeded_costs_are_exact_and_candidate_0_is_the_base():
    table = proxy_search.random_stage_search(6, seed=3)
    again = proxy_search.random_stage_search(6, seed=3)
    assert list(table.index) == list(again.index) and list(table.macs) == list(again.macs)
    assert list(proxy_search.random_stage_search(6, seed=4).macs) != list(table.macs)
    base = table.loc[0]
    assert base.kernels == tuple(s.kernel for s in el.B0_STAGES)
    assert base.layers == tuple(s.layers for s in el.B0_STAGES)
    assert base.macs == el.analytic_cost(proxy_search.SEARCH_BASE, num_classes=2).macs
    assert table.attrs["target"] == base.macs and base.score == pytest.approx(1.0)   # cost only: (M/T)^w
    for _, row in table.iterrows():
        assert row.config.base_stages[3].kernel == row.kernels[3]
        assert row.macs == el.analytic_cost(row.config, num_classes=2).macs
        assert all(k in (3, 5) for k in row.kernels) and all(e in (1, 4, 6) for e in row.expand)
        assert all(abs(n - s.layers) <= 1 and n >= 1 for n, s in zip(row.layers, el.B0_STAGES))
        assert row.score == pytest.approx((row.macs / base.macs) ** -0.07)
        assert math.isnan(row.accuracy)
    assert list(table.score) == sorted(table.score, reverse=True)
    assert len({(r.kernels, r.expand, r.layers) for r in table.itertuples()}) == 6   # no repeats


def test_search_scores_a_proxy_with_the_objective():
    calls = []

    def proxy(config):
        calls.append(config)
        return 0.5 + 0.01 * config.num_blocks

    table = proxy_search.random_stage_search(4, proxy, seed=0, target=1e6, w=-0.1)
    assert len(calls) == 4
    for row in table.itertuples():
        assert row.accuracy == pytest.approx(0.5 + 0.01 * row.blocks)
        assert row.score == pytest.approx(nas.objective(row.accuracy, row.macs, 1e6, -0.1))


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_candidates=0), r"n_candidates must be an integer >= 1, got 0"),
    (dict(n_candidates=2.5), r"n_candidates must be an integer >= 1, got 2.5"),
    (dict(n_candidates=3, kernels=(3, 4)), r"kernels must be a non-empty sequence of odd positive integers .*got \(3, 4\)"),
    (dict(n_candidates=3, kernels=()), r"kernels must be a non-empty sequence"),
    (dict(n_candidates=3, expand_ratios=(0.5,)), r"expand_ratios must be a non-empty sequence of real numbers >= 1"),
    (dict(n_candidates=3, layer_deltas=(0.5,)), r"layer_deltas must be a non-empty sequence of integers"),
    (dict(n_candidates=3, proxy="fast"), r"proxy must be None .* got 'fast'"),
    (dict(n_candidates=3, target=-1), r"target must be a finite real number > 0, got -1"),
    (dict(n_candidates=2, kernels=(3,), expand_ratios=(6,), layer_deltas=(0,)), r"n_candidates must be <= 1"),
])
def test_search_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        proxy_search.random_stage_search(**kwargs)


def test_stage_choices_config_checks_lengths():
    with pytest.raises(ValueError, match="kernels must have one entry per stage"):
        proxy_search.stage_choices_config(proxy_search.SEARCH_BASE, (3,), (6,) * 7, (1,) * 7)


def test_training_proxy_runs_on_a_tiny_folder(image_folder, torch):
    from effnet_lab.data import load_pair

    train, test = load_pair(image_folder)
    proxy = proxy_search.training_proxy(train, test, epochs=1, batch_size=12, seed=0)
    config = proxy_search.SEARCH_BASE.replace(depth_mult=0.25, resolution=16)
    accuracy = proxy(config)
    assert 0.0 <= accuracy <= 1.0 and accuracy == proxy(config)   # seeded: the same number twice


# --------------------------------------------------------------------------------------------
# states.objective_state: the explorer's callback
# --------------------------------------------------------------------------------------------


def test_objective_state_ranks_the_published_variants():
    soft = states.objective_state("published")
    assert list(soft.index[:2]) == ["B0", "B1"] and soft.attrs["target"] == 400e6
    assert soft.loc["B0", "macs"] == el.analytic_cost("b0").macs and soft.loc["B7", "accuracy"] == 0.843
    assert soft.loc["B1", "score"] == pytest.approx(0.791 * (686_817_992 / 400e6) ** -0.07)
    assert list(soft["rank"]) == list(range(1, 9)) and soft.pareto.all()
    assert list(states.objective_state("published", w=0.0).index) == [f"B{k}" for k in range(7, -1, -1)]
    hard = states.objective_state("published", target=1e9, mode="hard")
    assert hard.index[0] == "B2" and hard.loc["B3", "score"] == pytest.approx(0.816 * 1e9 / 1_827_162_472)


def test_soft_ranking_does_not_depend_on_the_target():
    for source in states.OBJECTIVE_SOURCES:
        orders = {tuple(states.objective_state(source, -0.07, t).index) for t in (1e5, 1e7, 4e8, 1e11)}
        assert len(orders) == 1, source


def test_objective_state_on_sweeps_and_tables():
    state = states.objective_state("single-vs-compound")
    assert state.attrs["target"] == pytest.approx(state.macs.median()) and len(state) == 9
    assert set(state[state.pareto].index) == {"base", "resolution-x4"}
    mine = pd.DataFrame({"macs": [1e6, 2e6], "accuracy": [0.5, 0.6]}, index=["a", "b"])
    assert list(states.objective_state(mine, w=0.0).index) == ["b", "a"]
    with pytest.raises(ValueError, match="source must be one of"):
        states.objective_state("imagenet")
    with pytest.raises(ValueError, match="mode must be one of"):
        states.objective_state(mode="medium")
    with pytest.raises(ValueError, match="target must be a finite real number > 0"):
        states.objective_state(target=0)


def test_objective_explorer_redraws_on_change():
    explorer = explorers.objective_explorer()
    assert explorer.renders == 1 and explorer.state.index[0] == "B0"
    explorer.w.value = 0.0
    assert explorer.renders == 2 and explorer.state.index[0] == "B7"
    explorer.mode.value = "hard"
    explorer.target.value = 2.5   # T = 1 G
    assert explorer.state.index[0] == "B2" and explorer.state.attrs["target"] == pytest.approx(1e9)
    explorer.source.value = "imagenette-resolution"
    assert set(explorer.state.index) == {"res-64", "res-96", "res-128"}


def test_objective_figures_draw():
    assert len(objective_figures.objective_penalty().axes) == 1
    assert len(objective_figures.objective_ranking(states.objective_state("grid-search", mode="hard")).axes) == 2


def test_objective_figure_shows_a_one_model_front_and_the_chance_line():
    state = states.objective_state("grid-search", mode="hard")
    fig = objective_figures.objective_ranking(state, chance=0.1)
    left = fig.axes[0]
    front = next(line for line in left.lines if line.get_label() == "Pareto front")
    assert front.get_marker() == "o"      # visible even when one model makes the whole front
    chance = [line for line in left.lines if list(line.get_ydata()) == [10.0, 10.0]]
    assert len(chance) == 1 and left.get_ylim()[0] < 10.0       # the chance line is on the axes
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels[1] == "Pareto front" and labels[3].startswith("winner")   # the legend is as without it


# --------------------------------------------------------------------------------------------
# cam.class_activation_maps
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_model(torch):
    torch.manual_seed(0)
    return el.efficientnet(el.ModelConfig(width_mult=0.25, depth_mult=0.25, resolution=64), num_classes=3).eval()


def test_cam_of_a_one_channel_classifier_is_that_channel(torch, tiny_model):
    from torch.nn import functional as F

    from effnet_lab.cam import class_activation_maps

    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tiny_model.classifier.weight.zero_()
        tiny_model.classifier.weight[1, 5] = 1.0
        feats = tiny_model.features(images)
    result = class_activation_maps(tiny_model, images, classes=1)
    assert result.maps.shape == (2, 64, 64) and result.raw.shape == feats[:, 5].shape
    expected = F.interpolate(feats[:, 5:6].relu(), size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    low = expected.flatten(1).min(1).values[:, None, None]
    high = expected.flatten(1).max(1).values[:, None, None]
    assert torch.allclose(result.maps, (expected - low) / (high - low), atol=1e-5)
    assert float(result.maps.min()) == 0.0 and float(result.maps.max()) == pytest.approx(1.0)


def test_cam_mean_plus_bias_is_the_logit_and_defaults_to_the_prediction(torch, tiny_model):
    from effnet_lab.cam import class_activation_maps

    images = torch.randn(3, 3, 64, 64)
    tiny_model.train()
    result = class_activation_maps(tiny_model, images)
    assert tiny_model.training   # left in the mode it was in
    tiny_model.eval()
    with torch.no_grad():
        logits = tiny_model(images)
    assert torch.equal(result.classes, logits.argmax(1)) and torch.equal(result.predicted, logits.argmax(1))
    picked = logits.gather(1, result.classes[:, None])[:, 0]
    bias = tiny_model.classifier.bias[result.classes]
    assert torch.allclose(result.raw.mean((1, 2)) + bias, picked, atol=1e-4)
    assert torch.allclose(result.probabilities.sum(1), torch.ones(3))


def test_cam_rejects_bad_inputs(torch, tiny_model):
    from effnet_lab.cam import class_activation_maps, preprocess

    images = torch.randn(2, 3, 64, 64)
    with pytest.raises(ValueError, match="float tensor"):
        class_activation_maps(tiny_model, images.to(torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        class_activation_maps(tiny_model, images[0])
    with pytest.raises(ValueError, match=r"classes must be in \[0, 2\].*got \[3\]"):
        class_activation_maps(tiny_model, images, classes=[0, 3])
    with pytest.raises(ValueError, match=r"one per image \(2\), got 3"):
        class_activation_maps(tiny_model, images, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="has no .features"):
        class_activation_maps(torch.nn.Linear(3, 3), images)
    with pytest.raises(ValueError, match="uint8"):
        preprocess(images, 32)
    batch = preprocess(torch.full((2, 3, 20, 20), 128, dtype=torch.uint8), 32)
    assert batch.shape == (2, 3, 32, 32) and batch.dtype == torch.float32


def test_cam_figure_draws(torch):
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    maps = torch.rand(2, 32, 32)
    fig = result_figures.cam_overlays(images, {"small": (maps, ["a", "b"], [0.5, 0.9])}, ["a", "a"])
    assert len(fig.axes) == 4


# --------------------------------------------------------------------------------------------
# Exercise checkers
# --------------------------------------------------------------------------------------------


def test_lesson_07_checkers():
    exercises.check_double_macs_gain(2 ** 0.07 - 1)
    exercises.check_break_even_w(math.log(0.771 / 0.791) / math.log(686_817_992 / 385_825_092))
    exercises.check_winners_at_1g("b0", "B2")
    exercises.check_front_size(2)
    with pytest.raises(AssertionError, match="Hint"):
        exercises.check_double_macs_gain(0.07)
    with pytest.raises(AssertionError, match="soft winner"):
        exercises.check_winners_at_1g("B2", "B2")
    with pytest.raises(NotImplementedError):
        exercises.check_front_size(...)


def test_lesson_08_checkers(torch, tiny_model):
    exercises.check_cam_cells(16)
    exercises.check_resolution_cost_ratio(24_001_194 / 6_072_042, 1.0)
    with pytest.raises(AssertionError, match="Params ratio"):
        exercises.check_resolution_cost_ratio(24_001_194 / 6_072_042, 4.0)
    image = torch.randn(3, 64, 64)
    with torch.no_grad():
        logit = float(tiny_model(image[None])[0, 2])
    exercises.check_cam_logit(logit, tiny_model, image, 2)
    with pytest.raises(AssertionError, match="Logit from the CAM"):
        exercises.check_cam_logit(logit + 1, tiny_model, image, 2)
