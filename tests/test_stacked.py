"""A trial's seeds trained together as one stacked network equal the seeds trained one by one.

On a CPU in float32 the only differences are rounding (a grouped convolution sums in another order),
so every comparison is to 1e-5, as issue 19 asks; the coins of dropout and stochastic depth must be
drawn exactly as ``fit`` draws them, or the losses would differ by far more.
"""

import dataclasses

import pytest
import torch

import effnet_lab as el
from effnet_lab import experiments as ex, store, sweeps, train
from effnet_lab.data import ImageTensors
from effnet_lab.stacked import StackedLinear, fit_stacked, stack, unstack

# dropout and stochastic depth high, so a wrong coin shows
CONFIG = el.ModelConfig(width_mult=0.25, depth_mult=0.25, stem_stride=1, resolution=16, dropout=0.3,
                        stochastic_depth=0.3, name="stacked-test")
SEEDS = [0, 1, 2]
CLOSE = dict(atol=1e-5, rtol=1e-5)


def images(n=96, classes=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageTensors(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
                        torch.arange(n) % classes, [f"c{i}" for i in range(classes)], "synthetic")


def models(seeds=SEEDS, classes=4, config=CONFIG):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(el.EfficientNet(config, num_classes=classes))
    return out


def assert_same_weights(a, b):
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x.float(), y.float(), **CLOSE, msg=lambda m, key=key: f"{key}: {m}")


def test_the_stacked_network_computes_each_model_on_its_own_channels():
    ms = [m.eval() for m in models()]
    net = stack(ms).eval()
    xs = [torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(len(ms))]
    with torch.no_grad():
        together = net(torch.cat(xs, dim=1)).unflatten(1, (len(ms), -1))  # (B, K, classes)
        for i, (m, x) in enumerate(zip(ms, xs)):
            torch.testing.assert_close(together[:, i], m(x), **CLOSE)
    assert isinstance(net.classifier, StackedLinear) and net.stem.conv.groups == len(ms)
    copies = models(seeds=[7, 8, 9])
    unstack(net, copies)  # the round trip gives every weight and statistic back
    for a, b in zip(ms, copies):
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), key


@pytest.mark.parametrize("options", [
    {"ema": 0.9},
    {"ema": 0.0, "recalibrate_bn": True, "channels_last": True, "schedule": "linear", "weight_decay": 5e-4},
], ids=["ema", "recalibrated-nhwc"])
def test_stacked_training_equals_separate_runs_seed_by_seed(options):
    train_set = images()
    run = dict(batch_size=16, warmup_epochs=0.5, device="cpu", progress=False, **options)
    separate, histories = [], []
    for s, m in zip(SEEDS, models()):
        histories.append(train.fit(m, train_set, None, 2, seed=s, tta=False, **run))
        separate.append(m)
    stacked = models()
    stacked_histories = fit_stacked(stacked, train_set, 2, seeds=SEEDS, **run)
    for a, b, ha, hb in zip(separate, stacked, histories, stacked_histories):
        for ea, eb in zip(ha.epochs, hb.epochs):
            assert ea.train_loss == pytest.approx(eb.train_loss, abs=1e-5)
            assert ea.train_accuracy == eb.train_accuracy and ea.lr == pytest.approx(eb.lr)
        assert_same_weights(a, b)
    # and the seeds did differ: equality is not because every model is the same
    assert histories[0].final.train_loss != pytest.approx(histories[1].final.train_loss, abs=1e-3)


def test_a_stacked_run_resumes_after_an_interrupt_as_if_uninterrupted(tmp_path, monkeypatch):
    from effnet_lab import stacked as stacked_module

    train_set = images()
    run = dict(batch_size=16, warmup_epochs=0.5, device="cpu", progress=False, ema=0.9)
    whole = models()
    reference = fit_stacked(whole, train_set, 3, seeds=SEEDS, **run)
    saves, real_save = [], stacked_module.atomic_save

    def save_then_stop(obj, path):
        real_save(obj, path)
        saves.append(path)
        if len(saves) == 1:
            raise KeyboardInterrupt

    checkpoint = tmp_path / "stacked.pt"
    monkeypatch.setattr(stacked_module, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        fit_stacked(models(), train_set, 3, seeds=SEEDS, checkpoint=checkpoint, **run)
    monkeypatch.undo()
    resumed_models = models(seeds=[5, 6, 7])  # another init: everything must come from the checkpoint
    resumed = fit_stacked(resumed_models, train_set, 3, seeds=SEEDS, checkpoint=checkpoint, **run)
    for a, b in zip(reference, resumed):
        assert [e.train_loss for e in a.epochs] == [e.train_loss for e in b.epochs]
    for a, b in zip(whole, resumed_models):
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), key
    with pytest.raises(ValueError, match="seeds"):  # other seeds do not resume this run
        fit_stacked(models(), train_set, 3, seeds=[0, 1, 3], checkpoint=checkpoint, **run)


def test_bad_stacking_requests_are_refused_by_name():
    with pytest.raises(ValueError, match="at least one model"):
        stack([])
    other = dataclasses.replace(CONFIG, width_mult=0.5)
    with pytest.raises(ValueError, match=r"models\[1\] is not the architecture of models\[0\]"):
        stack(models(seeds=[0]) + models(seeds=[1], config=other))
    with pytest.raises(ValueError, match="seeds: one per model, got 2 for 3 models"):
        fit_stacked(models(), images(), 1, seeds=[0, 1], progress=False)
    with pytest.raises(ValueError, match="net stacks 3 models, got 2"):
        unstack(stack(models()), models(seeds=[0, 1]))
    with pytest.raises(ValueError, match="warmup_epochs"):  # fit's own checks
        fit_stacked(models(), images(), 1, seeds=SEEDS, warmup_epochs=2.0, progress=False)
    with pytest.raises(TypeError, match="cannot stack a LayerNorm"):
        stack([torch.nn.Sequential(torch.nn.LayerNorm(4))] * 2)


def test_a_sweep_with_stacked_seeds_records_the_same_accuracies(image_folder, tmp_path):
    settings = ex.Settings(**{**ex.quick_settings("formula-vs-official").__dict__, "data": str(image_folder),
                              "per_class": 4, "batch_size": 4, "epochs": 2, "warmup_epochs": 0.0,
                              "seeds": (0, 1), "variants": ("b1",)})
    one_by_one = sweeps.run_sweep("formula-vs-official", tmp_path / "a", settings, log=lambda m: None)
    together = sweeps.run_sweep("formula-vs-official", tmp_path / "b", settings, log=lambda m: None,
                                stack_seeds=True)
    n_test = one_by_one[0]["n_test"]
    for a, b in zip(one_by_one, together):
        assert a["trial_id"] == b["trial_id"]
        # rounding may flip a prediction on a tie; never more than one image here
        assert a["accuracies"] == pytest.approx(b["accuracies"], abs=1.01 / n_test)
    assert [r["stack_seeds"] for r in together if not r.get("reused_from")] == [True] * sum(
        not r.get("reused_from") for r in together)
    assert not any(r["stack_seeds"] for r in one_by_one)
    assert store.ResultsStore(store.results_path(tmp_path / "b", "formula-vs-official")).read() == together
    assert not list((tmp_path / "b" / ".partial").iterdir())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_stacked_training_on_cuda_matches_separate_runs():
    # float32 (no autocast): cuDNN's algorithms are not the CPU's, so the tolerance is looser
    train_set = images()
    run = dict(batch_size=16, warmup_epochs=0.5, device="cuda", progress=False, amp=False, ema=0.9)
    separate = [train.fit(m, train_set, None, 2, seed=s, tta=False, **run) for s, m in zip(SEEDS, models())]
    stacked = fit_stacked(models(), train_set, 2, seeds=SEEDS, **run)
    for a, b in zip(separate, stacked):
        assert [e.train_loss for e in a.epochs] == pytest.approx([e.train_loss for e in b.epochs], abs=1e-3)
