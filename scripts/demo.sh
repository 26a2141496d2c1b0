#!/usr/bin/env bash
# Set up .venv and run qtomo's main job on the embedded default:
# TFIM N=10, J=h=1, Pauli-4, 100,000 shots -> dataset summary.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
OUT="${QTOMO_DEMO_DIR:-$ROOT/out/demo}"
mkdir -p "$OUT"
qtomo simulate --state tfim --n-qubits 10 --J 1 --h 1 --povm pauli4 --shots 100000 \
  --out "$OUT/tfim10.h5" --overwrite
qtomo info "$OUT/tfim10.h5"
