#!/usr/bin/env bash
# The GPU measurements this project records, as one script for a machine lent for a few minutes.
# Each step has its own time limit and writes its output as it goes, so a slow step (compiling)
# cannot lose the others' figures:
#   1. the tests that need a CUDA GPU (they skip on a CPU);
#   2. training throughput, ours vs the plain torchvision loop, B0 at 32 and 128 px, with our
#      defaults, then fp32 NCHW (--no-amp --channels-last off), then CUDA graphs
#      (--compile reduce-overhead).
#
#   benchmarks/gpu_check.sh OUT_DIR [extra train_throughput.py arguments]
#   e.g. EFFNET_LAB_DATA=/data PYTHON=python3 benchmarks/gpu_check.sh gpu-check
#        benchmarks/gpu_check.sh /tmp/check --images 256 --resolutions 32     # a quick try on a CPU
#
# Defaults: --data cifar10 --images 10000 --repeats 3 --resolutions 32 128; STEP_SECONDS (default
# 240) limits each benchmark run.
set -uo pipefail
if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUT_DIR [extra train_throughput.py arguments]" >&2
    exit 2
fi
out=$1
shift
py=${PYTHON:-python}
limit=${STEP_SECONDS:-240}
if ! [[ $limit =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: STEP_SECONDS must be a whole number of seconds >= 1, got '$limit'" >&2
    exit 2
fi
mkdir -p "$out"
{
    date -u +%FT%TZ
    git rev-parse HEAD 2>/dev/null || echo "commit: ${EFFNET_LAB_COMMIT:-unknown}"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$out/device.txt"
status=0
echo "== GPU-only tests" | tee "$out/tests.txt"
timeout "$limit" "$py" -m pytest -q -rs tests/test_data.py tests/test_train.py -k "gpu or cuda" 2>&1 | tee -a "$out/tests.txt"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
defaults=(--data cifar10 --images 10000 --repeats 3 --resolutions 32 128)
for variant in "defaults:" "fp32-nchw:--no-amp --channels-last off" "cuda-graphs:--compile reduce-overhead"; do
    name=${variant%%:*}
    read -r -a options <<<"${variant#*:}"
    echo "== throughput, $name: ${options[*]:-} $*" | tee "$out/throughput-$name.txt"
    timeout "$limit" "$py" benchmarks/train_throughput.py "${defaults[@]}" "${options[@]}" "$@" 2>&1 \
        | tee -a "$out/throughput-$name.txt"
    code=${PIPESTATUS[0]}
    [[ $code -eq 124 ]] && echo "(stopped after $limit s)" | tee -a "$out/throughput-$name.txt"
    [[ $code -eq 0 ]] || status=1
done
exit $status
