#!/usr/bin/env bash
# Install (tools/install.sh), then run the whole course headless: every notebook in a fresh Jupyter kernel,
# on the embedded offline data unless you ask for another source. Extra arguments go to `mnist-sgd course`
# (e.g. --only 02,04  --source auto  --html site/). See `mnist-sgd course --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
exec .venv/bin/mnist-sgd course "$@"
