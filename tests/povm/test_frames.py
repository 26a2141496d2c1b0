"""POVM frames: completeness, positivity, informational completeness, dual frames."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.povm.frames import PAULI, Frame, FrameError, get_frame, pauli6

NAMES = ["pauli4", "tetra", "pauli6"]


@pytest.mark.parametrize("name", NAMES)
def test_completeness_positivity_ic(name):
    f = get_frame(name)
    assert np.allclose(f.elements.sum(0), np.eye(2), atol=1e-14)
    assert np.linalg.eigvalsh(f.elements).min() > -1e-14
    assert np.linalg.matrix_rank(f.overlap) == 4
    # dual frame reconstructs every operator: X = sum_a Tr[X M(a)] D(a)
    for op in PAULI.values():
        coeffs = np.einsum("ij,aji->a", op, f.elements)
        assert np.allclose(np.einsum("a,aij->ij", coeffs, f.duals), op, atol=1e-12)


def test_pauli4_elements():
    f = get_frame("pauli4")
    assert np.allclose(f.elements[0], np.diag([1, 0]) / 3)
    assert np.allclose(f.elements[1], np.full((2, 2), 0.5) / 3)
    assert np.allclose(f.elements[2], np.array([[0.5, -0.5j], [0.5j, 0.5]]) / 3)
    assert np.linalg.matrix_rank(f.elements[3]) == 2


def test_tetra_is_symmetric():
    f = get_frame("tetra")
    t = f.overlap
    assert np.allclose(np.diag(t), 1 / 4)
    off = t[~np.eye(4, dtype=bool)]
    assert np.allclose(off, 1 / 12)  # SIC: Tr[M_a M_b] = (1 + s_a.s_b)/8 with s_a.s_b = -1/3


def test_pauli6_coarse_grains_to_pauli4():
    p6 = pauli6()
    # (+x,-x,+y,-y,+z,-z) -> +z:0, +x:1, +y:2, rest:3
    p4 = p6.coarse_grain([[4], [0], [2], [1, 3, 5]], "pauli4")
    assert np.allclose(p4.elements, get_frame("pauli4").elements)


def test_depolarized_frame_matches_channel(rng):
    from qtomo.povm.born import born_probabilities
    from qtomo.states.noise import depolarize
    from tests.conftest import random_density_matrix

    rho = random_density_matrix(3, rng)
    for name in NAMES:
        f = get_frame(name)
        a = born_probabilities(rho, f.depolarized(0.2))
        b = born_probabilities(depolarize(rho, 0.2), f)
        assert np.allclose(a, b, atol=1e-13)


def test_invalid_frames_rejected():
    with pytest.raises(FrameError, match="unknown POVM"):
        get_frame("pauli5")
    with pytest.raises(FrameError, match="identity"):
        Frame("bad", np.stack([np.eye(2) / 4] * 3 + [np.eye(2) / 8]))
    with pytest.raises(FrameError, match="informationally complete"):
        Frame("z-only", np.stack([np.diag([1, 0]), np.diag([0, 1]), np.zeros((2, 2)), np.zeros((2, 2))]))
    with pytest.raises(FrameError):
        get_frame("pauli4").depolarized(1.5)
