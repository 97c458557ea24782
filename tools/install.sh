#!/usr/bin/env bash
# Install the course into .venv (created if missing), saying what each step does and roughly how long it takes.
#
#   bash tools/install.sh          # = course: the package, JupyterLab, the kernel, widgets, the course runner
#   bash tools/install.sh dev      # the course plus nbdev, pytest and Playwright, to change and test the course
#
# It installs the PyTorch builds the course is tested with. PyTorch is by far the largest part: on Linux pip's default
# build bundles CUDA (several GB). For a machine without an NVIDIA GPU, the CPU-only build is ~200 MB:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash tools/install.sh
# Other torch builds work too: see "Installing with your own PyTorch" in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=${1:-course}
case "$EXTRA" in
    course|dev) ;;
    *) echo "usage: bash tools/install.sh [course|dev]   ('$EXTRA' is neither)" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
TORCH_PINS=("torch==2.14.1" "torchvision==0.29.1")
T0=$SECONDS
step() { STEP_T0=$SECONDS; echo; echo "== [$1/3] $2"; }
took() { echo "   done in $((SECONDS - STEP_T0)) s"; }
# pip, showing its progress (Collecting / Downloading lines, and a progress bar on a terminal), without the noise
pip_install() {
    .venv/bin/python -m pip --disable-pip-version-check install "$@" 2>&1 \
        | { grep --line-buffered -v -e '^WARNING: Location' -e '^Requirement already satisfied' || true; }
}

step 1 "Python environment: .venv (a few seconds)"
if [ -x .venv/bin/python ]; then echo "   .venv exists: $(.venv/bin/python --version)"
else
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "Python 3.10 or newer is needed; $PY is $("$PY" --version 2>&1). Set PYTHON=python3.12 (or similar)." >&2; exit 1; }
    "$PY" -m venv .venv
fi
took

step 2 "PyTorch (${TORCH_PINS[*]})"
if .venv/bin/python -c "import torch, torchvision, sys; sys.exit(not (torch.__version__.split('+')[0] == '${TORCH_PINS[0]#torch==}' and torchvision.__version__.split('+')[0] == '${TORCH_PINS[1]#torchvision==}'))" 2>/dev/null; then
    echo "   already installed"
else
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
        echo "   from $TORCH_INDEX_URL: a CPU-only build is ~200 MB to download (about a minute)"
        pip_install "${TORCH_PINS[@]}" --index-url "$TORCH_INDEX_URL"
    else
        echo "   the largest step: on Linux the default build bundles CUDA, about 3 GB to download and 5.3 GB on disk,"
        echo "   3-10 minutes depending on your connection (it has not hung if the lines below stop for a while)."
        echo "   No NVIDIA GPU? Stop it (Ctrl-C) and rerun with TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"
        pip_install "${TORCH_PINS[@]}"
    fi
fi
took

if [ "$EXTRA" = dev ]; then
    step 3 "mnist_sgd with the course and development extras: fastai, JupyterLab, widgets, the runner, nbdev, pytest, Playwright (~1.2 GB on disk, 2-4 minutes; under a minute on top of the course)"
else
    step 3 "mnist_sgd with the course extra: fastai, JupyterLab, the kernel, widgets, the course runner (~1 GB on disk, 2-3 minutes)"
fi
pip_install -e ".[$EXTRA]" "${TORCH_PINS[@]}"
took

.venv/bin/python -W ignore - "$EXTRA" <<'PY'
import sys, importlib
import mnist_sgd, torch, fastai
extra = sys.argv[1]
names = ['jupyterlab', 'ipywidgets', 'nbclient'] + (['nbdev', 'pytest'] if extra == 'dev' else [])
versions = ', '.join(f'{n} {importlib.import_module(n).__version__}' for n in names)
print(f'\ninstalled mnist_sgd {mnist_sgd.__version__} [{extra}] with torch {torch.__version__}, fastai {fastai.__version__}, {versions}')
PY
echo "in $((SECONDS - T0)) s; .venv takes $(du -sh .venv 2>/dev/null | cut -f1) on disk."
echo "Next: .venv/bin/mnist-sgd lessons ~/mnist_course (clean copies of the lessons to work in), then .venv/bin/jupyter lab ~/mnist_course;"
echo "      .venv/bin/mnist-sgd course (every lesson, headless), .venv/bin/mnist-sgd doctor (checks this machine)"
