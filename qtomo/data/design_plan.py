"""Planned designs: what a design file written by ``qtomo plan`` promises, and its checks.

A planned design carries, beside its settings (:mod:`qtomo.data.design_file`):

* ``target`` -- the state it certifies (``{"state": "ghz", "n_qubits": 20}``; TFIM targets
  add ``J``, ``h`` and ``boundary``);
* ``protocol`` -- ``parity`` (GHZ), ``stabilizer`` (GHZ, cluster) or ``energy`` (TFIM), the
  lab-scale fidelity protocols of :mod:`qtomo.reconstruction.lab_scale`;
* ``precision`` -- the standard error of the fidelity it was planned for;
* ``plan`` -- the variance model behind the shot counts, with at least ``n_settings`` and
  ``shots_total`` (and ``sampled`` for a stabilizer design whose elements were drawn at
  random);
* ``observable`` on every setting of a stabilizer design -- the group element the setting
  estimates: a sign, then one letter I, X, Y, Z per qubit.

:func:`planned_problem` says what is inconsistent among these, so that a design that cannot
certify its target is refused when it is read, before anything is simulated or reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

PROTOCOLS = ("parity", "stabilizer", "energy")
#: Targets each protocol certifies.
PROTOCOL_STATES = {"parity": ("ghz",), "stabilizer": ("ghz", "cluster"), "energy": ("tfim",)}


def protocol_problem(protocol: str, target: Mapping[str, Any] | None) -> str | None:
    """Why ``protocol`` cannot certify ``target`` (None: it can)."""
    if protocol not in PROTOCOLS:
        return f"protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}"
    state = None if target is None else target.get("state")
    if state is None:
        return f"the {protocol} protocol needs a target (\"target\": {{\"state\": ...}})"
    if str(state) not in PROTOCOL_STATES[protocol]:
        fits = [p for p, states in PROTOCOL_STATES.items() if str(state) in states]
        hint = (f"plan it with --protocol {' or '.join(fits)}" if fits
                else "no lab-scale protocol of qtomo certifies it")
        return (f"the {protocol} protocol certifies {' or '.join(PROTOCOL_STATES[protocol])} "
                f"targets, not {state!r}; {hint}")
    return None


def _count(plan: Mapping[str, Any], key: str) -> int | None:
    v = plan.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def planned_problem(n_qubits: int, shots: Sequence[int], target: Mapping[str, Any] | None,
                    protocol: str | None, precision: Any, plan: Mapping[str, Any] | None,
                    observables: Sequence[str | None] | None) -> str | None:
    """What is inconsistent in a planned design (None: nothing; module docstring).

    ``shots`` are the design's shots per setting; ``observables`` its settings' group
    elements (None when no setting names one).
    """
    if target is not None and "n_qubits" in target and target["n_qubits"] != n_qubits:
        return (f"target n_qubits is {target['n_qubits']!r}, but the design measures "
                f"{n_qubits} qubits")
    if precision is not None and (isinstance(precision, bool)
                                  or not isinstance(precision, (int, float))
                                  or not math.isfinite(precision) or precision <= 0):
        return f"precision is {precision!r}; expected a standard error > 0 (or null)"
    if protocol is not None:
        problem = protocol_problem(protocol, target)
        if problem:
            return problem
    if protocol == "stabilizer" and (observables is None or None in observables):
        missing = 0 if observables is None else list(observables).index(None)
        return (f"setting {missing} names no observable; a stabilizer design gives each "
                "setting the group element it estimates (write it with qtomo plan)")
    if plan is None:
        return None
    planned = _count(plan, "n_settings")
    if planned is not None and planned != len(shots):
        return (f"the plan block plans {planned} settings, but the design lists {len(shots)}; "
                "measure (and list) every planned setting, or plan again")
    total = _count(plan, "shots_total")
    if total is not None and total != sum(shots):
        return (f"the plan block plans {total} shots in all, but the settings' shots sum to "
                f"{sum(shots)}; plan again rather than editing the shots")
    return None


__all__ = ["PROTOCOLS", "PROTOCOL_STATES", "planned_problem", "protocol_problem"]
