"""Stabilizer groups of GHZ and cluster states against their dense state vectors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from qtomo.errors import InputValueError
from qtomo.povm.born import pauli_operator
from qtomo.states.families import cluster_statevector
from qtomo.states.ghz import ghz_statevector
from qtomo.states.stabilizers import (
    LETTERS,
    Generators,
    all_elements,
    element_label,
    graph_generators,
    group_elements,
    parse_element_label,
    sample_elements,
    stabilizer_generators,
)

STATES = {"ghz": ghz_statevector, "cluster": cluster_statevector}


def dense(sign: int, letters: np.ndarray) -> np.ndarray:
    n = letters.size
    return sign * pauli_operator({q: LETTERS[c] for q, c in enumerate(letters) if c}, n)


@pytest.mark.parametrize("state", ["ghz", "cluster"])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_every_element_stabilizes_the_state_and_they_sum_to_its_projector(state, n):
    psi = STATES[state](n)
    signs, letters = all_elements(stabilizer_generators(state, n))
    labels = {element_label(s, row) for s, row in zip(signs, letters, strict=True)}
    assert len(labels) == 2**n  # 2^N distinct elements
    total = np.zeros((2**n, 2**n), dtype=complex)
    for s, row in zip(signs, letters, strict=True):
        op = dense(s, row)
        np.testing.assert_allclose(op @ psi, psi, atol=1e-12)
        total += op
    np.testing.assert_allclose(total / 2**n, np.outer(psi, psi), atol=1e-12)


def test_cluster_generators_are_the_textbook_ones():
    signs, letters = group_elements(stabilizer_generators("cluster", 4), np.eye(4, dtype=int))
    assert [element_label(s, r) for s, r in zip(signs, letters, strict=True)] == [
        "+XZII", "+ZXZI", "+IZXZ", "+IIZX"]


def test_products_carry_signs():
    # GHZ-2: X0 X1 times Z0 Z1 = (X0 Z0)(X1 Z1) = (-iY0)(-iY1) = -Y0 Y1
    signs, letters = group_elements(stabilizer_generators("ghz", 2), np.array([[1, 1]]))
    assert element_label(signs[0], letters[0]) == "-YY"


def test_sampling_is_uniform_over_the_group(rng):
    gens = stabilizer_generators("cluster", 3)
    signs, letters = sample_elements(gens, 8000, rng)
    labels = [element_label(s, r) for s, r in zip(signs, letters, strict=True)]
    _, counts = np.unique(labels, return_counts=True)
    assert counts.size == 8
    assert chisquare(counts).pvalue > 1e-3


def test_labels_round_trip_and_bad_ones_are_refused():
    sign, letters = parse_element_label("-XIZY", 4)
    assert sign == -1 and element_label(sign, letters) == "-XIZY"
    for bad in ("XIZY", "+XIZ", "+XIQY"):
        with pytest.raises(InputValueError):
            parse_element_label(bad, 4)


def test_bad_generators_are_refused():
    with pytest.raises(InputValueError):
        graph_generators(np.array([[0, 1], [0, 0]]))
    # X0 and Z0 anticommute: their product is -i Y0, not Hermitian
    g = Generators(np.array([[1, 0], [0, 0]], dtype=np.uint8),
                   np.array([[0, 0], [1, 0]], dtype=np.uint8), np.zeros(2, dtype=np.int64))
    with pytest.raises(InputValueError, match="commute"):
        group_elements(g, np.array([[1, 1]]))
    with pytest.raises(InputValueError):
        stabilizer_generators("w", 3)
