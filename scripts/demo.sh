#!/usr/bin/env bash
# Set up .venv and run qtomo's main job on the embedded default:
# TFIM N=10, J=h=1, Pauli-4, 100,000 shots -> GRU model -> report (JSON + HTML).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
OUT="${QTOMO_DEMO_DIR:-$ROOT/out/demo}"
mkdir -p "$OUT"
echo "demo: 1/3 simulate (TFIM N=10, J=h=1, Pauli-4, 100,000 shots)" >&2
qtomo simulate --state tfim --n-qubits 10 --J 1 --h 1 --povm pauli4 --shots 100000 \
  --out "$OUT/tfim10.h5" --overwrite
qtomo info "$OUT/tfim10.h5"
echo "demo: 2/3 train the default GRU model" >&2
qtomo train "$OUT/tfim10.h5" --out "$OUT/run" --overwrite --max-minutes 1  # a minute at most
echo "demo: 3/3 reconstruct and write the report" >&2
qtomo reconstruct "$OUT/run" --data "$OUT/tfim10.h5" --out "$OUT/report" --overwrite
echo "demo: report at $OUT/report/report.html (numbers in $OUT/report/report.json)"
