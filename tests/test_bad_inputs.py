"""Every bad input named in the core issue raises a clear error: parameter, value, what is allowed."""

import math

import pytest

import effnet_lab as el
from effnet_lab.config import ModelConfig, StageSpec


@pytest.mark.parametrize("name", ["alpha", "beta", "gamma"])
@pytest.mark.parametrize("value", [0, -1.2, math.nan, math.inf, -math.inf])
def test_bad_coefficients(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be a finite real number > 0, got {value!r}"):
        el.compound_scaling(1, **{name: value})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_phi(value):
    with pytest.raises(ValueError, match=rf"phi must be a finite real number, got {value}"):
        el.compound_scaling(value)


@pytest.mark.parametrize("value", ["1", None, True])
def test_non_numeric_coefficients_are_type_errors(value):
    with pytest.raises(TypeError, match="phi must be a finite real number"):
        el.compound_scaling(value)
    with pytest.raises(TypeError, match="alpha must be"):
        el.compound_scaling(1, alpha=value)


@pytest.mark.parametrize("value", [0, -32, 224.0, "224", (224,), (224, 0), (224, 224, 3), (1.5, 2), None, True])
def test_bad_resolution(value):
    with pytest.raises(ValueError, match=r"resolution must be a positive integer or a pair \(H, W\)"):
        ModelConfig(resolution=value)
    with pytest.raises(ValueError, match="resolution must be a positive integer"):
        el.analytic_cost("b0", resolution=value) if value is not None else ModelConfig(resolution=value)


def test_bad_base_resolution_and_vanishing_resolution():
    with pytest.raises(ValueError, match=r"base_resolution must be a positive integer.*got -5"):
        el.compound_scaling(1, base_resolution=-5)
    with pytest.raises(ValueError, match=r"phi=-60 with gamma=1.15 shrinks the resolution 224x224 to 0x0"):
        el.compound_scaling(-60)


@pytest.mark.parametrize("name", ["b8", "B9", "resnet50", "", 3, None])
def test_unknown_variant_lists_the_valid_ones(name):
    with pytest.raises(ValueError, match=rf"unknown EfficientNet variant {name!r}; valid names: b0, b1, b2, b3, b4, b5, b6, b7"):
        el.official_config(name)


@pytest.mark.parametrize("n", [0, -1, 2.5, "10", True])
def test_bad_num_classes(n, torch):
    with pytest.raises(ValueError, match=rf"num_classes must be an integer >= 1, got {n!r}"):
        el.efficientnet("b0", num_classes=n)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        el.analytic_cost("b0", num_classes=n)


GOOD = dict(expand_ratio=6, kernel=3, stride=1, in_channels=16, out_channels=24, layers=2)


@pytest.mark.parametrize("field, value, message", [
    ("stride", 3, r"StageSpec.stride must be 1 or 2, got 3"),
    ("stride", 0, r"StageSpec.stride must be 1 or 2, got 0"),
    ("kernel", 4, r"StageSpec.kernel must be an odd positive integer \(1, 3, 5, ...\), got 4"),
    ("kernel", 0, r"StageSpec.kernel must be an odd positive integer"),
    ("layers", 0, r"StageSpec.layers must be an integer >= 1, got 0"),
    ("in_channels", 2.5, r"StageSpec.in_channels must be an integer >= 1, got 2.5"),
    ("expand_ratio", 0.5, r"StageSpec.expand_ratio must be a finite real number >= 1, got 0.5"),
    ("se_ratio", 1.5, r"StageSpec.se_ratio must be a finite real number in \[0, 1\], got 1.5"),
])
def test_bad_stage_spec(field, value, message):
    with pytest.raises(ValueError, match=message):
        StageSpec(**{**GOOD, field: value})


def test_stage_spec_fields_are_keywords_only():
    with pytest.raises(TypeError):
        StageSpec(6, 3, 1, 16, 24, 2)


@pytest.mark.parametrize("changes, message", [
    (dict(width_mult=0), r"width_mult must be a finite real number > 0, got 0"),
    (dict(depth_mult=math.nan), r"depth_mult must be a finite real number > 0, got nan"),
    (dict(dropout=1.0), r"dropout must be a finite real number in \[0, 0.999\], got 1.0"),
    (dict(stochastic_depth=-0.1), r"stochastic_depth must be"),
    (dict(head_rule="keras"), r"head_rule must be one of \('torchvision', 'tf'\), got 'keras'"),
    (dict(stem_stride=4), r"stem_stride must be 1 or 2, got 4"),
    (dict(base_stem_channels=24), r"base_stem_channels \(24\) must equal the first stage's in_channels \(32\)"),
    (dict(base_stages=(StageSpec(**GOOD), StageSpec(**GOOD))), r"base_stages do not chain"),
])
def test_bad_model_config(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**changes)


def test_unknown_override_names_the_allowed_fields():
    with pytest.raises(TypeError, match=r"unknown ModelConfig field\(s\) \['widht_mult'\]; allowed: base_stages"):
        el.official_config("b0", widht_mult=2)
    with pytest.raises(TypeError, match="expected a variant name"):
        el.analytic_cost(42)
