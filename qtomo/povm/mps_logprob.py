"""Exact log-probabilities of POVM outcome strings under an MPS (:func:`log_prob_mps`).

Conventions: outcome strings ``a`` have shape ``(shots, N)``, qubit 0 in column 0;
P(a) = <psi| M_0(a_0) (x) ... (x) M_{N-1}(a_{N-1}) |psi> with the single-qubit elements
``M_j`` of qubit j. :func:`log_prob_mps` uses one frame on every qubit; the kernels below
already take the elements per site (:func:`log_prob_sites`), so a different POVM per qubit
needs no new contraction.

Method
------
The MPS is right-canonical (legs ``vL p vR``, :mod:`qtomo.states.mps`), so the right
environment of every bond is the identity. Each shot carries a mixed left environment ``L``
(chi x chi), because an element of rank 2 (Pauli-4's fourth) mixes the conditional state:
``L <- sum B^* M(a_j) B L``. The trace of ``L`` is the prefix probability; it is divided out
each site and its log accumulated, so no under/overflow occurs at any N.

For real MPS the kernel runs in torch (float64) with the shots grouped by their outcome at
each site, so that the POVM element folds into the site tensor and a group needs one matrix
product; complex MPS use the numpy kernel. Both give the same numbers to rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch

from qtomo.errors import InputValueError
from qtomo.povm.frames import Frame
from qtomo.povm.mps_batches import (
    ProgressFn,
    all_real,
    check_batch,
    prepare_tensors,
    run_batches,
    torch_sites,
)
from qtomo.states.mps import MPS
from qtomo.typing import FloatArray, Outcomes

DEFAULT_LOGP_BATCH = 512


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
    check_batch(batch_size)
    ts = prepare_tensors(mps)
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
    return log_prob_sites(ts, [frame.elements] * n, a, batch_size=batch_size, progress=progress)


def log_prob_sites(
    ts: list[np.ndarray],
    site_elements: Sequence[np.ndarray],
    outcomes: np.ndarray,
    *,
    batch_size: int = DEFAULT_LOGP_BATCH,
    progress: ProgressFn | None = None,
) -> FloatArray:
    """Exact log P(a) for given site tensors and the POVM elements of each site (unchecked).

    Parameters
    ----------
    ts : list of ndarray
        Normalised right-canonical site tensors (legs ``vL p vR``), e.g. from
        :func:`~qtomo.povm.mps_batches.prepare_tensors`.
    site_elements : sequence of ndarray, each (K_j, 2, 2)
        POVM elements of qubit ``j``.
    outcomes : ndarray, integer, shape (n, N)
        Outcome strings; column ``j`` indexes ``site_elements[j]`` (values are not checked).
    batch_size : int
        Shots contracted together.
    progress : callable, optional
        Called as ``progress(k)`` after every batch of ``k`` shots.

    Returns
    -------
    ndarray, float64, shape (n,)
    """
    a = np.asarray(outcomes).astype(np.intp)
    out = np.empty(a.shape[0], dtype=np.float64)
    kernel, threaded = _logp_kernel(ts, site_elements)
    batches = ((st, min(st + batch_size, a.shape[0]), a[st:st + batch_size])
               for st in range(0, a.shape[0], batch_size))
    run_batches(kernel, batches, out, progress, threaded=threaded)
    return out


def _logp_kernel(
    ts: list[np.ndarray], site_elements: Sequence[np.ndarray]
) -> tuple[Callable[[np.ndarray], FloatArray], bool]:
    """The batch kernel ``outcomes (shots, N) -> log P`` and whether it runs in torch."""
    if all_real(ts):
        mixers = [site_mixers(np.asarray(t, dtype=np.float64), e)
                  for t, e in zip(ts, site_elements, strict=True)]
        return partial(_logp_batch_torch, torch_sites(ts), mixers), True
    return partial(_logp_batch, ts, [logp_mixers(e) for e in site_elements]), False


# --- numpy kernel (any MPS) -----------------------------------------------------------------


def logp_mixers(elements: np.ndarray) -> np.ndarray:
    """Real 4x4 matrices R(a) of the single-qubit elements M(a), for the numpy kernel.

    Parameters
    ----------
    elements : ndarray, complex, shape (K, 2, 2)

    Returns
    -------
    ndarray, float64, shape (K, 4, 4)
        ``X = R(a) T`` for T rows ``(reim, p)`` and X rows ``(p', reim)``: the complex map
        ``X_p' = sum_p M(a)[p', p] T_p`` written on real and imaginary parts.
    """
    m = np.asarray(elements)
    mr, mi = m.real, m.imag
    r = np.zeros((m.shape[0], 4, 4))
    for q in range(2):  # p'
        for p_ in range(2):  # p
            r[:, 2 * q + 0, 0 * 2 + p_] = mr[:, q, p_]
            r[:, 2 * q + 0, 1 * 2 + p_] = -mi[:, q, p_]
            r[:, 2 * q + 1, 0 * 2 + p_] = mi[:, q, p_]
            r[:, 2 * q + 1, 1 * 2 + p_] = mr[:, q, p_]
    return r


def _env_times_site(env: np.ndarray, b: np.ndarray) -> np.ndarray:
    """T[s, bra, (reim p), vR] = L[s, bra, reim, ket] B[ket, p, vR] on real/imaginary parts."""
    s_n, cl = env.shape[0], b.shape[0]
    cr = b.shape[2]
    rows = env.reshape(s_n * cl * 2, cl)  # (s bra reim, ket)
    if not np.iscomplexobj(b):
        # L (s bra reim, ket) . B (ket, p vR) -> (s, bra, reim p, vR)   # x vL, vL p vR
        return (rows @ b.reshape(cl, 2 * cr)).reshape(s_n, cl, 4, cr)
    br = np.ascontiguousarray(b.real).reshape(cl, 2 * cr)
    bi = np.ascontiguousarray(b.imag).reshape(cl, 2 * cr)
    # L (s bra reim, ket) . B (ket, p vR)   # x vL, vL p vR  (real and imaginary parts)
    t1 = (rows @ br).reshape(s_n, cl, 2, 2, cr)
    t2 = (rows @ bi).reshape(s_n, cl, 2, 2, cr)
    t = np.empty_like(t1)  # s bra reim p vR
    t[:, :, 0] = t1[:, :, 0] - t2[:, :, 1]
    t[:, :, 1] = t1[:, :, 1] + t2[:, :, 0]
    return t.reshape(s_n, cl, 4, cr)


def _close_with_site(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """env[s, vR', reim, vR] = sum conj(B)[bra, p', vR'] X[s, (bra p'), (reim vR)]."""
    s_n = x.shape[0]
    cl, _, cr = b.shape
    if not np.iscomplexobj(b):
        bt = np.ascontiguousarray(b.reshape(2 * cl, cr).T)
        # B^T (vR', bra p') . X (bra p', reim vR) -> (s, vR', reim, vR)   # vL p vR', ...
        return np.matmul(bt, x).reshape(s_n, cr, 2, cr)
    brt = np.ascontiguousarray(b.real.reshape(2 * cl, cr).T)
    bit = np.ascontiguousarray(b.imag.reshape(2 * cl, cr).T)
    # conj(B)^T (vR', bra p') . X (bra p', reim vR)   # vL p vR', vL p reim vR
    y1 = np.matmul(brt, x).reshape(s_n, cr, 2, cr)
    y2 = np.matmul(bit, x).reshape(s_n, cr, 2, cr)
    env = np.empty_like(y1)  # s bra reim ket
    env[:, :, 0] = y1[:, :, 0] + y2[:, :, 1]
    env[:, :, 1] = y1[:, :, 1] - y2[:, :, 0]
    return env


def _logp_batch(ts: list[np.ndarray], mixers: list[np.ndarray], a: np.ndarray) -> FloatArray:
    """log P of a batch of outcome strings ``a`` (shots, N); ``mixers[j]`` are the
    :func:`logp_mixers` of site j."""
    s_n = a.shape[0]
    logp = np.zeros(s_n)
    scale = np.ones(s_n)  # 1 / trace of the previous environment, folded into the mixer
    # env[s, bra, reim, ket]: mixed left environment L, real and imaginary parts on axis 2
    env = np.zeros((s_n, 1, 2, 1))
    env[:, 0, 0, 0] = 1.0
    for j, b in enumerate(ts):
        cl, _, cr = b.shape
        t = _env_times_site(env, b)
        # X[s, bra, (p' reim), vR] = sum_p M(a_s)[p', p] T[s, bra, (reim p), vR] / tr_prev
        mix = mixers[j][a[:, j]] * scale[:, None, None]  # s 4 4
        x = np.matmul(mix[:, None], t).reshape(s_n, 2 * cl, 2 * cr)  # s (bra p') (reim vR)
        env = _close_with_site(x, b)
        # trace of L = conditional prefix probability; its inverse rescales the next site
        tr = np.einsum("sii->s", env[:, :, 0, :])
        with np.errstate(divide="ignore"):
            logp += np.log(np.maximum(tr, 0.0))
        scale = np.divide(1.0, tr, out=np.zeros(s_n), where=tr > 0)
    return logp


# --- torch kernel (real MPS) ----------------------------------------------------------------


def site_mixers(b: np.ndarray, elements: np.ndarray) -> torch.Tensor:
    """Per outcome a, the real matrix C_a (2 cl, 4 cr) that takes the left environment's rows
    ``(reim, ket)`` to ``(p', reim', vR)`` of X = M(a) (L B), for a real site tensor B.

    Parameters
    ----------
    b : ndarray, float64, shape (cl, 2, cr)
        Site tensor (legs ``vL p vR``).
    elements : ndarray, complex, shape (K, 2, 2)
        POVM elements of this site.

    Returns
    -------
    torch.Tensor, float64, shape (K, 2 cl, 4 cr)
    """
    cl, _, cr = b.shape
    bmr = np.einsum("aqp,kpr->akqr", elements.real, b)  # a ket p' vR
    bmi = np.einsum("aqp,kpr->akqr", elements.imag, b)
    c = np.zeros((len(elements), 2, cl, 2, 2, cr))  # a reim ket p' reim' vR
    c[:, 0, :, :, 0] = bmr
    c[:, 1, :, :, 0] = -bmi
    c[:, 0, :, :, 1] = bmi
    c[:, 1, :, :, 1] = bmr
    return torch.from_numpy(c.reshape(len(elements), 2 * cl, 4 * cr))


def _logp_batch_torch(ts: list[torch.Tensor], mixers: list[torch.Tensor],
                      a_np: np.ndarray) -> FloatArray:
    """:func:`_logp_batch` for real site tensors, in torch.

    At every site the shots are grouped by their outcome, so that the POVM element folds
    into the site tensor (:func:`site_mixers`) and each group needs one matrix product;
    the environment ``env[s, bra, reim, ket]`` is then contracted with B over ``(bra, p')``.
    """
    a_all = torch.from_numpy(np.ascontiguousarray(a_np, dtype=np.int64))
    s_n = a_all.shape[0]
    order = torch.arange(s_n)
    logp = torch.zeros(s_n, dtype=torch.float64)
    scale = torch.ones(s_n, dtype=torch.float64)
    env = torch.zeros((s_n, 1, 2, 1), dtype=torch.float64)  # s bra reim ket
    env[:, 0, 0, 0] = 1.0
    for j, b in enumerate(ts):
        cl, _, cr = b.shape
        aj = a_all[order, j]
        aj_sorted, perm = torch.sort(aj, stable=True)
        order, logp = order[perm], logp[perm]
        rows = (env[perm] * scale[perm][:, None, None, None]).reshape(s_n * cl, 2 * cl)
        counts = torch.bincount(aj_sorted, minlength=len(mixers[j])).tolist()
        x = torch.empty((s_n * cl, 4 * cr), dtype=torch.float64)  # (s bra) (p' reim' vR)
        st = 0
        for k, c in enumerate(counts):
            if c:
                # (s bra, reim ket) . C_a (reim ket, p' reim' vR)
                torch.mm(rows[st * cl:(st + c) * cl], mixers[j][k], out=x[st * cl:(st + c) * cl])
                st += c
        # B^T (vR', bra p') . X[s] (bra p', reim' vR) -> env[s, vR', reim', vR]
        bt = b.reshape(2 * cl, cr).T.contiguous()
        env = torch.matmul(bt, x.view(s_n, 2 * cl, 2 * cr)).view(s_n, cr, 2, cr)
        tr = torch.diagonal(env[:, :, 0, :], dim1=1, dim2=2).sum(1)
        logp += torch.log(tr.clamp(min=0.0))
        scale = torch.where(tr > 0, 1.0 / tr, torch.zeros_like(tr))
    out = torch.empty_like(logp)
    out[order] = logp
    return out.numpy()
