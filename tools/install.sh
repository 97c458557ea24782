#!/usr/bin/env bash
# Create .venv (if missing) and install mnist_sgd with its test tools, using the PyTorch builds the course is tested with.
# Other torch builds work too: see "Installing with your own PyTorch" in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
pip_quiet() { # pip, with its per-index "Location ... is ignored" noise filtered out; fails when pip fails
    local log; log=$(mktemp)
    if ! .venv/bin/python -m pip --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v "^WARNING: Location" "$log" >&2; rm -f "$log"; return 1
    fi
    grep -v "^WARNING: Location" "$log" | grep -v "^\s*$" | tail -n 3 || true; rm -f "$log"
}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_quiet install --quiet "torch==2.14.1" "torchvision==0.29.1" -e ".[dev]"
.venv/bin/python -W ignore -c "import mnist_sgd, torch, fastai, nbdev; print(f'installed mnist_sgd {mnist_sgd.__version__} with torch {torch.__version__}, fastai {fastai.__version__}, nbdev {nbdev.__version__}')"
