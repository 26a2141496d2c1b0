"""The lab-scale protocols end to end through the CLI: ``qtomo plan`` -> ``qtomo simulate
--design`` (the design's target, no --state) -> ``qtomo reconstruct`` (no model), whose report
gives the protocol's fidelity against the exact one of the simulated noisy state; bad designs
and data off their plan are one line, a non-zero exit and no file.

Tolerances: the report's value must lie within 4 of its own (bootstrap) standard errors of the
exact value (a false alarm once in ~16,000 runs of an unbiased estimator), and that standard
error must not exceed 1.5 times the precision the plan promised (the plan's variance models
bound it), so a wrong error bar fails too.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.states.families import cluster_statevector
from qtomo.states.ghz import ghz_statevector
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_hamiltonian

P = 0.02


def parity_operator(n):
    """prod_i X_i as a dense matrix (flips every bit of the basis index)."""
    m = np.zeros((2**n, 2**n))
    m[np.arange(2**n), (2**n - 1) ^ np.arange(2**n)] = 1.0
    return m
FAST_TRAIN = ["--epochs", "1", "--batch-size", "200", "--hidden", "8", "--layers", "1",
              "--device", "cpu", "--precision", "fp32", "--bootstrap", "0"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args):
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def one_error_line(r, code, text, tmp_path, keep):
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("qtomo: error:"), r.stderr
    assert text in lines[0] and "Traceback" not in r.output, lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def noisy_fidelity(psi, p):
    """<psi| E_p(|psi><psi|) |psi> by dense matrices (local depolarizing p on every qubit)."""
    rho = depolarize(np.outer(psi, psi.conj()), p)
    return float(np.real(psi.conj() @ rho @ psi)), rho


def plan_simulate_reconstruct(tmp_path, plan_args, sim_args=(), rec_args=()):
    design, data, rep = tmp_path / "d.json", tmp_path / "d.h5", tmp_path / "rep"
    planned = ok("plan", *plan_args, "--out", design)
    sim = ok("simulate", "--design", design, "--noise", P, "--eval-shots", 0, "--out", data,
             *sim_args)
    rec = ok("reconstruct", "--data", data, "--out", rep, "--max-rho-qubits", 0, *rec_args)
    report = json.loads((rep / "report.json").read_text())
    return planned, sim, rec, report


@pytest.mark.parametrize(("state", "n", "protocol", "extra"), [
    ("ghz", 5, "parity", ["--readout-error", "0.02,0.05", "--calibration-shots", 20000]),
    ("cluster", 5, "stabilizer", []),
    ("ghz", 6, "stabilizer", []),  # one all-Z setting repeated for the Z-type elements
])
def test_fidelity_protocols_end_to_end(tmp_path, state, n, protocol, extra):
    planned, sim, rec, report = plan_simulate_reconstruct(
        tmp_path, ["--state", state, "-n", n, "--protocol", protocol, "--precision", 0.02,
                   "--noise", P], extra)
    assert sim["state"] == state and sim["protocol"] == protocol  # the design's target
    psi = (ghz_statevector if state == "ghz" else cluster_statevector)(n)
    exact, _ = noisy_fidelity(psi, P)
    if state == "ghz":  # docs/conventions.md: (a^N + b^N + (1 - p)^N) / 2
        assert abs(exact - ((1 - P / 2) ** n + (P / 2) ** n + (1 - P) ** n) / 2) < 1e-12
    lab = rec["lab_scale"]
    assert lab["protocol"] == protocol and lab["n_settings"] == planned["n_settings"]
    assert lab["n_shots"] == planned["shots_total"] and lab["lower_bound95"] is None
    assert 0 < lab["stderr"] <= 1.5 * 0.02
    assert abs(lab["value"] - exact) < 4 * lab["stderr"]
    lo, hi = lab["ci95"]
    assert lo < lab["value"] < hi and hi - lo == pytest.approx(2 * 1.959964 * lab["stderr"])
    # no dense state (--max-rho-qubits 0): the protocol heads the report
    assert rec["quantum_fidelity"] == lab["value"] and rec["quantum_fidelity_ci95"] == [lo, hi]
    head = report["headline"]["quantum_fidelity"]
    assert head["estimator"] == "lab-scale" and head["protocol"] == protocol
    assert head["kind"] == "estimate" and rec["quantum_fidelity_why"].startswith(
        f"The headline is the {protocol} protocol of the planned design")
    assert report["lab_scale"]["plan_check"]["matches_plan"] is True
    html = (tmp_path / "rep" / "report.html").read_text()
    assert 'id="lab-scale"' in html and "Assumes" in html
    if extra:  # readout corrected, with the calibration's error resampled in the bootstrap
        assert report["lab_scale"]["details"]["calibration_resampled"] is True
        assert rec["readout_corrected"] and rec["quantum_fidelity_uncorrected"] < exact - 0.05


def test_energy_bound_end_to_end(tmp_path):
    n, h = 5, 2.0
    _, _, rec, report = plan_simulate_reconstruct(
        tmp_path, ["--state", "tfim", "-n", n, "--h", h, "--protocol", "energy", "--shots",
                   20000])
    H = tfim_hamiltonian(n, 1.0, h).toarray()
    w, v = np.linalg.eigh(H)
    exact, rho = noisy_fidelity(v[:, 0], P)
    energy = float(np.real(np.trace(rho @ H)))
    parity = float(np.real(np.trace(rho @ parity_operator(n))))
    lab = report["lab_scale"]
    d = lab["details"]
    assert d["E0"] == pytest.approx(w[0], abs=1e-9) and d["E1"] == pytest.approx(w[1], abs=1e-9)
    # h > 0: the ground state is even; its sector's next level is the lowest even one above it
    e1s = d["E1_same_sector"]
    c = (e1s - w[1]) / 2
    bound = (w[1] + c - energy + c * parity) / (e1s - w[0])
    plain = (w[1] - energy) / (w[1] - w[0])
    assert d["ground_parity"] == 1 and abs(d["parity"] - parity) < 0.05
    assert abs(d["energy"] - energy) < 4 * d["energy_stderr"]
    assert abs(lab["value"] - bound) < 4 * lab["stderr"]
    assert plain < bound <= exact + 1e-12  # tighter than the plain bound, and still a bound
    assert lab["lower_bound95"] <= exact
    head = report["headline"]
    assert head["quantum_fidelity"]["kind"] == "lower bound"
    assert rec["quantum_fidelity"] == lab["lower_bound95"]
    assert rec["quantum_fidelity_stderr"] is None
    assert rec["quantum_fidelity_ci95"] == [lab["lower_bound95"], 1.0]
    assert head["energy"]["value"] == d["energy"] and rec["energy"] == d["energy"]


def test_simulate_takes_the_design_target_and_refuses_a_contradiction(tmp_path):
    design = tmp_path / "t.json"
    ok("plan", "--state", "tfim", "-n", 4, "--h", 2, "--protocol", "energy", "--shots", 400,
       "--out", design)
    ok("simulate", "--design", design, "--eval-shots", 0, "--out", tmp_path / "t.h5")
    with h5py.File(tmp_path / "t.h5") as f:
        t = dict(f["target"].attrs)
    assert t["state"] == "tfim" and t["h"] == 2.0 and t["n_qubits"] == 4
    for args, text in ((["--state", "ghz"], "--state ghz contradicts the design's target tfim"),
                       (["--h", "1"], "--h 1.0 contradicts the design's target tfim with h = 2")):
        r = run("simulate", "--design", design, *args, "--out", tmp_path / "x.h5")
        one_error_line(r, 3, text, tmp_path, ["t.json", "t.h5"])


def test_model_figures_sit_beside_the_direct_ones(tmp_path):
    design, data = tmp_path / "d.json", tmp_path / "d.h5"
    ok("plan", "--state", "cluster", "-n", 4, "--protocol", "stabilizer", "--precision", 0.03,
       "--out", design)
    ok("simulate", "--design", design, "--noise", P, "--eval-shots", 500, "--out", data)
    ok("train", data, "--out", tmp_path / "run", *FAST_TRAIN)
    rec = ok("reconstruct", tmp_path / "run", "--data", data, "--out", tmp_path / "rep",
             "--max-rho-qubits", 0, "--samples", 20000)
    sec = json.loads((tmp_path / "rep" / "report.json").read_text())["lab_scale"]
    m, row = sec["model"], sec["model_vs_direct"]
    assert m["n_samples"] == 20000 and np.isfinite(m["value"]) and m["stderr"] > 0
    assert row["direct"] == sec["value"] and row["model"] == m["value"]
    assert row["verdict"] == ("consistent" if abs(row["z"]) <= 3 else "inconsistent")
    assert rec["lab_scale"]["model_value"] == m["value"]


# --- bad input: one line, a non-zero exit, no file ------------------------------------------------
@pytest.fixture
def parity_design(tmp_path):
    design = tmp_path / "g.json"
    ok("plan", "--state", "ghz", "-n", 4, "--protocol", "parity", "--precision", 0.05,
       "--out", design)
    return design, json.loads(design.read_text())


def edited(doc, how):
    doc = json.loads(json.dumps(doc))
    if how == "not-unit":
        del doc["settings"][2]["axes"]
        doc["settings"][2]["vectors"] = [[1.0, 0.0, 0.1]] * 4
    elif how == "one-setting-less":
        del doc["settings"][-1]
    else:  # parity for a TFIM target
        doc["target"] = {"state": "tfim", "n_qubits": 4, "J": 1.0, "h": 1.0, "boundary": "open"}
    return doc


@pytest.mark.parametrize(("how", "text"), [
    ("not-unit", "setting 2: vectors[0] = [1.0, 0.0, 0.1] has length 1.00498756; expected a unit "
                 "vector"),
    ("one-setting-less", "the plan block plans 11 settings, but the design lists 10"),
    ("parity-for-tfim", "the parity protocol certifies ghz targets, not 'tfim'"),
])
def test_bad_designs_are_refused(tmp_path, parity_design, how, text):
    design, doc = parity_design
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(edited(doc, how)))
    r = run("simulate", "--design", bad, "--out", tmp_path / "o.h5")
    one_error_line(r, 4, text, tmp_path, ["g.json", "bad.json"])


def test_data_off_their_plan_are_refused(tmp_path, parity_design):
    """A dataset whose stored plan lists one setting less than the data hold: reconstruct
    refuses in one line and writes no report."""
    design, doc = parity_design
    data = tmp_path / "g.h5"
    ok("simulate", "--design", design, "--eval-shots", 0, "--out", data)
    short = edited(doc, "one-setting-less")
    short["plan"]["n_settings"] -= 1
    short["plan"]["shots_total"] = sum(s["shots"] for s in short["settings"])
    with h5py.File(data, "r+") as f:
        f["design"].attrs["planned_design"] = json.dumps(short)
    r = run("reconstruct", "--data", data, "--out", tmp_path / "rep")
    one_error_line(r, 3, "the data name 11 settings", tmp_path, ["g.json", "g.h5"])
    f2 = tmp_path / "g2.h5"
    ok("simulate", "--design", design, "--eval-shots", 0, "--out", f2)
    with h5py.File(f2, "r+") as f:
        f["design"].attrs["planned_design"] = json.dumps(edited(doc, "parity-for-tfim"))
    r = run("reconstruct", "--data", f2, "--out", tmp_path / "rep")
    one_error_line(r, 4, "the parity protocol certifies ghz targets", tmp_path,
                   ["g.json", "g.h5", "g2.h5"])
