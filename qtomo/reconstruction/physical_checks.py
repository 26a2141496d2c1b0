"""Physical checks of a trained model, part of the consistency verdict of ``qtomo reconstruct``.

A model can agree with its shots on every one- and two-point function and still describe no
physical state, or be a worse model than one its own training run had. Three checks, each a
one-sided test that flags only what no physical state, or no well-chosen checkpoint, can do:

* **Variational bound.** For a target that is the ground state of a Hamiltonian H with ground
  energy E0 (the TFIM targets: E0 by exact diagonalization or DMRG), every density matrix has
  Tr(rho H) >= E0. A model energy E_M with standard error s_M is flagged when
  ``E_M < E0 - Z_PHYSICAL * s_M``.
* **Range of the Pauli expectations.** Every one- and two-point value <P_i>, <P_i P_j> of a
  state lies in [-1, 1]. The model's values (means over its samples, each with its standard
  error) are flagged when the largest excess ``(|v| - 1) / s`` over the d values has a
  one-sided Bonferroni p-value ``d * Phi(-excess)`` below ``ALPHA_PHYSICAL``: many values
  sit at exactly +-1 for a GHZ state, so the threshold grows with d like the largest |z| of the
  consistency check.
* **Held-out likelihood.** The kept checkpoint (``qtomo train --keep last``) against the
  lowest-validation-NLL checkpoint of the same run, per validation shot: flagged when the kept
  model's mean per-shot NLL is worse by more than ``Z_PHYSICAL`` standard errors of the
  paired difference (:func:`qtomo.training.scoring.heldout_gap`, stored in the run's
  ``model_card.json``). A model the run's own held-out data rank below an earlier checkpoint
  has over-fitted its training shots.

Each check is a :class:`PhysicalCheck` with its figures, a verdict and one sentence; the
consistency verdict (:func:`qtomo.reconstruction.consistency.check_consistency`) rejects the
model when any is flagged, and the headline falls back, the sentence in its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.observables import ObservableSet

#: One-sided threshold (standard errors) of the variational and held-out checks; the
#: consistency check's scalar threshold.
Z_PHYSICAL = TUNING.z_physical
#: Family-wise level of the range check over all one- and two-point values.
ALPHA_PHYSICAL = TUNING.alpha_physical


@dataclass(frozen=True)
class PhysicalCheck:
    """One physical check of the model.

    Attributes
    ----------
    name : str
        ``variational_bound``, ``pauli_range`` or ``heldout_nll``.
    flagged : bool
        True when the model fails the check.
    sentence : str
        The check and its figures in words.
    figures : dict
        The numbers behind the verdict (JSON-able).
    """

    name: str
    flagged: bool
    sentence: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "flagged": self.flagged, "sentence": self.sentence,
                **self.figures}


def variational_check(energy: Mapping[str, Any] | None, ground_energy: float | None,
                      z: float = Z_PHYSICAL) -> PhysicalCheck | None:
    """The model's energy against the ground energy E0 of the target's Hamiltonian.

    ``energy`` is ``report["observables"]["scalars"]["energy"]`` (its ``model`` entry with
    ``value`` and ``stderr``); None when there is no model energy or no finite E0.
    """
    model = (energy or {}).get("model") or {}
    e_m, se = model.get("value"), model.get("stderr")
    if e_m is None or ground_energy is None or not math.isfinite(float(ground_energy)):
        return None
    e_m, e0, se = float(e_m), float(ground_energy), float(se or 0.0)
    below = (e0 - e_m) / se if se > 0 else (math.inf if e_m < e0 else -math.inf)
    flagged = below > z
    sentence = (f"model energy {e_m:.4f} +- {se:.2g} against the exact ground energy {e0:.4f}"
                + (f": {below:.1f} standard errors below it, which no physical state can reach"
                   if flagged else " (not below it beyond the error)"))
    return PhysicalCheck("variational_bound", flagged, sentence,
                         {"model_energy": e_m, "model_stderr": se, "ground_energy": e0,
                          "z_below": below, "threshold_z": z})


def pauli_range_check(model: ObservableSet | None,
                      alpha: float = ALPHA_PHYSICAL) -> PhysicalCheck | None:
    """The model's one- and two-point values against the physical range [-1, 1]."""
    if model is None:
        return None
    vals, ses, names = [], [], []
    for p, (v, s) in model.single.items():
        vals.append(np.ravel(v))
        ses.append(np.ravel(s))
        names += [f"{p}{i}" for i in range(np.size(v))]
    for p, (v, s) in model.two_point.items():
        iu = np.triu_indices(np.shape(v)[0], 1)
        vals.append(np.asarray(v)[iu])
        ses.append(np.asarray(s)[iu])
        names += [f"{p}{i} {p}{j}" for i, j in zip(*iu, strict=True)]
    if not vals:
        return None
    v, s = np.concatenate(vals), np.concatenate(ses)
    ok = np.isfinite(v) & np.isfinite(s)
    if not ok.any():
        return None
    v, s = v[ok], s[ok]
    names = [n for n, k in zip(names, ok, strict=True) if k]
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(s > 0, (np.abs(v) - 1.0) / np.where(s > 0, s, 1.0),
                          np.where(np.abs(v) > 1.0, np.inf, -np.inf))
    k = int(np.argmax(excess))
    p = float(min(1.0, len(v) * stats.norm.sf(excess[k])))
    flagged = p < alpha
    worst = f"<{names[k]}> = {v[k]:.4f} +- {s[k]:.2g}"
    sentence = (f"one- and two-point values in [-1, 1]: the farthest out, {worst}, "
                + (f"lies outside beyond its error (Bonferroni p = {p:.2g} over {len(v)} values)"
                   if flagged else f"is within its error (Bonferroni p = {p:.2g})"))
    return PhysicalCheck("pauli_range", flagged, sentence,
                         {"worst": names[k], "value": float(v[k]), "stderr": float(s[k]),
                          "excess_z": float(excess[k]), "p_value": p, "n_values": len(v),
                          "alpha": alpha})


def heldout_check(results: Mapping[str, Any] | None,
                  z: float = Z_PHYSICAL) -> PhysicalCheck | None:
    """The kept checkpoint's held-out NLL against the run's lowest (``model_card.json``
    ``results``); None when the kept model is the lowest-NLL one or nothing was recorded."""
    gap = (results or {}).get("heldout_gap")
    if not gap or gap.get("gap") is None or not math.isfinite(gap["gap"]):
        return None
    d, se = float(gap["gap"]), float(gap.get("gap_se") or 0.0)
    zval = d / se if se > 0 else (math.inf if d > 0 else 0.0)
    flagged = zval > z
    kept, best = results.get("kept_epoch"), results.get("best_epoch")
    sentence = (f"held-out NLL of the kept model (epoch {kept}) against the run's best "
                f"(epoch {best}): {d:+.4f} +- {se:.2g} nats per shot"
                + (f", {zval:.1f} standard errors worse: the kept model has over-fitted its "
                   "training shots" if flagged else " (no worse beyond the error)"))
    return PhysicalCheck("heldout_nll", flagged, sentence,
                         {"gap": d, "gap_se": se, "z": zval, "kept_epoch": kept,
                          "best_epoch": best, "threshold_z": z})


def physical_checks(energy: Mapping[str, Any] | None, ground_energy: float | None,
                    model: ObservableSet | None,
                    results: Mapping[str, Any] | None) -> list[PhysicalCheck]:
    """Every physical check that applies (see the module docstring)."""
    out = [variational_check(energy, ground_energy), pauli_range_check(model),
           heldout_check(results)]
    return [c for c in out if c is not None]


__all__ = ["ALPHA_PHYSICAL", "Z_PHYSICAL", "PhysicalCheck", "heldout_check",
           "pauli_range_check", "physical_checks", "variational_check"]
