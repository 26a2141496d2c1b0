"""The maximum-likelihood objective of :mod:`qtomo.reconstruction.mle` and its pieces.

* :func:`likelihood_objective` -- ``-L(E_p(A A^+) / Tr)`` of an outcome table and its gradient
  in the real parameters [Re A, Im A, (p)], the function the L-BFGS fits minimise (also used
  by :mod:`qtomo.reconstruction.symmetric_mle` through a linear map of the parameters);
* :func:`noisy_site_operators` -- per-qubit POVM elements behind local depolarizing noise;
* :func:`unpack_factor` -- the factor ``A`` from the real parameter vector;
* :func:`kl_divergence` -- KL(P || q) of two outcome tables, the fits' reported distance.

The Born tables and ``R`` are the contractions of :mod:`qtomo.reconstruction.density`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qtomo.povm.frames import AnyFrame, site_operators
from qtomo.reconstruction.density import born_table, hermitian_weighted_operator, partial_trace
from qtomo.typing import ComplexArray, FloatArray


def kl_divergence(p: FloatArray, q: FloatArray) -> float:
    """KL(P || q) in nats of two tables over the same outcomes (terms with P = 0 drop out;
    q is floored at 1e-300)."""
    pos = p > 0
    return float(np.sum(p[pos] * (np.log(p[pos]) - np.log(np.maximum(q[pos], 1e-300)))))


def unpack_factor(x: np.ndarray, d: int, r: int) -> ComplexArray:
    """The factor A (d, r) from the real parameters [Re A, Im A, (more)]."""
    return (x[: d * r] + 1j * x[d * r : 2 * d * r]).reshape(d, r)


def likelihood_objective(p: FloatArray, frame: AnyFrame, n: int, r: int, history: list[float],
                         *, depolarizing: float = 0.0, fit_noise: bool = False
                         ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """-L(E_p(A A^+) / Tr) and its gradient in the real parameters (appends KL to ``history``).

    The parameters are [Re A, Im A], and with ``fit_noise`` the strength p last (else p is
    ``depolarizing``, fixed). The state is measured in the Heisenberg picture, with the
    depolarized POVM M_p. Its gradient in p needs no second contraction: with
    E_p = prod_j (1 + p Delta_j), Delta_j = D_j - 1 and D_j the full depolarization of qubit j,
    Delta_j^2 = -Delta_j gives dE_p/dp = sum_j Delta_j E_p / (1 - p), so that
    dL/dp = (sum_j Tr[D_j(R_p) A A^+] - N) / (1 - p), where R_p = sum_a P(a)/q(a) M_p(a) is the
    operator the gradient in A uses already (``Tr[R_p A A^+] = 1``) and
    Tr[D_j(X) Y] = Tr[Tr_j X Tr_j Y] / 2.
    """
    d = 2**n
    pos = p > 0
    every = bool(pos.all())  # a model's table is positive everywhere: no masking then
    p_pos = p if every else p[pos]
    const = float(np.dot(p_pos, np.log(p_pos)))
    fixed = noisy_site_operators(frame, n, depolarizing)
    q_buf, w_buf = np.empty_like(p), np.empty_like(p)  # kept from one evaluation to the next

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        noise = float(x[-1]) if fit_noise else depolarizing
        a = unpack_factor(x, d, r)
        t = float(np.vdot(a, a).real)
        if not t > 0:
            return 1e300, np.zeros_like(x)
        m = noisy_site_operators(frame, n, noise) if fit_noise else fixed
        rho = a @ a.conj().T
        q = np.maximum(born_table(rho, m, out=q_buf), 1e-300, out=q_buf)
        log_q = np.log(q, out=w_buf) if every else np.log(q[pos])
        f = -float(np.dot(p_pos, log_q)) + np.log(t)
        ratio = np.divide(p, q, out=w_buf)  # P / q: 0 where P is
        rop = hermitian_weighted_operator(ratio, m, n)
        g = -(rop @ a) + a / t  # dL/dA^*
        history.append(f + const)
        grad = [2.0 * g.real.ravel(), 2.0 * g.imag.ravel()]
        if fit_noise:  # d(-L)/dp
            dj = _local_depolarization_sum(rop, rho, n)
            grad.append(np.array([-(dj - n) / (1.0 - noise)]))
        return f, np.concatenate(grad)

    return fun


def noisy_site_operators(frame: AnyFrame, n: int, noise: float) -> ComplexArray:
    """Per-qubit POVM elements behind local depolarizing noise of strength ``noise``."""
    return site_operators(frame.depolarized(noise) if noise > 0 else frame, n)


def _local_depolarization_sum(x: ComplexArray, y: ComplexArray, n: int) -> float:
    """sum_j Tr[D_j(X) Y] = sum_j Tr[Tr_j X Tr_j Y] / 2 for Hermitian X and Y (d, d)."""
    total = 0.0
    for j in range(n):
        rest = [k for k in range(n) if k != j]
        total += np.vdot(partial_trace(y, rest), partial_trace(x, rest)).real
    return 0.5 * float(total)


__all__ = ["kl_divergence", "likelihood_objective", "noisy_site_operators", "unpack_factor"]
