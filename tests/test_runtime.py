"""runtime.model_mode: the one place a model is switched to eval (or train) mode and back."""

import pytest
from torch import nn

from effnet_lab.runtime import model_mode


def modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def nested_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)))


def test_eval_inside_and_train_mode_restored_in_every_submodule():
    model = nested_model().train()
    with model_mode(model) as inside:
        assert inside is model
        assert modes(model) == [False] * len(modes(model))
    assert modes(model) == [True] * len(modes(model))


def test_train_mode_on_request_and_eval_mode_restored():
    model = nested_model().eval()
    with model_mode(model, training=True):
        assert all(modes(model))
    assert not any(modes(model))


def test_the_mode_is_restored_when_the_block_raises():
    model = nested_model().train()
    with pytest.raises(RuntimeError, match="in the block"):
        with model_mode(model):
            raise RuntimeError("in the block")
    assert all(modes(model))


def test_nested_uses_restore_the_mode_each_one_found():
    model = nested_model().train()
    with model_mode(model):
        with model_mode(model, training=True):
            assert all(modes(model))
        assert not any(modes(model))  # back to the outer block's eval mode
    assert all(modes(model))
    with model_mode(model[2]):  # a submodule alone: the rest keeps its mode
        assert model.training and model[1].training and not model[2][0].training
    assert all(modes(model))


def test_a_cpu_is_recorded_with_its_instruction_set_and_threads():
    import platform

    import torch

    from effnet_lab.runtime import device_name

    name = device_name("cpu")
    capability = torch.backends.cpu.get_cpu_capability()  # "AVX2", "AVX512", "DEFAULT", ...
    assert name == f"cpu: {platform.machine()} {capability}, {torch.get_num_threads()} threads"
