#!/usr/bin/env bash
# How long a validator that was out for PAUSE seconds takes to be back at the head: a
# fresh `accord localnet --preset bench`, optionally under `loadgen --rate RATE`; after
# 10 s its node NODE (us-2) is taken out for PAUSE s, then brought back, and its height
# and the head's (eu-1's) are read every 20 ms until it has the head's height.
#   MODE=freeze   SIGSTOP, then SIGCONT: a frozen process, its peers hear nothing from it
#   MODE=restart  the process is stopped (SIGNAL: TERM, or KILL for a crash), then
#                 started again with the command line localnet gave it; the time runs
#                 from the relaunch, and includes opening its database and dialing peers
# Under load, loadgen sends nothing to NODE (--exclude-node) unless LOAD_ON_STOPPED=1,
# so the figure is the node's own catch-up, not a backlog of submissions queued for it.
# Prints one JSON line.
#   scripts/catchup.sh [debug|release]
#   RATE=1000 PAUSE=30 MODE=restart scripts/catchup.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
RATE=${RATE:-0}
PAUSE=${PAUSE:-30}
MODE=${MODE:-freeze}
SIGNAL=${SIGNAL:-TERM}
NODE=${NODE:-us-2}
HEAD_NODE=${HEAD_NODE:-eu-1}
LOAD_ON_STOPPED=${LOAD_ON_STOPPED:-0}
case "$MODE" in freeze | restart) ;; *) echo "catchup: MODE is freeze or restart" >&2; exit 1 ;; esac
source scripts/bench-lib.sh

LG=
PID=
RESTARTED=
cleanup() {
    [ -n "$LG" ] && kill "$LG" 2>/dev/null || true
    [ -n "$PID" ] && [ "$MODE" = freeze ] && kill -CONT "$PID" 2>/dev/null || true
    if [ -n "$H" ] && [ -s "$H.restarted" ]; then
        RESTARTED=$(cat "$H.restarted")
        kill -TERM "$RESTARTED" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$RESTARTED" 2>/dev/null || break; sleep 0.1; done
    fi
    net_stop
}
trap cleanup EXIT
net_start
sleep 3
if [ "$RATE" != 0 ]; then
    exclude=(--exclude-node "$NODE")
    [ "$LOAD_ON_STOPPED" = 1 ] && exclude=()
    "$LOADGEN" --home "$H" --rate "$RATE" --duration $((PAUSE + 120)) --warmup 1 --drain 5 \
        "${exclude[@]}" > "$H.loadgen" 2>&1 &
    LG=$!
    wait_line "$H.loadgen" 'measured window runs' "$LG" > /dev/null
fi
sleep 10
PID=$(node_pid "$NODE")
mapfile -d "" -t CMD < "/proc/$PID/cmdline"
if [ "$MODE" = freeze ]; then
    kill -STOP "$PID"
else
    kill "-$SIGNAL" "$PID"
    # localnet reaps it and says so; the pause runs from then.
    wait_line "$H.out" "^$NODE exited" "$LN" > /dev/null
fi
sleep "$PAUSE"
python3 - "$MODE" "$PID" "$(node_port "$HEAD_NODE")" "$(node_port "$NODE")" "$PAUSE" "$RATE" \
    "$SIGNAL" "$H/nodes/$NODE/node.log" "$H.restarted" "$NODE" "${CMD[@]}" <<'EOF'
import http.client, json, os, signal, subprocess, sys, time

mode, pid, head_port, port, pause, rate, sig, log, pid_file, node = sys.argv[1:11]
command = sys.argv[11:]

def height(p):
    c = http.client.HTTPConnection("127.0.0.1", int(p), timeout=2)
    c.request("POST", "/", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chain_getStatus", "params": []}),
              {"content-type": "application/json"})
    h = json.loads(c.getresponse().read())["result"]["height"]
    c.close()
    return h

resumed = time.monotonic()
if mode == "freeze":
    os.kill(int(pid), signal.SIGCONT)
else:
    with open(log, "ab") as out:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    with open(pid_file, "w") as f:
        f.write(str(child.pid))
behind = None
answered = None
while True:
    try:
        mine = height(port)
    except Exception:
        mine = None
    head = height(head_port)
    if mine is not None and answered is None:
        answered = time.monotonic() - resumed
        behind = head - mine
    if mine is not None and mine >= head:
        break
    if time.monotonic() - resumed > 180:
        print(json.dumps({"error": "not back at the head within 180 s", "height": mine, "head": head}))
        sys.exit(1)
    time.sleep(0.02)
print(json.dumps({
    "scenario": "catchup",
    "mode": mode,
    "node": node,
    "signal": sig if mode == "restart" else "STOP",
    "paused_s": int(pause),
    "rate": float(rate),
    "heights_behind_at_resume": behind,
    "rpc_answers_after_s": round(answered, 3),
    "back_at_head_s": round(time.monotonic() - resumed, 3),
    "head": head,
}))
EOF
