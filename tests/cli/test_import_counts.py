"""``qtomo import`` of counts per setting, classical shadows and readout calibration through
click's CliRunner; ``qtomo info``; and the shipped counts example from JSON to a report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import qtomo
from qtomo.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "ghz4_counts.json"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_help_lists_the_formats_and_readout_options():
    r = run("import", "--help")
    assert r.exit_code == 0
    for opt in ("counts", "shadow", "--calibration", "--readout", "--seed", "setting,outcome"):
        assert opt in r.output


def test_shipped_example_is_what_its_script_writes(tmp_path):
    text = (ROOT / "scripts" / "make_lab_counts.py").read_text()
    assert "import qtomo" not in text and "from qtomo" not in text  # independent of qtomo
    out = tmp_path / "again.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_lab_counts.py"), "--out",
                    str(out)], check=True, capture_output=True, timeout=120)
    assert out.read_bytes() == EXAMPLE.read_bytes()
    assert EXAMPLE.stat().st_size < 40_000


def test_shipped_counts_example_from_json_to_report(tmp_path):
    """The README walk: import (design fixed, readout estimated and stored), info, and
    reconstruct without a model: the direct estimate corrects the readout errors."""
    comment = json.loads(EXAMPLE.read_text())["comment"]
    exact = comment["exact_fidelity_to_ghz"]
    uncorrected = comment["fidelity_seen_without_readout_correction"]
    assert exact == pytest.approx(0.859097265625)
    data = tmp_path / "ghz4.h5"
    r = run("import", EXAMPLE, "--target", "ghz", "--out", data, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["format"] == "counts" and s["shots"] == 81_000 and s["n_qubits"] == 4
    assert s["design"] == {"kind": "fixed", "n_settings": 81, "shots_min": 1000,
                           "shots_max": 1000, "shots_total": 81_000}
    assert s["basis_uniform"] is True and s["basis_p_value"] == pytest.approx(1.0)
    ro = s["readout"]
    assert ro["source"] == "calibration" and ro["applied"] is True
    c, se = np.array(ro["confusion"]), np.array(ro["stderr"])
    assert np.all(np.abs(c[:, 1, 0] - 0.02) < 4 * se[:, 1, 0])
    assert np.all(np.abs(c[:, 0, 1] - 0.05) < 4 * se[:, 0, 1])
    r = run("info", data)
    assert r.exit_code == 0
    assert "design: fixed, 81 settings, 1000 shots each (XXXX, XXXY" in r.output
    assert "readout: estimated from calibration counts" in r.output
    info = json.loads(run("info", data, "--json").stdout)
    assert info["design"] == s["design"] and info["readout"]["confusion"] == ro["confusion"]
    r = run("reconstruct", "--data", data, "--out", tmp_path / "report", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    f, f_se = rec["quantum_fidelity"], rec["quantum_fidelity_stderr"]
    assert rec["quantum_fidelity_source"].startswith("direct estimate")
    # corrected through the effective POVM: the interval (statistics and calibration) covers
    # the exact fidelity of the prepared state; without the correction it is far below
    assert rec["readout_corrected"] is True and rec["calibration_stderr"] > 0
    lo, hi = rec["quantum_fidelity_ci95"]
    assert lo <= exact <= hi and abs(f - exact) < 3 * f_se
    f_raw = rec["direct_fidelity_uncorrected"]
    assert abs(f_raw - uncorrected) < 0.02 and f_raw < exact - 10 * f_se
    r = run("reconstruct", "--data", data, "--out", tmp_path / "raw", "--json",
            "--no-readout-correction")
    assert r.exit_code == 0, r.output
    raw = json.loads(r.stdout)
    assert raw["readout_corrected"] is False and raw["quantum_fidelity"] == pytest.approx(f_raw)
    report = json.loads((tmp_path / "raw" / "report.json").read_text())
    assert report["readout"]["quantum_fidelity_corrected_direct"] == pytest.approx(f)


def test_api_dataset_shows_design_and_readout(tmp_path):
    ds = qtomo.import_shots(EXAMPLE, tmp_path / "g.h5")
    assert ds.design.kind == "fixed" and len(ds.design.settings) == 81
    assert ds.design.settings[0] == "XXXX" and set(ds.design.shots_per_setting) == {1000}
    assert ds.readout.confusion.shape == (4, 2, 2) and ds.readout.applied
    assert "design fixed (81 settings), readout calibration" in repr(ds)
    assert "fixed, 81 settings" in ds._repr_html_()
    loaded = qtomo.load(tmp_path / "g.h5")
    assert loaded.design == ds.design
    csv = tmp_path / "s.csv"
    csv.write_text("bases,bits\nXZ,01\nZZ,11\nYX,00\n")
    per_shot = qtomo.import_shots(csv, tmp_path / "s.h5")
    assert per_shot.design.kind == "random" and per_shot.readout is None
    assert "design random" in repr(per_shot)


def test_shadow_and_forced_formats(tmp_path):
    rng = np.random.default_rng(3)
    recipes, bits = rng.integers(0, 3, (3000, 3)), rng.integers(0, 2, (3000, 3))
    np.savez(tmp_path / "s.npz", bits=bits, recipes=recipes)
    r = run("import", tmp_path / "s.npz", "--out", tmp_path / "s.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["design"]["kind"] == "random"
    (tmp_path / "shadow.dat").write_bytes((tmp_path / "s.npz").read_bytes())
    r = run("import", tmp_path / "shadow.dat", "--format", "shadow", "--povm", "pauli4",
            "--out", tmp_path / "d.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["povm"] == "pauli4"
    (tmp_path / "c.txt").write_text("setting,outcome,count\nXX,00,5\nYY,11,5\nZZ,01,5\n")
    r = run("import", tmp_path / "c.txt", "--format", "counts", "--out", tmp_path / "c.h5")
    assert r.exit_code == 0, r.output
    assert "15 shots of 2 qubits (counts)" in r.output and "design fixed (3 settings)" in r.output


BAD = [
    ("a.json", '{"XXZ": {"000": 1}, "XZ": {"00": 1}}', [], 4,
     "a.json: setting 'XZ' has 2 letters"),
    ("b.json", '{"XXQ": {"000": 1}}', [], 4, "character 3 (qubit 2) is 'Q'"),
    ("b.json", '{"XXQ": {"000": 1}}', ["--bit-order", "q0-last"], 4,
     "character 3 (qubit 0) is 'Q'"),
    ("c.csv", "setting,outcome,count\nXZ,01,3\nXZ,10,-3\n", [], 4, "line 3: count -3 is negative"),
    ("d.json", '{"XZ": {"011": 3}}', [], 4, "outcome '011' has 3 bits; expected 2"),
    ("e.json", "", [], 4, "empty file"),
    ("f.json", '{"XZ": {"01": 0}}', [], 4, "no shots"),
    ("g.json", '{"settings": {"XZ": {"01": 4}}, "calibration": {"00": {"10": 6, "00": 4}, '
     '"11": {"11": 10}}}', [], 4, "calibration: qubit 0: P(read 1 | prepared 0) = 0.6 >= 0.5"),
    ("h.json", '{"XZ": {"01": 4}}', ["--povm", "pauli4"], 3, "pauli4 does not apply to "
     "--format counts"),
    ("i.json", '{"XZ": {"01": 4}}', ["--calibration", "x.json", "--readout", "y.json"], 3,
     "not both"),
]


@pytest.mark.parametrize("name,text,extra,code,match", BAD)
def test_bad_files_one_line_no_output(tmp_path, name, text, extra, code, match):
    src = tmp_path / name
    src.write_text(text)
    r = run("import", src, "--out", tmp_path / "d.h5", *extra)
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("qtomo: error:") and match in lines[0]
    assert not (tmp_path / "d.h5").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_readout_options(tmp_path):
    src = tmp_path / "c.json"
    src.write_text('{"XZ": {"01": 4, "10": 2}, "YY": {"00": 3}, "ZX": {"11": 1}}')
    (tmp_path / "cal.json").write_text('{"00": {"00": 98, "10": 2}, "11": {"11": 95, "01": 5}}')
    (tmp_path / "ro.json").write_text('{"confusion": [[[0.9, 0.2], [0.1, 0.8]], '
                                      '[[0.99, 0.01], [0.01, 0.99]]]}')
    r = run("import", src, "--calibration", tmp_path / "cal.json", "--out", tmp_path / "a.h5")
    assert r.exit_code == 0, r.output
    # qubit 0 is the first character: "10" read from |00> and "01" from |11> are qubit 0's
    assert ("corrected by reconstruct: q0 P(1|0) 0.0200 P(0|1) 0.0500, q1 P(1|0) 0.0000 "
            "P(0|1) 0.0000") in r.output
    r = run("import", src, "--readout", tmp_path / "ro.json", "--out", tmp_path / "b.h5")
    assert r.exit_code == 0, r.output
    assert qtomo.load(tmp_path / "b.h5").readout.confusion[0, 1, 0] == 0.1
    (tmp_path / "bad.json").write_text('[[[0.9, 0.2], [0.2, 0.8]], [[1, 0], [0, 1]]]')
    r = run("import", src, "--readout", tmp_path / "bad.json", "--out", tmp_path / "c.h5")
    assert r.exit_code == 4 and "qubit 0: columns sum to 1.1 and 1" in r.stderr
    r = run("import", src, "--readout", tmp_path / "none.json", "--out", tmp_path / "c.h5")
    assert r.exit_code == 4 and "none.json: no such file" in r.stderr
    assert not (tmp_path / "c.h5").exists()
    r = run("import", tmp_path / "x.csv", "--format", "outcomes", "--povm", "tetra",
            "--readout", tmp_path / "ro.json", "--out", tmp_path / "c.h5")
    assert r.exit_code == 3 and "not to POVM outcome indices" in r.stderr
