"""The explorers' update path: a state moves the artists of a figure drawn once, and what is sent
is what a full redraw of that state would show."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from effnet_lab import experiments, store  # noqa: E402
from effnet_lab.lessons import dashboards, explorers, objective_figures, states, style  # noqa: E402


def pixels(live) -> np.ndarray:
    return np.asarray(live.figure.canvas.buffer_rgba(), dtype=float)[..., :3]


def fresh(state) -> dashboards.ScalingDashboard:
    live = dashboards.ScalingDashboard(Figure(figsize=(14, 8.2)), state, title=False)
    live.jpeg(40)
    return live


def full_draws(live, monkeypatch) -> list:
    """A list that grows by one each time ``live``'s whole figure is drawn (not a blit)."""
    draws, real_draw = [], live.figure.canvas.draw
    monkeypatch.setattr(live.figure.canvas, "draw", lambda: (draws.append(1), real_draw()))
    return draws


def test_the_dashboard_moves_its_artists_to_a_new_state():
    live = fresh(states.scaling_state(phi=1.0))
    axes, bars = list(live.figure.axes), list(live.layer_bars)
    state = states.scaling_state(alpha=1.4, phi=2.5)
    live.update(state)
    assert list(live.figure.axes) == axes and list(live.layer_bars) == bars   # the same artists, moved
    assert [b.get_height() for b in live.mult_bars] == pytest.approx([state.depth, state.width, state.resolution_mult])
    assert [b.get_height() for b in live.layer_bars] == list(state.stage_table.layers)
    assert [b.get_height() for b in live.width_bars] == list(state.stage_table.channels)
    assert [t.get_text() for t in live.layer_labels] == [str(n) for n in state.stage_table.layers]
    # each label sits at its bar's top centre (its transform adds the 3-point gap above it)
    assert [t.get_position() for t in live.layer_labels] == [(b.get_x() + b.get_width() / 2, b.get_height())
                                                              for b in live.layer_bars]
    assert live.marker.get_data()[0][0] == state.phi and live.marker.get_data()[1][0] == state.macs_ratio
    assert list(live.real.get_ydata()) == list(state.curve_ratio)
    assert live.legend.get_texts()[1].get_text() == f"(α·β²·γ²)^φ = {state.constraint:.3f}^φ"
    assert live.mult_ax.get_ylim()[1] >= max(state.depth, state.width, state.resolution_mult) * 1.25


def test_a_small_move_redraws_only_the_moving_artists_and_shows_what_a_full_redraw_shows(monkeypatch):
    live = fresh(states.scaling_state(phi=1.0))
    draws = full_draws(live, monkeypatch)
    state = states.scaling_state(phi=0.95)   # every bar's axis keeps its limit
    live.update(state)
    live.jpeg(40)
    assert draws == []   # the background was reused: the limits stayed (nice_ceiling)
    assert np.abs(pixels(live) - pixels(fresh(state))).mean() < 0.5
    live.update(states.scaling_state(alpha=1.5, phi=0.95))  # new curves: everything is drawn again
    live.jpeg(40)
    assert draws == [1]


def test_a_drag_of_phi_over_the_whole_slider_never_redraws_the_figure(monkeypatch):
    live = fresh(states.scaling_state(phi=states.PHI_MIN))
    draws = full_draws(live, monkeypatch)
    for phi in np.arange(states.PHI_MIN, states.PHI_MAX + 1e-9, 0.25):
        state = states.scaling_state(phi=float(phi))
        live.update(state)
        live.jpeg(40)
        for ax, bars in ((live.mult_ax, live.mult_bars), (live.layers_ax, live.layer_bars),
                         (live.width_ax, live.width_bars)):   # every bar and its label fit under the limit
            assert max(b.get_height() for b in bars) * 1.2 <= ax.get_ylim()[1], (phi, ax.get_title())
    assert draws == []   # the axes span the whole slider: only the bars and the marker were repainted
    assert np.abs(pixels(live) - pixels(fresh(state))).mean() < 0.5


def test_a_drag_of_alpha_blits_until_a_limit_moves_and_shows_what_a_full_redraw_shows(monkeypatch):
    live = fresh(states.scaling_state(phi=1.0))
    draws = full_draws(live, monkeypatch)
    limits = []
    for alpha in np.arange(1.2, 1.31, 0.01):   # slider steps: new curves, legend and extent each time
        state = states.scaling_state(alpha=round(float(alpha), 2), phi=1.0)
        live.update(state)
        live.jpeg(40)
        limits.append((tuple(ax.get_ylim() for ax in live.figure.axes), tuple(map(id, live.moving))))
        ax = live.curve_ax   # every point of every curve and of B0-B7 stays inside the snapped limits
        low, high = ax.get_ylim()
        for line in (live.real, live.ideal, live.doubling, live.published):
            assert low < min(line.get_ydata()) and max(line.get_ydata()) < high
        assert np.log2(low) == int(np.log2(low)) and np.log2(high) == int(np.log2(high))   # powers of two
    # a full draw only where some limit moved, or where the curves joined the moving artists (once, for good)
    changes = sum(a != b for a, b in zip(limits, limits[1:]))
    assert len(draws) == changes < len(limits) - 1
    assert live.legend.get_texts()[1].get_text() == f"(α·β²·γ²)^φ = {state.constraint:.3f}^φ"
    assert np.abs(pixels(live) - pixels(fresh(state))).mean() < 0.5
    draws.clear()
    for phi in (1.05, 1.1, 1.15):   # back to phi: the curves stay among the moving artists, no full draw
        live.update(states.scaling_state(alpha=state.alpha, phi=phi))
        live.jpeg(40)
    assert draws == [] and live.curves[0] in live.moving


def test_the_extent_is_what_the_slider_ends_and_the_published_table_reach():
    low, high = (states.scaling_state(phi=p) for p in (states.PHI_MIN, states.PHI_MAX))
    b7 = states.scaling_state(phi=7, mode="published")
    ends = (low, high, b7)
    assert high.extent == (max(max(s.depth, s.width, s.resolution_mult) for s in ends),
                           max(max(s.stage_table.layers) for s in ends), max(max(s.stage_table.channels) for s in ends))
    assert states.scaling_state(phi=2, mode="published").extent == high.extent   # the same in either mode
    assert states.scaling_state(alpha=1.5, phi=2).extent[1] > high.extent[1]     # a larger alpha: more layers


def test_switching_to_published_and_back_redraws_only_the_bars(monkeypatch):
    live = fresh(states.scaling_state(phi=3.0))
    draws = full_draws(live, monkeypatch)
    for mode in ("published", "formula"):
        live.update(states.scaling_state(phi=3.0, mode=mode))
        live.jpeg(40)
    assert draws == []


def test_the_figure_saved_whole_still_shows_every_artist():
    fig = dashboards.scaling_dashboard(states.scaling_state(phi=2.0))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    assert not any(b.get_animated() for ax in fig.axes for b in ax.patches)
    assert Image.open(buffer).size[0] > 100


def test_nice_ceiling_steps():
    assert [style.nice_ceiling(x) for x in (0.9, 1.0, 1.3, 2.0, 2.01, 7.1, 12.5, 95)] == [1, 1, 2, 2, 5, 10, 20, 100]


def test_the_constraint_maps_move_only_the_point():
    grid = store.load_results("grid-search")
    data = states.constraint_map_data(experiments.CIFAR_BASE, np.linspace(1, 2, 11), np.linspace(1, 1.4, 9))
    live = dashboards.ConstraintMaps(Figure(figsize=(14, 5.6)), data, grid, point=(1.2, 1.1))
    live.jpeg(30)
    live.update((1.5, 1.2))
    assert [tuple(np.ravel(r.get_data())) for r in live.rings] == [(1.5, 1.2), (1.5, 1.2)]
    assert live.moving == live.rings


def test_the_objective_figure_follows_w_and_draws_another_table_anew():
    live = objective_figures.ObjectiveFigure(Figure(figsize=(14, 5.5)), states.objective_state("published", w=-0.07))
    bars = list(live.bars)
    state = states.objective_state("published", w=-0.4)
    live.update(state)
    assert list(live.bars) == bars
    assert [b.get_width() for b in live.bars] == pytest.approx(list(state.score[::-1]))
    assert [t.get_text() for t in live.right.get_yticklabels()] == [str(n) for n in state.index[::-1]]
    assert tuple(live.winner.get_offsets()[0]) == pytest.approx((state.macs.iloc[0] / 1e6, state.accuracy.iloc[0] * 100))
    assert live.legend.get_texts()[3].get_text() == f"winner: {state.index[0]}"
    other = states.objective_state("grid-search")
    live.update(other)
    assert len(live.bars) == len(other) and live.models == live._models(other)


def test_an_explorer_sends_a_jpeg_named_by_its_state():
    explorer = explorers.CompoundScalingExplorer(dpi=20)
    first = explorer.image.value
    explorer.phi.value = 2.0
    assert explorer.renders == 2 and explorer.image.value != first
    assert explorer.image.format == "jpeg" and bytes(explorer.image.value[:3]) == b"\xff\xd8\xff"
    shows = [c for c in explorer.image._dom_classes if c.startswith("effnet-shows-")]
    assert shows == [explorers.shows_class(explorer.state.headline.split("\n")[0])]
    assert all(s.continuous_update for s in (explorer.alpha, explorer.beta, explorer.gamma, explorer.phi))
    assert isinstance(explorer.live, dashboards.ScalingDashboard)


def test_every_figure_explorer_shares_the_one_redraw_loop():
    for cls in (explorers.CompoundScalingExplorer, explorers.GridExplorer, explorers.ObjectiveExplorer):
        assert issubclass(cls, explorers.FigureExplorer) and "render" not in vars(cls)


def test_in_a_kernel_a_drag_draws_the_latest_state_and_skips_the_ones_it_passed(monkeypatch):
    monkeypatch.setattr(explorers, "_in_kernel", lambda: True)
    explorer = explorers.CompoundScalingExplorer(dpi=20)
    for k in range(1, 16):   # faster than figures are drawn: the states in between are skipped
        explorer.phi.value = round(1.0 + 0.05 * k, 2)
        assert explorer.state.phi == explorer.phi.value   # the numbers follow at once
    explorer.wait()
    assert 2 <= explorer.renders < 16
    assert explorer._shows == explorers.shows_class(states.scaling_state(phi=1.75).headline.split("\n")[0])


def test_the_macs_curve_is_analytic_costs_at_every_phi_of_the_slider():
    import effnet_lab as el

    for coefficients in ((1.2, 1.1, 1.15), (1.37, 1.01, 1.49), (2.0, 1.5, 1.5)):
        phis, ratios = states.macs_curve(*coefficients, step=states.PHI_STEP)
        base = el.analytic_cost(el.ModelConfig()).macs
        assert len(phis) == round((states.PHI_MAX - states.PHI_MIN) / states.PHI_STEP) + 1
        assert list(ratios) == [el.analytic_cost(el.compound_scaling(p, *coefficients)).macs / base for p in phis]


def test_the_macs_curve_counts_exactly_past_what_grid_cost_holds():
    import effnet_lab as el

    phis, ratios = states.macs_curve(3.0, 2.0, 2.0, step=states.PHI_STEP)   # MACs past int64 near phi = 7
    base = el.analytic_cost(el.ModelConfig()).macs
    assert ratios[-1] == el.analytic_cost(el.compound_scaling(phis[-1], 3.0, 2.0, 2.0)).macs / base


def test_the_redraw_benchmark_runs_and_refuses_bad_arguments():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "explorer_redraw.py"
    run = subprocess.run([sys.executable, str(script), "--changes", "2", "--dpi", "20"], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    for drag in ("phi", "alpha"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"a drag of {drag}: 2 states"))
        assert [line.split()[0] for line in lines[at + 1:at + 4]] == ["explorer", "full", "new"]
    assert run.stdout.count("full / explorer:") == 2
    bad = subprocess.run([sys.executable, str(script), "--changes", "1"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--changes must be >= 2" in bad.stderr and "Traceback" not in bad.stderr
