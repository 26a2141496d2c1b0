"""The model's maximum-likelihood state, shrunk toward its training shots by a weight that the
held-out shots and the frequencies' own scatter choose.

A generative model is a smoother of the outcome frequencies: where shots are scarce (many
qubits, few shots) its table Q is far better than the raw frequencies, but with few qubits
and many shots the raw frequencies f, fitted under positivity, are the efficient estimate
and the network's own approximation error is what limits it. The model's MLE state is
therefore fitted to the mixture

    T_w = (1 - w) Q + w f_train,        w in BLEND_WEIGHTS = 0, 1/4, 1/2, 3/4, 1,

where f_train are the frequencies of the very shots the model was trained on (the run's
train/validation split, rebuilt from its seed), in the family (rank r, depolarizing noise)
chosen for the model's table. The weight is chosen in two steps (:func:`rule_weight`):

1. **The held-out shots rule out what they can.** Each candidate state rho_w predicts the
   run's validation shots, which neither the model nor f_train has seen; a weight whose
   negative log-likelihood per shot exceeds the best weight's by more than
   ``REJECT_STDERRS`` = 1.5 standard errors of the paired per-shot difference is ruled out
   (a one-sided test at about 93%; at 1 standard error the noise of the validation shots
   rules out weights that the fidelity needs, at 2 it keeps weights that 600 validation
   shots of a badly trained model already show to be worse).
   Where n << K^N the frequencies only add noise and every w > 0 loses by tens of standard
   errors; where the model is short of the bulk of the distribution, w = 0 loses.
2. **Among the weights left, the anchor** w_0 (:func:`anchor_weight`), itself where the grid
   weights on both sides of it are kept, else the kept grid weight nearest it
   (:func:`settle_weight`; rounding w_0 = 0.82 to 3/4 cost a damped W-4 state from 5,000 lab
   shots 0.009 against w = 1). The anchor is the
   weight that minimises the expected infidelity (1 - w)^2 e_m + w^2 e_f + 2 w (1 - w) c of
   the mixture of two estimators with infidelities e_m (the model's state) and e_f (the MLE
   of the training shots in the same family), infidelities read as squared distances, c the
   overlap of their errors: w_0 = (e_m - c) / (e_m + e_f - 2 c). The overlap is read from
   the infidelity d between the two states, d = e_m + e_f - 2 c, kept within
   [0, sqrt(e_m e_f)]; with no overlap (d >= e_m + e_f) w_0 = e_m / (e_m + e_f).

Why the anchor decides the rest. The network underlearns the many-body coherences of a state
(the |0...0><1...1| term of GHZ is a product of N small interference factors), and those carry
little of the likelihood: with 10,000 validation shots of GHZ-6 the weights' log-likelihoods
differ by a nat or two, within their noise, while their fidelities differ by several of the
raw MLE's standard errors. The validation shots cannot see what the fidelity needs there; the
two estimators' own errors can, and both are measured on the run's shots:

* e_f, the scatter of the frequencies' MLE (:func:`split_half_infidelity`): the training
  shots are dealt at random into two halves, both are fitted in the family, and since two
  independent estimates with infidelities 2 e_f each lie 4 e_f apart, e_f = (1 - F(rho_A,
  rho_B)) / 4. On 31 bench_blend cells (raw frequencies, rank 1) it was within a factor 2
  of the MLE's true infidelity in 26, from 0.0001 (GHZ-4 Pauli-6, 90,000 shots) to 0.06
  (TFIM N = 8, Pauli-4, 18,000 shots), and 0.2-0.35 of it in the five sparse GHZ cells at
  N = 8-10, where the halves share the MLE's bias (there it still puts the anchor below
  0.1). An asymptotic kappa P / n (P real parameters of the family) misses it tenfold where
  the Pauli-4 frequencies are sparse (the demo's TFIM N = 10 at 90,000 shots: anchor 0.31
  and 0.9885, against 0.9959 from the model alone).
* e_m, the model's, is its floor ``MODEL_INFIDELITY_FLOOR`` = 0.003, the network's bias (the
  GRU's coherences at N = 4-8 are not better than a few 1e-3: 0.0008 and 0.0019 on GHZ-4/6
  Pauli-6 at 100,000 shots, 0.0045 on GHZ-8 Pauli-6 at 20,000), plus, where the run has
  bootstrap members (``qtomo train`` trains 10 by default up to N = 6), the mean infidelity
  of their states to the model's (:mod:`qtomo.reconstruction.model_spread`): the part of the
  model's error that comes from its finite training shots, which the floor cannot know
  (a Haar-random 4-qubit state from 4,500 training shots: the model's state 0.9918, its
  members' scatter 0.0048).
* Why the overlap. A model trained on few shots per outcome string follows their noise as
  the frequencies do, and the two states then lie close together while both are far from the
  state measured (the same Haar-random state: 0.9918 and 0.9980, yet only d = 0.0048 apart,
  below e_m + e_f = 0.0133). Mixing two estimates whose errors point the same way gains
  little; the weight goes to the one with the smaller error (there w_0 = 0.86 instead of
  e_m / (e_m + e_f) = 0.64; w = 0.86 gives 0.9974, the raw MLE's 0.9977 +- 0.0011, where
  the floor alone gave the anchor 0.41, w = 1/2 and 0.9962). The distance does not size
  e_m alone: estimating e_m as d - e_f was tried and dropped: the model is trained on the
  same shots and follows part of their noise, so d understates its error, and where the
  frequencies are sparse the halves share the MLE's bias, e_f is understated (TFIM N = 10,
  20,000 shots: 0.084 against the true 0.125) and d - e_f overstates the model's error
  (0.041 against 0.015), which moved TFIM-10 from 0.985 (w = 0) to 0.967 (w = 1/4); there
  d > e_m + e_f, no overlap, and the anchor is the independent one. Where a run without
  members has a model worse than its floor and the validation shots cannot show it, the
  anchor leans on the model more than it should (W-6, Pauli-4, 100,000 shots, raw frequencies:
  e_m 0.008, anchor 0.40, w = 1/2, 0.99467 against the raw MLE's 0.99585 +- 0.00102; the
  frequencies averaged over the permutations below give e_f 0.0010 and 0.99717 at w = 3/4).

**When the held-out shots rule out the model's table alone** (w = 0 more than
``REJECT_STDERRS`` standard errors worse than the best weight), the model's error is shown to
be above its floor, by an amount the anchor cannot size; the anchor is then 1
(:func:`weight_anchor`), and the weight the largest the held-out shots leave. The frequencies'
MLE is the estimator whose error is measured; the model's is only known to be larger than
assumed. On the 104-cell grid it touches 5 cells, all still within the rules (W-6, Pauli-4,
100,000 shots: 0.99717 -> 0.99884; noisy GHZ-8, Pauli-4, 100,000 shots: 0.73733 -> 0.74761
against the exact 0.74004, the raw MLE 0.77548), and on shots that qtomo did not make it moves
a 5-qubit Dicke state (Pauli-6 lab shots, 20,000) from 0.99531 to 0.99803 (raw MLE 0.99809).

w = 0 is the model alone, w = 1 the standard tomography of the training shots.

**All the shots in the reported state.** The validation shots choose the weight and are then
folded back into the frequencies: the reported state is fitted to (1 - w) Q + w f_all, f_all
the frequencies of every shot (:func:`blend_table`), so that at w = 1 it is the raw MLE of
all the shots, not of the 90% the model was trained on (a 5-qubit Dicke state from 5,000
Pauli-6 lab shots: 0.9930 from the training shots, 0.9943 from all, the raw MLE's
0.9943 +- 0.0009). The anchor's e_f, d and the validation likelihoods stay those of the
training shots, on which the weights are compared.

A run trained under a symmetry group (``symmetry_used``: GHZ's site permutations, the open
chain's reflection, the ring's dihedral group; :mod:`qtomo.training.symmetry`) blends the
frequencies averaged over that group (:meth:`RunShots.frequencies`), the distribution its
augmented training shots estimate, and the split halves are averaged the same way. The
orbit average is a far less noisy table where the group is large: GHZ-8, Pauli-6, 18,000
shots: e_f 0.0060 raw, 0.0003 averaged, and the blended state 0.99853 at w = 1 against the
model's 0.99547 and the raw frequencies' 0.99335.

The table's own fit (w = 0) can stop in a local optimum of the KL that the blended fits, which
start from it, leave behind; it is started again from the w = 1/4 state and the lower KL is
kept (``restarted`` in the report; TFIM h = 0.5, N = 8, 20,000 shots: F 0.887 from the first
start, 0.985 from the second).

Bootstrap and learning-curve members use the same w, with the frequencies of their own
resample of the shots (:func:`qtomo.reconstruction.model_spread.member_counts`: the training
resample they were trained on, and a resample of the validation shots), so their spread is
that of the blended estimator.

Only dense reconstructions of random-basis or balanced designs with a run on disk blend: an
unbalanced fixed design fits a conditional model on the design's settings
(:mod:`~qtomo.reconstruction.design_weights`), and a run without validation shots has nothing
to choose w on.
"""

from __future__ import annotations

from collections.abc import Callable
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
from qtomo.reconstruction.dense import QuantumStates, state_entry
from qtomo.reconstruction.metrics import physical_fidelity
from qtomo.reconstruction.model_spread import member_spread
from qtomo.reconstruction.run_shots import RunShots, blend_table, run_shots

#: The table's fit started again from the w = 1/4 state replaces the first one when its KL to
#: the table is lower by more than this (nats): an optimiser's tolerance, not a test.
RESTART_KL_GAIN = 1e-7
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
    # again from its neighbour's state and keep the lower KL to the table (TFIM h = 0.5, N = 8:
    # KL 0.01130 and F 0.887 from the first start, 0.01104 and 0.985 from w = 1/4's state)
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


def blend_model_state(qs: QuantumStates, ds: Any, inp: Any, run_info: dict[str, Any] | None,
                      stage: Stage, index: np.ndarray | None = None,
                      run_dir: Any = None) -> None:
    """Refit the model's MLE state to the model's table mixed with the shots' frequencies,
    the weight chosen by :func:`choose_weight` (:mod:`qtomo.reconstruction.blend`); the
    bootstrap members of ``run_dir`` size the model's own error."""
    sec = qs.section["model"]
    if "mle" not in sec or qs.model_fit_table is not None or qs.model_table is None:
        return  # no MLE state, or a conditional model fitted on an unbalanced design
    shots = run_shots(ds, run_info, inp.K, index)
    if shots is None:
        return
    fit = sec["mle_fit"]
    got = choose_weight(qs.model_table, shots, qs.rhos["model_mle"], fit, inp.frame, inp.n,
                        stage, lambda rho0: member_spread(run_dir, fit, inp.frame, inp.n,
                                                          shots, rho0, stage))
    qs.run_shots, qs.blend_weight = shots, float(got["weight"])
    sec["blend"] = {
        "weight": got["weight"], "best_weight": got["best_weight"],
        "anchor": got["anchor"], "raw_infidelity": got["raw_infidelity"],
        "model_infidelity": got["model_infidelity"], "model_spread": got["model_spread"],
        "distance": got["distance"],
        "candidates": got["candidates"], "validation_shots": got["validation_shots"],
        "method": ("the model's MLE state is fitted to (1 - w) Q + w f_train in its family "
                   "(rank, noise), Q the model's table, f_train the frequencies of the model's "
                   "training shots; of the weights whose validation NLL is within "
                   f"{REJECT_STDERRS:g} standard errors of the best, w is the one nearest the "
                   "anchor w_0 = e_m / (e_m + e_f): e_f the infidelity of the training shots' "
                   "own MLE, measured as a quarter of the infidelity between the MLEs of two "
                   f"random halves, e_m = {MODEL_INFIDELITY_FLOOR:g} (the model's floor) "
                   "plus the mean infidelity of the bootstrap members' states to the "
                   "model's where the run has members; the anchor is 1 when the validation "
                   "shots rule out the model's table alone (w = 0); the chosen state is "
                   "then refitted with the validation shots folded into the frequencies"),
    }
    if got["restarted"]:  # the table's own state, from a better start
        sec["mle_fit"] = {**sec["mle_fit"], "kl_to_table": got["table_kl"],
                          "restarted_from": "the state of (3/4) Q + (1/4) f_train"}
        qs.rhos["model_mle"] = got["table_rho"]
        sec["mle"] = state_entry("mle", got["table_rho"], qs.ideal, qs.sigma)
    if got["weight"] > 0:
        sec["mle_table_only"] = sec["mle"]
        qs.rhos["model_mle"] = got["rho"]
        sec["mle"] = state_entry("mle", got["rho"], qs.ideal, qs.sigma)


__all__ = ["BLEND_WEIGHTS", "MODEL_INFIDELITY_FLOOR", "REJECT_STDERRS", "RESTART_KL_GAIN",
           "anchor_weight", "blend_model_state", "choose_weight", "family_parameters",
           "model_infidelity", "rule_weight", "ruled_out", "settle_weight",
           "split_half_infidelity", "table_kl", "weight_anchor"]
