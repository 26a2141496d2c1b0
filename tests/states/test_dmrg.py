"""Two-site DMRG against exact diagonalization and the free-fermion solution."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.errors import ComputationError, InputValueError
from qtomo.states.dmrg import DMRGError, DMRGInputError, dmrg_tfim, mpo_expectation, tfim_mpo
from qtomo.states.exact import tfim_ground_energy, tfim_x_expectations, tfim_zz_matrix
from qtomo.states.tfim import tfim_ground_state, tfim_hamiltonian


def closed_form_energy(n: int) -> float:
    """E0 at J = h = 1, open chain (docs/conventions.md, "Transverse-field Ising model")."""
    return 1 - 1 / np.sin(np.pi / (2 * (2 * n + 1)))


@pytest.mark.parametrize(
    "n,J,h,boundary",
    [
        (8, 1.0, 1.0, "open"),
        (10, 1.0, 0.5, "open"),
        (12, 1.0, 1.0, "open"),
        (11, 0.7, 1.6, "open"),
        (10, 1.0, 1.0, "periodic"),
    ],
)
def test_dmrg_matches_exact_diagonalization(n, J, h, boundary):  # noqa: N803
    gs = tfim_ground_state(n, J, h, boundary)
    res = dmrg_tfim(n, J, h, boundary=boundary)
    assert res.converged
    assert res.energy == pytest.approx(gs.energy, abs=1e-10 * abs(gs.energy))
    psi = res.mps.to_statevector()
    assert np.linalg.norm(psi) == pytest.approx(1.0, abs=1e-12)
    assert abs(np.vdot(gs.psi, psi)) >= 1 - 1e-8
    # energy of the returned MPS, two independent ways
    hmat = tfim_hamiltonian(n, J, h, boundary)
    assert np.vdot(psi, hmat @ psi).real == pytest.approx(gs.energy, abs=1e-9)
    assert mpo_expectation(res.mps, tfim_mpo(n, J, h, boundary)) == pytest.approx(
        gs.energy, abs=1e-9
    )
    # sign convention: non-negative amplitudes for J, h > 0
    assert psi.min() > -1e-8


def test_mpo_is_the_hamiltonian():
    n = 5
    rng = np.random.default_rng(1)
    psi = rng.normal(size=2**n)
    psi /= np.linalg.norm(psi)
    from qtomo.states.mps import MPS

    for boundary in ("open", "periodic"):
        hmat = tfim_hamiltonian(n, 0.8, 1.3, boundary)
        exact = psi @ (hmat @ psi)
        m = MPS.from_statevector(psi)
        assert mpo_expectation(m, tfim_mpo(n, 0.8, 1.3, boundary)) == pytest.approx(exact)


def test_dmrg_matches_free_fermions_at_n30():
    n = 30
    res = dmrg_tfim(n, 1.0, 1.0)
    e = tfim_ground_energy(n, 1.0, 1.0)
    assert e == pytest.approx(closed_form_energy(n), abs=1e-10)
    assert abs(res.energy - e) <= 1e-10 * abs(e)
    np.testing.assert_allclose(res.mps.x_expectations(), tfim_x_expectations(n, 1, 1), atol=1e-6)
    np.testing.assert_allclose(res.mps.zz_matrix(), tfim_zz_matrix(n, 1, 1), atol=1e-6)
    assert res.truncation_error <= 1e-10
    assert len(res.energies) == res.sweeps


def test_seeded_runs_repeat_exactly():
    a = dmrg_tfim(12, 1.0, 0.9, seed=3)
    b = dmrg_tfim(12, 1.0, 0.9, seed=3)
    assert a.energies == b.energies
    for ta, tb in zip(a.mps.tensors, b.mps.tensors, strict=True):
        np.testing.assert_array_equal(ta, tb)


def test_small_chi_truncates_and_reports_error():
    res = dmrg_tfim(16, 1.0, 1.0, chi_max=2, tol=1e-8)
    assert res.mps.max_bond == 2
    assert res.truncation_error > 1e-8
    assert res.energy > tfim_ground_energy(16, 1.0, 1.0)  # variational


def test_bad_input_gives_clear_errors():
    with pytest.raises(DMRGInputError, match="chi_max must be an integer >= 1"):
        dmrg_tfim(10, 1.0, 1.0, chi_max=0)
    with pytest.raises(ValueError):  # also a ValueError and an InputValueError
        dmrg_tfim(10, 1.0, 1.0, chi_max=0)
    with pytest.raises(InputValueError, match="boundary"):
        dmrg_tfim(10, 1.0, 1.0, boundary="twisted")
    with pytest.raises(DMRGInputError, match="finite"):
        dmrg_tfim(10, float("nan"), 1.0)
    with pytest.raises(DMRGError, match="did not converge in 2 sweeps.*max_sweeps") as ei:
        dmrg_tfim(14, 1.0, 1.0, chi_max=3, tol=0.0, max_sweeps=2)
    assert isinstance(ei.value, ComputationError) and isinstance(ei.value, ValueError)
    with pytest.raises(DMRGError, match="GiB.*lower chi_max"):
        dmrg_tfim(1000, 1.0, 1.0, chi_max=100_000)


@pytest.mark.slow
@pytest.mark.parametrize("n", [50, 100])
def test_dmrg_acceptance_large_chains(n):
    res = dmrg_tfim(n, 1.0, 1.0)
    e = tfim_ground_energy(n, 1.0, 1.0)
    assert abs(res.energy - e) <= 1e-10 * abs(e)
    np.testing.assert_allclose(res.mps.x_expectations(), tfim_x_expectations(n, 1, 1), atol=1e-6)
    np.testing.assert_allclose(res.mps.zz_matrix(), tfim_zz_matrix(n, 1, 1), atol=1e-6)
