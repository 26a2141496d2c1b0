"""Two-site DMRG ("DMRG-lite") for the transverse-field Ising chain, numpy + scipy only.

H = -J sum_i Z_i Z_{i+1} - h sum_i X_i (open chain; ``boundary="periodic"`` adds
-J Z_{N-1} Z_0 through a longer MPO). Conventions follow :mod:`qtomo.states.mps`: MPS tensors
have legs ``vL p vR``; MPO tensors have legs ``wL wR p p*`` (``p`` the output/bra side,
``p*`` the input/ket side); left environments ``LP`` and right environments ``RP`` have legs
``(bra bond, MPO bond, ket bond)``.

Algorithm: the MPS is kept in mixed canonical form with the orthogonality centre on the two
sites being optimised. At each bond the effective Hamiltonian is applied as two GEMMs,
``(LP W_i) . theta . (W_{i+1} RP)``, inside a Lanczos solver (full re-orthogonalisation,
warm-started from the current two-site wave function). The optimised ``theta`` is split by an
SVD and truncated to at most ``chi_max`` states, discarding a tail of squared weight at most
``cutoff``. Sweeps (left to right, then back) repeat until the energy changes by less than
``tol * max(1, |E|)`` between sweeps. The first three sweeps are a warm-up from a random
MPS (bond caps 16, 24, 32; Lanczos residuals 1e-4, 1e-6, 1e-8); convergence is only declared
on a full-precision sweep at ``chi_max``.

Performance notes: the TFIM MPO is applied term by term (identity environments skipped:
four chi^3 GEMMs per Lanczos step instead of a dense MPO contraction), and only numpy's
LAPACK is used inside the sweeps: interleaving numpy GEMMs with scipy LAPACK calls makes
the two OpenBLAS thread pools compete (SVDs measured 10x slower on 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from qtomo.errors import ComputationError, InputValueError
from qtomo.states.mps import MPS
from qtomo.states.paulis import PAULI
from qtomo.typing import FloatArray

# real (float64) Pauli matrices of the real TFIM MPO
_I2, _X, _Z = (PAULI[k].real.copy() for k in "IXZ")

#: Warm-up schedule: Lanczos residual tolerance and bond cap of the first sweeps.
_WARMUP_LTOL = (1e-4, 1e-6, 1e-8)
_WARMUP_CHI = (16, 24, 32)

#: DMRG refuses runs whose estimated working memory exceeds this many bytes.
MAX_DMRG_BYTES = 8 * 2**30


class DMRGError(ComputationError, ValueError):
    """DMRG did not converge within its sweeps, or the problem does not fit in memory."""


class DMRGInputError(InputValueError, DMRGError):
    """A DMRG parameter is invalid (chi_max < 1, negative tolerance, ...)."""


@dataclass
class DMRGResult:
    """Outcome of :func:`dmrg_tfim`.

    Attributes
    ----------
    energy : float
        Ground-state energy of the final MPS (Lanczos value at the last bond).
    truncation_error : float
        Largest discarded squared Schmidt weight of any bond during the final sweep.
    mps : MPS
        Normalised, right-canonical ground state (legs ``vL p vR``), sign fixed so that its
        overlap with ``|+>^N`` is non-negative.
    sweeps : int
        Number of full sweeps (left-right-left) done.
    converged : bool
        Whether the energy change dropped below the tolerance.
    energies : list of float
        Energy after each sweep.
    """

    energy: float
    truncation_error: float
    mps: MPS
    sweeps: int
    converged: bool
    energies: list[float] = field(default_factory=list)


# --- MPO ------------------------------------------------------------------------------------


def tfim_mpo(n: int, J: float, h: float, boundary: str = "open") -> list[FloatArray]:  # noqa: N803
    """MPO of the TFIM: list of ``n`` tensors with legs ``wL wR p p*``.

    Open chain: bond dimension 3 with states (0: nothing placed yet, 1: a Z waiting for its
    partner, 2: complete). Periodic chain: a fourth state carries the Z of site 0 to site N-1.
    The left boundary vector selects state 0, the right one state 2.
    """
    d_w = 3 if boundary == "open" else 4
    bulk = np.zeros((d_w, d_w, 2, 2))  # wL wR p p*
    bulk[0, 0] = _I2
    bulk[0, 1] = _Z
    bulk[0, 2] = -h * _X
    bulk[1, 2] = -J * _Z
    bulk[2, 2] = _I2
    if d_w == 4:
        bulk[3, 3] = _I2
    ws = []
    for i in range(n):
        w = bulk.copy()
        if d_w == 4:
            if i == 0:
                w[0, 3] = _Z
            if i == n - 1:
                w[3, 2] = -J * _Z
        ws.append(w)
    return ws


def mpo_expectation(mps: MPS, mpo: list[FloatArray]) -> float:
    """<psi|H|psi> / <psi|psi> for an MPO with boundary states 0 (left) and 2 (right)."""
    d_w = mpo[0].shape[0]
    env = np.zeros((1, d_w, 1))  # bra w ket
    env[0, 0, 0] = 1.0
    for b, w in zip(mps.tensors, mpo, strict=True):
        # env (a, w, b) . B (b, i, c)   # a w [b], [b] i c -> a w i c
        t = np.tensordot(env, b, axes=(2, 0))
        # . W (w, x, i', i)   # a [w] [i] c, [w] x i' [i] -> a c x i'
        t = np.tensordot(t, w, axes=([1, 2], [0, 3]))
        # . conj(B) (a, i', d)   # [a] c x [i'], [a] [i'] d -> c x d
        t = np.tensordot(t, b.conj(), axes=([0, 3], [0, 1]))
        env = t.transpose(2, 1, 0)  # d x c = bra w ket
    val = env[0, 2, 0]
    return float(np.real(val)) / mps.norm() ** 2


# --- Lanczos --------------------------------------------------------------------------------


def _lanczos_ground(
    matvec: Callable[[np.ndarray], np.ndarray],
    v0: np.ndarray,
    max_iter: int,
    res_tol: float,
) -> tuple[float, np.ndarray]:
    """Lowest eigenpair of a real symmetric operator by Lanczos with full re-orthogonalisation.

    Stops when the residual norm ``||H x - e x||`` falls below ``res_tol`` (relative to
    ``max(1, |e|)``) or the Krylov space is exhausted.
    """
    dim = v0.size
    k_max = max(1, min(max_iter, dim))
    basis = np.empty((k_max, dim))
    nrm = np.linalg.norm(v0)
    if not np.isfinite(nrm) or nrm == 0.0:
        v0 = np.random.default_rng(0).normal(size=dim)
        nrm = np.linalg.norm(v0)
    basis[0] = v0 / nrm
    alpha: list[float] = []
    beta: list[float] = []
    e0 = 0.0
    y = np.ones(1)
    for k in range(k_max):
        w = matvec(basis[k])
        a = float(w @ basis[k])
        alpha.append(a)
        w -= a * basis[k]
        if k > 0:
            w -= beta[-1] * basis[k - 1]
        # full re-orthogonalisation (twice is enough)
        w -= basis[: k + 1].T @ (basis[: k + 1] @ w)
        b = float(np.linalg.norm(w))
        if k == 0:
            e0, y = alpha[0], np.ones(1)
        else:
            tri = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
            evals, evecs = np.linalg.eigh(tri)  # numpy LAPACK (see _split)
            e0, y = float(evals[0]), evecs[:, 0]
        if b * abs(y[-1]) < res_tol * max(1.0, abs(e0)) or b < 1e-14 or k == k_max - 1:
            break
        beta.append(b)
        basis[k + 1] = w / b
    vec = basis[: y.size].T @ y
    vec /= np.linalg.norm(vec)
    return e0, vec


# --- DMRG engine ----------------------------------------------------------------------------


def _split(theta: np.ndarray, chi_max: int, cutoff: float):
    """SVD of a matrix with truncation; returns U, S (normalised), V and discarded weight."""
    # numpy's LAPACK, not scipy's: alternating numpy GEMMs with scipy LAPACK calls makes the
    # two OpenBLAS thread pools fight over the cores (10x slower SVDs measured on 2 cores)
    try:
        u, s, vh = np.linalg.svd(theta, full_matrices=False)
    except np.linalg.LinAlgError:  # pragma: no cover - rare gesdd failure
        u, s, vh = sla.svd(theta, full_matrices=False, lapack_driver="gesvd")
    w = s**2
    total = w.sum()
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]]) / total
    keep = int(np.argmax(tail <= cutoff))
    keep = max(1, min(keep, chi_max))
    discarded = float(tail[keep])
    s = s[:keep]
    s = s / np.linalg.norm(s)
    return u[:, :keep], s, vh[:keep], discarded


def _random_mps(n: int, chi: int, rng: np.random.Generator) -> MPS:
    dims = [1] + [min(chi, 2 ** min(j, n - j)) for j in range(1, n)] + [1]
    ts = [rng.normal(size=(dims[j], 2, dims[j + 1])) for j in range(n)]
    return MPS(ts).right_canonical()


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise DMRGInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def dmrg_tfim(
    n: int,
    J: float,  # noqa: N803
    h: float,
    *,
    boundary: str = "open",
    chi_max: int = 128,
    cutoff: float = 1e-14,
    tol: float = 1e-12,
    max_sweeps: int = 30,
    min_sweeps: int = 2,
    lanczos_tol: float = 1e-10,
    lanczos_max_iter: int = 40,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
) -> DMRGResult:
    """Ground state of the TFIM chain by two-site DMRG.

    Parameters
    ----------
    n : int
        Number of qubits (>= 2).
    J, h : float
        Couplings of H = -J sum Z_i Z_{i+1} - h sum X_i.
    boundary : {"open", "periodic"}
        Periodic chains are handled with an open MPS and a longer MPO (needs larger chi).
    chi_max : int
        Largest bond dimension kept (>= 1).
    cutoff : float
        Largest discarded squared Schmidt weight per truncation (relative to the total).
    tol : float
        Sweeps stop when the energy changes by less than ``tol * max(1, |E|)``.
    max_sweeps, min_sweeps : int
        Bounds on the number of sweeps, warm-up included (a converged run takes at least 4
        when ``max_sweeps >= 5``); not converging within ``max_sweeps`` raises.
    lanczos_tol, lanczos_max_iter : float, int
        Residual tolerance (relative to ``max(1, |E|)``) and Krylov size of the local solver.
    seed : int
        Seed of the random initial MPS.
    progress : callable, optional
        Called as ``progress(1)`` after every sweep.

    Returns
    -------
    DMRGResult

    Raises
    ------
    DMRGInputError
        Invalid parameters (also an ``InputValueError``/``ValueError``).
    DMRGError
        No convergence within ``max_sweeps`` or too much memory (also a ``ValueError``).
    """
    n = _check_int("the number of qubits", n, 2)
    chi_max = _check_int("chi_max", chi_max, 1)
    max_sweeps = _check_int("max_sweeps", max_sweeps, 1)
    min_sweeps = min(_check_int("min_sweeps", min_sweeps, 1), max_sweeps)
    lanczos_max_iter = _check_int("lanczos_max_iter", lanczos_max_iter, 2)
    for name, v in (("J", J), ("h", h)):
        if not np.isfinite(v):
            raise DMRGInputError(f"{name} must be a finite number, got {v}")
    for name, v in (("cutoff", cutoff), ("tol", tol), ("lanczos_tol", lanczos_tol)):
        if not (np.isfinite(v) and v >= 0):
            raise DMRGInputError(f"{name} must be a finite number >= 0, got {v}")
    if boundary not in ("open", "periodic"):
        raise DMRGInputError(f"boundary must be 'open' or 'periodic', got {boundary!r}")
    if boundary == "periodic" and n < 3:
        raise DMRGInputError("a periodic chain needs at least 3 qubits")
    mpo = tfim_mpo(n, float(J), float(h), boundary)
    d_w = mpo[0].shape[0]
    chi_eff = min(chi_max, 2 ** min(n // 2, 40))
    est = 8.0 * chi_eff**2 * (2 * n + 2 * d_w * n + 24 * d_w + 4 * lanczos_max_iter)
    if est > MAX_DMRG_BYTES:
        raise DMRGError(
            f"DMRG with chi_max={chi_max} on {n} qubits needs about {est / 2**30:.1f} GiB "
            f"(limit {MAX_DMRG_BYTES / 2**30:.0f} GiB); lower chi_max"
        )
    rng = np.random.default_rng(seed)
    ts = list(_random_mps(n, min(chi_max, 8), rng).tensors)

    # environments: lp[i] left of site i, rp[i] right of site i; legs (bra, w, ket)
    lp: list[np.ndarray | None] = [None] * n
    rp: list[np.ndarray | None] = [None] * n
    lp[0] = np.zeros((1, d_w, 1))
    lp[0][0, 0, 0] = 1.0
    rp[n - 1] = np.zeros((1, d_w, 1))
    rp[n - 1][0, 2, 0] = 1.0
    for i in range(n - 1, 0, -1):
        rp[i - 1] = _update_rp(rp[i], ts[i], mpo[i])

    energies: list[float] = []
    energy = np.inf
    converged = False
    trunc = 0.0
    sweep = 0
    n_warm = max(0, min(len(_WARMUP_LTOL), max_sweeps - 2))
    for sweep in range(1, max_sweeps + 1):
        trunc = 0.0
        # warm-up: the first sweeps (random start) only need rough local solutions and
        # moderate bonds; then every sweep runs at full precision and chi_max
        # (shortened when max_sweeps leaves no room for two full sweeps after it)
        k = sweep - 1
        warm = k < n_warm
        ltol = max(lanczos_tol, _WARMUP_LTOL[k]) if warm else lanczos_tol
        chi_sweep = min(chi_max, _WARMUP_CHI[k]) if warm else chi_max
        # left -> right: centre moves right; ts[i] becomes left-canonical A
        for i in range(n - 1):
            energy, a_i, c_next, disc, lw = _optimize_bond(
                ts, lp, rp, mpo, i, chi_sweep, cutoff, ltol, lanczos_max_iter, "right"
            )
            trunc = max(trunc, disc)
            ts[i], ts[i + 1] = a_i, c_next
            lp[i + 1] = _update_lp_from_lw(lw, a_i, d_w)
        # right -> left: centre moves left; ts[i + 1] becomes right-canonical B
        for i in range(n - 2, -1, -1):
            energy, c_i, b_next, disc, wr = _optimize_bond(
                ts, lp, rp, mpo, i, chi_sweep, cutoff, ltol, lanczos_max_iter, "left"
            )
            trunc = max(trunc, disc)
            ts[i], ts[i + 1] = c_i, b_next
            rp[i] = _update_rp_from_wr(wr, b_next, d_w)
        energies.append(float(energy))
        if progress is not None:
            progress(1)
        if sweep >= min_sweeps and len(energies) >= 2 and not warm:
            if abs(energies[-1] - energies[-2]) <= tol * max(1.0, abs(energies[-1])):
                converged = True
                break
    if not converged:
        change = abs(energies[-1] - energies[-2]) if len(energies) > 1 else float("nan")
        raise DMRGError(
            f"DMRG did not converge in {max_sweeps} sweeps: the energy still changed by "
            f"{change:.3g} (tolerance {tol:g} x max(1, |E|)); raise max_sweeps, loosen tol, "
            f"or raise chi_max (now {chi_max})"
        )
    ts[0] = ts[0] / np.linalg.norm(ts[0])
    mps = MPS(ts, form="right")
    # fix the global sign: <+...+|psi> >= 0 (non-negative amplitudes for J, h > 0)
    plus = MPS.product_state([np.array([1.0, 1.0])] * n)
    if plus.overlap(mps).real < 0:
        mps.tensors[0] = -mps.tensors[0]
    return DMRGResult(
        energy=float(energy),
        truncation_error=float(trunc),
        mps=mps,
        sweeps=sweep,
        converged=converged,
        energies=energies,
    )


def _lw_matrix(lp: np.ndarray, w: np.ndarray) -> np.ndarray:
    """LP . W as a matrix with rows (a, i', x) and columns (b, i)."""
    chi_a, d_w, chi_b = lp.shape
    # LP (a, w, b) . W (w, x, i', i)   # a [w] b, [w] x i' i -> a b x i' i
    t = np.tensordot(lp, w, axes=(1, 0))
    t = t.transpose(0, 3, 2, 1, 4)  # a i' x b i
    return t.reshape(chi_a * 2 * w.shape[1], chi_b * 2)


def _wr_matrix(w: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """W . RP as a matrix with rows (x, j, c) and columns (j', d)."""
    chi_d, _, chi_c = rp.shape
    # W (x, y, j', j) . RP (d, y, c)   # x [y] j' j, d [y] c -> x j' j d c
    t = np.tensordot(w, rp, axes=(1, 1))
    t = t.transpose(0, 2, 4, 1, 3)  # x j c j' d
    return t.reshape(w.shape[0] * 2 * chi_c, 2 * chi_d)


def _is_identity(m: np.ndarray) -> bool:
    return m.shape[0] == m.shape[1] and np.allclose(m, np.eye(m.shape[0]), rtol=0, atol=1e-12)


def _bond_terms(lp: np.ndarray, w1: np.ndarray, w2: np.ndarray, rp: np.ndarray) -> list:
    """Effective two-site Hamiltonian as a short sum of terms ``L_x (x) O_xy (x) R_y``.

    ``O_xy = sum_m W1[x, m] (x) W2[m, y]`` acts on the two physical legs (4x4, rows
    ``(i' j')``, columns ``(i j)``); ``L_x = LP[:, x, :]`` and ``R_y = RP[:, y, :]`` are
    ``(bra, ket)`` matrices. Identity environments (``LP[:, 0, :]`` for a left-canonical block,
    ``RP[:, 2, :]`` for a right-canonical one) are recognised and skipped, and terms whose two
    environments are both identities are merged into one local operator. For the TFIM this
    leaves 4 GEMMs of cost 4 chi^3 per application instead of a dense D = 3 contraction.
    Returns a list of ``(op, diag, L or None, R^T or None)``.
    """
    local = np.zeros((4, 4), dtype=np.result_type(w1, w2))
    grouped: list = []
    for x in range(w1.shape[0]):
        lx = lp[:, x, :]
        if not np.any(lx):
            continue
        l_id = _is_identity(lx)
        for y in range(w2.shape[1]):
            ry = rp[:, y, :]
            if not np.any(ry):
                continue
            # O[(i' j'), (i j)] = sum_m W1[x, m, i', i] W2[m, y, j', j]   # m i' i, m j' j
            op = np.einsum("mac,mbd->abcd", w1[x], w2[:, y]).reshape(4, 4)
            if not np.any(op):
                continue
            r_id = _is_identity(ry)
            if l_id and r_id:
                local += op
                continue
            grouped.append((op, None if l_id else lx, None if r_id else np.ascontiguousarray(ry.T)))
    terms = []
    if np.any(local):
        grouped.append((local, None, None))
    for op, lx, ryt in grouped:
        diag = np.diag(op).copy() if np.count_nonzero(op - np.diag(np.diag(op))) == 0 else None
        terms.append((op, diag, lx, ryt))
    return terms


def _apply_terms(terms: list, theta: np.ndarray) -> np.ndarray:
    """H_eff theta for theta of shape (a, 4, c) (legs vL (i j) vR)."""
    chi_l, _, chi_r = theta.shape
    out = None
    for op, diag, lx, ryt in terms:
        if diag is not None:
            if np.all(diag == 1.0):
                t = theta
            else:
                t = theta * diag[None, :, None]  # a (i j) c, diagonal operator
        else:
            # O (p, q) . theta (a, q, c)   # [(i j)'] [(i j)], a [(i j)] c -> a (i j)' c
            t = np.matmul(op, theta)
        if lx is not None:
            # L (a', a) . t (a, (i j) c)   # bra [ket], [vL] (i j) vR
            t = (lx @ t.reshape(chi_l, -1)).reshape(chi_l, 4, chi_r)
        if ryt is not None:
            # t ((a (i j)), c) . R^T (c, d')   # vL (i j) [vR], [ket] bra
            t = (t.reshape(-1, chi_r) @ ryt).reshape(chi_l, 4, chi_r)
        if out is None:
            out = t.copy() if t is theta else t
        else:
            out += t
    return out


def _optimize_bond(ts, lp, rp, mpo, i, chi_max, cutoff, lanczos_tol, lanczos_max_iter, direction):
    chi_l = ts[i].shape[0]
    chi_r = ts[i + 1].shape[2]
    terms = _bond_terms(lp[i], mpo[i], mpo[i + 1], rp[i + 1])
    # theta (b, i, j, c) = M_i (b, i, k) . M_{i+1} (k, j, c)   # b i [k], [k] j c
    theta = np.tensordot(ts[i], ts[i + 1], axes=(2, 0))

    def matvec(v: np.ndarray) -> np.ndarray:
        return _apply_terms(terms, v.reshape(chi_l, 4, chi_r)).reshape(-1)

    energy, vec = _lanczos_ground(matvec, theta.reshape(-1), lanczos_max_iter, lanczos_tol)
    u, s, vh, disc = _split(vec.reshape(chi_l * 2, 2 * chi_r), chi_max, cutoff)
    k = s.size
    if direction == "right":
        a_i = u.reshape(chi_l, 2, k)  # vL p vR (left-canonical)
        c_next = (s[:, None] * vh).reshape(k, 2, chi_r)  # centre, vL p vR
        return energy, a_i, c_next, disc, _lw_matrix(lp[i], mpo[i])
    c_i = (u * s[None, :]).reshape(chi_l, 2, k)  # centre, vL p vR
    b_next = vh.reshape(k, 2, chi_r)  # vL p vR (right-canonical)
    return energy, c_i, b_next, disc, _wr_matrix(mpo[i + 1], rp[i + 1])


def _update_lp_from_lw(lw: np.ndarray, a: np.ndarray, d_x: int) -> np.ndarray:
    """LP_{i+1}[a', x, b'] = sum conj(A)[a, i', a'] (LP W)[a, i', x, b, i] A[b, i, b']."""
    chi_a, _, k = a.shape
    am = a.reshape(chi_a * 2, k)
    # (a i' x, b i) . (b i, b') -> (a i' x, b')   # LW . A
    t = (lw @ am).reshape(chi_a * 2, d_x * k)
    # conj(A)^T (a', a i') . (a i', x b') -> (a', x b')
    return (am.conj().T @ t).reshape(k, d_x, k)


def _update_rp_from_wr(wr: np.ndarray, b: np.ndarray, d_x: int) -> np.ndarray:
    """RP_i[d', x, c'] = sum B[c', j, c] (W RP)[x, j, c, j', d] conj(B)[d', j', d]."""
    k, _, chi_c = b.shape
    bm = b.reshape(k, 2 * chi_c)
    # (x j c, j' d) . conj(B)^T (j' d, d') -> (x, j c, d')   # WR . B^*
    t = (wr @ bm.conj().T).reshape(d_x, 2 * chi_c, k)
    # B (c', j c) . t (x, j c, d') -> (c', x, d')   # c' [j c], x [j c] d'
    t = np.tensordot(bm, t, axes=(1, 1))
    return t.transpose(2, 1, 0)  # d' x c' = bra w ket


def _update_rp(rp: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _update_rp_from_wr(_wr_matrix(w, rp), b, w.shape[0])
