#!/usr/bin/env bash
# One validator of four killed under load: a fresh `accord localnet --preset bench`,
# `loadgen --rate RATE` with every account sending to the three other nodes from the
# start (--exclude-node NODE), and KILL_AT s into the measured window NODE (us-2) gets
# SIGKILL. loadgen reports the window in two parts (--split-at KILL_AT): all four up,
# then three, each with its finalized tx/s and its latency (from the scheduled time of
# the transactions due in it). localnet keeps the other three running and says which
# node exited. Prints one JSON line: the loadgen report, where the kill landed, and
# whether localnet reported it.
# PURPOSE (latency, capacity or both, the default) says which of the suite's targets
# the run measures, and goes into the JSON.
#   scripts/kill-validator.sh [debug|release]
#   RATE=1500 DURATION=40 KILL_AT=20 scripts/kill-validator.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
RATE=${RATE:-1000}
DURATION=${DURATION:-40}
WARMUP=${WARMUP:-5}
KILL_AT=${KILL_AT:-$((DURATION / 2))}
NODE=${NODE:-us-2}
PURPOSE=${PURPOSE:-both}
if [ "$KILL_AT" -le 0 ] || [ "$KILL_AT" -ge "$DURATION" ]; then
    echo "kill-validator: KILL_AT ($KILL_AT) must be inside the $DURATION s window" >&2
    exit 1
fi
source scripts/bench-lib.sh

LG=
cleanup() {
    [ -n "$LG" ] && kill "$LG" 2>/dev/null || true
    net_stop
}
trap cleanup EXIT
net_start
sleep 3
"$LOADGEN" --home "$H" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" \
    --exclude-node "$NODE" --split-at "$KILL_AT" --json > "$H.json" 2> "$H.loadgen" &
LG=$!
window=$(wait_line "$H.loadgen" 'measured window runs from' "$LG" | awk '{print $7}')
PID=$(node_pid "$NODE")
python3 -c 'import sys, time; time.sleep(max(0.0, float(sys.argv[1]) + float(sys.argv[2]) - time.time()))' \
    "$window" "$KILL_AT"
kill -KILL "$PID"
killed_at=$(date +%s.%N)
echo "kill-validator: $NODE (pid $PID) killed at $killed_at, the window started at $window" >&2
status=0
wait "$LG" || status=$?
LG=
if [ "$status" != 0 ]; then
    echo "kill-validator: loadgen failed:" >&2
    tail -20 "$H.loadgen" >&2
    exit 1
fi
reported=false
grep -q "^$NODE exited (signal: 9" "$H.out" && reported=true
python3 - "$H.json" "$NODE" "$RATE" "$KILL_AT" "$window" "$killed_at" "$reported" "$PROFILE" "$PURPOSE" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
print(json.dumps({
    "scenario": "kill",
    "profile": sys.argv[8],
    "purpose": sys.argv[9],
    "node": sys.argv[2],
    "rate": float(sys.argv[3]),
    "split_at_s": float(sys.argv[4]),
    "killed_at_s": round(float(sys.argv[6]) - float(sys.argv[5]), 3),
    "localnet_reported_exit": sys.argv[7] == "true",
    "report": report,
}))
EOF
