"""The lab-scale figures of a trained model, from its samples, beside the direct ones.

A model's samples are POVM outcome strings (Pauli-4, tetrahedral or Pauli-6; (n, N) uint8);
with the frame's duals D every observable O has the unbiased per-sample value
``Q_O(a) = Tr[O D(a_0) (x) ... (x) D(a_{N-1})]`` (docs/conventions.md, "Observables"): the
*model* estimate. The figures mirror the protocols of the design:

* parity: ``(P(0..0) + P(1..1))/2 + (1/M) sum_k cos(N phi_k - theta_0) <P(phi_k)>`` at the
  design's phases, one per-sample value for the whole combination;
* stabilizer: ``(1/l) sum_i <S_i>`` over the design's group elements
  (:func:`qtomo.povm.born.pauli_q_values`);
* energy: ``<H>`` from the TFIM estimator of :mod:`qtomo.reconstruction.observables`, and the
  bound ``(E1 - <H>)/(E1 - E0)`` with its one-sided 95% value.

Their variance grows with the weight of the observables (roughly 3^w for Pauli-6), so the
parity and stabilizer figures of a model are informative for moderate N only; the energy is
local and stays precise at any N. Pass the frame the model's strings follow: for data read
through a readout, the measured (effective) frame, so that the duals undo the readout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qtomo.data.design_file import DesignSpec
from qtomo.povm.born import Estimate, estimate, pauli_q_values
from qtomo.povm.frames import AnyFrame
from qtomo.reconstruction.consistency import Z_SCALAR
from qtomo.reconstruction.consistency_scalars import ScalarPair
from qtomo.reconstruction.lab_scale.energy import fidelity_bound, lowest_energies
from qtomo.reconstruction.lab_scale.parity import parity_layout
from qtomo.reconstruction.lab_scale.results import Z95_ONE_SIDED
from qtomo.reconstruction.lab_scale.section import check_design
from qtomo.reconstruction.lab_scale.stabilizer import parse_observables
from qtomo.reconstruction.observables import TFIMSpec, estimate_observables
from qtomo.states.stabilizers import LETTERS
from qtomo.typing import FloatArray


def product_q_values(outcomes: np.ndarray, frame: AnyFrame, coeffs: np.ndarray) -> FloatArray:
    """``Q_O(a)`` of a product ``O = (x)_q sum_P coeffs[q, P] P`` (P in I, X, Y, Z), (n,)."""
    a = np.asarray(outcomes)
    q = np.ones(a.shape[0])
    for site in range(a.shape[1]):
        q *= coeffs[site] @ frame.at(site).pauli_table[:, a[:, site]]
    return q


def _parity_values(samples: np.ndarray, frame: AnyFrame, spec: DesignSpec,
                   target_phase: float) -> FloatArray:
    layout = parity_layout(spec.angles)
    n = layout.n_qubits
    up = np.tile([0.5, 0.0, 0.0, 0.5], (n, 1))  # |0><0| = (I + Z)/2
    down = np.tile([0.5, 0.0, 0.0, -0.5], (n, 1))
    v = 0.5 * (product_q_values(samples, frame, up) + product_q_values(samples, frame, down))
    m = len(layout.phases)
    for phi in layout.phases:
        c = np.tile([0.0, np.cos(phi), np.sin(phi), 0.0], (n, 1))
        v += np.cos(n * phi - target_phase) / m * product_q_values(samples, frame, c)
    return v


def _stabilizer_values(samples: np.ndarray, frame: AnyFrame, spec: DesignSpec) -> FloatArray:
    signs, letters = parse_observables(spec.observables or (), spec.n_qubits)
    v = np.zeros(len(samples))
    for sign, row in zip(signs, letters, strict=True):
        paulis = {int(q): LETTERS[int(c)] for q, c in enumerate(row) if c != 0}
        v += sign * pauli_q_values(samples, frame, paulis)
    return v / len(signs)


def model_protocol_values(samples: np.ndarray, frame: AnyFrame, design_spec: DesignSpec,
                          *, target_phase: float = 0.0) -> dict[str, Any]:
    """The design's figure from a model's samples (module docstring).

    Returns ``value``, ``stderr`` (std / sqrt(n) of the per-sample values), ``n_samples`` and
    ``source``; for the energy protocol also ``energy``, ``energy_stderr`` and
    ``lower_bound95``.
    """
    protocol = check_design(design_spec)
    a = np.asarray(samples)
    out: dict[str, Any] = {"protocol": protocol, "n_samples": int(a.shape[0]),
                           "source": "model samples: unbiased per-sample values Tr[O D(a)] "
                                     "of the model's outcome distribution"}
    if protocol == "energy":
        t = design_spec.target or {}
        J, h = float(t["J"]), float(t["h"])
        boundary = str(t.get("boundary", "open"))
        e0, e1 = lowest_energies(a.shape[1], J, h, boundary)
        obs = estimate_observables([a], frame, a.shape[1], source="model",
                                   tfim=TFIMSpec(J, h, boundary), two_point=False)
        e: Estimate = obs.scalars["energy"]
        out.update(energy=e.value, energy_stderr=e.stderr,
                   value=fidelity_bound(e.value, e0, e1), stderr=e.stderr / (e1 - e0),
                   lower_bound95=min(1.0, fidelity_bound(e.value + Z95_ONE_SIDED * e.stderr,
                                                         e0, e1)))
        return out
    v = (_parity_values(a, frame, design_spec, target_phase) if protocol == "parity"
         else _stabilizer_values(a, frame, design_spec))
    est = estimate(v)
    out.update(value=est.value, stderr=est.stderr)
    return out


def side_by_side(section: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """The model's figure beside the direct one, with the consistency verdict: the model agrees
    when ``|z| <= 3`` (as the scalars of the model-vs-data check); for the energy protocol the
    energies themselves are compared."""
    if section["protocol"] == "energy":
        d = section["details"]
        pair = ScalarPair("energy", "TFIM energy <H>", float(model["energy"]),
                          float(model["energy_stderr"]), float(d["energy"]),
                          float(d["energy_stderr"]))
    else:
        pair = ScalarPair("quantum_fidelity", f"{section['protocol']} fidelity",
                          float(model["value"]), float(model["stderr"]),
                          float(section["value"]), float(section["stderr"]))
    z = pair.z()
    return {"quantity": pair.quantity, "model": pair.model, "model_stderr": pair.model_stderr,
            "direct": pair.direct, "direct_stderr": pair.direct_stderr, "z": z,
            "threshold_z": Z_SCALAR,
            "verdict": "consistent" if abs(z) <= Z_SCALAR else "inconsistent"}


__all__ = ["model_protocol_values", "product_q_values", "side_by_side"]
