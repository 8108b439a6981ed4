#!/usr/bin/env bash
# The device check on a fresh GPU machine without network, in one command:
#
#   bash benchmarks/device_check.sh OUT_DIR [device_check.py options]
#
# 1. installs the wheels of .whl/ (Python 3.12 wheels of ale-py, gymnasium, rliable, minatar) into a scratch folder,
# 2. builds the C++ search tree in place for this machine's Python,
# 3. runs benchmarks/device_check.py with the budget $DEVICE_CHECK_BUDGET (default 480 s), under
#    a hard limit 30 s longer that only a hang reaches: the script keeps its own deadline.
#
# OUT_DIR receives device_check.json, device_check.md and the build log.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: bash benchmarks/device_check.sh OUT_DIR [device_check.py options]" >&2
  exit 2
fi
OUT=$1
shift
PYTHON=${PYTHON:-python3}
BUDGET=${DEVICE_CHECK_BUDGET:-480}
mkdir -p "$OUT"
SITE=$(mktemp -d -t device-check-site.XXXXXX)
trap 'rm -rf "$SITE"' EXIT
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
else
  echo "no wheels in .whl/: using the packages already installed" >&2
fi
if ! "$PYTHON" setup.py build_ext --inplace >"$OUT/build.log" 2>&1; then
  tail -n 20 "$OUT/build.log" >&2
  echo "building the search tree failed; the whole log is in $OUT/build.log" >&2
  exit 1
fi
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
timeout --kill-after=10 $((BUDGET + 30)) "$PYTHON" benchmarks/device_check.py --budget "$BUDGET" --out "$OUT" "$@"
