"""Argmax dequantization of categorical outcomes (Hoogeboom et al. 2021, "Argmax flows").

Outcome labels 0..K-1 are categories, not numbers: "a + uniform noise" would place label 1
between labels 0 and 2 and let a continuous density leak mass between unrelated outcomes.
Instead each site j gets a vector v_j in R^K and the outcome is a_j = argmax_k v_jk. The
regions {v : argmax v_j = a_j for all j} partition R^{N K}, so any density p(v) defines a
normalised distribution over strings, Q(a) = int_{argmax v = a} p(v) dv, sampled exactly by
drawing v ~ p and taking the argmax.

The variational dequantizer q(v | a) places v inside the region of a:

1. u ~ q(u | a): a diagonal Gaussian whose mean and log-scale are an MLP of the one-hot string
   (all sites at once), followed by ``layers`` conditional affine couplings (context: the
   one-hot string);
2. thresholding: T_j = u_{j, a_j}; v_{j,a_j} = T_j and v_{jk} = T_j - softplus(T_j - u_jk) for
   k != a_j, so v_jk < T_j (less a fixed margin of 1e-3 that keeps the argmax strict in
   float32; a shift does not change the density). log|det dv/du| = sum_{k != a_j} log
   sigmoid(T_j - u_jk).

Then log Q(a) >= E_q[log p(v) - log q(v|a)] (the ELBO, a lower bound), and the importance-
weighted average log (1/S) sum_s p(v_s)/q(v_s|a) is a consistent estimate of log Q(a)
(a lower bound in expectation that tightens as S grows).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from qtomo.models.flows.transforms import AffineCoupling, Flow
from qtomo.models.layers import mlp

_LOG_2PI = math.log(2 * math.pi)
#: Gap kept between the winning and the other components of v (float32 ties would be lost).
_MARGIN = 1e-3


class ArgmaxDequantizer(nn.Module):
    """q(v | a) for strings of N sites with K categories, v of shape (batch, N*K) site-major.

    Parameters
    ----------
    n_sites, K : int
    hidden : int
        Width of the MLPs.
    layers : int
        Conditional affine couplings after the Gaussian.
    """

    def __init__(self, n_sites: int, K: int, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        self.n, self.K = n_sites, K
        d = n_sites * K
        self.base = mlp([d, hidden, hidden, 2 * d], zero_last=True)
        masks = site_masks(n_sites, K, layers)
        self.flow = Flow([AffineCoupling(m, hidden, 2, context_dim=d) for m in masks])

    def sample_and_log_q(
        self, a: torch.Tensor, generator: torch.Generator | None = None, threshold: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw v ~ q(v|a); return v (batch, N*K) and log q(v|a) (batch,), float32.

        ``threshold`` False skips step 2: v = u is then unconstrained (a posterior for a
        latent-variable model with a softmax decoder).
        """
        b = a.shape[0]
        onehot = F.one_hot(a, self.K).float().reshape(b, -1)
        mu, log_sigma = self.base(onehot).chunk(2, dim=1)
        log_sigma = log_sigma.clamp(-7.0, 3.0)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        u0 = mu + torch.exp(log_sigma) * eps
        log_q = -0.5 * (eps * eps + _LOG_2PI).sum(1) - log_sigma.sum(1)
        u, ld = self.flow(u0, onehot)  # u = g(u0): log q(u) = log q0(u0) - log|du/du0|
        log_q = log_q - ld
        if not threshold:
            return u, log_q
        u = u.view(b, self.n, self.K)
        t = u.gather(2, a.unsqueeze(2))  # batch N 1
        v = t - F.softplus(t - u) - _MARGIN
        v = v.scatter(2, a.unsqueeze(2), t)
        not_a = torch.ones_like(u).scatter(2, a.unsqueeze(2), 0.0)
        log_det = (-F.softplus(u - t) * not_a).sum((1, 2))  # log sigmoid(T - u) off the argmax
        return v.reshape(b, -1), log_q - log_det


def site_masks(n_sites: int, K: int, layers: int) -> list[torch.Tensor]:
    """Coupling masks over (site, category) dims: even/odd sites, then left/right halves."""
    sites = torch.arange(n_sites)
    patterns = [sites % 2 == 0, sites % 2 == 1, sites < (n_sites + 1) // 2,
                sites >= (n_sites + 1) // 2]
    if n_sites == 1:  # split the categories instead of the sites
        cats = torch.arange(K)
        return [(cats % 2 == i % 2) for i in range(layers)]
    return [patterns[i % 4].repeat_interleave(K) for i in range(layers)]


def chain_masks(n_sites: int, K: int) -> list[torch.Tensor]:
    """Autoregressive coupling schedule along the chain, in data -> latent order.

    Coupling k conditions on sites < k and transforms sites >= k; the list runs k = N-1 .. 0,
    so that sampling (the inverse, k = 0 .. N-1) fixes site k for good at step k, given the
    final values of sites < k: the flow is then as expressive as an autoregressive model.
    Coupling 0 has no conditioning sites (a learned shift and scale of every site).
    """
    sites = torch.arange(n_sites)
    return [(sites < k).repeat_interleave(K) for k in range(n_sites - 1, -1, -1)]


__all__ = ["ArgmaxDequantizer", "chain_masks", "site_masks"]
