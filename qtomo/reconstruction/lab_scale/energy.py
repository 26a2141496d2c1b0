"""A certified lower bound on the fidelity to a TFIM ground state from its measured energy.

For a target that is the non-degenerate ground state |E0> of H, with first excited energy E1,
every state satisfies ``Tr(rho H) >= E0 F + E1 (1 - F)``, so

    F >= (E1 - <H>) / (E1 - E0)

(docs/conventions.md, "Fidelity at lab scale"; Cramer et al. 2010, Lanyon et al. 2017). For
``H = -J sum Z_i Z_{i+1} - h sum X_i`` (open chain) two settings measure every term: all-Z
gives ``e_Z = -J sum_i y_i y_{i+1}`` per shot and all-X ``e_X = -h sum_i y_i`` (readout-corrected
+-1 values, :mod:`.shots`); ``<H> = mean(e_Z) + mean(e_X)``. The levels are exact from free
fermions (:func:`qtomo.states.exact.tfim_sector_energies`).

Parity sectors. The all-X setting also measures the parity P = prod_i X_i, which commutes
with H. The ground state has parity s0 and E1 (one quasi-particle) lies in the other sector;
the ground state's own sector is first excited at ``E1s = E0 + 2 (s_min + s_next)`` (two
quasi-particles). The bound is applied to ``H' = H - c s0 P`` with ``c = (E1s - E1) / 2``:
H' has the same ground state, shifted to ``E0 - c``, and both sectors' next levels meet at
``E1 + c = E1s - c``, so its gap is ``G = E1s - E0`` (about twice E1 - E0 in the gapped
phase) and

    F >= (E1 + c - <H> + c s0 <P>) / G,

which is never below the plain bound at the same data and equals F for a mixture of |E0> with
any one of the two next levels. Per all-X shot the value is ``e_X - c s0 prod_i y_i``. The
one-sided 95% bound uses the upper 95% confidence limit of ``<H'>`` (bootstrap over shots and
calibration). The bound is loose by about (mean excitation energy - gap) / gap.

Each per-shot value is a polynomial of degree at most 2 in the bits (and a product over all
qubits), evaluated for all bootstrap tables at once by matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale.axes import along
from qtomo.reconstruction.lab_scale.results import (
    Z95_ONE_SIDED,
    ProtocolResult,
    bootstrap_stderr,
    stderr_or_analytic,
    with_readout,
)
from qtomo.reconstruction.lab_scale.shots import (
    DEFAULT_BOOTSTRAP,
    SettingMeans,
    check_shots,
    group_shots,
    product_values,
    readout_tables,
    setting_means,
)
from qtomo.states.exact import tfim_sector_energies
from qtomo.typing import FloatArray

#: A gap below this fraction of max(1, |E0|) counts as a degenerate ground state.
GAP_TOL = 1e-9


def assumptions(J: float, h: float) -> tuple[str, ...]:
    return (
        f"the target is the non-degenerate ground state of H = -{J:g} sum Z_i Z_i+1 - {h:g} "
        "sum X_i (open chain), with its levels exact from free fermions",
        "F >= (E1 + c - <H> + c s0 <P>) / (E1s - E0) holds for every state (P = prod X_i, "
        "s0 the ground state's parity, E1s its sector's first excited level, c = (E1s - E1)/2); "
        "it is tight only for mixtures of the ground state and one of the next levels",
        "the one-sided 95% bound uses the upper 95% confidence limit of the measured "
        "<H> - c s0 <P>",
    )


def energy_layout(axes: np.ndarray, J: float, h: float) -> tuple[tuple[int, ...],
                                                                  tuple[int, ...]]:
    """``(all-Z settings, all-X settings)`` of a design (S, N, 2); every other setting, or a
    missing kind whose coupling is not zero, is refused."""
    a = np.asarray(axes, dtype=np.float64)
    z = along(a, "Z").all(axis=1)
    x = along(a, "X").all(axis=1)
    bad = np.flatnonzero(~(z | x))
    if bad.size:
        raise InputValueError(f"setting {int(bad[0])} is neither all-Z nor all-X; the energy "
                              "protocol of the TFIM measures only those")
    for mask, coupling, name in ((z, J, "all-Z (for the J term)"),
                                 (x, h, "all-X (for the h term)")):
        if coupling != 0 and not mask.any():
            raise InputValueError(f"the energy protocol needs an {name} setting")
    return tuple(int(s) for s in np.flatnonzero(z)), tuple(int(s) for s in np.flatnonzero(x))


def energy_values(kind: str, J: float, h: float, bits: np.ndarray, tables: np.ndarray,
                  parity_weight: float = 0.0) -> FloatArray:
    """Per-shot energy terms (n, T): ``e_Z`` on an all-Z setting (``kind="Z"``), ``e_X`` on an
    all-X one, minus ``parity_weight`` times the parity ``prod_q y_q`` there. With ``y_q(b) =
    a_q + d_q b`` the bond products expand to a constant, a linear and a bilinear form in the
    bits."""
    a = tables[:, :, 0]
    d = tables[:, :, 1] - a  # T N
    bf = bits.astype(np.float64)
    if kind == "X":
        e_x = -h * (a.sum(axis=1)[None, :] + bf @ d.T)
        if parity_weight:
            e_x = e_x - parity_weight * product_values(bits, tables, np.ones(a.shape[1], bool))
        return e_x
    lin = np.zeros_like(a)
    lin[:, :-1] += d[:, :-1] * a[:, 1:]
    lin[:, 1:] += a[:, :-1] * d[:, 1:]
    const = (a[:, :-1] * a[:, 1:]).sum(axis=1)
    pairs = bf[:, :-1] * bf[:, 1:]
    return -J * (const[None, :] + bf @ lin.T + pairs @ (d[:, :-1] * d[:, 1:]).T)


def energy_from_means(z_settings: tuple[int, ...], x_settings: tuple[int, ...],
                      means: np.ndarray, shots: np.ndarray) -> np.ndarray:
    """``<H>`` (...) from per-setting means (..., S), pooling settings of a kind by shots."""
    mu = np.asarray(means, dtype=np.float64)
    total = np.zeros(mu.shape[:-1])
    for group in (list(z_settings), list(x_settings)):
        if group:
            total = total + mu[..., group] @ (shots[group] / shots[group].sum())
    return total


def fidelity_bound(energy: float, e0: float, e1: float) -> float:
    """``(E1 - <H>) / (E1 - E0)``."""
    return float((e1 - energy) / (e1 - e0))


@dataclass(frozen=True)
class Levels:
    """The target chain's levels (free fermions): ground ``e0`` with parity ``parity``, the
    other sector's lowest ``e1`` (the first excited level) and the own sector's first excited
    ``e1_same``."""

    e0: float
    e1: float
    e1_same: float
    parity: int

    @property
    def shift(self) -> float:
        """``c = (E1s - E1) / 2``, the weight of ``s0 P`` taken off H."""
        return (self.e1_same - self.e1) / 2.0

    @property
    def parity_weight(self) -> float:
        """Coefficient of the per-shot parity in the all-X values: ``c s0``."""
        return self.shift * self.parity

    def bound(self, shifted_energy: float) -> float:
        """The sector bound at a measured ``<H> - c s0 <P>``."""
        return fidelity_bound(shifted_energy, self.e0 - self.shift, self.e1 + self.shift)


def target_levels(n: int, J: float, h: float, boundary: str = "open") -> Levels:
    """The target chain's :class:`Levels`; refuses a periodic chain and a degenerate ground
    state in one line."""
    if boundary != "open":
        raise InputValueError("the energy protocol handles the open chain (exact levels from "
                              f"free fermions); got boundary {boundary!r}")
    if n >= 2 and h != 0:
        e0, e1, e1s, parity = tfim_sector_energies(n, J, h)
    else:
        e0, e1, e1s, parity = 0.0, 0.0, 0.0, 1
    if e1 - e0 <= GAP_TOL * max(1.0, abs(e0)):
        raise InputValueError(
            f"the TFIM's gap E1 - E0 = {e1 - e0:.3g} vanishes at N = {n}, J = {J:g}, h = {h:g}: "
            "the ground state is (nearly) degenerate and the energy bound needs a "
            "non-degenerate one")
    return Levels(e0, e1, e1s, parity)


def lowest_energies(n: int, J: float, h: float, boundary: str = "open") -> tuple[float, float]:
    """``(E0, E1)`` of the target chain (:func:`target_levels`)."""
    lv = target_levels(n, J, h, boundary)
    return lv.e0, lv.e1


def _energy_means(zs: tuple[int, ...], xs: tuple[int, ...], groups: list[np.ndarray],
                  J: float, h: float, tables: np.ndarray, n_boot: int, parity_weight: float,
                  rng: np.random.Generator) -> tuple[float, float, float]:
    """``(<H> - parity_weight <P>, bootstrap s.e., analytic s.e.)`` from the shots."""
    sm: SettingMeans = setting_means(
        groups, lambda s, x, t: energy_values("Z" if s in zs else "X", J, h, x, t,
                                              parity_weight), tables, n_boot, rng)
    var_an = 0.0
    for group in (list(zs), list(xs)):
        if group:
            w = sm.shots[group] / sm.shots[group].sum()
            var_an += float(np.sum(w**2 * sm.var[group] / sm.shots[group]))
    se_an = float(np.sqrt(var_an))
    se = stderr_or_analytic(bootstrap_stderr(
        None if sm.boot is None else energy_from_means(zs, xs, sm.boot, sm.shots)), se_an)
    return float(energy_from_means(zs, xs, sm.point, sm.shots)), se, se_an


def energy_bound(axes: np.ndarray, setting_index: np.ndarray, bits: np.ndarray, *,
                 J: float, h: float, boundary: str = "open", readout: Any = None,
                 n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> ProtocolResult:
    """Lower bound on the fidelity to the TFIM ground state from all-Z and all-X shots.

    ``value`` is the parity-sector bound (module docstring) at the measured ``<H> - c s0
    <P>``, ``lower_bound95`` the one-sided 95% bound (at most 1) and ``ci95`` =
    ``[lower_bound95, 1]``; ``details`` carry the energy ``<H>`` with its errors, the parity,
    the levels and the plain bound ``(E1 - <H>) / (E1 - E0)``. Other parameters as
    :func:`qtomo.reconstruction.lab_scale.parity.parity_fidelity`.
    """
    a, idx, b = check_shots(axes, setting_index, bits)
    n = a.shape[1]
    if n < 2:
        raise InputValueError("the energy protocol needs N >= 2 qubits")
    lv = target_levels(n, J, h, boundary)
    zs, xs = energy_layout(a, J, h)
    rng = np.random.default_rng(seed)
    tables, calibrated = readout_tables(readout, n, n_boot, rng)
    groups = group_shots(idx, b, a.shape[0])
    # the sector bound needs the parity, which only an all-X setting reads
    weight = lv.parity_weight if xs else 0.0
    shifted, se, se_an = _energy_means(zs, xs, groups, J, h, tables, n_boot, weight, rng)
    energy, se_h, se_h_an = (_energy_means(zs, xs, groups, J, h, tables, n_boot, 0.0, rng)
                             if weight else (shifted, se, se_an))
    if weight:
        gap, value = lv.e1_same - lv.e0, lv.bound(shifted)
        lower = min(1.0, lv.bound(shifted + Z95_ONE_SIDED * se))
    else:
        gap, value = lv.e1 - lv.e0, fidelity_bound(energy, lv.e0, lv.e1)
        lower = min(1.0, fidelity_bound(energy + Z95_ONE_SIDED * se, lv.e0, lv.e1))
    details = {
        "energy": energy, "energy_stderr": se_h, "energy_stderr_analytic": se_h_an,
        "energy_upper95": energy + Z95_ONE_SIDED * se_h, "E0": lv.e0, "E1": lv.e1,
        "E1_same_sector": lv.e1_same, "gap": lv.e1 - lv.e0, "bound_gap": gap,
        "ground_parity": lv.parity,
        "parity": (energy - shifted) / lv.parity_weight if weight else None,
        "shifted_energy": shifted if weight else None,
        "plain_bound": fidelity_bound(energy, lv.e0, lv.e1),
        "energies_from": "free fermions (Jordan-Wigner), open chain, exact",
        "confidence": "one-sided 95%", "J": float(J), "h": float(h),
        "calibration_resampled": calibrated,
    }
    return ProtocolResult(
        "energy", value, se / gap, se_an / gap, (lower, 1.0), lower,
        a.shape[0], int(b.shape[0]), with_readout(assumptions(J, h), readout), details)


__all__ = ["GAP_TOL", "Levels", "assumptions", "energy_bound", "energy_from_means",
           "energy_layout", "energy_values", "fidelity_bound", "lowest_energies", "target_levels"]
