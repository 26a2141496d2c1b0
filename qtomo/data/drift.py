"""A simulated device that drifts between the settings of a fixed design (``qtomo simulate
--drift``, ``--readout-drift``, ``--calibration-shots``).

A lab runs the settings of a tomography minutes or hours apart; what it thinks it measured (the
nominal design, which the dataset stores) and what the device did then differ:

* **Axis drift** (:func:`drift_vectors`, SIGMA radians): in every setting, every qubit's
  measurement axis n is turned by a fresh small rotation about an axis k perpendicular to n,
  with k uniform on the circle perpendicular to n and the angle g ~ N(0, SIGMA):
  n' = n cos g + (k x n) sin g. The mean squared angle between n and n' is SIGMA^2.
* **Readout drift** (:func:`drift_flips`, SPREAD): the flip probabilities (P(1|0), P(0|1)) of
  every qubit are redrawn in every setting, normal around the nominal ones with standard
  deviation SPREAD, clipped to [0, 0.5).
* **Calibration counts** (:func:`simulated_calibration`): C shots each of prepared |0...0> and
  |1...1> read through the nominal readout (the calibration is taken at the nominal point of the
  drift), estimated into confusion matrices with standard errors as a lab's calibration counts
  are (:func:`qtomo.data.readout.estimate_confusion`).

The prepared state does not drift: the target and its exact fidelities are those of
``qtomo simulate`` without drift. Each kind of draw has its own random stream, so the shots of a
run with SIGMA = 0 are those of a run without drift.
"""

from __future__ import annotations

import numpy as np

from qtomo.data.design import MAX_FLIP, Readout, confusion_from_flips
from qtomo.data.readout import estimate_confusion
from qtomo.typing import FloatArray

#: Largest simulated flip probability (just below :data:`~qtomo.data.design.MAX_FLIP`).
FLIP_CLIP = float(np.nextafter(MAX_FLIP, 0.0))


def perpendicular_axes(vectors: FloatArray, alpha: FloatArray) -> FloatArray:
    """Unit vectors k (..., 3) perpendicular to the unit vectors n (..., 3), at angle ``alpha``
    (...) on the circle perpendicular to n."""
    n = np.asarray(vectors, dtype=np.float64)
    # the coordinate axis least aligned with n, crossed with n, starts the perpendicular plane
    e = np.eye(3)[np.argmin(np.abs(n), axis=-1)]
    u = np.cross(n, e)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    w = np.cross(n, u)
    a = np.asarray(alpha)[..., None]
    return np.cos(a) * u + np.sin(a) * w


def drift_vectors(vectors: FloatArray, sigma: float, rng: np.random.Generator) -> FloatArray:
    """Every unit vector (..., 3) turned by an angle ~ N(0, sigma) about a random perpendicular
    axis (module docstring); sigma = 0 returns the vectors unchanged, bit for bit."""
    n = np.asarray(vectors, dtype=np.float64)
    alpha = rng.uniform(0.0, 2 * np.pi, size=n.shape[:-1])
    g = sigma * rng.standard_normal(size=n.shape[:-1])
    k = perpendicular_axes(n, alpha)
    return n * np.cos(g)[..., None] + np.cross(k, n) * np.sin(g)[..., None]


def drift_flips(flips: FloatArray, spread: float, n_settings: int,
                rng: np.random.Generator) -> FloatArray:
    """Flip probabilities (S, N, 2) redrawn per setting around ``flips`` (N, 2) with standard
    deviation ``spread``, clipped to [0, 0.5)."""
    f = np.asarray(flips, dtype=np.float64)
    drawn = f[None] + spread * rng.standard_normal(size=(n_settings, *f.shape))
    return np.clip(drawn, 0.0, FLIP_CLIP)


def calibration_counts(flips: FloatArray, shots: int, rng: np.random.Generator
                       ) -> dict[tuple[int, ...], dict[tuple[int, ...], int]]:
    """Counts ``{prepared: {read: count}}`` of ``shots`` shots each of |0...0> and |1...1>
    read with the flip probabilities ``flips`` (N, 2), independently per qubit."""
    f = np.asarray(flips, dtype=np.float64)
    n = f.shape[0]
    out: dict[tuple[int, ...], dict[tuple[int, ...], int]] = {}
    for b in (0, 1):
        flipped = rng.random((shots, n)) < f[None, :, b]
        read = (flipped ^ bool(b)).astype(np.uint8)
        rows, counts = np.unique(read, axis=0, return_counts=True)
        out[(b,) * n] = {tuple(int(x) for x in r): int(c)
                         for r, c in zip(rows, counts, strict=True)}
    return out


def simulated_calibration(flips: FloatArray, shots: int, rng: np.random.Generator) -> Readout:
    """The readout a lab would estimate from ``shots`` calibration shots per basis state."""
    counts = calibration_counts(flips, shots, rng)
    c, se, n_shots = estimate_confusion(counts, int(np.asarray(flips).shape[0]),
                                        where="simulated calibration")
    return Readout(c, se, "calibration", f"qtomo simulate --calibration-shots {shots}", n_shots)


def nominal_readout(flips: FloatArray) -> Readout:
    """The exact (nominal) readout of ``qtomo simulate --readout-error``."""
    c = confusion_from_flips(flips)
    return Readout(c, np.zeros_like(c), "simulate", "", None)


__all__ = [
    "FLIP_CLIP",
    "calibration_counts",
    "drift_flips",
    "drift_vectors",
    "nominal_readout",
    "perpendicular_axes",
    "simulated_calibration",
]
