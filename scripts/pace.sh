#!/usr/bin/env bash
# Heights per second with no load on a fresh `accord localnet --preset bench`, counted
# on every node over IDLE (20) s after a few seconds to settle; COMMIT_MS sets the pause
# after an empty block (the presets' 200 ms when unset; 0: none, consensus at its own
# pace). Prints one JSON line.
#   COMMIT_MS=0 scripts/pace.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
IDLE=${IDLE:-20}
source scripts/bench-lib.sh
trap net_stop EXIT
net_start
sleep 3
before=() after=()
for i in 0 1 2 3; do before+=("$(height $((RPC_PORT + i)))"); done
sleep "$IDLE"
for i in 0 1 2 3; do after+=("$(height $((RPC_PORT + i)))"); done
python3 - "$IDLE" "${COMMIT_MS:-}" "$PROFILE" "${before[@]}" "${after[@]}" <<'PY'
import json, sys
idle, commit_ms, profile = float(sys.argv[1]), sys.argv[2], sys.argv[3]
heights = [int(x) for x in sys.argv[4:]]
before, after = heights[:4], heights[4:]
rates = [(b - a) / idle for a, b in zip(before, after)]
print(json.dumps({
    "scenario": "pace",
    "profile": profile,
    "commit_ms": int(commit_ms) if commit_ms else None,
    "window_s": idle,
    "heights_per_s": min(rates),
    "heights_per_s_by_node": rates,
}))
PY
