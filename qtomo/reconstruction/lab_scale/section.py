"""The lab-scale block of a report: a design's shots checked against its plan, the protocol's
estimate, and that estimate in words (``candidate``; the headline policy weighs
:func:`.report.lab_scale_estimate`, made from the block).

A design is the :class:`~qtomo.data.design_file.DesignSpec` of a planned design file
(``qtomo plan``); shots are ``setting_index`` (M,) int64 and ``bits`` (M, N) uint8 (bit 0 =
+1 outcome along the setting's axis, column q = qubit q), with an optional readout (confusion
matrices (N, 2, 2) or a :class:`qtomo.data.design.Readout`).

The data must hold every planned setting, along the planned axes, and no other; a setting
measured with other shots than planned is reported (``plan_check``), not refused: the error
bars come from the shots measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qtomo.data.design_file import DesignSpec
from qtomo.data.design_plan import protocol_problem
from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale.axes import AXIS_TOL, bloch_vectors
from qtomo.reconstruction.lab_scale.energy import energy_bound
from qtomo.reconstruction.lab_scale.parity import parity_fidelity
from qtomo.reconstruction.lab_scale.results import ProtocolResult
from qtomo.reconstruction.lab_scale.shots import DEFAULT_BOOTSTRAP
from qtomo.reconstruction.lab_scale.stabilizer import stabilizer_fidelity

#: How each protocol's figure is named as a headline candidate.
SOURCES = {
    "parity": "GHZ populations and parity oscillations (planned design)",
    "stabilizer": "direct fidelity estimation over stabilizers (planned design)",
    "energy": "certified lower bound from the measured energy (planned design)",
}


def check_against_plan(spec: DesignSpec, setting_index: np.ndarray, bits: np.ndarray,
                       data_axes: np.ndarray | None = None) -> dict[str, Any]:
    """The plan check (``plan_check`` of the section) of shots against their plan.

    One-line :class:`InputValueError` unless the shots have the design's N qubits and hold
    every planned setting and no other; with ``data_axes`` (S, N, 2), the settings the data
    name, also unless those are the plan's axes, in its order. Shots per setting that differ
    from the plan are listed (``matches_plan`` False), not refused.
    """
    n = spec.n_qubits
    planned = np.asarray(spec.shots, dtype=np.int64)
    if data_axes is not None:
        _check_axes(spec.angles, np.asarray(data_axes, dtype=np.float64))
    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[1] != n:
        raise InputValueError(f"the shots have {b.shape[1] if b.ndim == 2 else '?'} qubits, "
                              f"the design {n}")
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
    out: dict[str, Any] = {"settings": int(planned.size), "shots": int(got.sum()),
                           "shots_planned": int(planned.sum()), "matches_plan": not off.size}
    if off.size:
        s = int(off[0])
        out["note"] = (f"{off.size} of {planned.size} settings hold other shots than planned "
                       f"(setting {s}: {int(got[s])}, planned {int(planned[s])}); the error "
                       "bars are those of the shots measured")
    return out


def _check_axes(planned: np.ndarray, data: np.ndarray) -> None:
    if data.shape != planned.shape:
        raise InputValueError(f"the data name {data.shape[0]} settings of {data.shape[1:]} "
                              f"(qubits, angles); the design plans {planned.shape[0]} of "
                              f"{planned.shape[1:]}")
    off = np.linalg.norm(bloch_vectors(data) - bloch_vectors(planned), axis=-1) > AXIS_TOL
    if off.any():
        s, q = (int(x) for x in np.argwhere(off)[0])
        raise InputValueError(f"setting {s} of the data measures qubit {q} along another axis "
                              "than the design plans; measure the planned settings in order")


def _check_target(spec: DesignSpec, target: Mapping[str, Any] | None) -> dict[str, Any]:
    want = dict(spec.target or {})
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


def check_design(spec: DesignSpec) -> str:
    """The design's protocol, after checking that it certifies the design's target (one
    line)."""
    problem = protocol_problem(str(spec.protocol), spec.target)
    if spec.protocol is None or problem:
        raise InputValueError("the design names no lab-scale protocol (write it with qtomo "
                              "plan)" if spec.protocol is None else f"the design: {problem}")
    return spec.protocol


def run_protocol(spec: DesignSpec, setting_index: np.ndarray, bits: np.ndarray,
                 readout: Any = None, *, n_boot: int = DEFAULT_BOOTSTRAP,
                 seed: int = 0) -> ProtocolResult:
    """The protocol's estimate from shots already checked against the plan."""
    protocol = check_design(spec)
    common = {"readout": readout, "n_boot": n_boot, "seed": seed}
    if protocol == "parity":
        return parity_fidelity(spec.angles, setting_index, bits, **common)
    if protocol == "stabilizer":
        if spec.observables is None:
            raise InputValueError("a stabilizer design names each setting's 'observable' "
                                  "(write it with qtomo plan --protocol stabilizer)")
        sampled = bool((spec.plan or {}).get("sampled", True))
        return stabilizer_fidelity(spec.angles, setting_index, bits, spec.observables,
                                   sampled=sampled, **common)
    t = spec.target or {}
    return energy_bound(spec.angles, setting_index, bits, J=float(t["J"]), h=float(t["h"]),
                        boundary=str(t.get("boundary", "open")), **common)


def headline_candidate(result: ProtocolResult) -> dict[str, Any]:
    """The protocol's figure as the block names it (``candidate``): value, stderr, interval,
    source and the sentence that says what it is."""
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


def protocol_section(spec: DesignSpec, setting_index: np.ndarray, bits: np.ndarray,
                     readout: Any = None, target: Mapping[str, Any] | None = None, *,
                     data_axes: np.ndarray | None = None, n_boot: int = DEFAULT_BOOTSTRAP,
                     seed: int = 0) -> dict[str, Any]:
    """The report's lab-scale block (JSON-able).

    Checks the design, the data's target against the design's (``target``: the dataset's
    target attributes, or None) and the shots against the plan (:func:`check_against_plan`;
    with ``data_axes``, the data's own settings (S, N, 2) against the planned axes), then runs
    the protocol. Returns the :class:`ProtocolResult` fields, the plan check, the design's
    requested precision and the headline candidate.
    """
    check_design(spec)
    want = _check_target(spec, target)
    plan_check = check_against_plan(spec, setting_index, bits, data_axes)
    result = run_protocol(spec, setting_index, bits, readout, n_boot=n_boot, seed=seed)
    return {**result.to_json(), "target": want, "planned_precision": spec.precision,
            "plan_check": plan_check, "candidate": headline_candidate(result)}


__all__ = ["SOURCES", "check_against_plan", "check_design", "headline_candidate",
           "protocol_section", "run_protocol"]
