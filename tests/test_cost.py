import pytest

import effnet_lab as el
from conftest import REFERENCE


@pytest.mark.parametrize("name", list(REFERENCE))
def test_analytic_counts_equal_the_reference_table(name):
    params, macs, pytorch_macs = REFERENCE[name]
    cost = el.analytic_cost(name)
    assert (cost.params, cost.macs, cost.ptflops_pytorch_macs) == (params, macs, pytorch_macs)
    assert cost.flops == 2 * macs
    assert cost.resolution == (el.PUBLISHED[name][2],) * 2


@pytest.mark.parametrize("name", list(REFERENCE))
def test_analytic_equals_ptflops_both_backends_on_official_variants(name, torch):
    model = el.efficientnet(name)
    cost = el.analytic_cost(name)
    aten = el.ptflops_cost(model, backend="aten")
    pytorch = el.ptflops_cost(model, backend="pytorch")
    assert (aten.macs, aten.params) == (cost.macs, cost.params)
    assert (pytorch.macs, pytorch.params) == (cost.ptflops_pytorch_macs, cost.params)


ARBITRARY = [
    (el.compound_scaling(0.5), None),
    (el.compound_scaling(-1.7), (97, 131)),              # negative phi, odd non-square input
    (el.compound_scaling(2.3, alpha=1.4, beta=1.05, gamma=1.1), 77),
    (el.compound_scaling(-3.2, base_resolution=(31, 45)), None),
    (el.official_config("b2", stem_stride=1, resolution=32, head_rule="tf"), None),
    (el.ModelConfig(width_mult=0.37, depth_mult=0.6, resolution=(1, 5)), None),
]


@pytest.mark.parametrize("config, resolution", ARBITRARY)
@pytest.mark.parametrize("num_classes", [10, 1000])
def test_analytic_equals_ptflops_for_arbitrary_configs(config, resolution, num_classes, torch):
    model = el.efficientnet(config, num_classes=num_classes)
    cost = el.analytic_cost(config, resolution, num_classes=num_classes)
    aten = el.ptflops_cost(model, resolution, backend="aten")
    pytorch = el.ptflops_cost(model, resolution, backend="pytorch")
    assert aten.macs == cost.macs and pytorch.macs == cost.ptflops_pytorch_macs
    assert aten.params == cost.params == sum(p.numel() for p in model.parameters())


def test_torch_flop_counter_is_twice_the_macs_without_biases(torch):
    from torch.utils.flop_counter import FlopCounterMode

    config = el.compound_scaling(-1, resolution=64)
    model = el.efficientnet(config).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    cost = el.analytic_cost(config)
    biases = cost.layers.query("op in ['se-conv', 'linear']")
    bias_macs = sum(shape[0] for shape in biases.out_shape)  # one add per output of a biased layer
    assert counter.get_total_flops() == 2 * (cost.macs - bias_macs)


def test_ptflops_cost_leaves_the_model_as_it_was(torch):
    model = el.efficientnet(el.compound_scaling(-2, resolution=32)).train()
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    el.ptflops_cost(model, backend="aten")
    el.ptflops_cost(model, backend="pytorch")
    assert model.training
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == hooks
    with pytest.raises(ValueError, match="backend must be 'aten' or 'pytorch', got 'fvcore'"):
        el.ptflops_cost(model, backend="fvcore")


@pytest.mark.parametrize("config, resolution", [
    (el.official_config("b0"), (64, 48)),
    (el.official_config("b3"), 33),
    (el.compound_scaling(-1, dropout=0.0, stochastic_depth=0.0), 40),
    (el.official_config("b0", stem_stride=1), 32),   # 1x1 maps in the last stages
])
def test_activation_memory_estimate_equals_measurement(config, resolution, torch):
    model = el.efficientnet(config)
    model.train()
    measured = el.measure_activation_bytes(model, resolution)
    assert el.analytic_cost(config, resolution).activation_bytes == measured
    assert model.training


def test_tables_add_up_to_the_totals():
    cost = el.analytic_cost("b4", resolution=(190, 250))
    layers, stages = cost.layers, cost.stages
    assert layers.macs.sum() == stages.macs.sum() == cost.macs
    assert layers.params.sum() == stages.params.sum() == cost.params
    assert layers.saved_bytes.sum() == cost.activation_bytes
    assert list(stages.index) == list(range(1, 10))
    assert list(stages.layers) == [1] + [s.layers for s in cost.config.stages] + [1]
    assert stages.macs_share.sum() == pytest.approx(1.0)
    assert stages.in_resolution[1] == "190x250"
    assert len(layers.query("op == 'dwconv'")) == cost.config.num_blocks


def test_ptflops_costs_have_no_tables(torch):
    cost = el.ptflops_cost(el.efficientnet(el.compound_scaling(-3)), 32)
    with pytest.raises(AttributeError, match="totals only"):
        cost.layers


# The depth staircase (REFERENCE.md): MACs relative to B0 under ceil rounding of layer counts
STAIRCASE = {-2: 0.458, -1: 0.781, 0.5: 1.896, 1: 2.573, 2: 4.691, 4: 16.38, 7: 102.8}


@pytest.mark.parametrize("phi, ratio", STAIRCASE.items())
def test_depth_staircase(phi, ratio):
    b0 = el.analytic_cost("b0").macs
    assert el.analytic_cost(el.compound_scaling(phi)).macs / b0 == pytest.approx(ratio, rel=2e-3)


def test_latency_is_measured_and_restores_mode(torch):
    model = el.efficientnet(el.compound_scaling(-3), num_classes=10).train()
    result = el.latency(model, 32, warmup=1, repeats=3)
    assert result.median_ms > 0 and len(result.samples_ms) == 3 and result.resolution == (32, 32)
    assert model.training
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        el.latency(model, 32, repeats=0)


def test_solve_for_macs_finds_where_the_staircase_crosses_the_budget():
    from effnet_lab.cost import solve_for_macs

    b0 = el.analytic_cost("b0").macs
    width = solve_for_macs(lambda w: el.ModelConfig(width_mult=w), 2 * b0, 1.0, 4.0)
    assert el.analytic_cost(el.ModelConfig(width_mult=width)).macs >= 2 * b0
    assert el.analytic_cost(el.ModelConfig(width_mult=width - 1e-9)).macs < 2 * b0
    assert solve_for_macs(lambda p: el.compound_scaling(p), b0 / 10, 0, 1) == 0  # already above at lo
    with pytest.raises(ValueError, match="is above the .* MACs reached at hi=2.0; widen the search range"):
        solve_for_macs(lambda w: el.ModelConfig(width_mult=w), 100 * b0, 1.0, 2.0)
    with pytest.raises(ValueError, match="target_macs must be a finite real number > 0, got -5"):
        solve_for_macs(lambda w: el.ModelConfig(width_mult=w), -5, 1.0, 2.0)


def test_grid_cost_equals_analytic_cost_point_by_point(torch):
    import numpy as np

    from effnet_lab.cost import grid_cost

    rng = np.random.default_rng(0)
    a, b, g = rng.uniform(1, 1.6, 150), rng.uniform(0.9, 1.4, 150), rng.uniform(1, 1.4, 150)
    phi = np.concatenate([rng.uniform(-3, 6, 140), [0, 0.5, 1, 2, -1, -2, 3, 4, 5, 7]])
    bases = [(None, 1000), (el.ModelConfig(width_mult=0.5, depth_mult=0.5, stem_stride=1, resolution=32), 10),
             (el.ModelConfig(resolution=(48, 64), head_rule="tf"), 7)]
    for base, classes in bases:
        grid = grid_cost(a, b, g, phi, base=base, num_classes=classes)
        for i in range(len(phi)):
            cfg = el.compound_scaling(phi[i], a[i], b[i], g[i], base=base)
            cost = el.analytic_cost(cfg, num_classes=classes)
            assert (grid["macs"][i].item(), grid["params"][i].item()) == (cost.macs, cost.params), (i, cfg)
            assert (grid["height"][i].item(), grid["width"][i].item()) == cfg.hw


def test_grid_cost_broadcasts_a_map_and_rejects_bad_points(torch):
    import numpy as np

    from effnet_lab.cost import grid_cost

    alpha = np.linspace(1, 1.5, 200)[:, None]
    beta = np.linspace(1, 1.3, 200)[None, :]
    grid = grid_cost(alpha, beta, 1.15, 1.0)
    assert grid["macs"].shape == (200, 200) and grid["macs"].dtype == np.int64
    assert (grid["macs"][:, 1:] >= grid["macs"][:, :-1]).all()  # wider never costs less
    with pytest.raises(ValueError, match="beta must hold finite real numbers > 0"):
        grid_cost(1.2, [1.1, -1], 1.15, 1)
    with pytest.raises(ValueError, match="phi must hold finite real numbers"):
        grid_cost(1.2, 1.1, 1.15, [1, float("nan")])


def test_latency_leaves_the_model_on_its_device_and_meta_models_are_refused_by_ptflops_pytorch(torch):
    model = el.efficientnet(el.compound_scaling(-3), num_classes=10)
    el.latency(model, 32, device="cpu", warmup=0, repeats=1)
    assert next(model.parameters()).device.type == "cpu"
    with torch.device("meta"):
        meta = el.efficientnet("b0")
    with pytest.raises(ValueError, match="meta device"):
        el.ptflops_cost(meta, backend="pytorch")
