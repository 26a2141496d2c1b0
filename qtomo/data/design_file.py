"""Design files: the fixed design a lab runs (``qtomo simulate --design FILE``, ``qtomo plan``).

JSON layout (version 1; other tools write and read it)::

    {"format": "qtomo-design", "version": 1, "n_qubits": 4,
     "target": {"state": "ghz", "n_qubits": 4},          (optional)
     "protocol": "parity",                               (optional)
     "comment": "...",                                   (optional, ignored)
     "settings": [{"paulis": "ZZZZ", "shots": 1000},
                  {"axes": [[1.5707963, 0.0], [1.5707963, 0.785], ...], "shots": 500},
                  {"vectors": [[1, 0, 0], [0, 0, 1], ...], "shots": 500}]}

Every setting gives exactly one of ``paulis`` (one letter X, Y, Z per qubit, qubit 0 first),
``axes`` (one pair (theta, phi) in radians per qubit) or ``vectors`` (one unit Bloch vector
(x, y, z) per qubit, |n| within 1e-6 of 1), and ``shots``, an integer >= 1. The axis of
(theta, phi) is n = (sin theta cos phi, sin theta sin phi, cos theta) and bit 0 is the +1
outcome of n.sigma (:mod:`qtomo.povm.axes`): X = (pi/2, 0), Y = (pi/2, pi/2), Z = (0, 0). A
setting whose every axis lies within 1e-6 of +x, +y or +z is the Pauli setting of those
letters. A setting given twice is refused (merge its shots).

CSV layout: one row per setting, lines starting with ``#`` are comments, and one of two
headers: ``setting,shots`` with a Pauli string per row (``XXYZ,1000``), or
``theta_0,phi_0,theta_1,phi_1,...,theta_{N-1},phi_{N-1},shots`` with the angles of every qubit
(which can express Pauli settings too). The CSV carries no target or protocol.

Every problem raises :class:`~qtomo.errors.DataFileError` naming the place, before any output
is written; :func:`write_design_file` writes atomically.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.atomic import atomic_path
from qtomo.data.design import AXIS_LETTER, Design, axis_label, design_axes
from qtomo.data.lab_files import (
    JsonObject,
    check_cell,
    existing_file,
    file_error,
    load_json,
    parse_count,
    read_csv_rows,
)
from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.axes import UNIT_TOL, angles_to_vectors, letter_angles, vectors_to_angles
from qtomo.typing import FloatArray

FORMAT = "qtomo-design"
VERSION = 1
#: ``--design all-pauli`` measures 3^N settings: refused above this many qubits.
ALL_PAULI_MAX_QUBITS = 8
SETTING_KEYS = ("paulis", "axes", "vectors")
_TOP_KEYS = ("format", "version", "n_qubits", "target", "protocol", "comment", "settings")


@dataclass(frozen=True, eq=False)
class DesignSpec:
    """A fixed design: settings (an axis per qubit) and the shots of each.

    Attributes
    ----------
    n_qubits : int
    angles : float64 (S, N, 2)
        (theta, phi) of every qubit of every setting; exact Pauli angles for Pauli axes.
    shots : tuple of int
        Shots of each setting (>= 1).
    target : dict or None
        What the design is for (``{"state": "ghz", "n_qubits": 4}``), as ``qtomo plan`` writes.
    protocol : str or None
        The protocol that planned it (``parity``, ``stabilizer``, ``energy``).
    """

    n_qubits: int
    angles: FloatArray
    shots: tuple[int, ...]
    target: dict[str, Any] | None = None
    protocol: str | None = None

    @property
    def n_settings(self) -> int:
        return len(self.shots)

    @property
    def labels(self) -> tuple[str, ...]:
        """Each setting's label: Pauli letters, ``A`` for other axes (:class:`Design`)."""
        return tuple(axis_label(a) for a in self.angles)

    def vectors(self) -> FloatArray:
        """Unit Bloch vectors (S, N, 3) of every qubit of every setting."""
        return angles_to_vectors(self.angles)

    def with_shots(self, shots: int) -> DesignSpec:
        """The same settings with ``shots`` each."""
        return replace(self, shots=(int(shots),) * self.n_settings)

    def to_design(self) -> Design:
        """The :class:`Design` a dataset of this design stores."""
        labels = self.labels
        axes = design_axes(self.angles) if any(AXIS_LETTER in s for s in labels) else None
        return Design("fixed", labels, self.shots, axes)


def all_pauli_design(n: int, shots: int) -> DesignSpec:
    """All 3^N Pauli settings in lexicographic order (X < Y < Z, qubit 0 slowest)."""
    if n > ALL_PAULI_MAX_QUBITS:
        raise InputValueError(f"--design all-pauli measures 3^N settings; N = {n} is above "
                              f"{ALL_PAULI_MAX_QUBITS} (write a design file of the settings "
                              "to measure)")
    codes = (np.arange(3**n)[:, None] // 3 ** np.arange(n - 1, -1, -1)[None, :]) % 3
    angles = np.stack([letter_angles("".join("XYZ"[c] for c in row)) for row in codes])
    return DesignSpec(n, angles, (int(shots),) * 3**n)


# --- parsing ------------------------------------------------------------------------------------
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
                  bit_order: str = "q0-first") -> tuple[np.ndarray, Any]:
    """An object with one of ``paulis``/``axes``/``vectors`` and ``count_key`` -> (angles,
    the raw ``count_key`` value)."""
    if not isinstance(entry, JsonObject):
        raise file_error(p, where, f"{type(entry).__name__}; expected an object with one of "
                         f"{', '.join(SETTING_KEYS)} and {count_key!r}")
    keys = [k for k, _ in entry]
    given = [k for k in keys if k in SETTING_KEYS]
    extra = [k for k in keys if k not in (*SETTING_KEYS, count_key)]
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


def _shots(p: Path, where: str, v: Any, text: bool = False) -> int:
    s = parse_count(p, where, v, text=text)
    if s < 1:
        raise file_error(p, where, f"shots {s}; expected an integer >= 1")
    return s


def _json_spec(p: Path) -> DesignSpec:
    doc = load_json(p)
    if not isinstance(doc, JsonObject):
        raise DataFileError(f"{p}: a {type(doc).__name__}; expected a design object "
                            f"{{\"format\": \"{FORMAT}\", \"version\": {VERSION}, ...}}")
    keys = [k for k, _ in doc]
    for k in keys:
        if k not in _TOP_KEYS or keys.count(k) > 1:
            raise file_error(p, f"top-level key {k!r}", f"expected each of {', '.join(_TOP_KEYS)}"
                             " at most once")
    d = dict(doc)
    if d.get("format") != FORMAT or d.get("version") != VERSION:
        raise DataFileError(f"{p}: format {d.get('format')!r} version {d.get('version')!r}; "
                            f"expected \"format\": \"{FORMAT}\", \"version\": {VERSION}")
    n = d.get("n_qubits")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataFileError(f"{p}: n_qubits is {n!r}; expected an integer >= 1")
    settings = d.get("settings")
    if not isinstance(settings, list) or not settings:
        raise DataFileError(f"{p}: settings is {settings!r:.40}; expected a non-empty list")
    angles, shots, where = [], [], []
    for i, e in enumerate(settings):
        a, s = setting_entry(p, f"setting {i}", e, "shots", n)
        angles.append(a)
        shots.append(_shots(p, f"setting {i}", s))
        where.append(f"setting {i}")
    check_unique(p, np.array(angles), where)
    target, protocol = d.get("target"), d.get("protocol")
    if target is not None and not isinstance(target, JsonObject):
        raise DataFileError(f"{p}: target is {target!r:.40}; expected an object or null")
    if protocol is not None and not isinstance(protocol, str):
        raise DataFileError(f"{p}: protocol is {protocol!r:.40}; expected a string or null")
    return DesignSpec(n, np.array(angles), tuple(shots),
                      None if target is None else _plain(target), protocol)


def _plain(obj: Any) -> Any:
    """A parsed JSON value with its objects as plain dicts."""
    if isinstance(obj, JsonObject):
        return {k: _plain(v) for k, v in obj}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


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


def _csv_spec(p: Path) -> DesignSpec:
    head = csv_header(p)
    n = (len(head) - 1) // 2
    if head != ("setting", "shots") and (len(head) < 3 or head != angle_header(n, ("shots",))):
        raise DataFileError(f"{p}: header {','.join(head)!r}; expected 'setting,shots' or "
                            "'theta_0,phi_0,...,theta_{N-1},phi_{N-1},shots'")
    rows, numbers = read_csv_rows(p, head, "one line per setting")
    angles, shots, where = [], [], []
    for row, ln in zip(rows, numbers, strict=True):
        at = f"line {ln}"
        if len(row) != len(head):
            raise file_error(p, at, f"{len(row)} columns; expected {len(head)} "
                             f"({','.join(head)})")
        check_cell(p, at, str(len(head)), row[-1], "an integer >= 1")
        if head[0] == "setting":
            check_cell(p, at, "1 (setting)", row[0], "letters X, Y, Z")
            n_given = len(angles[0]) if angles else None
            angles.append(parse_axes(p, at, "paulis", row[0], n_given))
        else:
            angles.append(angle_row(p, at, row, n))
        shots.append(_shots(p, at, row[-1], text=True))
        where.append(at)
    check_unique(p, np.array(angles), where)
    return DesignSpec(len(angles[0]), np.array(angles), tuple(shots))


def read_design_file(path: str | os.PathLike[str]) -> DesignSpec:
    """Read and check a design file (JSON, or CSV by its ``.csv`` extension)."""
    p = existing_file(path, "a design file (JSON or CSV)")
    return _csv_spec(p) if p.suffix.lower() == ".csv" else _json_spec(p)


def _setting_json(label: str, angles: np.ndarray, shots: int) -> dict[str, Any]:
    if AXIS_LETTER in label:
        return {"axes": [[float(t), float(ph)] for t, ph in angles], "shots": int(shots)}
    return {"paulis": label, "shots": int(shots)}


def write_design_file(path: str | os.PathLike[str], spec: DesignSpec) -> Path:
    """Write ``spec`` atomically: CSV for a ``.csv`` path (``setting,shots`` when every setting
    is a Pauli setting, the angle header otherwise; no target or protocol), JSON otherwise."""
    out = Path(path)
    labels = spec.labels
    if out.suffix.lower() == ".csv":
        pauli = not any(AXIS_LETTER in s for s in labels)
        lines = [",".join(("setting", "shots") if pauli
                          else angle_header(spec.n_qubits, ("shots",)))]
        for label, a, s in zip(labels, spec.angles, spec.shots, strict=True):
            cells = [label] if pauli else [repr(float(x)) for x in a.reshape(-1)]
            lines.append(",".join([*cells, str(int(s))]))
        text = "\n".join(lines) + "\n"
    else:
        doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "n_qubits": spec.n_qubits}
        if spec.target is not None:
            doc["target"] = spec.target
        if spec.protocol is not None:
            doc["protocol"] = spec.protocol
        doc["settings"] = [_setting_json(lb, a, s)
                           for lb, a, s in zip(labels, spec.angles, spec.shots, strict=True)]
        text = json.dumps(doc, indent=1) + "\n"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return out


__all__ = [
    "ALL_PAULI_MAX_QUBITS",
    "FORMAT",
    "SETTING_KEYS",
    "VERSION",
    "DesignSpec",
    "all_pauli_design",
    "angle_header",
    "angle_row",
    "check_unique",
    "csv_header",
    "parse_axes",
    "read_design_file",
    "setting_entry",
    "write_design_file",
]
