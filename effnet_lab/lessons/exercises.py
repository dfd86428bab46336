"""Checkers for the lessons' exercises: ``check_…(answer)`` prints a tick or raises with a hint.

Every expected value is computed from the library or the committed results at check time (never
typed in), and so are the numbers in the success messages, so a checker cannot drift from the code
it teaches or the results it reads. A wrong answer raises ``AssertionError`` with a hint that
does not give the answer away; an answer left as ``...`` raises ``NotImplementedError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .. import config as _config
from ..config import B0_STAGES, PUBLISHED, compound_scaling, flops_factor, official_config
from ..cost import analytic_cost, solve_for_macs
from ..runtime import model_mode


def _given(answer: object, exercise: str) -> None:
    if answer is Ellipsis or answer is None:
        raise NotImplementedError(f"{exercise}: replace the `...` with your answer, then run the cell again")


def _ok(message: str) -> None:
    print(f"✓ Correct. {message}")


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen")


def _word(n: float) -> str:
    """A small whole number in words, as the messages read (others as digits)."""
    return _WORDS[int(n)] if float(n).is_integer() and 0 <= n < len(_WORDS) else f"{n:g}"


def _number(answer: object, exercise: str) -> float:
    _given(answer, exercise)
    try:
        return float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AssertionError(f"{exercise}: expected a number, got {answer!r}") from None


def _exact(answer: object, expected: int, exercise: str, hint: str) -> None:
    value = _number(answer, exercise)
    if value != expected:
        direction = "too large" if value > expected else "too small"
        raise AssertionError(f"{exercise}: {value:,.0f} is {direction}. Hint: {hint}")


def _close(answer: object, expected: float, exercise: str, hint: str, rel: float = 1e-3,
           abs_tol: float = 0.0) -> None:
    value = _number(answer, exercise)
    if not math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol):
        direction = "too large" if value > expected else "too small"
        raise AssertionError(f"{exercise}: {value:.6g} is {direction}. Hint: {hint}")


def _sequence(answer: object, expected: Sequence, exercise: str, hint: str, tol: float = 0.0) -> None:
    _given(answer, exercise)
    try:
        values = [float(v) for v in answer]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise AssertionError(f"{exercise}: expected a list of {len(expected)} numbers, got {answer!r}") from None
    if len(values) != len(expected):
        raise AssertionError(f"{exercise}: expected {len(expected)} values, got {len(values)}")
    wrong = [i for i, (v, e) in enumerate(zip(values, expected)) if abs(v - e) > tol]
    if wrong:
        raise AssertionError(f"{exercise}: entries {wrong} (counting from 0) are off. Hint: {hint}")


# ---------------------------------------------------------------------------------------------
# 00 Start here
# ---------------------------------------------------------------------------------------------


def check_b3_blocks(answer: object) -> None:
    """00, exercise 1: how many MBConv blocks does the published B3 have?"""
    _exact(answer, official_config("b3").num_blocks, "B3 blocks",
           "a ModelConfig knows its own number of blocks; or add up the layers of its scaled stages")
    _ok("B3 stacks its seven stages deeper than B0's 16 blocks.")


def check_b0_mmacs(answer: object) -> None:
    """00, exercise 2: B0's multiply-adds per image, in millions, rounded to an integer."""
    _exact(answer, round(analytic_cost("b0").macs / 1e6), "B0 MMACs",
           "analytic_cost('b0').macs counts multiply-adds; divide by one million and round")
    _ok("That is the paper's '0.39B FLOPs' (which are multiply-adds).")


# ---------------------------------------------------------------------------------------------
# 01 MBConv and squeeze-and-excitation
# ---------------------------------------------------------------------------------------------

STAGE5 = 3  # B0_STAGES index of Table 1 stage 5 (MBConv6, k3x3, 40 -> 80, stride 2)


def _stage5_block_layers():
    layers = analytic_cost("b0").layers
    return layers[(layers.stage == 5) & (layers.block == 0)]


def check_stage5_block_macs(answer: object) -> None:
    """01, exercise 1: MACs of the first block of B0's stage 5 (input 40 x 28 x 28), convs + SE."""
    spec = B0_STAGES[STAGE5].block(0)
    _exact(answer, int(_stage5_block_layers().macs.sum()), "Stage-5 block MACs",
           f"four convolutions: expand {spec.in_channels}->{spec.expanded_channels} at 28x28, depthwise "
           f"{spec.kernel}x{spec.kernel} with stride {spec.stride}, the two SE convs (with bias) on a 1x1 map, "
           f"project {spec.expanded_channels}->{spec.out_channels} at the reduced size")
    _ok("The 1x1 expand and project convolutions do almost all of the work.")


def check_stage5_block_params(answer: object) -> None:
    """01, exercise 2: parameters of the same block (conv weights, SE biases, BatchNorm scale and shift)."""
    _exact(answer, int(_stage5_block_layers().params.sum()), "Stage-5 block params",
           "the input size does not matter for parameters; each BatchNorm has 2 per channel; "
           "the depthwise conv has k*k per channel")
    _ok("Parameters do not depend on the resolution; MACs do.")


def check_residual_blocks(answer: object) -> None:
    """01, exercise 3: how many of B0's 16 blocks have a skip connection?"""
    expected = sum(s.block(i).residual for s in official_config("b0").stages for i in range(s.layers))
    _exact(answer, expected, "Residual blocks", "a block adds its input back only when stride is 1 and "
           "input and output channels are equal")
    _ok("Every block after the first of its stage is residual; first blocks change shape.")


def check_stochastic_depth(kept_scale: object, last_block_rate: object) -> None:
    """01, exercise 4: with p = 0.2 the factor a kept sample is multiplied by; and B0's drop rate of
    its last (16th) block under the linear schedule rate * i / N with i counted from 0."""
    _close(kept_scale, 1 / (1 - 0.2), "Kept-sample scale", "the expected output must stay equal to the input")
    cfg = official_config("b0")
    _close(last_block_rate, cfg.stochastic_depth * (cfg.num_blocks - 1) / cfg.num_blocks, "Last block's rate",
           "the first block has index 0, so the last has index N - 1")
    _ok("Deep blocks are dropped more often than shallow ones, and never more than 20 % of the time.")


# ---------------------------------------------------------------------------------------------
# 02 The B0 baseline
# ---------------------------------------------------------------------------------------------


def check_busiest_stage(answer: object) -> None:
    """02, exercise 1: which Table 1 stage (1-9) of B0 needs the most MACs?"""
    stages = analytic_cost("b0").stages
    _exact(answer, int(stages.macs.idxmax()), "Busiest stage", "look at the macs column of cost.stages")
    _ok("Low resolution does not mean cheap: the 14x14 stages are wide and have many blocks.")


def check_classifier_share(answer: object) -> None:
    """02, exercise 2: the fraction (0-1) of B0's parameters in its final Linear layer (1000 classes)."""
    cost = analytic_cost("b0")
    linear = int(cost.layers.query("op == 'linear'").params.sum())
    _close(answer, linear / cost.params, "Classifier share", "the Linear layer maps 1280 features to "
           "1000 classes and has a bias", rel=1e-3)
    _ok("Almost a quarter of B0 is its classifier: with 10 classes it would be a much smaller model.")


def check_head_resolution(answer: object) -> None:
    """02, exercise 3: side of the feature map that enters the head (stage 9) for a 256 x 256 input."""
    h, _ = official_config("b0", resolution=256).table1().loc[9, "in_resolution"].split("x")
    _exact(answer, int(h), "Head resolution", "five convolutions with stride 2 divide the side by 32")
    _ok("Total stride 32: this is why 32x32 CIFAR images end as a 1x1 map.")


# ---------------------------------------------------------------------------------------------
# 03 Counting FLOPs
# ---------------------------------------------------------------------------------------------


def check_bias_macs(answer: object) -> None:
    """03, exercise 1: how many of B0's MACs are bias additions (SE convs and the classifier)?"""
    layers = analytic_cost("b0").layers.query("op in ['se-conv', 'linear']")
    _exact(answer, int(sum(shape[0] for shape in layers.out_shape)), "Bias MACs",
           "one addition per output value of every layer that has a bias: the SE convs and the classifier")
    _ok("That is exactly the gap between our MACs and half of torch's FLOP count.")


def check_stem_other_ops(answer: object) -> None:
    """03, exercise 2: operations ptflops' pytorch backend adds for the stem's BatchNorm and SiLU."""
    layers = analytic_cost("b0").layers
    _exact(answer, int(layers[layers.stage == 1].other_ops.sum()), "Stem BN + SiLU",
           "the stem's output is 32 x 112 x 112; BatchNorm counts 2 per element, SiLU 1")
    _ok("Small per layer, but they add ~6 % to B0's count.")


def check_resnet_macs_ratio(answer: object, resnet_macs: int) -> None:
    """03, exercise 3: how many times more MACs ResNet-50 needs than B0 (both at 224 x 224)."""
    _close(answer, resnet_macs / analytic_cost("b0").macs, "MACs ratio", "divide the two MAC counts",
           rel=1e-2)
    _ok("Ten times the arithmetic of B0, yet less activation memory for training.")


# ---------------------------------------------------------------------------------------------
# 04 Compound scaling explorer
# ---------------------------------------------------------------------------------------------


def check_gamma_for_two(answer: object, alpha: float = _config.PAPER_ALPHA, beta: float = _config.PAPER_BETA) -> None:
    """04, exercise 1: the gamma that makes alpha * beta^2 * gamma^2 exactly 2 (alpha=1.2, beta=1.1)."""
    value = _number(answer, "Gamma")
    _close(flops_factor(alpha, beta, value), 2.0, "Gamma", "solve alpha * beta**2 * gamma**2 = 2 for gamma",
           rel=1e-4)
    _ok(f"γ = {value:.4f}; the paper's grid search picked 1.15, which gives {flops_factor(alpha, beta, 1.15):.4f}.")


def check_layers_at_half(answer: object) -> None:
    """04, exercise 2: the layers of the seven MBConv stages at phi = 0.5 (paper coefficients)."""
    expected = [s.layers for s in compound_scaling(0.5).stages]
    _sequence(answer, expected, "Layers at φ = 0.5", "ceil(layers * 1.2 ** 0.5) for each of B0's stages")
    _ok("Every stage gained one layer, although depth grew by less than 10 %.")


def effective_phis(alpha: float = _config.PAPER_ALPHA, beta: float = _config.PAPER_BETA,
                   gamma: float = _config.PAPER_GAMMA) -> list[float]:
    """Reference: for B1-B7, the smallest phi at which the formula reaches the variant's MACs."""
    return [solve_for_macs(lambda phi: compound_scaling(phi, alpha, beta, gamma), analytic_cost(name).macs,
                           -2.0, 9.0) for name in list(PUBLISHED)[1:]]


def check_effective_phis(answer: object) -> None:
    """04, exercise 3: the effective phi of B1, B2, ..., B7 (seven numbers, 0.01 tolerance)."""
    _sequence(answer, effective_phis(), "Effective φ", "solve_for_macs(lambda phi: el.compound_scaling(phi), "
              "target_macs, lo, hi) with each variant's own MACs as the target", tol=0.01)
    _ok("B1–B3 cost what the formula gives about one step of φ earlier; from B5 on the two agree closely.")


def check_phi_for_4x(answer: object) -> None:
    """04, exercise 4: the smallest phi at which the formula's MACs reach 4 x B0's."""
    b0 = analytic_cost("b0").macs
    expected = solve_for_macs(lambda phi: compound_scaling(phi), 4 * b0, 0.0, 4.0)
    _close(answer, expected, "φ for 4×", "a MAC budget of 4 * B0's; bisection on the staircase",
           rel=0, abs_tol=0.01)
    _ok(f"The ideal 2^φ would need φ = 2; the staircase gets there at φ ≈ {expected:.2f}.")


# ---------------------------------------------------------------------------------------------
# 05-06: from the committed results
# ---------------------------------------------------------------------------------------------
# Expected values come from the committed results (store.load_results) and the cost model.


def _results(sweep: str):
    from ..store import load_results

    return load_results(sweep)


def check_best_rule_at_4x(answer: object) -> None:
    """05, exercise 1: which rule ("width", "depth", "resolution" or "compound") has the highest mean
    accuracy at 4 x the base's MACs in the saved single-vs-compound results?"""
    _given(answer, "Best rule at 4×")
    table = _results("single-vs-compound")
    at4 = table[(table.budget == 4.0) & (table.rule != "base")]
    expected = at4.loc[at4.accuracy_mean.idxmax(), "rule"]
    if str(answer).strip().lower() != expected:
        raise AssertionError(f"Best rule at 4×: {answer!r} is not it. Hint: filter the table to budget == 4 "
                             f"and look at accuracy_mean (or move the budget slider to 4×)")
    helps = list(at4.rule[at4.accuracy_mean > table[table.rule == "base"].accuracy_mean.iloc[0]])
    what = f"only {expected} still helps" if helps == [expected] else f"{expected} helps most"
    _ok(f"On {int(table.n_train.iloc[0]):,} CIFAR images {what} at 4×; the paper's ImageNet result differs.")


def check_depth_drop_at_4x(answer: object) -> None:
    """05, exercise 2: accuracy of depth-x4 minus the base's, in percentage points (negative = worse)."""
    table = _results("single-vs-compound").set_index("trial_id")
    expected = 100 * (table.loc["depth-x4", "accuracy_mean"] - table.loc["base", "accuracy_mean"])
    _close(answer, expected, "Depth drop at 4×", "100 * (accuracy_mean of 'depth-x4' - accuracy_mean of "
           "'base'); the sign matters", rel=0, abs_tol=0.05)
    blocks = [_config.ModelConfig.from_dict(table.loc[t, "config"]).num_blocks for t in ("base", "depth-x4")]
    epochs = int(table.settings.iloc[0]["epochs"])
    _ok(f"{expected:+.1f} points: {blocks[1]} blocks instead of {blocks[0]}, trained for the same {epochs} epochs.")


def check_final_map_side(answer: object) -> None:
    """05, exercise 3: side of the feature map entering the head of the resolution-x4 model."""
    table = _results("single-vs-compound").set_index("trial_id")
    config = _config.ModelConfig.from_dict(table.loc["resolution-x4", "config"])
    h, _ = config.table1().loc[9, "in_resolution"].split("x")
    _exact(answer, int(h), "Final map side", "with stem stride 1 only four convolutions have stride 2; or "
           "read the head's in_resolution from config.table1()")
    base = _config.ModelConfig.from_dict(table.loc["base", "config"])
    b, _ = base.table1().loc[9, "in_resolution"].split("x")
    _ok(f"The base's {base.hw[0]} px image ends as a {b}x{b} map; {config.hw[0]} px leaves the last stages "
        f"{_word((int(h) / int(b)) ** 2)} times the positions.")


def check_implied_gamma(answer: object, alpha: float = 1.4, beta: float = 1.0) -> None:
    """06, exercise 1: the gamma that alpha * beta^2 * gamma^2 = 2 implies for alpha = 1.4, beta = 1.0."""
    value = _number(answer, "Implied γ")
    _close(flops_factor(alpha, beta, value), 2.0, "Implied γ", "solve alpha * beta**2 * gamma**2 = 2 for gamma",
           rel=1e-4)
    _ok(f"γ = {value:.4f}: no width at all, depth ×{alpha:g} and resolution ×{value:.2f} share the doubling.")


def check_paper_rank(answer: object) -> None:
    """06, exercise 2: the rank (1 = best mean accuracy) of the paper's (1.2, 1.1, 1.15) in the saved grid."""
    table = _results("grid-search")
    paper = [bool(e.get("paper_point")) for e in table.extra]
    expected = int(table.accuracy_mean.rank(ascending=False, method="min")[paper].iloc[0])
    _exact(answer, expected, "Paper's rank", "sort the grid-search table by accuracy_mean, best first, and find "
           "the row whose extra['paper_point'] is True")
    where = "Top" if expected == 1 else "Last" if expected == len(table) else "Mid-table"
    best, mine = table.loc[table.accuracy_mean.idxmax()], table[paper].iloc[0]
    near = ("within" if best.accuracy_mean - mine.accuracy_mean <= math.hypot(best.accuracy_std, mine.accuracy_std)
            else "beyond")
    _ok(f"{where} here, {near} the seed noise of the winner; on ImageNet with B0 it was the paper's choice.")


def check_paper_budget(answer: object) -> None:
    """06, exercise 3: real MACs of the paper's point at phi = 1 on the lessons' CIFAR base, over the base's."""
    from ..experiments import CIFAR_BASE

    cfg = compound_scaling(1.0, _config.PAPER_ALPHA, _config.PAPER_BETA, _config.PAPER_GAMMA, base=CIFAR_BASE)
    expected = analytic_cost(cfg, num_classes=10).macs / analytic_cost(CIFAR_BASE, num_classes=10).macs
    _close(answer, expected, "Paper's real budget", "el.compound_scaling(1.0, 1.2, 1.1, 1.15, base=CIFAR_BASE), "
           "then divide its analytic_cost(...).macs by the base's (10 classes)", rel=1e-3)
    _ok(f"{expected:.2f}× instead of 1.92× (α·β²·γ²): the staircase of lesson 04 again, on a small base.")


def check_b7_search_ratio(answer: object) -> None:
    """06, exercise 4: how many times more multiply-adds the 9-candidate, 3-seed search costs around B7
    than around B0 (same images and epochs), from the committed candidates."""
    from ..cost import grid_cost

    table = _results("grid-search")
    a, b, g = (table[c].to_numpy(dtype=float) for c in ("alpha", "beta", "gamma"))
    totals = [float(grid_cost(a, b, g, 1.0, base=official_config(name))["macs"].astype(float).sum())
              for name in ("b7", "b0")]
    _close(answer, totals[0] / totals[1], "B7 / B0 search cost", "the images, epochs and seeds cancel: add up the "
           "MACs of the nine phi = 1 models built on each base (grid_cost with base=el.official_config(...))",
           rel=1e-3)
    _ok(f"About {totals[0] / totals[1]:.0f}× — which is why the paper searches once, on the small model.")


# ---------------------------------------------------------------------------------------------
# 07-08: from the committed results
# ---------------------------------------------------------------------------------------------
# 07 The NAS objective


def check_double_macs_gain(answer: object) -> None:
    """07, exercise 1: with w = -0.07, the relative accuracy gain (a fraction, e.g. 0.1 = 10 %) a
    model with twice the MACs needs to score the same as the original."""
    _close(answer, 2 ** 0.07 - 1, "Gain for 2× MACs", "solve ACC' * (2M/T)^w = ACC * (M/T)^w for ACC'/ACC - 1",
           rel=0, abs_tol=5e-4)
    _ok("About 5 %: a model with twice B0's MACs needs 77.1 % × 1.05 ≈ 80.9 % top-1 to tie it.")


def break_even_w(better: str = "b1", cheaper: str = "b0") -> float:
    """Reference: the w at which two published variants score the same (paper top-1, our MACs)."""
    acc = [_config.PAPER_TOP1[n] / 100 for n in (cheaper, better)]
    macs = [analytic_cost(n).macs for n in (cheaper, better)]
    return math.log(acc[0] / acc[1]) / math.log(macs[1] / macs[0])


def check_break_even_w(answer: object) -> None:
    """07, exercise 2: the w at which B1 (79.1 %) scores exactly as B0 (77.1 %) does."""
    _close(answer, break_even_w(), "Break-even w", "write both scores with the same T and w, divide, take logs: "
           "T cancels", rel=0, abs_tol=5e-4)
    _ok("Any w closer to 0 than this makes B1 win; the paper's -0.07 keeps B0 on top.")


def check_winners_at_1g(soft: object, hard: object) -> None:
    """07, exercise 3: with T = 1e9 MACs, which published variant (e.g. "B3") wins the soft objective
    (w = -0.07), and which the hard constraint?"""
    from .states import objective_state

    for answer, mode, hint in ((soft, "soft", "does T change the order of ACC·(MACs/T)^w? Factor T^-w out"),
                               (hard, "hard", "the most accurate model whose MACs stay within T wins")):
        _given(answer, f"{mode} winner")
        expected = str(objective_state("published", -0.07, 1e9, mode).index[0])
        if str(answer).strip().upper() != expected:
            raise AssertionError(f"{mode} winner: {answer!r} is not it. Hint: {hint}")
    _ok("T rescales every soft score by the same factor, so it never changes the soft ranking; it decides "
        "everything under the hard constraint.")


def check_front_size(answer: object) -> None:
    """07, exercise 4: how many trials of the saved single-vs-compound sweep are on its Pareto front?"""
    from ..store import load_results
    from ..nas import pareto_front

    _exact(answer, len(pareto_front(load_results("single-vs-compound"))), "Pareto front size",
           "nas.pareto_front(table) keeps the rows no cheaper row beats on accuracy")
    _ok("Most scaled models are beaten by a cheaper one: in this small, short-trained sweep extra MACs rarely paid.")


# 08 An ImageNet subset


def check_cam_cells(answer: object) -> None:
    """08, exercise 1: how many cells (h × w) does the 128 px model's CAM have before upsampling?"""
    from ..experiments import IMAGENETTE_BASE

    h, w = IMAGENETTE_BASE.replace(resolution=128).table1().loc[9, "in_resolution"].split("x")
    _exact(answer, int(h) * int(w), "CAM cells", "the last feature map is the input divided by the total stride")
    _ok(f"{_word(int(h) * int(w)).capitalize()} numbers per image: a CAM is coarse by construction, and more "
        f"resolution makes it finer.")


def check_resolution_cost_ratio(macs_ratio: object, params_ratio: object) -> None:
    """08, exercise 2: from the saved imagenette-resolution results, the 128 px model's MACs and
    parameters divided by the 64 px model's."""
    from ..store import load_results

    table = load_results("imagenette-resolution")
    big, small = table.loc["res-128"], table.loc["res-64"]
    _close(macs_ratio, big.macs / small.macs, "MACs ratio", "divide the macs column of res-128 by res-64's",
           rel=1e-3)
    _close(params_ratio, big.params / small.params, "Params ratio", "does a convolution's weight depend on the "
           "image size?", rel=1e-3)
    _ok("Twice the side: about 4× the MACs (a little less: the classifier does not grow), the same parameters.")


def check_cam_logit(answer: object, model, image, cls: int) -> None:
    """08, exercise 3: the logit of class ``cls`` for one normalised ``image`` (3, H, W), computed
    from the un-normalised CAM (``raw``) and the classifier bias only."""
    import torch

    with model_mode(model), torch.no_grad():
        expected = float(model(image[None])[0, cls])
    _close(answer, expected, "Logit from the CAM", "pooling is a mean over the map; the classifier adds its bias",
           rel=1e-4, abs_tol=1e-4)
    _ok("The mean of the class activation map plus the bias is the logit: a CAM splits the logit over the image.")


__all__ = [name for name in globals() if name.startswith("check_")] + ["effective_phis", "break_even_w"]
