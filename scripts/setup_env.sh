#!/usr/bin/env bash
# Create or reuse .venv, install qtomo and its dependencies. Sourced by demo.sh and test.sh.
# PyTorch: a torch already importable by python3 is kept (the venv sees system packages);
# otherwise `torch==2.13.0` is installed first, which on qtomo's machines is a local CPU build,
# so that no multi-GB CUDA build is ever pulled by the loose `torch>=2.1` requirement.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m venv --system-site-packages .venv
  else
    "$PY" -m venv .venv
  fi
fi
VPY="$ROOT/.venv/bin/python"
pipq() { "$VPY" -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v -E "^WARNING: Location|^$" || true; }
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing torch==2.13.0 (CPU build)" >&2
  pipq torch==2.13.0
fi
DEPS="import numpy, qtomo, h5py, qutip, click, tqdm, matplotlib, scipy, pytest, hypothesis, importlinter, ruff, mkdocs, material, mkdocstrings_handlers.python, mkdocs_click"
if ! "$VPY" -c "$DEPS" >/dev/null 2>&1 || [ setup.cfg -nt .venv/.qtomo-installed ]; then
  echo "setup: installing qtomo and its dependencies into .venv" >&2
  pipq -e ".[test]"
  if ! "$VPY" -c "$DEPS" >/dev/null 2>&1; then
    # a download that arrived damaged (pip reports a hash mismatch) is fetched again
    echo "setup: some dependencies are missing after pip; trying once more without pip's cache" >&2
    pipq --no-cache-dir -e ".[test]"
  fi
  touch .venv/.qtomo-installed
fi
"$VPY" -c "import torch; $DEPS" || {
  echo "setup: failed to import qtomo's dependencies (see pip's message above)" >&2
  rm -f .venv/.qtomo-installed
  exit 1
}
export PATH="$ROOT/.venv/bin:$PATH"
