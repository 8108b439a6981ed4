#!/usr/bin/env bash
# Fills .whl/ (at the repository root) with the wheels a bare GPU machine lacks, for its Python:
# it has torch, numpy, scipy, pandas, matplotlib, h5py, Cython and click but no network. These are
# the Atari emulator and gymnasium (the device check needs them), and MinAtar and rliable with
# their own dependencies (the rest of the suite). Run it where pip can reach the package index:
#
#   bash benchmarks/device_wheels.sh [PYTHON_VERSION]     # default 3.12
#
# benchmarks/device_check.sh installs them there with --no-deps, so only these packages change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY_VERSION=${1:-3.12}
PYTHON=${PYTHON:-python3}
# The versions this project is tested with.
PACKAGES=(
  ale-py==0.12.1 gymnasium==1.4.0 farama-notifications==0.0.6 cloudpickle==3.1.3
  minatar==1.0.15 rliable==1.2.0 arch==7.2.0 statsmodels==0.15.0 patsy==1.0.3 absl-py==2.5.1 seaborn==0.13.2
)
mkdir -p .whl
"$PYTHON" -m pip download --quiet --dest .whl --only-binary=:all: --no-deps --python-version "$PY_VERSION" \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 "${PACKAGES[@]}"
ls .whl
