"""Checkers for the lessons' exercises: ``check_…(answer)`` prints a tick or raises with a hint.

Every expected value is computed from the library or the committed results at check time (never
typed in), and so are the numbers in the success messages, so a checker cannot drift from the code
it teaches or the results it reads. A wrong answer raises ``AssertionError`` with a hint that
does not give the answer away; an answer left as ``...`` raises ``NotImplementedError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    totals = [float(grid_cost(a, b, g, 1.0, base=official_config(name))["macs"].numpy().astype(float).sum())
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


# ---------------------------------------------------------------------------------------------
# Predict-then-run and explain-why questions (every lesson)
# ---------------------------------------------------------------------------------------------
# A "predict" question is asked before the cell that shows the answer; an "explain" question asks
# why. Both are multiple choice, so code can check them: ``ask(key)`` prints the question and its
# options, ``check_choice(key, letter)`` checks a letter. Where the right option is a number, it
# is computed from the library at check time (the nearest option wins), never typed in.


@dataclass(frozen=True)
class Question:
    kind: str  # "predict" or "explain"
    prompt: str
    options: dict[str, str]
    answer: "str | Callable[[], str]"  # a letter, or a function computing it from the library
    hint: str
    why: str

    def correct(self) -> str:
        return self.answer() if callable(self.answer) else self.answer


def _nearest(options: dict[str, float], value: float) -> str:
    """The letter whose number is nearest to ``value`` on a log scale (the options are ratios)."""
    return min(options, key=lambda k: abs(math.log(options[k] / value)))


def _macs(config, **kw) -> int:
    return analytic_cost(config, **kw).macs


def _b7_over_b0() -> str:
    return _nearest({"a": 10, "b": 30, "c": 100, "d": 1000}, _macs("b7") / _macs("b0"))


def _biggest_conv_of_stage3_block() -> str:
    layers = analytic_cost("b0").layers
    block = layers[(layers.stage == 3) & (layers.block == 0) & layers.op.isin(["conv", "dwconv", "se-conv"])]
    name = block.loc[block.macs.idxmax(), "name"]
    return {"expand": "a", "depthwise": "b", "se": "c", "project": "d"}[name.split(".")[-2]]


def _classifier_mac_share() -> str:
    cost = analytic_cost("b0")
    share = cost.layers.query("op == 'linear'").macs.sum() / cost.macs
    return "a" if share > 0.1 else "b" if share > 0.01 else "c"


def _torch_flops_b0() -> str:
    cost = analytic_cost("b0")
    bias = sum(shape[0] for shape in cost.layers.query("op in ['se-conv', 'linear']").out_shape)
    return _nearest({"a": 0.39e9, "b": 0.77e9, "c": 1.5e9}, 2 * (cost.macs - bias))


def _phi_001_growth() -> str:
    return _nearest({"a": 1.001, "b": 1.05, "c": 1.5, "d": 2.0}, _macs(compound_scaling(0.01)) / _macs("b0"))


def _width_for_double() -> str:
    from ..experiments import CIFAR_BASE

    width = solve_for_macs(lambda w: CIFAR_BASE.replace(width_mult=CIFAR_BASE.width_mult * w),
                           2 * _macs(CIFAR_BASE, num_classes=10), 1.0, 3.0, num_classes=10)
    return _nearest({"a": 1.19, "b": 1.41, "c": 1.75, "d": 2.5}, width)


def _search_cost_b7() -> str:
    return _nearest({"a": 2, "b": 10, "c": 80, "d": 1000},
                    _macs(compound_scaling(1.0, base=official_config("b7"))) / _macs(compound_scaling(1.0)))


def _soft_ranking_ignores_t() -> str:
    from .states import objective_state

    same = list(objective_state("published", -0.07, 4e8).index) == list(objective_state("published", -0.07, 8e8).index)
    return "a" if same else "b"


def _params_at_double_side() -> str:
    ratio = analytic_cost("b0", resolution=448).params / analytic_cost("b0").params
    return _nearest({"a": 4.0, "b": 2.0, "c": 1.0}, ratio)


QUESTIONS: dict[str, Question] = {
    "00-b7-cost": Question(
        "predict", "Before you look at the table: how many times B0's multiply-adds does B7 need?",
        {"a": "about 10×", "b": "about 30×", "c": "about 100×", "d": "about 1000×"}, _b7_over_b0,
        "B7 is 2× wider, 3.1× deeper and sees 600 px instead of 224: multiply d·w²·r²",
        "3.1 · 2² · (600/224)² ≈ 89: compute grows much faster than any one multiplier."),
    "00-one-knob": Question(
        "explain", "Why does EfficientNet grow with one knob φ rather than three independent multipliers?",
        {"a": "one knob keeps depth, width and resolution in the ratio found once on the small model, so "
              "every size uses the same balance without a new search",
         "b": "three multipliers cannot be expressed in PyTorch",
         "c": "φ makes the network train faster",
         "d": "width and depth are the same thing, so only one of them is needed"}, "a",
        "what would a search have to do for every new size if the three were free?",
        "The search happens once (at φ = 1, lesson 06); φ then only says how much compute to spend."),
    "01-busiest-conv": Question(
        "predict", "Before you run the MAC count: which convolution of the stage-3 block (16 → 96 → 24, "
                   "112 px in) does the most multiply-adds?",
        {"a": "the 1×1 expand", "b": "the 3×3 depthwise", "c": "the two SE convolutions", "d": "the 1×1 project"},
        _biggest_conv_of_stage3_block,
        "per output value, a 1×1 conv does C_in MACs and a depthwise conv k²; and count the output positions",
        "The expand conv works at the full 112×112 with 16 inputs per output: depthwise is cheap by design."),
    "01-skip-rule": Question(
        "explain", "Why may an MBConv block add its input back only when stride = 1 and C_in = C_out?",
        {"a": "the skip is an element-wise sum, which needs the input and the branch to have the same shape; "
              "a stride of 2 halves the map and a channel change alters the depth",
         "b": "skip connections make stride-2 convolutions unstable",
         "c": "BatchNorm cannot follow a sum",
         "d": "it saves parameters"}, "a",
        "write down both shapes for the stage-3 block in the diagram",
        "EfficientNet uses no projection shortcut, so first blocks of a stage (which change the shape) have none."),
    "01-se-why": Question(
        "explain", "What does squeeze-and-excitation give a block that its depthwise k×k convolution cannot?",
        {"a": "a summary of the whole feature map (a global average per channel) that reweights every channel, "
              "so each position sees image-wide context",
         "b": "a higher spatial resolution",
         "c": "more output channels",
         "d": "nothing: it only costs parameters"}, "a",
        "how far can a 3×3 or 5×5 filter see, and how far does a global average see?",
        "A depthwise filter sees k×k pixels of one channel; SE's gates depend on the whole map: cheap global context."),
    "02-classifier-macs": Question(
        "predict", "The classifier holds about a quarter of B0's parameters. What share of B0's MACs does it do?",
        {"a": "more than 10 %", "b": "between 1 % and 10 %", "c": "less than 1 %"}, _classifier_mac_share,
        "a Linear layer is used once per image; a convolution's weights once per output position",
        "1280 × 1000 MACs once per image against ~386 M: parameters and MACs live in different places."),
    "02-params-vs-resolution": Question(
        "explain", "Why do parameters not depend on the input resolution while MACs do?",
        {"a": "a convolution shares its weights across positions: a larger image reuses the same weights at "
              "more positions (more MACs, same parameters)",
         "b": "the stem resizes every image to 224 px",
         "c": "parameters are counted at 224 px by convention",
         "d": "global average pooling removes the extra pixels before any weight is used"}, "a",
        "where in a convolution do H and W appear: in the weight shape or in the loop over outputs?",
        "That is why resolution scaling adds cost but no parameters (lessons 04 and 08)."),
    "03-torch-flops": Question(
        "predict", "Before the counters run: what will torch's FlopCounterMode report for B0 at 224 px?",
        {"a": "about 0.39 G", "b": "about 0.77 G", "c": "about 1.5 G"}, _torch_flops_b0,
        "it counts FLOPs, two per multiply-add, and leaves biases out",
        "2 × (MACs − bias additions): the paper's 0.39 B 'FLOPs' are multiply-adds."),
    "03-fewer-macs-slower": Question(
        "explain", "Why can a network with fewer MACs take as long as one with more?",
        {"a": "time also goes to moving data and to fixed per-layer costs: depthwise convs and SE do little "
              "arithmetic per byte, and B0 has many small layers",
         "b": "MAC counters miss most of EfficientNet's convolutions",
         "c": "SiLU costs more MACs than ReLU",
         "d": "it cannot: latency is proportional to MACs"}, "a",
        "compare the arithmetic per value read of a depthwise 3×3 and a dense 3×3 with 256 outputs",
        "MACs are a property of the network; latency of the network on a device: measure the one you need."),
    "04-phi-001": Question(
        "predict", "Before you run the next cell: at φ = 0.01 depth, width and resolution grow by less than "
                   "0.2 %. By what factor do the real MACs grow over B0?",
        {"a": "×1.001", "b": "×1.05", "c": "×1.5", "d": "×2"}, _phi_001_growth,
        "layer counts are ceil(layers · α^φ): what is ceil(1 × 1.0018)?",
        "ceil puts a whole extra layer into every stage at once: the first step of the staircase."),
    "04-why-balance": Question(
        "explain", "The paper's argument for scaling all three together: a larger input image …",
        {"a": "needs more layers to grow the receptive field over the larger objects, and more channels to "
              "capture the finer patterns the extra pixels hold",
         "b": "needs fewer layers, because each pixel carries less information",
         "c": "changes nothing else: resolution is independent of depth and width",
         "d": "needs only more channels, because the receptive field does not matter"}, "a",
        "how many 3×3 convolutions does it take for one output to see a whole object twice as many pixels wide?",
        "This is an intuition, not a theorem: the paper supports it with Figure 4 and Table 3, not a proof."),
    "04-width-undershoot": Question(
        "explain", "Width ×1.1 should multiply the MACs by 1.21 (w²), but B0's grow by less. Why, besides "
                   "rounding to multiples of 8?",
        {"a": "depthwise convs and SE's 1×1 convs on a 1×1 map grow with w, not w², and the classifier's "
              "1000 outputs do not grow at all",
         "b": "the stem convolution does not grow with width",
         "c": "BatchNorm absorbs part of the width",
         "d": "MACs grow with w³"}, "a",
        "which layers have a weight count proportional to C rather than C_in · C_out?",
        "Only dense convs with both channel counts scaled grow like w²; the derivation in section 1 shows it."),
    "05-width-for-double": Question(
        "predict", "To double the small CIFAR model's MACs by width alone, which width multiplier is needed?",
        {"a": "about ×1.19", "b": "about ×1.41", "c": "about ×1.75", "d": "about ×2.5"}, _width_for_double,
        "MACs grow roughly like w²; and this base's stages have only 8 to 80 channels, rounded to multiples of 8",
        "w² alone says √2 ≈ 1.41; on channels this narrow, rounding to multiples of 8 swallows small steps."),
    "05-noise": Question(
        "explain", "Two rules differ by 1 point of accuracy; the seed-to-seed spread is 1.4 points. Why is that "
                   "not a finding?",
        {"a": "a re-run with other seeds could reverse the order: the difference is within what chance alone "
              "produces",
         "b": "1 point is too small to matter on ImageNet",
         "c": "accuracy differences are never findings, only losses are",
         "d": "the GPU rounds accuracies to whole points"}, "a",
        "what does the spread across seeds measure?",
        "State an effect only when it is larger than the noise; otherwise say 'no difference shown'."),
    "06-search-cost": Question(
        "predict", "Before section 5: the nine-candidate grid around B7 instead of B0 would cost about how "
                   "many times more multiply-adds?",
        {"a": "about 2×", "b": "about 10×", "c": "about 80×", "d": "about 1000×"}, _search_cost_b7,
        "each candidate is a φ = 1 model built on the base: compare the two bases' MACs",
        "Which is why the paper searches once, on B0, and bets that the coefficients transfer."),
    "06-why-small": Question(
        "explain", "Why does the paper search α, β, γ on B0 and then reuse them for B1–B7?",
        {"a": "every candidate must be trained; around a large model each one costs many times more, so one "
              "cheap search on the small model is reused, betting that the balance transfers",
         "b": "the coefficients can be derived in closed form from B0's table",
         "c": "a large model has no valid (α, β, γ) under α·β²·γ² ≈ 2",
         "d": "B7 cannot be trained"}, "a",
        "what does one grid point cost around B0, and around B7?",
        "The transfer is an assumption: lesson 05's small experiment is one place where it may not hold."),
    "07-soft-t": Question(
        "predict", "Under the soft objective ACC·(MACs/T)^w, does doubling T change which published model ranks first?",
        {"a": "no: T multiplies every score by the same factor", "b": "yes: a larger T favours larger models"},
        _soft_ranking_ignores_t,
        "write (MACs/T)^w as MACs^w · T^-w",
        "T^-w is common to all scores; only w trades accuracy for cost. Under the hard constraint T decides."),
    "07-below-chance": Question(
        "explain", "A proxy scores 44 % on 200 test images of a two-class task (chance 50 %). What does it show?",
        {"a": "a chance-level result: with 200 images a model that learned nothing scores 50 % ± 3.5 points "
              "(one binomial standard deviation), so 44 % is within two of them",
         "b": "the model learned the two classes the wrong way round",
         "c": "the test images are mislabelled",
         "d": "the candidate is the worst architecture"}, "a",
        "the standard deviation of a hit rate p over n images is √(p(1 − p)/n)",
        "A short proxy cannot separate such a candidate from one that learned nothing; more images or steps could."),
    "08-params-at-double": Question(
        "predict", "Double the image side from 224 to 448 px. What happens to B0's parameter count?",
        {"a": "×4", "b": "×2", "c": "unchanged"}, _params_at_double_side,
        "does any weight's shape depend on H or W?",
        "Resolution costs MACs (about ×4) and memory, never parameters: global pooling makes the head size-free."),
    "08-cam-logit": Question(
        "explain", "Why is the mean of a class activation map plus the classifier bias exactly that class's logit?",
        {"a": "the head averages the last feature map and then applies a linear layer; a linear map commutes "
              "with the average, so applying it per cell first and averaging after gives the same number",
         "b": "by definition of the softmax",
         "c": "because the CAM is upsampled to the image size",
         "d": "only approximately, because of BatchNorm"}, "a",
        "write the logit as W · mean(F) + b and move the mean outside",
        "So a CAM splits the logit over the image: it shows where the evidence was summed, not why."),
    "08-fused-mbconv": Question(
        "explain", "EfficientNetV2 replaces the expand 1×1 + depthwise k×k of early MBConv blocks by one regular "
                   "3×3 convolution (Fused-MBConv). Why can that be faster although it needs more MACs?",
        {"a": "depthwise convolutions use accelerators poorly (little arithmetic per byte); at the large early "
              "resolutions one dense conv keeps the hardware busy and finishes sooner",
         "b": "a dense 3×3 conv needs fewer MACs than a depthwise one",
         "c": "Fused-MBConv removes the skip connection",
         "d": "it is not faster; it is only more accurate"}, "a",
        "recall lesson 03: MACs are not latency",
        "The EfficientNetV2 paper (arXiv 2104.00298) reports this trade-off and uses Fused-MBConv only early."),
}


def ask(key: str) -> None:
    """Print question ``key`` of ``QUESTIONS`` with its options."""
    q = QUESTIONS[key]
    print(f"[{q.kind}] {q.prompt}")
    for letter, text in q.options.items():
        print(f"  ({letter}) {text}")


def check_choice(key: str, answer: object) -> None:
    """Check the letter chosen for question ``key``; on success print why it is right."""
    q = QUESTIONS[key]
    _given(answer, key)
    letter = str(answer).strip().lower().strip("()")
    if letter not in q.options:
        raise AssertionError(f"{key}: choose one of {', '.join(q.options)}; got {answer!r}")
    if letter != q.correct():
        raise AssertionError(f"{key}: ({letter}) is not it. Hint: {q.hint}")
    _ok(q.why)


__all__ = [name for name in globals() if name.startswith("check_")] + ["effective_phis", "break_even_w",
                                                                           "Question", "QUESTIONS", "ask"]
