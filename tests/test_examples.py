"""Every script in examples/ runs end to end on its tiny default configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script, expect", [
    ("simulate_train_reconstruct.py", ["headline fidelity", "qutip.Qobj with dims", "report:"]),
    ("lab_counts_report.py", ["direct fidelity estimate", "Z0 Z1", "report:"]),
    ("compare_models.py", ["gru", "conv", "F_c"]),
])
def test_example_runs(script, expect, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    for text in expect:
        assert text in r.stdout, r.stdout
