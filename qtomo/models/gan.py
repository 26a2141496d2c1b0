"""Generative adversarial network over outcome strings (Goodfellow et al. 2014).

Generator: Gaussian noise z ~ N(0, I) -> per-site logits -> string, a_j = argmax_k
(l_jk + g_jk) with Gumbel noise g (the Gumbel-max trick: a_j is drawn from softmax(l_j)).
``generator="autoregressive"`` (default): l_j = MLP(z, one-hots of a_<j, site j), so given z
the string is an autoregressive draw and two-site correlations need no fine structure in z;
``generator="mlp"``: l(z) = MLP(z) for all sites at once (given z the sites are independent:
Q is a mixture of product distributions, the plain recipe). Gradients pass the discrete
choice with the straight-through
Gumbel-softmax estimator (forward: the one-hot of a; backward: the gradient of
softmax((l + g) / tau)). Discriminator: an MLP on the flattened one-hot string.

Losses (per shot, both minimised in one step of the Trainer's single optimizer):

* discriminator: -log D(a_real) - log(1 - D(a_fake)) (a_fake detached from the generator);
* generator, non-saturating: -log D(a_fake), evaluated with the discriminator's parameters
  detached, so its gradient reaches only the generator.

With an R1 penalty (Mescheder et al. 2018), gamma/2 ||grad_x D(x_real)||^2, on the
discriminator. Optionally (``ema`` > 0) the generator's weights are averaged (an exponential
moving average kept in buffers, Yazici et al. 2019) and ``sample`` uses the averaged generator;
the default is off: the average of a nonlinear generator's weights is not a generator of the
average distribution, and it distorted the two-site correlators (docs/design-notes.md,
section "Models").

**No likelihood**: ``has_likelihood`` is False and ``log_prob`` raises; the model's metrics
come from its samples only (observables; histogram fidelity, KL and JS for small N), and are
labelled so. In evaluation mode ``forward`` (the Trainer's validation NLL) is NaN by
default: no validation signal, the Trainer keeps the latest weights (a histogram
cross-entropy of 2^18 samples proved too noisy to pick a best epoch and stopped runs early).
With ``hist_samples`` > 0 and K^N <= 2^16 it is the cross-entropy of the shots under add-1/2
smoothed frequencies of ``hist_samples`` samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from qtomo.errors import InputValueError
from qtomo.models.base import DensityEstimator
from qtomo.models.layers import SAMPLE_CHUNK, mlp
from qtomo.models.registry import register

#: Largest K^N for which evaluation mode returns a histogram cross-entropy.
HIST_MAX_STRINGS = 1 << 16


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(d_real) - log(1 - sigmoid(d_fake)) per pair, from logits; (batch,)."""
    return F.softplus(-d_real) + F.softplus(d_fake)


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log sigmoid(d_fake) from the discriminator's logits."""
    return F.softplus(-d_fake)


def pair_moment_gap(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Unbiased squared MMD of two batches under the kernel k(x, y) = 2 x.y + (x.y)^2.

    ``real``, ``fake``: one-hot strings (batch, N, K); x is the flattened one-hot (N K). The
    kernel's features are x and x x^T, so this is the squared distance of the one- and
    two-site one-hot moments (which fix every one- and two-site correlator), estimated
    without the i = j terms (the plain batch estimate would also reward a generator for low
    variance, i.e. push it to collapse). A scalar, broadcast to every shot.
    """
    xr, xf = real.flatten(1), fake.flatten(1)

    def k(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = x @ y.T
        return 2 * d + d * d

    def off_diag_mean(m: torch.Tensor) -> torch.Tensor:
        n = m.shape[0]
        return (m.sum() - m.diagonal().sum()) / max(1, n * (n - 1))

    mmd = off_diag_mean(k(xr, xr)) + off_diag_mean(k(xf, xf)) - 2 * k(xr, xf).mean()
    return mmd.expand(len(xf))


def one_and_two_site_moments(onehot: torch.Tensor, probs: torch.Tensor | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch means of the one-site moments (N K,) and two-site moments (N K, N K) of one-hot
    strings (batch, N, K); blocks with site i >= j are zero. With ``probs`` (the conditional
    probabilities of each site, same shape), site j enters through them (see
    :func:`expected_pair_moment_gap`)."""
    _, sites, k = onehot.shape
    site = torch.arange(sites, device=onehot.device).repeat_interleave(k)
    upper = (site[:, None] < site[None, :]).to(onehot.dtype)
    x = onehot.flatten(1)
    p = x if probs is None else probs.flatten(1)
    return p.mean(0), (x.T @ p) / x.shape[0] * upper


def expected_pair_moment_gap(
    real: torch.Tensor, fake: torch.Tensor, fake_probs: torch.Tensor,
    reference: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Unbiased squared distance of the one- and two-site moments of real and generated strings,
    with the generated moments taken in expectation over the generator's last draw.

    ``real``, ``fake``: one-hot strings (batch, N, K); ``fake_probs``: the generator's
    conditional probabilities of each site (batch, N, K), so that for sites i < j
    E[onehot_i (x) probs_j] = E[onehot_i (x) onehot_j] and E[probs_j] = E[onehot_j]: the same
    moments as :func:`pair_moment_gap` matches, but with exact gradients through the softmax of
    site j instead of the straight-through estimate. The generated batch is split in halves
    A and B and the estimate is ``3 sum d1_A d1_B / r1 + 2 sum_{i<j} D2_A D2_B / r2`` (d: fake
    moment of one half minus the real moment; r: the real moments, at least 1e-3), a
    chi-square distance: rare outcomes and pairs, whose dual-frame values and so whose weight
    in the correlators are largest, count as much as common ones. The real moments are the
    ``reference`` when given (the mean over all real batches seen so far: a precise target,
    where the moments of one half-batch carry sampling noise far larger than the gaps that
    matter: a pair probability p from n shots has relative error sqrt((1 - p) / (n p))),
    else those of the real batch's halves (and
    then r = 1). A scalar, broadcast to every shot.
    """
    n, sites, k = fake.shape
    h = n // 2
    if h < 1 or real.shape[0] < 2:
        return fake.new_zeros(n)
    halves = []
    for sl_f, sl_r in ((slice(0, h), slice(0, real.shape[0] // 2)),
                       (slice(h, 2 * h), slice(real.shape[0] // 2, None))):
        f1, f2 = one_and_two_site_moments(fake[sl_f], fake_probs[sl_f])
        if reference is not None:
            r1, r2 = reference
        else:
            r1, r2 = one_and_two_site_moments(real[sl_r])
        halves.append((f1 - r1, f2 - r2))
    (a1, a2), (b1, b2) = halves
    if reference is None:
        w1, w2 = a1.new_ones(()), a2.new_ones(())
    else:
        w1 = 1.0 / reference[0].clamp(min=1e-3)
        w2 = 1.0 / reference[1].clamp(min=1e-3)
    gap = 3.0 * (a1 * b1 * w1).sum() + 2.0 * (a2 * b2 * w2).sum()
    return gap.expand(n)


@register("gan")
class GANModel(DensityEstimator):
    """GAN with a Gumbel straight-through generator over K-outcome strings of N qubits.

    Parameters
    ----------
    n_qubits : int
        String length N.
    K : int
        Outcomes per qubit.
    noise : int
        Dimension of the Gaussian noise z.
    hidden : int
        Width of generator and discriminator MLPs.
    depth : int
        Hidden layers of each MLP.
    tau : float
        Temperature of the Gumbel-softmax relaxation (backward pass only).
    r1 : float
        Weight gamma of the R1 gradient penalty on real data (0 disables).
    ema : float
        Decay of the generator's weight average used by ``sample`` (0, the default: no
        averaging, ``sample`` uses the latest weights).
    hist_samples : int
        Samples of the histogram cross-entropy used as validation loss (small N; 0: none,
        the Trainer keeps the latest weights).
    pair_matching : float
        Weight of an extra generator term, the unbiased squared distance of the one- and
        two-site one-hot moments of real and generated batches, the generated ones taken in
        expectation over the last draw (:func:`expected_pair_moment_gap`; 0: off).
    """

    exact_log_prob = False
    has_likelihood = False

    def __init__(
        self,
        n_qubits: int,
        K: int,
        *,
        noise: int = 32,
        hidden: int = 256,
        depth: int = 2,
        tau: float = 2.0,
        r1: float = 2.0,
        ema: float = 0.0,
        hist_samples: int = 0,
        pair_matching: float = 2000.0,
        generator: str = "autoregressive",
    ) -> None:
        noise, hidden, depth = int(noise), int(hidden), int(depth)
        tau, r1, ema, hist_samples = float(tau), float(r1), float(ema), int(hist_samples)
        pair_matching, generator = float(pair_matching), str(generator).lower()
        super().__init__(n_qubits, K, {"noise": noise, "hidden": hidden, "depth": depth,
                                       "tau": tau, "r1": r1, "ema": ema,
                                       "hist_samples": hist_samples,
                                       "pair_matching": pair_matching,
                                       "generator": generator})
        if generator not in ("autoregressive", "mlp"):
            raise InputValueError(
                f"generator must be 'autoregressive' or 'mlp', got {generator!r}"
            )
        self.gen_kind = generator
        for name, v, lo in (("noise", noise, 1), ("hidden", hidden, 1), ("depth", depth, 1),
                            ("hist_samples", hist_samples, 0)):
            if v < lo:
                raise InputValueError(f"{name} must be >= {lo}, got {v}")
        if not (math.isfinite(tau) and tau > 0):
            raise InputValueError(f"tau must be a number > 0, got {tau}")
        if not (math.isfinite(r1) and r1 >= 0):
            raise InputValueError(f"r1 must be a number >= 0, got {r1}")
        if not (math.isfinite(pair_matching) and pair_matching >= 0):
            raise InputValueError(f"pair_matching must be a number >= 0, got {pair_matching}")
        if not 0.0 <= ema < 1.0:
            raise InputValueError(f"ema must lie in [0, 1), got {ema}")
        self.noise, self.tau, self.r1, self.ema = noise, tau, r1, ema
        self.pair_matching = pair_matching
        self.hist_samples = hist_samples
        d = self.n_qubits * self.K
        act = partial(nn.LeakyReLU, 0.2)
        if generator == "mlp":  # z -> all N x K logits at once
            self.generator = mlp([noise] + [hidden] * depth + [d], act=act)
        else:  # (z, one-hots of sites < j, one-hot of j) -> K logits of site j
            self.generator = mlp([noise + d + self.n_qubits] + [hidden] * depth + [self.K],
                                 act=act)
        self.discriminator = mlp([d] + [hidden] * depth + [1], act=act)
        # generator weight average, kept in buffers (not trained, saved with the model)
        self._ema_names = [n for n, _ in self.generator.named_parameters()]
        for n, p in self.generator.named_parameters():
            self.register_buffer("ema_" + n.replace(".", "_"), p.detach().clone())
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        # running mean of the real one- and two-site moments (weights of the moment term)
        self.register_buffer("real_m1", torch.zeros(d))
        self.register_buffer("real_m2", torch.zeros(d, d))
        self.register_buffer("real_batches", torch.zeros((), dtype=torch.long))
        self._version = 0
        self._hist: tuple[int, torch.Tensor] | None = None

    @classmethod
    def training_defaults(cls, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
        """Training settings for this model (merged into ``default_config``).

        Large datasets: 50 epochs and a patience of 10 epochs (the histogram validation
        loss of a GAN is
        noisy).
        """
        del n_qubits, K
        return {"epochs": 50, "patience": 10} if shots > 20_000 else {}

    # -- generator ---------------------------------------------------------------------------
    def _ema_params(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, "ema_" + n.replace(".", "_")) for n in self._ema_names}

    def _net(self, x: torch.Tensor, averaged: bool) -> torch.Tensor:
        if averaged and self.ema > 0:
            return functional_call(self.generator, self._ema_params(), (x,))
        return self.generator(x)

    def generator_logits(self, z: torch.Tensor, averaged: bool = False) -> torch.Tensor:
        """Per-site logits (batch, N, K) of the ``mlp`` generator (``averaged``: EMA weights)."""
        if self.gen_kind != "mlp":
            raise InputValueError("generator_logits exists for the 'mlp' generator only")
        return self._net(z, averaged).view(z.shape[0], self.n_qubits, self.K)

    def _run_generator(
        self, z: torch.Tensor, pick: Callable[[torch.Tensor], torch.Tensor], averaged: bool,
        probs: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """One-hot strings (n, N, K) from noise z; ``pick`` turns logits (..., K) into one-hots.

        ``mlp``: all sites from z at once. ``autoregressive``: site j from z and the one-hots
        already picked for sites < j (given z, an autoregressive distribution). ``probs``, when
        given, receives the softmax of the logits (the conditional probabilities), (n, N, K).
        """
        n = z.shape[0]
        if self.gen_kind == "mlp":
            logits = self._net(z, averaged).view(n, self.n_qubits, self.K)
            if probs is not None:
                probs.append(torch.softmax(logits, -1))
            return pick(logits)
        eye = torch.eye(self.n_qubits, device=z.device, dtype=z.dtype)
        outs: list[torch.Tensor] = []
        for j in range(self.n_qubits):
            rest = z.new_zeros(n, (self.n_qubits - j) * self.K)
            prefix = torch.cat([*outs, rest], dim=1)
            logits = self._net(torch.cat([z, prefix, eye[j].expand(n, -1)], dim=1), averaged)
            if probs is not None:
                probs.append(torch.softmax(logits, -1))
            outs.append(pick(logits))
        if probs is not None:
            probs[:] = [torch.stack(probs, dim=1)]
        return torch.stack(outs, dim=1)

    def _straight_through(self, logits: torch.Tensor) -> torch.Tensor:
        u = torch.rand(logits.shape, device=logits.device, dtype=logits.dtype)
        g = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
        soft = torch.softmax((logits + g) / self.tau, dim=-1)
        hard = F.one_hot((logits + g).argmax(-1), self.K).to(soft.dtype)
        return hard + (soft - soft.detach())  # exactly `hard` forward, softmax gradient

    def generate(self, n: int, probs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Straight-through one-hot strings (n, N, K): exact one-hots with relaxed gradients.

        ``probs``, when given, receives the conditional probabilities (n, N, K).
        """
        z = torch.randn((n, self.noise), device=self.device)
        return self._run_generator(z, self._straight_through, averaged=False, probs=probs)

    @torch.no_grad()
    def _update_ema(self) -> None:
        self.ema_updates += 1
        t = float(self.ema_updates)
        d = min(self.ema, (1 + t) / (10 + t))
        for n, p in self.generator.named_parameters():
            getattr(self, "ema_" + n.replace(".", "_")).lerp_(p.detach(), 1.0 - d)

    # -- discriminator -----------------------------------------------------------------------
    def discriminate(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """Discriminator logits (batch,) of one-hot strings (batch, N, K).

        ``frozen``: evaluate with detached parameters (gradients reach only ``x``).
        """
        flat = x.flatten(1)
        if frozen:
            params = {n: p.detach() for n, p in self.discriminator.named_parameters()}
            return functional_call(self.discriminator, params, (flat,)).squeeze(1)
        return self.discriminator(flat).squeeze(1)

    # -- DensityEstimator --------------------------------------------------------------------
    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Training: discriminator + generator loss per shot; evaluation: see module doc."""
        if not self.training:
            return self._validation_loss(a)
        self._version += 1
        if self.ema > 0:
            self._update_ema()
        real = F.one_hot(a, self.K).float()
        if self.r1 > 0:
            real.requires_grad_(True)
        fake_probs: list[torch.Tensor] = []
        fake = self.generate(a.shape[0], probs=fake_probs)
        d_real = self.discriminate(real)
        loss = discriminator_loss(d_real, self.discriminate(fake.detach()))
        if self.r1 > 0:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            loss = loss + 0.5 * self.r1 * grad.pow(2).flatten(1).sum(1)
        loss = loss + generator_loss(self.discriminate(fake, frozen=True))
        if self.pair_matching > 0:
            ref = (self.real_m1, self.real_m2) if int(self.real_batches) > 0 else None
            loss = loss + self.pair_matching * expected_pair_moment_gap(
                real.detach(), fake, fake_probs[0], ref)
            with torch.no_grad():  # the mean over every real batch seen (updated after use)
                m1, m2 = one_and_two_site_moments(real.detach())
                self.real_batches += 1
                w = 1.0 / float(self.real_batches)
                self.real_m1.lerp_(m1, w)
                self.real_m2.lerp_(m2, w)
        return loss

    def _validation_loss(self, a: torch.Tensor) -> torch.Tensor:
        n_strings = self.K**self.n_qubits
        if n_strings > HIST_MAX_STRINGS or self.hist_samples == 0:
            return torch.full((a.shape[0],), math.nan, device=a.device)
        if self._hist is None or self._hist[0] != self._version:
            g = torch.Generator(device=self.device).manual_seed(12345)
            s = self._sample_impl(self.hist_samples, g)
            counts = torch.bincount(self._index(s), minlength=n_strings).double()
            q = (counts + 0.5) / (counts.sum() + 0.5 * n_strings)
            self._hist = (self._version, torch.log(q))
        return -self._hist[1][self._index(a)].float()

    def _index(self, a: torch.Tensor) -> torch.Tensor:
        w = self.K ** torch.arange(self.n_qubits - 1, -1, -1, device=a.device)
        return (a.long() * w).sum(1)

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        def pick(logits: torch.Tensor) -> torch.Tensor:
            probs = torch.softmax(logits.float(), -1)
            idx = torch.multinomial(probs.reshape(-1, self.K), 1, generator=generator)
            return F.one_hot(idx.view(probs.shape[:-1]), self.K).to(logits.dtype)

        out = []
        for s in range(0, n, SAMPLE_CHUNK):
            m = min(SAMPLE_CHUNK, n - s)
            z = torch.randn((m, self.noise), generator=generator, device=self.device)
            out.append(self._run_generator(z, pick, averaged=True).argmax(-1))
        return torch.cat(out)


__all__ = ["GANModel", "discriminator_loss", "expected_pair_moment_gap", "generator_loss",
           "one_and_two_site_moments", "pair_moment_gap"]
