"""Readout errors inside the POVM: effective per-qubit frames and their duals."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.povm.born import (
    born_probabilities,
    pauli_operator,
    pauli_q_values,
    rho_from_probabilities,
    sample_from_table,
)
from qtomo.povm.frames import FrameError, LocalFrames, pauli6, readout_frames, tetra, with_readout
from qtomo.reconstruction.density import product_table, weighted_operator
from qtomo.states.paulis import I2


def confusion(p10: float, p01: float) -> np.ndarray:
    """C[b, b'] = P(read b | b')."""
    return np.array([[1 - p10, p01], [p10, 1 - p01]])


def random_rho(n: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(2**n, 2**n)) + 1j * rng.normal(size=(2**n, 2**n))
    r = a @ a.conj().T
    return r / np.trace(r)


CONF = np.stack([confusion(0.02, 0.05), confusion(0.04, 0.01), confusion(0.0, 0.1)])


def test_effective_elements_are_a_povm():
    for c in CONF:
        m = with_readout(pauli6(), c).elements
        assert np.allclose(m.sum(0), I2, atol=1e-12)
        assert np.linalg.eigvalsh(m).min() > -1e-12
        # each setting's pair still sums to that setting's weight times the identity
        for s in range(3):
            assert np.allclose(m[2 * s] + m[2 * s + 1], I2 / 3, atol=1e-12)


def test_readout_needs_pauli6_and_a_stochastic_matrix():
    with pytest.raises(FrameError, match="Pauli-6"):
        with_readout(tetra(), CONF[0])
    with pytest.raises(FrameError, match="stochastic"):
        with_readout(pauli6(), np.array([[0.9, 0.1], [0.2, 0.9]]))


def test_uniform_confusion_gives_one_frame():
    f = readout_frames(pauli6(), np.stack([CONF[0]] * 4))
    assert f.uniform and f.K == 6
    g = readout_frames(pauli6(), CONF)
    assert isinstance(g, LocalFrames) and not g.uniform and g.n_qubits == 3


def test_born_rule_of_the_effective_povm_is_the_misread_statistics():
    """P'(s, b) = sum_b' prod_q C_q[b_q|b'_q] P(s, b'): the bits of ideal shots, misread."""
    rng = np.random.default_rng(3)
    rho = random_rho(3, rng)
    ideal = born_probabilities(rho, pauli6()).reshape(6, 6, 6)
    eff = born_probabilities(rho, readout_frames(pauli6(), CONF)).reshape(6, 6, 6)
    # the misreading as a 6x6 stochastic map per qubit, block-diagonal in the setting
    maps = [np.kron(np.eye(3), c) for c in CONF]
    expect = np.einsum("ax,by,cz,xyz->abc", *maps, ideal)
    assert np.allclose(eff, expect, atol=1e-13)
    assert np.isclose(eff.sum(), 1.0)


def test_per_qubit_duals_give_back_rho_from_exact_probabilities():
    rng = np.random.default_rng(4)
    rho = random_rho(3, rng)
    frames = readout_frames(pauli6(), CONF)
    p = born_probabilities(rho, frames)
    assert np.allclose(rho_from_probabilities(p, frames, 3), rho, atol=1e-12)
    # the two dense contractions agree with per-qubit operators
    from qtomo.povm.frames import site_operators

    assert np.allclose(product_table(rho, site_operators(frames, 3)).real, p, atol=1e-13)
    assert np.allclose(weighted_operator(p, site_operators(frames, 3, "duals"), 3), rho,
                       atol=1e-12)
    # the ideal duals on misread statistics do not: readout error would pass for state error
    assert not np.allclose(rho_from_probabilities(p, pauli6(), 3), rho, atol=1e-2)


def test_corrected_pauli_estimates_are_unbiased_over_seeds():
    """<Z0 Z1 Z2> and <X0 X1 X2> of GHZ-3 from misread shots, corrected, over 30 seeds:
    the mean lies within 4 standard errors of the exact value, while the uncorrected mean is
    off by many."""
    psi = np.zeros(8, complex)
    psi[0] = psi[-1] = 2**-0.5
    frames = readout_frames(pauli6(), CONF)
    p = born_probabilities(psi, frames)
    n_shots, seeds = 4000, 30
    for paulis in ({0: "Z", 1: "Z"}, {0: "X", 1: "X", 2: "X"}):
        exact = float(np.real(np.vdot(psi, pauli_operator(paulis, 3) @ psi)))
        corr, raw = [], []
        for seed in range(seeds):
            a = sample_from_table(p, n_shots, np.random.default_rng(seed), 3, 6)
            corr.append(pauli_q_values(a, frames, paulis).mean())
            raw.append(pauli_q_values(a, pauli6(), paulis).mean())
        se = np.std(corr, ddof=1) / np.sqrt(seeds)
        assert abs(np.mean(corr) - exact) < 4 * se
        assert abs(np.mean(raw) - exact) > 10 * se


def test_corrected_direct_fidelity_is_unbiased_over_seeds():
    """Noisy GHZ-3 read with per-qubit errors: the direct fidelity estimate with the effective
    POVM's duals averages to the exact fidelity of the prepared state (within 4 s.e. of the
    mean over 30 seeds); with the ideal duals it is biased low by many s.e."""
    from qtomo.reconstruction.metrics import direct_fidelity_values, target_state

    psi = np.zeros(8, complex)
    psi[0] = psi[-1] = 2**-0.5
    noise = 0.05
    rho = target_state(psi, noise)
    exact = float(np.real(np.vdot(psi, rho @ psi)))
    frames = readout_frames(pauli6(), CONF)
    p = born_probabilities(rho, frames)
    corr, raw = [], []
    for seed in range(30):
        a = sample_from_table(p, 3000, np.random.default_rng(100 + seed), 3, 6)
        corr.append(direct_fidelity_values(a, frames, psi).mean())
        raw.append(direct_fidelity_values(a, pauli6(), psi).mean())
    se = np.std(corr, ddof=1) / np.sqrt(len(corr))
    assert abs(np.mean(corr) - exact) < 4 * se
    assert np.mean(raw) < exact - 10 * se


def test_calibration_draws_follow_the_binomial_spread():
    """Drawn flip probabilities scatter with the binomial s.e. sqrt(p(1-p)/n) of the
    calibration shots; exact matrices (zero s.e., no shots) draw nothing."""
    from qtomo.data.design import Readout
    from qtomo.reconstruction.readout import confusion_draws, widen

    c = np.stack([confusion(0.02, 0.05)] * 2)
    r = Readout(c, np.zeros_like(c), "calibration", "cal.json", np.full((2, 2), 10_000))
    d = np.array(confusion_draws(r, 400, np.random.default_rng(0)))
    for (b, bp), p in (((1, 0), 0.02), ((0, 1), 0.05)):
        se = np.sqrt(p * (1 - p) / 10_000)
        assert abs(d[:, 0, b, bp].mean() - p) < 4 * se / np.sqrt(400)
        assert 0.85 < d[:, 0, b, bp].std(ddof=1) / se < 1.15
    np.testing.assert_allclose(d.sum(axis=2), 1.0)
    exact = Readout(c, np.zeros_like(c), "simulate", "", None)
    assert confusion_draws(exact, 10, np.random.default_rng(0)) == []
    se, ci = widen(0.9, 0.003, [0.894, 0.906], 0.004)
    assert se == pytest.approx(0.005) and ci[0] < 0.894 and ci[1] > 0.906


def test_readout_duals_stay_within_their_setting():
    """Tr[P D'(s, b)] vanishes for a Pauli P outside setting s, as for the ideal Pauli-6."""
    f = with_readout(pauli6(), CONF[0])
    tab = f.pauli_table  # rows I, X, Y, Z; columns (+x, -x, +y, -y, +z, -z)
    for row, setting in ((1, 0), (2, 1), (3, 2)):
        outside = [a for a in range(6) if a // 2 != setting]
        assert np.allclose(tab[row, outside], 0.0, atol=1e-13)
    with pytest.raises(FrameError, match="not a dual frame"):
        type(f)("bad", f.elements, given_duals=pauli6().duals)
