"""Shared network parts of the qtomo models (no model is registered here).

* :class:`AutoregressiveEstimator`: the exact-likelihood machinery common to every
  autoregressive model, Q(a) = prod_j Q(a_j | a_<j): log-probabilities from per-site logits
  (teacher forcing) and exact ancestral sampling with ``torch.multinomial`` (seeded through a
  ``torch.Generator``). A subclass provides ``_logits(a) -> (batch, N, K)`` and a step
  function for sampling.
* :class:`CausalConv1d` and :class:`GatedResidualBlock`: PixelCNN / WaveNet style dilated
  causal convolutions over the site axis (used by ``conv`` and the VAE decoder).
* :class:`CausalSelfAttention` and :class:`TransformerBlock`: pre-norm decoder blocks with
  an optional key/value cache for O(N) incremental sampling (used by ``transformer``).
* :func:`mlp`: a plain multilayer perceptron (flow conditioners, VAE encoder, GAN).

Shapes: outcome strings ``(batch, N)`` int64; sequences of features ``(batch, N, C)``
("batch, site, channel") unless a docstring says ``(batch, C, N)`` (the convolution layout).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from qtomo.models.base import DensityEstimator

#: Strings sampled per pass (bounds the memory of very large sample requests).
SAMPLE_CHUNK = 1 << 16


def mlp(sizes: list[int], act: type[nn.Module] = nn.GELU, zero_last: bool = False) -> nn.Sequential:
    """Linear layers of widths ``sizes[0] -> ... -> sizes[-1]`` with ``act`` in between.

    ``zero_last`` initialises the last layer near zero (weights of std 1e-3, zero bias): a
    coupling then starts close to the identity while every parameter still gets a gradient.
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    if zero_last:
        nn.init.normal_(layers[-1].weight, std=1e-3)
        nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


def shifted_inputs(a: torch.Tensor, start_token: int) -> torch.Tensor:
    """Teacher-forcing inputs ``(batch, N)``: the start token, then a_0 .. a_{N-2}."""
    start = torch.full((a.shape[0], 1), start_token, dtype=torch.long, device=a.device)
    return torch.cat([start, a[:, :-1]], dim=1)


class AutoregressiveEstimator(DensityEstimator):
    """Base of exact autoregressive models: Q(a) = prod_j softmax(logits_j(a_<j))[a_j].

    Subclasses implement :meth:`_logits` (all sites at once, causal in the site index) and
    :meth:`_sample_steps`, a generator-style function that yields, for j = 0 .. N-1, the
    logits of site j given the sampled prefix it is sent back.
    """

    exact_log_prob = True
    has_likelihood = True

    def _logits(self, a: torch.Tensor) -> torch.Tensor:
        """Unnormalised conditionals (batch, N, K), logits[:, j] depends on a[:, :j] only."""
        raise NotImplementedError

    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self._cond(self._logits(a).float()), dim=-1)  # batch N K
        return logp.gather(-1, a.unsqueeze(-1)).squeeze(-1).double().sum(-1)

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.cat([self._sample_chunk(min(SAMPLE_CHUNK, n - s), generator)
                          for s in range(0, n, SAMPLE_CHUNK)])

    def _sample_chunk(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        out = torch.zeros((n, self.n_qubits), dtype=torch.long, device=self.device)
        step = self._step_fn(n)
        for j in range(self.n_qubits):  # ancestral sampling is sequential in j
            probs = torch.softmax(self._cond(step(out, j).float()), dim=-1)
            out[:, j] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return out

    def _step_fn(self, n: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
        """A function ``(prefix (n, N) long, j) -> logits (n, K)`` of site j.

        The default recomputes all logits from the prefix (O(N) passes of the full network);
        subclasses with caches override it.
        """
        return lambda prefix, j: self._logits(prefix)[:, j]


# -- causal convolutions ------------------------------------------------------------------------
class CausalConv1d(nn.Conv1d):
    """1-D convolution whose output at site j sees inputs at sites <= j only.

    Layout ``(batch, C, N)``. Left padding of ``(kernel - 1) * dilation`` zeros.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1) -> None:
        super().__init__(c_in, c_out, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class GatedResidualBlock(nn.Module):
    """PixelCNN / WaveNet gated unit: x + W_o [tanh(W_f * x + c_f) . sigmoid(W_g * x + c_g)].

    ``*`` is a dilated causal convolution; ``c_f``, ``c_g`` are an optional per-site
    conditioning signal ``(batch, 2C, N)`` (the VAE decoder passes its latent code there).
    Returns the residual output and the skip output, both ``(batch, C, N)``.
    """

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = CausalConv1d(channels, 2 * channels, kernel, dilation)
        self.out = nn.Conv1d(channels, 2 * channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x)
        if cond is not None:
            h = h + cond
        f, g = h.chunk(2, dim=1)
        u = self.drop(torch.tanh(f) * torch.sigmoid(g))
        res, skip = self.out(u).chunk(2, dim=1)
        return (x + res) * math.sqrt(0.5), skip


def dilations_for(
    n_sites: int, kernel: int, layers: int | None, max_dilation: int = 64
) -> list[int]:
    """Dilations 1, 2, 4, ... (cycled) whose receptive field covers ``n_sites`` sites.

    With ``layers`` None the smallest stack whose receptive field 1 + sum (kernel-1) d_l
    reaches ``n_sites`` is used (at least 2 layers).
    """
    out: list[int] = []
    rf, d = 1, 1
    while (layers is None and (rf < n_sites or len(out) < 2)) or (
        layers is not None and len(out) < layers
    ):
        out.append(d)
        rf += (kernel - 1) * d
        d = 1 if d >= max_dilation else 2 * d
    return out


def receptive_field(kernel: int, dilations: list[int]) -> int:
    """Sites one output of a stack of causal convolutions sees (itself included)."""
    return 1 + sum((kernel - 1) * d for d in dilations)


# -- attention --------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention on ``(batch, T, C)`` with an optional KV cache.

    ``cache`` is a dict that holds ``k`` and ``v`` ``(batch, heads, t, C/heads)`` of the sites
    already seen; when given, ``x`` holds only the new sites and the cache is extended.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(
        self, x: torch.Tensor, cache: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        causal = True
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
                causal = t > 1  # a single new query may attend to everything cached
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal and k.shape[2] == t,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class TransformerBlock(nn.Module):
    """Pre-norm decoder block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d_model: int, heads: int, ff_mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff = mlp([d_model, ff_mult * d_model, d_model])
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cache: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), cache))
        return x + self.drop(self.ff(self.ln2(x)))


__all__ = [
    "SAMPLE_CHUNK",
    "AutoregressiveEstimator",
    "CausalConv1d",
    "CausalSelfAttention",
    "GatedResidualBlock",
    "TransformerBlock",
    "dilations_for",
    "mlp",
    "receptive_field",
    "shifted_inputs",
]
