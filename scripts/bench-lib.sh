# Sourced by the benchmark scripts: the binaries of a build profile, a fresh
# `accord localnet --preset bench` (four validators in two regions, 1,000 voters) on
# loopback, and reading its nodes. Set PROFILE before sourcing; ACCORD, LOADGEN,
# BASE_PORT and RPC_PORT may be set in the environment; COMMIT_MS, when set, is the
# network's pause after an empty block (`accord localnet --commit-ms`).
#   net_start          start a fresh network; sets H (its home) and LN (localnet's pid)
#   net_stop           stop it (SIGINT, as Ctrl-C) and remove its home
#   height PORT        the finalized height of the node whose RPC port is PORT
#   phases PORT        the node's accord_consensus_height_phase_seconds sums and
#                      counts so far, as JSON ({"decide": [sum_s, count], …})
#   node_port NAME     a validator's RPC port
#   node_pid NAME      the pid of a validator's `accord run` process
#   wait_line FILE RE [PID]  wait (up to 120 s, or while PID runs) for a line of FILE
#                      matching RE; print it

T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
LOADGEN=${LOADGEN:-$T/loadgen}
BASE_PORT=${BASE_PORT:-32000}
RPC_PORT=${RPC_PORT:-32100}
LN=
H=

for binary in "$ACCORD" "$LOADGEN"; do
    if [ ! -x "$binary" ]; then
        echo "$(basename "$0"): $binary is missing; build it first (cargo build --$PROFILE -p accord-node -p accord-benches --bins, or make bench)" >&2
        exit 1
    fi
done

height() {
    curl -sf -m 2 -X POST -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"chain_getStatus","params":[]}' \
        "http://127.0.0.1:$1" |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["result"]["height"])'
}

phases() {
    curl -sf -m 5 "http://127.0.0.1:$1/metrics" | python3 -c '
import json, re, sys
out = {}
for line in sys.stdin:
    m = re.match(r"accord_consensus_height_phase_seconds_(sum|count)\{phase=\"(\w+)\"\} (\S+)", line)
    if m:
        entry = out.setdefault(m[2], [0.0, 0])
        if m[1] == "sum":
            entry[0] = float(m[3])
        else:
            entry[1] = int(float(m[3]))
print(json.dumps(out))'
}

net_start() {
    # Another network on these ports would answer for ours.
    if ! python3 - "$BASE_PORT" "$RPC_PORT" <<'EOF'
import socket, sys
for first in map(int, sys.argv[1:]):
    for port in range(first, first + 4):
        with socket.socket() as s:
            # Connections of the run before, still in TIME_WAIT, do not hold the port.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                sys.exit(f"port {port} is in use: set BASE_PORT and RPC_PORT to free ones")
EOF
    then
        exit 1
    fi
    # Nothing left to write back from a build or the run before: a node's fsync would
    # wait behind it.
    sync
    H=$(mktemp -d)/net
    "$ACCORD" localnet --preset bench --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" \
        ${COMMIT_MS:+--commit-ms "$COMMIT_MS"} > "$H.out" 2>&1 &
    LN=$!
    local deadline=$((SECONDS + 120)) i
    for i in 0 1 2 3; do
        until [ "$(height $((RPC_PORT + i)) 2>/dev/null || echo 0)" -ge 1 ]; do
            if ! kill -0 "$LN" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
                echo "$(basename "$0"): the network did not start:" >&2
                cat "$H.out" >&2
                exit 1
            fi
            sleep 0.5
        done
    done
}

net_stop() {
    if [ -n "$LN" ]; then
        kill -INT "$LN" 2>/dev/null || true
        wait "$LN" 2>/dev/null || true
        LN=
    fi
    if [ -n "$H" ]; then
        rm -rf "$(dirname "$H")"
        H=
    fi
}

node_port() {
    python3 - "$H/spec.json" "$1" "$RPC_PORT" <<'EOF'
import json, sys
names = [v["name"] for v in json.load(open(sys.argv[1]))["validators"]]
print(int(sys.argv[3]) + names.index(sys.argv[2]))
EOF
}

node_pid() {
    pgrep -f "accord run --home $H/nodes/$1\$"
}

wait_line() {
    local deadline=$((SECONDS + 120))
    until grep -m1 -E "$2" "$1" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ] || { [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; }; then
            echo "$(basename "$0"): no line matching '$2' in $1:" >&2
            tail -20 "$1" >&2
            return 1
        fi
        sleep 0.2
    done
}
