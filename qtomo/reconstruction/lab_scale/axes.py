"""Measurement axes of fixed-design settings: Pauli letters and Bloch angles.

A setting measures qubit q along the unit vector
``n = (sin theta cos phi, sin theta sin phi, cos theta)`` given as ``(theta, phi)`` in radians;
bit 0 is the +1 outcome of ``n . sigma``. The Pauli letters are the axes
X = (pi/2, 0), Y = (pi/2, pi/2), Z = (0, 0) (docs/conventions.md: Pauli-6 basis letters, bit 0
the +1 eigenstate). Settings of a design have shape (S, N, 2), qubit q in row q.
"""

from __future__ import annotations

import numpy as np

from qtomo.errors import InputValueError
from qtomo.povm.axes import AXIS_TOL
from qtomo.typing import FloatArray

#: (theta, phi) of the Pauli axes.
PAULI_AXES = {"X": (np.pi / 2, 0.0), "Y": (np.pi / 2, np.pi / 2), "Z": (0.0, 0.0)}
_CODES = {1: "X", 2: "Y", 3: "Z"}


def axes_from_letters(letters: str) -> FloatArray:
    """``"XZY"`` -> axes (N, 2)."""
    try:
        return np.array([PAULI_AXES[c] for c in letters.upper()], dtype=np.float64)
    except KeyError:
        raise InputValueError(f"setting {letters!r}: expected letters X, Y or Z, one per "
                              "qubit") from None


def bloch_vectors(axes: np.ndarray) -> FloatArray:
    """Unit vectors (..., 3) of angles (..., 2)."""
    a = np.asarray(axes, dtype=np.float64)
    t, p = a[..., 0], a[..., 1]
    return np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1)


def along(axes: np.ndarray, letter: str) -> np.ndarray:
    """Boolean mask (...,): which axes are the Pauli axis ``letter``."""
    ref = bloch_vectors(np.array(PAULI_AXES[letter]))
    return np.linalg.norm(bloch_vectors(axes) - ref, axis=-1) < AXIS_TOL


def letters_match(axes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Boolean (S,): does setting s measure every qubit whose code (0 I, 1 X, 2 Y, 3 Z) is not
    the identity along that Pauli axis? ``axes`` (S, N, 2), ``codes`` (S, N)."""
    ok = np.ones(codes.shape, dtype=bool)
    for code, letter in _CODES.items():
        sel = codes == code
        ok[sel] = along(axes, letter)[sel]
    return ok.all(axis=1)


def in_xy_plane(axes: np.ndarray) -> tuple[np.ndarray, FloatArray]:
    """``(mask (...,), phi (...,))``: which axes lie in the XY plane, and their azimuths in
    [0, 2 pi)."""
    v = bloch_vectors(axes)
    mask = np.abs(v[..., 2]) < AXIS_TOL
    return mask, np.mod(np.arctan2(v[..., 1], v[..., 0]), 2 * np.pi)


__all__ = [
    "AXIS_TOL",
    "PAULI_AXES",
    "along",
    "axes_from_letters",
    "bloch_vectors",
    "in_xy_plane",
    "letters_match",
]
