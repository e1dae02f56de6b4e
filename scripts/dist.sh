#!/usr/bin/env bash
# `make dist`: the binaries an operator installs — accord and accord-agent built in
# release, stripped, each with its debug symbols kept apart in NAME.debug and found
# through the binary's .gnu_debuglink (gdb, perf and addr2line look for it beside the
# binary or under /usr/lib/debug), plus SHA256SUMS.
#   scripts/dist.sh [OUT]          default OUT: dist/
# FROM=DIR skips the build and strips the binaries found in DIR instead.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist}
T=${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}
FROM=${FROM:-}
if [ -z "$FROM" ]; then
    cargo build --release --locked -p accord-node -p accord-agent --bins
    FROM=$T/release
fi
command -v objcopy >/dev/null 2>&1 || { echo "dist: objcopy (binutils) is missing" >&2; exit 1; }
mkdir -p "$OUT"
for bin in accord accord-agent; do
    [ -x "$FROM/$bin" ] || { echo "dist: $FROM/$bin is not built" >&2; exit 1; }
    cp "$FROM/$bin" "$OUT/$bin.tmp"
    objcopy --only-keep-debug "$OUT/$bin.tmp" "$OUT/$bin.debug"
    chmod 0644 "$OUT/$bin.debug"
    objcopy --strip-debug --strip-unneeded "$OUT/$bin.tmp"
    # The link names the symbol file by its base name (and its checksum).
    (cd "$OUT" && objcopy --add-gnu-debuglink="$bin.debug" "$bin.tmp" && mv "$bin.tmp" "$bin")
done
(cd "$OUT" && sha256sum accord accord-agent accord.debug accord-agent.debug > SHA256SUMS)
for f in accord accord-agent accord.debug accord-agent.debug; do
    printf '%-20s %6s MB\n' "$f" "$(( $(stat -c %s "$OUT/$f") / 1000000 ))"
done
echo "in $OUT (SHA256SUMS beside them)"
