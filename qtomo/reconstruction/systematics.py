"""Error bars that carry the systematic part, for shots that no physical state fits.

When the G-test rejects the best physical state (:mod:`qtomo.reconstruction.goodness_of_fit`),
the settings disagree with each other beyond shot noise, and a statistical error bar understates
the error. The candidates measured (``scripts/bench_device_errorbars.py``, methods page):

* :func:`scaled_stderr` -- the statistical standard error times sqrt(G / dof);
* :func:`settings_bootstrap` -- resample the settings, then the shots within each;
* :func:`estimator_spread` -- the distance between the unbiased direct estimate and the
  physical MLE;
* :func:`drift_bias` -- the between-setting disagreement read as random rotations of the
  measurement axes (drift): the rotations' size from G's excess over its dof, and the bias
  their average shrinks every correlation by.

Why the last one: a measurement axis that wanders from setting to setting by small random
angles of variance s^2 measures, on average, along the intended axis shrunk by
E[cos theta] = exp(-s^2 / 2): the same statistics as the state passed through local
depolarizing noise of strength p = 1 - exp(-s^2 / 2) before ideal measurements. Averages
cannot tell the two apart, so every estimator (direct, MLE, model) reports the fidelity of the
more mixed state, too low by about F(rho) - F(E_p(rho)), whatever the shots. Only the
disagreement between settings, which grows with the shots while the bias does not, measures s:
to second order, E[X^2] = dof + (s^2 / 2) J with J the Fisher information of the shots about
the axes' tilts (two per qubit and setting) at the fitted state, less the part a state can
mimic (:func:`drift_bias`).

:func:`systematic_interval` is what the headline uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.reconstruction.goodness_of_fit import GTest, setting_probabilities
from qtomo.reconstruction.lab_scale.results import Z95_ONE_SIDED
from qtomo.reconstruction.setting_counts import SettingCounts
from qtomo.states.noise import depolarize
from qtomo.states.paulis import I2, X, Y, Z

_SIGMA = np.stack([X, Y, Z])
_PAULI4 = np.stack([I2, X, Y, Z])
#: Up to this many qubits the part of the tilts a fitted state mimics is projected out exactly
#: (a (settings x 2^N) x 4^N matrix); above, a least-squares fraction stands for it.
ABSORB_MAX_QUBITS = 5
#: Tilt of the finite differences behind the Fisher information of the axes (radians).
TILT = 1e-4
Z95 = 1.959963984540054


# --- the candidates -------------------------------------------------------------------------
def scaled_stderr(stderr: float, gof: GTest) -> float:
    """Candidate (a): ``stderr * sqrt(G / dof)`` (unchanged when G <= dof)."""
    return float(stderr * np.sqrt(max(gof.ratio, 1.0)))


@dataclass(frozen=True)
class SettingSpread:
    """Candidate (a'), :func:`residual_stderr`: a linear estimate's standard error from shot
    noise alone (``noise``) and with the disagreement between settings (``total``)."""

    noise: float
    total: float

    @property
    def extra_variance(self) -> float:
        """The variance the disagreement adds (0 when the settings agree)."""
        return max(self.total**2 - self.noise**2, 0.0)


def residual_stderr(counts: np.ndarray, values: np.ndarray, probs: np.ndarray,
                    gof: GTest) -> SettingSpread:
    """Candidate (a'): the standard error of a linear estimate from its settings' residuals.

    The estimate is the mean over the S settings of each setting's mean of per-shot
    ``values`` (S, 2^N) (the direct estimator of a fixed design); ``probs`` (S, 2^N) are the
    fitted state's probabilities. Each setting's mean minus the state's prediction is a
    residual whose variance is the setting's shot noise when the settings agree; their mean
    square, over the fraction dof / (dof + k) the fit leaves, estimates the estimate's
    variance with the disagreement between settings included (never below shot noise).
    Unlike sqrt(G / dof), which averages the disagreement over all outcomes, this weighs it as
    the estimate does.
    """
    shots = counts.sum(axis=1).astype(np.float64)
    mean = (counts * values).sum(axis=1) / shots
    var = (counts * (values - mean[:, None]) ** 2).sum(axis=1) / np.maximum(shots - 1, 1)
    resid = mean - (probs * values).sum(axis=1)
    s_count = counts.shape[0]
    noise = float((var / shots).sum()) / s_count**2
    spread = float((resid**2).sum()) / s_count**2 * (gof.dof + gof.parameters) / gof.dof
    return SettingSpread(float(np.sqrt(noise)), float(np.sqrt(max(spread, noise))))


def settings_bootstrap(counts: np.ndarray,
                       estimate: Callable[[np.ndarray, np.ndarray], float], *,
                       draws: int, rng: np.random.Generator) -> float:
    """Candidate (b): standard deviation of ``estimate(counts*, picked)`` over tables
    ``counts*`` (S, 2^N) drawn by resampling the S settings with replacement (``picked``, the
    drawn settings' indices) and then each drawn setting's shots (multinomial with its
    frequencies)."""
    s_count = counts.shape[0]
    shots = counts.sum(axis=1)
    freq = counts / np.maximum(shots, 1)[:, None]
    values = []
    for _ in range(draws):
        pick = rng.integers(0, s_count, s_count)
        values.append(estimate(rng.multinomial(shots[pick], freq[pick]), pick))
    return float(np.std(values, ddof=1))


def estimator_spread(value: float, other: float) -> float:
    """Candidate (c): |value - other|, e.g. the direct estimate against the physical MLE."""
    return float(abs(value - other))


@dataclass(frozen=True)
class DriftBias:
    """Candidate (d), :func:`drift_bias`.

    Attributes
    ----------
    tilt : float
        Root-mean-square tilt s of the measurement axes (radians) that explains G's excess.
    depolarizing : float
        The equivalent local depolarizing strength p = 1 - exp(-s^2 / 2).
    bias : float
        F(rho) - F(E_p(rho)): how far the figure lies below the state's (>= 0 for a fidelity
        above that of the maximally mixed state).
    """

    tilt: float
    depolarizing: float
    bias: float


def axis_tilts(projectors: np.ndarray) -> np.ndarray:
    """Two unit axes (S, N, 2, 3) perpendicular to each measurement axis, the axis being the
    Bloch vector of E(bit 0) - E(bit 1) (readout included)."""
    n_vec = np.einsum("sqij,kji->sqk", projectors[:, :, 0] - projectors[:, :, 1], _SIGMA).real
    n_vec /= np.linalg.norm(n_vec, axis=-1, keepdims=True)
    helper = np.where(np.abs(n_vec[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    m1 = np.cross(n_vec, helper)
    m1 /= np.linalg.norm(m1, axis=-1, keepdims=True)
    return np.stack([m1, np.cross(n_vec, m1)], axis=2)


def _tilted(projectors: np.ndarray, q: int, axis: np.ndarray, angle: float) -> np.ndarray:
    """The projectors with qubit q's elements rotated by ``angle`` about ``axis`` (S, 3)."""
    gen = np.einsum("sk,kij->sij", axis, _SIGMA)
    u = np.cos(angle / 2) * np.eye(2) - 1j * np.sin(angle / 2) * gen  # (S, 2, 2)
    out = projectors.copy()
    out[:, q] = np.einsum("sij,sbjk,slk->sbil", u, projectors[:, q], u.conj())
    return out


def _state_directions(projectors: np.ndarray, root_w: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis (S, 2^N, K) of the directions a density matrix can move the
    probabilities in, in the metric of Pearson's X^2 (rows scaled by ``root_w`` (S, 2^N) =
    sqrt(shots / p)): dp(s, b) / dc_P = prod_q Tr[E(s, q, b_q) P_q] / 2 for every Pauli string
    P but the identity. None above :data:`ABSORB_MAX_QUBITS`."""
    s_count, n = projectors.shape[:2]
    if n > ABSORB_MAX_QUBITS:
        return None
    e = 0.5 * np.einsum("sqbij,pji->sqbp", projectors, _PAULI4).real  # (S, N, 2, 4)
    a = e[:, 0]
    for q in range(1, n):  # bits and Pauli letters of qubits 0..q, qubit 0 leading
        a = np.einsum("sxp,sbr->sxbpr", a, e[:, q]).reshape(s_count, 2 << q, 4 << (2 * q))
    b = (root_w[:, :, None] * a[:, :, 1:]).reshape(s_count << n, -1)
    u, sv, _ = np.linalg.svd(b, full_matrices=False)
    return u[:, sv > 1e-10 * sv.max()].reshape(s_count, 1 << n, -1)


def drift_bias(rho: np.ndarray, sc: SettingCounts, gof: GTest,
               figure: Callable[[np.ndarray], float]) -> DriftBias:
    """Candidate (d): the tilt of the measurement axes that explains the shots' excess over
    the fitted state, and the bias of ``figure`` (a function of a density matrix) it implies
    (module docstring).

    ``rho`` is the best physical state the G-test ``gof`` was computed for, ``sc`` the shots.
    The excess is Pearson's X^2 - dof, the quadratic form the Fisher information belongs to.
    A fitted state mimics part of the tilts; that part of the information is left out: its
    projection onto the directions any density matrix can move the probabilities in (up to
    :data:`ABSORB_MAX_QUBITS`; above, the fraction k / (dof + k) of a least-squares residual).
    """
    p0 = np.clip(setting_probabilities(rho, sc.projectors), 1e-12, None)
    perp = axis_tilts(sc.projectors)
    shots = sc.shots.astype(np.float64)
    root_w = np.sqrt(shots[:, None] / p0)
    basis = _state_directions(sc.projectors, root_w) if gof.parameters else None
    info = absorbed = 0.0
    for q in range(sc.n_qubits):
        for k in range(2):
            tilted = _tilted(sc.projectors, q, perp[:, q, k], TILT)
            u = root_w * (setting_probabilities(rho, tilted) - p0) / TILT  # (S, 2^N)
            info += float((u * u).sum())
            if basis is not None:  # each setting's tilt is its own: project setting by setting
                absorbed += float((np.einsum("sbk,sb->sk", basis, u) ** 2).sum())
    if basis is not None:
        info -= absorbed
    else:
        info *= gof.dof / (gof.dof + gof.parameters)
    expected = shots[:, None] * p0
    excess = max(float(((sc.counts - expected) ** 2 / expected).sum()) - gof.dof, 0.0)
    s2 = 2.0 * excess / info if info > 0 else 0.0
    p = float(min(1.0 - np.exp(-s2 / 2.0), 1.0))
    return DriftBias(float(np.sqrt(s2)), p, float(figure(rho) - figure(depolarize(rho, p))))


# --- the choice --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SystematicError:
    """A systematic error of the headline figure that a check found (goodness of fit,
    no signalling, ...), applied by the headline policy.

    ``size`` (one standard deviation) is added in quadrature to the statistical error after
    it is multiplied by ``scale``; ``bias`` stretches the 95% interval on the side the truth
    lies (the value itself never moves). ``check`` names the check, ``reason`` says why in
    words, ``details`` go into the report beside it.
    """

    check: str
    size: float
    reason: str
    scale: float = 1.0
    bias: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def plain(self) -> bool:
        """Only an independent error added in quadrature (no scale, no bias)."""
        return self.scale == 1.0 and self.bias == 0.0

    def apply(self, value: float, stderr: float | None) -> tuple[float, list[float]]:
        """``(stderr, interval)`` with the systematic part: the error ``s = hypot(scale *
        stderr, size)``, the interval ``[value + min(bias, 0) - 1.96 s, value + max(bias, 0)
        + 1.96 s]`` and the error ``hypot(s, bias)``, a symmetric summary of that interval."""
        se = 0.0 if stderr is None or not np.isfinite(stderr) else float(stderr)
        s = float(np.hypot(self.scale * se, self.size))
        b = self.bias
        return float(np.hypot(s, b)), [float(value + min(b, 0.0) - Z95 * s),
                                       float(value + max(b, 0.0) + Z95 * s)]

    def lower_bound(self, point: float, stderr: float) -> tuple[float, float]:
        """``(s, bound)`` for a one-sided 95% lower bound at ``point`` with standard error
        ``stderr``: the error ``s = hypot(scale * stderr, size)`` and the bound
        ``min(1, point + min(bias, 0) - 1.645 s)``, lowered as :meth:`apply` lowers an
        interval's lower end, at the one-sided level."""
        s = float(np.hypot(self.scale * stderr, self.size))
        return s, float(min(1.0, point + min(self.bias, 0.0) - Z95_ONE_SIDED * s))


def systematic_error(gof: GTest | None, *, spread: SettingSpread | None,
                     drift: DriftBias | None, cause: str) -> SystematicError | None:
    """The systematic error of a rejected fit (None unless the G-test ``gof`` of the best
    physical state rejects it).

    The statistical error gains the variance the disagreement between settings adds to the
    direct estimate (``spread``; without it the error is scaled by sqrt(G / dof)), and the
    interval reaches as far as the drift bias of :func:`drift_bias` on the side the truth lies.
    ``cause`` names the likely cause in words.
    """
    if gof is None or not gof.rejected:
        return None
    if spread is not None:
        size, scale = float(np.sqrt(spread.extra_variance)), 1.0
        how = (f"the error bar holds the disagreement between settings (the direct estimate's "
               f"settings scatter {spread.total / max(spread.noise, 1e-300):.2f} times their "
               "shot noise)")
    else:
        size, scale = 0.0, float(np.sqrt(max(gof.ratio, 1.0)))
        how = f"the statistical error bar is scaled by sqrt(G/dof) = {np.sqrt(gof.ratio):.2f}"
    b = drift.bias if drift is not None else 0.0
    words = (f"systematic errors dominate: no physical state fits the shots (G = "
             f"{gof.statistic:.0f} on {gof.dof} degrees of freedom, p = {gof.p_value:.2g}); "
             + how)
    details: dict[str, Any] = {}
    if drift is not None and b != 0:
        words += (f"; read as drift of the measurement axes between settings (rms tilt "
                  f"{drift.tilt:.3f} rad, like local depolarizing p = {drift.depolarizing:.4f}), "
                  f"the figure lies about {abs(b):.4f} {'below' if b > 0 else 'above'} the "
                  "state's, and the 95% interval reaches that far")
        details["drift"] = {"tilt_rad": drift.tilt, "depolarizing": drift.depolarizing,
                            "bias": b}
    return SystematicError("goodness_of_fit", size, f"{words}; likely cause: {cause}",
                           scale=scale, bias=b, details=details)


def systematic_interval(value: float, stderr: float | None, interval: list[float] | None,
                        gof: GTest | None, *, spread: SettingSpread | None,
                        drift: DriftBias | None, cause: str
                        ) -> tuple[float | None, list[float] | None, str]:
    """The headline's error bar with the systematic part of :func:`systematic_error`:
    ``(stderr, interval, words)``, unchanged (``words`` empty) when the fit is not rejected."""
    err = systematic_error(gof, spread=spread, drift=drift, cause=cause)
    if err is None:
        return stderr, interval, ""
    se, ci = err.apply(value, stderr)
    extra = " (the figure has no statistical error bar of its own)" if stderr is None else ""
    return se, ci, err.reason.replace("; likely cause:", extra + "; likely cause:", 1)


__all__ = ["DriftBias", "SettingSpread", "axis_tilts", "drift_bias", "estimator_spread",
           "residual_stderr", "scaled_stderr", "settings_bootstrap", "SystematicError",
           "systematic_error", "systematic_interval"]
