"""Contractions of MPS tensors: overlaps, expectation values, correlations, entropies.

The functions here take the tensor list of an MPS (legs ``vL p vR``; conventions in
:mod:`qtomo.states.mps`, where the :class:`~qtomo.states.mps.MPS` container, its
construction, canonical forms and storage live) and are reached through the ``MPS`` methods
of the same names. Expectation values need the tensors in normalised right-canonical form
(:meth:`MPS.as_right_canonical <qtomo.states.mps.MPS.as_right_canonical>`), so that the right
environment of every bond is the identity and a left-to-right pass suffices.

Left environments have legs ``(bra bond, ket bond)``; one transfer step through a site is
``env <- sum conj(A)[u*, p', r*] O[p', p] env[u*, v] B[v, p, r]`` (:func:`_transfer`), built
from the three contractions below so that every sweep shares them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from qtomo.errors import InputValueError
from qtomo.states.paulis import PAULI, parse_pauli_string
from qtomo.typing import FloatArray

# --- transfer steps -------------------------------------------------------------------------


def _absorb_ket(env: np.ndarray, b: np.ndarray) -> np.ndarray:
    """env (u*, v) . B (v, p, r) -> (u*, p, r)."""
    # u* [v], [v] p r -> u* p r
    return np.tensordot(env, b, axes=(1, 0))


def _apply_site_op(op: np.ndarray, t: np.ndarray) -> np.ndarray:
    """O (p', p) . t (u*, p, r) -> (u*, p', r)."""
    # p' [p], u* [p] r -> p' u* r
    return np.tensordot(op, t, axes=(1, 1)).transpose(1, 0, 2)


def _close_bra(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """conj(A) (u*, p, r*) . t (u*, p, r) -> (r*, r)."""
    # [u] [p] r*, [u] [p] r -> r* r
    return np.tensordot(a.conj(), t, axes=([0, 1], [0, 1]))


def _transfer(
    env: np.ndarray, bra: np.ndarray, ket: np.ndarray, op: np.ndarray | None = None
) -> np.ndarray:
    """Left environment moved through one site, with the operator ``op`` (or identity)."""
    t = _absorb_ket(env, ket)
    if op is not None:
        t = _apply_site_op(op, t)
    return _close_bra(bra, t)


def _site_expectation(c: np.ndarray, op: np.ndarray) -> complex:
    """<C| O |C> of an orthogonality centre C (legs vL p vR) and a 2x2 operator O."""
    # conj(C) (l, p', r) O (p', p) C (l, p, r)   # l p' r, p' p, l p r
    return np.einsum("lqr,qp,lpr->", c.conj(), op, c)


# --- overlaps and expectation values --------------------------------------------------------


def overlap(bra: Sequence[np.ndarray], ket: Sequence[np.ndarray]) -> complex:
    """<bra|ket> of two MPS by a left-to-right transfer-matrix sweep (cost N chi^3).

    Parameters
    ----------
    bra, ket : sequence of ndarray
        Site tensors (legs ``vL p vR``) of the two states, same number of sites.

    Returns
    -------
    complex
    """
    env = np.ones((1, 1))  # vL* vL  (bra bond, ket bond)
    for a, b in zip(bra, ket, strict=True):
        env = _transfer(env, a, b)
    return complex(env[0, 0])


def pauli_operators(paulis: Mapping[int, str] | str, n_qubits: int) -> dict[int, np.ndarray]:
    """The non-identity 2x2 matrices of a Pauli string, ``{site: matrix}``.

    Parameters
    ----------
    paulis : mapping or str
        ``{site: letter}`` with letters I, X, Y, Z, or a string such as ``"Z0 Z5"``.
    n_qubits : int
        Number of qubits; sites must lie in ``0..n_qubits-1``.

    Returns
    -------
    dict of int to ndarray

    Raises
    ------
    InputValueError
        A site out of range or an unknown letter.
    """
    if isinstance(paulis, str):
        paulis = parse_pauli_string(paulis, n_qubits)
    ops: dict[int, np.ndarray] = {}
    for site, letter in paulis.items():
        if not 0 <= int(site) < n_qubits:
            raise InputValueError(
                f"Pauli string names qubit {site}, but the MPS has {n_qubits} qubits"
            )
        key = str(letter).upper()
        if key not in PAULI:
            raise InputValueError(f"unknown Pauli letter {letter!r}; expected I, X, Y or Z")
        if key != "I":
            ops[int(site)] = PAULI[key]
    return ops


def expectation_product(ts: Sequence[np.ndarray], ops: Mapping[int, np.ndarray]) -> complex:
    """<psi| O_{j1} (x) O_{j2} ... |psi> for 2x2 operators ``{site: O}``.

    Parameters
    ----------
    ts : sequence of ndarray
        Normalised right-canonical site tensors.
    ops : mapping of int to ndarray
        Operator of each measured site; other sites carry the identity.

    Returns
    -------
    complex
        One left-to-right pass up to the last measured site (the right environment there is
        the identity).
    """
    last = max(ops) if ops else -1
    env = np.ones((1, 1))  # bra ket
    for j in range(last + 1):
        env = _transfer(env, ts[j], ts[j], ops.get(j))
    # right-canonical: the right environment is the identity
    return complex(np.trace(env))


def center_sweep(ts: Sequence[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(j, C_j)`` with the orthogonality centre on site ``j``, for ``j = 0..N-1``.

    Parameters
    ----------
    ts : sequence of ndarray
        Normalised right-canonical site tensors.

    Yields
    ------
    tuple of (int, ndarray)
        Site and centre tensor (legs ``vL p vR``); each step QR-decomposes the centre and
        pushes R into the next site (cost chi^3 per site).
    """
    n = len(ts)
    c = ts[0]
    for j in range(n):
        yield j, c
        if j == n - 1:
            break
        cl, d, cr = c.shape
        q, r = np.linalg.qr(c.reshape(cl * d, cr))  # (vL p) vR
        # R (a, vR) . B_{j+1} (vR, p, r)   # a [vR], [vR] p r
        c = np.tensordot(r, ts[j + 1], axes=(1, 0))


def local_expectations(ts: Sequence[np.ndarray], op: np.ndarray) -> np.ndarray:
    """<O_j> for every site j of a 2x2 operator O (one sweep, cost N chi^3).

    Parameters
    ----------
    ts : sequence of ndarray
        Normalised right-canonical site tensors.
    op : ndarray, shape (2, 2)

    Returns
    -------
    ndarray, complex128, shape (N,)
    """
    op = np.asarray(op)
    out = np.empty(len(ts), dtype=np.complex128)
    for j, c in center_sweep(ts):
        out[j] = _site_expectation(c, op)
    return out


def correlation_matrix(
    ts: Sequence[np.ndarray], op_a: np.ndarray, op_b: np.ndarray | None = None
) -> np.ndarray:
    """C[i, j] = <A_i B_j> for i < j, <B_i A_j> mirrored for i > j, <A B> on the diagonal.

    Parameters
    ----------
    ts : sequence of ndarray
        Normalised right-canonical site tensors.
    op_a, op_b : ndarray, shape (2, 2)
        Single-site operators; ``op_b`` defaults to ``op_a``.

    Returns
    -------
    ndarray, complex128, shape (N, N)
        For Hermitian commuting operators (e.g. Z and Z) the full symmetric correlation
        matrix. One pass per left site i carries the environment ``C_i^+ A C_i`` to the right
        through the right-canonical tensors, measuring B at every j > i: O(N^2 chi^3) in
        total, never a full contraction per pair.
    """
    op_a = np.asarray(op_a)
    op_b = op_a if op_b is None else np.asarray(op_b)
    n = len(ts)
    out = np.zeros((n, n), dtype=np.complex128)
    for i, c in center_sweep(ts):
        out[i, i] = _site_expectation(c, op_a @ op_b)
        # env (r*, r) = sum conj(C)[l, p', r*] A[p', p] C[l, p, r]
        env = np.einsum("lqs,qp,lpr->sr", c.conj(), op_a, c)
        for j in range(i + 1, n):
            b = ts[j]
            t = _absorb_ket(env, b)
            # measure B_j: sum conj(B)[u, p', r] B_op[p', p] t[u, p, r]
            out[i, j] = np.tensordot(b.conj(), _apply_site_op(op_b, t), axes=3)
            if j < n - 1:
                env = _close_bra(b, t)  # identity transfer
    upper = np.triu_indices(n, 1)
    out[upper[1], upper[0]] = out[upper]
    return out


def entanglement_entropies(singular_values: Sequence[FloatArray]) -> np.ndarray:
    """Von Neumann entropies ``S = -sum s^2 ln s^2`` (natural log) of the given bonds.

    Parameters
    ----------
    singular_values : sequence of ndarray
        Schmidt values of each bond (normalised here).

    Returns
    -------
    ndarray, float64, shape (len(singular_values),)
    """
    out = np.empty(len(singular_values))
    for j, s in enumerate(singular_values):
        w = np.asarray(s) ** 2
        w = w[w > 0] / w.sum()
        out[j] = float(-(w * np.log(w)).sum())
    return out
