"""Symmetry augmentation: augmented shots have exactly the probability of the originals."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.povm.frames import get_frame
from qtomo.povm.sampling import log_prob_mps, sample_mps
from qtomo.states.dmrg import dmrg_tfim
from qtomo.states.ghz import ghz_mps
from qtomo.training.symmetry import augment, resolve_symmetry, target_symmetry


@pytest.mark.parametrize(
    "state,group",
    [("ghz", "permutation"), ("tfim", "reflection")],
)
def test_augmented_shots_keep_their_exact_probability(state, group):
    """P(g a) = P(a) for the group the state declares: log P of every augmented shot equals
    that of its original (exact MPS log P, to rounding)."""
    n = 8
    f = get_frame("pauli4")
    mps = ghz_mps(n) if state == "ghz" else dmrg_tfim(n, 1.0, 1.0, chi_max=16).mps
    a = sample_mps(mps, f, 400, np.random.default_rng(1))
    b = augment(a, group, np.random.default_rng(2))
    assert not np.array_equal(a, b)
    np.testing.assert_allclose(log_prob_mps(mps, f, b), log_prob_mps(mps, f, a), atol=1e-9)


def test_reflection_is_not_a_symmetry_of_a_non_symmetric_state():
    """The check above can fail: a chain with a field on one end only is not reflection
    invariant, and reversed shots change probability."""
    from qtomo.states.mps import MPS

    rng = np.random.default_rng(3)
    psi = rng.normal(size=2**6)
    mps = MPS.from_statevector(psi / np.linalg.norm(psi))
    f = get_frame("pauli4")
    a = sample_mps(mps, f, 200, np.random.default_rng(1))
    b = augment(a, "reflection", np.random.default_rng(2))
    diff = np.abs(log_prob_mps(mps, f, b) - log_prob_mps(mps, f, a))
    assert diff.max() > 1e-3


def test_group_actions_permute_each_row():
    a = np.tile(np.arange(7, dtype=np.uint8), (500, 1))
    rng = np.random.default_rng(0)
    for group in ("permutation", "translation", "reflection"):
        b = augment(a, group, rng)
        np.testing.assert_array_equal(np.sort(b, axis=1), a)  # a permutation of the row
    r = augment(a, "reflection", rng)
    rows = {tuple(x) for x in r}
    assert rows == {tuple(range(7)), tuple(range(6, -1, -1))}
    t = augment(a, "translation", rng)
    d = np.diff(t.astype(int), axis=1) % 7
    assert np.all((d == 1) | (d == 6))  # cyclic order kept, forwards or backwards
    assert len({tuple(x) for x in t}) == 14  # 7 shifts x 2 directions
    np.testing.assert_array_equal(augment(a, "none", rng), a)


def test_declared_symmetry_of_datasets():
    assert target_symmetry({"state": "ghz"}) == "permutation"
    assert target_symmetry({"state": "tfim", "boundary": "open"}) == "reflection"
    assert target_symmetry({"state": "tfim", "boundary": "periodic"}) == "translation"
    assert target_symmetry({"state": "ghz", "origin": "lab"}) == "none"
    assert target_symmetry({"state": "ghz", "symmetry": "none"}) == "none"
    assert resolve_symmetry("auto", {"state": "ghz"}) == "permutation"
    assert resolve_symmetry("none", {"state": "ghz"}) == "none"
    with pytest.raises(InputValueError, match="symmetry"):
        resolve_symmetry("rotation", {})


@pytest.mark.parametrize("group", ["permutation", "translation", "reflection"])
def test_symmetrized_table_is_the_group_average(group):
    """symmetrize_table is the mean of the table over the group's site permutations (brute
    force over all 4! permutations, the 8 dihedral elements, or the reversal); a Born table
    of a state with that symmetry (GHZ for all three, the open TFIM chain for reflection)
    is left as it is, to rounding; the total probability is kept."""
    import itertools

    from qtomo.povm.born import born_probabilities
    from qtomo.states.ghz import ghz_statevector
    from qtomo.training.symmetry import symmetrize_table

    n, frame = 4, get_frame("pauli4")
    rng = np.random.default_rng(5)
    t = rng.random(4**n)
    t /= t.sum()
    cube = t.reshape((4,) * n)
    if group == "permutation":
        perms = [list(p) for p in itertools.permutations(range(n))]
    elif group == "translation":
        perms = [[(j + s) % n for j in range(n)] for s in range(n)]
        perms += [p[::-1] for p in perms]
    else:
        perms = [list(range(n)), list(range(n))[::-1]]
    brute = np.mean([np.transpose(cube, p).ravel() for p in perms], axis=0)
    got = symmetrize_table(t, 4, n, group)
    np.testing.assert_allclose(got, brute, atol=1e-15)
    assert got.sum() == pytest.approx(1.0)
    assert np.abs(got - t).max() > 1e-3  # a random table is not symmetric
    psi = ghz_statevector(n)
    ghz = born_probabilities(np.outer(psi, psi.conj()), frame)
    np.testing.assert_allclose(symmetrize_table(ghz, 4, n, group), ghz, atol=1e-14)
    np.testing.assert_array_equal(symmetrize_table(t, 4, n, "none"), t)
