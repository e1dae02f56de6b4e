#!/usr/bin/env bash
# Figures of BENCHMARKS.md "Deploy agent latency": a fresh four-validator local network,
# one accord-agent per region running a command that only prints, and the
# model-deployment example (eu and us, phases of 10, 50 and 100 %) proposed and voted.
# For every region and phase it prints how long the agent took from the block that
# requested the execution to starting the command (the request finalized, proven, the
# claim final), and from the command's end to seeing its receipt final.
#   scripts/agent-latency.sh [debug|release]
set -eu
cd "$(dirname "$0")/.."
PROFILE=${1:-debug}
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
AGENT=${AGENT:-$T/accord-agent}
BASE_PORT=${BASE_PORT:-31400}
RPC_PORT=${RPC_PORT:-31500}
W=$(mktemp -d)
H=$W/net
"$ACCORD" localnet --validators 4 --regions 2 --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" > "$W/localnet.out" 2>&1 &
LN=$!
AGENTS=()
cleanup() {
    for a in "${AGENTS[@]}"; do kill "$a" 2>/dev/null || true; done
    kill -INT $LN 2>/dev/null || true
    wait $LN 2>/dev/null || true
}
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$RPC_PORT/ready" > /dev/null 2>&1; do sleep 1; done

# One agent per region, on the first node of its region (localnet alternates regions).
i=0
for region in eu us; do
    mkdir -p "$W/$region"
    cat > "$W/$region/agent.toml" <<TOML
rpc = ["ws://127.0.0.1:$((RPC_PORT + i))"]
key = "$H/keys/$region-agent.key"
region = "$region"
chain_spec = "$H/spec.json"
state_dir = "state"
metrics_listen = "off"
poll_interval_ms = 100

[actions.default]
command = ["/bin/sh", "-c", "echo deploying phase \$ACCORD_PHASE in \$ACCORD_REGION"]
TOML
    "$AGENT" --config "$W/$region/agent.toml" > "$W/$region/agent.log" 2>&1 &
    AGENTS+=($!)
    i=$((i + 1))
done

RPC=http://127.0.0.1:$RPC_PORT
"$ACCORD" tx propose --draft docs/examples/draft-model-deployment.json \
    --key "$H/keys/author.key" --rpc "$RPC" --wait > "$W/propose.out"
n=0
for voter in eu-voter-1:eu eu-voter-2:eu us-voter-1:us us-voter-2:us; do
    "$ACCORD" tx vote --proposal 1 --region "${voter#*:}" --choice yes \
        --key "$H/keys/${voter%%:*}.key" --rpc "http://127.0.0.1:$((RPC_PORT + n % 4))" --wait > /dev/null
    n=$((n + 1))
done

python3 - "$RPC" "$W" <<'PY'
import json, re, statistics, sys, time, urllib.request
from datetime import datetime

rpc, work = sys.argv[1], sys.argv[2]

def call(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(rpc, body.encode(), {"content-type": "application/json"})
    answer = json.load(urllib.request.urlopen(req))
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']}")
    return answer["result"]

deadline = time.time() + 300
while True:
    status = call("gov_getProposal", 1)["state"]["status"]["status"]
    if status == "succeeded":
        break
    if status in ("failed", "rolled_back", "rejected", "expired") or time.time() > deadline:
        raise SystemExit(f"proposal 1 ended {status}")
    time.sleep(0.5)

def events(kind):
    page = call("gov_getEvents", {"types": [kind], "proposals": [1]}, None, 1000)
    return page["events"]

requested = {}
for view in events("execution_requested"):
    e = view["event"]
    height = int(str(view["cursor"]).split(":")[0])
    header = call("chain_getHeader", height)
    requested[(e["region"], e["phase"])] = int(str(header["header"]["timestamp"]))

# When each agent saw its report final: its log line, in its own clock.
seen = {}
pattern = re.compile(r"^(\S+)\s+INFO .*execution finished proposal=1 phase=(\d+) task=Apply")
for region in ("eu", "us"):
    for line in open(f"{work}/{region}/agent.log"):
        m = pattern.match(re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m:
            t = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
            seen[(region, int(m.group(2)))] = int(t * 1000)

rows = []
for view in events("execution_reported"):
    e = view["event"]
    tx = call("chain_getTransaction", view["transaction"])
    report = tx["transaction"]["payload"]["report"]
    key = (e["region"], e["phase"])
    started, finished = int(str(report["started_at"])), int(str(report["finished_at"]))
    rows.append((key, started - requested[key], finished - started, seen[key] - finished))

print("region phase  request->command start  command  command end->receipt final (ms)")
for (region, phase), a, b, c in sorted(rows):
    print(f"{region:>6} {phase:>5}  {a:>22}  {b:>7}  {c:>27}")
for name, i in (("request->command start", 1), ("command end->receipt final", 3)):
    values = [r[i] for r in rows]
    print(f"median {name}: {statistics.median(values):.0f} ms (min {min(values)}, max {max(values)}, n={len(values)})")
PY
