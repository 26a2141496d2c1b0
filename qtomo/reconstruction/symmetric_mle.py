"""Maximum likelihood among permutation-symmetric states behind local depolarizing noise.

The family

    rho(c, p) = E_p( |phi><phi| / <phi|phi> ),   |phi> = sum_k c_k |D_k>,

|D_k> the N + 1 Dicke states (k ones, equal weights) and E_p the depolarizing channel of
strength p on every qubit, is fitted over 2N + 3 real numbers (the N + 1 complex amplitudes,
whose norm and overall phase leave the state as it is, and p) instead of the 2 * 4^N of a
full-rank state or the 2^(N+1) + 1 of :func:`qtomo.reconstruction.mle.fit_mle_noisy` at rank 1.
It holds every pure permutation-symmetric state (GHZ, W, Dicke) with local depolarizing noise,
so for shots of such a state it is the true family: its maximum-likelihood state shows how far
the shots themselves fix a figure when the estimator is told everything about the state but the
numbers. ``scripts/bench_families.py`` prints its fidelity beside the model's and the
raw-frequency MLE's for GHZ and W cells, to tell a cell where the shots fall short of a target
error from one where an estimator does.

The fit is :func:`qtomo.reconstruction.mle.fit_mle`'s L-BFGS-B objective
(:func:`qtomo.reconstruction.mle_objective.likelihood_objective`: Born tables and its
gradient by the qubit-by-qubit contractions, p in [0, ``NOISE_MAX``]) composed with the linear
map c -> A = B c, B the real (2^N, N + 1) matrix of Dicke states, so the gradient in c is B^T
times the gradient in A. The likelihood of this family can hold local optima (a fit started
from the projected linear inversion can end far from one started from the maximally mixed
state, at a lower likelihood), so the fit runs from several starts and keeps the highest
likelihood (docs/design-notes.md, section "Several starts for the symmetric family").
"""

from __future__ import annotations

from math import comb

import numpy as np
from scipy.optimize import minimize

from qtomo.errors import InputValueError
from qtomo.povm.born import rho_from_probabilities
from qtomo.povm.frames import AnyFrame
from qtomo.reconstruction import mle
from qtomo.reconstruction.density import born_table, check_table_size, project_to_physical
from qtomo.reconstruction.mle_objective import (
    kl_divergence,
    likelihood_objective,
    noisy_site_operators,
)
from qtomo.reconstruction.site_products import reused_buffers
from qtomo.states.noise import depolarize
from qtomo.typing import ComplexArray, FloatArray

#: Depolarizing strength every start begins at.
P_START = 0.02


def dicke_basis(n: int) -> FloatArray:
    """The N + 1 Dicke states as the columns of a real (2^N, N + 1) matrix, orthonormal;
    column k holds 1 / sqrt(C(N, k)) at every basis string with k ones."""
    if n < 1:
        raise InputValueError(f"need at least one qubit, got {n}")
    ones = np.array([bin(i).count("1") for i in range(2**n)])
    basis = np.zeros((2**n, n + 1))
    for k in range(n + 1):
        basis[ones == k, k] = 1.0 / np.sqrt(comb(n, k))
    return basis


def is_symmetric(psi: ComplexArray, tol: float = 1e-8) -> bool:
    """Whether a state vector lies in the span of the Dicke states (invariant under every
    permutation of the qubits)."""
    v = np.asarray(psi, dtype=np.complex128).ravel()
    n = int(round(np.log2(v.size)))
    if v.size != 2**n or not np.linalg.norm(v) > 0:
        return False
    b = dicke_basis(n)
    return bool(np.linalg.norm(v - b @ (b.T @ v)) <= tol * np.linalg.norm(v))


def fit_symmetric_mle(probs: FloatArray, frame: AnyFrame, n: int, *,
                      starts: list[ComplexArray] | None = None,
                      max_iter: int = 400) -> mle.MLEResult:
    """The maximum-likelihood state of an outcome table in the symmetric noisy family.

    ``starts`` are density matrices whose top eigenvector, projected onto the Dicke states,
    starts one fit each (default: the projected linear inversion of ``probs`` and the
    maximally mixed state); the fit with the lowest KL(P || p_rho) is returned, with each
    start's KL, strength and iterations in ``candidates``.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    check_table_size(n, frame.K, "maximum-likelihood fitting")
    if p.size != frame.K**n:
        raise InputValueError(f"table has {p.size} entries, expected K^N = {frame.K}^{n}")
    if not p.sum() > 0:
        raise InputValueError("the table holds no probability (all entries zero)")
    p = p / p.sum()
    if starts is None:
        starts = [project_to_physical(rho_from_probabilities(p, frame, n)),
                  np.eye(2**n, dtype=np.complex128) / 2**n]
    basis = dicke_basis(n)
    best: mle.MLEResult | None = None
    tried = []
    for init in starts:
        res = _fit_from(p, frame, n, basis, init, max_iter)
        tried.append({"kl_to_table": res.kl, "depolarizing": res.depolarizing,
                      "iterations": res.iterations})
        if best is None or res.kl < best.kl:
            best = res
    assert best is not None
    best.candidates = tried
    return best


def _fit_from(p: FloatArray, frame: AnyFrame, n: int, basis: FloatArray, init: ComplexArray,
              max_iter: int) -> mle.MLEResult:
    """One L-BFGS-B run over the Dicke amplitudes and p from ``init``."""
    d, m = basis.shape
    history: list[float] = []
    fun = likelihood_objective(p, frame, n, 1, history, fit_noise=True)

    def on_amplitudes(x: np.ndarray) -> tuple[float, np.ndarray]:
        a = basis @ (x[:m] + 1j * x[m: 2 * m])
        value, g = fun(np.concatenate([a.real, a.imag, x[-1:]]))
        gc = basis.T @ (g[:d] + 1j * g[d: 2 * d])  # real map: the chain rule is B^T
        return value, np.concatenate([gc.real, gc.imag, g[-1:]])

    c0 = basis.T @ mle.start_factor(init, 1)[:, 0]
    x0 = np.concatenate([c0.real, c0.imag, [P_START]])
    bounds = [(None, None)] * (2 * m) + [(0.0, mle.NOISE_MAX)]
    opts = {"maxiter": int(max_iter), "ftol": 1e-10, "gtol": 1e-9, "maxcor": 20}
    with reused_buffers():
        res = minimize(on_amplitudes, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options=opts)
    phi = basis @ (res.x[:m] + 1j * res.x[m: 2 * m])
    sigma = np.outer(phi, phi.conj()) / np.vdot(phi, phi).real
    noise = float(res.x[-1])
    q = born_table(sigma, noisy_site_operators(frame, n, noise))
    rho = depolarize(sigma, noise) if noise > 0 else sigma
    return mle.MLEResult(rho=rho, rank=1, kl=kl_divergence(p, q),
                         iterations=int(res.nit), converged=bool(res.success),
                         history=history, depolarizing=noise)


__all__ = ["P_START", "dicke_basis", "fit_symmetric_mle", "is_symmetric"]
