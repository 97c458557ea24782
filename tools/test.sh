#!/usr/bin/env bash
# Install with the development extra (tools/install.sh dev), then run every gate of the test suite, in order:
#   1. notebooks are clean        (nbdev-clean changes nothing)
#   2. the library is in sync     (nbdev-export changes nothing)
#   3. every notebook executes    (nbdev-test)
#   4. the package's own tests    (pytest: the wheel test, the browser tests, the real-size stand-in)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh dev
export PATH="$PWD/.venv/bin:$PATH"
# Nothing the tests download, extract or cache lands in ~/.fastai or the learner's answers file.
export FASTAI_HOME="${FASTAI_HOME_FOR_TESTS:-$(mktemp -d)}"
export MNIST_SGD_HOME="$FASTAI_HOME/mnist_sgd_home"
export PYTHONWARNINGS="ignore::FutureWarning"
# On a small machine the gates run several PyTorch processes at once (notebooks, kernels in the browser tests);
# one thread each keeps their thread pools from stalling one another.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
# A real browser for the browser tests: Debian's Chromium here (never a downloaded build); CI points
# MNIST_SGD_CHROMIUM at the Chrome its runner image has.
if [ -z "${MNIST_SGD_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium"
fi

snapshot() { find "$@" -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha1sum; }

echo "== 1/4 notebooks are clean (nbdev-clean)"
before=$(snapshot nbs); nbdev-clean; after=$(snapshot nbs)
if [ "$before" != "$after" ]; then
    echo "FAIL: nbdev-clean changed these notebooks (now cleaned in your tree; commit them):"
    diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "   ", $3}'; exit 1
fi
echo "== 2/4 the library is in sync with the notebooks (nbdev-export)"
before=$(snapshot mnist_sgd); nbdev-export; after=$(snapshot mnist_sgd)
if [ "$before" != "$after" ]; then
    echo "FAIL: nbdev-export changed these modules: the notebooks and mnist_sgd/ disagree (commit the exported files):"
    diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "   ", $3}'; exit 1
fi
echo "== 3/4 every notebook runs top to bottom (nbdev-test)"
nbdev-test --n-workers 2 --timing
echo "== 4/4 pytest"
python -m pytest -q "$@"
