"""Readout correction in reconstruction: which POVM the estimates use, the calibration's own
uncertainty, and the figures without the correction.

The dataset's bits follow the effective per-qubit POVM M'_q(s, b) = sum_b' C_q[b|b'] M(s, b')
(:attr:`qtomo.data.hdf5.Dataset.measured_frame`). Inverting the Born rule with its duals (and
fitting states with its elements) removes the readout error from every estimate: density
matrices, observables, the direct estimator and the fidelities. Models are unaffected: they
learn the bits as read.

Calibration uncertainty
-----------------------
Estimated confusion matrices carry binomial errors; a corrected figure inherits them. Their
effect on a figure F is measured by a parametric bootstrap of the calibration: ``draws`` sets of
matrices are drawn (per qubit and prepared bit b', the flips k ~ Binomial(n_b', C[1-b'|b'])
with the calibration's shot counts; Gaussian with the given standard errors when only those are
known), F is recomputed with each set, and ``calibration_stderr`` is their standard deviation.
It enters the headline figure's error bar in quadrature (``sqrt(se^2 + se_cal^2)``) and widens
its 95% interval symmetrically by the same rule. Matrices known exactly (``qtomo simulate
--readout-error``) add nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.povm.frames import AnyFrame, Frame, readout_frames

#: Calibration draws for the calibration standard error.
CALIBRATION_DRAWS = 40
#: Above this many qubits the calibration error of the direct estimate is not computed (each
#: draw re-evaluates every shot).
CALIBRATION_MAX_QUBITS = 12


def confusion_draws(readout: Any, draws: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Confusion matrices (N, 2, 2) drawn from the calibration's sampling distribution.

    Empty when the matrices carry no uncertainty (zero or unknown standard errors and no
    calibration shots).
    """
    c = np.asarray(readout.confusion, dtype=np.float64)
    shots = readout.calibration_shots
    se = np.asarray(readout.stderr, dtype=np.float64)
    out: list[np.ndarray] = []
    if shots is not None:
        n_b = np.asarray(shots, dtype=np.int64)  # (N, 2): qubit, prepared b'
        flip = np.stack([c[:, 1, 0], c[:, 0, 1]], axis=1)  # P(1|0), P(0|1)
        for _ in range(draws):
            f = rng.binomial(n_b, flip) / np.maximum(n_b, 1)
            out.append(_from_flips(f))
        return out
    se_flip = np.stack([se[:, 1, 0], se[:, 0, 1]], axis=1)
    if not np.all(np.isfinite(se_flip)) or not np.any(se_flip > 0):
        return out
    flip = np.stack([c[:, 1, 0], c[:, 0, 1]], axis=1)
    for _ in range(draws):
        out.append(_from_flips(np.clip(flip + se_flip * rng.normal(size=flip.shape), 0.0, 0.49)))
    return out


def _from_flips(f: np.ndarray) -> np.ndarray:
    """(N, 2) flips (P(1|0), P(0|1)) -> (N, 2, 2) confusion matrices C[b, b']."""
    c = np.empty((f.shape[0], 2, 2))
    c[:, 0, 0], c[:, 1, 0] = 1.0 - f[:, 0], f[:, 0]
    c[:, 1, 1], c[:, 0, 1] = 1.0 - f[:, 1], f[:, 1]
    return c


def calibration_stderr(figure: Callable[[AnyFrame], float], ideal: Frame, readout: Any,
                       *, draws: int = CALIBRATION_DRAWS, seed: int = 0) -> float:
    """Standard deviation of ``figure(frame)`` over frames of drawn calibrations (0: exact)."""
    mats = confusion_draws(readout, draws, np.random.default_rng(seed))
    if len(mats) < 2:
        return 0.0
    values = np.array([figure(readout_frames(ideal, m)) for m in mats])
    return float(values.std(ddof=1))


def widen(value: float, stderr: float, ci: Any, extra: float) -> tuple[float, list[float] | None]:
    """Error bar and 95% interval with a further independent error ``extra`` (in quadrature)."""
    se = float(np.hypot(stderr, extra)) if np.isfinite(stderr) else stderr
    if ci is None or extra <= 0:
        return se, None if ci is None else [float(ci[0]), float(ci[1])]
    lo, hi = float(ci[0]), float(ci[1])
    z = 1.959963984540054
    lo_w = float(np.hypot(value - lo, z * extra))
    hi_w = float(np.hypot(hi - value, z * extra))
    return se, [value - lo_w, value + hi_w]


@dataclass(frozen=True)
class ReadoutReport:
    """What the report says about readout correction (the ``readout`` block of the JSON)."""

    applied: bool
    source: str
    source_file: str
    flips: list[list[float]]
    calibration_shots: list[list[int]] | None
    direct_uncorrected: float | None = None
    direct_uncorrected_stderr: float | None = None
    headline_uncorrected: float | None = None
    headline_uncorrected_source: str | None = None
    calibration_stderr: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied, "source": self.source, "source_file": self.source_file,
            "flip_probabilities": self.flips, "calibration_shots": self.calibration_shots,
            "quantum_fidelity_uncorrected_direct": self.direct_uncorrected,
            "quantum_fidelity_uncorrected_direct_stderr": self.direct_uncorrected_stderr,
            "quantum_fidelity_uncorrected": self.headline_uncorrected,
            "quantum_fidelity_uncorrected_source": self.headline_uncorrected_source,
            "calibration_stderr": self.calibration_stderr,
            "method": ("effective per-qubit POVM M'_q(s,b) = sum_b' C_q[b|b'] M(s,b'); its "
                       "duals invert the Born rule; calibration_stderr from a parametric "
                       "bootstrap of the calibration counts, added in quadrature to the "
                       "headline error bar"),
        }


def describe(readout: Any) -> tuple[str, str, list[list[float]], list[list[int]] | None]:
    """(source, source file, flips per qubit, calibration shots) of a dataset's readout."""
    shots = None if readout.calibration_shots is None else \
        np.asarray(readout.calibration_shots).astype(int).tolist()
    return (readout.source, readout.source_file,
            np.round(readout.flip_probabilities, 6).tolist(), shots)


__all__ = [
    "CALIBRATION_DRAWS",
    "CALIBRATION_MAX_QUBITS",
    "ReadoutReport",
    "calibration_stderr",
    "confusion_draws",
    "describe",
    "widen",
]
