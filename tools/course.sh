#!/usr/bin/env bash
# Install the course (tools/install.sh course), then run every lesson headless: each notebook in a fresh Jupyter kernel,
# on the embedded offline data unless you ask for another source, with a line per lesson and a results table at the end.
# Extra arguments go to `mnist-sgd course` (e.g. --only 02,04  --source auto  --html site/). See `mnist-sgd course --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh course
echo
echo "== running the course"
exec .venv/bin/mnist-sgd course "$@"
