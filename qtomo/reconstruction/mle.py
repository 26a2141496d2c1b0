"""Maximum-likelihood physical states for outcome tables.

* :func:`fit_mle` -- the physical state whose Born distribution is closest in KL to a table
  (maximise ``sum_a P(a) log Tr[rho M(a)]``), ``rho = A A^+ / Tr``, by L-BFGS on ``A``;
* :func:`fit_mle_noisy` -- a rank-r state behind local depolarizing noise of a fitted strength;
* :func:`fit_mle_auto` -- the same with the rank (and the noise) chosen by how well the states
  predict shots;
* :func:`refit_like` -- a new table fitted in the family an earlier fit chose;
* :func:`mle_parameter_count` -- real parameters of a rank-r state.

Why a noise family: a state prepared with local noise is full rank however simple the noise
is, and a rank-r fit to scarce shots can only hold it pure (rank 1: the fidelity to the target
far too high) or spread shot noise over many eigenvalues (high rank: far too low; measured in
docs/design-notes.md, section "Noise in the maximum-likelihood family").
``E_p(A A^+ / Tr)``, ``E_p`` the local depolarizing channel on every qubit,
adds one parameter that holds all of that noise, fitted in the Heisenberg picture
(``Tr[E_p(sigma) M(a)] = Tr[sigma M_p(a)]``, :meth:`qtomo.povm.frames.Frame.depolarized`)
jointly with ``A`` and taken only where the shots ask for it by a likelihood-ratio margin
(``NOISE_PENALTY``), so that shots of a pure state keep p = 0.

The objective and its gradient live in :mod:`qtomo.reconstruction.mle_objective`: Born tables
and ``R`` by the contractions of :mod:`qtomo.reconstruction.density`, their tables reused
across a fit's evaluations; the POVM may differ from qubit to qubit (readout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from qtomo.errors import InputValueError
from qtomo.povm.born import outcome_index, rho_from_probabilities
from qtomo.povm.frames import AnyFrame, site_operators
from qtomo.reconstruction.density import (
    born_table,
    check_table_size,
    hermitian_part,
    project_to_physical,
)
from qtomo.reconstruction.mle_objective import (
    kl_divergence,
    likelihood_objective,
    noisy_site_operators,
    unpack_factor,
)
from qtomo.reconstruction.site_products import reused_buffers
from qtomo.states.noise import depolarize
from qtomo.typing import ComplexArray, FloatArray, Outcomes

#: The depolarizing family is tried up to this many qubits, the largest dense N (one joint fit
#: per rank; ``scripts/bench_noise_fit.py`` times it at N = 10).
NOISE_FIT_MAX_QUBITS = 10
#: Largest local depolarizing strength searched.
NOISE_MAX = 0.5
#: Score cost of the fitted strength, in the units of the AIC (-2 log L + 2 k): the 0.999
#: quantile of chi-square with one degree of freedom. The noise is taken only where the
#: likelihood-ratio test against p = 0 rejects at 0.001: shots of a pure state, whose fit gains
#: a nat or two from any p > 0 by chance, keep p = 0 (a spurious small p lowers an N-qubit
#: fidelity by order N p), while a noisy state's shots gain far more than the margin.
NOISE_PENALTY = 10.83


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
    depolarizing : float
        Strength p of the local depolarizing noise in ``rho = E_p(A A^+ / Tr)`` (0: none).
    """

    rho: ComplexArray
    rank: int
    kl: float
    iterations: int
    converged: bool
    history: list[float] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    depolarizing: float = 0.0

    def info(self) -> dict[str, Any]:
        """JSON-able description (no matrices)."""
        return {"rank": self.rank, "depolarizing": self.depolarizing, "kl_to_table": self.kl,
                "iterations": self.iterations, "converged": self.converged,
                "rank_candidates": self.candidates}


def start_factor(init: ComplexArray, r: int) -> ComplexArray:
    """The starting factor A (d, r): the top r eigenvectors of ``init``, kept off the edge."""
    d = init.shape[0]
    w, v = np.linalg.eigh(hermitian_part(init))
    order = np.argsort(w)[::-1][:r]
    lam = np.clip(w[order], 0.0, None)
    # keep a little weight on every column (no direction starts dead), and move the start off
    # special states (pure GHZ gives zero probability to outcomes a noisy table holds)
    lam = lam + 1e-3 * max(lam.max(), 1e-12)
    a0 = v[:, order] * np.sqrt(lam)[None, :]
    kick = np.random.default_rng(0).normal(size=(d, r, 2)) @ np.array([1.0, 1j])
    return a0 + 1e-2 * np.linalg.norm(a0) / np.sqrt(d * r) * kick


def fit_mle(
    probs: FloatArray,
    frame: AnyFrame,
    n: int,
    *,
    rank: int | None = 1,
    init: ComplexArray | None = None,
    max_iter: int = 400,
    tol: float = 1e-10,
    depolarizing: float = 0.0,
    fit_depolarizing: bool = False,
    p_max: float = NOISE_MAX,
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
    Born tables and ``R`` are contracted qubit by qubit, in the real Pauli basis.

    Parameters
    ----------
    probs : (K^N,) float64, non-negative (normalised here)
    frame : Frame with the POVM elements M
    n : int, number of qubits
    rank : int or None
    init : density matrix to start from (its top ``rank`` eigenvectors), default: the
        projected linear inversion of ``probs``.
    max_iter, tol : L-BFGS settings (``tol`` on the relative change of the objective).
    depolarizing : float
        A local depolarizing strength p: the state is ``E_p(A A^+ / Tr)`` (module doc); with
        ``fit_depolarizing`` the strength the fit starts from.
    fit_depolarizing : bool
        Fit p in [0, ``p_max``] jointly with ``A`` (L-BFGS-B, p the one bounded parameter).
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    K = frame.K
    check_table_size(n, K, "maximum-likelihood fitting")
    if p.size != K**n:
        raise InputValueError(f"table has {p.size} entries, expected K^N = {K}^{n}")
    p = p / p.sum()
    d = 2**n
    r = d if rank is None else int(rank)
    if not 1 <= r <= d:
        raise InputValueError(f"rank must lie in 1..{d}, got {rank}")
    if init is None:
        init = project_to_physical(rho_from_probabilities(p, frame, n))
    noise = float(depolarizing)
    if not 0.0 <= noise <= 1.0:
        raise InputValueError(f"depolarizing strength must lie in [0, 1], got {depolarizing}")
    history: list[float] = []
    fun = likelihood_objective(p, frame, n, r, history, depolarizing=noise,
                               fit_noise=fit_depolarizing)
    bounds = (min(noise, p_max), 0.0, p_max) if fit_depolarizing else None
    sigma, nit, ok, fitted = _minimize(fun, start_factor(init, r), max_iter=max_iter, tol=tol,
                                       extra=bounds)
    if fit_depolarizing:
        noise = float(fitted)
    q = born_table(sigma, noisy_site_operators(frame, n, noise))
    rho = depolarize(sigma, noise) if noise > 0 else sigma
    return MLEResult(rho=rho, rank=r, kl=kl_divergence(p, q), iterations=nit, converged=ok,
                     history=history, depolarizing=noise)


def fit_mle_noisy(
    probs: FloatArray,
    frame: AnyFrame,
    n: int,
    *,
    rank: int,
    init: ComplexArray | None = None,
    max_iter: int = 400,
    p_max: float = NOISE_MAX,
    p_start: float = 0.0,
) -> MLEResult:
    """:func:`fit_mle` in the family ``E_p(A A^+ / Tr)`` with the strength p fitted too, in one
    L-BFGS-B run over ``A`` and p in [0, ``p_max``] from (``init``, ``p_start``).

    One joint descent, not a search over p with ``A`` refitted at every trial: a trial far from
    the optimum bends ``A`` away from the state, and the next trial, started there, may stay
    in that valley; the joint descent also costs one fit, not a dozen.
    """
    return fit_mle(probs, frame, n, rank=rank, init=init, max_iter=max_iter,
                   depolarizing=p_start, fit_depolarizing=True, p_max=p_max)


def has_noise(fit: dict[str, Any]) -> bool:
    """Whether a fit (its :meth:`MLEResult.info`) holds a fitted depolarizing strength."""
    return float(fit.get("depolarizing") or 0.0) > 0


#: ``depolarizing_from`` of a fit whose strength the shots set (:mod:`.shots_noise`).
NOISE_FROM_SHOTS = "shots"


def noise_fixed(fit: dict[str, Any]) -> bool:
    """Whether a fit's depolarizing strength is the shots' own, held fixed in its refits."""
    return has_noise(fit) and fit.get("depolarizing_from") == NOISE_FROM_SHOTS


def refit_like(probs: FloatArray, frame: AnyFrame, n: int, fit: dict[str, Any], *,
               init: ComplexArray | None = None, max_iter: int = 400) -> MLEResult:
    """Fit ``probs`` in the family of an earlier fit (its :meth:`MLEResult.info`): the same
    rank, and the depolarizing strength searched again where that fit had one (a resample's
    spread then holds the strength's uncertainty too), or held at its value where the shots
    measured it (:func:`noise_fixed`; a member passes the strength of its own resample)."""
    p, search = float(fit.get("depolarizing") or 0.0), has_noise(fit) and not noise_fixed(fit)
    return fit_mle(probs, frame, n, rank=int(fit["rank"]), init=init, max_iter=max_iter,
                   depolarizing=p, fit_depolarizing=search)


def minimize_factor(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], a0: ComplexArray,
                    *, max_iter: int, tol: float) -> tuple[ComplexArray, int, bool]:
    """L-BFGS over A (d, r) of rho = A A^+ / Tr from ``a0``, ``fun`` mapping [Re A, Im A] to
    (objective, gradient). Returns (rho, iterations, converged)."""
    rho, nit, ok, _ = _minimize(fun, a0, max_iter=max_iter, tol=tol)
    return rho, nit, ok


def _minimize(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], a0: ComplexArray, *,
              max_iter: int, tol: float, extra: tuple[float, float, float] | None = None
              ) -> tuple[ComplexArray, int, bool, float | None]:
    """:func:`minimize_factor`, with ``extra`` = (start, low, high) one more bounded real
    parameter after [Re A, Im A]; its final value is returned last (None without it)."""
    d, r = a0.shape
    x0 = np.concatenate([a0.real.ravel(), a0.imag.ravel()])
    bounds = None
    if extra is not None:
        x0 = np.append(x0, extra[0])
        bounds = [(None, None)] * (2 * d * r) + [(extra[1], extra[2])]
    opts = {"maxiter": int(max_iter), "ftol": tol, "gtol": 1e-9, "maxcor": 20}
    with reused_buffers():  # the contractions' intermediate tables, kept across evaluations
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
    a = unpack_factor(res.x, d, r)
    rho = a @ a.conj().T
    value = None if extra is None else float(res.x[-1])
    return (hermitian_part(rho / np.trace(rho).real), int(res.nit), bool(res.success), value)


def mle_parameter_count(n: int, rank: int) -> int:
    """Real parameters of a rank-r density matrix of N qubits: 2 d r - r^2 - 1, d = 2^N."""
    d = 2**n
    return 2 * d * rank - rank * rank - 1


def shots_log_p(rho: ComplexArray, frame: AnyFrame, n: int, index: np.ndarray) -> np.ndarray:
    """log p_rho(a) of every shot, the shots given by their flat outcome indices ``index``."""
    q = np.maximum(born_table(rho, site_operators(frame, n)), 1e-300)
    return np.log(q[index])


def shots_nll(rho: ComplexArray, frame: AnyFrame, n: int, index: np.ndarray) -> float:
    """-sum log p_rho(a) over shots given by their flat outcome indices ``index``."""
    return float(-shots_log_p(rho, frame, n, index).sum())


@dataclass
class _Scorer:
    """The rank criterion of :func:`fit_mle_auto`: the AIC of the table's shots, or
    ``-2 log L`` of measured shots (flat indices ``idx``), plus ``2 k`` unless held out."""

    n_shots: int
    frame: AnyFrame
    n: int
    idx: np.ndarray | None
    held_out: bool

    @property
    def key(self) -> str:
        if self.idx is None:
            return "aic"
        return "held_out_score" if self.held_out else "shots_aic"

    def __call__(self, res: MLEResult, k: int, extra_penalty: float = 0.0
                 ) -> tuple[float, dict[str, Any]]:
        if self.idx is None:
            return float(2.0 * self.n_shots * res.kl + 2.0 * k + extra_penalty), {}
        nll = shots_nll(res.rho, self.frame, self.n, self.idx)
        # the noise's margin stays on held-out shots too: it guards pure states against chance
        penalty = (0.0 if self.held_out else 2.0 * k) + extra_penalty
        return float(2.0 * nll + penalty), {"shots_nll": nll}


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
    noise: bool = True,
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

    With ``noise`` (N <= ``NOISE_FIT_MAX_QUBITS``) every rank is also fitted behind local
    depolarizing noise of a fitted strength (:func:`fit_mle_noisy`), scored the same way plus
    ``NOISE_PENALTY``; the better of the two stands for the rank (module doc).

    Nearly pure targets end at rank 1 without noise; mixed (noisy) ones either take the noise
    or climb until the extra weight stops paying off.
    """
    if n_shots < 1:
        raise InputValueError(f"n_shots must be >= 1, got {n_shots}")
    d = 2**n
    top = d if max_rank is None else max(1, min(int(max_rank), d))
    if init is None:
        init = project_to_physical(rho_from_probabilities(probs, frame, n))
    idx = None
    if score_outcomes is not None:
        idx = outcome_index(np.asarray(score_outcomes), frame.K)
        if idx.size == 0:
            raise InputValueError("score_outcomes holds no shots")
    score = _Scorer(n_shots, frame, n, idx, held_out)
    try_noise = noise and n <= NOISE_FIT_MAX_QUBITS
    best: MLEResult | None = None
    best_score = np.inf
    candidates: list[dict[str, Any]] = []
    r = 1
    while r <= top:
        res = fit_mle(probs, frame, n, rank=r, init=init, max_iter=max_iter)
        k = mle_parameter_count(n, r)
        s, extra = score(res, k)
        entry: dict[str, Any] = {"rank": r, "kl_to_table": res.kl, "parameters": k,
                                 "iterations": res.iterations, **extra, score.key: s}
        if try_noise:
            noisy = fit_mle_noisy(probs, frame, n, rank=r, init=res.rho, max_iter=max_iter)
            s_noisy, extra = score(noisy, k, NOISE_PENALTY)
            entry["with_noise"] = {"depolarizing": noisy.depolarizing, "kl_to_table": noisy.kl,
                                   **extra, score.key: s_noisy, "penalty": NOISE_PENALTY}
            if s_noisy < s:
                res, s = noisy, s_noisy
            entry["chosen_depolarizing"] = res.depolarizing
        candidates.append(entry)
        if s >= best_score:
            break
        best, best_score = res, s
        if r == top:
            break
        r = min(2 * r, top)
    assert best is not None
    best.candidates = candidates
    return best


__all__ = ["NOISE_FIT_MAX_QUBITS", "NOISE_FROM_SHOTS", "NOISE_MAX", "NOISE_PENALTY", "MLEResult",
           "fit_mle", "fit_mle_auto", "fit_mle_noisy", "has_noise", "minimize_factor",
           "mle_parameter_count", "noise_fixed", "refit_like", "shots_log_p", "shots_nll",
           "start_factor"]
