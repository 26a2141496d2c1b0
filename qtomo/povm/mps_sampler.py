"""Exact POVM sampling of outcome strings from an MPS (:func:`sample_mps`; :func:`sample_sites`
with a POVM of its own on every site).

Conventions (shared with :mod:`qtomo.povm.mps_logprob`): outcome strings have shape
``(shots, N)``, dtype ``uint8``, qubit 0 in column 0; the MPS is right-canonical (legs
``vL p vR``, :mod:`qtomo.states.mps`), so a shot needs only a left object.

Method
------
* **General frames** (tetrahedral, depolarized, complex MPS): every POVM element is split
  into rank-1 pieces, ``M(a) = sum_k phi_ak phi_ak^+``
  (:func:`~qtomo.povm.decompositions.rank1_pieces`). Site by site, each shot holds a pure
  left vector ``v`` (length chi); ``w = v . B_j`` (shape ``(2, chi_R)``) gives the 2x2
  conditional density matrix ``rho = w w^+``, a piece ``(a, k)`` is drawn with probability
  ``phi^+ rho phi`` and ``v <- phi^+ w / sqrt(prob)``. Marginalising the auxiliary piece
  index gives exactly P(a), and the conditional state stays pure. All shots of a batch
  advance together with one GEMM per site (real tensors against split real/imaginary
  vectors); real MPS run in torch (float64, batched small matrix products), complex ones in
  numpy, with the same numbers to rounding.
* **Basis-choice frames** (Pauli-4, Pauli-6: every element is a weighted projector of one of a
  few orthonormal bases, Pauli-4's fourth element being the three "down" projectors together,
  :func:`~qtomo.povm.decompositions.basis_form`) take a faster path: the basis of a shot at a
  site is drawn first, independently of the state, with its weight; then only the two
  outcomes of that basis compete. The two amplitudes of every basis come from one real matrix
  product per site (the basis rotation is folded into the site tensor), the chosen one is kept
  and normalised. This path computes in float32: the probabilities it draws from carry a
  relative rounding error of about 1e-6, far below the statistical resolution of any dataset
  (and a zero probability stays at most ~1e-14, the square of an amplitude rounding).

Random numbers: one uniform per (shot, site) drawn as ``rng.random((batch, N))`` in shot
order, so a seeded run gives the same shots for any ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from qtomo.errors import InputValueError
from qtomo.povm.decompositions import BasisForm, basis_form, rank1_pieces
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

DEFAULT_SAMPLE_BATCH = 8192


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
    check_batch(batch_size)
    ts = prepare_tensors(mps)
    kernel, threaded = _sampling_kernel(ts, frame.elements)
    return _run_sampler(kernel, threaded, len(ts), int(n_shots), _as_generator(rng), batch_size,
                        progress)


def sample_sites(
    ts: list[np.ndarray],
    site_elements: Sequence[np.ndarray],
    n_shots: int,
    rng: np.random.Generator | int | None,
    *,
    batch_size: int = DEFAULT_SAMPLE_BATCH,
    progress: ProgressFn | None = None,
) -> Outcomes:
    """Draw exact outcome strings for given site tensors and the POVM elements of each site.

    The per-site counterpart of :func:`sample_mps` (as
    :func:`~qtomo.povm.mps_logprob.log_prob_sites` is of ``log_prob_mps``): qubit j is measured
    with ``site_elements[j]`` (any K_j >= 1 elements summing to the identity, e.g. the two
    elements of a measurement along an axis), always with the rank-1-piece sampler (float64).

    Parameters
    ----------
    ts : list of ndarray
        Normalised right-canonical site tensors (legs ``vL p vR``), e.g. from
        :func:`~qtomo.povm.mps_batches.prepare_tensors`.
    site_elements : sequence of ndarray, each (K_j, 2, 2)
        POVM elements of qubit ``j``.
    n_shots : int
    rng : numpy.random.Generator or int seed
        One uniform per (shot, site), drawn in shot order.
    batch_size : int
    progress : callable, optional

    Returns
    -------
    ndarray, uint8, shape (n_shots, N)
    """
    check_batch(batch_size)
    pieces = [_pieces(np.asarray(e)) for e in site_elements]
    if all_real(ts):
        kernel = partial(_sample_batch_torch, torch_sites(ts),
                         [_TorchPieces.of(p) for p in pieces])
        threaded = True
    else:
        kernel, threaded = partial(_sample_batch, ts, pieces), False
    return _run_sampler(kernel, threaded, len(ts), int(n_shots), _as_generator(rng), batch_size,
                        progress)


def _run_sampler(kernel: Callable[[FloatArray], Outcomes], threaded: bool, n: int, n_shots: int,
                 gen: np.random.Generator, batch_size: int,
                 progress: ProgressFn | None) -> Outcomes:
    """Run ``kernel`` over batches of uniforms ``(shots, n)`` drawn in shot order."""
    out = np.empty((n_shots, n), dtype=np.uint8)

    def batches() -> Iterable[tuple[int, int, FloatArray]]:
        for start in range(0, n_shots, batch_size):
            stop = min(start + batch_size, n_shots)
            yield start, stop, gen.random((stop - start, n))  # drawn in shot order

    run_batches(kernel, batches(), out, progress, threaded=threaded)
    return out


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise InputValueError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")


def _sampling_kernel(
    ts: list[np.ndarray], elements: np.ndarray
) -> tuple[Callable[[FloatArray], Outcomes], bool]:
    """The batch kernel ``u (shots, N) -> outcomes`` for these site tensors and POVM elements,
    and whether it runs in torch (batches then go to worker threads)."""
    form = basis_form(elements)
    if form is not None:
        mats = [_basis_site_matrices(t, form) for t in ts]
        return partial(_sample_batch_bases, mats, form), True
    n = len(ts)
    if all_real(ts):
        pieces = _TorchPieces.of(_pieces(elements))
        return partial(_sample_batch_torch, torch_sites(ts), [pieces] * n), True
    return partial(_sample_batch, ts, [_pieces(elements)] * n), False


# --- general frames: rank-1 pieces ----------------------------------------------------------


@dataclass(frozen=True)
class _Pieces:
    """Rank-1 pieces of the POVM elements in the real layout used by the batched sampler.

    A shot's ``w = v . B`` is stored as 4 real rows ``(Re w_0, Re w_1, Im w_0, Im w_1)``
    (index ``reim * 2 + p``). For piece ``k`` the new left vector ``conj(phi_k) . w`` is
    ``coef[k] @ w`` (rows: Re, Im), and its squared norm (the piece probability) is
    ``sum_ij quad[k, i, j] G[i, j]`` with the 4x4 Gram matrix ``G = w w^T``.
    """

    outcome: np.ndarray  # (P,) uint8
    coef: np.ndarray  # (P, 2, 4)
    quad: np.ndarray  # (16, P)


def _pieces(elements: np.ndarray) -> _Pieces:
    phi, out = rank1_pieces(elements)
    g = phi.conj()  # new vector = g_0 w_0 + g_1 w_1
    gr, gi = g.real, g.imag
    coef = np.zeros((len(phi), 2, 4))
    # Re: g0r w0r + g1r w1r - g0i Im w0 - g1i Im w1 ;  Im: g0i w0r + g1i w1r + g0r Im w0 + g1r Im w1
    coef[:, 0] = np.stack([gr[:, 0], gr[:, 1], -gi[:, 0], -gi[:, 1]], axis=1)
    coef[:, 1] = np.stack([gi[:, 0], gi[:, 1], gr[:, 0], gr[:, 1]], axis=1)
    quad = np.einsum("kai,kaj->ijk", coef, coef).reshape(16, -1)  # C^T C, flattened
    return _Pieces(outcome=out, coef=coef, quad=np.ascontiguousarray(quad))


def _sample_batch(ts: list[np.ndarray], site_pcs: Sequence[_Pieces], u: FloatArray) -> Outcomes:
    """A batch of shots for the uniforms ``u`` (shots, N); ``site_pcs[j]`` are site j's pieces."""
    s_n, n = u.shape
    out = np.empty((s_n, n), dtype=np.uint8)
    # left vectors, real/imaginary rows: v[s, reim, vL]
    v = np.zeros((s_n, 2, 1))
    v[:, 0] = 1.0
    rows = np.arange(s_n)
    for j, b in enumerate(ts):
        pcs = site_pcs[j]
        last = pcs.coef.shape[0] - 1
        cl, _, cr = b.shape
        if np.iscomplexobj(b):
            vc = v[:, 0] + 1j * v[:, 1]
            # v (s, vL) . B (vL, p vR) -> (s, p vR)   # s vL, vL p vR
            wc = (vc @ b.reshape(cl, 2 * cr)).reshape(s_n, 2, cr)
            w = np.concatenate([wc.real, wc.imag], axis=1)  # s (reim p) vR
        else:
            # (s reim, vL) . (vL, p vR) -> (s, reim p, vR)   # x vL, vL p vR
            w = (v.reshape(2 * s_n, cl) @ b.reshape(cl, 2 * cr)).reshape(s_n, 4, cr)
        # Gram matrix G[s] = w w^T (4x4): the conditional rho on real/imaginary parts
        gram = np.matmul(w, w.transpose(0, 2, 1))  # s (reim p) (reim p)
        pr = gram.reshape(s_n, 16) @ pcs.quad  # piece probabilities phi^+ rho phi  (s, P)
        np.maximum(pr, 0.0, out=pr)
        cum = np.cumsum(pr, axis=1)
        thr = u[:, j] * cum[:, -1]
        idx = (cum <= thr[:, None]).sum(axis=1)
        np.minimum(idx, last, out=idx)
        out[:, j] = pcs.outcome[idx]
        if j == n - 1:
            break
        # v <- conj(phi) . w / sqrt(prob): (s, reim, 4) . (s, 4, vR)
        coef = pcs.coef[idx] * (1.0 / np.sqrt(pr[rows, idx]))[:, None, None]
        v = np.matmul(coef, w)
    return out


@dataclass(frozen=True)
class _TorchPieces:
    outcome: torch.Tensor  # (P,) int64
    coef: torch.Tensor  # (P, 2, 4)
    quad: torch.Tensor  # (16, P)

    @classmethod
    def of(cls, pcs: _Pieces) -> _TorchPieces:
        return cls(torch.from_numpy(pcs.outcome.astype(np.int64)),
                   torch.from_numpy(pcs.coef), torch.from_numpy(pcs.quad))


def _sample_batch_torch(ts: list[torch.Tensor], site_pcs: Sequence[_TorchPieces],
                        u_np: FloatArray) -> Outcomes:
    """:func:`_sample_batch` for real site tensors, in torch."""
    u = torch.from_numpy(u_np)
    s_n, n = u.shape
    out = torch.empty((s_n, n), dtype=torch.uint8)
    v = torch.zeros((s_n, 2, 1), dtype=torch.float64)
    v[:, 0] = 1.0
    rows = torch.arange(s_n)
    for j, b in enumerate(ts):
        pcs = site_pcs[j]
        last = pcs.coef.shape[0] - 1
        cl, _, cr = b.shape
        # (s reim, vL) . (vL, p vR) -> (s, reim p, vR)   # x vL, vL p vR
        w = (v.reshape(2 * s_n, cl) @ b.reshape(cl, 2 * cr)).reshape(s_n, 4, cr)
        gram = torch.bmm(w, w.transpose(1, 2))  # s (reim p) (reim p)
        pr = (gram.reshape(s_n, 16) @ pcs.quad).clamp_(min=0.0)  # (s, P)
        cum = pr.cumsum(1)
        thr = u[:, j] * cum[:, -1]
        idx = (cum <= thr[:, None]).sum(1).clamp_(max=last)
        out[:, j] = pcs.outcome[idx].to(torch.uint8)
        if j == n - 1:
            break
        coef = pcs.coef[idx] * pr[rows, idx].rsqrt()[:, None, None]
        v = torch.bmm(coef, w)  # (s, reim, 4) . (s, 4, vR)
    return out.numpy()


# --- basis-choice frames --------------------------------------------------------------------


def _basis_site_matrices(b: np.ndarray, form: BasisForm) -> torch.Tensor:
    """Per basis, the real matrix (4 cl, 4 cr) that takes a shot's row ``(s_prev, reim, vL)``
    to ``(s, reim', vR)``: the amplitudes ``v . sum_p conj(e_bs)[p] B[:, p, :]`` of both
    outcomes s, with the previous site's unchosen half zeroed (rows ``s_prev``), on real and
    imaginary parts. Returns (B, 4 cl, 4 cr) float32."""
    cl, _, cr = b.shape
    mats = []
    for e in form.vectors:
        c = np.einsum("sp,lpr->lsr", e.conj(), b)  # vL s vR
        r = np.zeros((2, cl, 2, 2, cr))  # reim vL s reim' vR
        r[0, :, :, 0] = c.real
        r[1, :, :, 0] = -c.imag
        r[0, :, :, 1] = c.imag
        r[1, :, :, 1] = c.real
        r = r.reshape(2 * cl, 4 * cr)
        mats.append(np.concatenate([r, r], axis=0))
    return torch.from_numpy(np.stack(mats)).to(torch.float32)


def _draw_bases(form: BasisForm, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Basis index per (site, shot) from the uniforms ``u`` (site, shot) (interval of width
    ``weight[b]``), and the uniforms rescaled to [0, 1) within that interval (float32)."""
    cum = np.cumsum(form.weight)
    bas_all = torch.zeros(u.shape, dtype=torch.int64)
    for edge in cum[:-1]:
        bas_all += u >= edge
    low = torch.from_numpy(np.concatenate([[0.0], cum[:-1]]))
    u_all = ((u - low[bas_all]) / torch.from_numpy(form.weight)[bas_all]).to(torch.float32)
    return bas_all, u_all


def _sample_batch_bases(mats: list[torch.Tensor], form: BasisForm, u_np: FloatArray) -> Outcomes:
    """Sample with the basis-choice form: per (shot, site) the uniform ``u`` picks the basis
    and, rescaled to [0, 1), the outcome in that basis."""
    s_n, n = u_np.shape
    u = torch.from_numpy(u_np).T.contiguous()  # (site, shot): rows gathered per site
    bas_all, u_all = _draw_bases(form, u)
    labels = torch.from_numpy(form.label)
    out = torch.empty((n, s_n), dtype=torch.uint8)
    order = torch.arange(s_n)  # shots are regrouped by basis at every site
    x = torch.zeros((s_n, 4), dtype=torch.float32)  # (s_prev, reim, vL) with chi = 1
    x[:, 0] = 1.0
    for j, ms in enumerate(mats):
        cr4 = ms.shape[2]
        half = cr4 // 2
        bj = bas_all[j, order]
        groups = [torch.nonzero(bj == k).squeeze(1) for k in range(ms.shape[0])]
        perm = torch.cat(groups)
        order, x, bs = order[perm], x[perm], bj[perm]
        y = torch.empty((s_n, cr4), dtype=torch.float32)
        st = 0
        for k, g in enumerate(groups):
            if len(g):
                torch.mm(x[st:st + len(g)], ms[k], out=y[st:st + len(g)])
                st += len(g)
        p = (y * y).view(s_n, 2, half).sum(2)  # probabilities of the basis' two outcomes
        first = u_all[j, order] * p.sum(1) < p[:, 0]
        out[j, order] = torch.where(first, labels[bs, 0], labels[bs, 1]).to(torch.uint8)
        if j == n - 1:
            break
        keep = torch.stack([first, ~first], 1).to(torch.float32)
        scale = keep * torch.where(keep > 0, p, torch.ones_like(p)).rsqrt()
        x = (y.view(s_n, 2, half) * scale[:, :, None]).view(s_n, cr4)
    return out.T.numpy()
