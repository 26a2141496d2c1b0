"""M GRU models trained side by side: one batched forward pass over stacked weights.

:class:`StackedGRU` holds the parameters of M independent :class:`~qtomo.models.gru.GRUModel`
networks with a leading member dimension, in exactly ``torch.nn.GRU``'s layout (gate order
r, z, n)::

    embed.weight        (M, K+1, H)     pos                 (M, N, H)   (when positional)
    gru.weight_ih_l{k}  (M, 3H, H)      gru.weight_hh_l{k}  (M, 3H, H)
    gru.bias_ih_l{k}    (M, 3H)         gru.bias_hh_l{k}    (M, 3H)
    head.weight         (M, K, H)       head.bias           (M, K)
    phase_theta, phase_u (M, K, P)      phase_in / phase_out (M, H | K, 2P) and biases
                                        (product channels, when hparams phase = P > 0)
    phase_site_out      (M, N, K, 2P)   (per-site channel readout, hparams phase_site)

so member m exports (:meth:`StackedGRU.member_state_dict`) a state dict identical in keys and
shapes to a GRUModel's, and each member becomes a normal checkpoint. ``nn.GRU`` has no vmap
rule, hence the explicit recurrence: the input projections of all sites are one einsum per
layer, the recurrence over the N sites one batched matmul per site and layer

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

Members share nothing: the loss is a sum over members, so each member's gradient is that of
its own loss. This is a training device (used by the Trainer for ``--bootstrap`` and
``--learning-curve``), not a :class:`DensityEstimator`: ``forward`` returns (M, batch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from qtomo.errors import InputValueError
from qtomo.models.base import conditional_logits
from qtomo.models.gru import GRUModel


class StackedGRU(nn.Module):
    """M GRU autoregressive models with stacked weights.

    Parameters
    ----------
    members : list of GRUModel
        At least one model, all with the same N, K and hparams; their weights initialise
        the stack (member m = ``members[m]``).
    """

    name = "gru"
    exact_log_prob = True
    has_likelihood = True

    def __init__(self, members: list[GRUModel]) -> None:
        super().__init__()
        if not members:
            raise InputValueError("a stacked GRU needs at least one member")
        m0 = members[0]
        for m in members:
            if not isinstance(m, GRUModel):
                raise InputValueError(
                    f"members trained side by side must be GRU models, got {type(m).__name__}")
            if (m.n_qubits, m.K, m.hparams) != (m0.n_qubits, m0.K, m0.hparams):
                raise InputValueError("stacked GRU members must share N, K and hparams")
        self.n_qubits, self.K = m0.n_qubits, m0.K
        self._hparams = m0.hparams
        self.hidden, self.layers, self.dropout = m0.hidden, m0.layers, m0.dropout
        self.n_members = len(members)
        self._keys = list(m0.state_dict().keys())
        sds = [m.state_dict() for m in members]
        # parameter names with '.' are not allowed: store under '__' and map back on export
        for k in self._keys:
            stacked = torch.stack([sd[k].detach().clone().float() for sd in sds])
            self.register_parameter(k.replace(".", "__"), nn.Parameter(stacked))

    # -- description ---------------------------------------------------------------------------
    @property
    def hparams(self) -> dict[str, Any]:
        """The hparams of every member (a GRUModel's)."""
        return dict(self._hparams)

    @property
    def device(self) -> torch.device:
        return self.embed__weight.device

    def num_parameters(self) -> int:
        """Trainable scalars of one member (the stack holds ``n_members`` times as many)."""
        return sum(p[0].numel() for p in self.parameters())

    def _p(self, key: str) -> torch.Tensor:
        return getattr(self, key.replace(".", "__"))

    # -- members ---------------------------------------------------------------------------------
    def member_state_dict(self, m: int, source: dict[str, torch.Tensor] | None = None
                          ) -> dict[str, torch.Tensor]:
        """Member ``m`` as a GRUModel state dict (CPU copies). ``source``: a state dict of a
        stack (e.g. a kept best state) to read instead of the live parameters."""
        sd = source if source is not None else self.state_dict()
        return {k: sd[k.replace(".", "__")][m].detach().cpu().clone() for k in self._keys}

    def member(self, m: int, source: dict[str, torch.Tensor] | None = None) -> GRUModel:
        """Member ``m`` as a GRUModel (eval mode, on CPU)."""
        g = GRUModel(self.n_qubits, self.K, **self._hparams)
        g.load_state_dict(self.member_state_dict(m, source))
        return g.eval()

    # -- network -------------------------------------------------------------------------------
    def _inputs(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(M, batch, N, H): start token, then a_0 .. a_{N-2}, per member; and the product
        channels' features (M, batch, N, 2 phase) (None without; see GRUModel)."""
        start = torch.full((a.shape[0], 1), self.K, dtype=torch.long, device=a.device)
        tok = torch.cat([start, a[:, :-1]], dim=1)  # batch N
        x = self.embed__weight[:, tok]  # M batch N H
        if self._hparams.get("positional", True):
            x = x + self.pos[:, None]
        feat = None
        if self._hparams.get("phase", 0):
            prev = a[:, :-1]
            theta = torch.cumsum(self.phase_theta[:, prev], dim=2)  # M batch N-1 P
            logr = torch.cumsum(-F.softplus(self.phase_u[:, prev]), dim=2)
            zero = theta.new_zeros(*theta.shape[:2], 1, theta.shape[-1])
            feat = GRUModel.phase_features(torch.cat([zero, theta], 2),
                                           torch.cat([zero, logr], 2))
            x = x + torch.einsum("mbnf,mhf->mbnh", feat, self.phase_in__weight) \
                + self.phase_in__bias[:, None, None]
        return x, feat

    def _logits(self, a: torch.Tensor) -> torch.Tensor:
        """Unnormalised conditionals (M, batch, N, K) under teacher forcing, float32."""
        x, feat = self._inputs(a)
        M, B, N, H = x.shape
        for k in range(self.layers):
            w_ih, w_hh = self._p(f"gru.weight_ih_l{k}"), self._p(f"gru.weight_hh_l{k}")
            b_ih, b_hh = self._p(f"gru.bias_ih_l{k}"), self._p(f"gru.bias_hh_l{k}")
            gi = torch.einsum("mbnh,mgh->mbng", x, w_ih) + b_ih[:, None, None]  # M B N 3H
            w_hh_t = w_hh.transpose(1, 2)  # M H 3H
            h = x.new_zeros(M, B, H)
            outs = []
            for j in range(N):
                gh = torch.baddbmm(b_hh[:, None], h, w_hh_t)  # M B 3H
                i_r, i_z, i_n = gi[:, :, j].chunk(3, dim=-1)
                h_r, h_z, h_n = gh.chunk(3, dim=-1)
                r = torch.sigmoid(i_r + h_r)
                z = torch.sigmoid(i_z + h_z)
                nn_ = torch.tanh(i_n + r * h_n)
                h = (1 - z) * nn_ + z * h
                outs.append(h)
            x = torch.stack(outs, dim=2)  # M B N H
            if self.training and self.dropout > 0 and k < self.layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        logits = torch.einsum("mbnh,mkh->mbnk", x, self.head__weight)
        logits = logits + self.head__bias[:, None, None]
        if feat is not None:
            logits = logits + torch.einsum("mbnf,mkf->mbnk", feat, self.phase_out__weight) \
                + self.phase_out__bias[:, None, None]
            if self._hparams.get("phase_site"):
                logits = logits + GRUModel.site_factor(
                    torch.einsum("mbnf,mnkf->mbnk", feat, self.phase_site_out))
        if self._hparams.get("likelihood") == "conditional":
            return conditional_logits(logits.float())
        return logits.float()

    def log_prob(self, a: torch.Tensor) -> torch.Tensor:
        """log Q_m(a) of every member, float64 (M, batch); ``a`` long (batch, N) on device."""
        logp = torch.log_softmax(self._logits(a), dim=-1)  # M B N K
        idx = a.unsqueeze(0).unsqueeze(-1).expand(self.n_members, -1, -1, 1)
        return logp.gather(-1, idx).squeeze(-1).double().sum(-1)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Per-member, per-shot training loss (negative log-likelihood), (M, batch)."""
        return -self.log_prob(a)


__all__ = ["StackedGRU"]
