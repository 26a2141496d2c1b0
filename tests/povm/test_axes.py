"""Measurements along any axis: exact Born probabilities against a dense computation, the
Pauli-6 convention, and the per-site MPS sampler against the exact distribution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from qtomo.data.design import confusion_from_flips
from qtomo.povm.axes import (
    angles_to_vectors,
    axis_projectors,
    bit_channel,
    letter_angles,
    pauli_letters,
    setting_elements,
    setting_probabilities,
    vectors_to_angles,
)
from qtomo.povm.born import all_outcomes, born_probabilities, outcome_index
from qtomo.povm.frames import pauli6
from qtomo.povm.sampling import log_prob_sites, prepare_tensors, sample_sites
from qtomo.states.families import family_statevector
from qtomo.states.mps import MPS


def random_state(n, rng):
    v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return v / np.linalg.norm(v)


def dense_probabilities(psi, elements):
    """<psi| E_0(b_0) (x) ... (x) E_{N-1}(b_{N-1}) |psi> for every bit string, by Kronecker
    products of the 2x2 elements (qubit 0 the leftmost factor)."""
    n = elements.shape[0]
    out = np.empty(2**n)
    for i, bits in enumerate(all_outcomes(n, 2)):
        op = np.ones((1, 1))
        for q in range(n):
            op = np.kron(op, elements[q, bits[q]])
        out[i] = np.real(psi.conj() @ op @ psi)
    return out


def test_axis_setting_probabilities_match_dense_born_rule(rng):
    n = 4
    psi = random_state(n, rng)
    angles = np.column_stack([rng.uniform(0, np.pi, n), rng.uniform(-np.pi, np.pi, n)])
    vectors = angles_to_vectors(angles)
    flips = rng.uniform(0, 0.1, size=(n, 2))
    channel = bit_channel(0.07, confusion_from_flips(flips))
    p = setting_probabilities(psi, vectors, channel)
    elements = setting_elements(vectors, channel)
    np.testing.assert_allclose(p, dense_probabilities(psi, elements), atol=1e-13)
    assert abs(p.sum() - 1) < 1e-13 and p.min() >= 0
    # each element: the channel applied to the projectors, which are those of n.sigma
    proj = axis_projectors(vectors)
    nsig = proj[:, 0] - proj[:, 1]
    for q in range(n):
        assert np.allclose(nsig[q] @ nsig[q], np.eye(2))
        assert np.allclose(np.trace(nsig[q] @ np.array([[0, 1], [1, 0]])), 2 * vectors[q, 0])
    np.testing.assert_allclose(vectors_to_angles(vectors), angles, atol=1e-12)


def test_pauli_axes_agree_with_the_pauli6_convention(rng):
    """X = (pi/2, 0), Y = (pi/2, pi/2), Z = (0, 0): bit b of setting s is Pauli-6 outcome 2s+b,
    and P_6(a) = 3^-N P(bits | setting)."""
    n = 3
    psi = random_state(n, rng)
    p6 = born_probabilities(psi, pauli6())
    for letters in ("XYZ", "ZZX", "YYY"):
        ang = letter_angles(letters)
        assert pauli_letters(angles_to_vectors(ang)) == letters
        p = setting_probabilities(psi, angles_to_vectors(ang), np.eye(2))
        codes = np.array(["XYZ".index(c) for c in letters])
        bits = all_outcomes(n, 2)
        np.testing.assert_allclose(p, 3**n * p6[outcome_index(2 * codes + bits, 6)], atol=1e-13)
    # -x is an axis of its own (bits swapped), not the Pauli X
    assert pauli_letters(angles_to_vectors(np.array([[np.pi / 2, np.pi]]))) is None
    assert pauli_letters(angles_to_vectors(np.array([[np.pi / 2 + 1e-8, 0.0]]))) == "X"


@pytest.mark.parametrize("real,noise", [(True, 0.0), (True, 0.1), (False, 0.05)])
def test_mps_site_sampler_matches_the_exact_distribution(rng, real, noise):
    """The MPS path (per-site elements; torch for real tensors, numpy for complex ones) draws
    the dense path's distribution: chi-square of 20,000 shots over the 2^4 strings, exact
    log P to 1e-10."""
    n, shots = 4, 20_000
    psi = family_statevector("cluster", n, seed=3) if real else random_state(n, rng)
    assert np.isrealobj(psi) == real
    ts = prepare_tensors(MPS.from_statevector(psi))
    vectors = angles_to_vectors(np.column_stack([rng.uniform(0, np.pi, n),
                                                 rng.uniform(-np.pi, np.pi, n)]))
    channel = bit_channel(noise, confusion_from_flips(np.full((n, 2), 0.03)))
    p = setting_probabilities(psi, vectors, channel)
    bits = sample_sites(ts, setting_elements(vectors, channel), shots, rng)
    counts = np.bincount(outcome_index(bits, 2), minlength=2**n)
    stat = ((counts - shots * p) ** 2 / (shots * p)).sum()
    assert chi2.sf(stat, 2**n - 1) > 1e-3
    lp = log_prob_sites(ts, setting_elements(vectors, channel), bits[:200])
    np.testing.assert_allclose(lp, np.log(p[outcome_index(bits[:200], 2)]), atol=1e-10)
