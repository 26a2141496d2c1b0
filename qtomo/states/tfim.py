"""Transverse-field Ising chain: sparse Hamiltonian and exact-diagonalization ground state.

H = -J sum_i Z_i Z_{i+1} - h sum_i X_i, open boundary (periodic adds -J Z_{N-1} Z_0).
Basis states are big-endian: qubit 0 is the most significant bit, ``|0>`` has Z = +1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qtomo.errors import ComputationError, InputValueError
from qtomo.typing import FloatArray

#: Largest chain solved by exact diagonalization (2^20 basis states).
ED_MAX_QUBITS = 20
BOUNDARIES = ("open", "periodic")


def check_tfim_params(n: int, J: float, h: float, boundary: str) -> None:
    """Validate TFIM parameters with one-line messages."""
    if n < 1:
        raise InputValueError(f"the number of qubits must be >= 1, got {n}")
    for name, v in (("J", J), ("h", h)):
        if not np.isfinite(v):
            raise InputValueError(f"--{name} must be a finite number, got {v}")
    if boundary not in BOUNDARIES:
        raise InputValueError(f"boundary must be 'open' or 'periodic', got {boundary!r}")
    if boundary == "periodic" and n < 3:
        raise InputValueError("a periodic chain needs at least 3 qubits")


def tfim_hamiltonian(n: int, J: float, h: float, boundary: str = "open") -> sp.csr_matrix:
    """Sparse real TFIM Hamiltonian of ``n`` qubits, shape ``(2^n, 2^n)``."""
    check_tfim_params(n, J, h, boundary)
    dim = 2**n
    idx = np.arange(dim, dtype=np.int64)
    # z[s, i] = +1 if qubit i of basis state s is |0>, else -1 (qubit i is bit n-1-i)
    bits = (idx[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1
    z = 1 - 2 * bits
    bonds = [(i, i + 1) for i in range(n - 1)]
    if boundary == "periodic":
        bonds.append((n - 1, 0))
    diag = np.zeros(dim)
    for i, j in bonds:
        diag -= J * z[:, i] * z[:, j]
    rows = [idx]
    cols = [idx]
    vals = [diag]
    for i in range(n):
        rows.append(idx)
        cols.append(idx ^ (1 << (n - 1 - i)))
        vals.append(np.full(dim, -h))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim)
    )


@dataclass(frozen=True)
class GroundState:
    """Ground state from exact diagonalization.

    Attributes
    ----------
    energy : float
    psi : ndarray, float64, shape (2^N,)
        Normalised, big-endian, sign fixed so that its largest-magnitude amplitude is positive
        (for J, h > 0 all amplitudes are then non-negative).
    gap : float
        E1 - E0 (NaN for N = 1 with h = 0 ambiguity not handled).
    """

    energy: float
    psi: FloatArray
    gap: float


def tfim_ground_state(n: int, J: float, h: float, boundary: str = "open") -> GroundState:
    """Ground state by sparse Lanczos (``eigsh``), for ``n <= 20``.

    Raises
    ------
    InputValueError
        For ``n > 20``: use the DMRG method (``--method dmrg``) instead.
    """
    check_tfim_params(n, J, h, boundary)
    if n > ED_MAX_QUBITS:
        raise InputValueError(
            f"exact diagonalization handles at most {ED_MAX_QUBITS} qubits (2^N memory), got "
            f"{n}; use the DMRG method (--method dmrg, or --method auto)"
        )
    H = tfim_hamiltonian(n, J, h, boundary)
    if n <= 6:
        w, v = np.linalg.eigh(H.toarray())
    else:
        v0 = np.ones(2**n) / np.sqrt(2**n)
        try:
            w, v = spla.eigsh(H, k=2, which="SA", v0=v0, tol=1e-13, maxiter=20000)
        except spla.ArpackNoConvergence as e:
            raise ComputationError(f"Lanczos did not converge for N={n}: {e}") from None
        order = np.argsort(w)
        w, v = w[order], v[:, order]
    psi = np.asarray(v[:, 0], dtype=np.float64)
    psi /= np.linalg.norm(psi)
    if psi[np.argmax(np.abs(psi))] < 0:
        psi = -psi
    gap = float(w[1] - w[0]) if len(w) > 1 else float("nan")
    return GroundState(float(w[0]), psi, gap)
