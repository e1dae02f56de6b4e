#!/usr/bin/env bash
# The open-loop benchmark of BENCHMARKS.md: for each rate of RATES, a fresh
# `accord localnet --preset bench` (four validators in two regions, 1,000 voters), its
# heights per second with no load, then `loadgen --rate R` (WARMUP s of warm-up, a
# DURATION s window). Each run's JSON report goes to OUT (one line per rate, the no-load
# heights added); a Markdown table of them is printed at the end.
#   scripts/bench.sh [debug|release] [loadgen args…]
#   RATES="250 500 1000" DURATION=20 WARMUP=5 scripts/bench.sh debug
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
shift || true
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
LOADGEN=${LOADGEN:-$T/loadgen}
RATES=${RATES:-250 500 1000 2000 4000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
IDLE=${IDLE:-10}
BASE_PORT=${BASE_PORT:-32000}
RPC_PORT=${RPC_PORT:-32100}
OUT=${OUT:-$T/bench/open-loop-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
for binary in "$ACCORD" "$LOADGEN"; do
    if [ ! -x "$binary" ]; then
        echo "bench: $binary is missing; build it first (cargo build --$PROFILE -p accord-node -p accord-benches --bins, or make bench)" >&2
        exit 1
    fi
done
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

rpc() {
    curl -s -X POST -H 'content-type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":[]}" "http://127.0.0.1:$RPC_PORT"
}
height() { rpc chain_getStatus | python3 -c 'import sys, json; print(json.load(sys.stdin)["result"]["height"])'; }

LN=
stop() {
    if [ -n "$LN" ]; then
        kill -INT "$LN" 2>/dev/null || true
        wait "$LN" 2>/dev/null || true
        LN=
    fi
}
trap stop EXIT

for rate in $RATES; do
    # Nothing left to write back from a build or the run before: a node's fsync would
    # wait behind it.
    sync
    H=$(mktemp -d)/net
    "$ACCORD" localnet --preset bench --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" \
        > "$H.out" 2>&1 &
    LN=$!
    until height > /dev/null 2>&1; do
        kill -0 "$LN" 2>/dev/null || { echo "bench: the network did not start:" >&2; cat "$H.out" >&2; exit 1; }
        sleep 1
    done
    sleep 3
    h0=$(height); sleep "$IDLE"; h1=$(height)
    echo "bench: rate $rate: $(( (h1 - h0) )) heights in $IDLE s with no load" >&2
    "$LOADGEN" --home "$H" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" --json "$@" \
        > "$H.json"
    python3 - "$H.json" "$(( h1 - h0 ))" "$IDLE" "$PROFILE" >> "$OUT" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
report["idle_heights_per_s"] = int(sys.argv[2]) / int(sys.argv[3])
report["profile"] = sys.argv[4]
print(json.dumps(report))
EOF
    stop
    rm -rf "$(dirname "$H")"
done

echo "bench: results in $OUT" >&2
python3 - "$OUT" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| offered tx/s | finalized tx/s | of the signature limit | latency p50 | p90 | p99 | max | lost | refused | heights/s (load / idle) | txs per block | node CPU (cores, sum) | peak RSS (max) | disk B/tx (mean) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    lat = r.get("latency") or {}
    costs = r.get("node_costs") or []
    cpu = sum(c["cores"] for c in costs)
    rss = max((c["peak_rss_mib"] for c in costs), default=0)
    disk = sum(c["disk_bytes_per_tx"] for c in costs) / len(costs) if costs else 0
    refused = sum(r["refused"].values())
    limit = r["signature_limit"]
    print(f'| {r["offered_tps"]:.0f} | {r["finalized_tps"]:.0f} | {100 * r["fraction_of_limit"]:.1f} % of {limit["limit_tps"]:.0f} '
          f'| {lat.get("p50_ms", 0):.0f} ms | {lat.get("p90_ms", 0):.0f} ms | {lat.get("p99_ms", 0):.0f} ms | {lat.get("max_ms", 0):.0f} ms '
          f'| {r["lost"]} | {refused} | {r["heights"] / r["window_s"]:.1f} / {r["idle_heights_per_s"]:.1f} | {r["txs_per_block_mean"]:.0f} '
          f'| {cpu:.2f} | {rss:.0f} MiB | {disk:.0f} |')
EOF
