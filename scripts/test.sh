#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: prepares the Python reference
# tools the compatibility tests drive and tmux for the console test, then
# runs every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

# tests/console_tmux.rs runs the console in a real terminal under tmux.
if ! command -v tmux >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing tmux for the console test"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
    else
        echo "warning: tmux is not installed and cannot be installed here (needs root and apt-get);" >&2
        echo "         tests/console_tmux.rs will fail. Install tmux (e.g. sudo apt-get install tmux)." >&2
    fi
fi

venv="${GROUPDECK_VENV:-target/pyenv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export GROUPDECK_PY="$PWD/$venv/bin/python"

cargo test --locked --all-targets
