"""``qtomo plan`` through click's CliRunner: the design file, one-line errors, no partial file,
and the time at N = 50."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, ["plan", *map(str, args)])


def test_writes_the_design_and_prints_its_summary(tmp_path):
    out = tmp_path / "ghz20.json"
    r = run("--state", "ghz", "-n", 20, "--protocol", "parity", "--precision", 0.005,
            "--readout-error", "0.01,0.02", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    spec = json.loads(out.read_text())
    assert s["n_settings"] == len(spec["settings"]) == 43
    assert s["shots_total"] == sum(x["shots"] for x in spec["settings"])
    assert s["predicted_stderr"] <= 0.005 and spec["precision"] == 0.005
    assert spec["plan"]["assumed_readout_error"] == [0.01, 0.02]
    r = run("--state", "tfim", "-n", 12, "--h", 2, "--protocol", "energy", "--shots", 100000,
            "--out", tmp_path / "t.json")
    assert r.exit_code == 0 and "energy protocol for tfim N=12: 2 settings" in r.output
    assert json.loads((tmp_path / "t.json").read_text())["target"]["h"] == 2.0


@pytest.mark.parametrize(("args", "code", "words"), [
    (("--state", "tfim", "-n", 20, "--protocol", "parity", "--precision", 0.01), 3,
     "certifies ghz targets"),
    (("--state", "ghz", "-n", 20, "--protocol", "parity", "--precision", 0), 3, "precision"),
    (("--state", "ghz", "-n", 20, "--protocol", "parity", "--precision", -1), 3, "precision"),
    (("--state", "ghz", "-n", 1, "--protocol", "parity", "--precision", 0.01), 3, ">= 2"),
    (("--state", "ghz", "-n", 20, "--protocol", "parity"), 3, "--precision"),
    (("--state", "ghz", "-n", 20, "--protocol", "parity", "--precision", 0.01,
      "--readout-error", "0.1"), 3, "--readout-error"),
])
def test_bad_input_is_one_line_a_non_zero_exit_and_no_file(tmp_path, args, code, words):
    out = tmp_path / "d.json"
    r = run(*args, "--out", out)
    assert r.exit_code == code, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtomo: error:") and words in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_without_the_flag(tmp_path):
    out = tmp_path / "d.json"
    args = ("--state", "cluster", "-n", 10, "--protocol", "stabilizer", "--precision", 0.01,
            "--out", out)
    assert run(*args).exit_code == 0
    before = out.read_text()
    r = run(*args[:-2], "--seed", 9, "--out", out)
    assert r.exit_code == 5 and "--overwrite" in r.stderr and out.read_text() == before
    assert run(*args[:-2], "--seed", 9, "--out", out, "--overwrite").exit_code == 0
    assert out.read_text() != before


@pytest.mark.parametrize("args", [
    ("--state", "ghz", "--protocol", "parity", "--precision", 0.005),
    ("--state", "cluster", "--protocol", "stabilizer", "--precision", 0.01, "--noise", 0.01),
    ("--state", "tfim", "--protocol", "energy", "--h", 2, "--shots", 100000),
])
def test_fifty_qubits_plan_within_five_seconds(tmp_path, args):
    t0 = time.perf_counter()
    r = run(*args, "-n", 50, "--out", tmp_path / "d.json")
    assert r.exit_code == 0, r.output
    assert time.perf_counter() - t0 < 5.0
