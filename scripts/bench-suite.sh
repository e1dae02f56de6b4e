#!/usr/bin/env bash
# The open-loop benchmark suite (`make bench`, `make soak`), each scenario on a fresh
# `accord localnet --preset bench`:
#   sweep    scripts/bench.sh: heights/s with no load, then `loadgen --rate R` for each
#            rate of RATES (latency at 1,000 tx/s, throughput up to saturation, and the
#            signature limit measured in each run)
#   kill     scripts/kill-validator.sh for KILL_DURATION (40) s, one validator of four
#            SIGKILLed mid-window, twice: at half the sweep's saturation throughput
#            (latency with headroom: the p99 after the kill) and at 120 % of it (both
#            halves at capacity: the throughput kept); without a sweep 500 and 3000
#            tx/s; KILL_RATE runs once at that rate instead
#   catchup  scripts/catchup.sh: a validator out for PAUSE (30) s, frozen and then
#            restarted, with no load and at CATCHUP_RATE (1000) tx/s
#   soak     scripts/soak.sh: SOAK_SECONDS (600) at RATE (see soak.sh), per minute
#   pace     heights/s with no load and no pause after an empty block (`--commit-ms 0`):
#            how fast consensus itself goes, where the sweep's idle figures show the
#            presets' 200 ms pause
# SCENARIOS picks them (default "sweep kill catchup pace"; `make soak` is SCENARIOS=soak).
# Every scenario's JSON goes to one file, OUT (default $T/bench/run-<UTC>.jsonl); then
# scripts/bench_report.py prints a Markdown section (the machine, the tables, each target
# met or not with its measured value), draws a chart of latency and throughput against
# offered load beside the JSON (with matplotlib from `scripts/install-deps.sh bench`),
# and the section is appended to BENCHMARKS.md between two marker comments, with the
# chart copied to docs/bench/ (APPEND=0: neither).
#   scripts/bench-suite.sh [debug|release]
#   SCENARIOS="sweep kill" RATES="500 1000 2000" DURATION=10 APPEND=0 scripts/bench-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
SCENARIOS=${SCENARIOS:-sweep kill catchup pace}
APPEND=${APPEND:-1}
KILL_DURATION=${KILL_DURATION:-40}
CATCHUP_RATE=${CATCHUP_RATE:-1000}
PAUSE=${PAUSE:-30}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}
VENV=${BENCH_VENV:-$TARGET/bench-venv}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=${OUT:-$TARGET/$PROFILE/bench/run-$STAMP.jsonl}
mkdir -p "$(dirname "$RUN")"
started=$SECONDS

python3 scripts/bench_report.py machine "$PROFILE" > "$RUN"
# A scenario that fails is recorded as such (with KEY=VALUE details) and the others
# still run.
failed() {
    python3 - "$@" >> "$RUN" <<'EOF'
import json, sys
row = {"scenario": sys.argv[1], "error": sys.argv[2]}
for item in sys.argv[3:]:
    key, _, value = item.partition("=")
    try:
        row[key] = float(value)
    except ValueError:
        row[key] = value
print(json.dumps(row))
EOF
}
for scenario in $SCENARIOS; do
    echo "bench-suite: $scenario ($(( (SECONDS - started) / 60 )) min in)" >&2
    case "$scenario" in
        sweep)
            SWEEP="${RUN%.jsonl}.sweep.jsonl"
            status=0
            OUT="$SWEEP" scripts/bench.sh "$PROFILE" >&2 || status=$?
            # The rates measured before a failure still count.
            if [ -f "$SWEEP" ]; then cat "$SWEEP" >> "$RUN"; fi
            rm -f "$SWEEP"
            [ "$status" = 0 ] || failed sweep "scripts/bench.sh failed"
            ;;
        kill)
            if [ -n "${KILL_RATE:-}" ]; then
                runs="both:$KILL_RATE"
            elif top=$(python3 scripts/bench_report.py saturation "$RUN" 2>/dev/null); then
                runs="latency:$(( top / 2 )) capacity:$(( top * 12 / 10 ))"
            else
                runs="latency:500 capacity:3000"
            fi
            for run in $runs; do
                purpose=${run%%:*}
                rate=${run#*:}
                PURPOSE=$purpose RATE=$rate DURATION=$KILL_DURATION \
                    scripts/kill-validator.sh "$PROFILE" >> "$RUN" ||
                    failed kill "scripts/kill-validator.sh failed" rate=$rate purpose=$purpose
            done
            ;;
        catchup)
            for mode in freeze restart; do
                for rate in 0 "$CATCHUP_RATE"; do
                    MODE=$mode RATE=$rate PAUSE=$PAUSE scripts/catchup.sh "$PROFILE" >> "$RUN" ||
                        failed catchup "scripts/catchup.sh failed" mode=$mode rate=$rate paused_s=$PAUSE
                done
            done
            ;;
        soak)
            scripts/soak.sh "$PROFILE" >> "$RUN" || failed soak "scripts/soak.sh failed"
            ;;
        pace)
            COMMIT_MS=0 scripts/pace.sh "$PROFILE" >> "$RUN" || failed pace "scripts/pace.sh failed"
            ;;
        *)
            echo "bench-suite: unknown scenario $scenario (sweep, kill, catchup, soak, pace)" >&2
            exit 1
            ;;
    esac
done
echo "bench-suite: results in $RUN ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s)" >&2

PNG="${RUN%.jsonl}.png"
chart=
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" scripts/bench_report.py plot "$RUN" "$PNG"; then
    echo "bench-suite: chart in $PNG" >&2
    chart=$PNG
else
    echo "bench-suite: no chart (matplotlib: scripts/install-deps.sh bench)" >&2
fi
how=${BENCH_COMMAND:-SCENARIOS=\"$SCENARIOS\" scripts/bench-suite.sh $PROFILE}
section=$(mktemp)
if [ "$APPEND" != 0 ]; then
    link=()
    if [ -n "$chart" ]; then
        mkdir -p docs/bench
        cp "$chart" "docs/bench/run-$STAMP.png"
        link=(--chart "docs/bench/run-$STAMP.png")
    fi
    python3 scripts/bench_report.py markdown "$RUN" "${link[@]}" --command "$how" > "$section"
    {
        echo
        echo "<!-- benchmark run $STAMP: begin (scripts/bench-suite.sh) -->"
        echo
        cat "$section"
        echo
        echo "<!-- benchmark run $STAMP: end -->"
    } >> BENCHMARKS.md
    echo "bench-suite: appended to BENCHMARKS.md (APPEND=0 to leave it alone)" >&2
else
    python3 scripts/bench_report.py markdown "$RUN" --command "$how" > "$section"
fi
cat "$section"
rm -f "$section"
