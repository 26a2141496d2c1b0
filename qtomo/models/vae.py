"""Variational autoencoder over outcome strings, with an autoregressive decoder and free bits.

Generative model: z ~ N(0, I_L), then a ~ p(a|z) = prod_j p(a_j | a_<j, z), a gated causal
convolution (the ``conv`` model's blocks) whose input at every site also receives a learned
projection of z. Inference model: q(z|a) = N(mu(a), diag sigma^2(a)), an MLP of the one-hot
string; z = mu + sigma * eps (reparameterization).

Objective (beta-ELBO): E_q[log p(a|z)] - beta KL(q(z|a) || N(0, I)) with the closed form
KL = 1/2 sum_d (sigma_d^2 + mu_d^2 - 1 - log sigma_d^2).

**Posterior collapse.** A factorized decoder cannot express correlations except through z
and underfits; a strong (autoregressive) decoder models the data alone and the optimiser
switches z off (KL -> 0: every latent unit inactive). Two remedies are built in:

* **free bits** (Kingma et al. 2016): each latent dimension's batch-averaged KL is charged
  no less than ``free_bits`` nats, so below that level z is free to carry information;
* **KL annealing** (Bowman et al. 2016): beta ramps linearly from 0 to ``beta`` over the first
  ``anneal_steps`` training steps (the model counts its own training steps in a buffer, so
  the Trainer needs no hook and a resumed run continues the ramp).

Both shape only the training loss (``forward`` in training mode). In evaluation mode
``forward`` is the plain negative ELBO (beta = 1, no free bits): an upper bound on -log Q(a),
which the Trainer uses as validation NLL. :meth:`active_units` counts the latent dimensions in
use (Burda et al. 2016: Var_a E_q[z_d | a] > 0.01).

``log_prob`` is the importance-weighted **estimate** (IWAE, ``iw_samples`` draws of z from q):
log (1/S) sum_s p(a|z_s) p(z_s) / q(z_s|a); consistent, biased low for finite S;
``exact_log_prob`` is False.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qtomo.errors import InputValueError
from qtomo.models.base import DensityEstimator
from qtomo.models.layers import (
    SAMPLE_CHUNK,
    GatedResidualBlock,
    dilations_for,
    mlp,
    shifted_inputs,
)
from qtomo.models.registry import register

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(log_var)) || N(0, I)) per dimension, closed form (same shape as mu)."""
    return 0.5 * (torch.exp(log_var) + mu * mu - 1.0 - log_var)


@register("vae")
class VAEModel(DensityEstimator):
    """beta-VAE with an autoregressive convolutional decoder, free bits and KL annealing.

    Parameters
    ----------
    n_qubits : int
        String length N.
    K : int
        Outcomes per qubit.
    latent : int
        Latent dimensions L.
    hidden : int
        Width of the encoder MLP.
    channels : int
        Channels of the decoder's causal convolutions.
    kernel : int
        Width of the decoder's convolutions (>= 2).
    beta : float
        Weight of the KL term after annealing (>= 0).
    free_bits : float
        Minimum KL charged per latent dimension, in nats (0 disables).
    anneal_steps : int
        Training steps of the linear KL warm-up (0 disables).
    iw_samples : int
        Importance samples of the ``log_prob`` estimate.
    """

    exact_log_prob = False
    has_likelihood = True

    def __init__(
        self,
        n_qubits: int,
        K: int,
        *,
        latent: int = 8,
        hidden: int = 128,
        channels: int = 64,
        kernel: int = 3,
        beta: float = 1.0,
        free_bits: float = 0.1,
        anneal_steps: int = 300,
        iw_samples: int = 32,
    ) -> None:
        latent, hidden, channels, kernel = int(latent), int(hidden), int(channels), int(kernel)
        beta, free_bits = float(beta), float(free_bits)
        anneal_steps, iw_samples = int(anneal_steps), int(iw_samples)
        super().__init__(n_qubits, K, {
            "latent": latent, "hidden": hidden, "channels": channels, "kernel": kernel,
            "beta": beta, "free_bits": free_bits, "anneal_steps": anneal_steps,
            "iw_samples": iw_samples,
        })
        for name, v, lo in (("latent", latent, 1), ("hidden", hidden, 1),
                            ("channels", channels, 1), ("kernel", kernel, 2),
                            ("anneal_steps", anneal_steps, 0), ("iw_samples", iw_samples, 1)):
            if v < lo:
                raise InputValueError(f"{name} must be >= {lo}, got {v}")
        if not (math.isfinite(beta) and beta >= 0):
            raise InputValueError(f"beta must be a finite number >= 0, got {beta}")
        if not (math.isfinite(free_bits) and free_bits >= 0):
            raise InputValueError(f"free_bits must be a finite number >= 0, got {free_bits}")
        self.latent, self.beta, self.free_bits = latent, beta, free_bits
        self.anneal_steps, self.iw_samples = anneal_steps, iw_samples
        n = self.n_qubits
        # inference network q(z|a)
        self.encoder = mlp([n * self.K, hidden, hidden, 2 * latent])
        # generative network p(a|z): causal gated convolutions, z added at every site
        self.embed = nn.Embedding(self.K + 1, channels)
        self.pos = nn.Parameter(torch.zeros(n, channels))
        self.z_proj = nn.Linear(latent, n * channels)
        self.dilations = dilations_for(n, kernel, None)
        self.blocks = nn.ModuleList(GatedResidualBlock(channels, kernel, d)
                                    for d in self.dilations)
        self.head = nn.Sequential(nn.GELU(), nn.Conv1d(channels, self.K, 1))
        nn.init.normal_(self.embed.weight, std=0.5)
        nn.init.normal_(self.pos, std=0.1)
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))

    @classmethod
    def training_defaults(cls, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
        """Training settings for this model (merged into ``default_config``).

        Large datasets: 15 epochs (the cosine learning-rate schedule ends within a few minutes
        for a typical dataset on a small CPU, ``scripts/bench_models.py``) and a moving average
        of the weights.
        """
        del n_qubits, K
        return {"epochs": 15, "ema_decay": 0.999} if shots > 20_000 else {}

    # -- networks ----------------------------------------------------------------------------
    def encode(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu and log sigma^2 of q(z|a), each (batch, L)."""
        h = self.encoder(F.one_hot(a, self.K).float().flatten(1))
        mu, log_var = h.chunk(2, dim=1)
        return mu, log_var.clamp(-12.0, 8.0)

    def _decoder_logits(self, tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Logits (batch, N, K) of p(a_j | a_<j, z) for teacher-forcing tokens (batch, N)."""
        b, n = tokens.shape
        x = self.embed(tokens) + self.pos[:n] + self.z_proj(z).view(b, self.n_qubits, -1)[:, :n]
        x = x.transpose(1, 2)  # batch C N
        skip = 0
        for blk in self.blocks:
            x, s = blk(x)
            skip = skip + s
        return self.head(skip).transpose(1, 2)

    def log_likelihood(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(a|z), (batch,) float32 (exact: the decoder is autoregressive)."""
        logp = torch.log_softmax(self._decoder_logits(shifted_inputs(a, self.K), z).float(), -1)
        return logp.gather(-1, a.unsqueeze(-1)).squeeze(-1).sum(-1)

    # -- objectives --------------------------------------------------------------------------
    def current_beta(self) -> float:
        """KL weight at the current training step (linear warm-up to ``beta``)."""
        if self.anneal_steps == 0:
            return self.beta
        return self.beta * min(1.0, float(self.train_steps) / self.anneal_steps)

    def elbo(self, a: torch.Tensor) -> torch.Tensor:
        """The ELBO E_q[log p(a|z)] - KL(q(z|a) || p(z)) per string, one draw of z; (batch,)."""
        mu, log_var = self.encode(a)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        return self.log_likelihood(a, z) - gaussian_kl(mu, log_var).sum(1)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Training: -(reconstruction - beta_t * free-bits KL); evaluation: -ELBO."""
        if not self.training:
            return -self.elbo(a)
        mu, log_var = self.encode(a)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        rec = self.log_likelihood(a, z)
        kl = gaussian_kl(mu, log_var)  # batch L
        if self.free_bits > 0:
            # dimensions whose batch-mean KL is below the floor are charged the floor (no grad)
            above = (kl.detach().mean(0) > self.free_bits).float()
            kl = kl * above + self.free_bits * (1.0 - above)
        beta = self.current_beta()
        self.train_steps += 1
        return -(rec - beta * kl.sum(1))

    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        s = self.iw_samples
        rows = max(1, (1 << 16) // s)
        return torch.cat([self._iw(a[i : i + rows], s) for i in range(0, len(a), rows)]).double()

    def _iw(self, a: torch.Tensor, s: int) -> torch.Tensor:
        b = a.shape[0]
        mu, log_var = self.encode(a)
        mu, log_var = mu.repeat_interleave(s, 0), log_var.repeat_interleave(s, 0)
        eps = torch.randn_like(mu)
        z = mu + torch.exp(0.5 * log_var) * eps
        log_q = -0.5 * (eps * eps + _LOG_2PI + log_var).sum(1)
        log_pz = -0.5 * (z * z + _LOG_2PI).sum(1)
        w = self.log_likelihood(a.repeat_interleave(s, 0), z) + log_pz - log_q
        return torch.logsumexp(w.view(b, s), 1) - math.log(s)

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.cat([self._sample_chunk(min(SAMPLE_CHUNK, n - s), generator)
                          for s in range(0, n, SAMPLE_CHUNK)])

    def _sample_chunk(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        z = torch.randn((n, self.latent), generator=generator, device=self.device)
        out = torch.zeros((n, self.n_qubits), dtype=torch.long, device=self.device)
        start = torch.full((n, 1), self.K, dtype=torch.long, device=self.device)
        for j in range(self.n_qubits):
            tokens = torch.cat([start, out[:, :j]], dim=1)
            probs = torch.softmax(self._decoder_logits(tokens, z)[:, -1].float(), -1)
            out[:, j] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return out

    # -- diagnostics -------------------------------------------------------------------------
    @torch.no_grad()
    def active_units(self, a: torch.Tensor, threshold: float = 0.01) -> int:
        """Latent dimensions with Var_a(E_q[z_d | a]) > ``threshold`` over the strings ``a``."""
        x = self._check_outcomes(a)
        mu = torch.cat([self.encode(x[i : i + 65536])[0] for i in range(0, len(x), 65536)])
        return int((mu.var(0) > threshold).sum())

    @torch.no_grad()
    def mean_kl(self, a: torch.Tensor) -> torch.Tensor:
        """Average KL(q(z|a) || p(z)) per latent dimension over the strings ``a``, (L,)."""
        x = self._check_outcomes(a)
        mu, log_var = self.encode(x)
        return gaussian_kl(mu, log_var).mean(0)


__all__ = ["VAEModel", "gaussian_kl"]
