"""TFIM MPO, DMRG environments and the effective two-site Hamiltonian.

Conventions follow :mod:`qtomo.states.mps`: MPS tensors have legs ``vL p vR``; MPO tensors
have legs ``wL wR p p*`` (``p`` the output/bra side, ``p*`` the input/ket side); left
environments ``LP`` and right environments ``RP`` have legs ``(bra bond, MPO bond, ket bond)``.

What lives where: the MPO of the chain and its expectation value, the boundary and bulk
environment updates, the effective Hamiltonian of a bond (a short sum of terms) and the
Lanczos solver of the local two-site problem are here; the sweeps and the truncated SVD are
in :mod:`qtomo.states.dmrg`.

The TFIM MPO is applied term by term: identity environments are recognised and skipped, so a
Lanczos step costs four chi^3 GEMMs instead of a dense MPO contraction. Only numpy's LAPACK
is used (interleaving numpy GEMMs with scipy LAPACK calls makes the two OpenBLAS thread
pools compete).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qtomo.states.mps import MPS
from qtomo.states.paulis import PAULI
from qtomo.typing import FloatArray

# real (float64) Pauli matrices of the real TFIM MPO
_I2, _X, _Z = (PAULI[k].real.copy() for k in "IXZ")

#: MPO bond states selected by the left and right boundary vectors.
LEFT_STATE, RIGHT_STATE = 0, 2

#: An environment slice within this (absolute) distance of the identity counts as one.
_IDENTITY_ATOL = 1e-12

#: Lanczos stops when the next Krylov vector has a norm below this (invariant subspace).
_LANCZOS_BREAKDOWN = 1e-14


# --- MPO ------------------------------------------------------------------------------------


def tfim_mpo(n: int, J: float, h: float, boundary: str = "open") -> list[FloatArray]:
    """MPO of the TFIM: list of ``n`` tensors with legs ``wL wR p p*``.

    Open chain: bond dimension 3 with states (0: nothing placed yet, 1: a Z waiting for its
    partner, 2: complete). Periodic chain: a fourth state carries the Z of site 0 to site N-1.
    The left boundary vector selects state 0, the right one state 2.

    Parameters
    ----------
    n : int
        Number of sites.
    J, h : float
        Couplings of H = -J sum Z_i Z_{i+1} - h sum X_i.
    boundary : {"open", "periodic"}

    Returns
    -------
    list of ndarray, float64, shape (D, D, 2, 2)
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
    """<psi|H|psi> / <psi|psi> for an MPO with boundary states 0 (left) and 2 (right).

    Parameters
    ----------
    mps : MPS
        The state (any form, real or complex).
    mpo : list of ndarray
        MPO tensors (legs ``wL wR p p*``), e.g. from :func:`tfim_mpo`.

    Returns
    -------
    float
    """
    env = boundary_env(mpo[0].shape[0], LEFT_STATE)  # bra w ket
    for b, w in zip(mps.tensors, mpo, strict=True):
        # env (a, w, b) . B (b, i, c)   # a w [b], [b] i c -> a w i c
        t = np.tensordot(env, b, axes=(2, 0))
        # . W (w, x, i', i)   # a [w] [i] c, [w] x i' [i] -> a c x i'
        t = np.tensordot(t, w, axes=([1, 2], [0, 3]))
        # . conj(B) (a, i', d)   # [a] c x [i'], [a] [i'] d -> c x d
        t = np.tensordot(t, b.conj(), axes=([0, 3], [0, 1]))
        env = t.transpose(2, 1, 0)  # d x c = bra w ket
    val = env[0, RIGHT_STATE, 0]
    return float(np.real(val)) / mps.norm() ** 2


# --- environments ---------------------------------------------------------------------------


def boundary_env(d_w: int, state: int) -> np.ndarray:
    """Boundary environment selecting one MPO bond state.

    Parameters
    ----------
    d_w : int
        MPO bond dimension.
    state : int
        Selected bond state (:data:`LEFT_STATE` or :data:`RIGHT_STATE`).

    Returns
    -------
    ndarray, float64, shape (1, d_w, 1)
        Legs bra w ket.
    """
    env = np.zeros((1, d_w, 1))
    env[0, state, 0] = 1.0
    return env


def initial_environments(
    ts: list[np.ndarray], mpo: list[FloatArray]
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """Environments of a right-canonical MPS before the first sweep.

    Parameters
    ----------
    ts : list of ndarray
        Right-canonical site tensors (legs ``vL p vR``).
    mpo : list of ndarray
        MPO tensors (legs ``wL wR p p*``).

    Returns
    -------
    lp, rp : list
        ``lp[i]`` is the environment left of site ``i`` and ``rp[i]`` the one right of it
        (legs bra w ket); only ``lp[0]`` is set on the left (the sweeps fill the rest), and
        ``rp`` is complete.
    """
    n = len(ts)
    d_w = mpo[0].shape[0]
    lp: list[np.ndarray | None] = [None] * n
    rp: list[np.ndarray | None] = [None] * n
    lp[0] = boundary_env(d_w, LEFT_STATE)
    rp[n - 1] = boundary_env(d_w, RIGHT_STATE)
    for i in range(n - 1, 0, -1):
        rp[i - 1] = update_rp(wr_matrix(mpo[i], rp[i]), ts[i], d_w)
    return lp, rp


def lw_matrix(lp: np.ndarray, w: np.ndarray) -> np.ndarray:
    """LP . W as a matrix with rows (a, i', x) and columns (b, i).

    Parameters
    ----------
    lp : ndarray, shape (chi_a, D, chi_b)
        Left environment of a site (legs bra w ket).
    w : ndarray, shape (D, D', 2, 2)
        MPO tensor of the site (legs ``wL wR p p*``).

    Returns
    -------
    ndarray, shape (chi_a * 2 * D', chi_b * 2)
        Input of :func:`update_lp`.
    """
    chi_a, d_w, chi_b = lp.shape
    # LP (a, w, b) . W (w, x, i', i)   # a [w] b, [w] x i' i -> a b x i' i
    t = np.tensordot(lp, w, axes=(1, 0))
    t = t.transpose(0, 3, 2, 1, 4)  # a i' x b i
    return t.reshape(chi_a * 2 * w.shape[1], chi_b * 2)


def wr_matrix(w: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """W . RP as a matrix with rows (x, j, c) and columns (j', d).

    Parameters
    ----------
    w : ndarray, shape (D, D', 2, 2)
        MPO tensor of a site (legs ``wL wR p p*``).
    rp : ndarray, shape (chi_d, D', chi_c)
        Right environment of the site (legs bra w ket).

    Returns
    -------
    ndarray, shape (D * 2 * chi_c, 2 * chi_d)
        Input of :func:`update_rp`.
    """
    chi_d, _, chi_c = rp.shape
    # W (x, y, j', j) . RP (d, y, c)   # x [y] j' j, d [y] c -> x j' j d c
    t = np.tensordot(w, rp, axes=(1, 1))
    t = t.transpose(0, 2, 4, 1, 3)  # x j c j' d
    return t.reshape(w.shape[0] * 2 * chi_c, 2 * chi_d)


def update_lp(lw: np.ndarray, a: np.ndarray, d_x: int) -> np.ndarray:
    """LP_{i+1}[a', x, b'] = sum conj(A)[a, i', a'] (LP W)[a, i', x, b, i] A[b, i, b'].

    Parameters
    ----------
    lw : ndarray
        :func:`lw_matrix` of site ``i``.
    a : ndarray, shape (chi_a, 2, k)
        New left-canonical tensor of site ``i`` (legs ``vL p vR``).
    d_x : int
        MPO bond dimension.

    Returns
    -------
    ndarray, shape (k, d_x, k)
        Environment left of site ``i + 1`` (legs bra w ket).
    """
    chi_a, _, k = a.shape
    am = a.reshape(chi_a * 2, k)
    # (a i' x, b i) . (b i, b') -> (a i' x, b')   # LW . A
    t = (lw @ am).reshape(chi_a * 2, d_x * k)
    # conj(A)^T (a', a i') . (a i', x b') -> (a', x b')
    return (am.conj().T @ t).reshape(k, d_x, k)


def update_rp(wr: np.ndarray, b: np.ndarray, d_x: int) -> np.ndarray:
    """RP_i[d', x, c'] = sum B[c', j, c] (W RP)[x, j, c, j', d] conj(B)[d', j', d].

    Parameters
    ----------
    wr : ndarray
        :func:`wr_matrix` of site ``i + 1``.
    b : ndarray, shape (k, 2, chi_c)
        New right-canonical tensor of site ``i + 1`` (legs ``vL p vR``).
    d_x : int
        MPO bond dimension.

    Returns
    -------
    ndarray, shape (k, d_x, k)
        Environment right of site ``i`` (legs bra w ket).
    """
    k, _, chi_c = b.shape
    bm = b.reshape(k, 2 * chi_c)
    # (x j c, j' d) . conj(B)^T (j' d, d') -> (x, j c, d')   # WR . B^*
    t = (wr @ bm.conj().T).reshape(d_x, 2 * chi_c, k)
    # B (c', j c) . t (x, j c, d') -> (c', x, d')   # c' [j c], x [j c] d'
    t = np.tensordot(bm, t, axes=(1, 1))
    return t.transpose(2, 1, 0)  # d' x c' = bra w ket


# --- effective two-site Hamiltonian ---------------------------------------------------------


def _is_identity(m: np.ndarray) -> bool:
    return m.shape[0] == m.shape[1] and np.allclose(
        m, np.eye(m.shape[0]), rtol=0, atol=_IDENTITY_ATOL
    )


def bond_terms(lp: np.ndarray, w1: np.ndarray, w2: np.ndarray, rp: np.ndarray) -> list:
    """Effective two-site Hamiltonian as a short sum of terms ``L_x (x) O_xy (x) R_y``.

    ``O_xy = sum_m W1[x, m] (x) W2[m, y]`` acts on the two physical legs (4x4, rows
    ``(i' j')``, columns ``(i j)``); ``L_x = LP[:, x, :]`` and ``R_y = RP[:, y, :]`` are
    ``(bra, ket)`` matrices. Identity environments (``LP[:, 0, :]`` for a left-canonical block,
    ``RP[:, 2, :]`` for a right-canonical one) are recognised and skipped, and terms whose two
    environments are both identities are merged into one local operator. For the TFIM this
    leaves 4 GEMMs of cost 4 chi^3 per application instead of a dense D = 3 contraction.

    Parameters
    ----------
    lp, rp : ndarray
        Environments left of the first and right of the second site (legs bra w ket).
    w1, w2 : ndarray
        MPO tensors of the two sites (legs ``wL wR p p*``).

    Returns
    -------
    list of tuple
        ``(op, diag, L or None, R^T or None)``; ``diag`` is the diagonal of ``op`` when it
        is diagonal, else None. Apply with :func:`apply_terms`.
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


def apply_terms(terms: list, theta: np.ndarray) -> np.ndarray:
    """H_eff theta for theta of shape (a, 4, c) (legs vL (i j) vR).

    Parameters
    ----------
    terms : list
        Output of :func:`bond_terms`.
    theta : ndarray, shape (chi_L, 4, chi_R)
        Two-site wave function.

    Returns
    -------
    ndarray, shape (chi_L, 4, chi_R)
    """
    chi_l, _, chi_r = theta.shape
    out = None
    for op, diag, lx, ryt in terms:
        if diag is not None:
            # a (i j) c, diagonal operator
            t = theta if np.all(diag == 1.0) else theta * diag[None, :, None]
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


# --- Lanczos --------------------------------------------------------------------------------


def lanczos_ground(
    matvec: Callable[[np.ndarray], np.ndarray],
    v0: np.ndarray,
    max_iter: int,
    res_tol: float,
) -> tuple[float, np.ndarray]:
    """Lowest eigenpair of a real symmetric operator by Lanczos with full re-orthogonalisation.

    Parameters
    ----------
    matvec : callable
        ``v -> H v`` on flat float64 vectors.
    v0 : ndarray
        Start vector (a random one replaces a zero or non-finite ``v0``).
    max_iter : int
        Largest Krylov dimension.
    res_tol : float
        Stop when the residual norm ``||H x - e x||`` falls below ``res_tol`` (relative to
        ``max(1, |e|)``), or when the Krylov space is exhausted.

    Returns
    -------
    energy : float
    vector : ndarray
        Normalised Ritz vector.
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
            evals, evecs = np.linalg.eigh(tri)  # numpy LAPACK (see the module docstring)
            e0, y = float(evals[0]), evecs[:, 0]
        residual = b * abs(y[-1])
        if residual < res_tol * max(1.0, abs(e0)) or b < _LANCZOS_BREAKDOWN or k == k_max - 1:
            break
        beta.append(b)
        basis[k + 1] = w / b
    vec = basis[: y.size].T @ y
    vec /= np.linalg.norm(vec)
    return e0, vec
