#!/usr/bin/env bash
# The instruction-count gate (TESTING.md, "Instruction counts"): builds accord-instructions
# in the `instructions` profile (release code generation; the pure crates and the node's
# mempool sources, no RocksDB), counts each scenario's instructions under Valgrind's
# callgrind, prints them against instructions/baseline.json, and fails when one grew
# more than THRESHOLD percent.
#
#   scripts/instructions.sh                          every scenario, threshold 20 %
#   THRESHOLD=10 scripts/instructions.sh             another threshold
#   UPDATE=1 scripts/instructions.sh                 write the counts as the new baseline
#   scripts/instructions.sh mempool_admit_256_txs    some scenarios only
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}"
THRESHOLD="${THRESHOLD:-20}"
UPDATE="${UPDATE:-0}"

if ! command -v valgrind >/dev/null 2>&1; then
    echo "instructions: valgrind is missing (scripts/install-deps.sh installs it)" >&2
    exit 2
fi

cargo build --profile instructions -p accord-instructions

args=(gate --baseline instructions/baseline.json --threshold "$THRESHOLD")
if [ "$UPDATE" = 1 ]; then
    args+=(--update)
fi
exec "$CARGO_TARGET_DIR/instructions/accord-instructions" "${args[@]}" "$@"
