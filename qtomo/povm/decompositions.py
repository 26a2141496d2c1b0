"""Decompositions of single-qubit POVM elements used by the MPS samplers.

Both functions take a :class:`~qtomo.povm.frames.Frame` or its elements alone (an array of
shape (K, 2, 2)) and do not depend on any state:

* :func:`rank1_pieces` splits every element into rank-1 pieces,
  ``M(a) = sum_k phi_ak phi_ak^+`` (eigen-decomposition; a depolarized element has two), for
  the general sampler of :mod:`qtomo.povm.mps_sampler`;
* :func:`basis_form` writes a frame that is a random choice of measurement basis followed by
  a projective measurement (Pauli-4, Pauli-6) as bases, weights and outcome labels, for the
  faster basis-choice sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtomo.povm.frames import Frame

#: Tolerances of the decompositions: relative eigenvalue cut of :func:`rank1_pieces`, the
#: pairing tolerance of :func:`basis_form`, and how closely its rebuilt elements must match.
RANK1_RTOL = 1e-12
BASIS_TOL = 1e-10
_REBUILD_ATOL = 1e-9


def _elements(frame: Frame | np.ndarray) -> np.ndarray:
    return frame.elements if isinstance(frame, Frame) else np.asarray(frame)


def rank1_pieces(
    frame: Frame | np.ndarray, rtol: float = RANK1_RTOL
) -> tuple[np.ndarray, np.ndarray]:
    """Rank-1 decomposition ``M(a) = sum_k phi_ak phi_ak^+`` of every POVM element.

    Parameters
    ----------
    frame : Frame or ndarray, shape (K, 2, 2)
        The POVM, or its elements.
    rtol : float
        Eigenvalues below ``rtol`` times the largest are dropped.

    Returns
    -------
    phi : ndarray, complex128, shape (P, 2)
        The pieces.
    outcome : ndarray, uint8, shape (P,)
        Element index of each piece.
    """
    els = _elements(frame)
    phis, outs = [], []
    lam_all, vec_all = np.linalg.eigh(els)
    scale = lam_all.max()
    for a in range(els.shape[0]):
        for k in range(2):
            lam = lam_all[a, k]
            if lam > rtol * scale:
                phis.append(np.sqrt(lam) * vec_all[a, :, k])
                outs.append(a)
    return np.array(phis, dtype=np.complex128), np.array(outs, dtype=np.uint8)


@dataclass(frozen=True)
class BasisForm:
    """A frame written as a random choice of measurement basis followed by a projective
    measurement: ``M(a) = sum_{(b, s): label[b, s] = a} weight[b] |e_bs><e_bs|``."""

    weight: np.ndarray  # (B,) basis probabilities, summing to 1
    vectors: np.ndarray  # (B, 2, 2) complex: vectors[b, s] is the state of outcome s of basis b
    label: np.ndarray  # (B, 2) outcome label of (basis, outcome)


def _pair_bases(lam: np.ndarray, vec: np.ndarray, single: list[int], tol: float, scale: float):
    """Pair rank-1 elements of equal weight with orthogonal vectors into bases; returns the
    weights, vector pairs and label pairs found, and the elements left unpaired."""
    weights, vectors, labels = [], [], []
    used: set[int] = set()
    for i, a in enumerate(single):
        if a in used:
            continue
        for b in single[i + 1:]:
            if b in used:
                continue
            if (abs(lam[a, 1] - lam[b, 1]) < tol * scale
                    and abs(np.vdot(vec[a, :, 1], vec[b, :, 1])) < tol):
                weights.append(lam[a, 1])
                vectors.append([vec[a, :, 1], vec[b, :, 1]])
                labels.append([a, b])
                used.update((a, b))
                break
    return weights, vectors, labels, [a for a in single if a not in used]


def basis_form(frame: Frame | np.ndarray, tol: float = BASIS_TOL) -> BasisForm | None:
    """The basis-choice form of a frame (Pauli-4, Pauli-6), or None when it has none
    (tetrahedral, depolarized frames).

    Rank-1 elements of equal weight with orthogonal vectors pair into one basis; the rank-1
    elements left over must share one remaining element equal to ``sum w (I - |e><e|)``
    (Pauli-4's fourth). The result is checked by rebuilding every element.

    Parameters
    ----------
    frame : Frame or ndarray, shape (K, 2, 2)
        The POVM, or its elements.
    tol : float
        Tolerance (relative to the largest eigenvalue) of the rank and pairing tests.

    Returns
    -------
    BasisForm or None
    """
    els = _elements(frame)
    lam, vec = np.linalg.eigh(els)
    scale = lam.max()
    rank = (lam > tol * scale).sum(axis=1)
    single = [a for a in range(els.shape[0]) if rank[a] == 1]
    others = [a for a in range(els.shape[0]) if rank[a] != 1]
    weights, vectors, labels, rest = _pair_bases(lam, vec, single, tol, scale)
    if rest:
        if len(others) != 1:
            return None
        for a in rest:
            e = vec[a, :, 1]
            perp = np.array([-np.conj(e[1]), np.conj(e[0])])
            weights.append(lam[a, 1])
            vectors.append([e, perp])
            labels.append([a, others[0]])
    elif others:
        return None
    form = BasisForm(np.array(weights), np.array(vectors, dtype=np.complex128),
                     np.array(labels, dtype=np.int64))
    rebuilt = np.zeros_like(els)
    for w, pair, lab in zip(form.weight, form.vectors, form.label, strict=True):
        for e, a in zip(pair, lab, strict=True):
            rebuilt[a] += w * np.outer(e, e.conj())
    if (abs(form.weight.sum() - 1.0) > _REBUILD_ATOL
            or not np.allclose(rebuilt, els, atol=_REBUILD_ATOL)):
        return None
    return form
