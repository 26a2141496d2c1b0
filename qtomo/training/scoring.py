"""Scores of a model during and after training: validation NLL, classical fidelity, KL.

On the dataset's evaluation shots a ~ P (never trained on), whose exact log P(a) is stored,
the classical fidelity F_c = sum_a sqrt(P(a) Q(a)) ~ mean_{a~P} sqrt(Q(a)/P(a)) and
KL(P||Q) ~ mean_{a~P} [log P(a) - log Q(a)] (nats), each with the standard error of its
Monte-Carlo mean. Sums run over this rank's shots and are reduced over ranks.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qtomo.models.base import DensityEstimator
from qtomo.training.distributed import DistInfo, all_reduce

#: Shots per forward pass when scoring: small enough that a pass's activations stay in cache
#: (the per-shot values do not depend on it).
SCORE_CHUNK = 1 << 11

#: The score keys, NaN where a model or dataset has no exact likelihood.
SCORE_KEYS = ("eval_nll", "classical_fidelity", "classical_fidelity_se", "kl_divergence",
              "kl_divergence_se")


def nan_scores() -> dict[str, float]:
    """Every score NaN (no evaluation shots with exact log P, or no likelihood)."""
    return dict.fromkeys(SCORE_KEYS, math.nan)


@torch.no_grad()
def sum_nll(model: DensityEstimator, a: np.ndarray, device: torch.device) -> float:
    """Sum over the strings ``a`` (shots, N) of the model's per-shot loss (NLL)."""
    total = 0.0
    for s in range(0, len(a), SCORE_CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(a[s : s + SCORE_CHUNK])).to(device).long()
        total += float(model(x).double().sum())
    return total


def mean_nll(model: DensityEstimator, a: np.ndarray, device: torch.device,
             dist_info: DistInfo) -> float:
    """Mean NLL (nats per string) over every rank's ``a``; NaN when there are none."""
    model.eval()
    s, n = all_reduce([sum_nll(model, a, device), float(len(a))], device, dist_info)
    return s / n if n else math.nan


@torch.no_grad()
def heldout_gap(kept: DensityEstimator, best: DensityEstimator, a: np.ndarray,
                device: torch.device, dist_info: DistInfo) -> dict[str, float]:
    """Per-shot held-out NLL of ``kept`` minus that of ``best`` on the strings ``a``.

    Returns ``{"gap", "gap_se", "n"}``: the mean difference (nats per string; > 0 when the
    kept model is worse) and the standard error of that mean from the per-shot differences
    (a paired comparison: both models see the same shots, so the shot-to-shot variation of
    the NLL itself cancels), summed over ranks. NaN without validation shots.
    """
    kept.eval()
    best.eval()
    s1 = s2 = 0.0
    for s in range(0, len(a), SCORE_CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(a[s : s + SCORE_CHUNK])).to(device).long()
        d = (kept(x).double() - best(x).double()).cpu().numpy()
        s1, s2 = s1 + float(d.sum()), s2 + float((d * d).sum())
    n, s1, s2 = all_reduce([float(len(a)), s1, s2], device, dist_info)
    if n < 2:
        return {"gap": math.nan, "gap_se": math.nan, "n": n}
    mu = s1 / n
    var = max(0.0, (s2 - n * mu * mu) / (n - 1))
    return {"gap": mu, "gap_se": math.sqrt(var / n), "n": n}


@torch.no_grad()
def eval_scores(model: DensityEstimator, eval_a: np.ndarray, eval_lp: np.ndarray,
                device: torch.device, dist_info: DistInfo) -> dict[str, float]:
    """NLL, classical fidelity and KL(P||Q) with standard errors on the evaluation shots
    ``eval_a`` with exact natural-log probabilities ``eval_lp``."""
    model.eval()
    lq = []
    for s in range(0, len(eval_a), SCORE_CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(eval_a[s : s + SCORE_CHUNK]))
        lq.append(model.log_prob(x.to(device)).cpu().numpy())
    lq_a = np.concatenate(lq) if lq else np.zeros(0)
    d = lq_a - eval_lp
    r = np.exp(0.5 * d)
    sums = all_reduce(
        [float(len(d)), float(r.sum()), float((r * r).sum()), float(d.sum()),
         float((d * d).sum()), float(-lq_a.sum())], device, dist_info,
    )
    n = sums[0]
    if n < 1:
        return nan_scores()

    def mean_se(s1: float, s2: float) -> tuple[float, float]:
        mu = s1 / n
        var = max(0.0, (s2 - n * mu * mu) / (n - 1)) if n > 1 else math.nan
        return mu, math.sqrt(var / n)

    f, fse = mean_se(sums[1], sums[2])
    dm, dse = mean_se(sums[3], sums[4])
    return {"eval_nll": sums[5] / n, "classical_fidelity": f, "classical_fidelity_se": fse,
            "kl_divergence": -dm, "kl_divergence_se": dse}


__all__ = ["SCORE_KEYS", "eval_scores", "heldout_gap", "mean_nll", "nan_scores", "sum_nll"]
