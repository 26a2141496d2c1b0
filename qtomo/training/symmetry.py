"""Symmetry augmentation of training shots.

When the measured state is invariant under a group of qubit permutations and every qubit is
measured with the same POVM (and the same local noise), the outcome distribution P(a) is
invariant under the same permutations of the outcome string. Training on shots permuted by
random group elements then fits the same P, but every site's statistics pool the shots of all
equivalent sites, which matters most where shots are few and over-fitting is the risk.

Groups (``--symmetry``):

* ``none``: shots as measured.
* ``reflection``: the chain read backwards (open TFIM chains).
* ``translation``: cyclic shifts and reflections (periodic TFIM chains).
* ``permutation``: every permutation of the qubits (GHZ states).
* ``auto`` (default): the group the dataset declares for its target state. ``qtomo simulate``
  declares the symmetry of the state it prepared; imported lab data declares ``none``, since a
  real device breaks the symmetry of the state it was meant to prepare.

The validation and evaluation shots are never augmented.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.typing import Outcomes

SYMMETRIES = ("none", "reflection", "translation", "permutation")
_AUG = 0xA06  # seed-stream tag


def target_symmetry(target: dict[str, Any]) -> str:
    """The symmetry group a dataset's target declares (older files: from its state)."""
    declared = target.get("symmetry")
    if isinstance(declared, str) and declared in SYMMETRIES:
        return declared
    if target.get("origin") == "lab":
        return "none"
    state = target.get("state")
    if state == "ghz":
        return "permutation"
    if state == "tfim":
        return "translation" if target.get("boundary") == "periodic" else "reflection"
    return "none"


def resolve_symmetry(requested: str, target: dict[str, Any]) -> str:
    """``--symmetry`` after ``auto`` is replaced by the dataset's declared group."""
    if requested == "auto":
        return target_symmetry(target)
    if requested not in SYMMETRIES:
        raise InputValueError(
            f"unknown --symmetry {requested!r}; expected auto, {', '.join(SYMMETRIES)}"
        )
    return requested


def augment(a: Outcomes, group: str, rng: np.random.Generator) -> Outcomes:
    """Each row of ``a`` permuted by an independent uniformly random element of ``group``."""
    if group == "none" or a.shape[1] < 2:
        return a
    n_rows, n = a.shape
    if group == "permutation":
        idx = np.argsort(rng.random((n_rows, n)), axis=1)
    else:
        idx = np.broadcast_to(np.arange(n), (n_rows, n))
        if group == "translation":
            idx = (idx + rng.integers(0, n, size=(n_rows, 1))) % n
        flip = rng.random(n_rows) < 0.5
        idx = np.where(flip[:, None], idx[:, ::-1], idx)
    return np.take_along_axis(a, idx, axis=1)


def symmetrize_table(table: np.ndarray, K: int, n: int, group: str) -> np.ndarray:
    """The average of an outcome table (K^N entries, site 0 the most significant digit) over
    the group's action on the sites: the distribution a model trained with :func:`augment`
    estimates. ``reflection``: the table and its reversed-site copy; ``translation``: the
    dihedral group (cyclic shifts and their reflections, as :func:`augment` draws them);
    ``permutation``: the mean over each orbit, the strings with the same count of every
    outcome."""
    t = np.asarray(table, dtype=np.float64)
    if group == "none" or n < 2:
        return t
    if group not in SYMMETRIES:
        raise InputValueError(f"unknown symmetry {group!r}")
    if group == "permutation":
        code = (n + 1) ** np.arange(K, dtype=np.int64)  # a string's key: its outcome counts
        key = code
        for _ in range(n - 1):
            key = (key[:, None] + code[None, :]).ravel()
        total = np.bincount(key, weights=t)
        size = np.bincount(key)
        return total[key] / size[key]
    cube = t.reshape((K,) * n)
    orders = [list(range(n))]
    if group == "translation":
        orders = [[(j + s) % n for j in range(n)] for s in range(n)]
    orders += [o[::-1] for o in orders]
    return np.mean([np.transpose(cube, o).ravel() for o in orders], axis=0)


def augmentation_rng(seed: int, epoch: int) -> np.random.Generator:
    """Random source of the augmentation in one epoch (fixed by the seed, so resume repeats;
    the same on every rank, which all augment the whole global batch)."""
    return np.random.default_rng([seed, _AUG, epoch])


__all__ = ["SYMMETRIES", "augment", "augmentation_rng", "resolve_symmetry", "symmetrize_table",
           "target_symmetry"]
