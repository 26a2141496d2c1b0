"""``qtomo plan``: the fixed design a lab should measure to certify a target's fidelity.

:func:`plan_design` returns the design as a :class:`qtomo.data.design_file.DesignSpec`, which
:func:`qtomo.data.design_file.write_design_file` writes in the layout of the design file::

    {"format": "qtomo-design", "version": 1, "n_qubits": N,
     "target": {"state": "ghz", "n_qubits": N},          # plus J, h, boundary for "tfim"
     "protocol": "parity" | "stabilizer" | "energy",
     "precision": 0.005,                                  # requested (or predicted) stderr
     "settings": [{"paulis": "ZZ..Z", "shots": 1000},
                  {"axes": [[theta_0, phi_0], ...], "shots": 500},
                  {"paulis": "XZZ..", "observable": "+XZI..", "shots": 200}],
     "plan": {...}}                                       # the variance model and assumptions

Axes are (theta, phi) in radians, bit 0 the +1 outcome of ``n . sigma``; qubit 0 first.
``observable`` (stabilizer protocol) is the group element a setting estimates: a sign, then one
letter per qubit, I off its support (where the setting measures Z, unused). Protocols:

* ``parity`` (GHZ): the all-Z setting and 2N + 2 settings measuring every qubit along
  ``cos(phi_k) X + sin(phi_k) Y``, ``phi_k = k pi / (N + 1)``, k = 0..2N+1;
* ``stabilizer`` (GHZ, 1-D cluster): l elements of the stabilizer group drawn uniformly (seeded),
  or the whole group when it has at most l elements;
* ``energy`` (TFIM ground state): all-Z and all-X.

Shots (and l) follow the variance models of :mod:`.plan_models`, for a requested standard error
(``precision``) or a total number of shots.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qtomo._version import __version__
from qtomo.data.design_file import DesignSpec
from qtomo.data.design_plan import PROTOCOLS, protocol_problem
from qtomo.errors import InputValueError
from qtomo.povm.axes import letter_angles
from qtomo.reconstruction.lab_scale import plan_models as pm
from qtomo.reconstruction.lab_scale.energy import target_levels
from qtomo.states.stabilizers import (
    LETTERS,
    MAX_ENUMERATED_QUBITS,
    all_elements,
    element_label,
    sample_elements,
    stabilizer_generators,
)
from qtomo.states.tfim import check_tfim_params


def check_request(state: str, n_qubits: int, protocol: str, precision: float | None,
                  shots: int | None, noise: float,
                  readout_error: tuple[float, float] | None) -> None:
    """One-line :class:`InputValueError` for any value ``qtomo plan`` cannot plan."""
    problem = protocol_problem(protocol, {"state": state})
    if problem:
        raise InputValueError(problem if protocol in PROTOCOLS else f"unknown {problem}")
    if int(n_qubits) != n_qubits or n_qubits < 2:
        raise InputValueError(f"--n-qubits must be an integer >= 2, got {n_qubits}")
    if (precision is None) == (shots is None):
        raise InputValueError("give one of --precision (a standard error) and --shots (a "
                              "total), not both or neither")
    if precision is not None and not (math.isfinite(precision) and 0 < precision < 1):
        raise InputValueError(f"--precision is a standard error of the fidelity in (0, 1), "
                              f"got {precision}")
    if shots is not None and shots < 1:
        raise InputValueError(f"--shots must be >= 1, got {shots}")
    if not (math.isfinite(noise) and 0 <= noise < 1):
        raise InputValueError(f"--noise (assumed depolarizing p) must lie in [0, 1), got {noise}")
    if readout_error is not None and not all(math.isfinite(f) and 0 <= f < 0.5
                                             for f in readout_error):
        raise InputValueError(f"--readout-error flips must lie in [0, 0.5), got {readout_error}")


def _pauli_setting(letters: str, shots: int) -> dict[str, Any]:
    return {"paulis": letters, "shots": int(shots)}


def _plan_parity(n: int, eps: float | None, total: int | None, ro: pm.ReadoutModel
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    n_phases = 2 * n + 2
    v_z, m2 = pm.parity_moments(ro)
    n_z, n_xy = pm.parity_shots(v_z, m2, n_phases, eps, total)
    settings = [_pauli_setting("Z" * n, n_z)]
    for k in range(n_phases):
        phi = k * np.pi / (n + 1)
        settings.append({"axes": [[np.pi / 2, phi]] * n, "shots": n_xy})
    info = {"predicted_stderr": pm.parity_stderr(v_z, m2, n_phases, n_z, n_xy),
            "variance_model": "per-shot second moments of a GHZ state with any local noise "
                              "(plan_models)",
            "population_second_moment": v_z, "parity_second_moment": m2}
    return settings, info


def _stabilizer_count(spread: float, eps: float | None, settings: int | None) -> int:
    if settings is not None:
        if settings < 1:
            raise InputValueError(f"--settings must be >= 1, got {settings}")
        return int(settings)
    if eps is None:
        return pm.MIN_SETTINGS
    return max(pm.MIN_SETTINGS, math.ceil(2 * spread / eps**2))


def _plan_stabilizer(state: str, n: int, eps: float | None, total: int | None, noise: float,
                     ro: pm.ReadoutModel, settings: int | None, seed: int
                     ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    gens = stabilizer_generators(state, n)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5AB1])
    _, probe = sample_elements(gens, pm.SPREAD_DRAWS, rng)
    spread = pm.stabilizer_spread((probe != 0).sum(axis=1), noise)
    count = _stabilizer_count(spread, eps, settings)
    sampled = not (n <= MAX_ENUMERATED_QUBITS and count >= 2**n)
    signs, letters = sample_elements(gens, count, rng) if sampled else all_elements(gens)
    count = len(signs)
    m2 = float(np.mean([np.prod(ro.mu[row != 0]) for row in letters]))
    budget = count * eps**2 - (spread if sampled else 0.0) if eps is not None else None
    if budget is not None and budget <= 0:
        raise InputValueError(f"with {count} settings the spread between group elements alone "
                              f"exceeds --precision {eps:g}; use at least "
                              f"{math.ceil(2 * spread / eps**2)} settings")
    shots = math.ceil(m2 / budget) if budget is not None else (total or 0) // count
    shots = max(pm.MIN_SHOTS, shots)
    out = [{"paulis": "".join("Z" if c == 0 else LETTERS[c] for c in row),
            "observable": element_label(int(sg), row), "shots": int(shots)}
           for sg, row in zip(signs, letters, strict=True)]
    info = {"predicted_stderr": pm.stabilizer_stderr(spread, m2, count, shots, sampled),
            "sampled": sampled,
            "settings_drawn": "sampled uniformly (with repeats)" if sampled else "whole group",
            "variance_model": "spread of <S> between elements of the assumed noisy target, "
                              "per-shot second moments (plan_models)",
            "spread_between_settings": spread, "shot_second_moment": m2}
    return out, info


def _plan_energy(n: int, J: float, h: float, boundary: str, eps: float | None,
                 total: int | None, noise: float, ro: pm.ReadoutModel
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    check_tfim_params(n, J, h, boundary)
    lv = target_levels(n, J, h, boundary)
    gap = lv.e1_same - lv.e0  # the parity-sector bound's (all-X reads the parity)
    var_z, var_x = pm.energy_variances(n, J, h, noise, ro, lv.parity_weight, lv.parity)
    kinds = [(letter, v) for letter, v, c in (("Z", var_z, J), ("X", var_x, h)) if c != 0]
    roots = [math.sqrt(v) for _, v in kinds]
    if eps is not None:
        counts = pm.allocate(roots, eps * gap)
    else:
        assert total is not None
        counts = [total * r / sum(roots) if sum(roots) else total / len(roots) for r in roots]
    shots = [max(pm.MIN_SHOTS, math.ceil(c)) for c in counts]
    settings = [_pauli_setting(letter * n, s) for (letter, _), s in zip(kinds, shots,
                                                                         strict=True)]
    se_h = math.sqrt(sum(v / s for (_, v), s in zip(kinds, shots, strict=True)))
    info = {"predicted_stderr": se_h / gap, "predicted_energy_stderr": se_h, "E0": lv.e0,
            "E1": lv.e1, "E1_same_sector": lv.e1_same, "ground_parity": lv.parity,
            "gap": lv.e1 - lv.e0, "bound_gap": gap,
            "energies_from": "free fermions (exact, open chain)",
            "variance_model": "term moments of the assumed noisy ground state (free fermions, "
                              "Wick's theorem; plan_models)",
            "shot_variance_zz": var_z, "shot_variance_x": var_x}
    return settings, info


def plan_design(state: str, n_qubits: int, protocol: str, *, precision: float | None = None,
                shots: int | None = None, J: float = 1.0, h: float = 1.0,
                boundary: str = "open", noise: float = 0.0,
                readout_error: tuple[float, float] | None = None, settings: int | None = None,
                seed: int = 1234) -> DesignSpec:
    """The design for ``protocol`` on the target (see the module docstring), as the
    :class:`~qtomo.data.design_file.DesignSpec` its design file holds.

    Parameters
    ----------
    state, n_qubits :
        The target (``ghz``, ``cluster`` or ``tfim``) and N >= 2.
    protocol : ``"parity"``, ``"stabilizer"`` or ``"energy"``
    precision : float, optional
        Requested standard error of the fidelity (of the bound, for ``energy``).
    shots : int, optional
        A total number of shots instead (split by the same variance model).
    J, h, boundary :
        TFIM couplings (``energy``; open chain).
    noise : float
        Local depolarizing p the plan assumes (stabilizer spread, energy variances).
    readout_error : (P(1|0), P(0|1)), optional
        Readout flips the plan assumes on every qubit (the correction's extra variance).
    settings : int, optional
        Number of stabilizer settings l instead of the planned one.
    seed : int
        Seed of the drawn stabilizer elements.
    """
    check_request(state, n_qubits, protocol, precision, shots, noise, readout_error)
    n = int(n_qubits)
    if settings is not None and protocol != "stabilizer":
        raise InputValueError("--settings applies to --protocol stabilizer only")
    ro = pm.ReadoutModel.of(n, readout_error)
    target: dict[str, Any] = {"state": state, "n_qubits": n}
    if protocol == "parity":
        rows, info = _plan_parity(n, precision, shots, ro)
    elif protocol == "stabilizer":
        rows, info = _plan_stabilizer(state, n, precision, shots, noise, ro, settings, seed)
    else:
        target.update(J=float(J), h=float(h), boundary=boundary)
        rows, info = _plan_energy(n, J, h, boundary, precision, shots, noise, ro)
    total = sum(r["shots"] for r in rows)
    plan = {**info, "requested_precision": precision, "requested_shots": shots,
            "shots_total": total, "n_settings": len(rows), "assumed_noise": noise,
            "assumed_readout_error": None if readout_error is None else list(readout_error),
            "seed": seed, "qtomo_version": __version__}
    angles = np.stack([letter_angles(r["paulis"]) if "paulis" in r
                       else np.asarray(r["axes"], dtype=np.float64) for r in rows])
    return DesignSpec(
        n, angles, tuple(int(r["shots"]) for r in rows), target, protocol,
        float(precision if precision is not None else info["predicted_stderr"]), plan,
        tuple(r["observable"] for r in rows) if protocol == "stabilizer" else None)


__all__ = ["check_request", "plan_design"]
