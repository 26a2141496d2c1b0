"""Exact Pauli expectations of dense state vectors: the one implementation qtomo uses.

Conventions (docs/conventions.md, "Qubits and bit order"): a state vector of N qubits has shape
``(2^N,)`` and is big-endian, qubit 0 being the most significant bit
(``np.kron(q0, np.kron(q1, ...))``); ``|0>`` is the +1 eigenstate of Z. Every function takes a
normalised vector (real or complex) and returns real float64 expectations ``<psi|P|psi>`` of
Hermitian Pauli strings.

Cost: one pass over the ``2^N`` amplitudes per site (one-site values) or per pair (two-point
matrices, ``O(N^2 2^N)``); Z correlations use the probabilities only. For the N <= 20 qubits of
exact diagonalization this is well under a second per letter.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qtomo.errors import InputValueError
from qtomo.states.paulis import PAULI
from qtomo.typing import ComplexArray, FloatArray

#: Largest N whose target is kept and stored as a dense state vector (``/target/psi``);
#: above it the target is an MPS (:mod:`qtomo.states.targets`).
MAX_PSI_QUBITS = 16


def n_qubits_of(psi: np.ndarray) -> int:
    """N of a state vector of shape ``(2^N,)``; raises :class:`InputValueError` otherwise."""
    v = np.asarray(psi)
    n = int(round(np.log2(v.size))) if v.ndim == 1 and v.size > 0 else -1
    if n < 1 or 2**n != v.size:
        raise InputValueError(f"a state vector has shape (2^N,) with N >= 1, got {v.shape}")
    return n


def apply_pauli_string(psi: ComplexArray, paulis: Mapping[int, str]) -> ComplexArray:
    """``P |psi>`` for a Pauli string ``{site: letter}`` on a big-endian state vector."""
    v = np.asarray(psi, dtype=np.complex128)
    n = n_qubits_of(v)
    t = v.reshape([2] * n)
    for site, letter in paulis.items():
        # P (p', p) . psi (..., p, ...)   # p' [p], ... [p] ... -> moved back to axis `site`
        t = np.moveaxis(np.tensordot(PAULI[letter], t, axes=(1, site)), 0, site)
    return t.reshape(-1)


def statevector_expectation(psi: ComplexArray, paulis: Mapping[int, str]) -> float:
    """``<psi|P|psi>`` (real part) of a Pauli string ``{site: letter}``."""
    v = np.asarray(psi, dtype=np.complex128)
    return float(np.real(np.vdot(v, apply_pauli_string(v, paulis))))


def one_site_expectations(psi: ComplexArray, letter: str) -> FloatArray:
    """``<P_i>`` for every qubit i of one Pauli letter P (X, Y or Z), float64 ``(N,)``."""
    v = np.asarray(psi)
    n = n_qubits_of(v)
    op = PAULI[_check_letter(letter)]
    out = np.empty(n)
    for i in range(n):
        t = v.reshape(2**i, 2, -1)
        # conj(psi) (l, p', r) P (p', p) psi (l, p, r)   # l p' r, p' p, l p r
        out[i] = np.real(np.einsum("lqr,qp,lpr->", t.conj(), op, t))
    return out


def two_point_matrix(psi: ComplexArray, letter: str) -> FloatArray:
    """``<P_i P_j>`` for all pairs of one Pauli letter, float64 ``(N, N)``, ones on the diagonal.

    Z uses the probabilities only: the 2 x 2 marginal ``p(b_i, b_j)`` of every pair gives
    ``<Z_i Z_j> = sum (-1)^(b_i + b_j) p(b_i, b_j)`` (memory ``O(2^N)``). X and Y apply the
    letter on qubit i once and take the overlaps with ``P_j`` for every ``j > i``.
    """
    v = np.asarray(psi)
    n = n_qubits_of(v)
    letter = _check_letter(letter)
    m = np.eye(n)
    if letter == "Z":
        prob = np.abs(v) ** 2
        sign = np.array([[1.0, -1.0], [-1.0, 1.0]])
        for i in range(n - 1):
            q = prob.reshape(2**i, 2, -1).sum(0)  # b_i, (qubits i+1 .. N-1)
            for j in range(i + 1, n):
                pair = q.reshape(2, 2 ** (j - i - 1), 2, -1).sum(axis=(1, 3))  # b_i b_j
                m[i, j] = m[j, i] = float(np.sum(sign * pair))
        return m
    vc = np.asarray(v, dtype=np.complex128).conj()
    for i in range(n - 1):
        pi = apply_pauli_string(v, {i: letter})
        for j in range(i + 1, n):
            t = pi.reshape(2**j, 2, -1)
            u = vc.reshape(2**j, 2, -1)
            # conj(psi) (l, p', r) P (p', p) (P_i psi) (l, p, r)   # l p' r, p' p, l p r
            val = np.einsum("lqr,qp,lpr->", u, PAULI[letter], t)
            m[i, j] = m[j, i] = float(np.real(val))
    return m


def x_and_zz(psi: ComplexArray) -> tuple[FloatArray, FloatArray]:
    """The stored references of a pure target: ``<X_i>`` ``(N,)`` and ``<Z_i Z_j>`` ``(N, N)``."""
    return one_site_expectations(psi, "X"), two_point_matrix(psi, "Z")


def _check_letter(letter: str) -> str:
    key = str(letter).upper()
    if key not in ("X", "Y", "Z"):
        raise InputValueError(f"unknown Pauli letter {letter!r}; expected X, Y or Z")
    return key


__all__ = [
    "MAX_PSI_QUBITS",
    "apply_pauli_string",
    "n_qubits_of",
    "one_site_expectations",
    "statevector_expectation",
    "two_point_matrix",
    "x_and_zz",
]
