import pytest

import effnet_lab as el
from conftest import REFERENCE

VARIANTS = list(REFERENCE)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def tv_model(name):
    import torchvision

    return getattr(torchvision.models, f"efficientnet_{name}")()


@pytest.mark.parametrize("name", VARIANTS)
def test_weights_transfer_and_logits_match_torchvision(name, torch):
    """Same parameter count as torchvision, same tensors after transfer, same eval-mode logits."""
    torch.manual_seed(0)
    theirs = tv_model(name).eval()
    ours = el.efficientnet(name)
    assert n_params(ours) == n_params(theirs) == REFERENCE[name][0]
    el.load_torchvision_weights(ours, theirs.state_dict())
    ours.eval()
    # theirs has random BN statistics only at init; give both non-trivial running statistics
    with torch.no_grad():
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    el.load_torchvision_weights(ours, theirs)
    x = torch.randn(2, 3, 64, 48)  # reduced, non-square resolution keeps CI fast
    with torch.no_grad():
        diff = (ours(x) - theirs(x)).abs().max().item()
    assert diff <= 1e-4
    bn = ours.stem.bn
    assert (bn.eps, bn.momentum) == ((1e-3, 0.01) if name in ("b5", "b6", "b7") else (1e-5, 0.1))


def test_wrong_variant_is_refused_and_model_left_untouched(torch):
    ours = el.efficientnet("b0")
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    with pytest.raises(ValueError, match=r"shape mismatch.*features\.0\.0\.weight \(torchvision \(40, 3, 3, 3\), ours \(32, 3, 3, 3\)\)"):
        el.load_torchvision_weights(ours, tv_model("b3").state_dict())
    sd = tv_model("b0").state_dict()
    del sd["classifier.1.bias"], sd["features.8.1.running_var"]
    with pytest.raises(ValueError, match=r"2 tensor\(s\) missing, first: features.8.1.running_var, classifier.1.bias"):
        el.load_torchvision_weights(ours, sd)
    sd = tv_model("b0").state_dict()
    truncated = dict(list(sd.items())[:100])
    with pytest.raises(ValueError, match="missing"):
        el.load_torchvision_weights(ours, truncated)
    sd["features.9.0.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"1 unexpected tensor\(s\), first: features.9.0.weight"):
        el.load_torchvision_weights(ours, sd)
    with pytest.raises(ValueError, match=r"classifier.1.weight \(torchvision \(1000, 1280\), ours \(10, 1280\)\)"):
        el.load_torchvision_weights(el.efficientnet("b0", num_classes=10), tv_model("b0"))
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        el.load_torchvision_weights(ours, [1, 2])
    after = ours.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_structure_follows_the_reference_rules(torch):
    model = el.efficientnet("b0")
    blocks = [b for stage in model.stages for b in stage]
    assert len(blocks) == 16
    # skip connections exactly where stride 1 and in == out
    assert [b.stochastic_depth is not None for b in blocks] == [
        False, False, True, False, True, False, True, True, False, True, True, False, True, True, True, False]
    # SE squeezes from the block input: stage 3's first block 96 -> 4 -> 96
    se = model.stages[1][0].se
    assert (se.reduce.in_channels, se.reduce.out_channels, se.expand.out_channels) == (96, 4, 96)
    assert model.stages[0][0].expand is None  # MBConv1
    # stochastic depth grows linearly: block i of N has 0.2 * i / N
    rates = {i: b.stochastic_depth.p for i, b in enumerate(blocks) if b.stochastic_depth is not None}
    assert rates == {i: pytest.approx(0.2 * i / 16) for i in rates}
    # plain layer types only, so counters see every operation
    types = {type(m).__name__ for m in model.modules()}
    assert {"Conv2d", "BatchNorm2d", "SiLU", "Sigmoid", "AdaptiveAvgPool2d", "Linear"} <= types


def test_any_resolution_and_feature_map(torch):
    model = el.efficientnet(el.compound_scaling(-1.5), num_classes=7).eval()
    for hw in [(33, 47), (17, 17), (1, 1)]:
        with torch.no_grad():
            assert model(torch.randn(1, 3, *hw)).shape == (1, 7)
    cifar = el.efficientnet("b0", num_classes=10, stem_stride=1).eval()
    assert cifar.features(torch.randn(1, 3, 32, 32)).shape == (1, 1280, 2, 2)


def test_stochastic_depth_drops_whole_samples_and_rescales(torch):
    sd = el.StochasticDepth(0.25).train()
    torch.manual_seed(0)
    x = torch.ones(4000, 3, 2, 2)
    y = sd(x)
    kept = y.flatten(1).amax(1) > 0
    assert torch.unique(y).tolist() == pytest.approx([0.0, 1 / 0.75])  # per sample: dropped or kept
    assert (y.flatten(1).amin(1) == y.flatten(1).amax(1)).all()
    assert abs(kept.float().mean().item() - 0.75) < 0.03              # survival rate 1 - p
    assert abs(y.mean().item() - 1.0) < 0.04                           # expectation preserved
    assert torch.equal(sd.eval()(x), x)                                # identity at eval
    with pytest.raises(ValueError, match=r"p must be a finite real number in \[0, 0.999\], got 1.5"):
        el.StochasticDepth(1.5)


def test_training_mode_runs_backward(torch):
    model = el.efficientnet(el.compound_scaling(-2, resolution=32), num_classes=3).train()
    loss = model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
