"""GHZ fidelity from populations and parity oscillations (docs/conventions.md, "Fidelity at lab
scale").

For ``|GHZ> = (|0..0> + e^{i theta_0} |1..1>)/sqrt2`` (qtomo's GHZ: theta_0 = 0)

    F = (P(0..0) + P(1..1)) / 2 + Re(e^{i theta_0} c),     c = rho_{0..0, 1..1}.

The populations come from the all-Z setting(s). The coherence comes from settings that measure
every qubit along ``cos(phi) X + sin(phi) Y``: the parity ``P(phi) = prod_q z_q`` has
``<P(phi)> = sum_m a_m e^{i m phi}``, m in {-N, -N+2, ..., N}, with ``a_N = c`` (only the
|0..0><1..1| block has frequency N). At M >= 2N + 1 phases equally spaced on the circle
(the plan uses ``phi_k = k pi/(N+1)``, k = 0..2N+1) the discrete Fourier component

    c = (1/M) sum_k <P(phi_k)> e^{-i N phi_k}

is exact: no other frequency aliases onto N. The estimate is linear in the per-setting means,
hence unbiased (with the readout correction of :mod:`.shots`). Labs also quote
``(P(0..0) + P(1..1))/2 + |c|``, the fidelity up to a rotation about z (the phase being a known
local rotation); it is reported beside the headline, which is the fidelity to the target itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale.axes import AXIS_TOL, along, in_xy_plane
from qtomo.reconstruction.lab_scale.results import (
    ProtocolResult,
    bootstrap_stderr,
    normal_interval,
    stderr_or_analytic,
    with_readout,
)
from qtomo.reconstruction.lab_scale.shots import (
    DEFAULT_BOOTSTRAP,
    check_shots,
    group_shots,
    product_values,
    readout_tables,
    setting_means,
)
from qtomo.typing import FloatArray

ASSUMPTIONS = (
    "the coherence of |0..0><1..1| read from the amplitude and phase of the parity "
    "oscillation (its Fourier component at frequency N over equally spaced phases)",
    "the populations P(0..0) and P(1..1) from the all-Z setting",
)


@dataclass(frozen=True)
class ParityLayout:
    """Which settings hold the populations and which the parity at which phase.

    Attributes
    ----------
    n_qubits : int
    z_settings : tuple of int
        Settings measuring every qubit along Z.
    xy_settings : tuple of int
        Settings measuring every qubit along ``cos(phi) X + sin(phi) Y``, one phi each.
    phases : (M,)
        The phi of each of ``xy_settings``, in [0, 2 pi).
    """

    n_qubits: int
    z_settings: tuple[int, ...]
    xy_settings: tuple[int, ...]
    phases: FloatArray


def parity_layout(axes: np.ndarray) -> ParityLayout:
    """Sort a design's settings (S, N, 2) into the all-Z and the XY-parity settings.

    Raises :class:`InputValueError` for a setting of any other kind, no all-Z setting, fewer
    than 2N + 1 parity phases, or phases that are not equally spaced on the circle.
    """
    a = np.asarray(axes, dtype=np.float64)
    n = a.shape[1]
    z_mask = along(a, "Z").all(axis=1)
    plane, phi = in_xy_plane(a)
    dphi = np.angle(np.exp(1j * (phi - phi[:, :1])))
    xy_mask = plane.all(axis=1) & (np.abs(dphi) < AXIS_TOL).all(axis=1) & ~z_mask
    bad = np.flatnonzero(~(z_mask | xy_mask))
    if bad.size:
        raise InputValueError(
            f"setting {int(bad[0])} is neither all-Z nor one phase cos(phi) X + sin(phi) Y on "
            "every qubit; the parity protocol measures only those (qtomo plan --protocol parity)")
    if not z_mask.any():
        raise InputValueError("the parity protocol needs an all-Z setting for the populations")
    xy = np.flatnonzero(xy_mask)
    phases = phi[xy, 0]
    m = xy.size
    if m < 2 * n + 1:
        raise InputValueError(f"the parity protocol needs at least 2N + 1 = {2 * n + 1} phases "
                              f"of the XY parity for N = {n}, got {m}")
    gaps = np.diff(np.sort(np.append(phases, phases.min() + 2 * np.pi)))
    if np.abs(gaps - 2 * np.pi / m).max() > AXIS_TOL:
        raise InputValueError(f"the {m} parity phases are not equally spaced on the circle "
                              f"(spacing 2 pi/{m}); the Fourier component at frequency {n} "
                              "needs equal spacing")
    return ParityLayout(n, tuple(int(s) for s in np.flatnonzero(z_mask)),
                        tuple(int(s) for s in xy), phases)


def parity_values(layout: ParityLayout, s: int, bits: np.ndarray, tables: np.ndarray
                  ) -> FloatArray:
    """Per-shot values (n, T) of setting ``s``: on an all-Z setting the population estimate
    ``prod_q (1 + y_q)/2 + prod_q (1 - y_q)/2``; on a parity setting ``prod_q y_q``."""
    every = np.ones(layout.n_qubits, dtype=bool)
    if s in layout.z_settings:
        return (product_values(bits, (1.0 + tables) / 2, every)
                + product_values(bits, (1.0 - tables) / 2, every))
    return product_values(bits, tables, every)


def parity_from_means(layout: ParityLayout, means: np.ndarray, shots: np.ndarray,
                      target_phase: float = 0.0) -> dict[str, Any]:
    """Fidelity from per-setting means (..., S) (module docstring).

    Returns a dict of arrays of shape (...): ``populations`` (P(0..0) + P(1..1), shot-weighted
    over the all-Z settings), ``coherence`` (complex c), ``fidelity`` (to the target, phase
    ``target_phase``) and ``fidelity_abs`` (with |c|).
    """
    mu = np.asarray(means, dtype=np.float64)
    z = list(layout.z_settings)
    w = shots[z] / shots[z].sum()
    pop = mu[..., z] @ w
    weights = np.exp(-1j * layout.n_qubits * layout.phases) / len(layout.phases)
    c = mu[..., list(layout.xy_settings)] @ weights
    return {"populations": pop, "coherence": c,
            "fidelity": pop / 2 + np.real(c * np.exp(1j * target_phase)),
            "fidelity_abs": pop / 2 + np.abs(c)}


def _analytic_stderr(layout: ParityLayout, var: np.ndarray, shots: np.ndarray,
                     target_phase: float) -> float:
    z, xy = list(layout.z_settings), list(layout.xy_settings)
    w = shots[z] / shots[z].sum()
    var_pop = float(np.sum(w**2 * var[z] / shots[z]))
    cw = np.cos(layout.n_qubits * layout.phases - target_phase) / len(xy)
    return float(np.sqrt(var_pop / 4 + np.sum(cw**2 * var[xy] / shots[xy])))


def parity_fidelity(axes: np.ndarray, setting_index: np.ndarray, bits: np.ndarray, *,
                    readout: Any = None, target_phase: float = 0.0,
                    n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> ProtocolResult:
    """GHZ fidelity from the shots of a parity design.

    Parameters
    ----------
    axes : (S, N, 2)
        The settings' (theta, phi) per qubit.
    setting_index : int64 (M,)
    bits : uint8 (M, N)
        Bit 0 = +1 outcome along the setting's axis; column q is qubit q.
    readout : None, confusion matrices (N, 2, 2), or a :class:`qtomo.data.design.Readout`
        Corrected per qubit (:mod:`.shots`); a Readout's calibration enters the bootstrap.
    target_phase : float
        theta_0 of the target ``(|0..0> + e^{i theta_0}|1..1>)/sqrt2``.
    n_boot, seed :
        Bootstrap replicates and their seed.
    """
    a, idx, b = check_shots(axes, setting_index, bits)
    layout = parity_layout(a)
    rng = np.random.default_rng(seed)
    tables, calibrated = readout_tables(readout, a.shape[1], n_boot, rng)
    groups = group_shots(idx, b, a.shape[0])
    sm = setting_means(groups, lambda s, x, t: parity_values(layout, s, x, t), tables,
                       n_boot, rng)
    est = parity_from_means(layout, sm.point, sm.shots, target_phase)
    boot = None if sm.boot is None else parity_from_means(layout, sm.boot, sm.shots,
                                                          target_phase)
    se_an = _analytic_stderr(layout, sm.var, sm.shots, target_phase)
    se = stderr_or_analytic(bootstrap_stderr(None if boot is None else boot["fidelity"]), se_an)
    value = float(est["fidelity"])
    every = np.ones(layout.n_qubits, dtype=bool)
    zs = np.concatenate([groups[s] for s in layout.z_settings])
    p00 = float(product_values(zs, (1.0 + tables[:1]) / 2, every).mean())
    c = complex(est["coherence"])
    details = {
        "P_all_zeros": p00, "P_all_ones": float(est["populations"]) - p00,
        "coherence_abs": abs(c), "coherence_phase": float(np.angle(c)),
        "coherence_real": c.real, "target_phase": float(target_phase),
        "fidelity_abs_coherence": float(est["fidelity_abs"]),
        "fidelity_abs_coherence_stderr": bootstrap_stderr(
            None if boot is None else boot["fidelity_abs"]),
        "headline": "fidelity to the target, with Re(e^{i theta_0} c); "
                    "fidelity_abs_coherence uses |c| (fidelity up to a rotation about z)",
        "n_phases": len(layout.xy_settings), "calibration_resampled": calibrated,
    }
    return ProtocolResult(
        "parity", value, se, se_an, normal_interval(value, se), None, a.shape[0],
        int(sm.shots.sum()), with_readout(ASSUMPTIONS, readout), details)


__all__ = ["ASSUMPTIONS", "ParityLayout", "parity_fidelity", "parity_from_means",
           "parity_layout", "parity_values"]
