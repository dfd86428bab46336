"""Predict-then-run and explain-why questions, every lesson's multiple-choice checks.

A "predict" question is asked before the cell that shows the answer; an "explain" question asks
why. Both are multiple choice, so code can check them: ``ask(key)`` prints the question and its
options, ``check_choice(key, letter)`` checks a letter. Where the right option is a number, it is
computed from the library at check time (the nearest option wins), never typed in. The numeric
exercises' checkers are in ``exercises``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..config import compound_scaling, official_config
from ..cost import analytic_cost, solve_for_macs
from .exercises import _given, _ok  # the checkers' shared messages


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


__all__ = ["Question", "QUESTIONS", "ask", "check_choice"]
