"""The device checks of ``qtomo reconstruct``: does any state, measured as assumed, produce the
shots, and do the settings agree with each other?

:func:`attach_device_checks` runs, on the shots grouped by setting
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
    drift_bias,
    residual_stderr,
    systematic_interval,
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


def attach_device_checks(report: dict[str, Any], figures: dict[str, Any], ds: Any, inp: Any,
                         qs: Any, rhos: dict[str, np.ndarray], stage: Stage) -> None:
    """Add ``goodness_of_fit`` and ``no_signalling`` to ``report``, the deviation heat map's
    data to ``figures``, and widen the headline fidelity when no physical state fits."""
    stage("device checks: goodness of fit and no signalling")
    sc, why = read_setting_counts(ds, inp.frame)
    if sc is None:
        report["goodness_of_fit"] = report["no_signalling"] = {"skipped": why}
        return
    fit = ((qs.section.get("data") or {}).get("mle_fit"))
    report["goodness_of_fit"], best = goodness_of_fit_block(sc, rhos, fit,
                                                            figures.get("headline_rho"))
    report["no_signalling"], check = no_signalling_block(sc, ds.readout)
    if check is not None:
        figures["no_signalling"] = {"settings": [s for s, k in zip(
            sc.labels, sc.shots >= NS_MIN_SHOTS, strict=True) if k], "z": check.deviations}
    head = report["headline"]["quantum_fidelity"]
    if best is None or not best.rejected or head.get("value") is None:
        return
    spread, drift = _systematic_parts(sc, rhos[BEST_STATE], best, inp)
    se, ci, words = systematic_interval(
        head["value"], head.get("stderr"), head.get("ci95"), best, spread=spread, drift=drift,
        cause=likely_cause(report["no_signalling"], ds.readout, inp.frame is not ds.frame))
    head.setdefault("stderr_statistical", head.get("stderr"))  # the readout's, if it set one
    head.update(stderr=se, ci95=ci, systematic=words)
    if drift is not None:
        head["drift"] = {"tilt_rad": drift.tilt, "depolarizing": drift.depolarizing,
                         "bias": drift.bias}


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


__all__ = ["BEST_STATE", "NS_MIN_SHOTS", "attach_device_checks", "goodness_of_fit_block",
           "likely_cause", "no_signalling_block"]
