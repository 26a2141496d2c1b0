"""PixelCNN-style causal convolutional model of outcome strings (van den Oord et al. 2016).

Q(a) = prod_j Q(a_j | a_<j). The input at site j is the embedding of a_{j-1} (a learned start
token at j = 0) plus a learned embedding of the site index j; a stack of gated residual blocks
of dilated causal 1-D convolutions (dilations 1, 2, 4, ...; WaveNet skips) turns it into the
logits of site j. Causality (site j sees a_0 .. a_{j-1} only) makes the likelihood exact.

* ``log_prob``: exact, one parallel pass over all sites (teacher forcing).
* ``sample``: exact ancestral sampling; each site costs one pass of the network restricted
  to the receptive field behind it.
* By default the stack is just deep enough that site N-1 sees the whole prefix (a smaller
  ``layers`` gives a shorter memory: the model then is a Markov chain of that order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from qtomo.errors import InputValueError
from qtomo.models.base import likelihood_hparams
from qtomo.models.layers import (
    AutoregressiveEstimator,
    GatedResidualBlock,
    dilations_for,
    receptive_field,
    shifted_inputs,
)
from qtomo.models.registry import register


@register("conv")
class ConvModel(AutoregressiveEstimator):
    """Gated, dilated causal 1-D convolutions over the sites (PixelCNN / WaveNet).

    Parameters
    ----------
    n_qubits : int
        String length N.
    K : int
        Outcomes per qubit.
    channels : int
        Feature channels of every block.
    kernel : int
        Convolution width (>= 2).
    layers : int or None
        Number of gated blocks; None: enough that the receptive field covers N sites.
    dropout : float
        Dropout inside the gated units during training, in [0, 1).
    """

    def __init__(
        self,
        n_qubits: int,
        K: int,
        *,
        channels: int = 64,
        kernel: int = 3,
        layers: int | None = None,
        dropout: float = 0.0,
        likelihood: str = "joint",
    ) -> None:
        channels, kernel, dropout = int(channels), int(kernel), float(dropout)
        layers = None if layers is None else int(layers)
        super().__init__(n_qubits, K, {"channels": channels, "kernel": kernel,
                                       "layers": layers, "dropout": dropout,
                                       **likelihood_hparams(likelihood, K)})
        if channels < 1:
            raise InputValueError(f"channels must be >= 1, got {channels}")
        if kernel < 2:
            raise InputValueError(f"kernel must be >= 2 (a causal convolution), got {kernel}")
        if layers is not None and layers < 1:
            raise InputValueError(f"layers must be >= 1, got {layers}")
        if not 0.0 <= dropout < 1.0:
            raise InputValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.dilations = dilations_for(self.n_qubits, kernel, layers)
        self.rf = receptive_field(kernel, self.dilations)
        self.embed = nn.Embedding(self.K + 1, channels)  # token K = start
        self.pos = nn.Parameter(torch.zeros(self.n_qubits, channels))
        self.blocks = nn.ModuleList(
            GatedResidualBlock(channels, kernel, d, dropout) for d in self.dilations
        )
        self.head = nn.Sequential(nn.GELU(), nn.Conv1d(channels, channels, 1), nn.GELU(),
                                  nn.Conv1d(channels, self.K, 1))
        nn.init.normal_(self.embed.weight, std=0.5)
        nn.init.normal_(self.pos, std=0.1)

    def _features(self, tokens: torch.Tensor, sites: slice) -> torch.Tensor:
        """Logits (batch, K, len) for input tokens (batch, len) placed at ``sites``."""
        x = (self.embed(tokens) + self.pos[sites]).transpose(1, 2)  # batch C N
        skip = 0
        for blk in self.blocks:
            x, s = blk(x)
            skip = skip + s
        return self.head(skip)

    @classmethod
    def training_defaults(cls, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
        """Training settings for this model (merged into ``default_config``).

        Large datasets: 8 epochs, so that the cosine learning-rate schedule runs to its end
        within a few minutes for a typical dataset on a small CPU (``scripts/bench_models.py``),
        and an exponential moving average of the weights (validated, kept and scored instead of
        the raw ones).
        """
        del n_qubits, K
        return {"epochs": 8, "ema_decay": 0.999} if shots > 20_000 else {}

    def _logits(self, a: torch.Tensor) -> torch.Tensor:
        return self._features(shifted_inputs(a, self.K), slice(None)).transpose(1, 2)

    def _step_fn(self, n: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
        start = torch.full((n, 1), self.K, dtype=torch.long, device=self.device)

        def step(prefix: torch.Tensor, j: int) -> torch.Tensor:
            lo = max(0, j + 1 - self.rf)  # only the receptive field of site j matters
            tokens = torch.cat([start, prefix[:, :j]], dim=1)[:, lo:]
            return self._features(tokens, slice(lo, j + 1))[:, :, -1]

        return step


__all__ = ["ConvModel"]
