#!/usr/bin/env bash
# Installs what building and testing accord needs, when it is missing:
#   - libclang (RocksDB's Rust bindings generate their FFI with bindgen),
#   - a C++ compiler (RocksDB itself),
#   - curl and python3 (the benchmark and load scripts talk to the nodes with them),
#   - cargo-nextest (the test runner).
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
