"""Single-qubit informationally complete POVMs (frames) and their dual operators.

Conventions (binding, see docs/conventions.md, "POVMs and outcome order"):

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
from typing import Any

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
    given_duals : ndarray, complex128, shape (K, 2, 2), optional
        A dual frame to use instead of the canonical one (over-complete frames have many);
        checked: X = sum_a Tr[X M(a)] D(a) for every single-qubit X.
    """

    name: str
    elements: ComplexArray
    given_duals: ComplexArray | None = field(default=None, repr=False, compare=False)
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
        if self.given_duals is not None:
            duals = np.asarray(self.given_duals, dtype=np.complex128)
            basis = np.stack([I2, X, Y, Z])
            back = np.einsum("pij,aji,akl->pkl", basis, m, duals)  # sum_a Tr[P M(a)] D(a)
            if duals.shape != m.shape or not np.allclose(back, basis, atol=1e-10):
                raise FrameError("the given duals are not a dual frame of the elements")
        # pauli_table[p, a] = Tr[P_p D(a)] for P in (I, X, Y, Z): the Q_O factors.
        paulis = np.stack([I2, X, Y, Z])
        table = np.einsum("pij,aji->pa", paulis, duals)
        object.__setattr__(self, "elements", m)
        object.__setattr__(self, "overlap", t)
        object.__setattr__(self, "tinv", tinv)
        object.__setattr__(self, "duals", duals)
        object.__setattr__(self, "pauli_table", np.ascontiguousarray(table.real))

    @property
    def K(self) -> int:  # physics name
        """Number of outcomes per qubit."""
        return int(self.elements.shape[0])

    #: A frame measures every qubit alike (see :class:`LocalFrames` for one per qubit).
    uniform = True

    def at(self, j: int) -> Frame:
        """The frame of qubit ``j``: a uniform frame is its own at every qubit."""
        return self

    def restrict(self, sites: Any) -> Frame:
        """The frame of a subsystem: a uniform frame is its own."""
        return self

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


# --- per-qubit POVMs ------------------------------------------------------------------------
# A uniform :class:`Frame` measures every qubit alike; a :class:`LocalFrames` holds one frame per
# qubit (readout errors differ from qubit to qubit). Code that loops over qubits asks either for
# ``frame.at(j)``; code that works on a subsystem asks for ``frame.restrict(sites)``.
@dataclass(frozen=True)
class LocalFrames:
    """One single-qubit POVM per qubit, all with the same number of outcomes K.

    The POVM of N qubits is M(a) = M_0(a_0) (x) ... (x) M_{N-1}(a_{N-1}), with duals
    D_j(a) from each qubit's own frame, so that rho = sum_a P(a) D_0(a_0) (x) ... (x)
    D_{N-1}(a_{N-1}) as for a uniform frame.

    Attributes
    ----------
    frames : tuple of Frame, length N
        ``frames[j]`` is measured on qubit j.
    name : str
        A label for reports (e.g. ``"pauli6+readout"``).
    """

    frames: tuple[Frame, ...]
    name: str = "local"
    uniform = False

    def __post_init__(self) -> None:
        fr = tuple(self.frames)
        if not fr:
            raise FrameError("a per-qubit POVM needs at least one qubit")
        if len({f.K for f in fr}) != 1:
            raise FrameError("every qubit's POVM must have the same number of outcomes")
        object.__setattr__(self, "frames", fr)

    @property
    def K(self) -> int:  # physics name
        """Number of outcomes per qubit."""
        return self.frames[0].K

    @property
    def n_qubits(self) -> int:
        return len(self.frames)

    def at(self, j: int) -> Frame:
        """The frame measured on qubit ``j``."""
        return self.frames[j]

    def restrict(self, sites: Any) -> LocalFrames:
        """The frames of ``sites``, in the order given (a subsystem's POVM)."""
        return LocalFrames(tuple(self.frames[int(s)] for s in sites), self.name)

    def depolarized(self, p: float) -> LocalFrames:
        """Every qubit's frame for local depolarizing noise (see :meth:`Frame.depolarized`)."""
        return LocalFrames(tuple(f.depolarized(p) for f in self.frames),
                           f"{self.name}+depol({p:g})")

    @property
    def site_elements(self) -> ComplexArray:
        """complex128 (N, K, 2, 2): ``[j, a] = M_j(a)``."""
        return np.stack([f.elements for f in self.frames])


AnyFrame = Frame | LocalFrames


def site_operators(frame: AnyFrame, n: int, kind: str = "elements") -> ComplexArray:
    """Per-qubit operators of ``frame`` for ``n`` qubits: complex128 (n, K, 2, 2).

    ``kind`` is ``"elements"`` (the POVM) or ``"duals"``; a uniform frame is repeated.
    """
    if kind not in ("elements", "duals"):
        raise ValueError(f"kind must be elements or duals, got {kind!r}")
    if frame.uniform:
        return np.broadcast_to(getattr(frame, kind), (n, *getattr(frame, kind).shape))
    if frame.n_qubits != n:
        raise FrameError(f"the per-qubit POVM covers {frame.n_qubits} qubits, not {n}")
    return np.stack([getattr(f, kind) for f in frame.frames])


#: Outcome pairs (a = 2 s + b) of the Pauli-6 frames: setting s in (X, Y, Z), bit b (0 = +1).
PAULI6_PAIRS = ((0, 1), (2, 3), (4, 5))


def with_readout(frame: Frame, confusion: np.ndarray) -> Frame:
    """The effective Pauli-6 frame of a qubit whose bits are misread with ``confusion``.

    ``confusion[b, b'] = P(read b | the measurement gave b')`` (columns sum to 1); then
    M'(s, b) = sum_b' C[b, b'] M(s, b'): the statistics of the bits as read. Only frames whose
    outcomes are (setting, bit) pairs in the Pauli-6 order qualify. The duals are
    D'(s, b) = sum_b' C^-1[b', b] D(s, b') (a dual frame of M', with the same variance as the
    canonical one on the examples checked): like the ideal duals, they keep each setting's
    shots informative about that setting's Pauli operators only, Tr[P D'(s, b)] = 0 for a Pauli
    P outside setting s.
    """
    c = np.asarray(confusion, dtype=np.float64)
    if frame.K != 6:
        raise FrameError(f"readout errors act on (setting, bit) outcomes of a Pauli-6 POVM; "
                         f"{frame.name} has K = {frame.K}")
    if c.shape != (2, 2) or np.abs(c.sum(axis=0) - 1).max() > 1e-6 or c.min() < 0:
        raise FrameError(f"a confusion matrix is a stochastic 2x2 matrix, got {c.tolist()}")
    m, d = frame.elements, frame.duals
    cinv = np.linalg.inv(c)
    out, duals = np.empty_like(m), np.empty_like(d)
    for pair in PAULI6_PAIRS:
        for b, a in enumerate(pair):
            out[a] = c[b, 0] * m[pair[0]] + c[b, 1] * m[pair[1]]
            # D'(s, b) = sum_b' Cinv[b', b] D(s, b'): the misreading undone, setting by setting
            duals[a] = cinv[0, b] * d[pair[0]] + cinv[1, b] * d[pair[1]]
    return Frame(name=f"{frame.name}+readout", elements=out, given_duals=duals)


def readout_frames(frame: Frame, confusion: np.ndarray) -> AnyFrame:
    """Effective per-qubit frames for (N, 2, 2) confusion matrices (uniform when all agree)."""
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 3 or c.shape[1:] != (2, 2):
        raise FrameError(f"confusion matrices must have shape (N, 2, 2), got {c.shape}")
    if np.allclose(c, c[:1], atol=0.0, rtol=0.0):
        return with_readout(frame, c[0])
    return LocalFrames(tuple(with_readout(frame, cq) for cq in c), f"{frame.name}+readout")
