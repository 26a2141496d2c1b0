"""Weight averaging for the training loop: an exponential moving average (EMA) of the weights.

With ``ema_decay > 0`` the Trainer validates, scores and keeps the averaged copy
(:attr:`Trainer.scored_model <qtomo.training.trainer.Trainer.scored_model>`) and trains the
original; the average is part of every checkpoint.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from qtomo.models.base import DensityEstimator


class EMA:
    """Exponential moving average of a model's parameters (buffers are copied).

    The effective decay ramps up as min(decay, (1 + t) / (10 + t)) so early averages are not
    dominated by the random initialisation.
    """

    def __init__(self, model: DensityEstimator, decay: float) -> None:
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_p = list(self.model.parameters())
        src = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_p, src, 1.0 - d)
        for b_ema, b in zip(self.model.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.decay = float(sd["decay"])
        self.updates = int(sd["updates"])
        self.model.load_state_dict(sd["model"])


__all__ = ["EMA"]
