"""Exact Pauli expectations of state vectors against dense operators and the MPS routines."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.states.mps import MPS
from qtomo.states.paulis import PAULI, parse_pauli_string
from qtomo.states.statevector import (
    apply_pauli_string,
    one_site_expectations,
    statevector_expectation,
    two_point_matrix,
    x_and_zz,
)


def dense(paulis: dict[int, str], n: int) -> np.ndarray:
    """The Pauli string as a 2^N x 2^N matrix, qubit 0 the leftmost Kronecker factor."""
    return functools.reduce(np.kron, [PAULI[paulis.get(j, "I")] for j in range(n)])


def random_state(n, rng):
    v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_expectations_against_dense_operators(n, rng):
    psi = random_state(n, rng)
    for letter in "XYZ":
        one = one_site_expectations(psi, letter)
        two = two_point_matrix(psi, letter)
        assert one.shape == (n,) and two.shape == (n, n)
        for i in range(n):
            assert one[i] == pytest.approx(np.real(psi.conj() @ dense({i: letter}, n) @ psi),
                                           abs=1e-13)
            assert two[i, i] == 1.0
            for j in range(i + 1, n):
                want = np.real(psi.conj() @ dense({i: letter, j: letter}, n) @ psi)
                assert two[i, j] == two[j, i] == pytest.approx(want, abs=1e-13)
    s = {0: "Y", n - 1: "X"} if n > 1 else {0: "Y"}
    np.testing.assert_allclose(apply_pauli_string(psi, s), dense(s, n) @ psi, atol=1e-14)
    assert statevector_expectation(psi, s) == pytest.approx(
        np.real(psi.conj() @ dense(s, n) @ psi), abs=1e-13)


def test_agrees_with_the_mps_routines(rng):
    psi = random_state(7, rng)
    m = MPS.from_statevector(psi)
    x, zz = x_and_zz(psi)
    np.testing.assert_allclose(x, m.x_expectations(), atol=1e-12)
    np.testing.assert_allclose(zz, m.zz_matrix(), atol=1e-12)
    np.testing.assert_allclose(two_point_matrix(psi, "Y"),
                               m.correlation_matrix(PAULI["Y"]).real, atol=1e-12)
    assert m.expectation_pauli("Y1 Z4") == pytest.approx(
        statevector_expectation(psi, parse_pauli_string("Y1 Z4", 7)), abs=1e-12)


def test_real_vectors_and_bad_input():
    ghz = np.zeros(8)
    ghz[0] = ghz[-1] = 1 / np.sqrt(2)
    x, zz = x_and_zz(ghz)
    np.testing.assert_allclose(x, 0.0, atol=1e-15)
    np.testing.assert_allclose(zz, 1.0)
    assert two_point_matrix(ghz, "X")[0, 1] == pytest.approx(0.0)
    with pytest.raises(InputValueError, match="shape"):
        one_site_expectations(np.ones(6), "X")
    with pytest.raises(InputValueError, match="Pauli letter"):
        two_point_matrix(ghz, "W")
