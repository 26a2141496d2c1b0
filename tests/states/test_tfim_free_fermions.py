"""Free-fermion E0, E1 and term moments of the open TFIM against exact diagonalization."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.povm.born import pauli_operator
from qtomo.states.exact import tfim_lowest_energies, tfim_sector_energies, tfim_term_moments
from qtomo.states.tfim import tfim_hamiltonian


@pytest.mark.parametrize(("n", "J", "h"), [(5, 1.0, 2.0), (6, 1.0, 1.0), (4, 0.7, 1.3),
                                           (6, -1.0, 0.5)])
def test_lowest_energies_match_exact_diagonalization(n, J, h):
    w = np.linalg.eigvalsh(tfim_hamiltonian(n, J, h).toarray())
    e0, e1 = tfim_lowest_energies(n, J, h)
    assert abs(e0 - w[0]) < 1e-10 and abs(e1 - w[1]) < 1e-10


@pytest.mark.parametrize(("n", "J", "h"), [(4, 1.0, 2.0), (5, 1.0, 0.7), (5, -1.0, -1.0),
                                           (6, 1.0, -1.3), (5, 0.5, -2.0), (3, -1.0, 1.2)])
def test_sector_energies_match_exact_diagonalization(n, J, h):
    """E0 with the ground state's parity prod X, the other sector's lowest level and the own
    sector's first excited level, from the dense spectrum split by parity."""
    w, v = np.linalg.eigh(tfim_hamiltonian(n, J, h).toarray())
    flip = (2**n - 1) ^ np.arange(2**n)
    par = np.rint([v[:, k] @ v[flip, k] for k in range(2**n)]).astype(int)
    e0, e1, e1s, s0 = tfim_sector_energies(n, J, h)
    assert s0 == par[0] and abs(e0 - w[0]) < 1e-10
    assert abs(e1 - w[1:][par[1:] != s0].min()) < 1e-10
    assert abs(e1s - w[1:][par[1:] == s0].min()) < 1e-10


@pytest.mark.parametrize(("n", "J", "h"), [(5, 1.0, 2.0), (6, 1.0, 0.8)])
def test_term_moments_match_the_dense_ground_state(n, J, h):
    _, v = np.linalg.eigh(tfim_hamiltonian(n, J, h).toarray())
    psi = v[:, 0]
    zz = [pauli_operator({i: "Z", i + 1: "Z"}, n).real for i in range(n - 1)]
    xs = [pauli_operator({i: "X"}, n).real for i in range(n)]
    zz_mean, zz_second, x_mean, x_second = tfim_term_moments(n, J, h)
    for ops, mean, second in ((zz, zz_mean, zz_second), (xs, x_mean, x_second)):
        np.testing.assert_allclose(mean, [psi @ o @ psi for o in ops], atol=1e-12)
        np.testing.assert_allclose(second, [[psi @ a @ b @ psi for b in ops] for a in ops],
                                   atol=1e-12)
