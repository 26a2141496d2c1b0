"""MPS class: exact round trips, canonical form, overlaps, measurements, storage, GHZ."""

from __future__ import annotations

import functools

import h5py
import numpy as np
import pytest

from qtomo.errors import DataFileError, InputValueError
from qtomo.states.ghz import ghz_mps, ghz_statevector
from qtomo.states.mps import MPS

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
}


def random_state(n: int, rng: np.random.Generator, real: bool = False) -> np.ndarray:
    psi = rng.normal(size=2**n)
    if not real:
        psi = psi + 1j * rng.normal(size=2**n)
    return psi / np.linalg.norm(psi)


def dense_pauli(paulis: dict[int, str], n: int) -> np.ndarray:
    return functools.reduce(np.kron, [PAULI[paulis.get(j, "I")] for j in range(n)])


@pytest.mark.parametrize("real", [False, True])
def test_statevector_round_trip_is_exact(rng, real):
    psi = random_state(7, rng, real)
    m = MPS.from_statevector(psi)
    assert m.n_qubits == 7
    assert m.bond_dims == [2, 4, 8, 8, 4, 2]
    assert m.max_bond == 8
    assert m.is_real == real
    assert m.is_right_canonical()
    np.testing.assert_allclose(m.to_statevector(), psi, atol=1e-13)
    assert m.norm() == pytest.approx(1.0, abs=1e-13)


def test_big_endian_convention():
    # |1> on qubit 0, |0> elsewhere: index 2^(N-1) in a big-endian vector
    m = MPS.product_state([np.array([0, 1]), np.array([1, 0]), np.array([1, 0])])
    v = m.to_statevector()
    assert v[4] == pytest.approx(1.0) and np.count_nonzero(v) == 1
    assert m.expectation_pauli("Z0") == pytest.approx(-1.0)
    assert m.expectation_pauli("Z1") == pytest.approx(1.0)


def test_truncation_keeps_the_largest_schmidt_values(rng):
    psi = random_state(8, rng)
    m = MPS.from_statevector(psi, chi_max=4)
    assert m.max_bond == 4
    assert m.norm() == pytest.approx(1.0)
    # the optimal rank-4 cut at the middle bond bounds the fidelity from above
    s = np.linalg.svd(psi.reshape(16, 16), compute_uv=False)
    assert abs(m.overlap(MPS.from_statevector(psi))) ** 2 <= (s[:4] ** 2).sum() + 1e-12
    # cutoff drops a negligible tail only
    m2 = MPS.from_statevector(psi, cutoff=1e-30)
    assert abs(m2.overlap(MPS.from_statevector(psi))) == pytest.approx(1.0, abs=1e-12)


def test_right_canonical_of_unnormalised_non_canonical_mps(rng):
    ts = [rng.normal(size=(1, 2, 3)), rng.normal(size=(3, 2, 5)), rng.normal(size=(5, 2, 1))]
    m = MPS(ts)
    v = m.to_statevector()
    assert m.norm() == pytest.approx(np.linalg.norm(v))
    rc = m.right_canonical()
    assert rc.form == "right" and rc.is_right_canonical()
    np.testing.assert_allclose(rc.to_statevector(), v / np.linalg.norm(v), atol=1e-13)
    assert rc.max_bond == 2  # exact ranks of a 3-qubit state: (2, 2)


def test_overlap_matches_dense(rng):
    a, b = random_state(6, rng), random_state(6, rng)
    ma, mb = MPS.from_statevector(a), MPS.from_statevector(b)
    assert ma.overlap(mb) == pytest.approx(np.vdot(a, b), abs=1e-13)


def test_pauli_strings_match_dense(rng):
    n = 6
    psi = random_state(n, rng)
    m = MPS.from_statevector(psi)
    for ps in ({0: "X"}, {1: "Y", 4: "Z"}, {0: "Z", 2: "X", 5: "Y"}, {}):
        exact = np.vdot(psi, dense_pauli(ps, n) @ psi).real
        assert m.expectation_pauli(ps) == pytest.approx(exact, abs=1e-12)
    exact = np.vdot(psi, dense_pauli({0: "Z", 5: "Z"}, n) @ psi).real
    assert m.expectation_pauli("Z0 Z5") == pytest.approx(exact, abs=1e-12)
    with pytest.raises(InputValueError):
        m.expectation_pauli({9: "Z"})


def test_x_and_zz_sweeps_match_dense(rng):
    n = 7
    psi = random_state(n, rng)
    m = MPS(MPS.from_statevector(psi).tensors)  # form unknown: exercises canonicalisation
    x = [np.vdot(psi, dense_pauli({i: "X"}, n) @ psi).real for i in range(n)]
    np.testing.assert_allclose(m.x_expectations(), x, atol=1e-12)
    zz = np.array(
        [
            [
                np.vdot(psi, dense_pauli({i: "Z", j: "Z"} if i != j else {}, n) @ psi).real
                for j in range(n)
            ]
            for i in range(n)
        ]
    )
    np.testing.assert_allclose(m.zz_matrix(), zz, atol=1e-12)


def test_entanglement_entropies(rng):
    n = 6
    psi = random_state(n, rng)
    ent = MPS.from_statevector(psi).entanglement_entropies()
    for cut in range(1, n):
        s2 = np.linalg.svd(psi.reshape(2**cut, -1), compute_uv=False) ** 2
        assert ent[cut - 1] == pytest.approx(-(s2 * np.log(s2)).sum(), abs=1e-12)
    np.testing.assert_allclose(ghz_mps(9).entanglement_entropies(), np.log(2), atol=1e-14)


def test_save_load_round_trip(tmp_path, rng):
    m = MPS.from_statevector(random_state(5, rng))
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        m.save_to_group(f.create_group("target/mps"))
        f.create_group("bad")
    with h5py.File(path, "r") as f:
        m2 = MPS.load_from_group(f["target/mps"])
        assert m2.form == "right" and m2.bond_dims == m.bond_dims
        assert m2.overlap(m) == pytest.approx(1.0, abs=1e-13)
        with pytest.raises(DataFileError):
            MPS.load_from_group(f["bad"])


def test_ghz_mps_is_exact_bond_two():
    for n in (1, 2, 5, 11):
        g = ghz_mps(n)
        assert g.max_bond == (1 if n == 1 else 2)
        assert g.is_right_canonical()
        np.testing.assert_allclose(g.to_statevector(), ghz_statevector(n), atol=1e-15)
    g = ghz_mps(60)  # analytic correlations at large N
    np.testing.assert_allclose(g.zz_matrix(), 1.0, atol=1e-12)
    np.testing.assert_allclose(g.x_expectations(), 0.0, atol=1e-12)
    assert g.expectation_pauli({j: "X" for j in range(60)}) == pytest.approx(1.0)


def test_bad_input_is_rejected():
    with pytest.raises(InputValueError, match="vL p vR"):
        MPS([np.ones((1, 3, 1))])
    with pytest.raises(InputValueError, match="bond mismatch"):
        MPS([np.ones((1, 2, 2)), np.ones((3, 2, 1))])
    with pytest.raises(InputValueError, match="2\\^N"):
        MPS.from_statevector(np.ones(6))
    with pytest.raises(InputValueError, match="chi_max"):
        MPS.from_statevector(np.ones(4), chi_max=0)
    with pytest.raises(InputValueError, match="ghz_mps"):
        ghz_statevector(40)
