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

from qtomo.errors import DataFileError, InputValueError
from qtomo.states.paulis import PAULI, parse_pauli_string
from qtomo.typing import ComplexArray, FloatArray

#: Largest N for which :meth:`MPS.to_statevector` builds a dense vector (2^N amplitudes).
MAX_STATEVECTOR_QUBITS = 26


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
        for a, b in zip(self.tensors, other.tensors, strict=True):
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

    # --- measurements ---------------------------------------------------------------------

    def _rc(self) -> MPS:
        """Normalised right-canonical version (self when already so)."""
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
        if isinstance(paulis, str):
            paulis = parse_pauli_string(paulis, self.n_qubits)
        ops: dict[int, np.ndarray] = {}
        for site, letter in paulis.items():
            if not 0 <= int(site) < self.n_qubits:
                raise InputValueError(
                    f"Pauli string names qubit {site}, but the MPS has {self.n_qubits} qubits"
                )
            key = str(letter).upper()
            if key not in PAULI:
                raise InputValueError(f"unknown Pauli letter {letter!r}; expected I, X, Y or Z")
            if key != "I":
                ops[int(site)] = PAULI[key]
        return float(np.real(self.expectation_product(ops)))

    def expectation_product(self, ops: Mapping[int, np.ndarray]) -> complex:
        """<psi| O_{j1} (x) O_{j2} ... |psi> / <psi|psi> for 2x2 operators ``{site: O}``."""
        m = self._rc()
        last = max(ops) if ops else -1
        env = np.ones((1, 1))  # bra ket
        for j in range(last + 1):
            b = m.tensors[j]
            # env (u*, v) . B (v, p, r)   # u* [v], [v] p r -> u* p r
            t = np.tensordot(env, b, axes=(1, 0))
            if j in ops:
                # O (p', p) . t (u*, p, r)   # p' [p], u* [p] r -> p' u* r
                t = np.tensordot(ops[j], t, axes=(1, 1)).transpose(1, 0, 2)
            # conj(B) (u*, p', r*) . t (u*, p', r)   # [u] [p] r*, [u] [p] r -> r* r
            env = np.tensordot(b.conj(), t, axes=([0, 1], [0, 1]))
        # right-canonical: the right environment is the identity
        return complex(np.trace(env))

    def _center_sweep(self):
        """Yield (j, C_j) with the orthogonality centre on site j, for j = 0..N-1.

        Starts from the normalised right-canonical form; each step QR-decomposes the centre
        and pushes R into the next site (cost chi^3 per site).
        """
        m = self._rc()
        c = m.tensors[0]
        for j in range(self.n_qubits):
            yield j, c
            if j == self.n_qubits - 1:
                break
            cl, d, cr = c.shape
            q, r = np.linalg.qr(c.reshape(cl * d, cr))  # (vL p) vR
            # R (a, vR) . B_{j+1} (vR, p, r)   # a [vR], [vR] p r
            c = np.tensordot(r, m.tensors[j + 1], axes=(1, 0))

    def local_expectations(self, op: np.ndarray) -> np.ndarray:
        """<O_j> for every site j of a 2x2 operator O (one sweep, cost N chi^3)."""
        op = np.asarray(op)
        out = np.empty(self.n_qubits, dtype=np.complex128)
        for j, c in self._center_sweep():
            # conj(C) (l, p', r) O (p', p) C (l, p, r)   # l p' r, p' p, l p r
            out[j] = np.einsum("lqr,qp,lpr->", c.conj(), op, c)
        return out

    def x_expectations(self) -> np.ndarray:
        """<X_j> for all sites, float64 (N,)."""
        return self.local_expectations(PAULI["X"]).real.copy()

    def z_expectations(self) -> np.ndarray:
        """<Z_j> for all sites, float64 (N,)."""
        return self.local_expectations(PAULI["Z"]).real.copy()

    def correlation_matrix(self, op_a: np.ndarray, op_b: np.ndarray | None = None) -> np.ndarray:
        """C[i, j] = <A_i B_j> for i < j, <B_i A_j> mirrored for i > j, <A B> on the diagonal.

        For Hermitian commuting single-site operators (e.g. Z and Z) the matrix is the full
        symmetric correlation matrix. One pass per left site i carries the environment
        ``C_i^+ A C_i`` to the right through the right-canonical tensors, measuring B at
        every j > i: O(N^2 chi^3) in total, never a full contraction per pair.
        """
        op_a = np.asarray(op_a)
        op_b = op_a if op_b is None else np.asarray(op_b)
        n = self.n_qubits
        m = self._rc()
        out = np.zeros((n, n), dtype=np.complex128)
        for i, c in self._center_sweep():
            # diagonal: <A B> on site i   # l p' r, p' p, l p r
            out[i, i] = np.einsum("lqr,qp,lpr->", c.conj(), op_a @ op_b, c)
            # env (r*, r) = sum conj(C)[l, p', r*] A[p', p] C[l, p, r]
            env = np.einsum("lqs,qp,lpr->sr", c.conj(), op_a, c)
            for j in range(i + 1, n):
                b = m.tensors[j]
                # env (u*, v) . B (v, p, r)   # u* [v], [v] p r -> u* p r
                t = np.tensordot(env, b, axes=(1, 0))
                # measure B_j: sum conj(B)[u, p', r] B_op[p', p] t[u, p, r]
                tb = np.tensordot(op_b, t, axes=(1, 1))  # p' u* r
                out[i, j] = np.tensordot(b.conj(), tb.transpose(1, 0, 2), axes=3)
                if j < n - 1:
                    # identity transfer: conj(B) (u*, p, r*) . t (u*, p, r) -> r* r
                    env = np.tensordot(b.conj(), t, axes=([0, 1], [0, 1]))
        upper = np.triu_indices(n, 1)
        out[upper[1], upper[0]] = out[upper]
        return out

    def zz_matrix(self) -> np.ndarray:
        """<Z_i Z_j> for all pairs, float64 (N, N), ones on the diagonal."""
        z = PAULI["Z"]
        return self.correlation_matrix(z).real.copy()

    def entanglement_entropies(self) -> np.ndarray:
        """Von Neumann entropies S_j = -sum s^2 ln s^2 (natural log) of bonds 1..N-1, (N-1,)."""
        sv = self.singular_values
        if sv is None or self.form != "right" or len(sv) != self.n_qubits - 1:
            sv = self.right_canonical().singular_values
        out = np.empty(self.n_qubits - 1)
        for j, s in enumerate(sv):
            w = np.asarray(s) ** 2
            w = w[w > 0] / w.sum()
            out[j] = float(-(w * np.log(w)).sum())
        return out

    # --- storage --------------------------------------------------------------------------

    def save_to_group(self, group) -> None:  # noqa: ANN001 - h5py.Group
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
    def load_from_group(cls, group) -> MPS:  # noqa: ANN001 - h5py.Group
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
