#!/usr/bin/env bash
# First end-to-end figures of a local four-validator network (BENCHMARKS.md):
# heights finalized in 20 s with no load, and the wall time of `accord tx propose --wait`.
#   scripts/e2e-latency.sh [path/to/accord]
set -u
cd "$(dirname "$0")/.."
A=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/debug/accord}
H=$(mktemp -d)/net
"$A" localnet --validators 4 --regions 2 --home "$H" --base-port 32000 --rpc-port 19800 > "$H.out" 2>&1 &
LN=$!
trap 'kill -INT $LN 2>/dev/null; wait $LN' EXIT
sleep 5
height() {
    curl -s -X POST -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"chain_getStatus","params":[]}' http://127.0.0.1:19800 |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["result"]["height"])'
}
h0=$(height); sleep 20; h1=$(height)
echo "heights in 20 s: $((h1 - h0))"
for i in 1 2 3 4 5 6 7 8; do
    s=$(date +%s%N)
    "$A" tx propose --draft docs/examples/draft-documentation.json --key "$H/keys/author.key" \
        --rpc "http://127.0.0.1:1980$((i % 4))" --wait > /dev/null || echo "submission $i failed"
    e=$(date +%s%N)
    echo "latency $(((e - s) / 1000000)) ms"
done
