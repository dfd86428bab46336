#!/usr/bin/env bash
# The GPU measurements this project records, as one script for a machine lent for a few minutes.
# Everything shares one time budget (TOTAL_SECONDS, default 570: one 10-minute call with room to
# start); each step also has its own limit and writes its output as it goes, so a slow step
# (compiling) cannot lose the others' figures. In order:
#   1. the tests that need a CUDA GPU (they skip on a CPU);
#   2. training throughput, ours vs the plain torchvision loop, B0 at 32 and 128 px, our defaults;
#   3. a trial's seeds one after another vs stacked as one network (benchmarks/stacked_seeds.py);
#   4. one training step of each kind of B0 layer (1x1, depthwise, SE) in fp32/bf16/fp16 and NCHW/NHWC
#      (benchmarks/layer_precision.py);
#   5. time to the first training step of `train`, eager and compiled, cold and warm compile cache
#      (benchmarks/first_step.py);
#   6. the large study: single-vs-compound on all 10,000 CIFAR images, budgets 1x-8x, three seeds,
#      seeds stacked, STUDY_WORKERS trials at once on Ray if Ray is installed (default 4), into
#      OUT/study/ (resumable: copy it back and run again to finish it);
#   7. throughput variants if time is left: fp32 NCHW (--no-amp --channels-last off), CUDA graphs
#      (--compile reduce-overhead).
#
#   benchmarks/gpu_check.sh OUT_DIR [extra train_throughput.py arguments]
#   e.g. EFFNET_LAB_DATA=/data PYTHON=python3 benchmarks/gpu_check.sh gpu-check
#        TOTAL_SECONDS=120 benchmarks/gpu_check.sh /tmp/check --images 256 --resolutions 32   # a try on a CPU
#
# Defaults: --data cifar10 --images 10000 --repeats 3 --resolutions 32 128. Limits per step: tests
# 90 s, default throughput 150 s, stacked seeds 90 s, layer precision 45 s, first step 120 s, the study what is left, the
# throughput variants STEP_SECONDS (default 150) each; a step that finishes early leaves its time
# to the study.
set -uo pipefail
if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUT_DIR [extra train_throughput.py arguments]" >&2
    exit 2
fi
out=$1
shift
py=${PYTHON:-python}
limit=${STEP_SECONDS:-150}
total=${TOTAL_SECONDS:-570}
workers=${STUDY_WORKERS:-4}
for name in STEP_SECONDS TOTAL_SECONDS STUDY_WORKERS; do
    value=${!name:-1}
    if ! [[ $value =~ ^[1-9][0-9]*$ ]]; then
        echo "$0: $name must be a whole number >= 1, got '$value'" >&2
        exit 2
    fi
done
mkdir -p "$out"
start=$SECONDS
# allow CAP: the seconds a step may take, CAP or what is left of the total, whichever is less
allow() {
    local left=$((total - (SECONDS - start)))
    echo $((left < $1 ? (left > 0 ? left : 0) : $1))
}
{
    date -u +%FT%TZ
    git rev-parse HEAD 2>/dev/null || echo "commit: ${EFFNET_LAB_COMMIT:-unknown}"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} 2>&1 | tee "$out/device.txt"
status=0
# step NAME SECONDS COMMAND...: run it under its limit, its output into OUT/NAME.txt
step() {
    local name=$1 seconds=$2
    shift 2
    if ((seconds < 10)); then
        echo "== $name: skipped, the time budget is spent" | tee "$out/$name.txt"
        status=1
        return
    fi
    echo "== $name ($seconds s at most): $*" | tee "$out/$name.txt"
    timeout "$seconds" "$@" 2>&1 | tee -a "$out/$name.txt"
    local code=${PIPESTATUS[0]}
    [[ $code -eq 124 ]] && echo "(stopped after $seconds s)" | tee -a "$out/$name.txt"
    [[ $code -eq 0 ]] || status=1
}
defaults=(--data cifar10 --images 10000 --repeats 3 --resolutions 32 128)
step tests "$(allow 90)" "$py" -m pytest -q -rs tests/test_data.py tests/test_train.py tests/test_stacked.py -k "gpu or cuda"
step throughput-defaults "$(allow 150)" "$py" benchmarks/train_throughput.py "${defaults[@]}" "$@"
step stacked-seeds "$(allow 90)" "$py" benchmarks/stacked_seeds.py --images 10000 --epochs 2 --repeats 3
step layer-precision "$(allow 45)" "$py" benchmarks/layer_precision.py --batch 128 --resolution 32 --repeats 20
step first-step "$(allow 120)" "$py" benchmarks/first_step.py --compile none default reduce-overhead --repeats 2
parallel=()
if "$py" -c "import ray" 2>/dev/null; then
    parallel=(--workers "$workers" --gpus-per-trial "$(awk -v n="$workers" 'BEGIN { print 1 / n }')")
fi
step study "$(allow "$total")" "$py" -m effnet_lab sweep single-vs-compound --per-class 1000 --epochs 9 --warmup-epochs 0.6 \
    --budgets 1 2 4 8 --stack-seeds on --out "$out/study" "${parallel[@]}"
step throughput-fp32-nchw "$(allow "$limit")" "$py" benchmarks/train_throughput.py "${defaults[@]}" --no-amp --channels-last off "$@"
step throughput-cuda-graphs "$(allow "$limit")" "$py" benchmarks/train_throughput.py "${defaults[@]}" --compile reduce-overhead "$@"
echo "== total: $((SECONDS - start)) s" | tee -a "$out/device.txt"
exit $status
