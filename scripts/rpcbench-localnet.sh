#!/usr/bin/env bash
# Figures of BENCHMARKS.md "The API": a fresh four-validator local network, then
# rpcbench (100 subscribers of one event stream, then chain_getBlock and
# gov_getProposal from 16 concurrent clients). Extra arguments go to rpcbench.
#   scripts/rpcbench-localnet.sh [debug|release] [rpcbench args…]
set -u
cd "$(dirname "$0")/.."
PROFILE=${1:-debug}
shift || true
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
RPCBENCH=${RPCBENCH:-$T/rpcbench}
BASE_PORT=${BASE_PORT:-31000}
RPC_PORT=${RPC_PORT:-31100}
H=$(mktemp -d)/net
"$ACCORD" localnet --validators 4 --regions 2 --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" > "$H.out" 2>&1 &
LN=$!
trap 'kill -INT $LN 2>/dev/null; wait $LN' EXIT
until curl -sf "http://127.0.0.1:$RPC_PORT/ready" > /dev/null 2>&1; do sleep 1; done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "rpcbench used %U s user + %S s system CPU in %e s" "$RPCBENCH" --home "$H" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
