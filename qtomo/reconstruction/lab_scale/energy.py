"""A certified lower bound on the fidelity to a TFIM ground state from its measured energy.

For a target that is the non-degenerate ground state |E0> of H, with first excited energy E1,
every state satisfies ``Tr(rho H) >= E0 F + E1 (1 - F)``, so

    F >= (E1 - <H>) / (E1 - E0)

(docs/conventions.md, "Fidelity at lab scale"; Cramer et al. 2010, Lanyon et al. 2017). For
``H = -J sum Z_i Z_{i+1} - h sum X_i`` (open chain) two settings measure every term: all-Z
gives ``e_Z = -J sum_i y_i y_{i+1}`` per shot and all-X ``e_X = -h sum_i y_i`` (readout-corrected
+-1 values, :mod:`.shots`); ``<H> = mean(e_Z) + mean(e_X)``. E0 and E1 are exact from free
fermions (:func:`qtomo.states.exact.tfim_lowest_energies`: ``E1 = E0 + 2 min_k s_k``). The
one-sided 95% bound uses the upper 95% confidence limit of ``<H>``,
``<H> + 1.645 stderr`` (bootstrap over shots and calibration). The bound is tight for a state
mixed from |E0> and |E1>, and loose by about (mean excitation energy - gap) / gap otherwise.

Each per-shot value is a polynomial of degree at most 2 in the bits, so it is evaluated for all
bootstrap tables at once by matrix products.
"""

from __future__ import annotations

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
    check_shots,
    group_shots,
    readout_tables,
    setting_means,
)
from qtomo.states.exact import tfim_lowest_energies
from qtomo.typing import FloatArray

#: A gap below this fraction of max(1, |E0|) counts as a degenerate ground state.
GAP_TOL = 1e-9


def assumptions(J: float, h: float) -> tuple[str, ...]:
    return (
        f"the target is the non-degenerate ground state of H = -{J:g} sum Z_i Z_i+1 - {h:g} "
        "sum X_i (open chain), with E0 and E1 exact from free fermions",
        "F >= (E1 - <H>) / (E1 - E0) holds for every state; it is tight only for mixtures of "
        "the ground and first excited states",
        "the one-sided 95% bound uses the upper 95% confidence limit of the measured <H>",
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


def energy_values(kind: str, J: float, h: float, bits: np.ndarray, tables: np.ndarray
                  ) -> FloatArray:
    """Per-shot energy terms (n, T): ``e_Z`` on an all-Z setting (``kind="Z"``), ``e_X`` on an
    all-X one. With ``y_q(b) = a_q + d_q b`` the bond products expand to a constant, a linear
    and a bilinear form in the bits."""
    a = tables[:, :, 0]
    d = tables[:, :, 1] - a  # T N
    bf = bits.astype(np.float64)
    if kind == "X":
        return -h * (a.sum(axis=1)[None, :] + bf @ d.T)
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


def lowest_energies(n: int, J: float, h: float, boundary: str = "open") -> tuple[float, float]:
    """``(E0, E1)`` of the target chain; refuses a periodic chain and a degenerate ground
    state in one line."""
    if boundary != "open":
        raise InputValueError("the energy protocol handles the open chain (exact E0 and E1 "
                              f"from free fermions); got boundary {boundary!r}")
    e0, e1 = tfim_lowest_energies(n, J, h)
    if e1 - e0 <= GAP_TOL * max(1.0, abs(e0)):
        raise InputValueError(
            f"the TFIM's gap E1 - E0 = {e1 - e0:.3g} vanishes at N = {n}, J = {J:g}, h = {h:g}: "
            "the ground state is (nearly) degenerate and the energy bound needs a "
            "non-degenerate one")
    return e0, e1


def energy_bound(axes: np.ndarray, setting_index: np.ndarray, bits: np.ndarray, *,
                 J: float, h: float, boundary: str = "open", readout: Any = None,
                 n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> ProtocolResult:
    """Lower bound on the fidelity to the TFIM ground state from all-Z and all-X shots.

    ``value`` is the bound at the measured energy, ``lower_bound95`` the one-sided 95% bound
    (at most 1) and ``ci95`` = ``[lower_bound95, 1]``; ``details`` carry the energy with its
    errors, E0, E1 and the gap. Other parameters as
    :func:`qtomo.reconstruction.lab_scale.parity.parity_fidelity`.
    """
    a, idx, b = check_shots(axes, setting_index, bits)
    n = a.shape[1]
    if n < 2:
        raise InputValueError("the energy protocol needs N >= 2 qubits")
    e0, e1 = lowest_energies(n, J, h, boundary)
    zs, xs = energy_layout(a, J, h)
    rng = np.random.default_rng(seed)
    tables, calibrated = readout_tables(readout, n, n_boot, rng)
    sm = setting_means(group_shots(idx, b, a.shape[0]),
                       lambda s, x, t: energy_values("Z" if s in zs else "X", J, h, x, t),
                       tables, n_boot, rng)
    energy = float(energy_from_means(zs, xs, sm.point, sm.shots))
    var_an = 0.0
    for group in (list(zs), list(xs)):
        if group:
            w = sm.shots[group] / sm.shots[group].sum()
            var_an += float(np.sum(w**2 * sm.var[group] / sm.shots[group]))
    se_an = float(np.sqrt(var_an))
    se_h = stderr_or_analytic(bootstrap_stderr(
        None if sm.boot is None else energy_from_means(zs, xs, sm.boot, sm.shots)), se_an)
    gap = e1 - e0
    value = fidelity_bound(energy, e0, e1)
    lower = min(1.0, fidelity_bound(energy + Z95_ONE_SIDED * se_h, e0, e1))
    details = {
        "energy": energy, "energy_stderr": se_h, "energy_stderr_analytic": se_an,
        "energy_upper95": energy + Z95_ONE_SIDED * se_h, "E0": e0, "E1": e1, "gap": gap,
        "energies_from": "free fermions (Jordan-Wigner), open chain, exact",
        "confidence": "one-sided 95%", "J": float(J), "h": float(h),
        "calibration_resampled": calibrated,
    }
    return ProtocolResult(
        "energy", value, se_h / gap, se_an / gap, (lower, 1.0), lower,
        a.shape[0], int(sm.shots.sum()), with_readout(assumptions(J, h), readout), details)


__all__ = ["GAP_TOL", "assumptions", "energy_bound", "energy_from_means", "energy_layout",
           "energy_values", "fidelity_bound", "lowest_energies"]
