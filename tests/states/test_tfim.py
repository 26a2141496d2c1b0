"""TFIM exact diagonalization against free fermions and an independent dense construction."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.povm.frames import PAULI
from qtomo.states.exact import tfim_ground_energy, tfim_x_expectations, tfim_zz_matrix
from qtomo.states.tfim import tfim_ground_state, tfim_hamiltonian


def dense_tfim(n: int, J: float, h: float, periodic: bool) -> np.ndarray:  # noqa: N803
    """Independent construction from Kronecker products of Pauli matrices."""

    def op(site_ops: dict[int, np.ndarray]) -> np.ndarray:
        out = np.ones((1, 1))
        for i in range(n):
            out = np.kron(out, site_ops.get(i, np.eye(2)))
        return out

    z, x = PAULI["Z"].real, PAULI["X"].real
    bonds = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if periodic else [])
    H = sum(-J * op({i: z, j: z}) for i, j in bonds)  # noqa: N806
    return H + sum(-h * op({i: x}) for i in range(n))


@pytest.mark.parametrize("n", range(2, 13))
@pytest.mark.parametrize("h", [0.3, 1.0, 1.8])
def test_ed_energy_matches_free_fermions(n, h):
    assert abs(tfim_ground_state(n, 1.0, h).energy - tfim_ground_energy(n, 1.0, h)) < 1e-10


def test_ed_energy_n12_closed_form():
    e = tfim_ground_state(12, 1.0, 1.0).energy
    assert abs(e - (1 - 1 / np.sin(np.pi / 50))) < 1e-10


@pytest.mark.parametrize("J,h", [(1.0, 1.0), (0.7, 1.3), (1.0, 0.4)])
def test_free_fermion_closed_form_values(J, h):  # noqa: N803
    # docs/conventions.md ("Transverse-field Ising model") lists these at J = h = 1
    for n, e in ((10, -12.381490), (50, -63.301189), (100, -126.961877)):
        assert abs(tfim_ground_energy(n, 1.0, 1.0) - e) < 1e-6
    # and the bidiagonal form agrees with dense diagonalization at other couplings
    w = np.linalg.eigvalsh(dense_tfim(6, J, h, periodic=False))
    assert abs(tfim_ground_energy(6, J, h) - w[0]) < 1e-10


@pytest.mark.parametrize("n", [3, 4, 7])
@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
def test_periodic_against_dense(n, h):
    sparse = tfim_hamiltonian(n, 1.0, h, "periodic").toarray()
    dense = dense_tfim(n, 1.0, h, periodic=True)
    assert np.allclose(sparse, dense)
    w = np.linalg.eigvalsh(dense)
    assert abs(tfim_ground_state(n, 1.0, h, "periodic").energy - w[0]) < 1e-10


def test_open_hamiltonian_against_dense():
    assert np.allclose(tfim_hamiltonian(5, 0.8, 1.1).toarray(), dense_tfim(5, 0.8, 1.1, False))


@pytest.mark.parametrize("h", [0.5, 1.0, 1.5])
def test_free_fermion_correlators_against_ed(h):
    n = 9
    psi = tfim_ground_state(n, 1.0, h).psi
    assert psi.min() > -1e-12  # Perron-Frobenius: non-negative amplitudes
    from qtomo.states.statevector import x_and_zz

    x, zz = x_and_zz(psi)
    assert np.abs(x - tfim_x_expectations(n, 1.0, h)).max() < 1e-10
    assert np.abs(zz - tfim_zz_matrix(n, 1.0, h)).max() < 1e-10


def test_ed_refuses_large_chains_and_names_dmrg():
    with pytest.raises(InputValueError, match="dmrg"):
        tfim_ground_state(21, 1.0, 1.0)


@pytest.mark.parametrize("bad", [dict(n=0), dict(J=np.nan), dict(h=np.inf)])
def test_bad_parameters(bad):
    kw = dict(n=4, J=1.0, h=1.0) | bad
    with pytest.raises(InputValueError):
        tfim_hamiltonian(kw["n"], kw["J"], kw["h"])
