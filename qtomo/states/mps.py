"""Matrix product states (MPS) of qubit chains.

Leg order (documented once, used by every MPS routine in qtomo)
--------------------------------------------------------------
An :class:`MPS` of ``N`` qubits is a list of ``N`` tensors; tensor ``j`` has shape
``(chi_j, 2, chi_{j+1})`` with legs ``vL p vR`` (left virtual, physical, right virtual) and
``chi_0 = chi_N = 1``. Site ``j`` is qubit ``j``; the physical index ``p = 0`` is ``|0>``
(the +1 eigenstate of Z). Contracting the chain left to right gives the amplitudes

    psi[p_0, ..., p_{N-1}] = B_0[0, p_0, :] @ B_1[:, p_1, :] @ ... @ B_{N-1}[:, p_{N-1}, 0],

and the state vector is big-endian (qubit 0 is the most significant bit), as everywhere in
qtomo. Tensors are float64 (real states, e.g. the TFIM ground state) or complex128.

Canonical forms: *right-canonical* means ``sum_{p, vR} B[vL, p, vR] conj(B[vL', p, vR]) =
delta(vL, vL')`` for every site, so that the norm is ``|B_0|^2`` and the right environment of
every bond is the identity; the samplers in :mod:`qtomo.povm.sampling` rely on it. The
attribute ``form`` records which form is known (``"right"`` or ``None``); ``singular_values``
holds the Schmidt values of each bond when the MPS was built by an SVD sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qtomo.errors import InputValueError
from qtomo.typing import ComplexArray, FloatArray

#: Largest N for which :meth:`MPS.to_statevector` builds a dense vector (2^N amplitudes).
MAX_STATEVECTOR_QUBITS = 26

_PAULI_MATS = {
    "I": np.eye(2, dtype=np.complex128),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}


def _truncate(s: FloatArray, chi_max: int | None, cutoff: float) -> int:
    """Number of singular values kept: at most ``chi_max``, dropping a tail whose squared
    weight (relative to the total) is at most ``cutoff``; always keeps at least one."""
    w = s**2
    total = w.sum()
    if total == 0.0:
        return 1
    # tail[k] = weight discarded when keeping k values
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
    keep = int(np.argmax(tail <= cutoff * total))
    keep = max(keep, 1)
    if chi_max is not None:
        keep = min(keep, chi_max)
    return keep


class MPS:
    """Matrix product state of a chain of qubits (legs ``vL p vR``, see module docstring).

    Parameters
    ----------
    tensors : sequence of ndarray
        Tensor ``j`` of shape ``(chi_j, 2, chi_{j+1})``; ``chi_0 = chi_N = 1``.
    form : {"right", None}
        Canonical form the tensors are known to be in (not checked; use
        :meth:`is_right_canonical` to check).
    singular_values : list of ndarray, optional
        Schmidt values of bonds ``1..N-1`` (bond ``j`` sits between sites ``j-1`` and ``j``).
    """

    def __init__(
        self,
        tensors: Sequence[np.ndarray],
        *,
        form: str | None = None,
        singular_values: Sequence[FloatArray] | None = None,
    ) -> None:
        if len(tensors) < 1:
            raise InputValueError("an MPS needs at least one site")
        ts = []
        for j, t in enumerate(tensors):
            t = np.asarray(t)
            if not np.iscomplexobj(t):
                t = t.astype(np.float64, copy=False)
            else:
                t = t.astype(np.complex128, copy=False)
            if t.ndim != 3 or t.shape[1] != 2:
                raise InputValueError(
                    f"MPS tensor {j} must have shape (chi_L, 2, chi_R) (legs vL p vR), "
                    f"got {t.shape}"
                )
            if j > 0 and ts[-1].shape[2] != t.shape[0]:
                raise InputValueError(
                    f"bond mismatch between sites {j - 1} and {j}: "
                    f"{ts[-1].shape[2]} != {t.shape[0]}"
                )
            ts.append(t)
        if ts[0].shape[0] != 1 or ts[-1].shape[2] != 1:
            raise InputValueError(
                f"open MPS needs chi_0 = chi_N = 1, got {ts[0].shape[0]} and {ts[-1].shape[2]}"
            )
        if form not in (None, "right"):
            raise InputValueError(f"form must be 'right' or None, got {form!r}")
        self.tensors: list[np.ndarray] = ts
        self.form = form
        self.singular_values = (
            None if singular_values is None else [np.asarray(s, float) for s in singular_values]
        )

    # --- basic properties ---------------------------------------------------------------

    @property
    def n_qubits(self) -> int:
        """Number of sites (qubits)."""
        return len(self.tensors)

    @property
    def bond_dims(self) -> list[int]:
        """Bond dimensions ``chi_1..chi_{N-1}`` (internal bonds only)."""
        return [t.shape[2] for t in self.tensors[:-1]]

    @property
    def max_bond(self) -> int:
        """Largest bond dimension (1 for a product state)."""
        return max([1, *self.bond_dims])

    @property
    def is_real(self) -> bool:
        """True when all tensors are real (float64)."""
        return all(not np.iscomplexobj(t) for t in self.tensors)

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(*self.tensors)

    def copy(self) -> MPS:
        sv = None if self.singular_values is None else [s.copy() for s in self.singular_values]
        return MPS([t.copy() for t in self.tensors], form=self.form, singular_values=sv)

    def __repr__(self) -> str:
        return (
            f"MPS(n_qubits={self.n_qubits}, max_bond={self.max_bond}, "
            f"dtype={self.dtype}, form={self.form!r})"
        )

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_statevector(
        cls,
        psi: ComplexArray,
        *,
        chi_max: int | None = None,
        cutoff: float = 0.0,
        normalize: bool = True,
    ) -> MPS:
        """MPS of a big-endian state vector by successive SVDs from the right.

        Exact when ``chi_max is None`` and ``cutoff == 0``; otherwise each bond keeps at most
        ``chi_max`` Schmidt values and drops a tail of relative squared weight <= ``cutoff``.
        The result is right-canonical. A real vector gives real tensors.
        """
        v = np.asarray(psi)
        if v.ndim != 1:
            raise InputValueError(f"state vector must be 1-D, got shape {v.shape}")
        n = int(round(np.log2(v.size))) if v.size > 0 else 0
        if n < 1 or 2**n != v.size:
            raise InputValueError(f"state vector length {v.size} is not 2^N with N >= 1")
        if chi_max is not None and chi_max < 1:
            raise InputValueError(f"chi_max must be >= 1, got {chi_max}")
        v = v.astype(np.complex128 if np.iscomplexobj(v) else np.float64)
        nrm = np.linalg.norm(v)
        if nrm == 0:
            raise InputValueError("state vector is zero")
        tensors: list[np.ndarray] = [None] * n  # type: ignore[list-item]
        svals: list[FloatArray] = [None] * (n - 1)  # type: ignore[list-item]
        # rest: (left part of all remaining sites, p_j, chi_{j+1})
        rest = v.reshape(-1, 1)  # (2^n, chi_n = 1)
        for j in range(n - 1, 0, -1):
            chi_r = rest.shape[1]
            m = rest.reshape(-1, 2 * chi_r)  # (prefix, p vR)
            u, s, vh = np.linalg.svd(m, full_matrices=False)
            keep = _truncate(s, chi_max, cutoff)
            u, s, vh = u[:, :keep], s[:keep], vh[:keep]
            tensors[j] = vh.reshape(keep, 2, chi_r)  # vL p vR
            svals[j - 1] = s / np.linalg.norm(s)
            rest = u * s[None, :]  # prefix vL
        tensors[0] = rest.reshape(1, 2, -1)  # vL p vR
        out = cls(tensors, form="right", singular_values=svals)
        if normalize:
            out.tensors[0] = out.tensors[0] / np.linalg.norm(out.tensors[0])
        return out

    @classmethod
    def product_state(cls, kets: Sequence[np.ndarray]) -> MPS:
        """Product state ``kets[0] (x) kets[1] (x) ...`` (each a length-2 vector), normalised."""
        ts = []
        for k in kets:
            k = np.asarray(k)
            k = k / np.linalg.norm(k)
            ts.append(k.reshape(1, 2, 1))  # vL p vR
        return cls(ts, form="right")

    # --- dense conversion ---------------------------------------------------------------

    def to_statevector(self) -> ComplexArray:
        """Dense big-endian state vector (2^N,) (float64 for a real MPS, else complex128)."""
        if self.n_qubits > MAX_STATEVECTOR_QUBITS:
            raise InputValueError(
                f"a state vector of {self.n_qubits} qubits needs 2^{self.n_qubits} amplitudes; "
                f"to_statevector is limited to N <= {MAX_STATEVECTOR_QUBITS}"
            )
        v = self.tensors[0].reshape(2, -1)  # (p_0) vR
        for t in self.tensors[1:]:
            # (prefix, vL) x (vL, p vR) -> (prefix, p vR)   # x vL, vL p vR
            v = (v @ t.reshape(t.shape[0], -1)).reshape(-1, t.shape[2])
        return v.reshape(-1)

    # --- canonical forms, norm, overlap -------------------------------------------------

    def right_canonical(
        self, *, chi_max: int | None = None, cutoff: float = 0.0, normalize: bool = True
    ) -> MPS:
        """Right-canonical copy (optionally truncated) by a QR sweep then an SVD sweep.

        A left-to-right QR sweep first brings the state to left-canonical form so that the
        right-to-left SVD sweep sees the true Schmidt values and truncation is optimal.
        """
        if chi_max is not None and chi_max < 1:
            raise InputValueError(f"chi_max must be >= 1, got {chi_max}")
        ts = [t.copy() for t in self.tensors]
        n = len(ts)
        # left-to-right QR: A_j left-canonical, the R factor moves right
        for j in range(n - 1):
            cl, d, cr = ts[j].shape
            q, r = np.linalg.qr(ts[j].reshape(cl * d, cr))  # (vL p) vR
            ts[j] = q.reshape(cl, d, -1)
            # R (vR_new, vR) . B_{j+1} (vL, p vR')   # a vL, vL p vR
            ts[j + 1] = np.tensordot(r, ts[j + 1], axes=(1, 0))
        nrm = np.linalg.norm(ts[-1])
        if nrm == 0:
            raise InputValueError("the MPS has zero norm")
        if normalize:
            ts[-1] = ts[-1] / nrm
        svals: list[FloatArray] = [None] * (n - 1)  # type: ignore[list-item]
        # right-to-left SVD: B_j right-canonical, U S moves left
        for j in range(n - 1, 0, -1):
            cl, d, cr = ts[j].shape
            u, s, vh = np.linalg.svd(ts[j].reshape(cl, d * cr), full_matrices=False)  # vL (p vR)
            keep = _truncate(s, chi_max, cutoff)
            u, s, vh = u[:, :keep], s[:keep], vh[:keep]
            ts[j] = vh.reshape(keep, d, cr)
            svals[j - 1] = s / np.linalg.norm(s)
            # A_{j-1} (vL, p, vR) . (U S) (vR, a)   # vL p vR, vR a
            ts[j - 1] = np.tensordot(ts[j - 1], u * s[None, :], axes=(2, 0))
        if normalize:
            ts[0] = ts[0] / np.linalg.norm(ts[0])
        return MPS(ts, form="right", singular_values=svals)

    def is_right_canonical(self, atol: float = 1e-10) -> bool:
        """Check ``sum_{p, vR} B B^* = 1`` at every site except site 0."""
        for t in self.tensors[1:]:
            # B (vL, p vR) . B^dagger (p vR, vL')   # vL (p vR), (p vR) vL'
            m = t.reshape(t.shape[0], -1)
            if not np.allclose(m @ m.conj().T, np.eye(t.shape[0]), atol=atol):
                return False
        return True

    def overlap(self, other: MPS) -> complex:
        """<self|other> by a left-to-right transfer-matrix sweep (cost N chi^3)."""
        if other.n_qubits != self.n_qubits:
            raise InputValueError(
                f"overlap of MPS with {self.n_qubits} and {other.n_qubits} qubits"
            )
        env = np.ones((1, 1))  # vL* vL  (bra bond, ket bond)
        for a, b in zip(self.tensors, other.tensors):
            # env (u*, v) . B_other (v, p, vR)   # u* v, v p vR -> u* p vR
            t = np.tensordot(env, b, axes=(1, 0))
            # conj(B_self) (u*, p, uR*) . t (u*, p, vR)   # u p uR, u p vR -> uR vR
            env = np.tensordot(a.conj(), t, axes=([0, 1], [0, 1]))
        val = env[0, 0]
        return complex(val)

    def norm(self) -> float:
        """sqrt(<psi|psi>)."""
        if self.form == "right":
            return float(np.linalg.norm(self.tensors[0]))
        return float(np.sqrt(abs(self.overlap(self))))

    def normalized(self) -> MPS:
        """Copy with unit norm."""
        out = self.copy()
        out.tensors[0] = out.tensors[0] / self.norm()
        return out
