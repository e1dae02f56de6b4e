#!/usr/bin/env bash
# A long run at a steady load: a fresh `accord localnet --preset bench`, WARMUP s of
# warm-up, then SOAK_SECONDS (600) at RATE tx/s, reported every INTERVAL (60) s —
# finalized tx/s, latency p50/p99 of the transactions due in it, each node's resident
# memory (sampled every second) — and over the whole: each node's peak RSS and its
# data directory's growth per finalized vote. RATE defaults to half of SATURATION
# (a saturation throughput you pass, in tx/s; `make bench` prints one), else 1000.
# Prints one JSON line.
#   scripts/soak.sh [debug|release]
#   SATURATION=1967 scripts/soak.sh release
#   RATE=500 SOAK_SECONDS=60 INTERVAL=20 scripts/soak.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
SOAK_SECONDS=${SOAK_SECONDS:-600}
INTERVAL=${INTERVAL:-60}
WARMUP=${WARMUP:-10}
if [ -z "${RATE:-}" ]; then
    if [ -n "${SATURATION:-}" ]; then
        RATE=$(python3 -c 'import sys; print(round(float(sys.argv[1]) / 2))' "$SATURATION")
    else
        RATE=1000
    fi
fi
source scripts/bench-lib.sh
trap net_stop EXIT
net_start
sleep 3
echo "soak: $RATE tx/s for $SOAK_SECONDS s, reported every $INTERVAL s" >&2
"$LOADGEN" --home "$H" --rate "$RATE" --duration "$SOAK_SECONDS" --warmup "$WARMUP" \
    --interval "$INTERVAL" --json > "$H.json"
python3 - "$H.json" "$RATE" "$INTERVAL" "$PROFILE" <<'EOF'
import json, sys
print(json.dumps({
    "scenario": "soak",
    "profile": sys.argv[4],
    "rate": float(sys.argv[2]),
    "interval_s": int(sys.argv[3]),
    "report": json.load(open(sys.argv[1])),
}))
EOF
