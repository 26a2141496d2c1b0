"""Decoder-only causal transformer over outcome strings (as in Cha et al. 2021, "Attention-based
quantum tomography").

Q(a) = prod_j Q(a_j | a_<j). Token j of the input is a_{j-1} (a learned start token at j = 0)
plus a learned embedding of the site index j; pre-norm blocks of causal multi-head
self-attention and a feed-forward layer map it to the logits of site j.

* ``log_prob``: exact, one parallel pass (causal attention mask, teacher forcing).
* ``sample``: exact ancestral sampling with a key/value cache: step j feeds only the new
  token and attends to the cached keys and values of sites < j, so drawing one string costs
  O(N) token passes instead of the O(N^2) of recomputing the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from qtomo.errors import InputValueError
from qtomo.models.base import likelihood_hparams
from qtomo.models.layers import AutoregressiveEstimator, TransformerBlock, shifted_inputs
from qtomo.models.registry import register


@register("transformer")
class TransformerModel(AutoregressiveEstimator):
    """Causal (GPT-style) transformer distribution over K-outcome strings of N qubits.

    Parameters
    ----------
    n_qubits : int
        String length N.
    K : int
        Outcomes per qubit.
    d_model : int
        Width of the token features (divisible by ``heads``).
    heads : int
        Attention heads per block.
    layers : int
        Number of transformer blocks.
    dropout : float
        Dropout on attention weights and block outputs during training, in [0, 1).
    """

    def __init__(
        self,
        n_qubits: int,
        K: int,
        *,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        dropout: float = 0.0,
        likelihood: str = "joint",
    ) -> None:
        d_model, heads, layers, dropout = int(d_model), int(heads), int(layers), float(dropout)
        super().__init__(n_qubits, K, {"d_model": d_model, "heads": heads, "layers": layers,
                                       "dropout": dropout, **likelihood_hparams(likelihood, K)})
        if heads < 1 or d_model < 1 or d_model % heads:
            raise InputValueError(
                f"d_model must be a positive multiple of heads, got d_model={d_model}, "
                f"heads={heads}"
            )
        if layers < 1:
            raise InputValueError(f"layers must be >= 1, got {layers}")
        if not 0.0 <= dropout < 1.0:
            raise InputValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.embed = nn.Embedding(self.K + 1, d_model)  # token K = start
        self.pos = nn.Parameter(torch.zeros(self.n_qubits, d_model))
        self.blocks = nn.ModuleList(TransformerBlock(d_model, heads, 4, dropout)
                                    for _ in range(layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, self.K)
        nn.init.normal_(self.embed.weight, std=0.5)
        nn.init.normal_(self.pos, std=0.1)

    def _run(self, tokens: torch.Tensor, sites: slice,
             caches: list[dict[str, torch.Tensor]] | None = None) -> torch.Tensor:
        x = self.embed(tokens) + self.pos[sites]
        for i, blk in enumerate(self.blocks):
            x = blk(x, None if caches is None else caches[i])
        return self.head(self.ln(x))

    @classmethod
    def training_defaults(cls, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
        """Training settings for this model (merged into ``default_config``).

        Large datasets: 10 epochs, so that the cosine learning-rate schedule runs to its end
        within a few minutes for a typical dataset on a small CPU, and an exponential moving
        average of the weights (validated, kept and scored instead of the raw ones).
        Small datasets (many short epochs): the weight average too, and a patience of 10 epochs
        (their validation NLL is noisy, and a shorter patience stopped runs early). Always
        float32 (see below). docs/design-notes.md, section "Models"; ``scripts/bench_models.py``
        measures both.
        """
        del n_qubits, K
        # float32: bf16 autocast made a training step slower on a small CPU, the casts costing
        # more than the small matrix products save
        if shots > 20_000:
            return {"epochs": 10, "ema_decay": 0.999, "precision": "fp32"}
        return {"ema_decay": 0.998, "patience": 10, "precision": "fp32"}

    def _logits(self, a: torch.Tensor) -> torch.Tensor:
        return self._run(shifted_inputs(a, self.K), slice(None))

    def _step_fn(self, n: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
        caches: list[dict[str, torch.Tensor]] = [{} for _ in self.blocks]
        start = torch.full((n, 1), self.K, dtype=torch.long, device=self.device)

        def step(prefix: torch.Tensor, j: int) -> torch.Tensor:
            tok = start if j == 0 else prefix[:, j - 1 : j]
            return self._run(tok, slice(j, j + 1), caches)[:, -1]

        return step


__all__ = ["TransformerModel"]
