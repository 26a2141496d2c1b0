"""The blend's weight rule (:mod:`qtomo.reconstruction.blend`; the reasons in docs/methods.md,
section "The model's state, blended with the shots"): which weights the validation shots rule
out, the anchor from the two estimators' errors and their overlap, and the weight used."""

from __future__ import annotations

from typing import Any

import numpy as np

from qtomo.reconstruction.config import TUNING

#: The mixture weights of the raw training frequencies tried (0: the model's table alone).
BLEND_WEIGHTS = TUNING.blend_weights
#: A weight is ruled out when its validation NLL exceeds the best one's by more than this many
#: standard errors of the paired per-shot difference.
REJECT_STDERRS = TUNING.reject_stderrs
#: The model's infidelity is taken as at least this in the anchor (the network's bias; the
#: blend's module doc).
MODEL_INFIDELITY_FLOOR = TUNING.model_infidelity_floor


def anchor_weight(eps_model: float, eps_raw: float, distance: float | None = None) -> float:
    """The anchor: the weight minimising the expected infidelity of the mixture of two
    estimators with infidelities A = eps_m and B = eps_f (the blend's module doc),

        (1 - w)^2 A + w^2 B + 2 w (1 - w) C,   w_0 = (A - C) / (A + B - 2 C),

    C the overlap of their errors (infidelities read as squared distances), taken from the
    infidelity ``distance`` d = A + B - 2 C between the two states and kept within
    [0, sqrt(A B)]: C = 0 (w_0 = A / (A + B), independent errors) without a distance or when
    the states lie farther apart than the two errors allow. Clipped to [0, 1]."""
    a, b = float(eps_model), float(eps_raw)
    c = 0.0 if distance is None else min(max(0.5 * (a + b - float(distance)), 0.0),
                                         float(np.sqrt(a * b)))
    den = a + b - 2.0 * c
    if den <= 0:
        return 0.5 if a == b else float(a > b)
    return min(max((a - c) / den, 0.0), 1.0)


def ruled_out(excess: float, stderr: float) -> bool:
    """Whether the validation shots rule a weight out: its NLL excess over the best weight's is
    more than ``REJECT_STDERRS`` standard errors (the best itself never is)."""
    return excess > 0 and excess > REJECT_STDERRS * stderr


def model_infidelity(scatter: dict[str, Any] | None) -> float:
    """e_m, the model state's infidelity in the anchor: ``MODEL_INFIDELITY_FLOOR`` (the
    network's bias), plus the state's scatter over the run's bootstrap members where it has
    them (``scatter["spread"]``, :mod:`qtomo.reconstruction.model_spread`)."""
    return MODEL_INFIDELITY_FLOOR + (float(scatter["spread"]) if scatter else 0.0)


def weight_anchor(excess: np.ndarray, stderr: np.ndarray, anchor: float) -> float:
    """The anchor the rule uses: ``anchor`` (e_m / (e_m + e_f)), or 1 when the validation
    shots rule out the model's table alone (w = 0; the blend's module doc)."""
    return 1.0 if ruled_out(float(excess[0]), float(stderr[0])) else float(anchor)


def settle_weight(excess: np.ndarray, stderr: np.ndarray, anchor: float) -> float:
    """The weight used: the anchor itself where the grid weights on both sides of it are
    kept (the validation shots object to nothing between them), else the kept grid weight
    nearest it (:func:`rule_weight`)."""
    kept = [not ruled_out(d, se) for d, se in zip(excess, stderr, strict=True)]
    lo = max(i for i, w in enumerate(BLEND_WEIGHTS) if w <= anchor)
    hi = min(i for i, w in enumerate(BLEND_WEIGHTS) if w >= anchor)
    if kept[lo] and kept[hi]:
        return float(anchor)
    return BLEND_WEIGHTS[rule_weight(excess, stderr, anchor)]


def rule_weight(excess: np.ndarray, stderr: np.ndarray, anchor: float) -> int:
    """Index into ``BLEND_WEIGHTS`` of the weight nearest ``anchor`` among those the validation
    shots do not rule out (:func:`ruled_out`); of two equally near, the larger."""
    ok = [i for i, (d, se) in enumerate(zip(excess, stderr, strict=True)) if not ruled_out(d, se)]
    return min(ok, key=lambda i: (abs(BLEND_WEIGHTS[i] - anchor), -i))


__all__ = ["BLEND_WEIGHTS", "MODEL_INFIDELITY_FLOOR", "REJECT_STDERRS", "anchor_weight",
           "model_infidelity", "rule_weight", "ruled_out", "settle_weight", "weight_anchor"]
