#!/usr/bin/env bash
# Installs prmlab and its dependencies on a fresh machine (idempotent).
# CPU-only: the local torch==2.13.0 wheel is installed first, so pip never pulls CUDA wheels.
# With a GPU, install the torch build you want first; this script then keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0" || "$PY" -m pip install -q torch
fi
# bubblewrap gives the sandbox its namespaces (no network, read-only file system)
if [ -x scripts/setup_system.sh ]; then bash scripts/setup_system.sh; fi
# dev: pytest and notebook runners; cluster: Hydra's joblib and submitit launchers (their configs are tested)
"$PY" -m pip install -q -e ".[dev,cluster]"
