import subprocess
import sys

import pytest

import effnet_lab as el
from effnet_lab.__main__ import main


def test_profile_prints_table_1_with_totals(capsys):
    assert main(["profile", "--model", "b3"]) == 0
    out = capsys.readouterr().out
    cost = el.analytic_cost("b3")
    assert "EfficientNet b3: width x1.2, depth x1.4, resolution 300x300, 26 MBConv blocks" in out
    assert f"MACs   {cost.macs:>16,}" in out and f"params {cost.params:>16,}" in out
    assert "Conv1x1 & Pooling & FC" in out and "MBConv6, k5x5" in out


def test_profile_compound_scaling_with_resolution(capsys):
    assert main(["profile", "--phi", "1.5", "--alpha", "1.3", "--resolution", "240x320", "--num-classes", "10"]) == 0
    out = capsys.readouterr().out
    cost = el.analytic_cost(el.compound_scaling(1.5, alpha=1.3), (240, 320), num_classes=10)
    assert f"{cost.macs:,}" in out and "resolution 240x320" in out and "= 2.0803" in out


def test_profile_per_layer(capsys):
    assert main(["profile", "--phi", "-1", "--per-layer"]) == 0
    out = capsys.readouterr().out
    assert "stages.0.0.depthwise.conv" in out and "classifier" in out


@pytest.mark.parametrize("argv, message", [
    (["profile", "--model", "b9"], "invalid choice: 'b9'"),
    (["profile", "--phi", "nan"], "phi must be a finite real number, got nan"),
    (["profile", "--phi", "1", "--gamma", "0"], "gamma must be a finite real number > 0, got 0.0"),
    (["profile", "--alpha", "1.3"], "--alpha only applies with --phi"),
    (["profile", "--resolution", "0"], "invalid resolution '0'"),
    (["profile", "--resolution", "224x"], "invalid resolution '224x'"),
    (["profile", "--model", "b0", "--phi", "1"], "not allowed with argument"),
    (["profile", "--num-classes", "0"], "--num-classes must be >= 1, got 0"),
    (["profile", "--phi", "-60"], "shrinks the resolution"),
    ([], "required: COMMAND"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "effnet_lab", "profile", "--model", "b0"],
                          capture_output=True, text=True, check=True)
    assert "385,825,092" in done.stdout
