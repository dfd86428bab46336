"""The lessons' figures, explorers and exercise checkers: the callbacks are plain functions, tested here."""

import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import effnet_lab as el  # noqa: E402
from effnet_lab.lessons import dashboards, exercises, explorers, figures, states  # noqa: E402


# --------------------------------------------------------------------------------------------
# The compound-scaling explorer's callback
# --------------------------------------------------------------------------------------------


def test_scaling_state_at_phi_1_shows_the_staircase():
    state = states.scaling_state(1.2, 1.1, 1.15, phi=1.0)
    assert state.config == el.compound_scaling(1.0)
    assert state.macs == el.analytic_cost(el.compound_scaling(1.0)).macs
    assert state.constraint == pytest.approx(1.9203, abs=1e-4)
    assert state.macs_ratio == pytest.approx(2.573, abs=1e-3)       # not 2, not 1.92
    assert state.ideal_ratio == pytest.approx(1.9203, abs=1e-4)
    assert (state.depth, state.width, state.resolution) == (pytest.approx(1.2), pytest.approx(1.1), 258)
    assert list(state.stage_table.layers) == [2, 3, 3, 4, 4, 5, 2]
    assert list(state.stage_table.b0_layers) == [1, 2, 2, 3, 3, 4, 1]
    assert list(state.stage_table.channels) == [s.out_channels for s in state.config.stages]
    assert "2.57× B0" in state.headline and "23 blocks" in state.headline


@pytest.mark.parametrize("phi, ratio", [(0.5, 1.896), (1.0, 2.573), (-1.0, 0.781), (7.0, 102.8)])
def test_scaling_state_follows_the_reference_staircase(phi, ratio):
    assert states.scaling_state(phi=phi).macs_ratio == pytest.approx(ratio, rel=1e-3)


def test_published_mode_picks_the_nearest_variant_and_clips():
    for phi, name in [(2.4, "b2"), (2.6, "b3"), (-1.5, "b0"), (7.0, "b7")]:
        state = states.scaling_state(phi=phi, mode="published")
        assert state.config == el.official_config(name)
        assert state.phi == float(name[1])
        assert state.name == name.upper()
    assert states.scaling_state(phi=3, mode="published").macs == 1_827_162_472


def test_scaling_state_rejects_bad_controls():
    with pytest.raises(ValueError, match="mode"):
        states.scaling_state(mode="smooth")
    with pytest.raises(ValueError, match="alpha"):
        states.scaling_state(alpha=0.0)
    with pytest.raises(TypeError, match="phi"):
        states.scaling_state(phi="one")


def test_macs_curve_is_a_monotone_staircase_through_b0():
    phis, ratios = states.macs_curve()
    assert phis[0] == states.PHI_MIN and phis[-1] == states.PHI_MAX
    assert ratios[phis.index(0.0)] == 1.0
    assert all(b >= a for a, b in zip(ratios, ratios[1:]))
    just_above = ratios[phis.index(0.0) + 1]                        # phi = 0.025: every stage + 1 layer
    assert just_above > 1.4


def test_custom_coefficients_change_the_curve_and_the_constraint():
    state = states.scaling_state(alpha=1.0, beta=1.0, gamma=1.0, phi=3.0)
    assert state.constraint == 1.0 and state.macs_ratio == 1.0
    assert set(state.curve_ratio) == {1.0}


def test_formula_vs_published_table():
    table = states.formula_vs_published_table()
    assert list(table.index) == [n.upper() for n in el.PUBLISHED]
    assert list(table["phi"]) == list(range(8))
    assert list(table[("resolution", "published")]) == [224, 240, 260, 300, 380, 456, 528, 600]
    assert table.loc["B1", ("resolution", "formula")] == 258
    assert table.loc["B1", ("MACs / B0", "formula")] == pytest.approx(2.573, abs=1e-3)
    assert table.loc["B7", ("blocks", "published")] == 55


def test_staircase_data_effective_phis():
    data = states.staircase_data()
    assert set(data["published"]) == {n.upper() for n in el.PUBLISHED}
    assert data["published"]["B3"] == (3.0, pytest.approx(4.736, abs=1e-3))
    effective = data["effective"]
    assert list(effective) == ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]
    assert effective["B3"] == pytest.approx(2.02, abs=0.01)
    assert effective == pytest.approx(dict(zip(effective, exercises.effective_phis())))


def test_describe_phi():
    assert states.describe_phi(0.0) == ("φ = +0.00: depth ×1.000, width ×1.000, 224 px, 16 blocks → "
                                         "386 MMACs, 5.29 M params")
    assert "23 blocks" in states.describe_phi(0.5)


# --------------------------------------------------------------------------------------------
# The ipywidgets views
# --------------------------------------------------------------------------------------------


def test_explorer_redraws_on_every_control():
    explorer = explorers.compound_scaling_explorer()
    assert explorer.renders == 1 and explorer.state.phi == 1.0
    assert bytes(explorer.image.value[:3]) == b"\xff\xd8\xff"  # a JPEG
    first_image = explorer.image.value
    explorer.phi.value = 2.0
    assert explorer.renders == 2 and explorer.state.config == el.compound_scaling(2.0)
    assert explorer.image.value != first_image
    explorer.alpha.value = 1.3
    assert explorer.state.alpha == pytest.approx(1.3)
    explorer.mode.value = "published"
    assert explorer.renders == 4 and explorer.state.config == el.official_config("b2")
    assert "published B2" in explorer.text.value
    assert plt.get_fignums() == []          # the view draws without pyplot: nothing left open


def test_phi_explorer():
    explorer = explorers.PhiExplorer()
    assert "16 blocks" in explorer.text.value
    explorer.phi.value = 1.0
    assert states.describe_phi(1.0) in explorer.text.value


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _texts(fig):
    found = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return " ".join(found)


def test_scaling_dashboard_has_four_labelled_panels():
    fig = dashboards.scaling_dashboard(states.scaling_state())
    assert len(fig.axes) == 4
    text = _texts(fig)
    for needle in ("Multipliers relative to B0", "MACs relative to B0", "Layers per stage",
                   "Output channels per stage", "2.57× B0"):
        assert needle in text


def test_stage_costs_labels_units():
    fig = figures.stage_costs(el.analytic_cost("b0").stages, memory=True)
    assert [ax.get_xlabel() for ax in fig.axes] == ["MMACs per image", "M params",
                                                    "training activations, MB per image"]
    assert len(fig.axes[0].patches) == 9


def test_staircase_and_formula_figures():
    fig = figures.staircase(**states.staircase_data())
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "φ" in ax.get_xlabel()
    assert "B7" in _texts(fig)
    fig = figures.formula_vs_published(states.formula_vs_published_table())
    assert len(fig.axes) == 3


def test_latency_memory_and_stochastic_depth_figures():
    import pandas as pd

    table = pd.DataFrame({"macs": [4e8, 1.8e9, 4.1e9], "latency_ms": [20.0, 80.0, 85.0]},
                         index=["B0", "B3", "ResNet-50"])
    fig = figures.latency_vs_macs(table, device="cpu")
    assert "GMACs" in fig.axes[0].get_xlabel() and "ms" in fig.axes[0].get_ylabel()
    fig = figures.compare_models({"GMACs per image": {"B0": 0.39, "ResNet-50": 4.1},
                                "M params": {"B0": 5.3, "ResNet-50": 25.6}}, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["GMACs per image", "M params"]
    fig = figures.stochastic_depth_schedule([2.0, 0.0, 2.0], 0.5, [0.0, 0.1], residual=[False, True])
    assert "dropped" in _texts(fig)


def test_plots_do_not_change_global_matplotlib_settings():
    before = dict(matplotlib.rcParams)
    figures.staircase(**states.staircase_data(effective=False))
    assert dict(matplotlib.rcParams) == before


def test_importing_the_library_does_not_import_plotting():
    code = "import sys, effnet_lab; print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------
# Exercise checkers
# --------------------------------------------------------------------------------------------


def test_checkers_accept_the_reference_answers(capsys):
    exercises.check_b3_blocks(26)
    exercises.check_b0_mmacs(386)
    exercises.check_stage5_block_macs(40 * 240 * 784 + 9 * 240 * 196 + 2410 + 2640 + 240 * 80 * 196)
    exercises.check_stage5_block_params(9600 + 480 + 2160 + 480 + 2410 + 2640 + 19200 + 160)
    exercises.check_residual_blocks(9)
    exercises.check_stochastic_depth(1.25, 0.1875)
    exercises.check_busiest_stage(7)
    exercises.check_classifier_share(1_281_000 / 5_288_548)
    exercises.check_head_resolution(8)
    exercises.check_bias_macs(10_340)
    exercises.check_stem_other_ops(3 * 32 * 112 * 112)
    exercises.check_resnet_macs_ratio(4_089_185_256 / 385_825_092, 4_089_185_256)
    exercises.check_gamma_for_two(math.sqrt(2 / (1.2 * 1.21)))
    exercises.check_layers_at_half([2, 3, 3, 4, 4, 5, 2])
    exercises.check_effective_phis([0.22, 1.02, 2.02, 3.72, 4.97, 5.92, 6.87])
    exercises.check_phi_for_4x(1.72)
    assert capsys.readouterr().out.count("✓ Correct.") == 16


def test_checkers_reject_wrong_answers_without_giving_them_away():
    with pytest.raises(AssertionError, match="too large") as info:
        exercises.check_b3_blocks(27)
    assert "26" not in str(info.value)
    with pytest.raises(AssertionError, match="too small"):
        exercises.check_stochastic_depth(1.2, 0.1875)
    with pytest.raises(AssertionError, match="entries \\[0\\]"):
        exercises.check_layers_at_half([1, 3, 3, 4, 4, 5, 2])
    with pytest.raises(AssertionError, match="expected 7 values"):
        exercises.check_effective_phis([1, 2, 3])
    with pytest.raises(AssertionError, match="expected a number"):
        exercises.check_b0_mmacs("many")


def test_checkers_explain_an_unanswered_exercise():
    with pytest.raises(NotImplementedError, match="replace the `...`"):
        exercises.check_bias_macs(...)


def test_explorer_shows_a_readable_message_instead_of_a_traceback(monkeypatch):
    explorer = explorers.CompoundScalingExplorer(dpi=20)
    good = explorer.state
    assert "exactly" in explorer.text.value and f"{good.macs:,} MACs" in explorer.text.value

    def refuse(*args, **kwargs):
        raise ValueError("gamma must be a finite real number > 0, got -1")

    monkeypatch.setattr(explorers, "scaling_state", refuse)
    explorer.phi.value = 2.0
    assert "Not drawn" in explorer.text.value and "gamma must be a finite real number" in explorer.text.value
    assert explorer.state is good  # the last good state stays on screen
