"""``qtomo reconstruct`` through click's CliRunner: JSON keys, report files, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.reconstruction.source import Source

FAST = ["--epochs", "2", "--batch-size", "100", "--hidden", "16", "--layers", "1",
        "--device", "cpu", "--precision", "fp32"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(r, code, match):
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("qtomo: error:"), r.stderr
    assert match in lines[0], lines[0]
    assert "Traceback" not in r.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec_cli")
    simulate(SimulateConfig(n_qubits=4, shots=3000, eval_shots=300, seed=3), d / "a.h5")
    simulate(SimulateConfig(state="ghz", n_qubits=3, shots=1000, eval_shots=0, seed=3),
             d / "ghz3.h5")
    r = run("train", d / "a.h5", "--out", d / "run", "--json", *FAST)
    assert r.exit_code == 0, r.output
    return d


def test_help():
    r = run("reconstruct", "--help")
    assert r.exit_code == 0
    for opt in ("--data", "--out", "--samples", "--observable", "--save-rho", "--json",
                "--mle-rank", "--subsystem", "--overwrite"):
        assert opt in r.output


def test_json_and_report(trained, tmp_path):
    out = tmp_path / "rep"
    r = run("reconstruct", trained / "run", "--data", trained / "a.h5", "--out", out,
            "--samples", 4000, "--observable", "Z0 Z3", "--observable", "x1 y2", "--save-rho",
            "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    for key in ("quantum_fidelity", "classical_fidelity", "kl_divergence", "energy",
                "energy_stderr", "report"):
        assert key in s
    # the model-vs-data consistency verdict, and the fallback when the model fails it (this
    # 2-epoch, 16-unit GRU misses some nearest-neighbour <Z_i Z_i+1> by > 4 s.e.)
    assert s["consistent"] in (True, False)
    rep = json.loads((out / "report.json").read_text())
    assert rep["consistent"] is s["consistent"] is rep["consistency"]["consistent"]
    assert s["consistency_p_value"] == rep["consistency"]["p_value"]
    assert 0.5 < s["quantum_fidelity_model"] <= 1.0 + 1e-9
    if s["consistent"]:
        assert Source(s["quantum_fidelity_estimator"]).from_model
        assert s["fallback_reason"] is None
        assert s["quantum_fidelity_model"] == s["quantum_fidelity"]
    else:
        # the best-supported figure from the 3000 shots: the raw-frequency MLE with its
        # bootstrap error (N <= 6) when that is smaller than the direct estimate's (a linear
        # estimate that may exceed 1 by its noise), else the direct estimate
        assert s["quantum_fidelity_source"].startswith("fallback") and s["fallback_reason"]
        mle = rep["quantum"]["data"]["mle"]
        if "maximum-likelihood" in s["quantum_fidelity_source"]:
            assert s["quantum_fidelity"] == mle["fidelity"]
            assert s["quantum_fidelity_stderr"] < s["direct_fidelity_stderr"]
        else:
            assert s["quantum_fidelity"] == s["direct_fidelity"]
        assert abs(s["quantum_fidelity"] - 1.0) < 4 * s["quantum_fidelity_stderr"]
        assert s["consistency_failed"] and "inconsistent with its data" in r.stderr
    # a 2-epoch model is rough; the exact value is the dataset's ground energy
    assert s["energy_stderr"] > 0 and -6 < s["energy"] < -2
    assert s["energy_exact"] == pytest.approx(-4.758770483143634, abs=1e-9)
    assert s["report"].endswith("report.html") and (out / "report.html").exists()
    assert {"Z0 Z3", "X1 Y2"} <= set(rep["observables"]["scalars"])
    assert rep["provenance"]["model"]["dataset_hash_matches"] is True
    assert rep["provenance"]["model"]["name"] == "gru"
    rho = np.load(out / "rho_model_mle.npy")
    assert rho.shape == (16, 16) and abs(np.trace(rho) - 1) < 1e-10
    # plain output names the headline and where the report is
    r = run("reconstruct", trained / "run", "--data", trained / "a.h5", "--out", out,
            "--samples", 2000, "--overwrite")
    assert r.exit_code == 0, r.output
    assert "quantum fidelity" in r.stdout and "report:" in r.stdout
    assert "model: " in r.stdout and "with the data" in r.stdout


def test_without_model(trained, tmp_path):
    r = run("reconstruct", "--data", trained / "ghz3.h5", "--out", tmp_path / "rep", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["mode"].startswith("direct")
    assert s["consistent"] is None and s["fallback_reason"] is None  # no model: no verdict
    assert s["classical_fidelity"] is None and s["energy"] is None
    assert s["quantum_fidelity"] == s["direct_fidelity"]
    assert abs(s["quantum_fidelity"] - 1) < 5 * s["quantum_fidelity_stderr"]


def test_refusals(trained, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    one_error_line(run("reconstruct", "--data", trained / "ghz3.h5", "--out", out), 5,
                   "--overwrite")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    one_error_line(run("reconstruct", trained / "run", "--data", trained / "ghz3.h5", "--out",
                       tmp_path / "r2"), 3, "N=4 qubits")
    one_error_line(run("reconstruct", tmp_path / "nope", "--data", trained / "a.h5", "--out",
                       tmp_path / "r3"), 4, "no such run directory")
    one_error_line(run("reconstruct", "--data", tmp_path / "missing.h5", "--out",
                       tmp_path / "r4"), 4, "no such file")
    one_error_line(run("reconstruct", "--data", trained / "a.h5", "--out", tmp_path / "r5",
                       "--observable", "Z9"), 3, "names qubit 9")
    one_error_line(run("reconstruct", "--data", trained / "a.h5", "--out", tmp_path / "r6",
                       "--samples", 1), 3, "--samples")
    one_error_line(run("reconstruct", "--data", trained / "a.h5", "--out", tmp_path / "r7",
                       "--subsystem", "0,a"), 3, "--subsystem")
    one_error_line(run("reconstruct", "--data", trained / "a.h5", "--out", tmp_path / "r8",
                       "--estimator", "model"), 3, "--estimator model needs a trained model")
    for d in ("r2", "r3", "r4", "r5", "r6", "r7", "r8"):
        assert not (tmp_path / d).exists()


def test_estimator_direct_without_model(trained, tmp_path):
    """--estimator direct heads the report with the direct estimate and says it was asked for;
    the state drawn is the raw frequencies' (the direct estimate has none)."""
    r = run("reconstruct", "--data", trained / "ghz3.h5", "--out", tmp_path / "r",
            "--estimator", "direct", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["quantum_fidelity_estimator"] == "direct" and "--estimator direct" in s[
        "quantum_fidelity_why"]
    assert s["quantum_fidelity"] == s["direct_fidelity"]
