"""Maximum-likelihood physical states for outcome tables.

* :func:`fit_mle` -- the physical state whose Born distribution is closest in KL to a table
  (maximise ``sum_a P(a) log Tr[rho M(a)]``), ``rho = A A^+ / Tr``, by L-BFGS on ``A``;
* :func:`fit_mle_auto` -- the same with the rank chosen by how well the states predict shots;
* :func:`mle_parameter_count` -- real parameters of a rank-r state.

The Born tables and the ``R`` operator are the qubit-by-qubit contractions of
:mod:`qtomo.reconstruction.density`; the POVM may differ from qubit to qubit
(:class:`qtomo.povm.frames.LocalFrames`, e.g. readout errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.povm.born import outcome_index
from qtomo.povm.frames import AnyFrame, site_operators
from qtomo.reconstruction.density import (
    check_table_size,
    hermitian_part,
    product_table,
    project_to_physical,
    weighted_operator,
)
from qtomo.typing import ComplexArray, FloatArray, Outcomes

@dataclass
class MLEResult:
    """A physical state fitted to an outcome table by maximum likelihood.

    Attributes
    ----------
    rho : complex128 (2^N, 2^N), positive semidefinite, trace 1
    rank : int
        Rank of the factor ``A`` (``rho = A A^+ / Tr[A A^+]``).
    kl : float
        KL(P || p_rho) in nats at the optimum (P the fitted table).
    iterations : int
    converged : bool
    """

    rho: ComplexArray
    rank: int
    kl: float
    iterations: int
    converged: bool
    history: list[float] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """JSON-able description (no matrices)."""
        return {"rank": self.rank, "kl_to_table": self.kl, "iterations": self.iterations,
                "converged": self.converged, "rank_candidates": self.candidates}


def _kl(p: FloatArray, q: FloatArray) -> float:
    pos = p > 0
    return float(np.sum(p[pos] * (np.log(p[pos]) - np.log(np.maximum(q[pos], 1e-300)))))


def start_factor(init: ComplexArray, r: int) -> ComplexArray:
    """The starting factor A (d, r): the top r eigenvectors of ``init``, kept off the edge."""
    d = init.shape[0]
    w, v = np.linalg.eigh(hermitian_part(init))
    order = np.argsort(w)[::-1][:r]
    lam = np.clip(w[order], 0.0, None)
    # keep a little weight on every column so that no direction starts dead, and move the
    # start off special states (a pure GHZ state gives exactly zero probability to outcomes
    # that a noisy table holds, which would make the first gradient infinite)
    lam = lam + 1e-3 * max(lam.max(), 1e-12)
    a0 = v[:, order] * np.sqrt(lam)[None, :]
    kick = np.random.default_rng(0).normal(size=(d, r, 2)) @ np.array([1.0, 1j])
    return a0 + 1e-2 * np.linalg.norm(a0) / np.sqrt(d * r) * kick


def _unpack(x: np.ndarray, d: int, r: int) -> ComplexArray:
    return (x[: d * r] + 1j * x[d * r :]).reshape(d, r)


def _objective(p: FloatArray, m: ComplexArray, n: int, r: int, history: list[float]
               ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """-L(A A^+ / Tr) and its gradient in the real parameters (appends KL to ``history``)."""
    d = 2**n
    pos = p > 0
    const = float(np.sum(p[pos] * np.log(p[pos])))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        a = _unpack(x, d, r)
        t = float(np.vdot(a, a).real)
        if not t > 0:
            return 1e300, np.zeros_like(x)
        rho = a @ a.conj().T
        q = np.maximum(product_table(rho, m).real, 1e-300)
        f = -float(np.sum(p[pos] * np.log(q[pos]))) + np.log(t)
        rop = weighted_operator(np.where(pos, p / q, 0.0), m, n)
        g = -(rop @ a) + a / t  # dL/dA^*
        history.append(f + const)
        return f, 2.0 * np.concatenate([g.real.ravel(), g.imag.ravel()])

    return fun


def fit_mle(
    probs: FloatArray,
    frame: AnyFrame,
    n: int,
    *,
    rank: int | None = 1,
    init: ComplexArray | None = None,
    max_iter: int = 400,
    tol: float = 1e-10,
) -> MLEResult:
    """Maximum-likelihood physical state for an outcome table.

    Maximises ``L(rho) = sum_a P(a) log Tr[rho M(a)]`` over density matrices written as
    ``rho = A A^+ / Tr[A A^+]`` with ``A`` of shape ``(2^N, rank)`` (``rank=None``: full rank),
    by L-BFGS on the real and imaginary parts of ``A``. With P a model's table this is the
    physical state whose Born distribution is closest to the model in KL(P || p_rho); with P
    the raw shot frequencies it is the usual maximum-likelihood tomography. A low rank is the
    right prior for nearly pure targets.

    The gradient is ``dL/dA^* = R A - A / Tr[A A^+]`` with
    ``R = sum_a P(a) / Tr[A A^+ M(a)] M(a)`` (the operator of the ``R rho R`` algorithm);
    Born tables and ``R`` are contracted qubit by qubit.

    Parameters
    ----------
    probs : (K^N,) float64, non-negative (normalised here)
    frame : Frame with the POVM elements M
    n : int, number of qubits
    rank : int or None
    init : density matrix to start from (its top ``rank`` eigenvectors), default: the
        projected linear inversion of ``probs``.
    max_iter, tol : L-BFGS settings (``tol`` on the relative change of the objective).
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    K = frame.K  # noqa: N806
    check_table_size(n, K, "maximum-likelihood fitting")
    if p.size != K**n:
        raise InputValueError(f"table has {p.size} entries, expected K^N = {K}^{n}")
    p = p / p.sum()
    d = 2**n
    r = d if rank is None else int(rank)
    if not 1 <= r <= d:
        raise InputValueError(f"rank must lie in 1..{d}, got {rank}")
    if init is None:
        from qtomo.povm.born import rho_from_probabilities

        init = project_to_physical(rho_from_probabilities(p, frame, n))
    m = site_operators(frame, n)
    history: list[float] = []
    rho, nit, ok = minimize_factor(_objective(p, m, n, r, history), start_factor(init, r),
                                   max_iter=max_iter, tol=tol)
    q = product_table(rho, m).real
    return MLEResult(rho=rho, rank=r, kl=_kl(p, q), iterations=nit, converged=ok,
                     history=history)


def minimize_factor(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], a0: ComplexArray,
                    *, max_iter: int, tol: float) -> tuple[ComplexArray, int, bool]:
    """L-BFGS over the factor A (d, r) of rho = A A^+ / Tr from ``a0``; ``fun`` maps the real
    parameters [Re A, Im A] to (objective, gradient). Returns (rho, iterations, converged)."""
    from scipy.optimize import minimize

    d, r = a0.shape
    x0 = np.concatenate([a0.real.ravel(), a0.imag.ravel()])
    res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": int(max_iter), "ftol": tol, "gtol": 1e-9,
                            "maxcor": 20})
    a = _unpack(res.x, d, r)
    rho = a @ a.conj().T
    return hermitian_part(rho / np.trace(rho).real), int(res.nit), bool(res.success)


def mle_parameter_count(n: int, rank: int) -> int:
    """Real parameters of a rank-r density matrix of N qubits: 2 d r - r^2 - 1, d = 2^N."""
    d = 2**n
    return 2 * d * rank - rank * rank - 1


def shots_log_p(rho: ComplexArray, frame: AnyFrame, n: int, index: np.ndarray) -> np.ndarray:
    """log p_rho(a) of every shot, the shots given by their flat outcome indices ``index``."""
    q = np.maximum(product_table(rho, site_operators(frame, n)).real, 1e-300)
    return np.log(q[index])


def shots_nll(rho: ComplexArray, frame: AnyFrame, n: int, index: np.ndarray) -> float:
    """-sum log p_rho(a) over shots given by their flat outcome indices ``index``."""
    return float(-shots_log_p(rho, frame, n, index).sum())


def fit_mle_auto(
    probs: FloatArray,
    frame: AnyFrame,
    n: int,
    *,
    n_shots: int,
    score_outcomes: Outcomes | None = None,
    held_out: bool = False,
    max_rank: int | None = None,
    init: ComplexArray | None = None,
    max_iter: int = 400,
) -> MLEResult:
    """:func:`fit_mle` with the rank chosen by how well the fitted state predicts shots.

    Ranks 1, 2, 4, ... are fitted to the table in turn and each is scored; the search stops
    at the first rank that does not lower the score. ``k_r`` is the number of real
    parameters of a rank-r state (:func:`mle_parameter_count`).

    * Without ``score_outcomes`` (a table of shot frequencies): Akaike's criterion
      ``AIC = 2 n_shots KL(P || p_rho) + 2 k_r`` -- twice the negative log-likelihood of the
      ``n_shots`` shots behind the table, up to a constant, plus twice the parameter count.
    * With ``score_outcomes`` (a model's table): the fitted states are scored on measured
      shots, ``-2 sum_a log p_rho(a)``, plus ``2 k_r`` unless ``held_out`` (shots the model
      never saw: plain held-out likelihood). A model's own errors look like structure to a
      criterion computed on its table; scored on real shots, a higher rank has to explain the
      data, not the model's artefacts.

    Nearly pure targets end at rank 1; mixed (noisy) ones climb until the extra weight stops
    paying off.
    """
    if n_shots < 1:
        raise InputValueError(f"n_shots must be >= 1, got {n_shots}")
    d = 2**n
    top = d if max_rank is None else max(1, min(int(max_rank), d))
    if init is None:
        from qtomo.povm.born import rho_from_probabilities

        init = project_to_physical(rho_from_probabilities(probs, frame, n))
    idx = None
    if score_outcomes is not None:
        idx = outcome_index(np.asarray(score_outcomes), frame.K)
        if idx.size == 0:
            raise InputValueError("score_outcomes holds no shots")
    best: MLEResult | None = None
    best_score = np.inf
    candidates: list[dict[str, Any]] = []
    r = 1
    while r <= top:
        res = fit_mle(probs, frame, n, rank=r, init=init, max_iter=max_iter)
        k = mle_parameter_count(n, r)
        entry: dict[str, Any] = {"rank": r, "kl_to_table": res.kl, "parameters": k,
                                 "iterations": res.iterations}
        if idx is None:
            score = 2.0 * n_shots * res.kl + 2.0 * k
            entry["aic"] = float(score)
        else:
            nll = shots_nll(res.rho, frame, n, idx)
            entry["shots_nll"] = nll
            score = 2.0 * nll + (0.0 if held_out else 2.0 * k)
            entry["held_out_score" if held_out else "shots_aic"] = float(score)
        candidates.append(entry)
        if score >= best_score:
            break
        best, best_score = res, score
        if r == top:
            break
        r = min(2 * r, top)
    assert best is not None
    best.candidates = candidates
    return best


__all__ = ["MLEResult", "fit_mle", "fit_mle_auto", "minimize_factor", "mle_parameter_count",
           "shots_log_p", "shots_nll", "start_factor"]
