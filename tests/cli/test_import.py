"""``qtomo import`` through click's CliRunner, and the shipped GHZ example from CSV to report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "ghz4_lab.csv"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_help():
    r = run("import", "--help")
    assert r.exit_code == 0
    for opt in ("--format", "--povm", "--bit-order", "--target", "--out", "--json", "bases,bits"):
        assert opt in r.output


def test_json_and_warnings(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("bases,bits\n" + "ZZ,00\nZZ,11\nXX,00\nYY,01\n" * 50)
    r = run("import", src, "--out", tmp_path / "d.h5", "--json", "--target", "ghz")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["shots"] == 200 and s["n_qubits"] == 2 and s["target"] == "ghz"
    assert s["basis_uniform"] is False and s["povm"] == "pauli6-weighted"
    assert "qtomo: warning:" in r.stderr and "differ from 1/3" in r.stderr
    assert "correlated" in r.stderr


@pytest.mark.parametrize("text,match", [
    ("bases,bits\nXZ,01\nXZ,0x\n", "line 3: column 2 (bits), character 2 (qubit 1)"),
    ("", "empty file"),
    ("bases;bits\nXZ;01\n", "line 1: wrong columns"),
])
def test_bad_files(tmp_path, text, match):
    src = tmp_path / "bad.csv"
    src.write_text(text)
    r = run("import", src, "--out", tmp_path / "d.h5")
    assert r.exit_code == 4, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and match in lines[0]
    assert not (tmp_path / "d.h5").exists()


def test_option_errors(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("outcomes\n0123\n")
    r = run("import", src, "--format", "outcomes", "--out", tmp_path / "d.h5")
    assert r.exit_code == 3 and "needs --povm" in r.stderr
    r = run("import", src, "--povm", "tetra", "--out", tmp_path / "d.h5")
    assert r.exit_code == 3 and "does not apply" in r.stderr
    r = run("import", src, "--target", "w", "--out", tmp_path / "d.h5")
    assert r.exit_code == 3 and "unknown --target" in r.stderr
    r = run("import", tmp_path / "none.csv", "--out", tmp_path / "d.h5")
    assert r.exit_code == 4 and "no such file" in r.stderr


def test_shipped_ghz_example_from_csv_to_report(tmp_path):
    """Acceptance: the noisy GHZ example gives the fidelity within 0.01 of its exact value, and
    the report's error bar (95% interval) covers it."""
    header = EXAMPLE.read_text().splitlines()[:3]
    exact = float(re.search(r"fidelity to the ideal GHZ state: ([0-9.]+)", "\n".join(header))[1])
    assert exact == pytest.approx(0.859097265625)  # (data/make_ghz4_lab.py, p = 0.05)
    r = run("import", EXAMPLE, "--target", "ghz", "--out", tmp_path / "ghz4.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["basis_uniform"] is True
    r = run("reconstruct", "--data", tmp_path / "ghz4.h5", "--out", tmp_path / "report", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["quantum_fidelity_source"].startswith("direct estimate")
    f, se = s["quantum_fidelity"], s["quantum_fidelity_stderr"]
    assert abs(f - exact) < 0.01
    rep = json.loads((tmp_path / "report" / "report.json").read_text())
    lo, hi = rep["headline"]["quantum_fidelity"]["ci95"]
    assert lo <= exact <= hi and hi - lo == pytest.approx(2 * 1.96 * se)
    html = (tmp_path / "report" / "report.html").read_text()
    assert len(html) > 10_000
    # lab shots were not drawn from the target: no "exact" fidelity, target values named so
    assert "exact" not in rep["headline"]["quantum_fidelity"]
    assert "exact_fidelity" not in rep["quantum"]
    assert rep["quantum"]["exact_fidelity_note"].startswith("none: lab data")
    assert "meant to prepare" in rep["observables"]["exact_note"]
    assert s["reference"] == "target" and "direct &minus; target [s.e.]" in html
    assert "&minus; exact" not in html
