#!/usr/bin/env bash
# `make demo`: a local network of four validators in eu and us, one deploy agent per
# region, and the story of one change told as it happens: a phased model deployment is
# proposed, voted in both regions, queued, executed phase by phase by both agents, and
# ends with their receipts on chain. The agents' commands only print what they would
# deploy. Everything is stopped at the end; the logs stay in the printed directory.
#   scripts/demo.sh [release|debug]
set -eu
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/$PROFILE
ACCORD=${ACCORD:-$T/accord}
AGENT=${AGENT:-$T/accord-agent}
BASE_PORT=${BASE_PORT:-32000}
RPC_PORT=${RPC_PORT:-32100}
W=$(mktemp -d /tmp/accord-demo.XXXXXX)
H=$W/net

say() { printf '\n== %s\n' "$*"; }

"$ACCORD" localnet --validators 4 --regions 2 --home "$H" --base-port "$BASE_PORT" --rpc-port "$RPC_PORT" > "$W/localnet.log" 2>&1 &
LN=$!
AGENTS=()
cleanup() {
    for a in "${AGENTS[@]}"; do kill "$a" 2>/dev/null || true; done
    kill -INT $LN 2>/dev/null || true
    wait $LN 2>/dev/null || true
}
trap cleanup EXIT
say "Starting four validators (eu-1, us-1, eu-2, us-2) on loopback; logs in $W"
until curl -sf "http://127.0.0.1:$RPC_PORT/ready" > /dev/null 2>&1; do
    kill -0 $LN 2>/dev/null || { cat "$W/localnet.log"; exit 1; }
    sleep 1
done
echo "RPC of eu-1: http://127.0.0.1:$RPC_PORT (the others follow: $((RPC_PORT + 1)), …)"

say "Starting a deploy agent per region (their commands print what they would deploy)"
i=0
for region in eu us; do
    mkdir -p "$W/$region"
    cat > "$W/$region/agent.toml" <<TOML
rpc = ["ws://127.0.0.1:$((RPC_PORT + i))", "ws://127.0.0.1:$((RPC_PORT + i + 2))"]
key = "$H/keys/$region-agent.key"
region = "$region"
chain_spec = "$H/spec.json"
state_dir = "state"
metrics_listen = "127.0.0.1:$((RPC_PORT + 50 + i))"

[actions.default]
command = ["/bin/sh", "-c", "echo \"would deploy \$ACCORD_SUB_KIND to \$ACCORD_PERCENTAGE % of \$ACCORD_REGION (proposal \$ACCORD_PROPOSAL_ID, phase \$ACCORD_PHASE)\" | tee -a deployments.txt"]
TOML
    "$AGENT" --config "$W/$region/agent.toml" > "$W/$region/agent.log" 2>&1 &
    AGENTS+=($!)
    echo "$region agent: config $W/$region/agent.toml, metrics http://127.0.0.1:$((RPC_PORT + 50 + i))/metrics"
    i=$((i + 1))
done

RPC=http://127.0.0.1:$RPC_PORT
say "The author proposes docs/examples/draft-model-deployment.json (eu and us; phases 10, 50, 100 %)"
"$ACCORD" tx propose --draft docs/examples/draft-model-deployment.json \
    --key "$H/keys/author.key" --rpc "$RPC" --wait | sed 's/^/  /'

say "Each region's voters vote yes, each through another node"
n=0
for voter in eu-voter-1:eu eu-voter-2:eu us-voter-1:us us-voter-2:us; do
    port=$((RPC_PORT + n % 4))
    echo "${voter%%:*} votes for ${voter#*:} through 127.0.0.1:$port"
    "$ACCORD" tx vote --proposal 1 --region "${voter#*:}" --choice yes \
        --key "$H/keys/${voter%%:*}.key" --rpc "http://127.0.0.1:$port" --wait \
        | grep 'finalized at height' | sed 's/^/  /'
    n=$((n + 1))
done

python3 - "$RPC" "$W" <<'PY'
import json, sys, time, urllib.request

rpc, work = sys.argv[1], sys.argv[2]

def call(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(rpc, body.encode(), {"content-type": "application/json"})
    answer = json.load(urllib.request.urlopen(req))
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']['message']}")
    return answer["result"]

view = call("gov_getTally", 1)
print(f"\n== The tally, region by region (votes count until height {view['voting_ends']})")
for t in view["regions"]:
    v = t["tally"]
    print(f"  {t['region']}: {v['yes']} yes, {v['no']} no, {v['abstain']} abstain, {v['veto']} veto "
          f"of {t['voters']} voters; quorum reached: {t['quorum_reached']}, "
          f"threshold reached: {t['threshold_reached']}, vetoed: {t['vetoed']}")
print(f"  passing in every region: {view['passing']}")

print("\n== Following the chain until the change is done (heights are block heights)")
after, deadline, done = None, time.time() + 300, False
while not done and time.time() < deadline:
    page = call("gov_getEvents", {"proposals": [1]}, after, 200)
    for view in page["events"]:
        after = view["cursor"]
        height = str(view["cursor"]).split(":")[0]
        e = view["event"]
        kind = e["type"]
        if kind == "status_changed":
            status = e["status"]["status"] + (f" {e['status']['phase']}" if "phase" in e["status"] else "")
            print(f"  height {height}: status {status} — {e['reason']}")
            done = e["status"]["status"] in ("succeeded", "failed", "rolled_back", "rejected", "expired", "cancelled")
        elif kind == "execution_requested":
            print(f"  height {height}: {e['region']} is asked to run phase {e['phase']}")
        elif kind == "execution_claimed":
            print(f"  height {height}: the {e['region']} agent claims phase {e['phase']} (lease to height {e['lease_expires']})")
        elif kind == "execution_reported":
            print(f"  height {height}: the {e['region']} agent reports phase {e['phase']}: {e['outcome']['type']}")
    if not page["events"]:
        time.sleep(0.5)

print("\n== What the agents ran")
for region in ("eu", "us"):
    try:
        for line in open(f"{work}/{region}/deployments.txt"):
            print(f"  {region}: {line.rstrip()}")
    except FileNotFoundError:
        print(f"  {region}: nothing")
PY

say "Where to look next (this network stops with the script)"
cat <<TEXT
  - the agents' logs and state:   $W/eu, $W/us (docs/AGENT.md explains them)
  - the nodes' logs:              $H/nodes/*/node.log
  - a network that stays up:      make run, then for example
      curl -s -H 'content-type: application/json' http://127.0.0.1:9944 -d '{"jsonrpc":"2.0","id":1,"method":"chain_getStatus","params":[]}'
  - the API:                      docs/RPC.md; agents for your own network: README "The deploy agent"
TEXT
