"""Scores of a model Q against the true outcome distribution P (docs/conventions.md,
"Fidelities and metrics").

* Classical fidelity (Bhattacharyya coefficient) F_c = sum_a sqrt(P(a) Q(a)), in [0, 1].
* KL(P||Q) = sum_a P(a) log(P(a)/Q(a)), natural log (nats).

From shots a ~ P with exact log P(a) (the dataset's evaluation shots, never trained on) the
Monte-Carlo estimates are F_c ~ mean exp((log Q - log P)/2) and KL ~ mean(log P - log Q), each
with its standard error. For small N the exact sums over all K^N strings are available too.
All arithmetic here is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qtomo.errors import InputValueError
from qtomo.models.base import DensityEstimator
from qtomo.typing import FloatArray, Outcomes


@dataclass(frozen=True)
class Scores:
    """Classical fidelity and KL(P||Q) with standard errors (0 for exact sums)."""

    classical_fidelity: float
    classical_fidelity_se: float
    kl_divergence: float
    kl_divergence_se: float

    def as_dict(self) -> dict[str, float]:
        return {
            "classical_fidelity": self.classical_fidelity,
            "classical_fidelity_se": self.classical_fidelity_se,
            "kl_divergence": self.kl_divergence,
            "kl_divergence_se": self.kl_divergence_se,
        }


def log_prob_numpy(model: DensityEstimator, a: Outcomes, batch: int = 1 << 16) -> FloatArray:
    """``model.log_prob`` over many strings without gradients, in eval mode, float64 numpy."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = [model.log_prob(a[s : s + batch]).cpu().numpy() for s in range(0, len(a), batch)]
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0)


def scores_from_samples(log_q: FloatArray, log_p: FloatArray) -> Scores:
    """Monte-Carlo F_c and KL from log Q and exact log P of shots drawn from P."""
    lq = np.asarray(log_q, dtype=np.float64)
    lp = np.asarray(log_p, dtype=np.float64)
    if lq.shape != lp.shape or lq.ndim != 1 or len(lq) == 0:
        raise InputValueError(
            f"need equal non-empty 1-d log-probabilities, got {lq.shape} and {lp.shape}"
        )
    d = lq - lp
    r = np.exp(0.5 * d)
    n = len(d)

    def se(x: np.ndarray) -> float:
        return float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")

    return Scores(float(r.mean()), se(r), float(-d.mean()), se(d))


def scores_exact(log_q: FloatArray, p: FloatArray) -> Scores:
    """Exact F_c and KL from log Q and P over all K^N strings (same order)."""
    lq = np.asarray(log_q, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)  # Born sums may be -1e-17
    if lq.shape != p.shape:
        raise InputValueError(f"log Q has shape {lq.shape}, P has {p.shape}")
    q = np.exp(lq)
    fid = float(np.sum(np.sqrt(p * q)))
    pos = p > 0
    kl = float(np.sum(p[pos] * (np.log(p[pos]) - lq[pos])))
    return Scores(fid, 0.0, kl, 0.0)


def mean_nll(model: DensityEstimator, a: Outcomes, batch: int = 1 << 16) -> float:
    """Average -log Q over the strings ``a`` (nats per string)."""
    return float(-log_prob_numpy(model, a, batch).mean()) if len(a) else float("nan")


__all__ = ["Scores", "log_prob_numpy", "mean_nll", "scores_exact", "scores_from_samples"]
