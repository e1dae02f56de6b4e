#!/usr/bin/env bash
# Installs what building and testing accord needs, when it is missing:
#   - libclang (RocksDB's Rust bindings generate their FFI with bindgen),
#   - a C++ compiler (RocksDB itself),
#   - curl and python3 (the benchmark and load scripts talk to the nodes with them),
#   - valgrind (the instruction-count gate, scripts/instructions.sh),
#   - cargo-nextest (the test runner).
# With `bench`: also matplotlib for the benchmark charts, in a virtual environment under
# the target directory (python3-venv through apt-get when Python cannot make one).
#   scripts/install-deps.sh [bench]
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
# clang-sys looks for libclang.so, libclang-N.so or libclang.so.N (not libclang-cpp).
if ! { ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so'; } \
    && ! compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null; then
    missing+=(libclang-dev)
fi
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "${1:-}" = bench ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "install-deps: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi

if [ "${1:-}" = bench ]; then
    venv=${BENCH_VENV:-${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/bench-venv}
    if ! "$venv/bin/python" -c 'import matplotlib' >/dev/null 2>&1; then
        echo "install-deps: installing matplotlib in $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet matplotlib ||
            echo "install-deps: matplotlib did not install; the benchmarks run without their chart" >&2
    fi
fi
