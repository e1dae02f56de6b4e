#!/usr/bin/env bash
# The open-loop benchmark of BENCHMARKS.md: for each rate of RATES, a fresh
# `accord localnet --preset bench` (four validators in two regions, 1,000 voters), its
# heights per second with no load, then `loadgen --rate R` (WARMUP s of warm-up, a
# DURATION s window). Each run's JSON report goes to OUT (one line per rate, the no-load
# heights and the first node's mean time in each phase of a height under load added); a
# Markdown table of them is printed at the end.
#   scripts/bench.sh [debug|release] [loadgen args…]
#   RATES="250 500 1000" DURATION=20 WARMUP=5 scripts/bench.sh debug
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
shift || true
RATES=${RATES:-250 500 1000 2000 4000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
IDLE=${IDLE:-10}
source scripts/bench-lib.sh
OUT=${OUT:-$T/bench/open-loop-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
trap net_stop EXIT

for rate in $RATES; do
    net_start
    sleep 3
    h0=$(height "$RPC_PORT"); sleep "$IDLE"; h1=$(height "$RPC_PORT")
    echo "bench: rate $rate: $(( (h1 - h0) )) heights in $IDLE s with no load" >&2
    p0=$(phases "$RPC_PORT" || echo '{}')
    "$LOADGEN" --home "$H" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" --json "$@" \
        > "$H.json"
    p1=$(phases "$RPC_PORT" || echo '{}')
    python3 - "$H.json" "$(( h1 - h0 ))" "$IDLE" "$PROFILE" "$p0" "$p1" >> "$OUT" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
report["scenario"] = "sweep"
report["idle_heights_per_s"] = int(sys.argv[2]) / int(sys.argv[3])
report["profile"] = sys.argv[4]
# The first node's heights under load (warm-up included): each phase's mean and count.
before, after = json.loads(sys.argv[5]), json.loads(sys.argv[6])
phases = {}
for phase, (total, count) in after.items():
    total0, count0 = before.get(phase, [0.0, 0])
    if count > count0:
        phases[phase] = {"mean_ms": 1000 * (total - total0) / (count - count0), "count": count - count0}
report["height_phases"] = phases
print(json.dumps(report))
EOF
    net_stop
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
