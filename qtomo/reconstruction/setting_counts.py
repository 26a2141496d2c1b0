"""Shots grouped by measurement setting: the input of the device checks (goodness of fit,
no signalling).

A setting measures every qubit with a two-outcome POVM of its own (a Pauli basis, or any
axis); a shot is then ``(setting_index, bits)``. :class:`SettingCounts` holds, for the S
settings that were measured:

* ``counts`` int64 (S, 2^N): shots per setting and bit string, the bit string as an index with
  qubit 0 the most significant bit (the conventions page);
* ``projectors`` complex128 (S, N, 2, 2, 2): ``[s, q, b]`` the effective element of bit b of
  qubit q in setting s (readout included), normalised so that the two bits sum to I;
* ``bases`` (S, N) str: the name of each qubit's measurement in each setting (X, Y, Z).

Everything downstream works on these arrays, whatever the axes. :func:`pauli6_setting_shots`
derives ``(setting_index, bits)`` from Pauli-6 outcomes (basis = outcome // 2 with X, Y, Z =
0, 1, 2; bit = outcome % 2) and :func:`pauli_projectors` the elements of Pauli settings from
the dataset's (effective) Pauli-6 frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.povm.frames import AnyFrame, site_operators
from qtomo.reconstruction.config import READ_BLOCK
from qtomo.reconstruction.design_weights import setting_index

#: Largest table of per-setting counts built (settings x 2^N cells).
MAX_CELLS = 1 << 24
_LETTERS = "XYZ"


@dataclass(frozen=True)
class SettingCounts:
    """Shots per setting and bit string (module docstring for the array layouts).

    Attributes
    ----------
    labels : tuple of str
        One name per setting (a Pauli string such as ``"XXYZ"``, qubit 0 first).
    counts : int64 (S, 2^N)
    projectors : complex128 (S, N, 2, 2, 2)
    bases : str (S, N)
    """

    labels: tuple[str, ...]
    counts: np.ndarray
    projectors: np.ndarray
    bases: np.ndarray

    @property
    def n_qubits(self) -> int:
        return int(self.projectors.shape[1])

    @property
    def shots(self) -> np.ndarray:
        """Shots per setting, int64 (S,)."""
        return self.counts.sum(axis=1)

    def marginal(self, qubits: tuple[int, ...]) -> np.ndarray:
        """Counts (S, 2^k) of the bits of ``qubits`` (in that order, the first most
        significant)."""
        n = self.n_qubits
        t = self.counts.reshape((-1,) + (2,) * n)
        others = tuple(1 + q for q in range(n) if q not in qubits)
        m = t.sum(axis=others)  # the kept qubits in increasing order
        order = np.argsort(qubits)
        return np.moveaxis(m, list(range(1, len(qubits) + 1)), list(1 + order)).reshape(
            m.shape[0], -1)

    def subset(self, keep: np.ndarray) -> SettingCounts:
        """The settings selected by the boolean mask ``keep`` (S,)."""
        return SettingCounts(tuple(x for x, k in zip(self.labels, keep, strict=True) if k),
                             self.counts[keep], self.projectors[keep], self.bases[keep])


def pauli6_setting_shots(outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(setting key, bits)`` of Pauli-6 shots: the key a base-3 number of the bases (X, Y, Z
    = 0, 1, 2; qubit 0 most significant), int64 (M,); the bits uint8 (M, N)."""
    a = np.asarray(outcomes)
    return setting_index(a), (a % 2).astype(np.uint8)


def setting_counts(index: np.ndarray, bits: np.ndarray, n_settings: int) -> np.ndarray:
    """Counts (S, 2^N) of shots given by their setting ``index`` (M,) in 0..S-1 and ``bits``
    (M, N)."""
    n = bits.shape[1]
    flat = np.asarray(bits, dtype=np.int64) @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))
    cells = np.asarray(index, dtype=np.int64) * (1 << n) + flat
    return np.bincount(cells, minlength=n_settings << n).reshape(n_settings, 1 << n)


def pauli_labels(keys: np.ndarray, n: int) -> list[str]:
    """Pauli strings (qubit 0 first) of base-3 setting keys."""
    digits = (np.asarray(keys)[:, None] // 3 ** np.arange(n - 1, -1, -1)[None, :]) % 3
    return ["".join(_LETTERS[d] for d in row) for row in digits]


def pauli_projectors(labels: list[str], frame: AnyFrame, n: int) -> np.ndarray:
    """Elements (S, N, 2, 2, 2) of Pauli settings from a Pauli-6 frame (readout included):
    ``M_q(2 s + b)`` divided by the weight of basis s, so the two bits of a basis sum to I."""
    ops = site_operators(frame, n)  # (N, 6, 2, 2)
    per_basis = ops.reshape(n, 3, 2, 2, 2)
    weight = np.trace(per_basis.sum(axis=2), axis1=-2, axis2=-1).real / 2  # (N, 3)
    unit = per_basis / weight[:, :, None, None, None]
    basis = np.array([[_LETTERS.index(c) for c in s] for s in labels], dtype=np.int64)
    return unit[np.arange(n)[None, :], basis]


def _cells_from_frequencies(freq: np.ndarray, shots: int, n: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``(cells, counts)`` of the non-empty Pauli-6 strings of a relative-frequency table
    (6^N,): cell = setting key * 2^N + bits, as the shots' pass makes them."""
    idx = np.flatnonzero(freq)
    counts = np.rint(freq[idx] * shots).astype(np.int64)
    key, bits = pauli6_setting_shots(
        (idx[:, None] // 6 ** np.arange(n - 1, -1, -1)[None, :]) % 6)
    flat = bits.astype(np.int64) @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))
    return key * (1 << n) + flat, counts


def read_setting_counts(ds: Any, frame: AnyFrame, freq: np.ndarray | None = None
                        ) -> tuple[SettingCounts | None, str | None]:
    """The dataset's shots per Pauli setting, or ``(None, why not)``.

    Parameters
    ----------
    ds : Dataset
        Its Pauli-6 outcomes are read in blocks (unless ``freq`` is given).
    frame : Frame or LocalFrames
        The Pauli-6 frame the bits follow (the effective one when readout is corrected).
    freq : ndarray or None
        The relative frequencies of all 6^N strings, where the reconstruction tallied them
        (the shots are then not read again).
    """
    n = ds.n_qubits
    if frame.K != 6:
        return None, (f"the POVM {ds.frame.name} (K = {ds.K}) does not record the setting of a "
                      "shot; the checks need Pauli-6 outcomes (basis and bit)")
    if 1 << n > MAX_CELLS:
        return None, f"2^{n} bit strings per setting is more than {MAX_CELLS} cells"
    if freq is not None and freq.size == 6**n:
        cells, weights = _cells_from_frequencies(freq, ds.shots, n)
    else:
        keys_parts = []
        for s0 in range(0, ds.shots, READ_BLOCK):
            key, bits = pauli6_setting_shots(ds.outcomes(s0, s0 + READ_BLOCK))
            flat = bits.astype(np.int64) @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))
            u, c = np.unique(key * (1 << n) + flat, return_counts=True)
            keys_parts.append((u, c))
        cells = np.concatenate([u for u, _ in keys_parts])
        weights = np.concatenate([c for _, c in keys_parts])
    settings, inverse = np.unique(cells >> n, return_inverse=True)
    if settings.size << n > MAX_CELLS:
        return None, (f"{settings.size} settings x 2^{n} bit strings is more than {MAX_CELLS} "
                      "cells")
    counts = np.zeros((settings.size, 1 << n), dtype=np.int64)
    np.add.at(counts, (inverse, cells & ((1 << n) - 1)), weights)
    labels = pauli_labels(settings, n)
    bases = np.array([list(s) for s in labels], dtype="U1").reshape(len(labels), n)
    return SettingCounts(tuple(labels), counts, pauli_projectors(labels, frame, n), bases), None


__all__ = ["MAX_CELLS", "SettingCounts", "pauli6_setting_shots", "pauli_labels",
           "pauli_projectors", "read_setting_counts", "setting_counts"]
