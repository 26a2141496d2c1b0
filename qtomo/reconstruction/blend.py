"""The model's maximum-likelihood state, shrunk toward its training shots by a weight that the
held-out shots and the two estimators' own errors choose.

The model's MLE state is fitted to the mixture

    T_w = (1 - w) Q + w f_train,        w in BLEND_WEIGHTS = 0, 1/4, 1/2, 3/4, 1,

Q the model's outcome table (K^N,), f_train the frequencies of the shots the model was trained
on (the run's train/validation split, rebuilt from its seed; averaged over the run's symmetry
group, :meth:`RunShots.frequencies`), in the family (rank r, depolarizing noise) chosen for Q:
w = 0 is the model alone, w = 1 standard tomography of the training shots. Why a mixture: a
generative model smooths the frequencies, which wins where the shots are scarce (many qubits,
few shots) and loses to the frequencies' own MLE, the efficient estimate, where they are
plentiful; which regime a dataset is in is not known in advance.

The weight (:func:`choose_weight`; the rule in :mod:`qtomo.reconstruction.blend_rule`):

1. **The held-out shots rule out what they can.** Each candidate state predicts the run's
   validation shots; a weight whose NLL per shot exceeds the best weight's by more than
   ``REJECT_STDERRS`` standard errors of the paired per-shot difference is ruled out
   (:func:`ruled_out`).
2. **The anchor decides the rest.** The many-body coherences that carry the fidelity (GHZ's
   |0...0><1...1| term) carry little of the likelihood, so the validation shots cannot see
   them; the two estimators' errors can. The anchor w_0 = (e_m - c) / (e_m + e_f - 2 c)
   minimises the expected infidelity of the mixture (:func:`anchor_weight`), e_f the
   split-half infidelity of the frequencies' MLE (:func:`split_half_infidelity`), e_m the
   model's (:func:`model_infidelity`: ``MODEL_INFIDELITY_FLOOR`` plus the scatter over the
   run's bootstrap members, :mod:`qtomo.reconstruction.model_spread`), c the overlap of their
   errors, read from the infidelity d between the two states. When the validation shots rule
   out w = 0 the anchor is 1 (:func:`weight_anchor`). The weight is the anchor itself where
   the grid weights on both sides of it are kept, else the kept grid weight nearest it
   (:func:`settle_weight`).

The chosen state is then refitted with the validation shots folded back into the frequencies
(:func:`blend_table`), so that at w = 1 it is the raw MLE of all the shots; e_f, d and the
validation likelihoods stay those of the training shots, on which the weights are compared.
The table's own fit (w = 0) is started again from the w = 1/4 state and the lower KL kept
(``restarted``): it can stop in a local optimum that the blended fits, started from it, leave
behind. Bootstrap and learning-curve members use the same w with the frequencies of their own
resample (:func:`qtomo.reconstruction.members.member_counts`), so their spread is that of
the blended estimator. Unbalanced fixed designs (a conditional model,
:mod:`~qtomo.reconstruction.design_weights`) and runs without validation shots do not blend.

The reasoning in full: docs/methods.md, section "The model's state, blended with the shots";
how each choice was measured: docs/design-notes.md, section "The blend's weight rule".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.povm.born import born_probabilities
from qtomo.reconstruction import mle
from qtomo.reconstruction.blend_rule import (
    BLEND_WEIGHTS,
    MODEL_INFIDELITY_FLOOR,
    REJECT_STDERRS,
    anchor_weight,
    model_infidelity,
    rule_weight,
    ruled_out,
    settle_weight,
    weight_anchor,
)
from qtomo.reconstruction.config import Stage
from qtomo.reconstruction.metrics import physical_fidelity
from qtomo.reconstruction.model_spread import member_spread
from qtomo.reconstruction.run_shots import RunShots, blend_table, run_shots

#: The table's fit started again from the w = 1/4 state replaces the first one when its KL to
#: the table is lower by more than this (nats): an optimiser's tolerance, not a test.
RESTART_KL_GAIN = 1e-7
#: Where the table's own fit started again comes from, in words (its ``mle_fit``).
RESTARTED_FROM = "the state of (3/4) Q + (1/4) f_train"
#: Seed of the random halving of the training shots (the anchor repeats exactly).
SPLIT_SEED = 20261206


def table_kl(rho: np.ndarray, table: np.ndarray, frame: Any) -> float:
    """KL(table || Born table of rho) in nats, the objective of the MLE fits."""
    p = np.asarray(table, dtype=np.float64)
    p = p / p.sum()
    q = np.maximum(born_probabilities(rho, frame), 1e-300)
    pos = p > 0
    return float(np.sum(p[pos] * np.log(p[pos] / q[pos])))


def split_half_infidelity(shots: RunShots, frame: Any, n: int, fit: dict[str, Any],
                          init: np.ndarray, seed: int = SPLIT_SEED) -> float:
    """The infidelity of the MLE of the training shots' frequencies (symmetrized as
    :meth:`RunShots.frequencies`, in the family of ``fit``), measured on the shots themselves:
    each shot goes to one of two halves at random, both halves are fitted, and two independent
    estimates whose errors each grow as 2 eps lie 4 eps apart, so
    eps = (1 - F(rho_A, rho_B)) / 4. No asymptotic constant enters: where the frequencies are
    sparse (many qubits, Pauli-4) it is what the fits really scatter by."""
    c = np.rint(shots.counts()).astype(np.int64)
    a = np.random.default_rng(seed).binomial(c, 0.5)
    halves = [shots.symmetrize(h / max(float(h.sum()), 1.0)) for h in (a, c - a)]
    rho_a, rho_b = (mle.refit_like(h, frame, n, fit, init=init).rho for h in halves)
    return max(0.0, (1.0 - physical_fidelity(rho_a, rho_b)) / 4.0)


def family_parameters(n: int, fit: dict[str, Any]) -> int:
    """Real parameters P of an MLE fit's family: rank r of N qubits, plus one for a fitted
    depolarizing strength."""
    return mle.mle_parameter_count(n, int(fit["rank"])) + int(mle.has_noise(fit))


def choose_weight(table: np.ndarray, shots: RunShots, rho_model: np.ndarray,
                  fit: dict[str, Any], frame: Any, n: int, stage: Stage,
                  spread: Callable[[np.ndarray], dict[str, Any] | None] | None = None
                  ) -> dict[str, Any]:
    """Fit T_w for every w in BLEND_WEIGHTS, score it on the validation shots, and keep the
    weight :func:`rule_weight` picks (module doc). ``spread(rho_0)``: the scatter of the
    table's state over the run's bootstrap members
    (:func:`~qtomo.reconstruction.model_spread.member_spread`), or None.

    Returns ``weight`` (:func:`settle_weight`), ``grid_weight`` (the kept grid weight
    nearest the anchor), ``rho`` (the state at ``weight``, fitted with the validation shots
    folded back into the frequencies: :func:`blend_table`), ``rho_train`` (the state of the
    training frequencies alone at ``grid_weight``), ``best_weight`` (the lowest NLL),
    ``anchor`` (:func:`weight_anchor`), ``raw_infidelity`` (the split-half e_f),
    ``model_infidelity`` (e_m) with ``model_spread`` (:func:`model_infidelity`),
    ``restarted`` (whether the table's own
    fit, started again from the w = 1/4 state, reached a lower KL: then ``table_rho`` and
    ``table_kl`` are that state and its KL), ``candidates`` (w, validation NLL per shot, its
    excess over the best with that excess's standard error (the paired per-shot difference),
    both in nats per shot, and whether the validation shots rule it out) and
    ``validation_shots``.
    """
    stage("model's MLE state: weight of the training shots (validation likelihood)")
    f_train = shots.frequencies()
    val = shots.index[shots.val_rows]
    rhos, log_p = [], []
    init = rho_model
    for w in BLEND_WEIGHTS:
        rho = rho_model if w == 0 else mle.refit_like(
            (1.0 - w) * table + w * f_train, frame, n, fit, init=init).rho
        rhos.append(rho)
        log_p.append(mle.shots_log_p(rho, frame, n, val))
        init = rho  # the next weight starts from this one
    # the table's own fit can end in a local optimum that the blended fits leave: start it
    # again from its neighbour's state and keep the lower KL to the table (module doc)
    again = mle.refit_like(table, frame, n, fit, init=rhos[1])
    restarted = bool(again.kl < table_kl(rho_model, table, frame) - RESTART_KL_GAIN)
    if restarted:
        rhos[0], log_p[0] = again.rho, mle.shots_log_p(again.rho, frame, n, val)
    nll = np.array([-lp.mean() for lp in log_p])
    best = int(np.argmin(nll))
    excess, stderr = [], []
    for lp in log_p:
        d = log_p[best] - lp
        excess.append(float(d.mean()))
        stderr.append(float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0)
    stage("model's MLE state: the training shots' own scatter (two halves)")
    eps_raw = split_half_infidelity(shots, frame, n, fit, init=rhos[-1])
    scatter = spread(rhos[0]) if spread is not None else None
    eps_model = model_infidelity(scatter)
    ex, se = np.array(excess), np.array(stderr)
    distance = max(0.0, 1.0 - physical_fidelity(rhos[0], rhos[-1]))
    anchor = weight_anchor(ex, se, anchor_weight(eps_model, eps_raw, distance))
    chosen = rule_weight(ex, se, anchor)
    weight = settle_weight(ex, se, anchor)
    rho = rhos[chosen]
    if weight > 0:  # the weight is chosen: the validation shots join the frequencies
        rho = mle.refit_like(blend_table(table, weight, shots), frame, n, fit, init=rho).rho
    candidates = [{"weight": w, "validation_nll_per_shot": float(nll[i]),
                   "excess_over_best": excess[i], "excess_stderr": stderr[i],
                   "ruled_out": ruled_out(excess[i], stderr[i])}
                  for i, w in enumerate(BLEND_WEIGHTS)]
    return {"weight": weight, "grid_weight": BLEND_WEIGHTS[chosen], "rho": rho,
            "rho_train": rhos[chosen],
            "best_weight": BLEND_WEIGHTS[best], "anchor": anchor,
            "raw_infidelity": eps_raw, "model_infidelity": eps_model, "distance": distance,
            "model_spread": scatter, "restarted": restarted,
            "table_rho": rhos[0], "table_kl": float(again.kl) if restarted else None,
            "candidates": candidates, "validation_shots": int(val.size)}


@dataclass(frozen=True)
class ModelBlend:
    """What the blend found for the model's MLE state (:func:`blend_model_state`).

    Attributes
    ----------
    section : dict
        ``report["quantum"]["model"]["blend"]``: the weight, the anchor and its parts, the
        candidates' validation likelihoods, and the method in words.
    weight : float
        Weight w of the shots' frequencies in the table of the model's MLE state.
    run_shots : RunShots
        The run's training and validation shots.
    rho : ndarray (2^N, 2^N)
        The state at ``weight`` (fitted with the validation shots folded back in; the table's
        own state at w = 0).
    table_rho : ndarray or None
        The table's own state started again from the w = 1/4 state, where it reached a lower
        KL (``restarted``; None otherwise), with ``table_kl`` its KL to the table.
    """

    section: dict[str, Any]
    weight: float
    run_shots: RunShots
    rho: np.ndarray
    table_rho: np.ndarray | None = None
    table_kl: float | None = None


#: How the blend's weight is chosen, in words (``report["quantum"]["model"]["blend"]``).
BLEND_METHOD = (
    "the model's MLE state is fitted to (1 - w) Q + w f_train in its family "
    "(rank, noise), Q the model's table, f_train the frequencies of the model's "
    "training shots; of the weights whose validation NLL is within "
    f"{REJECT_STDERRS:g} standard errors of the best, w is the one nearest the "
    "anchor w_0 = e_m / (e_m + e_f): e_f the infidelity of the training shots' "
    "own MLE, measured as a quarter of the infidelity between the MLEs of two "
    f"random halves, e_m = {MODEL_INFIDELITY_FLOOR:g} (the model's floor) "
    "plus the mean infidelity of the bootstrap members' states to the "
    "model's where the run has members; the anchor is 1 when the validation "
    "shots rule out the model's table alone (w = 0); the chosen state is "
    "then refitted with the validation shots folded into the frequencies")


def blend_model_state(table: np.ndarray, fit: dict[str, Any], rho_model: np.ndarray,
                      ds: Any, inp: Any, run_info: dict[str, Any] | None, stage: Stage,
                      index: np.ndarray | None = None, run_dir: Any = None
                      ) -> ModelBlend | None:
    """The model's MLE state refitted to the model's ``table`` mixed with the shots'
    frequencies, the weight chosen by :func:`choose_weight` (module doc); ``fit`` and
    ``rho_model`` are the table's MLE fit record and state, and the bootstrap members of
    ``run_dir`` size the model's own error. None for a run without validation shots; nothing
    handed in is changed."""
    shots = run_shots(ds, run_info, inp.K, index)
    if shots is None:
        return None
    got = choose_weight(table, shots, rho_model, fit, inp.frame, inp.n, stage,
                        lambda rho0: member_spread(run_dir, fit, inp.frame, inp.n, shots,
                                                   rho0, stage))
    section = {k: got[k] for k in ("weight", "best_weight", "anchor", "raw_infidelity",
                                   "model_infidelity", "model_spread", "distance",
                                   "candidates", "validation_shots")}
    section["method"] = BLEND_METHOD
    restarted = bool(got["restarted"])
    return ModelBlend(section, float(got["weight"]), shots,
                      got["rho"] if got["weight"] > 0 else got["table_rho"],
                      table_rho=got["table_rho"] if restarted else None,
                      table_kl=got["table_kl"] if restarted else None)


__all__ = ["BLEND_METHOD", "BLEND_WEIGHTS", "MODEL_INFIDELITY_FLOOR", "REJECT_STDERRS",
           "RESTARTED_FROM", "RESTART_KL_GAIN", "ModelBlend", "anchor_weight",
           "blend_model_state", "choose_weight", "family_parameters", "model_infidelity",
           "rule_weight", "ruled_out", "settle_weight", "split_half_infidelity", "table_kl",
           "weight_anchor"]
