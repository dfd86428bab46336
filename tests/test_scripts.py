"""The analysis scripts' arithmetic (their training runs are the library's, tested elsewhere)."""

import importlib.util
import math
from pathlib import Path

import torch

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_noise_stores_correct_flags_as_hex_and_reads_them_back():
    seed_noise = load("seed_noise")
    for flags in ([0, 0, 0, 1, 1], [1] + [0] * 8, [0] * 7, [1, 0, 1]):
        text = seed_noise.to_hex(torch.tensor(flags, dtype=torch.bool))
        assert len(text) == math.ceil(len(flags) / 4)
        assert seed_noise.from_hex(text, len(flags)) == flags


def test_seed_noise_splits_a_spread_into_the_finite_set_and_the_rest():
    seed_noise = load("seed_noise")
    flags = [[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]]  # every seed right on half the images
    rows = [{"n_test": 4, "correct_test": seed_noise.to_hex(torch.tensor(f, dtype=torch.bool))} for f in flags]
    s = seed_noise.spread(rows, "test")
    # no spread over seeds at all, though each image is a coin toss: all of it would be the finite set
    assert s["mean"] == 0.5 and s["std"] == 0 and s["rest_std"] == 0
    assert math.isclose(s["finite_set_std"], math.sqrt(4 * 0.25 * 4 / 3) / 4)
    # seeds that differ on every image at once: a spread the finite set does not explain
    rows = [{"n_test": 4, "correct_test": seed_noise.to_hex(torch.tensor(f, dtype=torch.bool))}
            for f in ([1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0])]
    s = seed_noise.spread(rows, "test")
    assert math.isclose(s["std"], math.sqrt(1 / 3)) and s["rest_std"] > s["finite_set_std"] / 2


def test_seed_noise_10k_setting_is_cpu_recipe_10ks_with_the_same_trials():
    seed_noise = load("seed_noise")
    default, trial = seed_noise.setup("compound-x4", threads=torch.get_num_threads())
    more, same = seed_noise.setup("compound-x4", threads=torch.get_num_threads(), setting="10k")
    assert (more.per_class, more.epochs, more.warmup_epochs) == (1000, 9, 0.6)   # results/cpu-recipe-10k's command
    assert same.config == trial.config and more.batch_size == default.batch_size
    assert (seed_noise.file_stem("depth-x2"), seed_noise.file_stem("depth-x2", "10k")) == ("depth-x2", "depth-x2-10k")
    # NCHW runs are named apart, so the lesson's and report's NHWC globs never take them in
    assert seed_noise.file_stem("compound-x4", "10k", "nchw") == "compound-x4-10k-nchw"
    assert seed_noise.file_stem("base", layout="nchw") == "base-nchw"


def test_seed_noise_disagreement_is_the_share_of_images_one_network_alone_gets_right():
    seed_noise = load("seed_noise")

    def row(flags):
        return {"n_test": len(flags), "correct_test": seed_noise.to_hex(torch.tensor(flags, dtype=torch.bool))}

    a, b = row([1, 1, 0, 0, 1, 0]), row([1, 0, 1, 0, 1, 1])
    assert seed_noise.disagreement(a, b) == 3 / 6       # images 2, 3 and 6
    assert seed_noise.disagreement(a, a) == 0
