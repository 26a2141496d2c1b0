"""Born rule and its inversion, contracted one qubit at a time.

Conventions: outcome strings ``a = (a_0, ..., a_{N-1})`` with qubit 0 leftmost; full tables of
probabilities are indexed lexicographically, qubit 0 most significant (the order of
:func:`all_outcomes`). State vectors are big-endian (qubit 0 is the most significant bit).
No ``K^N x K^N`` or ``4^N x 4^N`` overlap matrix is ever built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtomo.errors import InputValueError
from qtomo.povm.frames import AnyFrame
from qtomo.states.paulis import PAULI
from qtomo.states.paulis import parse_pauli_string as parse_pauli_string
from qtomo.typing import ComplexArray, FloatArray, Outcomes

_PAULI_INDEX = {"I": 0, "X": 1, "Y": 2, "Z": 3}


def _n_qubits_of(dim: int) -> int:
    n = int(round(np.log2(dim)))
    if 2**n != dim or n < 1:
        raise InputValueError(f"state dimension {dim} is not a power of 2")
    return n


def all_outcomes(n: int, K: int) -> Outcomes:
    """All ``K**n`` outcome strings, uint8 ``(K**n, n)``, lexicographic (qubit 0 slowest)."""
    idx = np.arange(K**n)
    digits = (idx[:, None] // (K ** np.arange(n - 1, -1, -1))[None, :]) % K
    return digits.astype(np.uint8)


def outcome_index(outcomes: Outcomes, K: int) -> np.ndarray:
    """Position of each outcome string in the lexicographic table (int64)."""
    a = np.asarray(outcomes, dtype=np.int64)
    n = a.shape[1]
    return a @ (K ** np.arange(n - 1, -1, -1, dtype=np.int64))


def as_density_matrix(state: ComplexArray) -> ComplexArray:
    """Density matrix of a state vector (2^N,) or a density matrix (2^N, 2^N) unchanged."""
    s = np.asarray(state, dtype=np.complex128)
    if s.ndim == 1:
        return np.outer(s, s.conj())
    if s.ndim == 2 and s.shape[0] == s.shape[1]:
        return s
    raise InputValueError(f"expected a state vector or a square density matrix, got {s.shape}")


def born_probabilities(state: ComplexArray, frame: AnyFrame) -> FloatArray:
    """P(a) = Tr[rho M(a)] for all ``K**N`` outcome strings.

    Parameters
    ----------
    state : complex ndarray
        State vector ``(2^N,)`` (big-endian) or density matrix ``(2^N, 2^N)``.
    frame : Frame or LocalFrames
        Single-qubit POVM applied to every qubit, or one per qubit.

    Returns
    -------
    ndarray, float64, shape (K**N,)
        Probabilities in the order of :func:`all_outcomes`.
    """
    rho = as_density_matrix(state)
    n = _n_qubits_of(rho.shape[0])
    # t: done-outcomes x | ket i (first remaining qubit), rest-ket r | bra j, rest-bra q
    t = rho.reshape(1, 2, 2 ** (n - 1), 2, 2 ** (n - 1))
    for j in range(n):
        rest = 2 ** (n - j - 1)
        t = t.reshape(-1, 2, rest, 2, rest)
        # Tr over qubit j with M(k): sum_{i,i'} t[x,i,r,i',q] M(k)[i',i]   # x i r i' q, k i' i
        t = np.einsum("xirjq,kji->xkrq", t, frame.at(j).elements, optimize=True)
    p = t.reshape(-1).real
    return np.ascontiguousarray(p)


def rho_from_probabilities(probs: FloatArray, frame: AnyFrame,
                           n: int | None = None) -> ComplexArray:
    """Invert the Born rule: rho = sum_a P(a) D(a_0) (x) ... (x) D(a_{N-1}).

    ``probs`` is a table ``(K**N,)`` in the order of :func:`all_outcomes` (it need not be
    normalised or even a distribution: linear inversion of frequencies works the same). With
    per-qubit frames (:class:`~qtomo.povm.frames.LocalFrames`) each qubit uses its own duals.
    """
    p = np.asarray(probs, dtype=np.float64)
    K = frame.K
    if n is None:
        n = int(round(np.log(p.size) / np.log(K)))
    if K**n != p.size:
        raise InputValueError(f"table of {p.size} entries is not K^N for K={K}")
    # t: remaining outcome axes (a_j .. a_{N-1}) x accumulated operator (ket, bra)
    t = p.reshape(K, -1, 1, 1).astype(np.complex128)
    for j in range(n):
        t = t.reshape(K, -1, 2**j, 2**j)
        # t[k, rest, I, I'] D(k)[i, i'] -> rest, (I i), (I' i')   # k rest I I', k i i'
        t = np.einsum("krab,kij->raibj", t, frame.at(j).duals, optimize=True)
        rest = t.shape[0]
        t = t.reshape(rest, 2 ** (j + 1), 2 ** (j + 1))
        if j < n - 1:
            t = t.reshape(K, rest // K, 2 ** (j + 1), 2 ** (j + 1))
    return t.reshape(2**n, 2**n)


# --- Pauli-string observables ---------------------------------------------------------------

def pauli_q_values(outcomes: Outcomes, frame: AnyFrame, paulis: dict[int, str]) -> FloatArray:
    """Q_O(a) = prod_j Tr[O_j D(a_j)] for a Pauli string ``O`` given as ``{site: letter}``.

    Its mean over shots drawn from P is an unbiased estimate of Tr[rho O].
    """
    a = np.asarray(outcomes)
    q = np.ones(a.shape[0], dtype=np.float64)
    for site, letter in paulis.items():
        q *= frame.at(site).pauli_table[_PAULI_INDEX[letter]][a[:, site]]
    return q


def pauli_q_table(frame: AnyFrame, paulis: dict[int, str], n: int) -> FloatArray:
    """Q_O for every string of :func:`all_outcomes`, built as a Kronecker product."""
    q = np.ones(1)
    for site in range(n):
        row = frame.at(site).pauli_table[_PAULI_INDEX[paulis.get(site, "I")]]
        q = np.kron(q, row)
    return q


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: mean and standard error (std / sqrt(n))."""

    value: float
    stderr: float
    n: int


def estimate(q_values: FloatArray) -> Estimate:
    """Mean and standard error of per-shot values."""
    q = np.asarray(q_values, dtype=np.float64)
    n = q.size
    se = float(q.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return Estimate(float(q.mean()), se, n)


def pauli_operator(paulis: dict[int, str], n: int) -> ComplexArray:
    """Dense operator of a Pauli string (small N only)."""
    op = np.ones((1, 1), dtype=np.complex128)
    for site in range(n):
        op = np.kron(op, PAULI[paulis.get(site, "I")])
    return op


def sample_from_table(probs: FloatArray, n_shots: int, rng: np.random.Generator, n: int,
                      K: int) -> Outcomes:
    """Draw outcome strings from a full probability table (reference sampler for small N)."""
    p = np.asarray(probs, dtype=np.float64)
    c = np.cumsum(p)
    idx = np.searchsorted(c, rng.random(n_shots) * c[-1], side="right")
    idx = np.minimum(idx, p.size - 1)
    digits = (idx[:, None] // (K ** np.arange(n - 1, -1, -1))[None, :]) % K
    return digits.astype(np.uint8)
