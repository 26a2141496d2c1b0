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

What lives where: this module holds the :class:`MPS` container (validation, construction
from a state vector or a product, dense conversion, canonical forms and truncation, HDF5
storage); the contractions behind its overlaps, expectation values, correlation matrices and
entropies are functions on tensor lists in :mod:`qtomo.states.mps_expectations`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qtomo.errors import DataFileError, InputValueError
from qtomo.states import mps_expectations as mpx
from qtomo.states.paulis import PAULI
from qtomo.typing import ComplexArray, FloatArray

#: Largest N for which :meth:`MPS.to_statevector` builds a dense vector (2^N amplitudes).
MAX_STATEVECTOR_QUBITS = 26


def truncation_rank(s: FloatArray, chi_max: int | None, cutoff: float) -> tuple[int, float]:
    """How many singular values a truncated SVD keeps, and the weight it discards.

    Parameters
    ----------
    s : ndarray
        Singular values, in decreasing order.
    chi_max : int or None
        Most values kept (no cap when None).
    cutoff : float
        Largest discarded tail of squared weight, relative to the total.

    Returns
    -------
    keep : int
        Number of values kept, at least one.
    discarded : float
        Squared weight of the dropped tail relative to the total (0 for an all-zero ``s``).
    """
    w = s**2
    total = w.sum()
    if total == 0.0:
        return 1, 0.0
    # tail[k] = weight discarded when keeping k values
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
    keep = int(np.argmax(tail <= cutoff * total))
    keep = max(keep, 1)
    if chi_max is not None:
        keep = min(keep, chi_max)
    return keep, float(tail[keep] / total)


def _split_off_right(
    m: np.ndarray, chi_r: int, chi_max: int | None, cutoff: float
) -> tuple[np.ndarray, FloatArray, np.ndarray]:
    """Truncated SVD ``m = (U S) . B`` of a matrix with columns ``(p, vR)``.

    Returns the right-canonical site tensor ``B`` (keep, 2, chi_r) (legs ``vL p vR``), the
    normalised Schmidt values of its left bond and ``U S`` (rows of ``m``, keep), which the
    caller moves into the part of the chain to the left.
    """
    u, s, vh = np.linalg.svd(m, full_matrices=False)
    keep, _ = truncation_rank(s, chi_max, cutoff)
    u, s, vh = u[:, :keep], s[:keep], vh[:keep]
    return vh.reshape(keep, 2, chi_r), s / np.linalg.norm(s), u * s[None, :]


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
            # (prefix, p vR) -> (prefix, vL) . B_j (vL, p vR)
            tensors[j], svals[j - 1], rest = _split_off_right(
                rest.reshape(-1, 2 * chi_r), chi_r, chi_max, cutoff
            )
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
            # vL (p vR) -> (U S) (vL, a) . B_j (a, p vR)
            ts[j], svals[j - 1], us = _split_off_right(
                ts[j].reshape(cl, d * cr), cr, chi_max, cutoff
            )
            # A_{j-1} (vL, p, vR) . (U S) (vR, a)   # vL p vR, vR a
            ts[j - 1] = np.tensordot(ts[j - 1], us, axes=(2, 0))
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
        return mpx.overlap(self.tensors, other.tensors)

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

    # --- measurements (contractions in qtomo.states.mps_expectations) -------------------

    def as_right_canonical(self) -> MPS:
        """Normalised right-canonical MPS of the same state.

        Returns
        -------
        MPS
            ``self`` when it already is one (norm within 1e-12 of 1), else a normalised copy
            when the form is known to be right-canonical, else :meth:`right_canonical`.
        """
        if self.form == "right" and abs(np.linalg.norm(self.tensors[0]) - 1.0) < 1e-12:
            return self
        if self.form == "right":
            return self.normalized()
        return self.right_canonical()

    def expectation_pauli(self, paulis: Mapping[int, str] | str) -> float:
        """<psi| P |psi> / <psi|psi> of a Pauli string.

        ``paulis`` is ``{site: letter}`` with letters I, X, Y, Z, or a string such as
        ``"Z0 Z5"`` or ``"X3"``. One left-to-right pass up to the last non-identity site.
        """
        ops = mpx.pauli_operators(paulis, self.n_qubits)
        return float(np.real(self.expectation_product(ops)))

    def expectation_product(self, ops: Mapping[int, np.ndarray]) -> complex:
        """<psi| O_{j1} (x) O_{j2} ... |psi> / <psi|psi> for 2x2 operators ``{site: O}``."""
        return mpx.expectation_product(self.as_right_canonical().tensors, ops)

    def local_expectations(self, op: np.ndarray) -> np.ndarray:
        """<O_j> for every site j of a 2x2 operator O (one sweep, cost N chi^3)."""
        return mpx.local_expectations(self.as_right_canonical().tensors, op)

    def x_expectations(self) -> np.ndarray:
        """<X_j> for all sites, float64 (N,)."""
        return self.local_expectations(PAULI["X"]).real.copy()

    def z_expectations(self) -> np.ndarray:
        """<Z_j> for all sites, float64 (N,)."""
        return self.local_expectations(PAULI["Z"]).real.copy()

    def correlation_matrix(self, op_a: np.ndarray, op_b: np.ndarray | None = None) -> np.ndarray:
        """C[i, j] = <A_i B_j> for i < j, <B_i A_j> mirrored for i > j, <A B> on the diagonal
        (see :func:`qtomo.states.mps_expectations.correlation_matrix`; O(N^2 chi^3))."""
        return mpx.correlation_matrix(self.as_right_canonical().tensors, op_a, op_b)

    def zz_matrix(self) -> np.ndarray:
        """<Z_i Z_j> for all pairs, float64 (N, N), ones on the diagonal."""
        z = PAULI["Z"]
        return self.correlation_matrix(z).real.copy()

    def entanglement_entropies(self) -> np.ndarray:
        """Von Neumann entropies S_j = -sum s^2 ln s^2 (natural log) of bonds 1..N-1, (N-1,)."""
        sv = self.singular_values
        if sv is None or self.form != "right" or len(sv) != self.n_qubits - 1:
            sv = self.right_canonical().singular_values
        return mpx.entanglement_entropies(sv)

    # --- storage --------------------------------------------------------------------------

    def save_to_group(self, group) -> None:  # h5py.Group
        """Write the MPS into an (empty) HDF5 group.

        Layout: attrs ``format="qtomo-mps"``, ``version=1``, ``n_qubits``,
        ``legs="vL p vR"``, ``form`` ("right" or "none"), ``bond_dims``; datasets
        ``tensors/00000``, ``tensors/00001``, ... of shape (chi_L, 2, chi_R), float64 or
        complex128; ``singular_values/0000j`` when known.
        """
        group.attrs["format"] = "qtomo-mps"
        group.attrs["version"] = 1
        group.attrs["n_qubits"] = self.n_qubits
        group.attrs["legs"] = "vL p vR"
        group.attrs["form"] = self.form or "none"
        group.attrs["bond_dims"] = np.asarray(self.bond_dims, dtype=np.int64)
        tg = group.create_group("tensors")
        for j, t in enumerate(self.tensors):
            tg.create_dataset(f"{j:05d}", data=t)
        if self.singular_values is not None:
            sg = group.create_group("singular_values")
            for j, s in enumerate(self.singular_values):
                sg.create_dataset(f"{j:05d}", data=s)

    @classmethod
    def load_from_group(cls, group) -> MPS:  # h5py.Group
        """Read an MPS written by :meth:`save_to_group`; raises ``DataFileError`` if malformed."""
        try:
            if group.attrs.get("format") != "qtomo-mps":
                raise DataFileError(
                    f"HDF5 group {group.name} is not a stored MPS (format attribute missing)"
                )
            version = int(group.attrs["version"])
            if version != 1:
                raise DataFileError(
                    f"stored MPS has version {version}; this qtomo reads version 1 only"
                )
            n = int(group.attrs["n_qubits"])
            tg = group["tensors"]
            tensors = [np.asarray(tg[f"{j:05d}"][()]) for j in range(n)]
            form = str(group.attrs.get("form", "none"))
            sv = None
            if "singular_values" in group:
                sg = group["singular_values"]
                sv = [np.asarray(sg[f"{j:05d}"][()]) for j in range(n - 1)]
        except KeyError as e:
            raise DataFileError(f"stored MPS in {group.name} is incomplete: {e}") from None
        try:
            return cls(tensors, form=None if form == "none" else form, singular_values=sv)
        except InputValueError as e:
            raise DataFileError(f"stored MPS in {group.name} is malformed: {e}") from None
