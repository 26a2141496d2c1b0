"""Datasets above 16 qubits keep their target: ``qtomo simulate`` then ``qtomo reconstruct``
(no model) gives the direct fidelity estimate (GHZ as its bond-2 MPS, an ED state as the MPS
of its vector), and ``qtomo import --target ghz`` stores the same MPS."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.data.hdf5 import open_dataset
from qtomo.data.lab import LabImportConfig, build_lab_target
from qtomo.povm.frames import Frame
from qtomo.states.exact import tfim_ground_energy, tfim_x_expectations, tfim_zz_matrix
from qtomo.states.ghz import ghz_mps
from qtomo.states.mps import MPS


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def second_moment(mps: MPS, frame: Frame) -> float:
    """Exact E_P[Q^2] = sum_a <psi|M(a)|psi> <psi|D(a)|psi>^2 of a pure MPS target.

    Three copies of the chain (bond chi^3) carry M on the first and the dual D on the other
    two: per site T = sum_k M(k) (x) D(k) (x) D(k), contracted between bra and ket.
    """
    t_op = sum(np.kron(np.kron(m, d), d) for m, d in zip(frame.elements, frame.duals, strict=True))
    env = np.ones((1, 1))  # bra ket (three copies each)
    for b in mps.tensors:
        cl, _, cr = b.shape
        # three copies   # vL p vR (x3) -> (vL vL vL) (p p p) (vR vR vR)
        b3 = np.einsum("apb,cqd,ers->acepqrbds", b, b, b).reshape(cl**3, 8, cr**3)
        x = np.tensordot(env, b3, axes=(1, 0))  # u* [v], [v] p r -> u* p r
        x = np.einsum("qp,upr->uqr", t_op, x)  # T on p
        env = np.tensordot(b3.conj(), x, axes=([0, 1], [0, 1]))  # [u p] r*, [u p] r -> r* r
    return float(env[0, 0].real)


def test_ghz_18_direct_fidelity(tmp_path):
    shots = 100_000
    data = tmp_path / "ghz18.h5"
    s = run("simulate", "--state", "ghz", "-n", 18, "--povm", "pauli6", "--shots", shots,
            "--eval-shots", 0, "--log-p", "none", "--out", data, "--json")
    assert s["n_qubits"] == 18 and s["method"] == "exact"
    with open_dataset(data) as ds:
        assert ds.target_array("psi") is None
        m = ds.target_mps()
        frame = ds.frame
    assert m.n_qubits == 18 and m.max_bond == 2
    assert abs(m.overlap(ghz_mps(18))) == pytest.approx(1.0, abs=1e-14)
    r = run("reconstruct", "--data", data, "--out", tmp_path / "rep", "--json")
    assert r["mode"] == "direct (no model)" and r["quantum_fidelity_source"].startswith("direct")
    assert r["quantum_fidelity"] == r["direct_fidelity"]
    # the estimator is unbiased with variance E[Q^2] - F^2, F = 1 here (Pauli-6, N = 18:
    # E[Q^2] = 1108.4, so one standard error of the mean of 100,000 shots is 0.105)
    sigma = np.sqrt((second_moment(m, frame) - 1.0) / shots)
    assert 0.09 < sigma < 0.12
    assert abs(r["direct_fidelity"] - 1.0) < 4 * sigma
    assert 0.5 * sigma < r["direct_fidelity_stderr"] < 2 * sigma
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["quantum"]["exact_fidelity"] == 1.0
    assert "MPS" in rep["quantum"]["direct_estimate"]["contraction"]


def test_second_moment_helper_against_dense_tables():
    from qtomo.povm.born import born_probabilities
    from qtomo.povm.frames import get_frame
    from qtomo.reconstruction.density import product_table
    from qtomo.states.ghz import ghz_statevector

    f = get_frame("pauli6")
    psi = ghz_statevector(4).astype(complex)
    p = born_probabilities(psi, f)
    q = product_table(np.outer(psi, psi.conj()), f.duals).real
    assert second_moment(ghz_mps(4), f) == pytest.approx(float(p @ q**2), rel=1e-12)


def test_ed_18_stores_its_mps_and_reconstructs(tmp_path):
    n, shots = 18, 1000
    data = tmp_path / "ed18.h5"
    s = run("simulate", "--method", "ed", "-n", n, "--povm", "pauli6", "--shots", shots,
            "--eval-shots", 0, "--log-p", "none", "--out", data, "--json")
    assert s["method"] == "ed"
    assert s["energy"] == pytest.approx(tfim_ground_energy(n, 1.0, 1.0), abs=1e-9)
    with open_dataset(data) as ds:
        assert ds.target_array("psi") is None
        m = ds.target_mps()
        x, zz = ds.target_array("x_exact"), ds.target_array("zz_exact")
    # the stored MPS is the ED vector to round-off: its observables are the free-fermion ones
    assert m.n_qubits == n and m.max_bond <= 64
    np.testing.assert_allclose(m.x_expectations(), tfim_x_expectations(n, 1.0, 1.0), atol=1e-10)
    np.testing.assert_allclose(m.zz_matrix(), tfim_zz_matrix(n, 1.0, 1.0), atol=1e-10)
    np.testing.assert_allclose(x, tfim_x_expectations(n, 1.0, 1.0), atol=1e-10)
    np.testing.assert_allclose(zz, tfim_zz_matrix(n, 1.0, 1.0), atol=1e-10)
    r = run("reconstruct", "--data", data, "--out", tmp_path / "rep", "--json")
    # Pauli-6 at N = 18: a standard error of ~1 from 1,000 shots; the estimate is unbiased,
    # and too wide to head the report (its interval spans the whole range of a fidelity)
    assert r["direct_fidelity_stderr"] > 0.25
    assert abs(r["direct_fidelity"] - 1.0) < 4 * r["direct_fidelity_stderr"]
    assert r["quantum_fidelity"] is None and r["quantum_fidelity_estimator"] is None
    assert r["quantum_fidelity_source"] == "not determined by the shots"


def test_lab_import_ghz_target_above_16_is_its_mps():
    t = build_lab_target(LabImportConfig(target="ghz"), 18)
    assert t.psi is None and t.mps.max_bond == 2
    assert t.attrs["origin"] == "lab" and t.attrs["symmetry"] == "none"
    assert abs(t.mps.overlap(ghz_mps(18))) == pytest.approx(1.0, abs=1e-14)
    assert build_lab_target(LabImportConfig(), 18).mps is None  # target none: nothing stored
