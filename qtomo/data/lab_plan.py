"""Counts measured on a planned design (``qtomo import --design PLAN.json``).

A lab runs the design ``qtomo plan`` wrote and brings back its counts per setting
(:mod:`qtomo.data.counts`). :func:`attach_plan` gives the imported counts the plan the way
``qtomo simulate --design`` gives it to simulated shots: the dataset's
:class:`~qtomo.data.design.Design` lists the plan's settings in the plan's order and carries
the plan's JSON (``Design.planned``), so the lab-scale section of ``qtomo reconstruct`` checks
the shots against the plan and runs its protocol unchanged. :func:`planned_target` makes the
stored target the plan's.

Checks, each a one-line error before any output is written:

* the plan is a design file written by ``qtomo plan`` (it names a protocol and a target);
* the counts measure the plan's N qubits;
* the counts hold exactly the plan's distinct settings, in any order: as many, each along the
  plan's axes (every qubit's Bloch vector within :data:`~qtomo.povm.axes.AXIS_TOL` of the
  plan's, the tolerance of ``qtomo reconstruct``'s plan check).

A plan may list one setting several times (a stabilizer design estimates several group elements
with it); the counts give such a setting once, its shots merged. Those shots go to its entries
in the plan's proportions (largest remainders; exactly as planned when the totals agree), as
i.i.d. draws of one measurement (:mod:`qtomo.data.schema`). The stored axes are the lab's, in
the plan's order.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.design import AXIS_LETTER, Design, design_axes
from qtomo.data.design_file import DesignSpec, design_text, read_design_file
from qtomo.data.lab_files import LabShots
from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.axes import AXIS_TOL, angles_to_vectors


def read_plan(path: str | Path) -> DesignSpec:
    """The planned design of a ``qtomo plan`` file; :class:`DataFileError` for any other file
    (a counts file, a design file without protocol or target, a CSV design)."""
    try:
        spec = read_design_file(path)
    except DataFileError as e:
        what = ("; not a qtomo plan (the JSON file qtomo plan writes)" if Path(path).is_file()
                else "")
        raise DataFileError(f"--design {e}{what}") from None
    if spec.protocol is None or not spec.target:
        raise DataFileError(f"{path}: not a qtomo plan: the design names no protocol and "
                            "target; write it with qtomo plan (--state, --protocol)")
    return spec


def planned_target(plan: DesignSpec, plan_path: str | Path, target: str, J: float, h: float,
                   boundary: str) -> dict[str, Any]:
    """The import's ``target``, ``J``, ``h`` and ``boundary`` with a plan: the plan's target.

    ``target`` is the user's (``none``: take the plan's); one that names another state, or a
    TFIM with other couplings than the plan's, is refused in one line.
    """
    want = plan.target or {}
    state = str(want.get("state"))
    if target not in ("none", state):
        raise InputValueError(f"--target {target} contradicts the plan's target {state} "
                              f"({plan_path}); leave --target out to store the plan's")
    if state != "tfim":
        return {"target": state}
    planned = {"J": float(want["J"]), "h": float(want["h"]),
               "boundary": str(want.get("boundary", "open"))}
    if target == state:
        for key, given in (("J", J), ("h", h), ("boundary", boundary)):
            same = (given == planned[key] if key == "boundary"
                    else math.isclose(given, planned[key], rel_tol=1e-12, abs_tol=1e-12))
            if not same:
                raise InputValueError(f"--{key} {given} contradicts the plan's target tfim "
                                      f"with {key} = {planned[key]} ({plan_path}); leave "
                                      f"--{key} out")
    return {"target": state, **planned}


def _first_copies(vectors: np.ndarray) -> np.ndarray:
    """For each setting (S, N, 3), the index of the first setting along the same axes."""
    first = np.arange(len(vectors))
    for j in range(len(vectors)):
        dist = np.linalg.norm(vectors[:j] - vectors[j], axis=-1).max(axis=-1, initial=0.0)
        hits = np.flatnonzero(dist <= AXIS_TOL)
        if hits.size:
            first[j] = first[hits[0]]
    return first


def _describe(label: str) -> str:
    """A setting's label for a message (``A``: an axis setting's qubit off +x, +y, +z)."""
    return repr(label) if AXIS_LETTER not in label else f"{label!r} (A: not along +x, +y, +z)"


def _owners(src: Path, design: Design, plan: DesignSpec, plan_path: Path) -> np.ndarray:
    """For every plan entry, the index of the counts' setting that measures it (one-line
    :class:`DataFileError` unless the counts hold exactly the plan's distinct settings)."""
    lab = angles_to_vectors(design.angles())
    planned = plan.vectors()
    first = _first_copies(planned)
    distinct = np.flatnonzero(first == np.arange(len(first)))
    if distinct.size != len(lab):
        repeats = (f" (in {plan.n_settings} entries, some repeated)"
                   if distinct.size != plan.n_settings else "")
        raise DataFileError(f"{src}: the counts hold {len(lab)} settings, the plan {plan_path} "
                            f"plans {distinct.size}{repeats}; measure every planned setting "
                            "and no other")
    owner = np.full(plan.n_settings, -1, dtype=np.int64)
    labels = design.settings or ()
    for j in distinct:
        off = np.linalg.norm(lab - planned[j], axis=-1) > AXIS_TOL  # (S_lab, N)
        hits = np.flatnonzero(~off.any(axis=1))
        if hits.size > 1 or (hits.size and hits[0] in owner):
            raise DataFileError(f"{src}: setting {j} of the plan {plan_path} is measured by "
                                f"several of the counts' settings (axes within {AXIS_TOL:g}); "
                                "merge their counts")
        if not hits.size:
            near = int(np.argmin(off.sum(axis=1)))  # the closest: fewest qubits off
            raise DataFileError(f"{src}: setting {j} of the plan {plan_path}, "
                                f"{_describe(plan.labels[j])}, is not among the counts' "
                                f"settings; the closest, {_describe(labels[near])}, measures "
                                f"qubit {int(np.argmax(off[near]))} along another axis")
        owner[j] = hits[0]
    return owner[first]


def _split(total: int, planned: np.ndarray) -> np.ndarray:
    """``total`` shots over entries planned ``planned`` shots: as planned when the sums agree,
    else one each and the rest in proportion to the plan (largest remainders)."""
    if total == planned.sum() or total < planned.size:
        return planned.copy() if total == planned.sum() else np.zeros_like(planned)
    share = (total - planned.size) * planned / planned.sum()
    out = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - out), kind="stable")
    out[order[: total - planned.size - out.sum()]] += 1
    return out + 1


def attach_plan(src: Path, shots: LabShots, plan: DesignSpec, plan_path: Path) -> LabShots:
    """``shots`` (counts per setting, expanded) on the plan's settings, with the plan attached.

    The returned shots keep the Pauli settings' bases and bits (their entries are found from
    the bases when the dataset is read); the axis settings' shots get the plan's setting
    indices. See the module docstring for the checks.
    """
    design = shots.design
    if design is None or design.kind != "fixed" or design.settings is None:
        raise InputValueError("--design attaches a plan to counts per setting (--format "
                              "counts); shots in bases drawn per shot or POVM outcomes have no "
                              "settings")
    if shots.n_qubits != plan.n_qubits:
        raise DataFileError(f"{src}: the counts measure {shots.n_qubits} qubits, the plan "
                            f"{plan_path} {plan.n_qubits}")
    owner = _owners(src, design, plan, plan_path)
    totals = np.asarray(design.shots_per_setting, dtype=np.int64)
    planned = np.asarray(plan.shots, dtype=np.int64)
    per_entry = np.zeros(plan.n_settings, dtype=np.int64)
    for s in range(len(totals)):
        entries = np.flatnonzero(owner == s)
        per_entry[entries] = _split(int(totals[s]), planned[entries])
        if per_entry[entries].min() < 1:
            several = f" for its {entries.size} entries in the plan" if entries.size > 1 else ""
            raise DataFileError(f"{src}: setting {_describe(design.settings[s])} holds "
                                f"{totals[s]} shots{several}; measure every planned setting")
    axis_index = shots.axis_index
    if axis_index is not None:
        axis_index = np.empty_like(shots.axis_index)
        for s in np.unique(shots.axis_index):
            entries = np.flatnonzero(owner == s)
            at = np.flatnonzero(shots.axis_index == s)
            axis_index[at] = np.repeat(entries, per_entry[entries])
    angles = design.angles()[owner]
    attached = Design("fixed", tuple(design.settings[s] for s in owner),
                      tuple(int(x) for x in per_entry),
                      design_axes(angles) if design.axes is not None else None,
                      design_text(plan))
    return replace(shots, design=attached, axis_index=axis_index)


__all__ = ["attach_plan", "planned_target", "read_plan"]
