"""The model's maximum-likelihood state, shrunk toward its training shots by a weight the
held-out shots choose.

A generative model is a smoother of the outcome frequencies: where shots are scarce (many
qubits, few shots) its table Q is far better than the raw frequencies, but with few qubits
and many shots the raw frequencies f, fitted under positivity, are the efficient estimate
and the network's own approximation error is what limits it. Which of the two to trust is a
question the data can answer. The model's MLE state is therefore fitted to the mixture

    T_w = (1 - w) Q + w f_train,        w in BLEND_WEIGHTS = 0, 1/4, 1/2, 3/4, 1,

where f_train are the frequencies of the very shots the model was trained on (the run's
train/validation split, rebuilt from its seed), in the family (rank, depolarizing noise) chosen
for the model's table. The weight is chosen on the run's validation shots, which neither the
model nor f_train has seen. A weight is rejected when its state predicts them worse than
the best weight's by more than ``SE_RULE_Z`` = 2 standard errors of the paired per-shot
difference (a test at about the 5% level). Of the weights not rejected, the one nearest the
anchor is taken. The anchor is the Dirichlet-prior weight w_0 = n / (n + K^N) of n training
shots against a model worth one pseudo-shot per outcome string (:func:`prior_weight`); only
where the model alone (w = 0) is rejected and the shots alone (w = 1) predict better than
it is the model distrusted and the anchor w = 1.

Why w_0, not the model alone. The network underlearns the many-body coherences of a state (a
product of N small interference factors, whose gradient vanishes where training starts), and
those carry little of the likelihood: with 2,000 validation shots the likelihoods of
neighbouring weights differ by less than their noise while the fidelity can differ a lot. Where
the frequencies are informative (n comparable to K^N) a share of them restores the coherence
the model smoothed away, and (1 - w) keeps the model's smoothing of everything else; where they
are sparse (n << K^N) they only add noise, and w_0 -> 0. Measured, 20,000 shots, the fidelity
at w = 0, 1/4, 1/2, 3/4, 1 (w_0 in brackets): N = 8 Pauli-4 (0.22) TFIM h = 0.5 0.894 / 0.982 /
0.970 / 0.952 / 0.928 (the model alone had the cat state's branch phase 0.64 rad off), random
bond-2 MPS 0.966 / 0.971 / 0.969 / 0.963 / 0.956, cluster 0.862 / 0.885 / 0.916 / 0.941 /
0.917, and the price where the model alone is best: TFIM h = 1 0.9927 / 0.9867, W 0.9936 /
0.9885, product 0.9968 / 0.9936 (w = 0 / 1/4), all still far above the raw frequencies' MLE; N
= 10 Pauli-4 (0.02), where a fixed 1/4 would have cost GHZ 0.744 -> 0.342, TFIM 0.985 -> 0.967,
cluster 0.969 -> 0.944; N = 4 Pauli-6, 100,000 shots (0.99): GHZ 0.99922 / 0.99940 / 0.99954 /
0.99970 / 0.99983, the raw MLE 0.99983. The earlier rule (one standard error, anchored on the
better end) kept w = 0 in all of these but the MPS (3/4: 0.963; its two ends were within 0.0004
nats a shot, which is why a clear rejection of w = 0 is asked before the anchor moves to the
shots). Where the shots do reject the model alone it is typically under-trained, and a share of
a bad table costs more than the shots' own noise (an under-trained noisy GHZ-4 model of the
tests: 0.73 at w = 3/4 against 0.89 exact).

In the Dirichlet-prior reading, the model is a prior on the outcome distribution worth
(1 - w) / w training sets of pseudo-shots. w = 0 is the model alone, w = 1 the standard
tomography of the training shots.

Bootstrap and learning-curve members use the same w, with the frequencies of their own
resample of the training shots (:func:`qtomo.training.members.member_weights`), so their
spread is that of the blended estimator.

Only dense reconstructions of random-basis or balanced designs with a run on disk blend: an
unbalanced fixed design fits a conditional model on the design's settings
(:mod:`~qtomo.reconstruction.design_weights`), and a run without validation shots has nothing
to choose w on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.povm.born import outcome_index
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import Stage

#: The mixture weights of the raw training frequencies tried (0: the model's table alone).
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: At least this many validation shots to choose the weight on.
MIN_VALIDATION_SHOTS = 200
#: A weight whose validation likelihood is worse than the best by more than this many
#: standard errors is rejected; of the others, the one nearest the anchor is taken.
SE_RULE_Z = 2.0


def prior_weight(n_train: int, size: int) -> float:
    """The anchor weight n / (n + K^N): the model as a prior worth one pseudo-shot per outcome
    string (module doc)."""
    return float(n_train) / (float(n_train) + float(size))


@dataclass
class RunShots:
    """The run's training shots as outcome-table indices.

    Attributes
    ----------
    index : ndarray (shots,)
        Flat outcome index of every shot of the dataset.
    train_rows : ndarray
        Rows the model was trained on (sorted).
    val_rows : ndarray
        The run's validation rows.
    size : int
        K^N.
    """

    index: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    size: int

    def frequencies(self, weights: np.ndarray | None = None) -> np.ndarray:
        """The training shots' frequency table (``weights``: counts per dataset row)."""
        rows = self.train_rows
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[rows]
        counts = np.bincount(self.index[rows], weights=w, minlength=self.size)
        return counts / max(float(counts.sum()), 1.0)


def run_shots(ds: Any, run_info: dict[str, Any] | None, K: int,  # noqa: N803
              index: np.ndarray | None = None) -> RunShots | None:
    """The run's split of ``ds`` (None without a run config or validation shots, or for a run
    trained on another dataset); ``index`` is the flat outcome index of every shot when the
    caller has read them already (:attr:`ShotTallies.index`), else they are read here."""
    if (run_info or {}).get("dataset_hash_matches") is False:
        return None  # trained on other shots: its split is not this dataset's
    tc = (run_info or {}).get("train_config") or {}
    vf, seed = tc.get("val_fraction"), tc.get("seed")
    if not vf or seed is None:
        return None
    from qtomo.training.data import ShotSplit

    split = ShotSplit(ds, val_fraction=float(vf), seed=int(seed),
                      block_rows=int(tc.get("block_rows") or 1 << 18), cache_bytes=0)
    train = split.train_indices()
    val = np.setdiff1d(np.arange(ds.shots, dtype=np.int64), train, assume_unique=True)
    if val.size < MIN_VALIDATION_SHOTS:
        return None
    if index is None:
        index = outcome_index(ds.outcomes(0, ds.shots), K)
    return RunShots(index=index, train_rows=train, val_rows=val, size=K**ds.n_qubits)


def choose_weight(table: np.ndarray, shots: RunShots, rho_model: np.ndarray,
                  fit: dict[str, Any], frame: Any, n: int, stage: Stage) -> dict[str, Any]:
    """Fit T_w for every w in BLEND_WEIGHTS, score it on the validation shots, and keep the
    weight nearest the anchor (:func:`prior_weight`, or w = 1 where w = 0 is rejected and the shots
    alone predict the validation shots better than the model alone) among those within
    ``SE_RULE_Z`` standard errors of the best (module doc).

    The standard error is that of the paired difference of the per-shot log-likelihoods of
    a candidate and the best, over the same validation shots.

    Returns ``weight``, ``rho`` (the chosen state), ``best_weight`` (the lowest NLL),
    ``anchor``, ``candidates`` (w, validation NLL per shot, its excess over
    the best and that excess's standard error, both in nats per shot) and
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
    nll = np.array([-lp.mean() for lp in log_p])
    best = int(np.argmin(nll))
    candidates = []
    for i, w in enumerate(BLEND_WEIGHTS):
        d = log_p[best] - log_p[i]
        se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
        candidates.append({"weight": w, "validation_nll_per_shot": float(nll[i]),
                           "excess_over_best": float(d.mean()), "excess_stderr": se,
                           "within": bool(d.mean() <= SE_RULE_Z * se)})
    # the model is distrusted only where the shots reject it and its end is the worse one
    distrusted = not candidates[0]["within"] and nll[-1] < nll[0]
    anchor = BLEND_WEIGHTS[-1] if distrusted else prior_weight(shots.train_rows.size, shots.size)
    chosen = min((i for i, c in enumerate(candidates) if c["within"]),
                 key=lambda i: abs(BLEND_WEIGHTS[i] - anchor))
    return {"weight": BLEND_WEIGHTS[chosen], "rho": rhos[chosen],
            "best_weight": BLEND_WEIGHTS[best], "anchor": anchor,
            "candidates": candidates, "validation_shots": int(val.size)}


def blend_table(table: np.ndarray, weight: float, shots: RunShots,
                row_weights: np.ndarray | None = None) -> np.ndarray:
    """(1 - w) table + w f, f the training frequencies (of a member's resample with
    ``row_weights``)."""
    if weight == 0:
        return table
    return (1.0 - weight) * table + weight * shots.frequencies(row_weights)


def blend_model_state(qs: Any, ds: Any, inp: Any, run_info: dict[str, Any] | None,
                      stage: Stage, index: np.ndarray | None = None) -> None:
    """Refit the model's MLE state to the model's table mixed with its training frequencies,
    the weight chosen on the validation shots (:mod:`qtomo.reconstruction.blend`)."""
    sec = qs.section["model"]
    if "mle" not in sec or qs.model_fit_table is not None or qs.model_table is None:
        return  # no MLE state, or a conditional model fitted on an unbalanced design
    from qtomo.reconstruction.quantum import state_entry

    shots = run_shots(ds, run_info, inp.K, index)
    if shots is None:
        return
    got = choose_weight(qs.model_table, shots, qs.rhos["model_mle"], sec["mle_fit"],
                        inp.frame, inp.n, stage)
    qs.run_shots, qs.blend_weight = shots, float(got["weight"])
    sec["blend"] = {
        "weight": got["weight"], "best_weight": got["best_weight"], "anchor": got["anchor"],
        "candidates": got["candidates"], "validation_shots": got["validation_shots"],
        "method": ("the model's MLE state is fitted to (1 - w) Q + w f_train in its family "
                   "(rank, noise), Q the model's table, f_train the frequencies of the model's "
                   "training shots; of the weights whose state predicts the run's validation "
                   f"shots within {SE_RULE_Z:g} standard errors of the best, w is the one "
                   "nearest the anchor: n / (n + K^N) for n training shots (the model worth one "
                   "pseudo-shot per outcome string), or 1 where w = 0 is not within and the shots "
                   "alone predict them better than the model alone"),
    }
    if got["weight"] > 0:
        sec["mle_table_only"] = sec["mle"]
        qs.rhos["model_mle"] = got["rho"]
        sec["mle"] = state_entry("mle", got["rho"], qs.ideal, qs.sigma)


__all__ = ["BLEND_WEIGHTS", "MIN_VALIDATION_SHOTS", "SE_RULE_Z", "RunShots",
           "blend_model_state", "blend_table", "choose_weight", "prior_weight", "run_shots"]
