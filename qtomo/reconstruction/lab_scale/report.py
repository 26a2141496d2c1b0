"""The lab-scale stage of ``qtomo reconstruct``: a dataset measured on a planned design (``qtomo
plan`` -> ``qtomo simulate --design`` or a lab's run of it) gets its protocol's fidelity.

:func:`lab_scale_stage` reads the planned design the dataset stores, every shot's setting and
bits (:meth:`qtomo.data.hdf5.Dataset.setting_shots`) and the readout calibration, checks them
against the plan and runs the protocol (:func:`.section.protocol_section`); with a model, the
model's figures sit beside the direct ones (:mod:`.model_side`). It works at any N: nothing
dense is built, and the shots are read once.

:func:`lab_scale_estimate` turns the block into the candidate it offers the headline policy
(:func:`qtomo.reconstruction.headline.pick_headline`), which heads the report where no dense
state is built (N above ``--max-rho-qubits``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qtomo.reconstruction.conventions import CONVENTIONS
from qtomo.reconstruction.estimates import FigureEstimate, PointBound
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


def lab_scale_estimate(section: dict[str, Any]) -> FigureEstimate:
    """The lab-scale block as the headline policy's candidate (``Source.LAB_SCALE``).

    The protocol's estimate with its bootstrap error and 95% interval, or for the energy
    protocol the certified one-sided 95% lower bound as the value (no two-sided error bar;
    the bound at the measured energy and its standard error in ``bound``), with the
    assumptions, settings and shots as report fields. The energy protocol also brings the
    headline energy: <H> from its settings, which the plain shot averages of a fixed design
    do not estimate.
    """
    protocol = section["protocol"]
    words = f"lab-scale protocol: {SOURCES[protocol]}"
    extra = {"assumptions": list(section["assumptions"]), "protocol": protocol,
             "n_settings": section["n_settings"], "n_shots": section["n_shots"]}
    name = f"the {protocol} protocol of the planned design the shots follow"
    if section["lower_bound95"] is None:
        return FigureEstimate(Source.LAB_SCALE, section["value"], stderr=section["stderr"],
                              ci95=list(section["ci95"]), method=words, name=name,
                              extra={"kind": "estimate", **extra})
    bound = section["lower_bound95"]
    d = section["details"]
    se = d["energy_stderr"]
    energy = {"value": d["energy"], "stderr": se,
              "ci95": [d["energy"] - Z95 * se, d["energy"] + Z95 * se],
              "source": f"lab-scale energy protocol ({section['n_settings']} settings)",
              "convention": CONVENTIONS["energy"]}
    return FigureEstimate(Source.LAB_SCALE, bound, ci95=[bound, 1.0],
                          method=f"certified lower bound, {words}", name=name,
                          bound=PointBound(section["value"], section["stderr"]),
                          extra={"kind": "lower bound", **extra}, figures={"energy": energy})


__all__ = ["lab_scale_estimate", "lab_scale_stage"]
