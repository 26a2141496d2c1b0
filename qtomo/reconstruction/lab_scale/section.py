"""The lab-scale block of a report: a design's shots checked against its plan, the protocol's
estimate, and the candidate it offers the headline policy.

A design is the dict of a design file (:mod:`.plan`); shots are ``setting_index`` (M,) int64
and ``bits`` (M, N) uint8 (bit 0 = +1 outcome along the setting's axis, column q = qubit q),
with an optional readout (confusion matrices (N, 2, 2) or a
:class:`qtomo.data.design.Readout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale.axes import AXIS_TOL, axes_from_letters, bloch_vectors
from qtomo.reconstruction.lab_scale.energy import energy_bound
from qtomo.reconstruction.lab_scale.parity import parity_fidelity
from qtomo.reconstruction.lab_scale.plan import DESIGN_FORMAT, PROTOCOL_STATES, PROTOCOLS
from qtomo.reconstruction.lab_scale.results import ProtocolResult
from qtomo.reconstruction.lab_scale.shots import DEFAULT_BOOTSTRAP
from qtomo.reconstruction.lab_scale.stabilizer import stabilizer_fidelity
from qtomo.typing import FloatArray

#: How each protocol's figure is named as a headline candidate.
SOURCES = {
    "parity": "GHZ populations and parity oscillations (planned design)",
    "stabilizer": "direct fidelity estimation over stabilizers (planned design)",
    "energy": "certified lower bound from the measured energy (planned design)",
}


def design_axes(spec: Mapping[str, Any]) -> FloatArray:
    """The settings of a design as axes (S, N, 2): ``paulis`` letters or ``axes`` angles."""
    n = int(spec["n_qubits"])
    rows = []
    for i, s in enumerate(spec["settings"]):
        if ("paulis" in s) == ("axes" in s):
            raise InputValueError(f"design setting {i}: give exactly one of 'paulis' and 'axes'")
        a = axes_from_letters(s["paulis"]) if "paulis" in s else np.asarray(s["axes"], float)
        if a.shape != (n, 2):
            raise InputValueError(f"design setting {i}: axes of shape {a.shape}; expected "
                                  f"({n}, 2), one (theta, phi) per qubit")
        rows.append(a)
    if not rows:
        raise InputValueError("the design has no settings")
    return np.stack(rows)


def planned_shots(spec: Mapping[str, Any]) -> np.ndarray:
    """Shots per setting the design plans, int64 (S,)."""
    return np.array([int(s["shots"]) for s in spec["settings"]], dtype=np.int64)


def check_against_plan(spec: Mapping[str, Any], setting_index: np.ndarray,
                       bits: np.ndarray, data_axes: np.ndarray | None = None) -> None:
    """One-line :class:`InputValueError` unless the shots hold every planned setting with
    exactly its planned shots (and N qubits); with ``data_axes`` (S, N, 2), the settings the
    data name, also unless those are the plan's axes, in its order."""
    n = int(spec["n_qubits"])
    if data_axes is not None:
        _check_axes(design_axes(spec), np.asarray(data_axes, dtype=np.float64))
    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[1] != n:
        raise InputValueError(f"the shots have {b.shape[1] if b.ndim == 2 else '?'} qubits, "
                              f"the design {n}")
    planned = planned_shots(spec)
    idx = np.asarray(setting_index, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= planned.size):
        raise InputValueError(f"the shots name setting {int(idx.max())}, but the design plans "
                              f"{planned.size} settings (0..{planned.size - 1})")
    got = np.bincount(idx, minlength=planned.size)
    measured = int((got > 0).sum())
    if measured != planned.size:
        raise InputValueError(f"the shots hold {measured} settings, the design plans "
                              f"{planned.size}; measure every planned setting")
    off = np.flatnonzero(got != planned)
    if off.size:
        s = int(off[0])
        raise InputValueError(f"setting {s} holds {int(got[s])} shots, the design plans "
                              f"{int(planned[s])} ({off.size} settings differ from the plan)")


def _check_axes(planned: np.ndarray, data: np.ndarray) -> None:
    if data.shape != planned.shape:
        raise InputValueError(f"the data name settings of shape {data.shape}, the design "
                              f"plans {planned.shape} (settings, qubits, angles)")
    off = np.linalg.norm(bloch_vectors(data) - bloch_vectors(planned), axis=-1) > AXIS_TOL
    if off.any():
        s, q = (int(x) for x in np.argwhere(off)[0])
        raise InputValueError(f"setting {s} of the data measures qubit {q} along another axis "
                              "than the design plans; measure the planned settings in order")


def _check_target(spec: Mapping[str, Any], target: Mapping[str, Any] | None) -> dict[str, Any]:
    want = dict(spec["target"])
    if target is None:
        return want
    for key in ("state", "n_qubits"):
        if str(target.get(key)) != str(want.get(key)):
            raise InputValueError(
                f"the data's target ({target.get('state')}, N = {target.get('n_qubits')}) is "
                f"not the design's ({want.get('state')}, N = {want.get('n_qubits')})")
    for key in ("J", "h"):
        if key in want and not np.isclose(float(target.get(key, np.nan)), float(want[key]),
                                          rtol=1e-9, atol=1e-12):
            raise InputValueError(f"the data's target has {key} = {target.get(key)}, the "
                                  f"design's {want[key]}")
    return want


def check_design(spec: Mapping[str, Any]) -> str:
    """The design's protocol, after checking its format, protocol and target (one line)."""
    if spec.get("format") != DESIGN_FORMAT:
        raise InputValueError(f"not a qtomo design (format {spec.get('format')!r}; expected "
                              f"{DESIGN_FORMAT!r})")
    protocol = str(spec.get("protocol"))
    if protocol not in PROTOCOLS:
        raise InputValueError(f"design protocol {protocol!r}; expected one of "
                              f"{', '.join(PROTOCOLS)}")
    state = str(spec.get("target", {}).get("state"))
    if state not in PROTOCOL_STATES[protocol]:
        raise InputValueError(f"the {protocol} protocol does not certify a {state!r} target")
    return protocol


def run_protocol(spec: Mapping[str, Any], setting_index: np.ndarray, bits: np.ndarray,
                 readout: Any = None, *, n_boot: int = DEFAULT_BOOTSTRAP,
                 seed: int = 0) -> ProtocolResult:
    """The protocol's estimate from shots already checked against the plan."""
    protocol = check_design(spec)
    axes = design_axes(spec)
    common = {"readout": readout, "n_boot": n_boot, "seed": seed}
    if protocol == "parity":
        return parity_fidelity(axes, setting_index, bits, **common)
    if protocol == "stabilizer":
        obs = [s.get("observable") for s in spec["settings"]]
        if any(o is None for o in obs):
            raise InputValueError("a stabilizer design names each setting's 'observable' "
                                  "(write it with qtomo plan --protocol stabilizer)")
        sampled = bool(spec.get("plan", {}).get("sampled", True))
        return stabilizer_fidelity(axes, setting_index, bits, obs, sampled=sampled, **common)
    t = spec["target"]
    return energy_bound(axes, setting_index, bits, J=float(t["J"]), h=float(t["h"]),
                        boundary=str(t.get("boundary", "open")), **common)


def headline_candidate(result: ProtocolResult) -> dict[str, Any]:
    """The record the headline policy weighs: value, stderr, interval, source and words."""
    kind = "lower bound" if result.one_sided else "estimate"
    words = (f"{SOURCES[result.protocol]}: {kind} {result.value:.4f}"
             + (f", one-sided 95% bound {result.lower_bound95:.4f}" if result.one_sided
                else f" +- {result.stderr:.4f}")
             + f" from {result.n_settings} settings and {result.n_shots} shots; assumes "
             + "; ".join(result.assumptions))
    return {"value": float(result.value), "stderr": float(result.stderr),
            "ci95": [float(result.ci95[0]), float(result.ci95[1])],
            "one_sided": result.one_sided, "kind": kind,
            "source": f"{result.protocol}: {SOURCES[result.protocol]}", "words": words}


def protocol_section(design_spec: Mapping[str, Any], setting_index: np.ndarray,
                     bits: np.ndarray, readout: Any = None,
                     target: Mapping[str, Any] | None = None, *,
                     data_axes: np.ndarray | None = None, n_boot: int = DEFAULT_BOOTSTRAP,
                     seed: int = 0) -> dict[str, Any]:
    """The report's lab-scale block (JSON-able).

    Checks the design, the data's target against the design's (``target``: the dataset's
    target attributes, or None) and the shots against the plan (setting count and shots per
    setting; with ``data_axes``, the data's own settings (S, N, 2) against the planned axes),
    then runs the protocol. Returns the :class:`ProtocolResult` fields, the plan
    check, the design's requested precision and the headline candidate.
    """
    check_design(design_spec)
    want = _check_target(design_spec, target)
    check_against_plan(design_spec, setting_index, bits, data_axes)
    result = run_protocol(design_spec, setting_index, bits, readout, n_boot=n_boot, seed=seed)
    return {**result.to_json(), "target": want,
            "planned_precision": design_spec.get("precision"),
            "plan_check": {"settings": int(planned_shots(design_spec).size),
                           "shots": int(planned_shots(design_spec).sum()),
                           "matches_plan": True},
            "candidate": headline_candidate(result)}


__all__ = ["SOURCES", "check_against_plan", "check_design", "design_axes", "headline_candidate",
           "planned_shots", "protocol_section", "run_protocol"]
