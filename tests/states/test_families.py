"""W, cluster, random product and random MPS state vectors against their exact properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.states.families import (
    FAMILIES,
    FAMILY_MAX_QUBITS,
    HAAR_MAX_QUBITS,
    cluster_statevector,
    family_statevector,
    haar_statevector,
    product_statevector,
    random_mps_statevector,
    w_statevector,
)
from qtomo.states.statevector import statevector_expectation, x_and_zz
from qtomo.states.targets import build_target
from qtomo.training.symmetry import SYMMETRIES

NS = (1, 2, 3, 5, 8)


def _reduced(psi: np.ndarray, n: int, keep: tuple[int, ...]) -> np.ndarray:
    """Reduced density matrix of qubits ``keep`` (big-endian)."""
    t = psi.reshape((2,) * n)
    rest = [i for i in range(n) if i not in keep]
    t = np.moveaxis(t, list(keep) + rest, range(n)).reshape(2 ** len(keep), -1)
    return t @ t.conj().T


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n", NS)
def test_normalised_and_shape(family, n):
    psi = family_statevector(family, n, seed=7)
    assert psi.shape == (2**n,)
    assert np.isclose(np.vdot(psi, psi).real, 1.0, atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_refuses_too_many_qubits(family):
    with pytest.raises(InputValueError, match=str(FAMILY_MAX_QUBITS)):
        family_statevector(family, FAMILY_MAX_QUBITS + 1, seed=1)
    with pytest.raises(InputValueError):
        family_statevector(family, 0, seed=1)


def test_w_big_endian_and_moments():
    assert np.flatnonzero(w_statevector(3)).tolist() == [1, 2, 4]  # |001>, |010>, |100>
    for n in (2, 3, 6):
        psi = w_statevector(n)
        for i in range(n):
            assert np.isclose(statevector_expectation(psi, {i: "Z"}), 1 - 2 / n)
        for i, j in itertools.combinations(range(n), 2):
            assert np.isclose(statevector_expectation(psi, {i: "X", j: "X"}), 2 / n)
            assert np.isclose(statevector_expectation(psi, {i: "Y", j: "Y"}), 2 / n)
            assert np.isclose(statevector_expectation(psi, {i: "Z", j: "Z"}), 1 - 4 / n)


@pytest.mark.parametrize("n", (1, 2, 3, 4, 7))
def test_cluster_stabilisers(n):
    psi = cluster_statevector(n)
    stabs = []
    for i in range(n):
        s = {i: "X"}
        if i > 0:
            s[i - 1] = "Z"
        if i < n - 1:
            s[i + 1] = "Z"
        stabs.append(s)
    for s in stabs:
        assert np.isclose(statevector_expectation(psi, s), 1.0, atol=1e-12), s
    if n >= 2:
        assert np.isclose(statevector_expectation(psi, {0: "X", 1: "Z"}), 1.0)
        assert np.isclose(statevector_expectation(psi, {n - 2: "Z", n - 1: "X"}), 1.0)
        # a non-stabiliser: <X_0> = 0
        assert abs(statevector_expectation(psi, {0: "X"})) < 1e-12
    # invariant under reflection of the chain (the symmetry the dataset declares)
    assert np.allclose(psi.reshape((2,) * n).transpose(range(n)[::-1]).reshape(-1), psi)


@pytest.mark.parametrize("n", (1, 2, 4, 6))
def test_product_pure_marginals_and_no_correlations(n):
    psi = product_statevector(n, seed=11)
    for i in range(n):
        r = _reduced(psi, n, (i,))
        assert np.isclose(np.trace(r @ r).real, 1.0, atol=1e-12)
    for i, j in itertools.combinations(range(n), 2):
        for a, b in itertools.product("XYZ", repeat=2):
            c = (statevector_expectation(psi, {i: a, j: b})
                 - statevector_expectation(psi, {i: a}) * statevector_expectation(psi, {j: b}))
            assert abs(c) < 1e-12
    assert np.allclose(product_statevector(n, seed=11), psi)
    if n >= 2:
        assert not np.allclose(product_statevector(n, seed=12), psi)


def test_product_not_trivially_real():
    psi = product_statevector(6, seed=3)
    bloch = [[statevector_expectation(psi, {i: p}) for p in "XYZ"] for i in range(6)]
    assert np.allclose(np.linalg.norm(bloch, axis=1), 1.0)
    assert np.max(np.abs(np.array(bloch)[:, 1])) > 0.05  # Y components present: complex state


@pytest.mark.parametrize("n", (2, 3, 6, 9))
def test_random_mps_schmidt_rank_and_seed(n):
    psi = random_mps_statevector(n, seed=5)
    ranks = []
    for cut in range(1, n):
        s = np.linalg.svd(psi.reshape(2**cut, -1), compute_uv=False)
        rank = int(np.sum(s > 1e-10 * s[0]))
        assert rank <= 2
        ranks.append(rank)
    assert ranks == [2] * (n - 1)  # generic: the bound is reached
    assert np.array_equal(random_mps_statevector(n, seed=5), psi)
    assert not np.allclose(np.abs(random_mps_statevector(n, seed=6)), np.abs(psi))


@pytest.mark.parametrize("n", (1, 4, HAAR_MAX_QUBITS))
def test_haar_normalised_and_seeded(n):
    psi = haar_statevector(n, seed=21)
    assert psi.shape == (2**n,) and psi.dtype == np.complex128
    assert np.isclose(np.vdot(psi, psi).real, 1.0, atol=1e-12)
    assert np.array_equal(haar_statevector(n, seed=21), psi)
    assert np.array_equal(family_statevector("haar", n, seed=21), psi)
    assert abs(np.vdot(haar_statevector(n, seed=22), psi)) < 1 - 1e-6


def test_haar_refuses_more_than_12_qubits():
    with pytest.raises(InputValueError, match="at most 12 qubits, got 13"):
        haar_statevector(HAAR_MAX_QUBITS + 1, seed=1)
    with pytest.raises(InputValueError, match="at most 12 qubits"):
        build_target("haar", HAAR_MAX_QUBITS + 1)
    with pytest.raises(InputValueError):
        haar_statevector(0, seed=1)


def test_haar_overlap_moments():
    """F = |<a|b>|^2 of independent Haar draws in dimension d is Beta(1, d - 1): E F = 1/d and
    E F^2 = 2/(d(d+1)). The second moment tells complex Haar states from real Gaussian ones
    (3/(d(d+2)): 0.0375 against 0.0278 at d = 8, 9 standard errors apart here)."""
    n, m = 3, 2000
    d = 2**n
    a = np.array([haar_statevector(n, seed=2 * i) for i in range(m)])
    b = np.array([haar_statevector(n, seed=2 * i + 1) for i in range(m)])
    f = np.abs(np.einsum("si,si->s", a.conj(), b)) ** 2
    # exact moments of Beta(1, d - 1): E F^k = k! / (d (d+1) ... (d+k-1))
    m1, m2, m4 = 1 / d, 2 / (d * (d + 1)), 24 / (d * (d + 1) * (d + 2) * (d + 3))
    se1 = np.sqrt((m2 - m1**2) / m)
    se2 = np.sqrt((m4 - m2**2) / m)
    assert abs(f.mean() - m1) < 4 * se1
    assert abs((f**2).mean() - m2) < 4 * se2


@pytest.mark.parametrize("family,symmetry", [("w", "permutation"), ("cluster", "reflection"),
                                             ("product", "none"), ("random-mps", "none"),
                                             ("haar", "none")])
@pytest.mark.parametrize("noise", (0.0, 0.2))
def test_build_target(family, symmetry, noise):
    n = 5
    t = build_target(family, n, noise=noise, seed=3)
    assert t.attrs["state"] == family and t.attrs["symmetry"] == symmetry
    assert symmetry in SYMMETRIES and t.attrs["method"] == "exact"
    psi = family_statevector(family, n, seed=3)
    assert np.allclose(t.psi, psi)
    x, zz = x_and_zz(psi)
    assert np.allclose(t.x_exact, x * (1 - noise))
    off = ~np.eye(n, dtype=bool)
    assert np.allclose(t.zz_exact[off], zz[off] * (1 - noise) ** 2)
    assert np.allclose(np.diag(t.zz_exact), 1.0)
    for i in range(n):
        assert np.isclose(x[i], statevector_expectation(psi, {i: "X"}))
