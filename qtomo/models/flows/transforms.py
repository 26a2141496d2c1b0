"""Invertible transforms with exact log-determinants (NICE, RealNVP, Glow building blocks).

Convention: ``forward`` maps data x ``(batch, D)`` to latent z and returns
``(z, logdet)`` with ``logdet = log|det dz/dx|`` of shape ``(batch,)``; ``inverse`` maps z
back to x. Then log p(x) = log p_z(f(x)) + log|det df/dx| (change of variables).

* :class:`AdditiveCoupling` (NICE, Dinh et al. 2014): z_B = x_B + t(x_A); volume preserving.
* :class:`AffineCoupling` (RealNVP, Dinh et al. 2016): z_B = x_B exp(s(x_A)) + t(x_A),
  log|det| = sum s; s is soft-clamped to (-clamp, clamp) for stability.
* :class:`DiagonalScale` (NICE's final scaling layer): z = x exp(s).
* :class:`ActNorm` (Glow, Kingma & Dhariwal 2018): per-dimension affine map initialised from
  the first training batch so that z has zero mean and unit variance.
* :class:`InvertibleLinear` (Glow's invertible 1x1 convolution; here the "channels" are all D
  dimensions): W = P L (U + diag(sign exp(log_s))) in LU form, log|det W| = sum log_s.
* :class:`Permutation`: a fixed permutation (log-det 0).

Couplings take an optional ``context`` ``(batch, C)`` that is fed to their conditioner (a
conditional flow, used for variational dequantization).
"""

from __future__ import annotations

import torch
from torch import nn

from qtomo.models.layers import mlp


class Transform(nn.Module):
    """An invertible map x -> z with exact log|det dz/dx|."""

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class Flow(Transform):
    """Composition of transforms, applied in order (data -> latent)."""

    def __init__(self, transforms: list[Transform]) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x, context=None):
        total = x.new_zeros(x.shape[0])
        for t in self.transforms:
            x, ld = t(x, context)
            total = total + ld
        return x, total

    def inverse(self, z, context=None):
        for t in reversed(self.transforms):
            z = t.inverse(z, context)
        return z


class _Coupling(Transform):
    """Base of couplings: dimensions ``mask`` (True) condition the others (False).

    ``groups`` > 0 adds argmax features to the conditioner's input: the conditioning
    dimensions are read as consecutive groups of ``groups`` numbers and the one-hot of each
    group's argmax is appended (with argmax dequantization, the outcome of each conditioning
    site). The conditioner may be any function of x_A, so inverse and log-det stay exact.
    """

    def __init__(self, mask: torch.Tensor, n_out: int, hidden: int, depth: int,
                 context_dim: int = 0, groups: int = 0) -> None:
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.bool)
        self.register_buffer("idx_a", torch.nonzero(mask).squeeze(1), persistent=False)
        self.register_buffer("idx_b", torch.nonzero(~mask).squeeze(1), persistent=False)
        na, nb = int(mask.sum()), int((~mask).sum())
        self.nb = nb
        self.groups = int(groups) if groups and na and na % int(groups) == 0 else 0
        n_in = na * (2 if self.groups else 1) + context_dim
        if n_in == 0:  # nothing to condition on: the shift (and log-scale) are parameters
            self.net = None
            self.const = nn.Parameter(1e-3 * torch.randn(n_out * nb))
        else:
            self.net = mlp([n_in] + [hidden] * depth + [n_out * nb], zero_last=True)

    def _cond(self, xa: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        if self.net is None:
            return self.const.expand(xa.shape[0], -1)
        parts = [xa]
        if self.groups:
            g = xa.view(xa.shape[0], -1, self.groups)
            parts.append(torch.nn.functional.one_hot(g.argmax(-1), self.groups)
                         .to(xa.dtype).flatten(1))
        if context is not None:
            parts.append(context)
        return self.net(torch.cat(parts, dim=1) if len(parts) > 1 else xa)

    def _params(self, xa, context):
        raise NotImplementedError

    def _merge(self, xa: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        out = xa.new_empty(xa.shape[0], xa.shape[1] + zb.shape[1])
        out[:, self.idx_a] = xa
        out[:, self.idx_b] = zb
        return out


class AdditiveCoupling(_Coupling):
    """NICE coupling: z_A = x_A, z_B = x_B + t(x_A [, context]); log|det| = 0."""

    def __init__(self, mask, hidden: int = 128, depth: int = 2, context_dim: int = 0,
                 groups: int = 0) -> None:
        super().__init__(mask, 1, hidden, depth, context_dim, groups)

    def forward(self, x, context=None):
        xa, xb = x[:, self.idx_a], x[:, self.idx_b]
        zb = xb + self._cond(xa, context)
        return self._merge(xa, zb), x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        za, zb = z[:, self.idx_a], z[:, self.idx_b]
        return self._merge(za, zb - self._cond(za, context))


class AffineCoupling(_Coupling):
    """RealNVP coupling: z_B = x_B exp(s) + t with (s, t) = NN(x_A [, context]).

    ``s = clamp * tanh(raw / clamp)`` keeps the scale in (exp(-clamp), exp(clamp)).
    """

    def __init__(self, mask, hidden: int = 128, depth: int = 2, context_dim: int = 0,
                 clamp: float = 3.0, groups: int = 0) -> None:
        super().__init__(mask, 2, hidden, depth, context_dim, groups)
        self.clamp = float(clamp)

    def _st(self, xa, context):
        raw_s, t = self._cond(xa, context).view(xa.shape[0], 2, self.nb).unbind(1)
        return self.clamp * torch.tanh(raw_s / self.clamp), t

    def forward(self, x, context=None):
        xa, xb = x[:, self.idx_a], x[:, self.idx_b]
        s, t = self._st(xa, context)
        return self._merge(xa, xb * torch.exp(s) + t), s.sum(1)

    def inverse(self, z, context=None):
        za, zb = z[:, self.idx_a], z[:, self.idx_b]
        s, t = self._st(za, context)
        return self._merge(za, (zb - t) * torch.exp(-s))


class DiagonalScale(Transform):
    """z = x exp(s), a learned log-scale per dimension (NICE's last layer)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.log_s = nn.Parameter(torch.zeros(dim))

    def forward(self, x, context=None):
        return x * torch.exp(self.log_s), self.log_s.sum().expand(x.shape[0])

    def inverse(self, z, context=None):
        return z * torch.exp(-self.log_s)


class ActNorm(Transform):
    """z = (x + b) exp(log_s), initialised from the first training batch (Glow)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.zeros(dim))
        self.log_s = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        self.b.copy_(-x.mean(0))
        self.log_s.copy_(-torch.log(x.std(0) + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x, context=None):
        if self.training and not bool(self.initialized) and x.shape[0] > 1:
            self._init(x.detach())
        return (x + self.b) * torch.exp(self.log_s), self.log_s.sum().expand(x.shape[0])

    def inverse(self, z, context=None):
        return z * torch.exp(-self.log_s) - self.b


class InvertibleLinear(Transform):
    """z = x W^T with W = P L (U + diag(sign * exp(log_s))) (Glow's invertible 1x1 mixing, LU).

    P is a fixed permutation, L unit lower triangular, U strictly upper triangular;
    log|det W| = sum log_s. Initialised at a random rotation (from a seeded generator).
    With ``blocks`` > 1 the input is ``blocks`` consecutive groups of ``dim`` channels (sites)
    and the same W mixes the channels of every group, as Glow's 1x1 convolution mixes the
    channels of every pixel; log|det| = blocks * sum log_s.
    """

    def __init__(self, dim: int, seed: int = 0, blocks: int = 1) -> None:
        super().__init__()
        self.blocks = int(blocks)
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
        p, lo, up = torch.linalg.lu(q)
        s = torch.diagonal(up)
        self.register_buffer("P", p.float())
        self.register_buffer("sign", torch.sign(s).float())
        self.register_buffer("l_mask", torch.tril(torch.ones(dim, dim), -1))
        self.L = nn.Parameter(lo.float())
        self.U = nn.Parameter(torch.triu(up, 1).float())
        self.log_s = nn.Parameter(torch.log(torch.abs(s)).float())

    def _lu(self) -> tuple[torch.Tensor, torch.Tensor]:
        eye = torch.eye(self.L.shape[0], device=self.L.device, dtype=self.L.dtype)
        lower = self.L * self.l_mask + eye
        upper = self.U * self.l_mask.T + torch.diag(self.sign * torch.exp(self.log_s))
        return lower, upper

    def weight(self) -> torch.Tensor:
        lower, upper = self._lu()
        return self.P @ lower @ upper

    def forward(self, x, context=None):
        b = x.shape[0]
        z = x.reshape(b * self.blocks, -1) @ self.weight().T
        return z.reshape(b, -1), (self.blocks * self.log_s.sum()).expand(b)

    def inverse(self, z, context=None):
        b = z.shape[0]
        lower, upper = self._lu()
        # x = W^-1 z = U^-1 L^-1 P^T z, solved by two triangular solves (columns = rows)
        zt = z.reshape(b * self.blocks, -1).T
        y = torch.linalg.solve_triangular(lower, self.P.T @ zt, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, y, upper=True).T.reshape(b, -1)


class Permutation(Transform):
    """A fixed permutation of the dimensions (seeded; log-det 0)."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(dim, generator=g)
        self.register_buffer("perm", perm, persistent=False)
        self.register_buffer("inv", torch.argsort(perm), persistent=False)

    def forward(self, x, context=None):
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z, context=None):
        return z[:, self.inv]


__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "DiagonalScale",
    "Flow",
    "InvertibleLinear",
    "Permutation",
    "Transform",
]
