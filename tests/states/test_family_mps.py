"""Exact MPS of the W, cluster, random product and random MPS families, and their targets
above 16 qubits, against the dense vectors (N <= 10) and closed-form moments (N = 20, 50)."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.simulate import SimulateConfig
from qtomo.errors import InputValueError
from qtomo.states.families import (
    FAMILIES,
    family_statevector,
    haar_qubit_states,
    random_mps_tensors,
)
from qtomo.states.family_mps import cluster_mps, family_mps, product_mps, random_mps, w_mps
from qtomo.states.mps import MPS
from qtomo.states.paulis import PAULI
from qtomo.states.targets import build_target


def _fidelity(a: np.ndarray, b: np.ndarray) -> float:
    return abs(np.vdot(a, b)) ** 2 / (np.vdot(a, a).real * np.vdot(b, b).real)


def _contract(tensors: list[np.ndarray]) -> np.ndarray:
    """Big-endian vector of raw (unnormalised, non-canonical) tensors, legs vL p vR."""
    psi = tensors[0].reshape(2, -1)  # (p_0) vR
    for a in tensors[1:]:
        # (p_<j) vL, vL p vR -> (p_<j) p vR
        psi = np.tensordot(psi, a, axes=([1], [0])).reshape(-1, a.shape[2])
    return psi.reshape(-1)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n", (1, 2, 3, 8, 10))
def test_mps_route_equals_dense_vector(family, n):
    m = family_mps(family, n, seed=7)
    assert m.form == "right" and m.is_right_canonical(atol=1e-13)
    assert m.norm() == pytest.approx(1.0, abs=1e-13)
    assert m.max_bond == (1 if family == "product" or n == 1 else 2)
    assert _fidelity(m.to_statevector(), family_statevector(family, n, seed=7)) > 1 - 1e-12
    if family in ("product", "random-mps") and n >= 2:  # the seed matters
        assert _fidelity(m.to_statevector(), family_statevector(family, n, seed=8)) < 0.99
    if m.singular_values is not None and n >= 2:  # the stored Schmidt values are the true ones
        rc = m.right_canonical()
        for s, s_true in zip(m.singular_values, rc.singular_values, strict=True):
            assert np.allclose(np.sort(s), np.sort(s_true), atol=1e-12)


def test_random_mps_reuses_the_dense_draw():
    seed = 123
    v = random_mps(8, seed).to_statevector()
    d = family_statevector("random-mps", 8, seed)
    phase = np.vdot(v, d) / abs(np.vdot(v, d))
    assert np.linalg.norm(v * phase - d) < 1e-12
    # the same tensors, unnormalised and not canonical, at N = 20 (beyond the dense builder)
    raw = MPS(random_mps_tensors(20, seed, 2))
    m = random_mps(20, seed)
    assert abs(m.overlap(raw)) ** 2 / abs(raw.overlap(raw)) == pytest.approx(1.0, abs=1e-12)
    assert m.bond_dims == [2] * 19


@pytest.mark.parametrize("n", (20, 50))
def test_w_moments_at_large_n(n):
    m = w_mps(n)
    off = ~np.eye(n, dtype=bool)
    assert np.allclose(m.z_expectations(), 1 - 2 / n, rtol=0, atol=1e-13)
    assert np.allclose(m.x_expectations(), 0.0, atol=1e-13)
    assert np.allclose(m.zz_matrix()[off], 1 - 4 / n, rtol=0, atol=1e-13)
    xx = m.correlation_matrix(PAULI["X"]).real
    assert np.allclose(xx[off], 2 / n, rtol=0, atol=1e-13)
    # the Schmidt values of the bond after qubit j-1: sqrt(j/N) and sqrt((N-j)/N)
    s2 = np.sort(np.asarray(m.right_canonical().singular_values) ** 2, axis=1)
    j = np.arange(1, n)
    assert np.allclose(s2, np.sort(np.stack([j / n, 1 - j / n], axis=1), axis=1), atol=1e-13)


@pytest.mark.parametrize("n", (20, 50))
def test_cluster_stabilisers_at_large_n(n):
    m = cluster_mps(n)
    assert m.expectation_pauli({0: "X", 1: "Z"}) == pytest.approx(1.0, abs=1e-13)
    assert m.expectation_pauli({n - 2: "Z", n - 1: "X"}) == pytest.approx(1.0, abs=1e-13)
    for i in range(1, n - 1):
        stabiliser = {i - 1: "Z", i: "X", i + 1: "Z"}
        assert m.expectation_pauli(stabiliser) == pytest.approx(1.0, abs=1e-13)
    # no stabiliser: <X_i> = <Z_i> = <Z_i Z_j> = 0, <X_0 X_1> = 0
    assert np.allclose(m.x_expectations(), 0.0, atol=1e-13)
    assert np.allclose(m.z_expectations(), 0.0, atol=1e-13)
    assert np.allclose(m.zz_matrix(), np.eye(n), atol=1e-13)
    assert abs(m.expectation_pauli({0: "X", 1: "X"})) < 1e-13
    # reflection of the chain (the declared symmetry) leaves the state unchanged
    mirrored = MPS([t.transpose(2, 1, 0) for t in m.tensors[::-1]])  # vR p vL -> vL p vR
    assert abs(m.overlap(mirrored)) == pytest.approx(1.0, abs=1e-13)


def test_product_bloch_vectors_at_50():
    n, seed = 50, 11
    m = product_mps(n, seed)
    q = haar_qubit_states(n, seed)
    rho = np.einsum("ip,iq->ipq", q, q.conj())  # qubit i: |q_i><q_i|
    for letter in "XYZ":
        exact = np.einsum("ipq,qp->i", rho, PAULI[letter]).real  # Tr[rho_i P]
        assert np.allclose(m.local_expectations(PAULI[letter]).real, exact, atol=1e-13)
    z = np.einsum("ipq,qp->i", rho, PAULI["Z"]).real
    zz = m.zz_matrix()
    off = ~np.eye(n, dtype=bool)
    assert np.allclose(zz[off], np.outer(z, z)[off], atol=1e-13)


def _dense_moments(psi: np.ndarray, n: int, pairs: list[tuple[int, int]]) -> tuple:
    """<X_i>, <Z_i> and <Z_i Z_j> of the listed pairs from a dense big-endian vector."""
    t = psi.reshape((2,) * n)
    p = np.abs(t) ** 2
    x = np.array([2 * np.vdot(np.take(t, 0, axis=i), np.take(t, 1, axis=i)).real
                  for i in range(n)])
    z = np.array([p.sum(axis=tuple(k for k in range(n) if k != i)) @ [1, -1] for i in range(n)])
    zz = []
    for i, j in pairs:
        pij = p.sum(axis=tuple(k for k in range(n) if k not in (i, j)))  # (b_i, b_j)
        zz.append(pij[0, 0] + pij[1, 1] - pij[0, 1] - pij[1, 0])
    return x, z, np.array(zz)


@pytest.mark.parametrize("noise", (0.0, 0.1))
def test_random_mps_target_at_20(noise):
    n, seed = 20, 4
    t = build_target("random-mps", n, seed=seed, noise=noise)
    assert t.psi is None and t.mps is not None and t.mps.max_bond == 2
    assert t.attrs["symmetry"] == "none" and t.attrs["boundary"] == "open"
    assert t.attrs["method"] == "exact"
    psi = _contract(random_mps_tensors(n, seed, 2))  # the raw draw, independent of the sweep
    psi = psi / np.linalg.norm(psi)
    assert _fidelity(t.mps.to_statevector(), psi) > 1 - 1e-12
    pairs = [(0, 1), (0, 19), (5, 12), (18, 19)]
    x, z, zz = _dense_moments(psi, n, pairs)
    assert np.allclose(t.x_exact, x * (1 - noise), atol=1e-12)
    assert np.allclose([t.zz_exact[i, j] for i, j in pairs], zz * (1 - noise) ** 2, atol=1e-12)
    assert np.allclose(t.zz_exact, t.zz_exact.T) and np.all(np.diag(t.zz_exact) == 1.0)
    assert np.allclose(t.mps.z_expectations(), z, atol=1e-12)


@pytest.mark.parametrize("family,symmetry,boundary", [
    ("w", "permutation", "none"), ("cluster", "reflection", "open"),
    ("product", "none", "none"), ("random-mps", "none", "open")])
def test_targets_above_16_are_mps(family, symmetry, boundary):
    for n in (16, 17):
        t = build_target(family, n, seed=3, noise=0.2)
        assert (t.psi is None) == (n > 16) and (t.mps is None) == (n <= 16)
        assert t.attrs["symmetry"] == symmetry and t.attrs["boundary"] == boundary
        assert t.x_exact.shape == (n,) and t.zz_exact.shape == (n, n)
    SimulateConfig(state=family, n_qubits=17).validate()
    # N = 17: the references from the MPS equal those of its dense vector
    mps = family_mps(family, 17, seed=3)
    x, _, zz = _dense_moments(mps.to_statevector(), 17, [(0, 16), (3, 4)])
    assert np.allclose(t.x_exact, x * 0.8, atol=1e-12)
    assert np.allclose([t.zz_exact[0, 16], t.zz_exact[3, 4]], zz * 0.64, atol=1e-12)
    with pytest.raises(InputValueError, match="--n-qubits"):
        SimulateConfig(state=family, n_qubits=0).validate()
