"""The lab-scale stage of ``qtomo reconstruct``: a dataset measured on a planned design (``qtomo
plan`` -> ``qtomo simulate --design`` or a lab's run of it) gets its protocol's fidelity.

:func:`lab_scale_stage` reads the planned design the dataset stores, every shot's setting and
bits (:meth:`qtomo.data.hdf5.Dataset.setting_shots`) and the readout calibration, checks them
against the plan and runs the protocol (:func:`.section.protocol_section`); with a model, the
model's figures sit beside the direct ones (:mod:`.model_side`). It works at any N: nothing
dense is built, and the shots are read once.

:func:`lab_scale_headline` turns the block into the report's headline fidelity (and, for the
energy protocol, energy) where no dense method applies (N above ``--max-rho-qubits``); with its
one call in :mod:`qtomo.reconstruction.run` it is the only place where the lab-scale protocols
enter the headline, so that a headline policy can take it over as one candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qtomo.reconstruction.conventions import CONVENTIONS
from qtomo.reconstruction.lab_scale.model_side import model_protocol_values, side_by_side
from qtomo.reconstruction.lab_scale.results import Z95
from qtomo.reconstruction.lab_scale.section import SOURCES, protocol_section, run_protocol
from qtomo.reconstruction.source import Source


def lab_scale_stage(ds: Any, *, readout_correction: bool = True, seed: int = 0,
                    samples: np.ndarray | None = None, frame: Any = None,
                    stage: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """The lab-scale block of ``ds`` (``report["lab_scale"]``), or None when its shots follow
    no planned design.

    Parameters
    ----------
    ds : Dataset
        Open dataset; its stored planned design, shots, design axes, readout and target.
    readout_correction : bool
        Correct the stored readout (its calibration error is resampled in the bootstrap).
    seed : int
        Seed of the bootstrap.
    samples, frame :
        A model's POVM outcome strings (n, N) uint8 and the frame they follow (the measured
        frame for data read through a readout); their figures go beside the direct ones as
        ``model`` and ``model_vs_direct``.
    """
    planned = ds.planned_design()
    if planned is None:
        return None
    if stage is not None:
        stage(f"lab-scale {planned.protocol} protocol")
    idx, bits = ds.setting_shots()
    readout = ds.readout if readout_correction else None
    section = protocol_section(planned, idx, bits, readout, ds.target,
                               data_axes=ds.design.angles(), seed=seed)
    section["readout_corrected"] = readout is not None
    if ds.readout is not None:  # the figure on the other side of the correction
        other = run_protocol(planned, idx, bits, None if readout is not None else ds.readout,
                             n_boot=0)
        section["other_side"] = _figure(other.value, other.lower_bound95)
    if samples is not None:
        model = model_protocol_values(samples, frame, planned)
        section.update(model=model, model_vs_direct=side_by_side(section, model))
    return section


def _figure(value: float, lower_bound95: float | None) -> float:
    """The headline figure of a protocol: its estimate, or its certified bound."""
    return float(value if lower_bound95 is None else lower_bound95)


def lab_scale_headline(section: dict[str, Any]) -> dict[str, Any]:
    """The headline entries a lab-scale block gives (keys of ``report["headline"]``).

    ``quantum_fidelity``: the protocol's estimate with its bootstrap error and 95% interval,
    or for the energy protocol the certified one-sided 95% lower bound, labelled as a bound
    (no two-sided error bar; the bound at the measured energy and its standard error kept
    beside it). ``energy`` (energy protocol): <H> from its settings, which the plain shot
    averages of a fixed design do not estimate.
    """
    protocol = section["protocol"]
    words = f"lab-scale protocol: {SOURCES[protocol]}"
    why = (f"The headline is the {protocol} protocol of the planned design the shots follow: "
           "no dense state is built at this N, and the protocol's error does not grow with N"
           + ("; it is the certified one-sided 95% lower bound" if protocol == "energy"
              else "") + ".")
    entry: dict[str, Any] = {"convention": CONVENTIONS["quantum_fidelity"],
                             "assumptions": list(section["assumptions"]),
                             "estimator": Source.LAB_SCALE.value, "protocol": protocol,
                             "why": why,
                             "n_settings": section["n_settings"], "n_shots": section["n_shots"]}
    if section["lower_bound95"] is None:
        return {"quantum_fidelity": {
            "value": section["value"], "stderr": section["stderr"],
            "ci95": list(section["ci95"]), "kind": "estimate", "source": words, **entry}}
    bound = section["lower_bound95"]
    d = section["details"]
    se = d["energy_stderr"]
    return {
        "quantum_fidelity": {
            "value": bound, "stderr": None, "ci95": [bound, 1.0], "kind": "lower bound",
            "bound": "one-sided 95% lower confidence bound: F >= value",
            "point_bound": section["value"], "point_bound_stderr": section["stderr"],
            "source": f"certified lower bound, {words}", **entry},
        "energy": {"value": d["energy"], "stderr": se,
                   "ci95": [d["energy"] - Z95 * se, d["energy"] + Z95 * se],
                   "source": f"lab-scale energy protocol ({section['n_settings']} settings)",
                   "convention": CONVENTIONS["energy"]},
    }


__all__ = ["lab_scale_headline", "lab_scale_stage"]
