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

from qtomo.data.design import confusion_from_flips
from qtomo.povm.frames import AnyFrame, Frame, readout_frames
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction import mle
from qtomo.reconstruction.blend import blend_table
from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.source import Source

#: Calibration draws for the calibration standard error.
CALIBRATION_DRAWS = TUNING.calibration_draws
#: Above this many qubits the calibration error of the direct estimate is not computed (each
#: draw re-evaluates every shot).
CALIBRATION_MAX_QUBITS = 12


def confusion_draws(readout: Any, draws: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Confusion matrices (N, 2, 2) drawn from the calibration's sampling distribution.

    Empty when the matrices carry no uncertainty (zero or unknown standard errors and no
    calibration shots).
    """
    flip = readout.flip_probabilities  # (N, 2): P(1|0), P(0|1)
    shots = readout.calibration_shots
    if shots is not None:
        n_b = np.asarray(shots, dtype=np.int64)  # (N, 2): qubit, prepared b'
        return [confusion_from_flips(rng.binomial(n_b, flip) / np.maximum(n_b, 1))
                for _ in range(draws)]
    se = np.asarray(readout.stderr, dtype=np.float64)
    se_flip = np.stack([se[:, 1, 0], se[:, 0, 1]], axis=1)
    if not np.all(np.isfinite(se_flip)) or not np.any(se_flip > 0):
        return []
    return [confusion_from_flips(np.clip(flip + se_flip * rng.normal(size=flip.shape), 0.0, 0.49))
            for _ in range(draws)]


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
        """The ``readout`` block (with the correction off, the figures on the other side are
        named ``corrected``)."""
        block = {
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
        if not self.applied:
            block = {k.replace("uncorrected", "corrected"): v for k, v in block.items()}
        return block

    @property
    def headline_stderr(self) -> float:
        """The calibration's error that widens the headline (0 without the correction)."""
        return self.calibration_stderr if self.applied else 0.0


def describe(readout: Any) -> tuple[str, str, list[list[float]], list[list[int]] | None]:
    """(source, source file, flips per qubit, calibration shots) of a dataset's readout."""
    shots = None if readout.calibration_shots is None else \
        np.asarray(readout.calibration_shots).astype(int).tolist()
    return (readout.source, readout.source_file,
            np.round(readout.flip_probabilities, 6).tolist(), shots)


# --- the stage of qtomo reconstruct ---------------------------------------------------------------
#: The headline's maximum-likelihood state is refitted without (or with) the correction up to
#: this many qubits, for the figure on the other side.
REFIT_MAX_QUBITS = 6
#: Shots used for the calibration error and the figure on the other side of the correction.
OTHER_SIDE_SHOTS = 400_000


def readout_stage(ds: Any, inp: Any, cfg: Any, qs: Any, headline: Source | None,
                  stage: Callable[[str], None]) -> ReadoutReport:
    """``report["readout"]``, with the calibration's error of the headline.

    The figures on the other side of the correction (without it when it was applied, with it
    when ``--no-readout-correction``) are the direct fidelity estimate and, for N <=
    :data:`REFIT_MAX_QUBITS`, the headline's state (``headline``: its estimator) refitted by
    maximum likelihood to the same table with the other POVM (a direct headline: the direct
    estimate on the other side). ``calibration_stderr`` widens the headline
    (:func:`qtomo.reconstruction.headline.choose_headline`) when the correction is applied.
    """
    readout, applied = ds.readout, bool(cfg.readout_correction)
    source, source_file, flips, shots = describe(readout)
    other = ds.frame if applied else ds.measured_frame
    stage("readout: figures " + ("without" if applied else "with") + " the correction")
    a = ds.outcomes(0, min(ds.shots, OTHER_SIDE_SHOTS))
    direct_other = direct_other_se = None
    cal_se = 0.0
    direct_ok = inp.psi is not None and inp.n <= mt.MAX_DIRECT_FIDELITY_QUBITS
    if direct_ok:
        q = mt.direct_fidelity_values(a, other, inp.psi)
        direct_other, direct_other_se = float(q.mean()), float(q.std(ddof=1) / np.sqrt(q.size))
        if applied and inp.n <= CALIBRATION_MAX_QUBITS:
            stage("readout: calibration error")
            cal_se = calibration_stderr(
                lambda fr: float(mt.direct_fidelity_values(a, fr, inp.psi).mean()),
                ds.frame, readout, seed=cfg.seed)
    refit, refit_source = _refit_headline(headline, ds, inp, qs, other)
    if headline is Source.DIRECT:
        refit, refit_source = direct_other, "direct estimate from the measured shots"
    return ReadoutReport(applied, source, source_file, flips, shots,
                         direct_other, direct_other_se, refit, refit_source, cal_se)


def _refit_headline(headline: Source | None, ds: Any, inp: Any, qs: Any, other: AnyFrame
                    ) -> tuple[float | None, str | None]:
    """The headline's MLE state refitted with the POVM on the other side of the correction."""
    table = None
    if headline is not None and headline.from_model and qs.model_table is not None:
        table = qs.model_fit_table if qs.model_fit_table is not None else qs.model_table
        label = "model's outcome table"
        if qs.blend_weight > 0:  # as the headline state (qtomo.reconstruction.blend)
            table = blend_table(table, qs.blend_weight, qs.run_shots)
            label += f" mixed with the frequencies of all the shots (weight {qs.blend_weight:g})"
    elif headline in (Source.RAW_MLE, Source.RAW_PROJECTED) and qs.freq is not None:
        table, label = qs.freq, "raw shot frequencies"
    if table is None or inp.n > REFIT_MAX_QUBITS or qs.ideal is None:
        return None, None
    res = mle.fit_mle_auto(table, other, inp.n, n_shots=ds.shots)
    return float(mt.quantum_fidelity(res.rho, qs.ideal)), \
        f"maximum-likelihood state of the {label}"


__all__ = [
    "CALIBRATION_DRAWS",
    "CALIBRATION_MAX_QUBITS",
    "OTHER_SIDE_SHOTS",
    "REFIT_MAX_QUBITS",
    "ReadoutReport",
    "calibration_stderr",
    "confusion_draws",
    "describe",
    "readout_stage",
    "widen",
]
