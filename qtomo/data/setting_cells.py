"""The cells of a fixed-design setting, shared by design files (:mod:`qtomo.data.design_file`)
and counts files (:mod:`qtomo.data.counts`).

A setting measures every qubit along an axis, given as ``paulis`` (one letter X, Y, Z per
qubit), ``axes`` (one pair (theta, phi) in radians per qubit) or ``vectors`` (one unit Bloch
vector per qubit, |n| within 1e-6 of 1); in CSV files as ``theta_q,phi_q`` columns. Every
parser returns angles (N, 2), qubit 0 first, with Pauli axes snapped to their exact angles,
and raises :class:`~qtomo.errors.DataFileError` naming the file and the place.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.design import AXIS_LETTER, axis_label
from qtomo.data.lab_files import JsonObject, check_cell, file_error
from qtomo.povm.axes import UNIT_TOL, letter_angles, vectors_to_angles

SETTING_KEYS = ("paulis", "axes", "vectors")


def _numbers(p: Path, where: str, key: str, value: Any, n: int | None, width: int,
             what: str) -> np.ndarray:
    """A list of ``n`` lists of ``width`` finite numbers (float64 (n, width))."""
    if not isinstance(value, list) or not value:
        raise file_error(p, where, f"{key} is {value!r:.40}; expected a list of {what}, one per "
                         "qubit")
    if n is not None and len(value) != n:
        raise file_error(p, where, f"{key} has {len(value)} entries; expected {n}, one per qubit")
    for q, row in enumerate(value):
        ok = (isinstance(row, list) and len(row) == width
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in row))
        if not ok:
            raise file_error(p, where, f"{key}[{q}] is {row!r:.40}; expected {what}")
        if not all(math.isfinite(x) for x in row):
            raise file_error(p, where, f"{key}[{q}] is {row}; the numbers must be finite")
    return np.array(value, dtype=np.float64)


def _vectors_angles(p: Path, where: str, v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > UNIT_TOL)
    if bad.size:
        q = int(bad[0])
        raise file_error(p, where, f"vectors[{q}] = {v[q].tolist()} has length {norms[q]:.9g}; "
                         f"expected a unit vector (|n| within {UNIT_TOL:g} of 1)")
    return vectors_to_angles(v)


def parse_axes(p: Path, where: str, key: str, value: Any, n: int | None,
               bit_order: str = "q0-first") -> np.ndarray:
    """One setting given as ``paulis``, ``axes`` or ``vectors`` -> angles (N, 2), qubit 0
    first (``q0-last``: the last letter or entry is qubit 0); Pauli axes snap to exact angles."""
    if key == "paulis":
        if not isinstance(value, str) or not value.strip():
            raise file_error(p, where, f"paulis is {value!r:.40}; expected letters X, Y, Z")
        t = value.strip().upper()
        if n is not None and len(t) != n:
            raise file_error(p, where, f"paulis {t!r} has {len(t)} letters; expected {n}, one "
                             "per qubit")
        bad = [c for c in t if c not in "XYZ"]
        if bad:
            raise file_error(p, where, f"paulis {t!r}: {bad[0]!r} is not X, Y or Z")
        angles = letter_angles(t)
    elif key == "axes":
        angles = _numbers(p, where, key, value, n, 2, "pairs [theta, phi] in radians")
    else:
        angles = _vectors_angles(p, where, _numbers(p, where, key, value, n, 3,
                                                    "unit vectors [x, y, z]"))
    if bit_order == "q0-last":
        angles = angles[::-1]
    label = axis_label(angles)
    return angles if AXIS_LETTER in label else letter_angles(label)


def setting_entry(p: Path, where: str, entry: Any, count_key: str, n: int | None,
                  bit_order: str = "q0-first", optional: tuple[str, ...] = ()
                  ) -> tuple[np.ndarray, Any]:
    """An object with one of ``paulis``/``axes``/``vectors``, ``count_key`` and any of the
    ``optional`` keys -> (angles, the raw ``count_key`` value)."""
    if not isinstance(entry, JsonObject):
        raise file_error(p, where, f"{type(entry).__name__}; expected an object with one of "
                         f"{', '.join(SETTING_KEYS)} and {count_key!r}")
    keys = [k for k, _ in entry]
    given = [k for k in keys if k in SETTING_KEYS]
    extra = [k for k in keys if k not in (*SETTING_KEYS, count_key, *optional)]
    if len(given) != 1 or extra or count_key not in keys or len(set(keys)) != len(keys):
        raise file_error(p, where, f"keys {keys}; expected exactly one of "
                         f"{', '.join(SETTING_KEYS)} and {count_key!r}")
    d = dict(entry)
    return parse_axes(p, where, given[0], d[given[0]], n, bit_order), d[count_key]


def check_unique(p: Path, angles: np.ndarray, where: list[str]) -> None:
    """Refuse a setting given twice (the same angles after parsing)."""
    seen: dict[bytes, int] = {}
    for i, a in enumerate(angles):
        key = np.ascontiguousarray(a).tobytes()
        if key in seen:
            raise file_error(p, where[i], f"the setting of {where[seen[key]]} given again; "
                             "merge their shots into one entry")
        seen[key] = i


def csv_header(p: Path) -> tuple[str, ...]:
    """The lower-cased cells of the first line that is neither blank nor a comment."""
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ()
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return tuple(c.strip().lower() for c in line.split(","))
    return ()


def angle_header(n: int, last: tuple[str, ...]) -> tuple[str, ...]:
    """``theta_0, phi_0, ..., theta_{n-1}, phi_{n-1}`` followed by ``last``."""
    return (*(f"{a}_{q}" for q in range(n) for a in ("theta", "phi")), *last)


def angle_row(p: Path, where: str, cells: list[str], n: int) -> np.ndarray:
    """2n angle cells -> angles (n, 2) (finite numbers); Pauli axes snap to exact angles."""
    vals = []
    for k, c in enumerate(cells[: 2 * n]):
        check_cell(p, where, str(k + 1), c, "an angle in radians")
        try:
            v = float(c)
        except ValueError:
            raise file_error(p, where, f"column {k + 1} is {c!r}; expected an angle in "
                             "radians") from None
        if not math.isfinite(v):
            raise file_error(p, where, f"column {k + 1} is {c!r}; angles must be finite")
        vals.append(v)
    angles = np.array(vals).reshape(n, 2)
    label = axis_label(angles)
    return angles if AXIS_LETTER in label else letter_angles(label)


__all__ = ["SETTING_KEYS", "angle_header", "angle_row", "check_unique", "csv_header",
           "parse_axes", "setting_entry"]
