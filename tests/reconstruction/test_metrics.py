"""Quantum fidelity (vs QuTiP), the direct fidelity estimate, classical metrics, Renyi-2."""

from __future__ import annotations

import numpy as np
import pytest
import qutip

from qtomo.errors import InputValueError
from qtomo.povm.born import born_probabilities, sample_from_table
from qtomo.povm.frames import get_frame, pauli6
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.density import frequency_table, to_qobj
from qtomo.states.ghz import ghz_statevector
from qtomo.states.mps import MPS
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_ground_state
from qtomo.training.metrics import scores_exact
from tests.conftest import random_density_matrix


def test_quantum_fidelity_matches_qutip_squared(rng):
    n = 3
    for _ in range(5):
        rho = random_density_matrix(n, rng)
        sigma = random_density_matrix(n, rng, rank=2)
        v = rng.normal(size=8) + 1j * rng.normal(size=8)
        v /= np.linalg.norm(v)
        # QuTiP returns sqrt(F); qtomo reports F (squared convention). QuTiP goes through
        # matrix square roots, accurate to ~1e-8 here; <v|rho|v> is exact arithmetic.
        want = qutip.fidelity(to_qobj(rho), to_qobj(sigma)) ** 2
        assert mt.quantum_fidelity(rho, sigma) == pytest.approx(want, abs=1e-8)
        assert mt.quantum_fidelity(rho, v) == pytest.approx(
            qutip.fidelity(to_qobj(rho), qutip.Qobj(v, dims=[[2] * n, [1] * n])) ** 2, abs=1e-7)
        assert mt.fidelity_from_qutip(rho, sigma) == pytest.approx(want, abs=1e-12)
        # the pure case equals the mixed formula on |v><v|
        assert mt.quantum_fidelity(rho, v) == pytest.approx(
            np.real(v.conj() @ rho @ v), abs=1e-15)
        assert mt.quantum_fidelity(rho, v) == pytest.approx(
            mt.quantum_fidelity(rho, np.outer(v, v.conj())), abs=1e-8)
    assert mt.quantum_fidelity(sigma, sigma) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("noise", [0.0, 0.1])
@pytest.mark.parametrize("name", ["pauli4", "pauli6"])
def test_direct_fidelity_is_exact_in_expectation(name, noise, rng):
    # sum_a P_lab(a) Q(a) = Tr[sigma rho_lab] exactly
    f = get_frame(name)
    n = 3
    psi = tfim_ground_state(n, 1.0, 0.8).psi
    rho_lab = random_density_matrix(n, rng, rank=2)
    p = born_probabilities(rho_lab, f)
    from qtomo.povm.born import all_outcomes

    q = mt.direct_fidelity_values(all_outcomes(n, f.K), f, psi, noise)
    sigma = depolarize(np.outer(psi, psi), noise) if noise else np.outer(psi, psi)
    assert p @ q == pytest.approx(np.real(np.trace(sigma @ rho_lab)), abs=1e-12)


def test_direct_fidelity_per_shot_route_equals_table(rng, monkeypatch):
    f = pauli6()
    n = 4
    psi = ghz_statevector(n)
    a = rng.integers(0, 6, size=(300, n)).astype(np.uint8)
    table = mt.direct_fidelity_values(a, f, psi, 0.05)
    monkeypatch.setattr(mt, "MAX_TABLE_ENTRIES", 10)  # force one contraction per shot
    per_shot = mt.direct_fidelity_values(a, f, psi, 0.05, chunk=64)
    np.testing.assert_allclose(per_shot, table, atol=1e-12)


@pytest.mark.parametrize("name", ["pauli4", "tetra", "pauli6"])
@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_direct_fidelity_from_an_mps_equals_the_dense_route(name, noise, rng):
    from qtomo.states.families import random_mps_statevector

    f = get_frame(name)
    n = 6
    psi = random_mps_statevector(n, seed=4, chi=3)  # complex, bond dimension 3
    a = rng.integers(0, f.K, size=(400, n)).astype(np.uint8)
    want = mt.direct_fidelity_values(a, f, psi, noise)
    for m in (MPS.from_statevector(psi), MPS.from_statevector(2.5 * psi, normalize=False)):
        got = mt.direct_fidelity_values_mps(a, f, m, noise, chunk=77)
        np.testing.assert_allclose(got, want, atol=1e-12 * np.abs(want).max())


def test_direct_estimate_equals_linear_inversion(rng):
    # the direct estimate is <psi| rho_lin |psi> of the frequency table, by linearity
    from qtomo.povm.born import rho_from_probabilities

    f = get_frame("pauli4")
    psi = ghz_statevector(3)
    a = sample_from_table(born_probabilities(psi, f.depolarized(0.1)), 5000, rng, 3, 4)
    est = mt.direct_fidelity(a, f, psi)
    rho_lin = rho_from_probabilities(frequency_table(a, 4), f, 3)
    assert est.value == pytest.approx(np.real(psi @ rho_lin @ psi), abs=1e-12)
    exact = np.real(psi @ depolarize(np.outer(psi, psi), 0.1) @ psi)
    assert abs(est.value - exact) < 4 * est.stderr


def test_classical_metrics_exact_and_sampled(rng):
    f = get_frame("pauli4")
    psi = tfim_ground_state(3, 1.0, 1.0).psi
    p = mt.target_born_table(psi, f)
    q = p * np.exp(0.2 * rng.normal(size=p.size))
    q /= q.sum()
    r = mt.classical_exact(q, p)
    s = scores_exact(np.log(q), p)
    assert r["classical_fidelity"] == pytest.approx(s.classical_fidelity)
    assert r["kl_divergence"] == pytest.approx(s.kl_divergence)
    # another state measured with the same IC POVM: F_c of its outcome distribution lies
    # strictly below 1 and, as for every measurement, at or above the root fidelity
    # |<psi|phi>| (the minimum over POVMs of the Bhattacharyya coefficient is sqrt(F))
    phi = tfim_ground_state(3, 1.0, 0.5).psi
    fc = mt.classical_exact(mt.target_born_table(phi, f), p)["classical_fidelity"]
    assert abs(np.vdot(psi, phi)) - 1e-12 <= fc < 1 - 1e-4
    idx = rng.choice(p.size, size=20000, p=p)
    m = mt.classical_from_samples(np.log(q[idx]), np.log(p[idx]))
    se = m["classical_fidelity_stderr"]
    assert abs(m["classical_fidelity"] - r["classical_fidelity"]) < 4 * se
    assert abs(m["kl_divergence"] - r["kl_divergence"]) < 4 * m["kl_divergence_stderr"]
    # noisy target table = Born table of the depolarized state
    np.testing.assert_allclose(
        mt.target_born_table(psi, f, 0.2),
        born_probabilities(depolarize(np.outer(psi, psi), 0.2), f), atol=1e-14)


def test_renyi2_u_statistic_is_exact_in_expectation(rng):
    # E[U] = Tr[rho_A^2]: check with the exact expectation over pairs of independent shots,
    # sum_{a,b} P(a) P(b) k(a, b) = Tr[rho_A^2]
    f = get_frame("tetra")
    rho = random_density_matrix(2, rng)
    p = born_probabilities(rho, f)
    g = np.einsum("aij,bji->ab", f.duals, f.duals).real
    gk = np.kron(g, g)
    assert p @ gk @ p == pytest.approx(np.real(np.trace(rho @ rho)), abs=1e-12)
    # and the estimator from counts: n shots with counts proportional to P
    counts = np.rint(p * 1e7)
    r = mt.renyi2_from_counts(counts, f)
    w = counts / counts.sum()
    assert r["purity"] == pytest.approx(np.real(np.trace(rho @ rho)), abs=1e-4)
    assert r["purity"] == pytest.approx(w @ gk @ w, abs=1e-4)


def test_renyi2_from_ghz_shots(rng):
    f = pauli6()
    n = 4
    psi = ghz_statevector(n)
    a = sample_from_table(born_probabilities(psi, f), 20000, rng, n, 6)
    for sites in ([0], [1, 2], [0, 1, 3]):
        r = mt.renyi2_from_shots(a, f, sites)
        assert abs(r["renyi2"] - 1.0) < 4.5 * r["renyi2_stderr"]  # every GHZ cut has S_2 = 1
        ex = mt.renyi2_exact(mt.exact_reduced_state(sites, psi=psi))
        assert ex["renyi2"] == pytest.approx(1.0)
    rdm = mt.reduced_density_matrix(a, f, [0, 3])
    want = mt.exact_reduced_state([0, 3], psi=psi)
    assert np.abs(rdm - want).max() < 0.05
    with pytest.raises(InputValueError, match="1..4 qubits"):
        mt.renyi2_from_shots(a, f, [0, 1, 2, 3, 3])
    with pytest.raises(InputValueError, match="distinct qubits"):
        mt.renyi2_from_shots(a, f, [0, 0])


def test_exact_reduced_state_from_mps_equals_statevector():
    psi = tfim_ground_state(6, 1.0, 1.0).psi
    m = MPS.from_statevector(psi)
    for k in (1, 2, 3):
        np.testing.assert_allclose(mt.exact_reduced_state(list(range(k)), mps=m),
                                   mt.exact_reduced_state(list(range(k)), psi=psi), atol=1e-12)
    assert mt.exact_reduced_state([1, 2], mps=m) is None  # only leading blocks from an MPS
    noisy = mt.exact_reduced_state([0], psi=psi, noise=0.2)
    np.testing.assert_allclose(noisy, depolarize(mt.exact_reduced_state([0], psi=psi), 0.2))


def test_default_subsystems():
    assert mt.default_subsystems(1) == [[0]]
    assert mt.default_subsystems(3) == [[0], [0, 1]]
    assert mt.default_subsystems(50) == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]
