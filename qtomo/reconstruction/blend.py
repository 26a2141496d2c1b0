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
model nor f_train has seen: each candidate state rho_w predicts them with the likelihood
L_w = prod_x p_w(x); with a prior pi(w) ~ exp(-PRIOR_NATS (w - w_0)^2) about the anchor w_0, the
posterior probability of each is pi(w) L_w / sum_v pi(v) L_v. The weight taken is the grid
point nearest the posterior mean of w (:func:`posterior_weight`): a model average over the
mixing weight, which moves toward the shots as far as the held-out shots say they help.

The anchor is w_0 = n / (n + K^N) for n training shots (:func:`prior_weight`): the model as a
Dirichlet prior worth one pseudo-shot per outcome string, which is what the asymptotics say
without looking at the shots -- the frequencies' error falls as K^N / n, the network's
approximation error does not. The prior is weak (``PRIOR_NATS`` = 2: the anchor is at most
e^2 ~ 7 times as likely beforehand as the far end of the grid, about what 2,000 validation
shots can resolve), so it decides only where the likelihoods do not: with few qubits and many
shots (N = 4, where every weight predicts the held-out shots within a nat of the others and w_0
~ 0.95).

Why the posterior mean, not the best likelihood or a test. The network underlearns the
many-body coherences of a state (a product of N small interference factors, whose gradient
vanishes where training starts), and those carry little of the likelihood: with 2,000
validation shots the log-likelihoods of neighbouring weights differ by about one nat while
the fidelity can differ by 0.01-0.09. The best likelihood alone then picks a weight by the
noise of those shots; the mean weighs every candidate by its evidence, so where the shots do
not tell the weights apart it stays between them and the anchor (the model's smoothing of the
bulk, a share of the shots' coherence), and where they do it follows them: with n << K^N the
frequencies only add noise, and w = 0 wins by tens of nats; with n >> K^N and a model short of
the data's detail, w = 1 does. Measured on the bench_families cells (20,000 shots, the
fidelity at w = 0, 1/4, 1/2, 3/4, 1; ``scripts/bench_blend.py``), N = 6 Pauli-4 (w_0 = 0.81):
TFIM h = 1 0.9937 / 0.9931 / 0.9907 / 0.9867 / 0.9813 (w = 1/4 chosen), h = 0.5 0.9900 /
0.9906 / 0.9894 / 0.9866 / 0.9819 (1/2), W 0.9929 / 0.9923 / 0.9893 / 0.9838 / 0.9764 (1/4);
the earlier rule (a two-standard-error test, then the weight nearest w_0) took w = 3/4 in all
three. The README has the full table (*Benchmarks*, tenth session).

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

#: Strength of the prior on w: log prior(w) = -PRIOR_NATS (w - w_0)^2 about the anchor w_0.
PRIOR_NATS = 2.0


def prior_weight(n_train: int, size: int) -> float:
    """The anchor w_0 = n / (n + K^N): the model as a Dirichlet prior worth one pseudo-shot per
    outcome string against n training shots (module doc)."""
    return float(n_train) / (float(n_train) + float(size))


def posterior_weight(log_likelihood: np.ndarray, anchor: float) -> tuple[float, np.ndarray]:
    """The posterior mean of w over ``BLEND_WEIGHTS`` and the posterior probabilities, from each
    candidate's total validation log-likelihood and the prior about ``anchor`` (module doc)."""
    lp = np.asarray(log_likelihood, dtype=np.float64)
    lp = lp - PRIOR_NATS * (np.asarray(BLEND_WEIGHTS) - anchor) ** 2
    post = np.exp(lp - lp.max())
    post /= post.sum()
    return float(post @ np.asarray(BLEND_WEIGHTS)), post


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
    weight nearest the posterior mean of w (:func:`posterior_weight`, module doc).

    Returns ``weight``, ``rho`` (the chosen state), ``best_weight`` (the lowest NLL),
    ``posterior_mean``, ``candidates`` (w, validation NLL per shot, its excess over the best
    with that excess's standard error (the paired per-shot difference), both in nats per shot,
    and the posterior probability) and ``validation_shots``.
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
    anchor = prior_weight(shots.train_rows.size, shots.size)
    mean, post = posterior_weight(np.array([lp.sum() for lp in log_p]), anchor)
    candidates = []
    for i, w in enumerate(BLEND_WEIGHTS):
        d = log_p[best] - log_p[i]
        se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
        candidates.append({"weight": w, "validation_nll_per_shot": float(nll[i]),
                           "excess_over_best": float(d.mean()), "excess_stderr": se,
                           "posterior": float(post[i])})
    chosen = int(np.argmin([abs(w - mean) for w in BLEND_WEIGHTS]))
    return {"weight": BLEND_WEIGHTS[chosen], "rho": rhos[chosen],
            "best_weight": BLEND_WEIGHTS[best], "posterior_mean": mean, "anchor": anchor,
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
        "weight": got["weight"], "best_weight": got["best_weight"],
        "posterior_mean": got["posterior_mean"], "anchor": got["anchor"],
        "candidates": got["candidates"], "validation_shots": got["validation_shots"],
        "method": ("the model's MLE state is fitted to (1 - w) Q + w f_train in its family "
                   "(rank, noise), Q the model's table, f_train the frequencies of the model's "
                   "training shots; w is the grid weight nearest the posterior mean of w, each "
                   "weight's state weighed by its likelihood of the run's validation shots "
                   f"and a prior exp(-{PRIOR_NATS:g} (w - w_0)^2) about the anchor "
                   "w_0 = n / (n + K^N) of n training shots"),
    }
    if got["weight"] > 0:
        sec["mle_table_only"] = sec["mle"]
        qs.rhos["model_mle"] = got["rho"]
        sec["mle"] = state_entry("mle", got["rho"], qs.ideal, qs.sigma)


__all__ = ["BLEND_WEIGHTS", "MIN_VALIDATION_SHOTS", "PRIOR_NATS", "RunShots",
           "blend_model_state", "blend_table", "choose_weight", "posterior_weight",
           "prior_weight", "run_shots"]
