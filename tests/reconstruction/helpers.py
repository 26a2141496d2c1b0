"""Test helpers: an exact "model" that wraps a true Born table, and small datasets."""

from __future__ import annotations

import numpy as np
import torch

from qtomo.models.base import DensityEstimator
from qtomo.povm.born import outcome_index


class TableModel(DensityEstimator):
    """A DensityEstimator whose Q(a) is a given table over all K^N strings (exact).

    Not registered: it stands in for a perfectly trained model in library tests.
    """

    name = "table"
    exact_log_prob = True
    has_likelihood = True

    def __init__(self, table: np.ndarray, n_qubits: int, K: int) -> None:  # noqa: N803
        super().__init__(n_qubits, K, {})
        p = np.clip(np.asarray(table, dtype=np.float64), 0.0, None)
        p = p / p.sum()
        self.register_buffer("probs", torch.from_numpy(p))
        with np.errstate(divide="ignore"):
            self.register_buffer("logp", torch.from_numpy(np.log(p)))

    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        idx = outcome_index(a.cpu().numpy(), self.K)
        return self.logp[torch.from_numpy(idx)]

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        idx = torch.multinomial(self.probs, n, replacement=True, generator=generator)
        powers = self.K ** torch.arange(self.n_qubits - 1, -1, -1)
        return (idx[:, None] // powers[None, :]) % self.K


class HistogramOnlyModel(TableModel):
    """The same, but without a likelihood (like a GAN): only samples."""

    name = "table-nolik"
    has_likelihood = False
    exact_log_prob = False
