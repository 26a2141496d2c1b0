"""Exact MPS of the target families (W, cluster, random product, random MPS) at any N.

The dense builders of :mod:`qtomo.states.families` stop at 16 qubits; the MPS here describe the
same states without that limit and are what :func:`qtomo.states.targets.build_target` stores
(and samples from) above 16 qubits. Conventions as everywhere in qtomo (docs/conventions.md,
"Qubits and bit order"): site j is qubit j, legs ``vL p vR`` (:mod:`qtomo.states.mps`), physical
index 0 is ``|0>``, the +1 eigenstate of Z. Every builder returns a normalised right-canonical
MPS (``sum_{p, vR} B B^* = 1`` at every site, norm ``|B_0|``), the form the MPS sampler and the
exact log P expect.

* W state: bond dimension 2. On the bond left of site j (``m = N - j`` sites to its right) the
  right states are ``|0..0>`` (index 0) and ``|W_m>`` (index 1); ``|W_m> = |1>|0..0>/sqrt(m) +
  sqrt((m-1)/m) |0>|W_{m-1}>`` gives the tensors, and the Schmidt values are
  ``sqrt(j/N)`` and ``sqrt(m/N)``.
* Cluster state: bond dimension 2, ``B[l, p, r] = delta(p, r) (-1)^(l p) / sqrt2``: the bond
  carries the previous qubit's bit, every CZ contributes its sign, and each bond holds one ebit.
* Random product state: bond dimension 1, the Haar qubits of
  :func:`~qtomo.states.families.haar_qubit_states` (the same draw as the dense vector).
* Random MPS: the tensors of :func:`~qtomo.states.families.random_mps_tensors` (the same draw
  as the dense vector), brought to right-canonical form by an exact QR and SVD sweep, so that
  for N <= 16 both routes give the same normalised state.
"""

from __future__ import annotations

import numpy as np

from qtomo.errors import InputValueError
from qtomo.states.families import FAMILIES, haar_qubit_states, random_mps_tensors
from qtomo.states.mps import MPS


def _check_n(n: int) -> None:
    if int(n) != n or n < 1:
        raise InputValueError(f"--n-qubits must be an integer >= 1, got {n}")


def w_mps(n: int) -> MPS:
    """Exact right-canonical MPS of the W state ``(|10..0> + ... + |0..01>)/sqrt(N)``.

    Bond dimension 2 (1 for ``n = 1``), real tensors; see the module docstring for the
    construction. Exact moments: ``<Z_i> = 1 - 2/N``, ``<Z_i Z_j> = 1 - 4/N`` (i != j).
    """
    _check_n(n)
    tensors = []
    for j in range(n):
        m = n - j  # sites from j to the end
        b = np.zeros((2, 2, 2))  # vL p vR; vL/vR 0: |0..0> to the right, 1: |W> to the right
        b[0, 0, 0] = 1.0
        b[1, 1, 0] = 1.0 / np.sqrt(m)
        b[1, 0, 1] = np.sqrt((m - 1) / m)
        if j == 0:
            b = b[1:]  # the state itself is |W_N>: index 1 of the (trivial) left bond
        if j == n - 1:
            b = b[:, :, :1]  # nothing to the right: only |0..0> (of no sites)
        tensors.append(b)
    sv = [np.sort([np.sqrt(j / n), np.sqrt((n - j) / n)])[::-1] for j in range(1, n)]
    return MPS(tensors, form="right", singular_values=sv)


def cluster_mps(n: int) -> MPS:
    """Exact right-canonical MPS of the open-chain cluster state ``prod CZ_{i,i+1} |+>^N``.

    Bond dimension 2 (1 for ``n = 1``), real tensors ``B[l, p, r] = delta(p, r) (-1)^(l p)/sqrt2``
    with ``l`` the previous qubit's bit (``l = 0`` at site 0) and ``vR`` summed away at the last
    site; amplitudes ``2^(-N/2) (-1)^(sum_i b_i b_{i+1})`` as the dense vector.
    """
    _check_n(n)
    b = np.zeros((2, 2, 2))  # vL p vR
    for left in (0, 1):
        for p in (0, 1):
            b[left, p, p] = (-1.0) ** (left * p) / np.sqrt(2.0)
    tensors = [b.copy() for _ in range(n)]
    tensors[0] = tensors[0][:1]  # no qubit to the left: l = 0
    # last site: sum over its own bit copy (the outgoing bond has nothing to meet)
    tensors[-1] = tensors[-1].sum(axis=2, keepdims=True)
    sv = [np.full(2, 1 / np.sqrt(2.0)) for _ in range(n - 1)]
    return MPS(tensors, form="right", singular_values=sv)


def product_mps(n: int, seed: int) -> MPS:
    """Bond-1 MPS of the seeded random product state (the qubits of the dense vector)."""
    _check_n(n)
    return MPS([q.reshape(1, 2, 1) for q in haar_qubit_states(n, seed)],  # vL p vR
               form="right")


def random_mps(n: int, seed: int, chi: int = 2) -> MPS:
    """Seeded random open MPS of bond dimension ``chi``, normalised and right-canonical.

    Same tensors as :func:`~qtomo.states.families.random_mps_statevector` (one draw,
    :func:`~qtomo.states.families.random_mps_tensors`), so at N <= 16 it is that vector.
    """
    _check_n(n)
    return MPS(random_mps_tensors(n, seed, chi)).right_canonical()


def family_mps(family: str, n: int, seed: int = 0) -> MPS:
    """The MPS of ``family`` (one of :data:`~qtomo.states.families.FAMILIES`) on ``n`` qubits."""
    if family == "w":
        return w_mps(n)
    if family == "cluster":
        return cluster_mps(n)
    if family == "product":
        return product_mps(n, seed)
    if family == "random-mps":
        return random_mps(n, seed)
    raise InputValueError(f"unknown state family {family!r}; expected one of {FAMILIES}")


__all__ = ["cluster_mps", "family_mps", "product_mps", "random_mps", "w_mps"]
