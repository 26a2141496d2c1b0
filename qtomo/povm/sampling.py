"""Exact POVM sampling and exact log-probabilities of outcome strings for MPS states.

Conventions: outcome strings ``a`` have shape ``(shots, N)``, dtype ``uint8``, qubit 0 in column
0; P(a) = <psi| M(a_0) (x) ... (x) M(a_{N-1}) |psi> with the frame's elements M. Noise enters
only through the frame (``frame.depolarized(p)`` gives the Heisenberg-picture noisy POVM), so
the same functions draw noisy data.

Method
------
The MPS is brought to right-canonical form (legs ``vL p vR``, see :mod:`qtomo.states.mps`),
so the right environment of every bond is the identity and a shot needs only a left object.

* **Sampling** splits every POVM element into rank-1 pieces, ``M(a) = sum_k phi_ak phi_ak^+``
  (eigen-decomposition; a depolarized element has two pieces). Site by site, each shot holds a
  pure left vector ``v`` (length chi); ``w = v . B_j`` (shape ``(2, chi_R)``) gives the 2x2
  conditional density matrix ``rho = w w^+``, a piece ``(a, k)`` is drawn with probability
  ``phi^+ rho phi`` and ``v <- phi^+ w / sqrt(prob)``. Marginalising the auxiliary piece index
  gives exactly P(a), and the conditional state stays pure. All shots of a batch advance
  together with one GEMM per site (real tensors against split real/imaginary vectors).
* **Log-probabilities** need the mixed left environment ``L`` (chi x chi per shot), because an
  element of rank 2 (Pauli-4's fourth) mixes the conditional state:
  ``L <- sum B^* M(a_j) B L``. The trace of ``L`` is the prefix probability; it is divided out
  each site and its log accumulated, so no under/overflow occurs at any N.

Random numbers: one uniform per (shot, site) drawn as ``rng.random((batch, N))`` in shot
order, so a seeded run gives the same shots for any ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qtomo.errors import InputValueError
from qtomo.povm.frames import Frame
from qtomo.states.mps import MPS
from qtomo.typing import FloatArray, Outcomes

ProgressFn = Callable[[int], object]

DEFAULT_SAMPLE_BATCH = 65536
DEFAULT_LOGP_BATCH = 2048


@dataclass(frozen=True)
class _Pieces:
    """Rank-1 pieces phi (P, 2) of the POVM elements, with the outcome of each piece."""

    phi: np.ndarray  # (P, 2) complex
    outcome: np.ndarray  # (P,) uint8
    c0: np.ndarray  # |phi_0|^2
    c1: np.ndarray  # |phi_1|^2
    c01: np.ndarray  # conj(phi_0) phi_1
    g: np.ndarray  # conj(phi) (P, 2)


def rank1_pieces(frame: Frame, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Rank-1 decomposition ``M(a) = sum_k phi_ak phi_ak^+`` of every POVM element.

    Returns ``phi`` (P, 2) complex128 and ``outcome`` (P,) uint8 with the element index of each
    piece; eigenvalues below ``rtol`` times the largest are dropped.
    """
    phis, outs = [], []
    lam_all, vec_all = np.linalg.eigh(frame.elements)
    scale = lam_all.max()
    for a in range(frame.K):
        for k in range(2):
            lam = lam_all[a, k]
            if lam > rtol * scale:
                phis.append(np.sqrt(lam) * vec_all[a, :, k])
                outs.append(a)
    return np.array(phis, dtype=np.complex128), np.array(outs, dtype=np.uint8)


def _pieces(frame: Frame) -> _Pieces:
    phi, out = rank1_pieces(frame)
    return _Pieces(
        phi=phi,
        outcome=out,
        c0=np.abs(phi[:, 0]) ** 2,
        c1=np.abs(phi[:, 1]) ** 2,
        c01=phi[:, 0].conj() * phi[:, 1],
        g=phi.conj(),
    )


def _prepare(mps: MPS) -> list[np.ndarray]:
    if not isinstance(mps, MPS):
        raise InputValueError(f"expected an MPS, got {type(mps).__name__}")
    m = mps if mps.form == "right" else mps.right_canonical()
    nrm = np.linalg.norm(m.tensors[0])
    ts = list(m.tensors)
    if abs(nrm - 1.0) > 1e-12:
        ts[0] = ts[0] / nrm
    return ts


def _check_batch(batch_size: int) -> None:
    if int(batch_size) != batch_size or batch_size < 1:
        raise InputValueError(f"batch_size must be a positive integer, got {batch_size}")


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise InputValueError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")


# --- sampling -------------------------------------------------------------------------------


def sample_mps(
    mps: MPS,
    frame: Frame,
    n_shots: int,
    rng: np.random.Generator | int | None,
    *,
    batch_size: int = DEFAULT_SAMPLE_BATCH,
    progress: ProgressFn | None = None,
) -> Outcomes:
    """Draw exact POVM outcome strings from an MPS.

    Parameters
    ----------
    mps : MPS
        The state (normalised and right-canonicalised here if it is not already).
    frame : Frame
        POVM applied to every qubit; pass ``frame.depolarized(p)`` for noisy data.
    n_shots : int
        Number of outcome strings.
    rng : numpy.random.Generator or int seed
        Source of randomness; seeded runs repeat exactly, for any ``batch_size``.
    batch_size : int
        Shots advanced together (memory ~ 32 * batch_size * chi bytes).
    progress : callable, optional
        Called as ``progress(k)`` after every batch of ``k`` shots.

    Returns
    -------
    ndarray, uint8, shape (n_shots, N)
    """
    if int(n_shots) != n_shots or n_shots < 0:
        raise InputValueError(f"n_shots must be a non-negative integer, got {n_shots}")
    _check_batch(batch_size)
    gen = _as_generator(rng)
    ts = _prepare(mps)
    pcs = _pieces(frame)
    n = len(ts)
    out = np.empty((int(n_shots), n), dtype=np.uint8)
    for start in range(0, int(n_shots), batch_size):
        stop = min(start + batch_size, int(n_shots))
        u = gen.random((stop - start, n))
        out[start:stop] = _sample_batch(ts, pcs, u)
        if progress is not None:
            progress(stop - start)
    return out


def _sample_batch(ts: list[np.ndarray], pcs: _Pieces, u: FloatArray) -> Outcomes:
    s_n, n = u.shape
    out = np.empty((s_n, n), dtype=np.uint8)
    # left vectors, real and imaginary parts stacked: V[0] = Re v, V[1] = Im v   # reim s vL
    v = np.zeros((2, s_n, 1))
    v[0] = 1.0
    g = pcs.g
    for j, b in enumerate(ts):
        cl, _, cr = b.shape
        if np.iscomplexobj(b):
            vc = v[0] + 1j * v[1]
            # v (s, vL) . B (vL, p vR) -> w (s, p vR)   # s vL, vL p vR
            wc = (vc @ b.reshape(cl, 2 * cr)).reshape(s_n, 2, cr)
            w = np.stack([wc.real, wc.imag])  # reim s p vR
        else:
            # (reim s, vL) . (vL, p vR) -> (reim s, p vR)   # x vL, vL p vR
            w = (v.reshape(2 * s_n, cl) @ b.reshape(cl, 2 * cr)).reshape(2, s_n, 2, cr)
        w0r, w1r, w0i, w1i = w[0, :, 0], w[0, :, 1], w[1, :, 0], w[1, :, 1]  # s vR
        # conditional rho[p, q] = sum_vR w[p] conj(w[q])
        r00 = np.einsum("sr,sr->s", w0r, w0r) + np.einsum("sr,sr->s", w0i, w0i)
        r11 = np.einsum("sr,sr->s", w1r, w1r) + np.einsum("sr,sr->s", w1i, w1i)
        r01r = np.einsum("sr,sr->s", w0r, w1r) + np.einsum("sr,sr->s", w0i, w1i)
        r01i = np.einsum("sr,sr->s", w0i, w1r) - np.einsum("sr,sr->s", w0r, w1i)
        # piece probabilities phi^+ rho phi   (s, P)
        pr = (
            r00[:, None] * pcs.c0
            + r11[:, None] * pcs.c1
            + 2.0 * (r01r[:, None] * pcs.c01.real - r01i[:, None] * pcs.c01.imag)
        )
        np.maximum(pr, 0.0, out=pr)
        cum = np.cumsum(pr, axis=1)
        thr = u[:, j] * cum[:, -1]
        idx = (cum <= thr[:, None]).sum(axis=1)
        np.minimum(idx, pr.shape[1] - 1, out=idx)
        out[:, j] = pcs.outcome[idx]
        if j == n - 1:
            break
        p_sel = pr[np.arange(s_n), idx]
        inv = 1.0 / np.sqrt(p_sel)
        g0 = g[idx, 0] * inv
        g1 = g[idx, 1] * inv
        g0r, g0i = g0.real[:, None], g0.imag[:, None]
        g1r, g1i = g1.real[:, None], g1.imag[:, None]
        # v <- conj(phi) . w  (sum over p)
        v = np.empty((2, s_n, cr))
        v[0] = g0r * w0r - g0i * w0i + g1r * w1r - g1i * w1i
        v[1] = g0r * w0i + g0i * w0r + g1r * w1i + g1i * w1r
    return out


# --- exact log-probabilities ------------------------------------------------------------------


def log_prob_mps(
    mps: MPS,
    frame: Frame,
    outcomes: Outcomes,
    *,
    batch_size: int = DEFAULT_LOGP_BATCH,
    progress: ProgressFn | None = None,
) -> FloatArray:
    """Exact natural log P(a) of outcome strings under the MPS state and the frame.

    Parameters
    ----------
    mps : MPS
        The state (normalised and right-canonicalised here if it is not already).
    frame : Frame
        POVM of every qubit (pass the depolarized frame for noisy data).
    outcomes : ndarray, integer, shape (n, N)
        Outcome strings, values ``0..K-1``.
    batch_size : int
        Shots contracted together (memory ~ 64 * batch_size * chi^2 bytes).
    progress : callable, optional
        Called as ``progress(k)`` after every batch of ``k`` shots.

    Returns
    -------
    ndarray, float64, shape (n,)
        ``log P(a)``; ``-inf`` for strings of probability zero.
    """
    _check_batch(batch_size)
    ts = _prepare(mps)
    a = np.asarray(outcomes)
    n = len(ts)
    if a.ndim != 2 or a.shape[1] != n:
        raise InputValueError(
            f"outcomes must have shape (shots, {n}) for an MPS of {n} qubits, got {a.shape}"
        )
    if a.size and (a.min() < 0 or a.max() >= frame.K):
        raise InputValueError(
            f"outcome values must lie in 0..{frame.K - 1} for POVM {frame.name!r}, "
            f"found {int(a.min())}..{int(a.max())}"
        )
    a = a.astype(np.intp)
    out = np.empty(a.shape[0], dtype=np.float64)
    mre = np.ascontiguousarray(frame.elements.real)
    mim = np.ascontiguousarray(frame.elements.imag)
    for start in range(0, a.shape[0], batch_size):
        stop = min(start + batch_size, a.shape[0])
        out[start:stop] = _logp_batch(ts, mre, mim, a[start:stop])
        if progress is not None:
            progress(stop - start)
    return out


def _logp_batch(
    ts: list[np.ndarray], mre: np.ndarray, mim: np.ndarray, a: np.ndarray
) -> FloatArray:
    s_n = a.shape[0]
    logp = np.zeros(s_n)
    # L[bra, reim, s, ket]: mixed left environment, real and imaginary parts on axis 1
    env = np.zeros((1, 2, s_n, 1))
    env[0, 0] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, b in enumerate(ts):
            cl, _, cr = b.shape
            bc = b.reshape(cl, 2 * cr)
            if np.iscomplexobj(b):
                lc = env[:, 0] + 1j * env[:, 1]  # bra s ket
                # L (bra s, ket) . B (ket, p vR)   # x vL, vL p vR
                tc = (lc.reshape(-1, cl) @ bc).reshape(cl, s_n, 2, cr)
                t_re, t_im = tc.real, tc.imag
            else:
                # (bra reim s, ket) . (ket, p vR)   # x vL, vL p vR
                t = (env.reshape(-1, cl) @ bc).reshape(cl, 2, s_n, 2, cr)
                t_re, t_im = t[:, 0], t[:, 1]  # bra s p vR
            # X[bra, s, p', vR] = sum_p M(a_s)[p', p] T[bra, s, p, vR]
            ar = mre[a[:, j]]  # s p' p
            ai = mim[a[:, j]]
            x = np.empty((cl, 2, 2, s_n, cr))  # bra p' reim s vR
            for q in range(2):
                c0r = ar[:, q, 0][None, :, None]
                c1r = ar[:, q, 1][None, :, None]
                c0i = ai[:, q, 0][None, :, None]
                c1i = ai[:, q, 1][None, :, None]
                t0r, t1r, t0i, t1i = t_re[:, :, 0], t_re[:, :, 1], t_im[:, :, 0], t_im[:, :, 1]
                x[:, q, 0] = c0r * t0r + c1r * t1r - c0i * t0i - c1i * t1i
                x[:, q, 1] = c0r * t0i + c1r * t1i + c0i * t0r + c1i * t1r
            if np.iscomplexobj(b):
                xc = x[:, :, 0] + 1j * x[:, :, 1]  # bra p' s vR
                # conj(B)^T (vR', bra p') . X (bra p', s vR)   # vL p vR', vL p s vR
                nc = (bc.conj().reshape(cl, 2, cr).reshape(2 * cl, cr).T
                      @ xc.reshape(2 * cl, s_n * cr))
                nc = nc.reshape(cr, s_n, cr)
                env = np.stack([nc.real, nc.imag], axis=1)  # bra reim s ket
            else:
                # B^T (vR', bra p') . X (bra p', reim s vR)   # vL p vR', vL p reim s vR
                env = (bc.reshape(cl, 2, cr).reshape(2 * cl, cr).T
                       @ x.reshape(2 * cl, 2 * s_n * cr)).reshape(cr, 2, s_n, cr)
            # trace of L = prefix probability; divide out and accumulate its log
            tr = np.einsum("isi->s", env[:, 0])
            logp += np.log(tr)
            env = env / np.where(tr > 0, tr, 1.0)[None, None, :, None]
    return logp
