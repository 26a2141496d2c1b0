"""Single-qubit informationally complete POVMs (frames) and their dual operators.

Conventions (binding, see the project's physics reference):

* ``|0>`` is the +1 eigenstate of Z; operators act on the basis ``(|0>, |1>)``.
* ``pauli4`` (K=4): M(0)=|0><0|/3, M(1)=|+><+|/3, M(2)=|+i><+i|/3, M(3)=I-M(0)-M(1)-M(2).
* ``tetra`` (K=4): M(a) = (I + s_a . sigma)/4 with the tetrahedron vectors below.
* ``pauli6`` (K=6): projectors on (+x, -x, +y, -y, +z, -z), each divided by 3.
* Overlap t[a, a'] = Tr[M(a) M(a')]; duals D(a) = sum_a' tinv[a, a'] M(a') with tinv the
  inverse (K=4) or the Moore-Penrose pseudo-inverse (over-complete frames such as Pauli-6).
  Then for any single-qubit operator X: X = sum_a Tr[X M(a)] D(a).
* N qubits: M(a_1..a_N) = M(a_1) (x) ... (x) M(a_N); qubit 0 is the leftmost factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# the Pauli matrices are defined once, in qtomo.states.paulis (PAULI is re-exported here)
from qtomo.states.paulis import I2, X, Y, Z
from qtomo.states.paulis import PAULI as PAULI
from qtomo.typing import ComplexArray, FloatArray

POVM_NAMES = ("pauli4", "tetra", "pauli6")


def _proj(v: np.ndarray) -> ComplexArray:
    v = np.asarray(v, dtype=np.complex128)
    v = v / np.linalg.norm(v)
    return np.outer(v, v.conj())


_S2 = np.sqrt(2.0)
_KET = {
    "+z": np.array([1, 0]),
    "-z": np.array([0, 1]),
    "+x": np.array([1, 1]) / _S2,
    "-x": np.array([1, -1]) / _S2,
    "+y": np.array([1, 1j]) / _S2,
    "-y": np.array([1, -1j]) / _S2,
}

#: Bloch vectors of the tetrahedral POVM, in outcome order.
TETRA_VECTORS = np.array(
    [
        [0.0, 0.0, 1.0],
        [2 * _S2 / 3, 0.0, -1 / 3],
        [-_S2 / 3, np.sqrt(2 / 3), -1 / 3],
        [-_S2 / 3, -np.sqrt(2 / 3), -1 / 3],
    ]
)


class FrameError(ValueError):
    """Raised when POVM elements do not form a valid informationally complete frame."""


@dataclass(frozen=True)
class Frame:
    """A single-qubit POVM with its overlap matrix and dual operators.

    Attributes
    ----------
    name : str
        ``"pauli4"``, ``"tetra"``, ``"pauli6"`` or a custom label.
    elements : ndarray, complex128, shape (K, 2, 2)
        POVM elements M(a); Hermitian, positive, summing to the identity.
    """

    name: str
    elements: ComplexArray
    overlap: FloatArray = field(init=False, repr=False)
    tinv: FloatArray = field(init=False, repr=False)
    duals: ComplexArray = field(init=False, repr=False)
    pauli_table: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        m = np.asarray(self.elements, dtype=np.complex128)
        if m.ndim != 3 or m.shape[1:] != (2, 2) or m.shape[0] < 4:
            raise FrameError(f"POVM elements must have shape (K>=4, 2, 2), got {m.shape}")
        if not np.allclose(m, m.conj().transpose(0, 2, 1), atol=1e-12):
            raise FrameError("POVM elements must be Hermitian")
        if np.linalg.eigvalsh(m).min() < -1e-12:
            raise FrameError("POVM elements must be positive semidefinite")
        if not np.allclose(m.sum(axis=0), I2, atol=1e-10):
            raise FrameError("POVM elements must sum to the identity")
        t = np.einsum("aij,bji->ab", m, m).real
        if np.linalg.matrix_rank(t, tol=1e-10) < 4:
            raise FrameError("POVM is not informationally complete (overlap rank < 4)")
        tinv = np.linalg.inv(t) if m.shape[0] == 4 else np.linalg.pinv(t, rcond=1e-12)
        duals = np.einsum("ab,bij->aij", tinv, m)
        # pauli_table[p, a] = Tr[P_p D(a)] for P in (I, X, Y, Z): the Q_O factors.
        paulis = np.stack([I2, X, Y, Z])
        table = np.einsum("pij,aji->pa", paulis, duals)
        object.__setattr__(self, "elements", m)
        object.__setattr__(self, "overlap", t)
        object.__setattr__(self, "tinv", tinv)
        object.__setattr__(self, "duals", duals)
        object.__setattr__(self, "pauli_table", np.ascontiguousarray(table.real))

    @property
    def K(self) -> int:  # noqa: N802 - physics name
        """Number of outcomes per qubit."""
        return int(self.elements.shape[0])

    def depolarized(self, p: float) -> Frame:
        """Heisenberg-picture POVM for local depolarizing noise of strength ``p``.

        M_p(a) = (1 - p) M(a) + p Tr[M(a)] I/2; measuring a state with M_p gives the outcome
        statistics of measuring E_p(rho) with M.
        """
        if not 0.0 <= p <= 1.0:
            raise FrameError(f"noise must lie in [0, 1], got {p}")
        m = self.elements
        tr = np.einsum("aii->a", m).real
        noisy = (1 - p) * m + p * tr[:, None, None] * I2[None] / 2
        return Frame(name=f"{self.name}+depol({p:g})", elements=noisy)

    def coarse_grain(self, groups: list[list[int]], name: str) -> Frame:
        """Frame whose outcome ``k`` merges the outcomes listed in ``groups[k]``."""
        return Frame(name=name, elements=np.stack([self.elements[g].sum(0) for g in groups]))


def pauli4() -> Frame:
    """Pauli-4 POVM (K=4), outcome order (|0>, |+>, |+i>, rest)."""
    m = np.stack([_proj(_KET["+z"]), _proj(_KET["+x"]), _proj(_KET["+y"])]) / 3
    return Frame("pauli4", np.concatenate([m, (I2 - m.sum(0))[None]]))


def tetra() -> Frame:
    """Tetrahedral SIC-POVM (K=4): M(a) = (I + s_a . sigma)/4."""
    m = np.stack([(I2 + s[0] * X + s[1] * Y + s[2] * Z) / 4 for s in TETRA_VECTORS])
    return Frame("tetra", m)


PAULI6_ORDER = ("+x", "-x", "+y", "-y", "+z", "-z")


def pauli6(basis_weights: tuple[float, float, float] | None = None) -> Frame:
    """Pauli-6 POVM (K=6), outcome order (+x, -x, +y, -y, +z, -z).

    ``basis_weights`` are the probabilities (q_x, q_y, q_z) with which the X, Y, Z bases are
    measured; the default (1/3 each) is the uniformly random Pauli measurement.
    """
    if basis_weights is None:
        q = np.full(3, 1 / 3)
        name = "pauli6"
    else:
        q = np.asarray(basis_weights, dtype=float)
        if q.shape != (3,) or np.any(q <= 0) or not np.isclose(q.sum(), 1.0):
            raise FrameError(f"basis weights must be 3 positive numbers summing to 1, got {q}")
        name = "pauli6-weighted"
    m = np.stack([q[i // 2] * _proj(_KET[k]) for i, k in enumerate(PAULI6_ORDER)])
    return Frame(name, m)


_FACTORIES = {"pauli4": pauli4, "tetra": tetra, "pauli6": pauli6}


def get_frame(name: str) -> Frame:
    """Frame by name: ``pauli4``, ``tetra`` or ``pauli6``."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise FrameError(
            f"unknown POVM {name!r}; expected one of {', '.join(POVM_NAMES)}"
        ) from None


def frame_from_elements(name: str, elements: np.ndarray) -> Frame:
    """Rebuild a frame from stored elements (validates them)."""
    return Frame(name=name, elements=np.asarray(elements, dtype=np.complex128))
