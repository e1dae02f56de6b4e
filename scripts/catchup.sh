#!/usr/bin/env bash
# How long a validator that stood still for PAUSE seconds takes to be back at the head:
# a fresh `accord localnet --preset bench`, optionally under `loadgen --rate RATE`;
# after 10 s its node us-2 is stopped with SIGSTOP (a frozen process: its peers see
# nothing from it) for PAUSE s, then resumed with SIGCONT; its height and eu-1's are
# read every 20 ms until us-2 has eu-1's height. Prints one JSON line.
#   scripts/catchup.sh [debug|release]
#   RATE=1000 PAUSE=30 scripts/catchup.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
LOADGEN=${LOADGEN:-$T/loadgen}
RATE=${RATE:-0}
PAUSE=${PAUSE:-30}
BASE_PORT=${BASE_PORT:-32000}
RPC_PORT=${RPC_PORT:-32100}
for binary in "$ACCORD" "$LOADGEN"; do
    [ -x "$binary" ] || { echo "catchup: $binary is missing; build it first" >&2; exit 1; }
done
sync
H=$(mktemp -d)/net
"$ACCORD" localnet --preset bench --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" \
    > "$H.out" 2>&1 &
LN=$!
LG=
cleanup() {
    [ -n "$LG" ] && kill "$LG" 2>/dev/null || true
    pkill -CONT -f "accord run --home $H/nodes/us-2" 2>/dev/null || true
    kill -INT "$LN" 2>/dev/null || true
    wait "$LN" 2>/dev/null || true
    rm -rf "$(dirname "$H")"
}
trap cleanup EXIT
until [ -f "$H/localnet.json" ] && curl -s -o /dev/null "http://127.0.0.1:$((RPC_PORT + 3))"; do
    kill -0 "$LN" 2>/dev/null || { cat "$H.out" >&2; exit 1; }
    sleep 1
done
sleep 3
if [ "$RATE" != 0 ]; then
    "$LOADGEN" --home "$H" --rate "$RATE" --duration $((PAUSE + 60)) --warmup 1 --drain 5 \
        > "$H.loadgen" 2>&1 &
    LG=$!
fi
sleep 10
PID=$(pgrep -f "accord run --home $H/nodes/us-2")
kill -STOP "$PID"
sleep "$PAUSE"
python3 - "$PID" "$RPC_PORT" "$PAUSE" "$RATE" <<'EOF'
import http.client, json, os, signal, sys, time

pid, port, pause, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def height(p):
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=2)
    c.request("POST", "/", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chain_getStatus", "params": []}),
              {"content-type": "application/json"})
    h = json.loads(c.getresponse().read())["result"]["height"]
    c.close()
    return h

head_at_stop_end = height(port)
resumed = time.monotonic()
os.kill(pid, signal.SIGCONT)
behind = None
while True:
    try:
        mine = height(port + 3)
    except Exception:
        mine = None
    head = height(port)
    if behind is None and mine is not None:
        behind = head - mine
    if mine is not None and mine >= head:
        break
    if time.monotonic() - resumed > 120:
        print(json.dumps({"error": "not back at the head within 120 s", "height": mine, "head": head}))
        sys.exit(1)
    time.sleep(0.02)
print(json.dumps({
    "paused_s": pause,
    "rate": rate,
    "heights_behind_at_resume": behind,
    "back_at_head_s": round(time.monotonic() - resumed, 3),
    "head": head,
}))
EOF
