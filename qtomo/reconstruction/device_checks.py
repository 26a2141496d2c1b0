"""The device checks of ``qtomo reconstruct``: does any state, measured as assumed, produce the
shots, and do the settings agree with each other?

:func:`device_checks_stage` runs, on the shots grouped by setting
(:mod:`~qtomo.reconstruction.setting_counts`):

* the G-test of the headline state and of the best physical state (the raw-frequency MLE)
  against the per-setting counts (:mod:`~qtomo.reconstruction.goodness_of_fit`;
  ``report["goodness_of_fit"]``);
* the no-signalling check of the marginals across settings, and the readout calibration
  against the all-Z settings (:mod:`~qtomo.reconstruction.no_signalling`;
  ``report["no_signalling"]``, the per-setting deviations in ``figures["no_signalling"]``);
* when the best physical state is rejected, the headline's error bar with its systematic part
  (:func:`qtomo.reconstruction.systematics.systematic_interval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.reconstruction import goodness_of_fit as gf
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction import no_signalling as ns
from qtomo.reconstruction.config import Stage
from qtomo.reconstruction.setting_counts import SettingCounts, read_setting_counts
from qtomo.reconstruction.systematics import (
    DriftBias,
    SettingSpread,
    SystematicError,
    drift_bias,
    residual_stderr,
    systematic_error,
)

#: The state the verdict is about: the best physical state of the shots.
BEST_STATE = "data_mle"
#: A setting enters the no-signalling check with at least this many shots (5 per outcome of a
#: pair of qubits).
NS_MIN_SHOTS = 20


def goodness_of_fit_block(sc: SettingCounts, rhos: dict[str, np.ndarray],
                          fit: dict[str, Any] | None, headline: str | None
                          ) -> tuple[dict[str, Any], gf.GTest | None]:
    """``report["goodness_of_fit"]`` and the best physical state's test (None: not run)."""
    keep, why = gf.usable_settings(sc)
    if why is not None:
        return {"skipped": why}, None
    if BEST_STATE not in rhos:
        return {"skipped": "no raw-frequency maximum-likelihood state (N too large or --no-mle)"
                }, None
    sub = sc.subset(keep)
    out: dict[str, Any] = {
        "method": ("G = 2 sum_s sum_b n(s,b) log[f(s,b) / p(s,b)] over settings s and bit "
                   "strings b, p the state's Born probabilities with the setting's effective "
                   "POVM; chi-square with dof = settings x (2^N - 1) - parameters; "
                   f"probabilities clipped to {gf.PROBABILITY_FLOOR:g}"),
        "alpha": gf.ALPHA, "settings": len(sub.labels), "outcomes_per_setting": 1 << sc.n_qubits,
        "shots": int(sub.shots.sum())}
    if not keep.all():
        out["left_out"] = (f"{int((~keep).sum())} settings with fewer than "
                           f"{gf.MIN_SHOTS_PER_OUTCOME << sc.n_qubits} shots")
    best = None
    for name in dict.fromkeys([BEST_STATE, headline]):
        if name is None or name not in rhos:
            continue
        k, k_why = gf.fitted_parameters(name, fit, sc.n_qubits)
        t = gf.g_test(sub.counts, gf.setting_probabilities(rhos[name], sub.projectors), k)
        key = "best_physical" if name == BEST_STATE else "headline_state"
        out[key] = gf.gof_entry(t, sub, name, k_why)
        best = t if name == BEST_STATE else best
    if headline == BEST_STATE:
        out["headline_state"] = {"state": BEST_STATE, "same_as": "best_physical"}
    out["rejected"] = bool(best is not None and best.rejected)
    return out, best


def no_signalling_block(sc: SettingCounts, readout: Any) -> tuple[dict[str, Any],
                                                                  ns.NoSignalling | None]:
    """``report["no_signalling"]`` and the check (None: not run)."""
    keep = sc.shots >= NS_MIN_SHOTS
    if keep.sum() < 2 or sc.shots[~keep].sum() > gf.MAX_DROPPED_SHOTS * sc.shots.sum():
        return {"skipped": f"too few settings with {NS_MIN_SHOTS} shots or more "
                f"({int(keep.sum())} of {keep.size}, holding "
                f"{sc.shots[keep].sum() / sc.shots.sum():.0%} of the shots)"}, None
    sub = sc.subset(keep)
    check = ns.no_signalling(sub)
    out = check.as_dict(sub.labels)
    if not keep.all():
        out["left_out"] = f"{int((~keep).sum())} settings with fewer than {NS_MIN_SHOTS} shots"
    out["calibration"] = ({"skipped": "no readout calibration stored"} if readout is None else
                          ns.calibration_check(sub, readout.flip_probabilities,
                                               np.stack([readout.stderr[:, 1, 0],
                                                         readout.stderr[:, 0, 1]], axis=1)))
    return out, check


def likely_cause(ns_block: dict[str, Any], readout: Any, corrected: bool) -> str:
    """The likely cause of a rejected fit, in words (``corrected``: the readout correction
    was applied)."""
    causes = []
    if ns_block.get("rejected"):
        worst = (ns_block.get("worst") or [{}])[0]
        settings = ", ".join(w["setting"] for w in worst.get("worst_settings", [])[:3])
        causes.append(f"drift or crosstalk between settings: the no-signalling check names "
                      f"qubits {ns_block.get('drifting_qubits')} (worst settings {settings})")
    if readout is None:
        causes.append("readout errors are not corrected: add calibration counts "
                      "(qtomo import --calibration)")
    elif not corrected:
        causes.append("readout errors are not corrected (--no-readout-correction)")
    elif (ns_block.get("calibration") or {}).get("consistent") is False:
        causes.append("the readout changed since its calibration (calibration check)")
    return "; ".join(causes) or ("the measurements differ from the assumed POVM (readout or "
                                 "crosstalk that stays the same in every setting)")


@dataclass(frozen=True)
class DeviceChecks:
    """What the device checks found: the report's ``goodness_of_fit`` and ``no_signalling``
    blocks (``sections``), the per-setting deviations for the heat map (None: not run) and
    the headline's systematic error (None: the best physical state fits)."""

    sections: dict[str, Any]
    heatmap: dict[str, Any] | None = None
    systematic: SystematicError | None = None


def device_checks_stage(ds: Any, inp: Any, qs: Any, headline_state: str | None,
                        stage: Stage, freq: np.ndarray | None = None) -> DeviceChecks:
    """Run the G-test of the best physical state and of ``headline_state`` (a name in
    ``qs.rhos``), the no-signalling check, and, when no physical state fits, the headline's
    systematic error (:func:`qtomo.reconstruction.systematics.systematic_error`); ``freq``:
    the shots' tallied frequencies of all strings, where the reconstruction has them."""
    stage("device checks: goodness of fit and no signalling")
    sc, why = read_setting_counts(ds, inp.frame, freq)
    if sc is None:
        skipped = {"skipped": why}
        return DeviceChecks({"goodness_of_fit": skipped, "no_signalling": dict(skipped)})
    rhos = qs.rhos
    fit = (qs.section.get("data") or {}).get("mle_fit")
    gof_block, best = goodness_of_fit_block(sc, rhos, fit, headline_state)
    ns_block, check = no_signalling_block(sc, ds.readout)
    heatmap = None
    if check is not None:
        heatmap = {"settings": [s for s, k in zip(sc.labels, sc.shots >= NS_MIN_SHOTS,
                                                  strict=True) if k], "z": check.deviations}
    sections = {"goodness_of_fit": gof_block, "no_signalling": ns_block}
    if best is None or not best.rejected:
        return DeviceChecks(sections, heatmap)
    spread, drift = _systematic_parts(sc, rhos[BEST_STATE], best, inp)
    err = systematic_error(best, spread=spread, drift=drift,
                           cause=likely_cause(ns_block, ds.readout, inp.frame is not ds.frame))
    return DeviceChecks(sections, heatmap, err)


def _systematic_parts(sc: SettingCounts, rho: np.ndarray, best: gf.GTest, inp: Any
                      ) -> tuple[SettingSpread | None, DriftBias | None]:
    """The settings' scatter of the direct fidelity estimate and the drift reading of the
    rejected fit (None each without a target state vector, or above the direct estimate's N)."""
    if inp.psi is None or sc.n_qubits > mt.MAX_DIRECT_FIDELITY_QUBITS:
        return None, None
    sub = sc.subset(gf.usable_settings(sc)[0])
    n = sub.n_qubits
    bits = (np.arange(1 << n)[:, None] >> np.arange(n - 1, -1, -1)) & 1  # (2^N, N)
    basis = np.searchsorted(np.array(["X", "Y", "Z"]), sub.bases)  # (S, N)
    cells = (2 * basis[:, None, :] + bits[None, :, :]).reshape(-1, n).astype(np.uint8)
    values = mt.direct_fidelity_values(cells, inp.frame, inp.psi).reshape(sub.counts.shape)
    probs = gf.setting_probabilities(rho, sub.projectors)
    return (residual_stderr(sub.counts, values, probs, best),
            drift_bias(rho, sub, best, lambda r: mt.quantum_fidelity(r, inp.psi)))


__all__ = ["BEST_STATE", "NS_MIN_SHOTS", "DeviceChecks", "device_checks_stage",
           "goodness_of_fit_block", "likely_cause", "no_signalling_block"]
