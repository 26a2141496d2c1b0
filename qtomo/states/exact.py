"""Free-fermion (Jordan-Wigner) references for the open TFIM chain, at any N.

H = -J sum_{i<N-1} Z_i Z_{i+1} - h sum_i X_i, open boundary.

A global Hadamard maps H to H' = -J sum X_i X_{i+1} - h sum Z_i, so <X_i>_H = <Z_i>_H' and
<Z_i Z_j>_H = <X_i X_j>_H'. With Majoranas g_{2i} = (prod_{k<i} Z_k) X_i and
g_{2i+1} = (prod_{k<i} Z_k) Y_i one has Z_i = -i g_{2i} g_{2i+1} and
X_i X_{i+1} = -i g_{2i+1} g_{2i+2}, so H' = (i/4) g^T A g with A real antisymmetric.
The ground-state two-point function is M = <g_k g_l> = I + sign(iA); Wick's theorem then gives
<Z_i>_H' = -i M[2i, 2i+1] and <X_i X_j>_H' = det(-i M[odd rows 2i+1..2j-1, even cols 2i+2..2j]).
"""

from __future__ import annotations

import numpy as np

from qtomo.states.tfim import check_tfim_params
from qtomo.typing import FloatArray


def tfim_ground_energy(n: int, J: float, h: float) -> float:
    """Exact open-chain ground energy: minus the sum of singular values of the bidiagonal B.

    B[i, i] = h, B[i, i+1] = J (N x N). At J = h = 1: E0 = 1 - 1/sin(pi / (2(2N+1))).
    """
    check_tfim_params(n, J, h, "open")
    b = np.diag(np.full(n, float(h))) + np.diag(np.full(n - 1, float(J)), 1)
    return float(-np.linalg.svd(b, compute_uv=False).sum())


def tfim_lowest_energies(n: int, J: float, h: float) -> tuple[float, float]:
    """Exact open-chain ground and first excited energies ``(E0, E1)`` from free fermions.

    The chain is ``H = sum_k 2 s_k (n_k - 1/2)`` in the Bogoliubov modes of the Jordan-Wigner
    fermions, with ``s_k`` the singular values of the bidiagonal B of
    :func:`tfim_ground_energy`; on the open chain every one of the 2^N Fock states is a spin
    state, so ``E1 = E0 + 2 min_k s_k`` (one quasi-particle in the softest mode). For
    ``h < J`` that mode is an edge mode whose energy falls exponentially with N (the two
    nearly degenerate ferromagnetic states).
    """
    check_tfim_params(n, J, h, "open")
    b = np.diag(np.full(n, float(h))) + np.diag(np.full(n - 1, float(J)), 1)
    s = np.linalg.svd(b, compute_uv=False)
    e0 = float(-s.sum())
    return e0, e0 + 2.0 * float(s.min())


def tfim_sector_energies(n: int, J: float, h: float) -> tuple[float, float, float, int]:
    """``(E0, E1, E1_same, s0)`` of the open chain, resolved by the parity P = prod_i X_i.

    P commutes with H, and a Bogoliubov quasi-particle is odd under it, so a Fock state with
    m quasi-particles has parity ``s0 (-1)^m``, with ``s0`` that of the ground state: E1 =
    E0 + 2 s_min is the lowest level of the other sector and ``E1_same = E0 + 2 (s_min +
    s_next)`` (two quasi-particles in the two softest modes) the first excited level of the
    ground state's own sector. ``s0 = sign(h)^N``: for h > 0 every off-diagonal element of H
    in the Z basis is negative, so the ground state has positive amplitudes and P, which maps
    it to another positive ground state, keeps it (+1); the unitary prod_i Z_i maps h to -h
    and P to (-1)^N P. Needs N >= 2 and h != 0.
    """
    check_tfim_params(n, J, h, "open")
    if n < 2 or h == 0:
        raise ValueError("the parity sectors need N >= 2 and h != 0")
    b = np.diag(np.full(n, float(h))) + np.diag(np.full(n - 1, float(J)), 1)
    s = np.sort(np.linalg.svd(b, compute_uv=False))
    e0 = float(-s.sum())
    parity = 1 if h > 0 or n % 2 == 0 else -1
    return e0, e0 + 2.0 * float(s[0]), e0 + 2.0 * float(s[0] + s[1]), parity


def _majorana_two_point(n: int, J: float, h: float) -> np.ndarray:
    """M[k, l] = <g_k g_l> in the ground state (complex, 2N x 2N)."""
    a = np.zeros((2 * n, 2 * n))
    for i in range(n):
        a[2 * i, 2 * i + 1] = 2 * h
        a[2 * i + 1, 2 * i] = -2 * h
    for i in range(n - 1):
        a[2 * i + 1, 2 * i + 2] = 2 * J
        a[2 * i + 2, 2 * i + 1] = -2 * J
    w, v = np.linalg.eigh(1j * a)
    sign = (v * np.sign(w)) @ v.conj().T
    return np.eye(2 * n) + sign


def tfim_x_expectations(n: int, J: float, h: float) -> FloatArray:
    """Exact <X_i>, i = 0..N-1, of the open-chain ground state."""
    check_tfim_params(n, J, h, "open")
    m = _majorana_two_point(n, J, h)
    i = np.arange(n)
    return np.real(-1j * m[2 * i, 2 * i + 1])


def tfim_zz_matrix(n: int, J: float, h: float) -> FloatArray:
    """Exact <Z_i Z_j> for all pairs (N x N, ones on the diagonal), open-chain ground state."""
    check_tfim_params(n, J, h, "open")
    m = _majorana_two_point(n, J, h)
    g = np.real(-1j * m[1::2, 2::2])  # g[k, l] = -i M[2k+1, 2l+2], shape (N, N-1)
    zz = np.eye(n)
    for d in range(1, n):
        starts = np.arange(n - d)
        # blocks G[i+k, i+l] for k, l < d, stacked over i: shape (n-d, d, d)
        kk = starts[:, None, None] + np.arange(d)[None, :, None]
        ll = starts[:, None, None] + np.arange(d)[None, None, :]
        vals = np.linalg.det(g[kk, ll])
        zz[starts, starts + d] = vals
        zz[starts + d, starts] = vals
    return zz


def tfim_term_moments(n: int, J: float, h: float) -> tuple[FloatArray, FloatArray,
                                                            FloatArray, FloatArray]:
    """Means and second moments of the TFIM's terms in the open-chain ground state, exactly.

    Every term is a Majorana bilinear ``T = -i g_k g_l`` (module docstring): ``Z_i Z_{i+1}``
    is ``(k, l) = (2i+1, 2i+2)`` and ``X_i`` is ``(2i, 2i+1)``. Wick's theorem with the full
    two-point function ``M`` (diagonal included) gives
    ``<T_kl T_mn> = -(M_kl M_mn - M_km M_ln + M_kn M_lm)``.

    Returns
    -------
    zz_mean : (N-1,)
        ``<Z_i Z_{i+1}>``.
    zz_second : (N-1, N-1)
        ``<Z_i Z_{i+1} Z_j Z_{j+1}>`` (ones on the diagonal).
    x_mean : (N,)
        ``<X_i>``.
    x_second : (N, N)
        ``<X_i X_j>`` (ones on the diagonal).
    """
    check_tfim_params(n, J, h, "open")
    m = _majorana_two_point(n, J, h)
    out = []
    for k, l in ((np.arange(1, 2 * n - 2, 2), np.arange(2, 2 * n - 1, 2)),
                 (np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2))):
        mean = np.real(-1j * m[k, l])
        kk, ll = k[:, None], l[:, None]
        mm, nn = k[None, :], l[None, :]
        second = -(m[kk, ll] * m[mm, nn] - m[kk, mm] * m[ll, nn] + m[kk, nn] * m[ll, mm])
        out += [mean, np.real(second)]
    return out[0], out[1], out[2], out[3]
