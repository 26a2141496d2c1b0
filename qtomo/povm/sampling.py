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

* **Basis-choice frames** (Pauli-4, Pauli-6: every element is a weighted projector of one of a
  few orthonormal bases, Pauli-4's fourth element being the three "down" projectors together)
  take a faster sampling path: the basis of a shot at a site is drawn first, independently of
  the state, with its weight; then only the two outcomes of that basis compete. The two
  amplitudes of every basis come from one real matrix product per site (the basis rotation is
  folded into the site tensor), the chosen one is kept and normalised. This path computes in
  float32: the probabilities it draws from carry a relative rounding error of about 1e-6, far
  below the statistical resolution of any dataset (and a zero probability stays at most
  ~1e-14, the square of an amplitude rounding). Exact log P stays float64.

For real MPS (the TFIM and GHZ states), log P, and sampling with the other frames, run in
torch (float64): sampling with torch's batched small matrix products, log P with the shots
grouped by their outcome at each site, so that the POVM element folds into the site tensor
and a group needs one matrix product. Complex MPS with those frames use the numpy kernels. Both give the same
numbers to rounding. Torch kernels run whole batches side by side in worker threads (one per
torch thread, torch single-threaded inside each), which uses the cores better than torch's
own splitting of these small operations.

Random numbers: one uniform per (shot, site) drawn as ``rng.random((batch, N))`` in shot
order, so a seeded run gives the same shots for any ``batch_size``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from qtomo.errors import InputValueError
from qtomo.povm.frames import Frame
from qtomo.states.mps import MPS
from qtomo.typing import FloatArray, Outcomes

ProgressFn = Callable[[int], object]

DEFAULT_SAMPLE_BATCH = 8192
DEFAULT_LOGP_BATCH = 512


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
    g = phi.conj()  # new vector = g_0 w_0 + g_1 w_1
    gr, gi = g.real, g.imag
    coef = np.zeros((len(phi), 2, 4))
    # Re: g0r w0r + g1r w1r - g0i Im w0 - g1i Im w1 ;  Im: g0i w0r + g1i w1r + g0r Im w0 + g1r Im w1
    coef[:, 0] = np.stack([gr[:, 0], gr[:, 1], -gi[:, 0], -gi[:, 1]], axis=1)
    coef[:, 1] = np.stack([gi[:, 0], gi[:, 1], gr[:, 0], gr[:, 1]], axis=1)
    quad = np.einsum("kai,kaj->ijk", coef, coef).reshape(16, -1)  # C^T C, flattened
    return _Pieces(outcome=out, coef=coef, quad=np.ascontiguousarray(quad))


def _logp_mixers(frame: Frame) -> np.ndarray:
    """Real 4x4 matrices R(a) with X = R(a) T for T rows ``(reim, p)`` and X rows ``(p', reim)``:
    the complex map ``X_p' = sum_p M(a)[p', p] T_p`` written on real and imaginary parts."""
    m = frame.elements
    mr, mi = m.real, m.imag
    r = np.zeros((frame.K, 4, 4))
    for q in range(2):  # p'
        for p_ in range(2):  # p
            r[:, 2 * q + 0, 0 * 2 + p_] = mr[:, q, p_]
            r[:, 2 * q + 0, 1 * 2 + p_] = -mi[:, q, p_]
            r[:, 2 * q + 1, 0 * 2 + p_] = mi[:, q, p_]
            r[:, 2 * q + 1, 1 * 2 + p_] = mr[:, q, p_]
    return r


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


@dataclass(frozen=True)
class BasisForm:
    """A frame written as a random choice of measurement basis followed by a projective
    measurement: ``M(a) = sum_{(b, s): label[b, s] = a} weight[b] |e_bs><e_bs|``."""

    weight: np.ndarray  # (B,) basis probabilities, summing to 1
    vectors: np.ndarray  # (B, 2, 2) complex: vectors[b, s] is the state of outcome s of basis b
    label: np.ndarray  # (B, 2) outcome label of (basis, outcome)


def basis_form(frame: Frame, tol: float = 1e-10) -> BasisForm | None:
    """The basis-choice form of a frame (Pauli-4, Pauli-6), or None when it has none
    (tetrahedral, depolarized frames).

    Rank-1 elements of equal weight with orthogonal vectors pair into one basis; the rank-1
    elements left over must share one remaining element equal to ``sum w (I - |e><e|)``
    (Pauli-4's fourth). The result is checked by rebuilding every element.
    """
    els = frame.elements
    lam, vec = np.linalg.eigh(els)
    scale = lam.max()
    rank = (lam > tol * scale).sum(axis=1)
    single = [a for a in range(frame.K) if rank[a] == 1]
    others = [a for a in range(frame.K) if rank[a] != 1]
    weights, vectors, labels = [], [], []
    used: set[int] = set()
    for i, a in enumerate(single):
        if a in used:
            continue
        for b in single[i + 1:]:
            if b in used:
                continue
            if (abs(lam[a, 1] - lam[b, 1]) < tol * scale
                    and abs(np.vdot(vec[a, :, 1], vec[b, :, 1])) < tol):
                weights.append(lam[a, 1])
                vectors.append([vec[a, :, 1], vec[b, :, 1]])
                labels.append([a, b])
                used.update((a, b))
                break
    rest = [a for a in single if a not in used]
    if rest:
        if len(others) != 1:
            return None
        for a in rest:
            e = vec[a, :, 1]
            perp = np.array([-np.conj(e[1]), np.conj(e[0])])
            weights.append(lam[a, 1])
            vectors.append([e, perp])
            labels.append([a, others[0]])
    elif others:
        return None
    form = BasisForm(np.array(weights), np.array(vectors, dtype=np.complex128),
                     np.array(labels, dtype=np.int64))
    rebuilt = np.zeros_like(els)
    for w, pair, lab in zip(form.weight, form.vectors, form.label, strict=True):
        for e, a in zip(pair, lab, strict=True):
            rebuilt[a] += w * np.outer(e, e.conj())
    if abs(form.weight.sum() - 1.0) > 1e-9 or not np.allclose(rebuilt, els, atol=1e-9):
        return None
    return form


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


def _sample_batch_bases(mats: list[torch.Tensor], form: BasisForm, u_np: FloatArray) -> Outcomes:
    """Sample with the basis-choice form: per (shot, site) the uniform ``u`` picks the basis
    (interval of width ``weight[b]``) and, rescaled to [0, 1), the outcome in that basis."""
    s_n, n = u_np.shape
    u = torch.from_numpy(u_np).T.contiguous()  # (site, shot): rows gathered per site
    cum = np.cumsum(form.weight)
    bas_all = torch.zeros((n, s_n), dtype=torch.int64)
    for edge in cum[:-1]:
        bas_all += u >= edge
    low = torch.from_numpy(np.concatenate([[0.0], cum[:-1]]))
    u_all = ((u - low[bas_all]) / torch.from_numpy(form.weight)[bas_all]).to(torch.float32)
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
    n = len(ts)
    out = np.empty((int(n_shots), n), dtype=np.uint8)
    form = basis_form(frame)
    if form is not None:
        mats = [_basis_site_matrices(t, form) for t in ts]

        def kernel(u: FloatArray) -> Outcomes:
            return _sample_batch_bases(mats, form, u)
    elif _all_real(ts):
        tts, tp = _torch_sites(ts), _TorchPieces.of(_pieces(frame))

        def kernel(u: FloatArray) -> Outcomes:
            return _sample_batch_torch(tts, tp, u)
    else:
        pcs = _pieces(frame)

        def kernel(u: FloatArray) -> Outcomes:
            return _sample_batch(ts, pcs, u)

    def batches() -> Iterable[tuple[int, int, FloatArray]]:
        for start in range(0, int(n_shots), batch_size):
            stop = min(start + batch_size, int(n_shots))
            yield start, stop, gen.random((stop - start, n))  # drawn in shot order

    _run_batches(kernel, batches(), out, progress, threaded=form is not None or _all_real(ts))
    return out


def _run_batches(kernel: Callable[[np.ndarray], np.ndarray],
                 batches: Iterable[tuple[int, int, np.ndarray]], out: np.ndarray,
                 progress: ProgressFn | None, threaded: bool) -> None:
    """``out[start:stop] = kernel(x)`` for every batch, in order.

    With ``threaded`` (torch kernels), one worker thread per torch thread runs whole batches
    while torch computes single-threaded inside each: the kernels are many small operations,
    which torch does not split across cores, so batches side by side use the cores better.
    The inputs are made in order in this thread, so results do not depend on the threads.
    """
    workers = torch.get_num_threads() if threaded else 1
    if workers <= 1:
        for start, stop, x in batches:
            out[start:stop] = kernel(x)
            if progress is not None:
                progress(stop - start)
        return
    pending: deque = deque()

    def collect() -> None:
        start, stop, fut = pending.popleft()
        out[start:stop] = fut.result()
        if progress is not None:
            progress(stop - start)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            for start, stop, x in batches:
                pending.append((start, stop, pool.submit(kernel, x)))
                if len(pending) > workers:
                    collect()
            while pending:
                collect()
    finally:
        torch.set_num_threads(workers)


def _sample_batch(ts: list[np.ndarray], pcs: _Pieces, u: FloatArray) -> Outcomes:
    s_n, n = u.shape
    out = np.empty((s_n, n), dtype=np.uint8)
    # left vectors, real/imaginary rows: v[s, reim, vL]
    v = np.zeros((s_n, 2, 1))
    v[:, 0] = 1.0
    rows = np.arange(s_n)
    last = pcs.coef.shape[0] - 1
    for j, b in enumerate(ts):
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
    mixers = _logp_mixers(frame)
    real = _all_real(ts)
    if real:
        tts = _torch_sites(ts)
        tmix = [_site_mixers(np.asarray(t, dtype=np.float64), frame.elements) for t in ts]
    def kernel(x: np.ndarray) -> FloatArray:
        if real:
            return _logp_batch_torch(tts, tmix, x)
        return _logp_batch(ts, mixers, x)

    batches = ((st, min(st + batch_size, a.shape[0]), a[st:st + batch_size])
               for st in range(0, a.shape[0], batch_size))
    _run_batches(kernel, batches, out, progress, threaded=real)
    return out


def _logp_batch(ts: list[np.ndarray], mixers: np.ndarray, a: np.ndarray) -> FloatArray:
    s_n = a.shape[0]
    logp = np.zeros(s_n)
    scale = np.ones(s_n)  # 1 / trace of the previous environment, folded into the mixer
    # env[s, bra, reim, ket]: mixed left environment L, real and imaginary parts on axis 2
    env = np.zeros((s_n, 1, 2, 1))
    env[:, 0, 0, 0] = 1.0
    for j, b in enumerate(ts):
        cl, _, cr = b.shape
        rows = env.reshape(s_n * cl * 2, cl)  # (s bra reim, ket)
        if np.iscomplexobj(b):
            br = np.ascontiguousarray(b.real).reshape(cl, 2 * cr)
            bi = np.ascontiguousarray(b.imag).reshape(cl, 2 * cr)
            # L (s bra reim, ket) . B (ket, p vR)   # x vL, vL p vR  (real and imaginary parts)
            t1 = (rows @ br).reshape(s_n, cl, 2, 2, cr)
            t2 = (rows @ bi).reshape(s_n, cl, 2, 2, cr)
            t = np.empty_like(t1)  # s bra reim p vR
            t[:, :, 0] = t1[:, :, 0] - t2[:, :, 1]
            t[:, :, 1] = t1[:, :, 1] + t2[:, :, 0]
            t = t.reshape(s_n, cl, 4, cr)
        else:
            # L (s bra reim, ket) . B (ket, p vR) -> (s, bra, reim p, vR)   # x vL, vL p vR
            t = (rows @ b.reshape(cl, 2 * cr)).reshape(s_n, cl, 4, cr)
        # X[s, bra, (p' reim), vR] = sum_p M(a_s)[p', p] T[s, bra, (reim p), vR] / tr_prev
        mix = mixers[a[:, j]] * scale[:, None, None]  # s 4 4
        x = np.matmul(mix[:, None], t).reshape(s_n, 2 * cl, 2 * cr)  # s (bra p') (reim vR)
        if np.iscomplexobj(b):
            brt = np.ascontiguousarray(b.real.reshape(2 * cl, cr).T)
            bit = np.ascontiguousarray(b.imag.reshape(2 * cl, cr).T)
            # conj(B)^T (vR', bra p') . X (bra p', reim vR)   # vL p vR', vL p reim vR
            y1 = np.matmul(brt, x).reshape(s_n, cr, 2, cr)
            y2 = np.matmul(bit, x).reshape(s_n, cr, 2, cr)
            env = np.empty_like(y1)  # s bra reim ket
            env[:, :, 0] = y1[:, :, 0] + y2[:, :, 1]
            env[:, :, 1] = y1[:, :, 1] - y2[:, :, 0]
        else:
            bt = np.ascontiguousarray(b.reshape(2 * cl, cr).T)
            # B^T (vR', bra p') . X (bra p', reim vR) -> (s, vR', reim, vR)   # vL p vR', ...
            env = np.matmul(bt, x).reshape(s_n, cr, 2, cr)
        # trace of L = conditional prefix probability; its inverse rescales the next site
        tr = np.einsum("sii->s", env[:, :, 0, :])
        with np.errstate(divide="ignore"):
            logp += np.log(np.maximum(tr, 0.0))
        scale = np.divide(1.0, tr, out=np.zeros(s_n), where=tr > 0)
    return logp


# --- torch kernels for real MPS (the same algorithms, faster batched small products) ----------


def _all_real(ts: list[np.ndarray]) -> bool:
    return not any(np.iscomplexobj(t) for t in ts)


def _torch_sites(ts: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(t, dtype=np.float64)) for t in ts]


@dataclass(frozen=True)
class _TorchPieces:
    outcome: torch.Tensor  # (P,) int64
    coef: torch.Tensor  # (P, 2, 4)
    quad: torch.Tensor  # (16, P)

    @classmethod
    def of(cls, pcs: _Pieces) -> _TorchPieces:
        return cls(torch.from_numpy(pcs.outcome.astype(np.int64)),
                   torch.from_numpy(pcs.coef), torch.from_numpy(pcs.quad))


def _sample_batch_torch(ts: list[torch.Tensor], pcs: _TorchPieces, u_np: FloatArray) -> Outcomes:
    """:func:`_sample_batch` for real site tensors, in torch."""
    u = torch.from_numpy(u_np)
    s_n, n = u.shape
    out = torch.empty((s_n, n), dtype=torch.uint8)
    v = torch.zeros((s_n, 2, 1), dtype=torch.float64)
    v[:, 0] = 1.0
    rows = torch.arange(s_n)
    last = pcs.coef.shape[0] - 1
    for j, b in enumerate(ts):
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


def _site_mixers(b: np.ndarray, elements: np.ndarray) -> torch.Tensor:
    """Per outcome a, the real matrix C_a (2 cl, 4 cr) that takes the left environment's rows
    ``(reim, ket)`` to ``(p', reim', vR)`` of X = M(a) (L B), for a real site tensor B."""
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
    into the site tensor (:func:`_site_mixers`) and each group needs one matrix product;
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
