#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: prepares the Python reference
# tools the compatibility tests drive, then runs every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${GROUPDECK_VENV:-target/pyenv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export GROUPDECK_PY="$PWD/$venv/bin/python"

cargo test --locked --all-targets
