"""Stabilizer groups of GHZ and graph states (1-D cluster), and uniform sampling of their elements.

A stabilizer state |psi> of N qubits is the joint +1 eigenstate of N independent commuting Pauli
generators g_0 .. g_{N-1}; its group has the 2^N elements ``S(a) = prod_i g_i^{a_i}``,
a in {0,1}^N, and its projector is ``|psi><psi| = 2^-N sum_a S(a)``, so that
``F = <psi|rho|psi> = 2^-N sum_a Tr(rho S(a))`` (the identity of direct fidelity estimation).
Drawing ``a`` uniformly draws an element uniformly.

Representation (binary symplectic, as in Aaronson and Gottesman): a Pauli operator is
``i^k X^x Z^z`` with bit vectors x, z (N,) and phase k mod 4, the X factor of each qubit written
before its Z factor. Multiplication: ``X^x Z^z X^x' Z^z' = (-1)^(z.x') X^(x+x') Z^(z+z')``.
A Hermitian element is reported as a sign and letters, ``S = sign * P_0 (x) ... (x) P_{N-1}``,
using ``X Z = -i Y``. Letters are coded 0 = I, 1 = X, 2 = Y, 3 = Z; labels such as
``"+XZIY"`` list qubit 0 first (docs/conventions.md, "Qubits and bit order").

Generators: GHZ ``(|0..0> + |1..1>)/sqrt2``: ``X_0 X_1 .. X_{N-1}`` and ``Z_i Z_{i+1}``;
graph state of adjacency A: ``K_i = X_i prod_{j: A_ij = 1} Z_j``; the open 1-D cluster state
of :func:`qtomo.states.families.cluster_statevector` is the graph state of the path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtomo.errors import InputValueError

#: Letters by code (0 = I, 1 = X, 2 = Y, 3 = Z).
LETTERS = "IXYZ"
#: States whose stabilizer generators are built here.
STABILIZER_STATES = ("ghz", "cluster")
#: Largest N whose whole group :func:`all_elements` lists.
MAX_ENUMERATED_QUBITS = 16


@dataclass(frozen=True)
class Generators:
    """N independent commuting generators ``i^phase X^x Z^z`` of a stabilizer state.

    Attributes
    ----------
    x, z : uint8 (N, N)
        Row i holds generator i's X and Z bits, column q is qubit q.
    phase : int64 (N,)
        Powers of i.
    """

    x: np.ndarray
    z: np.ndarray
    phase: np.ndarray

    @property
    def n_qubits(self) -> int:
        return int(self.x.shape[1])


def _check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise InputValueError(f"the number of qubits must be an integer >= 1, got {n}")
    return int(n)


def ghz_generators(n: int) -> Generators:
    """Generators of the GHZ state: ``X^{(x) N}`` and ``Z_i Z_{i+1}``, i = 0..N-2."""
    n = _check_n(n)
    x = np.zeros((n, n), dtype=np.uint8)
    z = np.zeros((n, n), dtype=np.uint8)
    x[0] = 1
    for i in range(n - 1):
        z[i + 1, i] = z[i + 1, i + 1] = 1
    return Generators(x, z, np.zeros(n, dtype=np.int64))


def graph_generators(adjacency: np.ndarray) -> Generators:
    """Generators ``K_i = X_i prod_j Z_j^{A_ij}`` of the graph state of a symmetric 0/1
    adjacency matrix ``A`` (N, N) with zero diagonal."""
    a = np.asarray(adjacency)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise InputValueError(f"an adjacency matrix is square (N, N), got shape {a.shape}")
    if not np.array_equal(a, a.T) or np.any(np.diag(a)) or not np.isin(a, (0, 1)).all():
        raise InputValueError("an adjacency matrix is symmetric, 0/1, with a zero diagonal")
    n = a.shape[0]
    return Generators(np.eye(n, dtype=np.uint8), a.astype(np.uint8), np.zeros(n, dtype=np.int64))


def cluster_generators(n: int) -> Generators:
    """Generators of the open 1-D cluster state (the graph state of the path 0-1-..-(N-1))."""
    n = _check_n(n)
    a = np.zeros((n, n), dtype=np.uint8)
    i = np.arange(n - 1)
    a[i, i + 1] = a[i + 1, i] = 1
    return graph_generators(a)


def stabilizer_generators(state: str, n: int) -> Generators:
    """Generators of a state qtomo builds by name (one of :data:`STABILIZER_STATES`)."""
    if state == "ghz":
        return ghz_generators(n)
    if state == "cluster":
        return cluster_generators(n)
    raise InputValueError(f"state {state!r} is no stabilizer state qtomo builds; expected one "
                          f"of {', '.join(STABILIZER_STATES)}")


def group_elements(gens: Generators, choice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The elements ``S(a) = prod_i g_i^{a_i}`` (product in generator order) for rows ``a``.

    Parameters
    ----------
    gens : Generators
    choice : (k, N) array of 0/1
        Row r selects the generators of element r.

    Returns
    -------
    signs : int64 (k,)
        +1 or -1.
    letters : uint8 (k, N)
        Codes 0..3 for I, X, Y, Z, qubit q in column q.
    """
    a = np.asarray(choice, dtype=np.uint8)
    n = gens.n_qubits
    if a.ndim != 2 or a.shape[1] != n:
        raise InputValueError(f"choice must have shape (k, {n}), got {a.shape}")
    k = a.shape[0]
    x = np.zeros((k, n), dtype=np.uint8)
    z = np.zeros((k, n), dtype=np.uint8)
    phase = np.zeros(k, dtype=np.int64)
    for i in range(n):
        sel = a[:, i].astype(bool)
        if not sel.any():
            continue
        gx, gz = gens.x[i], gens.z[i]
        # X^x Z^z X^gx Z^gz = (-1)^(z . gx) X^(x + gx) Z^(z + gz)
        swap = (z[sel].astype(np.int64) @ gx.astype(np.int64)) & 1
        phase[sel] += gens.phase[i] + 2 * swap
        x[sel] ^= gx
        z[sel] ^= gz
    n_y = (x & z).sum(axis=1).astype(np.int64)
    power = (phase - n_y) % 4  # prod X^x Z^z = (-i)^{n_Y} (x) letters
    if np.any(power % 2):
        raise InputValueError("the generators do not commute: a product is not Hermitian")
    signs = np.where(power == 0, 1, -1).astype(np.int64)
    letters = (x + 3 * z - 2 * (x & z)).astype(np.uint8)  # I 0, X 1, Z 3, Y 1 + 3 - 2
    return signs, letters


def sample_elements(gens: Generators, count: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` elements drawn uniformly and independently from the group (with repeats)."""
    choice = rng.integers(0, 2, size=(int(count), gens.n_qubits), dtype=np.uint8)
    return group_elements(gens, choice)


def all_elements(gens: Generators) -> tuple[np.ndarray, np.ndarray]:
    """All ``2^N`` elements, ``a`` in lexicographic order (the identity first); N <= 16."""
    n = gens.n_qubits
    if n > MAX_ENUMERATED_QUBITS:
        raise InputValueError(f"the group of {n} qubits has 2^{n} elements; list at most "
                              f"{MAX_ENUMERATED_QUBITS} qubits' worth, or sample elements")
    idx = np.arange(2**n, dtype=np.int64)
    choice = ((idx[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1).astype(np.uint8)
    return group_elements(gens, choice)


def element_label(sign: int, letters: np.ndarray) -> str:
    """``"+XZIY"``: the sign, then one letter per qubit (qubit 0 first)."""
    return ("+" if sign > 0 else "-") + "".join(LETTERS[int(c)] for c in letters)


def parse_element_label(text: str, n: int) -> tuple[int, np.ndarray]:
    """The inverse of :func:`element_label`: ``(sign, letters uint8 (N,))``."""
    s = str(text).strip().upper()
    if len(s) != n + 1 or s[0] not in "+-" or not set(s[1:]) <= set(LETTERS):
        raise InputValueError(f"observable {text!r}: expected a sign + or - followed by {n} "
                              "letters I, X, Y or Z (qubit 0 first)")
    return (1 if s[0] == "+" else -1), np.array([LETTERS.index(c) for c in s[1:]],
                                               dtype=np.uint8)


__all__ = [
    "LETTERS",
    "MAX_ENUMERATED_QUBITS",
    "STABILIZER_STATES",
    "Generators",
    "all_elements",
    "cluster_generators",
    "element_label",
    "ghz_generators",
    "graph_generators",
    "group_elements",
    "parse_element_label",
    "sample_elements",
    "stabilizer_generators",
]
