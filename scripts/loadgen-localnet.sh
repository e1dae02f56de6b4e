#!/usr/bin/env bash
# Figures of BENCHMARKS.md "Node under load": a fresh four-validator local network,
# its heights per second with no load for 20 s, then loadgen for DURATION seconds after
# WARMUP seconds of warm-up, with the CPU time the nodes and loadgen used during it.
# Extra arguments go to loadgen (e.g. --in-flight 16, --json).
#   scripts/loadgen-localnet.sh [debug|release] [loadgen args…]
set -u
cd "$(dirname "$0")/.."
PROFILE=${1:-debug}
shift || true
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
LOADGEN=${LOADGEN:-$T/loadgen}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-10}
BASE_PORT=${BASE_PORT:-31000}
RPC_PORT=${RPC_PORT:-31100}
H=$(mktemp -d)/net
"$ACCORD" localnet --validators 4 --regions 2 --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" > "$H.out" 2>&1 &
LN=$!
trap 'kill -INT $LN 2>/dev/null; wait $LN' EXIT
height() {
    curl -s -X POST -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"chain_getStatus","params":[]}' "http://127.0.0.1:$RPC_PORT" |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["result"]["height"])'
}
until height > /dev/null 2>&1; do sleep 1; done
sleep 5
h0=$(height); sleep 20; h1=$(height)
echo "no load: $((h1 - h0)) heights in 20 s"
# CPU seconds (user + system) of the four `accord run` children of localnet.
nodes_cpu() { ps -o cputimes= --ppid "$LN" | awk '{ s += $1 } END { print s }'; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
c0=$(nodes_cpu); t0=$(date +%s)
/usr/bin/time -f "loadgen used %U s user + %S s system CPU in %e s" \
    "$LOADGEN" --home "$H" --duration "$DURATION" --warmup "$WARMUP" "$@"
c1=$(nodes_cpu); t1=$(date +%s)
echo "the nodes used $((c1 - c0)) s CPU in $((t1 - t0)) s"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
