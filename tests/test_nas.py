import math

import pandas as pd
import pytest

from effnet_lab import nas


def test_soft_objective_matches_hand_computed_values():
    assert nas.objective(0.771, 400e6) == pytest.approx(0.771)
    assert nas.objective(0.771, 800e6) == pytest.approx(0.771 * 2 ** -0.07)
    assert nas.objective(0.80, 200e6) == pytest.approx(0.80 * 0.5 ** -0.07)
    # B0 (77.1 %, 0.39 B) vs B1 (79.1 %, 0.70 B) with the paper's numbers
    assert nas.objective(0.771, 0.39e9) == pytest.approx(0.771 * (0.39 / 0.4) ** -0.07)
    assert list(nas.objective([0.5, 0.6], [400e6, 400e6], w=0)) == [0.5, 0.6]
    assert nas.objective(0.9, 100e6, target=100e6, w=-1) == pytest.approx(0.9)


def test_hard_objective_is_free_below_the_target_and_linear_above():
    assert nas.hard_objective(0.7, 399e6) == 0.7 and nas.hard_objective(0.7, 400e6) == 0.7
    assert nas.hard_objective(0.7, 800e6) == pytest.approx(0.35)
    assert list(nas.hard_objective([0.7, 0.8], [1e8, 1.6e9])) == pytest.approx([0.7, 0.2])


@pytest.mark.parametrize("args, message", [
    ((1.5, 400e6), r"accuracy must be a fraction in \[0, 1\], got 1.5"),
    ((0.7, 0), "macs must be finite and > 0"),
    ((0.7, math.nan), "macs must be finite and > 0"),
])
def test_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        nas.objective(*args)
    with pytest.raises(ValueError, match="target must be a finite real number > 0, got -1"):
        nas.objective(0.7, 1e8, target=-1)
    with pytest.raises(ValueError, match="w must be a finite real number"):
        nas.objective(0.7, 1e8, w=math.inf)


def test_pareto_front():
    table = pd.DataFrame({"name": list("abcde"), "macs": [1, 2, 2, 3, 4], "accuracy_mean": [0.5, 0.4, 0.6, 0.6, 0.7]})
    assert list(nas.pareto_front(table)["name"]) == ["a", "c", "e"]
    with pytest.raises(ValueError, match="column 'acc' is not in the table"):
        nas.pareto_front(table, score="acc")
