"""The report block of a planned design (data checked against the plan, the headline candidate)
and the same figures from a model's samples, against exact values."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from qtomo.data.design import confusion_from_flips
from qtomo.errors import InputValueError
from qtomo.povm.born import born_probabilities
from qtomo.povm.frames import get_frame
from qtomo.reconstruction.lab_scale.model_side import model_protocol_values, side_by_side
from qtomo.reconstruction.lab_scale.plan import plan_design
from qtomo.reconstruction.lab_scale.section import protocol_section
from qtomo.reconstruction.model_estimates import sample_model
from qtomo.states.exact import tfim_lowest_energies
from qtomo.states.families import cluster_statevector
from qtomo.states.ghz import ghz_statevector
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_hamiltonian
from tests.reconstruction.helpers import TableModel
from tests.reconstruction.lab_helpers import sample_design

P = 0.05


def simulated(spec, rho, seed=0, confusion=None):
    return sample_design(rho, spec.angles, list(spec.shots),
                         np.random.default_rng(seed), confusion)


def ghz_case(n=4):
    psi = ghz_statevector(n)
    rho = depolarize(np.outer(psi, psi), P)
    return psi, rho, plan_design("ghz", n, "parity", precision=0.02)


def test_section_reports_the_protocol_and_its_candidate():
    n = 4
    psi, rho, spec = ghz_case(n)
    c = confusion_from_flips(np.tile([0.01, 0.02], (n, 1)))
    idx, bits = simulated(spec, rho, 1, c)
    sec = protocol_section(spec, idx, bits, c, {"state": "ghz", "n_qubits": n}, n_boot=100)
    json.dumps(sec)  # JSON-able
    exact = float(np.real(psi @ rho @ psi))
    assert sec["protocol"] == "parity" and abs(sec["value"] - exact) < 4 * sec["stderr"]
    assert sec["plan_check"] == {"settings": 2 * n + 3, "shots": int(bits.shape[0]),
                                 "shots_planned": int(bits.shape[0]), "matches_plan": True}
    assert sec["ci95"][0] < sec["value"] < sec["ci95"][1]
    assert any("independent between qubits" in w for w in sec["assumptions"])
    cand = sec["candidate"]
    assert cand["value"] == sec["value"] and cand["kind"] == "estimate" and not cand["one_sided"]
    assert cand["source"].startswith("parity") and "parity oscillation" in cand["words"]


def test_energy_section_is_a_one_sided_candidate():
    n, h = 4, 2.0
    _, v = np.linalg.eigh(tfim_hamiltonian(n, 1.0, h).toarray())
    rho = depolarize(np.outer(v[:, 0], v[:, 0]), 0.01)
    spec = plan_design("tfim", n, "energy", shots=2000, h=h)
    idx, bits = simulated(spec, rho, 2)
    sec = protocol_section(spec, idx, bits, None, {"state": "tfim", "n_qubits": n, "J": 1.0,
                                                   "h": h}, n_boot=100)
    cand = sec["candidate"]
    assert cand["one_sided"] and cand["kind"] == "lower bound" and cand["ci95"][1] == 1.0
    assert sec["lower_bound95"] == cand["ci95"][0] < sec["value"]
    assert any("non-degenerate ground state" in w for w in sec["assumptions"])


def test_data_that_do_not_follow_the_plan_are_refused():
    """Settings off the plan are refused; other shots per setting are reported, not refused."""
    n = 3
    _, rho, spec = ghz_case(n)
    idx, bits = simulated(spec, rho)
    check = protocol_section(spec, idx[1:], bits[1:], n_boot=0)["plan_check"]
    assert check["matches_plan"] is False and check["shots"] == check["shots_planned"] - 1
    assert check["note"].startswith(f"1 of {2 * n + 3} settings hold other shots than planned")
    keep = idx != 4
    with pytest.raises(InputValueError, match=f"the shots hold {2 * n + 2} settings, the "
                                              f"design plans {2 * n + 3}"):
        protocol_section(spec, idx[keep], bits[keep])
    with pytest.raises(InputValueError, match="not the design's"):
        protocol_section(spec, idx, bits, None, {"state": "ghz", "n_qubits": n + 1})
    with pytest.raises(InputValueError, match="qubits"):
        protocol_section(spec, idx, bits[:, :2])
    bad = dataclasses.replace(spec, target={"state": "cluster", "n_qubits": n})
    with pytest.raises(InputValueError, match="certifies ghz targets, not 'cluster'"):
        protocol_section(bad, idx, bits)


@pytest.mark.parametrize("case", ["parity", "stabilizer", "energy"])
def test_model_side_estimates_match_exact_values_and_the_direct_ones(case):
    """A "model" that is the exact Pauli-6 table of the noisy state: its figures agree with the
    exact ones within 4 standard errors, and beside the direct figure the verdict is
    consistent."""
    n = 3
    frame = get_frame("pauli6")
    if case == "energy":
        h = 2.0
        H = tfim_hamiltonian(n, 1.0, h).toarray()
        _, v = np.linalg.eigh(H)
        psi = v[:, 0]
        spec = plan_design("tfim", n, "energy", shots=4000, h=h)
    else:
        psi = (ghz_statevector if case == "parity" else cluster_statevector)(n)
        state = "ghz" if case == "parity" else "cluster"
        spec = plan_design(state, n, case, precision=0.02, settings=8 if case != "parity"
                           else None)
    rho = depolarize(np.outer(psi, psi), P)
    model = TableModel(born_probabilities(rho, frame), n, 6)
    samples = sample_model(model, 40_000, seed=3)
    got = model_protocol_values(samples, frame, spec)
    if case == "energy":
        e0, e1 = tfim_lowest_energies(n, 1.0, h)
        e = float(np.real(np.trace(rho @ H)))
        assert abs(got["energy"] - e) < 4 * got["energy_stderr"]
        assert abs(got["value"] - (e1 - e) / (e1 - e0)) < 4 * got["stderr"]
        assert got["lower_bound95"] < got["value"]
    else:
        exact = float(np.real(psi @ rho @ psi))
        assert abs(got["value"] - exact) < 4 * got["stderr"] and got["stderr"] < 0.05
    idx, bits = simulated(spec, rho, 4)
    sec = protocol_section(spec, idx, bits, n_boot=100)
    row = side_by_side(sec, got)
    assert row["verdict"] == "consistent" and abs(row["z"]) <= 3
    shifted = side_by_side(sec, {**got, "value": got["value"] + 1.0,
                                 "energy": got.get("energy", 0.0) - 5.0})
    assert shifted["verdict"] == "inconsistent"


def test_data_settings_must_be_the_planned_axes():
    n = 3
    _, rho, spec = ghz_case(n)
    idx, bits = simulated(spec, rho)
    axes = spec.angles
    sec = protocol_section(spec, idx, bits, data_axes=axes + 2 * np.pi, n_boot=0)
    assert np.isfinite(sec["stderr"]) and sec["stderr"] == sec["stderr_analytic"]
    swapped = axes.copy()
    swapped[[1, 2]] = swapped[[2, 1]]
    with pytest.raises(InputValueError, match="setting 1 of the data measures qubit 0"):
        protocol_section(spec, idx, bits, data_axes=swapped)
