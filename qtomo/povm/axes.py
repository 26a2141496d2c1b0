"""Projective measurements along any Bloch axis, and the bit channels that follow them.

Conventions (docs/conventions.md, "Measurement axes"):

* An axis is given by angles (theta, phi) in radians, the unit Bloch vector
  n = (sin theta cos phi, sin theta sin phi, cos theta).
* Bit 0 is the +1 outcome of n.sigma, projector (I + n.sigma)/2; bit 1 the -1 outcome. So
  X = (pi/2, 0), Y = (pi/2, pi/2) and Z = (0, 0) give the bits of the Pauli-6 convention
  (outcome ``2 * basis + bit``, order +x, -x, +y, -y, +z, -z).
* An axis within :data:`PAULI_AXIS_TOL` of +x, +y or +z *is* that Pauli axis (a setting whose
  every axis is one is a Pauli setting); -x and the like are other axes (their bits are swapped).
* After the projective measurement each bit passes a 2x2 column-stochastic channel
  ``T[b, b'] = P(recorded b | measured b')``: local depolarizing noise of strength p is the
  symmetric flip (1 - p) I + p/2 [[1, 1], [1, 1]] (the Heisenberg picture of E_p on a
  projector), a readout confusion matrix C follows it, T = C (noise). The effective element of
  qubit q is E_q(b) = sum_b' T_q[b, b'] (I + (-1)^b' n_q.sigma)/2.
* Bit strings of N qubits: qubit 0 first; probability tables over the 2^N strings are
  big-endian (qubit 0 most significant), as state vectors.
"""

from __future__ import annotations

import numpy as np

from qtomo.states.paulis import I2, X, Y, Z
from qtomo.typing import ComplexArray, FloatArray

#: (theta, phi) of the Pauli axes.
PAULI_ANGLES = {"X": (np.pi / 2, 0.0), "Y": (np.pi / 2, np.pi / 2), "Z": (0.0, 0.0)}
#: Largest distance |n - e| of a unit vector n from a Pauli axis e that still counts as it.
PAULI_AXIS_TOL = 1e-6
#: Two axes are the same when their Bloch vectors differ by at most this (plan checks).
AXIS_TOL = 1e-6
#: Largest | |n| - 1 | accepted for an axis given as a vector.
UNIT_TOL = 1e-6
_PAULI_UNIT = {"X": np.array([1.0, 0.0, 0.0]), "Y": np.array([0.0, 1.0, 0.0]),
               "Z": np.array([0.0, 0.0, 1.0])}


def angles_to_vectors(angles: FloatArray) -> FloatArray:
    """Unit Bloch vectors (..., 3) of angles (..., 2) = (theta, phi)."""
    a = np.asarray(angles, dtype=np.float64)
    t, p = a[..., 0], a[..., 1]
    return np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1)


def vectors_to_angles(vectors: FloatArray) -> FloatArray:
    """Angles (..., 2) = (theta in [0, pi], phi in (-pi, pi]) of Bloch vectors (..., 3)
    (normalised first; phi = 0 on the poles)."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    theta = np.arccos(np.clip(v[..., 2], -1.0, 1.0))
    phi = np.where(np.hypot(v[..., 0], v[..., 1]) > 0, np.arctan2(v[..., 1], v[..., 0]), 0.0)
    return np.stack([theta, phi], axis=-1)


def pauli_letters(vectors: FloatArray) -> str | None:
    """The Pauli letters of unit vectors (N, 3) when every one is a Pauli axis, else None."""
    out = []
    for v in np.asarray(vectors, dtype=np.float64):
        hit = [k for k, e in _PAULI_UNIT.items() if np.linalg.norm(v - e) <= PAULI_AXIS_TOL]
        if not hit:
            return None
        out.append(hit[0])
    return "".join(out)


def letter_angles(letters: str) -> FloatArray:
    """Angles (N, 2) of a Pauli string (exact Pauli axes)."""
    return np.array([PAULI_ANGLES[c] for c in letters], dtype=np.float64).reshape(-1, 2)


def axis_projectors(vectors: FloatArray) -> ComplexArray:
    """Projectors (..., 2, 2, 2): ``[..., b]`` = (I + (-1)^b n.sigma)/2 of unit vectors (..., 3)."""
    v = np.asarray(vectors, dtype=np.float64)
    ns = (v[..., 0, None, None] * X + v[..., 1, None, None] * Y + v[..., 2, None, None] * Z)
    return np.stack([(I2 + ns) / 2, (I2 - ns) / 2], axis=-3)


def bit_channel(noise: float, confusion: FloatArray | None = None) -> FloatArray:
    """Column-stochastic channels T (..., 2, 2) = C (depolarizing) of the recorded bits.

    ``confusion`` (..., 2, 2): C[b, b'] = P(read b | measured b') of the readout (None: perfect
    readout), e.g. :func:`qtomo.data.design.confusion_from_flips`.
    """
    d = (1.0 - noise) * np.eye(2) + noise / 2 * np.ones((2, 2))
    return d if confusion is None else np.asarray(confusion, dtype=np.float64) @ d


def setting_elements(vectors: FloatArray, channel: FloatArray) -> ComplexArray:
    """Effective two-outcome elements (N, 2, 2, 2) of one setting: E_q(b) = sum_b' T_q[b, b']
    P_q(b') for unit vectors (N, 3) and channels (N, 2, 2) (or one (2, 2) for every qubit)."""
    proj = axis_projectors(vectors)  # q b' i j
    t = np.broadcast_to(np.asarray(channel, dtype=np.float64), (proj.shape[0], 2, 2))
    return np.einsum("qbc,qcij->qbij", t, proj)  # q b i j


def measurement_bras(vectors: FloatArray) -> ComplexArray:
    """Rows <n, b| (N, 2, 2) of the eigenvectors of n.sigma: ``[q, b]`` is outcome b's bra."""
    ang = vectors_to_angles(vectors)
    c, s = np.cos(ang[:, 0] / 2), np.sin(ang[:, 0] / 2)
    e = np.exp(-1j * ang[:, 1])
    # |n,0> = (c, e^{i phi} s), |n,1> = (s, -e^{i phi} c); bras are their conjugates
    return np.stack([np.stack([c + 0j, e * s], axis=-1), np.stack([s + 0j, -e * c], axis=-1)],
                    axis=1)


def setting_probabilities(psi: ComplexArray, vectors: FloatArray,
                          channel: FloatArray) -> FloatArray:
    """Probabilities (2^N,) of the recorded bits of one setting for a pure state vector.

    The state is rotated qubit by qubit into the eigenbases of n_q.sigma (amplitudes <b|psi>),
    squared, and every qubit's bit passes its channel: O(N 2^N), no density matrix.

    Parameters
    ----------
    psi : complex (2^N,)
        Big-endian state vector (qubit 0 most significant).
    vectors : float (N, 3)
        Unit axis of each qubit.
    channel : float (N, 2, 2) or (2, 2)
        Column-stochastic T_q[b, b'] (:func:`bit_channel`).
    """
    v = np.asarray(vectors, dtype=np.float64)
    n = v.shape[0]
    bras = measurement_bras(v)
    amp = np.asarray(psi, dtype=np.complex128).reshape((2,) * n)
    for q in range(n):
        # <b|_q psi: contract qubit q's ket with the bras (b, ket)   # b p, ... p ...
        amp = np.moveaxis(np.tensordot(bras[q], amp, axes=([1], [q])), 0, q)
    p = np.abs(amp) ** 2
    t = np.broadcast_to(np.asarray(channel, dtype=np.float64), (n, 2, 2))
    for q in range(n):
        p = np.moveaxis(np.tensordot(t[q], p, axes=([1], [q])), 0, q)
    return np.ascontiguousarray(p.reshape(-1))


__all__ = [
    "PAULI_ANGLES",
    "AXIS_TOL",
    "PAULI_AXIS_TOL",
    "UNIT_TOL",
    "angles_to_vectors",
    "axis_projectors",
    "bit_channel",
    "letter_angles",
    "measurement_bras",
    "pauli_letters",
    "setting_elements",
    "setting_probabilities",
    "vectors_to_angles",
]
