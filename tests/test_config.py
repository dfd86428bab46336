import math
import subprocess
import sys

import pytest

import effnet_lab as el
from effnet_lab.config import ModelConfig, StageSpec, round_filters, round_repeats


def test_b0_stages_are_paper_table_1():
    rows = [(s.expand_ratio, s.kernel, s.stride, s.in_channels, s.out_channels, s.layers) for s in el.B0_STAGES]
    assert rows == [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
    assert sum(s.layers for s in el.B0_STAGES) == 16


def test_table1_renders_all_nine_rows_of_b0():
    t = el.official_config("b0").table1()
    assert list(t.index) == list(range(1, 10))
    assert list(t.in_resolution) == ["224x224", "112x112", "112x112", "56x56", "28x28", "14x14", "14x14",
                                     "7x7", "7x7"]
    assert list(t.channels) == [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    assert list(t.layers) == [1, 1, 2, 2, 3, 3, 4, 1, 1]
    assert t.operator[2] == "MBConv1, k3x3" and t.operator[4] == "MBConv6, k5x5"


@pytest.mark.parametrize("c, w, expected", [
    (32, 1.0, 32), (32, 1.1, 32), (16, 1.1, 16), (40, 1.1, 48), (320, 1.1, 352), (32, 1.2, 40),
    (1280, 2.0, 2560), (16, 0.5, 8), (3, 1.0, 8), (20, 1.0, 24), (12, 1.0, 16), (44, 1.0, 48),
    (19, 1.0, 24), (36, 1.0, 40), (24 * 6, 1.0, 144),
])
def test_round_filters(c, w, expected):
    assert round_filters(c, w) == expected
    assert expected % 8 == 0 and expected >= 0.9 * c * w


def test_round_filters_never_loses_more_than_ten_percent():
    for c in range(1, 400):
        for w in (0.3, 0.5, 0.75, 1.0, 1.1, 1.37):
            r = round_filters(c, w)
            assert r % 8 == 0 and r >= 8 and r >= 0.9 * c * w and r <= c * w + 8


def test_round_repeats_is_ceil():
    assert [round_repeats(n, 1.1) for n in (1, 2, 3, 4)] == [2, 3, 4, 5]
    assert [round_repeats(n, 3.1) for n in (1, 2, 3, 4)] == [4, 7, 10, 13]
    assert round_repeats(1, 0.5) == 1 and round_repeats(4, 1.0) == 4


def test_official_configs_follow_published_table():
    b3 = el.official_config("b3")
    assert (b3.width_mult, b3.depth_mult, b3.resolution, b3.dropout) == (1.2, 1.4, 300, 0.3)
    assert [s.layers for s in b3.stages] == [2, 3, 3, 5, 5, 6, 2]
    assert b3.stem_channels == 40 and b3.head_channels == 1536
    assert el.official_config("EfficientNet-B3") == b3 == el.official_config("efficientnet_b3")
    # torchvision's BatchNorm: PyTorch defaults up to B4, eps 1e-3 / momentum 0.01 from B5
    assert (el.official_config("b4").bn_eps, el.official_config("b4").bn_momentum) == (1e-5, 0.1)
    assert (el.official_config("b5").bn_eps, el.official_config("b5").bn_momentum) == (1e-3, 0.01)
    assert el.official_config("b7", resolution=64).resolution == 64


# (depth, width, resolution) for phi = 1..7 with the paper's alpha, beta, gamma (REFERENCE.md)
FORMULA = [(1.20, 1.10, 258), (1.44, 1.21, 296), (1.73, 1.33, 341), (2.07, 1.46, 392), (2.49, 1.61, 451),
           (2.99, 1.77, 518), (3.58, 1.95, 596)]


@pytest.mark.parametrize("phi", range(1, 8))
def test_compound_scaling_formula(phi):
    cfg = el.compound_scaling(phi)
    d, w, r = FORMULA[phi - 1]
    assert cfg.depth_mult == pytest.approx(d, abs=0.006)
    assert cfg.width_mult == pytest.approx(w, abs=0.006)
    assert cfg.resolution == r
    assert (cfg.dropout, cfg.stochastic_depth, cfg.bn_eps) == (0.2, 0.2, 1e-5)  # B0's unless overridden


def test_compound_scaling_negative_fractional_and_custom():
    small = el.compound_scaling(-2)
    assert small.resolution == 169 and small.width_mult == pytest.approx(1.1 ** -2)
    assert [s.layers for s in small.stages] == [1, 2, 2, 3, 3, 3, 1]  # ceil never removes a 1-layer stage
    half = el.compound_scaling(0.5)
    assert half.resolution == round(224 * 1.15 ** 0.5)
    assert [s.layers for s in half.stages] == [2, 3, 3, 4, 4, 5, 2]  # every stage gains a layer
    assert el.compound_scaling(0) == el.official_config("b0")
    custom = el.compound_scaling(1, alpha=1.0, beta=1.0, gamma=2.0, base_resolution=(32, 48), dropout=0.0)
    assert custom.resolution == (64, 96) and custom.dropout == 0.0
    assert math.isclose(el.flops_factor(1.2, 1.1, 1.15), 1.9203, abs_tol=1e-4)
    base = el.ModelConfig(resolution=32, stem_stride=1, width_mult=0.5)
    scaled = el.compound_scaling(1, base=base)
    assert scaled.width_mult == pytest.approx(0.55) and scaled.resolution == 37 and scaled.stem_stride == 1


def test_head_rules_differ_only_off_the_published_table():
    for name in el.PUBLISHED:
        cfg = el.official_config(name)
        assert cfg.head_channels == cfg.replace(head_rule="tf").head_channels == 4 * cfg.stages[-1].out_channels
    phi2 = el.compound_scaling(2)
    assert (phi2.head_channels, phi2.replace(head_rule="tf").head_channels) == (1536, 1552)


def test_blocks_follow_the_reference_rules():
    stage3 = el.B0_STAGES[1]
    first, repeat = stage3.block(0), stage3.block(1)
    # SE squeezes from the block input: 96 -> 4 -> 96 in stage 3's first block
    assert (first.in_channels, first.expanded_channels, first.squeeze_channels) == (16, 96, 4)
    assert (first.stride, first.residual) == (2, False)
    assert (repeat.in_channels, repeat.expanded_channels, repeat.squeeze_channels) == (24, 144, 6)
    assert (repeat.stride, repeat.residual) == (1, True)
    assert not el.B0_STAGES[0].block(0).has_expand  # MBConv1 has no expansion conv
    assert not el.B0_STAGES[4].block(0).residual    # stride 1 but 80 -> 112 channels: no skip


def test_config_round_trips_through_a_plain_dict():
    cfg = el.compound_scaling(1.3, resolution=(96, 128), dropout=0.1)
    d = cfg.to_dict()
    import json

    assert ModelConfig.from_dict(json.loads(json.dumps(d))) == cfg


def test_config_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import effnet_lab as el\n"
            "c = el.analytic_cost(el.compound_scaling(1.5))\n"
            "assert c.macs > 0 and 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_custom_stage_table_builds():
    stages = (StageSpec(expand_ratio=1, kernel=3, stride=1, in_channels=16, out_channels=16, layers=1),
              StageSpec(expand_ratio=4, kernel=5, stride=2, in_channels=16, out_channels=32, layers=2,
                        se_ratio=0))
    cfg = ModelConfig(base_stages=stages, base_stem_channels=16, base_head_channels=128, resolution=32)
    assert cfg.head_channels == 128 and cfg.stages[1].block(1).squeeze_channels == 0
