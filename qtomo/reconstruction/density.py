"""Density matrices from outcome distributions: inversion, physical projection, maximum likelihood.

Conventions (docs/conventions.md, "Qubits and bit order"): qubit 0 is the leftmost tensor factor
and the most significant bit of a big-endian index; outcome tables are indexed in the order of
:func:`qtomo.povm.born.all_outcomes` (qubit 0 slowest). Every density matrix here is a dense
complex128 ``(2^N, 2^N)`` array, so these functions are meant for ``N <= 10``
(:data:`MAX_RHO_QUBITS`). Tensor products over qubits are contracted one qubit at a time; no
``K^N x K^N`` or ``4^N x 4^N`` matrix is ever built.

* :func:`probability_table` -- Q(a) of a model for all ``K^N`` strings.
* :func:`frequency_table` -- raw shot frequencies.
* :func:`qtomo.povm.born.rho_from_probabilities` -- Born-rule inversion (linear, may be
  unphysical); :func:`project_to_physical` -- the closest physical state in Frobenius norm
  (eigenvalues projected onto the probability simplex).
* :mod:`qtomo.reconstruction.mle` -- maximum likelihood (``fit_mle``, ``fit_mle_auto``), built
  on the contractions here.
* :func:`product_table`, :func:`weighted_operator` -- the two qubit-by-qubit contractions
  everything above is built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.errors import ComputationError, InputValueError
from qtomo.povm.born import all_outcomes, outcome_index
from qtomo.reconstruction.site_products import from_interleaved, interleaved, site_products
from qtomo.typing import ComplexArray, FloatArray, Outcomes

#: Largest N for which dense density matrices are built.
MAX_RHO_QUBITS = 10
#: Largest full outcome table (K^N entries): Pauli-6 at N = 10 (6^10, 484 MB in float64).
MAX_TABLE_ENTRIES = 6**10
#: Largest table of a model whose log Q is evaluated string by string (a model without
#: ``log_prob_table``: N K^N network steps, which grow too slow beyond this).
MAX_STRINGWISE_TABLE_ENTRIES = 1 << 22


def check_table_size(n: int, K: int, what: str = "this computation",
                     limit: int = MAX_TABLE_ENTRIES) -> None:
    """Raise :class:`InputValueError` when N or K^N is too large for dense tables."""
    if n > MAX_RHO_QUBITS:
        raise InputValueError(
            f"{what} needs a dense density matrix, possible up to {MAX_RHO_QUBITS} qubits; "
            f"the data has {n}"
        )
    if K**n > limit:
        raise InputValueError(
            f"{what} sums over all K^N = {K}^{n} outcome strings, more than "
            f"{limit}; use fewer qubits or a 4-outcome POVM"
        )


def model_table_limit(model: Any) -> int:
    """Largest K^N whose full table of ``model`` is computed: :data:`MAX_TABLE_ENTRIES` for a
    model that walks its prefixes (``log_prob_table``), else
    :data:`MAX_STRINGWISE_TABLE_ENTRIES`."""
    return MAX_TABLE_ENTRIES if hasattr(model, "log_prob_table") else MAX_STRINGWISE_TABLE_ENTRIES


def model_table_note(model: Any, n: int, K: int) -> str | None:
    """Why the full table of ``model`` over K^N strings is not computed (None when it is)."""
    if K**n <= model_table_limit(model):
        return None
    return (f"no dense states of the model: {getattr(model, 'name', 'the model')!r} evaluates "
            f"its table string by string, and K^N = {K}^{n} is more than "
            f"{MAX_STRINGWISE_TABLE_ENTRIES} strings (the GRU walks its prefixes instead)")


# --- the two contractions -----------------------------------------------------------------------
def product_table(rho: ComplexArray, ops: ComplexArray) -> ComplexArray:
    """``Tr[rho O(a_0) (x) ... (x) O(a_{N-1})]`` for every outcome string ``a``.

    Parameters
    ----------
    rho : complex ndarray (2^N, 2^N)
        Any operator (need not be positive or normalised).
    ops : complex ndarray (K, 2, 2) or (N, K, 2, 2)
        Single-qubit operators, e.g. POVM elements (then this is the Born table) or duals;
        with a leading qubit axis, ``ops[j]`` acts on qubit j (per-qubit POVMs).

    Returns
    -------
    complex128 ndarray (K^N,)
        In the order of :func:`qtomo.povm.born.all_outcomes`.
    """
    rho = np.asarray(rho, dtype=np.complex128)
    ops = np.asarray(ops, dtype=np.complex128)
    n = _n_of(rho.shape[0])
    per_site = _per_site(ops, n)
    K = per_site.shape[1]
    # interleave ket and bra legs: (i_0 j_0)(i_1 j_1)...; the current qubit's pair leads
    t = interleaved(rho, n)
    # e[k, (i j)] = O(k)[j, i], so that sum_{ij} e[k, (i j)] rho[(i j), ...] = Tr_j[rho O(k)]
    e = np.ascontiguousarray(per_site.transpose(0, 1, 3, 2).reshape(n, K, 4))
    return site_products(e, t)


def weighted_operator(weights: FloatArray, ops: ComplexArray, n: int) -> ComplexArray:
    """``sum_a w(a) O(a_0) (x) ... (x) O(a_{N-1})`` for a table of weights ``w`` (K^N,).

    With ``ops`` the duals and ``w`` a probability table this is the Born-rule inversion; with
    ``ops`` the POVM elements and ``w = P/p`` it is the ``R`` operator of maximum likelihood.
    ``ops`` is (K, 2, 2), or (N, K, 2, 2) with ``ops[j]`` on qubit j.
    """
    w = np.asarray(weights)
    per_site = _per_site(ops, n)
    K = per_site.shape[1]
    if w.size != K**n:
        raise InputValueError(f"weight table has {w.size} entries, expected K^N = {K}^{n}")
    # f[(i j), k] = O(k)[i, j]; every step turns the leading outcome axis a_j into the
    # (ket, bra) pair of qubit j and rolls it to the back: a_0..a_{N-1} -> (i_0 j_0)..
    f = np.ascontiguousarray(per_site.reshape(n, K, 4).transpose(0, 2, 1))
    t = site_products(f, w.astype(np.complex128).reshape(-1))
    return from_interleaved(t, n)


# --- the same contractions in the real Pauli basis (Hermitian operators) -------------------------
#: Pauli matrices I, X, Y, Z.
_PAULIS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
                   dtype=np.complex128)


def born_table(rho: ComplexArray, ops: ComplexArray, out: FloatArray | None = None
               ) -> FloatArray:
    """``Tr[rho O(a_0) (x) ... (x) O(a_{N-1})]`` for Hermitian ``rho`` and ``ops``: the real part
    of :func:`product_table`, computed in the real Pauli basis.

    ``rho`` is expanded once in Pauli strings, ``c_P = Tr[rho P]`` (4^N real numbers), and
    each qubit's operators enter as the real K x 4 matrix ``Tr[O(k) P] / 2``, so that the
    steps that grow the table to K^N entries run in real arithmetic (Pauli-6 at N = 10, 6^10
    entries: about four times faster than the complex contraction, half the memory).
    ``out`` (float64, K^N) receives the table if given.
    """
    rho = np.asarray(rho, dtype=np.complex128)
    n = _n_of(rho.shape[0])
    per_site = _per_site(ops, n)
    t = interleaved(rho, n)
    # c_P = sum_{ij} rho_ij P_ji: the row (i j) of P^T per Pauli
    to_pauli = _PAULIS.transpose(0, 2, 1).reshape(4, 4)
    c = site_products(np.broadcast_to(to_pauli, (n, 4, 4)), t).real.copy()
    return site_products(_real_coefficients(per_site), c, out=out)


def hermitian_weighted_operator(weights: FloatArray, ops: ComplexArray, n: int) -> ComplexArray:
    """:func:`weighted_operator` for real ``weights`` and Hermitian ``ops``, in the real Pauli
    basis (the adjoint of :func:`born_table`)."""
    w = np.asarray(weights, dtype=np.float64)
    per_site = _per_site(ops, n)
    K = per_site.shape[1]
    if w.size != K**n:
        raise InputValueError(f"weight table has {w.size} entries, expected K^N = {K}^{n}")
    # r_P = sum_a w(a) prod_j Tr[O(a_j) P_j] / 2, then sum_P r_P P_0 (x) ... (x) P_{N-1}
    r = site_products(np.ascontiguousarray(_real_coefficients(per_site).transpose(0, 2, 1)),
                      w.reshape(-1))
    from_pauli = _PAULIS.reshape(4, 4).T  # (i j), P
    t = site_products(np.broadcast_to(from_pauli, (n, 4, 4)), r.astype(np.complex128))
    return from_interleaved(t, n)


def _real_coefficients(per_site: ComplexArray) -> FloatArray:
    """``Tr[O(k) P] / 2`` (n, K, 4), real for Hermitian operators (checked)."""
    if not np.allclose(per_site, per_site.conj().transpose(0, 1, 3, 2), atol=1e-12):
        raise InputValueError("the real Pauli-basis contraction needs Hermitian operators")
    e = 0.5 * np.einsum("nkij,pji->nkp", per_site, _PAULIS)
    return np.ascontiguousarray(e.real)


def _per_site(ops: ComplexArray, n: int) -> ComplexArray:
    """Operators (K, 2, 2) repeated, or (N, K, 2, 2) checked, as (n, K, 2, 2) complex128."""
    o = np.asarray(ops, dtype=np.complex128)
    if o.ndim == 3:
        return np.broadcast_to(o, (n, *o.shape))
    if o.ndim != 4 or o.shape[0] != n or o.shape[2:] != (2, 2):
        raise InputValueError(f"operators of shape {o.shape}; expected (K, 2, 2) or ({n}, K, 2, 2)")
    return o


def _n_of(dim: int) -> int:
    n = int(round(np.log2(dim)))
    if 2**n != dim or n < 1:
        raise InputValueError(f"matrix dimension {dim} is not a power of 2")
    return n


# --- tables -------------------------------------------------------------------------------------
def frequency_table(outcomes: Outcomes, K: int) -> FloatArray:
    """Relative frequencies of the shots over all ``K^N`` strings (float64, sums to 1)."""
    a = np.asarray(outcomes)
    n = a.shape[1]
    counts = np.bincount(outcome_index(a, K), minlength=K**n).astype(np.float64)
    return counts / counts.sum()


def probability_table(model: Any, *, batch: int = 1 << 16) -> tuple[FloatArray, dict[str, Any]]:
    """The model's Q(a) for all ``K^N`` strings, float64, with a note on how it was obtained.

    Uses the model's ``log_prob_table`` where it has one (the GRU walks the tree of prefixes),
    else its ``log_prob`` (batched over :func:`all_outcomes`). A table from an
    estimated likelihood (``exact_log_prob`` False) is renormalised and says so; a model
    without a likelihood raises :class:`InputValueError` (use :func:`frequency_table` of its
    samples instead).

    Returns
    -------
    table : ndarray (K^N,)
    info : dict
        ``{"source": ..., "sum_before_normalisation": ...}``.
    """
    import torch  # heavy: only to evaluate a model

    n, K = int(model.n_qubits), int(model.K)
    check_table_size(n, K, "the model's outcome table", model_table_limit(model))
    if not getattr(model, "has_likelihood", False):
        raise InputValueError(
            f"model {getattr(model, 'name', '?')!r} has no likelihood; build the table from its "
            "samples instead"
        )
    if hasattr(model, "log_prob_table"):  # autoregressive: one step per prefix
        lq = model.log_prob_table().cpu().numpy().astype(np.float64)
    else:
        a = all_outcomes(n, K)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                lq = np.concatenate([
                    model.log_prob(torch.from_numpy(a[s : s + batch])).cpu().numpy()
                    for s in range(0, len(a), batch)
                ]).astype(np.float64)
        finally:
            model.train(was_training)
    q = np.exp(lq)
    total = float(q.sum())
    exact = bool(getattr(model, "exact_log_prob", False))
    info = {
        "source": "exact log_prob of every string" if exact
        else "estimated log_prob of every string, renormalised",
        "sum_before_normalisation": total,
    }
    if not np.isfinite(total) or total <= 0:
        raise ComputationError(f"the model's probabilities sum to {total}, not a distribution")
    return q / total, info


# --- physical states ----------------------------------------------------------------------------
def project_simplex(x: FloatArray) -> FloatArray:
    """Euclidean projection of a real vector onto the probability simplex (sum 1, >= 0)."""
    v = np.asarray(x, dtype=np.float64)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.arange(1, v.size + 1)
    cond = u - css / k > 0
    r = k[cond][-1]
    theta = css[cond][-1] / r
    return np.maximum(v - theta, 0.0)


def project_to_physical(rho: ComplexArray) -> ComplexArray:
    """Closest density matrix in Frobenius norm: eigenvalues projected onto the simplex.

    The Hermitian part of ``rho`` is diagonalised; its eigenvalues are replaced by their
    Euclidean projection onto {lambda >= 0, sum lambda = 1} (Smolin, Gambetta, Smith 2012).
    """
    h = hermitian_part(rho)
    w, v = np.linalg.eigh(h)
    lam = project_simplex(w)
    return (v * lam) @ v.conj().T


def hermitian_part(rho: ComplexArray) -> ComplexArray:
    r = np.asarray(rho, dtype=np.complex128)
    return 0.5 * (r + r.conj().T)


#: Smallest eigenvalue (relative to the largest) below which a matrix counts as unphysical.
PHYSICAL_TOLERANCE = 1e-12


@dataclass(frozen=True)
class DensityMatrixSummary:
    """Spectral summary of a (possibly unphysical) density matrix.

    Attributes
    ----------
    eigenvalues : ndarray, descending, of the Hermitian part
    trace, tr_rho_squared (Tr rho^2), min_eigenvalue : float
    negativity : float
        Sum of the absolute values of the negative eigenvalues (0 for a physical state).
    physical : bool
        No eigenvalue below ``-PHYSICAL_TOLERANCE`` (relative to the largest) and trace 1
        within 1e-10.

    Notes
    -----
    ``purity`` is ``Tr rho^2`` of a physical state, which lies in [1/d, 1]; it is None for an
    unphysical matrix (a linear inversion), whose ``Tr rho^2`` may exceed 1 and is reported
    as ``tr_rho_squared`` only.
    """

    eigenvalues: FloatArray
    trace: float
    tr_rho_squared: float
    min_eigenvalue: float
    negativity: float

    @property
    def physical(self) -> bool:
        scale = max(float(self.eigenvalues[0]), 1e-300)
        return bool(self.min_eigenvalue >= -PHYSICAL_TOLERANCE * scale
                    and abs(self.trace - 1.0) <= 1e-10)

    @property
    def purity(self) -> float | None:
        """Tr rho^2 of a physical state (within [0, 1]); None for an unphysical matrix."""
        if not self.physical:
            return None
        return float(min(max(self.tr_rho_squared, 0.0), 1.0))

    def as_dict(self, max_eigenvalues: int = 16) -> dict[str, Any]:
        return {
            "trace": self.trace,
            "physical": self.physical,
            "purity": self.purity,
            "tr_rho_squared": self.tr_rho_squared,
            "min_eigenvalue": self.min_eigenvalue,
            "negativity": self.negativity,
            "eigenvalues_largest": self.eigenvalues[:max_eigenvalues].tolist(),
            "n_negative_eigenvalues": int((self.eigenvalues < -1e-12).sum()),
            "convention": "eigenvalues of the Hermitian part, descending; tr_rho_squared = "
            "Tr[rho^2] (real part); purity = Tr[rho^2] of a physical state, null for an "
            "unphysical matrix (negative eigenvalues), whose Tr[rho^2] may exceed 1; "
            "negativity = sum of |negative eigenvalues|",
        }


def summarize(rho: ComplexArray) -> DensityMatrixSummary:
    """Eigenvalues, trace, Tr rho^2 and smallest eigenvalue of ``rho`` (all float64)."""
    h = hermitian_part(rho)
    w = np.linalg.eigvalsh(h)[::-1]
    return DensityMatrixSummary(
        eigenvalues=w,
        trace=float(np.trace(h).real),
        tr_rho_squared=float(np.real(np.vdot(h, h))),
        min_eigenvalue=float(w[-1]),
        negativity=float(abs(w[w < 0].sum())),
    )


def to_qobj(rho: ComplexArray):  # qutip.Qobj
    """``rho`` as a ``qutip.Qobj`` with qubit dims ``[[2]*N, [2]*N]`` (qubit 0 first)."""
    import qutip  # heavy: only for Qobj conversion

    r = np.asarray(rho, dtype=np.complex128)
    n = _n_of(r.shape[0])
    return qutip.Qobj(r, dims=[[2] * n, [2] * n])


def partial_trace(rho: ComplexArray, keep: list[int] | tuple[int, ...]) -> ComplexArray:
    """Reduced density matrix of the qubits ``keep`` (in the given order)."""
    r = np.asarray(rho, dtype=np.complex128)
    n = _n_of(r.shape[0])
    keep = [int(k) for k in keep]
    t = r.reshape([2] * (2 * n))
    drop = [j for j in range(n) if j not in keep]
    # legs: ket j at j, bra j at n + j; contract each dropped ket with its bra
    letters = [chr(ord("a") + i) for i in range(2 * n)]
    for j in drop:
        letters[n + j] = letters[j]
    out = [letters[j] for j in keep] + [letters[n + j] for j in keep]
    red = np.einsum("".join(letters) + "->" + "".join(out), t)
    d = 2 ** len(keep)
    return red.reshape(d, d)


__all__ = [
    "MAX_RHO_QUBITS",
    "MAX_STRINGWISE_TABLE_ENTRIES",
    "MAX_TABLE_ENTRIES",
    "PHYSICAL_TOLERANCE",
    "DensityMatrixSummary",
    "born_table",
    "check_table_size",
    "frequency_table",
    "hermitian_part",
    "hermitian_weighted_operator",
    "model_table_limit",
    "model_table_note",
    "partial_trace",
    "probability_table",
    "product_table",
    "project_simplex",
    "project_to_physical",
    "summarize",
    "to_qobj",
    "weighted_operator",
]
