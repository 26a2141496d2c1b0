"""The scalar figures of the model-vs-data consistency check
(:mod:`qtomo.reconstruction.consistency`): a model figure beside its direct estimate from the
shots (:class:`ScalarPair`, with its z), and how the model state's fidelity and the TFIM
energy become such pairs (:func:`fidelity_pair`, :func:`estimate_pair`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qtomo.reconstruction.estimates import FigureEstimate


@dataclass(frozen=True)
class ScalarPair:
    """One model figure and its direct estimate.

    Attributes
    ----------
    name : str
        ``"quantum_fidelity"``, ``"energy"``, ...
    quantity : str
        What exactly is compared (e.g. ``"TFIM energy <H>"``).
    model, direct : float
        The two values.
    model_stderr : float or None
        None: the model figure has no error bar of its own (z uses the direct one alone).
    direct_stderr : float
    note : str
        How the model's error was taken.
    """

    name: str
    quantity: str
    model: float
    model_stderr: float | None
    direct: float
    direct_stderr: float
    note: str = ""

    def z(self) -> float:
        """``(model - direct) / sqrt(se_M^2 + se_D^2)`` (inf for a difference without error)."""
        var = self.direct_stderr**2 + (self.model_stderr or 0.0) ** 2
        dv = self.model - self.direct
        if var > 0:
            return float(dv / math.sqrt(var))
        return 0.0 if dv == 0 else math.copysign(math.inf, dv)


def fidelity_pair(
    model: FigureEstimate | None, *, direct_value: float | None, direct_stderr: float | None,
    direct_n: int, model_samples: int, model_has_likelihood: bool,
) -> ScalarPair | None:
    """The model state's quantum fidelity against the direct fidelity estimate.

    Both are the squared fidelity ``<psi|rho|psi>`` to the ideal target (docs/conventions.md,
    "Fidelities and metrics"): the fidelity of the model's state, and the unbiased mean of
    ``Q(a) = <psi|D(a_0) x ... x D(a_N-1)|psi>`` over the measured shots.

    Parameters
    ----------
    model : FigureEstimate or None
        The model's state as an estimate (:func:`qtomo.reconstruction.estimates.
        model_estimate`); None, or one without a value, gives None (nothing to check).
    direct_value, direct_stderr : float or None
        The direct estimate (None: none computed).
    direct_n : int
        Shots behind it.
    model_samples : int
        Samples behind the model's outcome table when it has no likelihood (a histogram).
    model_has_likelihood : bool
        True: the table is the model's exact distribution and the figure has no sampling error
        of its own; z then uses the direct standard error alone (said in ``note``).
    """
    if direct_value is None or direct_stderr is None or not math.isfinite(direct_stderr):
        return None
    if model is None or model.value is None:
        return None
    value = float(model.value)
    quantity = "squared fidelity <psi|rho|psi> to the ideal target"
    se = model.stderr
    if se is not None and math.isfinite(float(se)) and float(se) > 0:
        return ScalarPair("quantum_fidelity", quantity, value, float(se), float(direct_value),
                          float(direct_stderr), "the model figure's own standard error")
    if not model_has_likelihood:
        se_m = float(direct_stderr) * math.sqrt(direct_n / max(int(model_samples), 1))
        note = (f"the model's table is a histogram of {model_samples} samples: its standard "
                "error is taken as the direct one scaled by sqrt(shots / samples)")
        return ScalarPair("quantum_fidelity", quantity, value, se_m, float(direct_value),
                          float(direct_stderr), note)
    note = ("the model figure comes from its exact outcome table and has no error bar of its "
            "own: z uses the direct estimate's standard error alone")
    return ScalarPair("quantum_fidelity", quantity, value, None, float(direct_value),
                      float(direct_stderr), note)


def estimate_pair(name: str, quantity: str, entry: Mapping[str, Any] | None) -> ScalarPair | None:
    """A scalar observable with ``model`` and ``direct`` estimates (``{"value", "stderr"}``)."""
    if not entry or not entry.get("model") or not entry.get("direct"):
        return None
    m, d = entry["model"], entry["direct"]
    if m.get("value") is None or d.get("value") is None:
        return None
    return ScalarPair(name, quantity, float(m["value"]), float(m.get("stderr") or 0.0),
                      float(d["value"]), float(d.get("stderr") or 0.0),
                      "standard errors of both estimates (per-string values of the whole sum)")


__all__ = ["ScalarPair", "estimate_pair", "fidelity_pair"]
