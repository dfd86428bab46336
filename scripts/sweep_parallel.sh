#!/usr/bin/env bash
# Run sweeps as several processes at once, each sweep split into SHARDS parts
# (python -m effnet_lab sweep NAME --shard i/SHARDS; the parts are dealt out by MACs). Small models
# leave a GPU mostly idle, so processes sharing it finish a sweep several times sooner; on a CPU,
# one single-threaded process per core beats one process using every core (1.2-1.4x measured on
# 2 cores with this project's small models). All shards of a sweep append to one results file.
#
#   scripts/sweep_parallel.sh [--chain] OUT_DIR SHARDS SWEEP [SWEEP ...] [-- extra sweep arguments]
#   e.g. scripts/sweep_parallel.sh results 4 single-vs-compound grid-search         (a GPU: 8 processes)
#        scripts/sweep_parallel.sh --chain results/cpu 2 single-vs-compound grid-search (a CPU: 2 processes)
#
# Without --chain every sweep's shards start at once (SHARDS x sweeps processes). With --chain
# there are SHARDS processes in all: shard i runs its part of each sweep in turn, so a CPU runs
# one process per core and a later sweep can reuse networks an earlier one trained.
#
# The extra arguments go to every sweep: options that shape one sweep's plan (--budgets,
# --max-candidates, --variants, --resolutions) are refused by the others, so give them in a
# separate run of that sweep alone.
#
# Logs go to OUT_DIR/logs/ (appended to, so a resumed run keeps the earlier lines). Interrupt
# with Ctrl-C and run it again to resume. PYTHON picks the interpreter (default: python);
# STOP_GRACE the seconds a sweep gets to stop on an interrupt before it is terminated (default 10).
set -uo pipefail
usage="usage: $0 [--chain] OUT_DIR SHARDS SWEEP [SWEEP ...] [-- extra sweep arguments]"
chain=0
if [[ ${1:-} == --chain ]]; then
    chain=1
    shift
elif [[ ${1:-} == -h || ${1:-} == --help ]]; then
    echo "$usage"
    exit 0
elif [[ ${1:-} == -* ]]; then
    echo "$0: unknown option '$1' (the only option is --chain, before OUT_DIR)" >&2
    echo "$usage" >&2
    exit 2
fi
if [[ $# -lt 3 ]]; then
    echo "$usage" >&2
    exit 2
fi
out=$1 shards=$2
shift 2
if ! [[ ${STOP_GRACE:-10} =~ ^[0-9]+$ ]]; then
    echo "$0: STOP_GRACE must be a whole number of seconds, got '$STOP_GRACE'" >&2
    exit 2
fi
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: SHARDS must be a whole number >= 1, got '$shards'" >&2
    exit 2
fi
sweeps=()
while [[ $# -gt 0 && $1 != -- ]]; do sweeps+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
for sweep in "${sweeps[@]}"; do
    case $sweep in
        single-vs-compound | grid-search | formula-vs-official | imagenette-resolution) ;;
        --chain) echo "$0: --chain goes first, before OUT_DIR" >&2
                 exit 2 ;;
        *) echo "$0: unknown sweep '$sweep'; valid: single-vs-compound grid-search formula-vs-official imagenette-resolution" >&2
           exit 2 ;;
    esac
done
mkdir -p "$out/logs"

# one shard of one sweep, always started in the background (&): exec makes the python process the
# one a signal reaches. One thread each: the processes share the cores (on a GPU, the GPU does the
# arithmetic).
run_shard() {  # SWEEP I
    OMP_NUM_THREADS=1 exec "${PYTHON:-python}" -m effnet_lab sweep "$1" --out "$out" --shard "$2/$shards" "${extra[@]}" \
        >>"$out/logs/$1-$2.log" 2>&1
}
extra=("$@")

# Stop sweeps: INT lets each save and exit (effnet_lab's __main__ turns it into KeyboardInterrupt);
# a sweep still starting up ignores it (a background job starts with SIGINT ignored until python
# restores it), so whatever is still running after STOP_GRACE seconds gets TERM. Nothing is lost
# either way: results and checkpoints are written atomically, at most the epoch under way is redone.
stop_sweeps() {  # PID...
    kill -INT "$@" 2>/dev/null
    local deadline=$((SECONDS + ${STOP_GRACE:-10})) pid alive
    while ((SECONDS < deadline)); do
        alive=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || return 0
        sleep 0.2
    done
    kill -TERM "$@" 2>/dev/null
}

pids=()
# Ctrl-C (or a timeout's signal) stops every shard. A bash subshell cannot catch SIGINT in the
# background, so a chain is sent TERM, stops its sweep and runs no further one.
if ((chain)); then
    trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; exit 130' INT TERM
else
    trap 'stop_sweeps "${pids[@]}"; wait; exit 130' INT TERM
fi
for ((i = 1; i <= shards; i++)); do
    if ((chain)); then
        (
            child=
            # pass an interrupt on to the sweep under way and run no further sweep
            trap '[[ -n $child ]] && stop_sweeps "$child"; wait; exit 130' TERM
            status=0
            for sweep in "${sweeps[@]}"; do
                run_shard "$sweep" "$i" &
                child=$!
                wait "$child"
                case $? in
                    0) ;;
                    130) exit 130 ;;  # interrupted (Ctrl-C reaches it directly): no further sweep
                    *) status=1 ;;
                esac
            done
            exit $status
        ) &
        pids+=($!)
    else
        for sweep in "${sweeps[@]}"; do
            run_shard "$sweep" "$i" &
            pids+=($!)
        done
    fi
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
