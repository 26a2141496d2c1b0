"""Design files: the fixed design a lab runs (``qtomo simulate --design FILE``, ``qtomo plan``).

JSON layout (version 1; other tools write and read it)::

    {"format": "qtomo-design", "version": 1, "n_qubits": 4,
     "target": {"state": "ghz", "n_qubits": 4},          (optional)
     "protocol": "parity",                               (optional)
     "precision": 0.005,                                 (optional)
     "comment": "...",                                   (optional, ignored)
     "settings": [{"paulis": "ZZZZ", "shots": 1000},
                  {"axes": [[1.5707963, 0.0], [1.5707963, 0.785], ...], "shots": 500},
                  {"vectors": [[1, 0, 0], [0, 0, 1], ...], "shots": 500},
                  {"paulis": "XZZX", "observable": "+XZIX", "shots": 200}],
     "plan": {"n_settings": 4, "shots_total": 2200, ...}}  (optional)

Every setting gives exactly one of ``paulis`` (one letter X, Y, Z per qubit, qubit 0 first),
``axes`` (one pair (theta, phi) in radians per qubit) or ``vectors`` (one unit Bloch vector
(x, y, z) per qubit, |n| within 1e-6 of 1), and ``shots``, an integer >= 1. The axis of
(theta, phi) is n = (sin theta cos phi, sin theta sin phi, cos theta) and bit 0 is the +1
outcome of n.sigma (:mod:`qtomo.povm.axes`): X = (pi/2, 0), Y = (pi/2, pi/2), Z = (0, 0). A
setting whose every axis lies within 1e-6 of +x, +y or +z is the Pauli setting of those
letters. A setting given twice is refused (merge its shots), except in a design whose settings
name their ``observable``: a stabilizer design measures one setting for several group elements,
and elements drawn at random repeat.

``target``, ``protocol``, ``precision``, ``plan`` and ``observable`` are what ``qtomo plan``
writes (:mod:`qtomo.data.design_plan` says what they mean and checks that they agree: the
protocol fits the target, the plan block's ``n_settings`` and ``shots_total`` are the file's).

CSV layout: one row per setting, lines starting with ``#`` are comments, and one of two
headers: ``setting,shots`` with a Pauli string per row (``XXYZ,1000``), or
``theta_0,phi_0,theta_1,phi_1,...,theta_{N-1},phi_{N-1},shots`` with the angles of every qubit
(which can express Pauli settings too). The CSV carries no target or protocol.

Every problem raises :class:`~qtomo.errors.DataFileError` naming the place, before any output
is written; :func:`write_design_file` writes atomically. A dataset simulated from a planned
design stores the design's JSON (:func:`design_text`), which :func:`design_from_text` reads back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.atomic import atomic_path
from qtomo.data.design import AXIS_LETTER, Design, axis_label, design_axes
from qtomo.data.design_plan import planned_problem
from qtomo.data.lab_files import (
    JsonObject,
    check_cell,
    existing_file,
    file_error,
    load_json,
    parse_count,
    read_csv_rows,
)
from qtomo.data.setting_cells import (
    angle_header,
    angle_row,
    check_unique,
    csv_header,
    parse_axes,
    setting_entry,
)
from qtomo.errors import DataFileError, InputValueError, OutputExistsError
from qtomo.povm.axes import angles_to_vectors, letter_angles
from qtomo.typing import FloatArray

FORMAT = "qtomo-design"
VERSION = 1
#: ``--design all-pauli`` measures 3^N settings: refused above this many qubits.
ALL_PAULI_MAX_QUBITS = 8
_TOP_KEYS = ("format", "version", "n_qubits", "target", "protocol", "precision", "comment",
             "settings", "plan")


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
    precision : float or None
        The standard error of the fidelity it was planned for.
    plan : dict or None
        ``qtomo plan``'s block: the variance model, ``n_settings``, ``shots_total``, ``sampled``.
    observables : tuple of str or None
        Each setting's stabilizer group element (``"+XZIX"``; stabilizer designs), else None.
    """

    n_qubits: int
    angles: FloatArray
    shots: tuple[int, ...]
    target: dict[str, Any] | None = None
    protocol: str | None = None
    precision: float | None = None
    plan: dict[str, Any] | None = None
    observables: tuple[str, ...] | None = None

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

    def to_design(self, planned: DesignSpec | None = None) -> Design:
        """The :class:`Design` a dataset of this design stores, with the JSON of ``planned``
        (the planned design the shots follow; None: not planned)."""
        labels = self.labels
        axes = design_axes(self.angles) if any(AXIS_LETTER in s for s in labels) else None
        text = None if planned is None else design_text(planned)
        return Design("fixed", labels, self.shots, axes, text)


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
def _shots(p: Path, where: str, v: Any, text: bool = False) -> int:
    s = parse_count(p, where, v, text=text)
    if s < 1:
        raise file_error(p, where, f"shots {s}; expected an integer >= 1")
    return s


def _observable(p: Path, where: str, entry: JsonObject) -> str | None:
    v = dict(entry).get("observable")
    if v is not None and not isinstance(v, str):
        raise file_error(p, where, f"observable is {v!r:.40}; expected a label such as '+XZIX'")
    return v


def _top(p: Path, d: dict[str, Any]) -> tuple[Any, ...]:
    """The optional top-level entries (target, protocol, precision, plan), type-checked."""
    target, protocol, precision, plan = (d.get(k) for k in ("target", "protocol", "precision",
                                                            "plan"))
    for key, value, kind, what in (("target", target, JsonObject, "an object"),
                                   ("protocol", protocol, str, "a string"),
                                   ("plan", plan, JsonObject, "an object")):
        if value is not None and not isinstance(value, kind):
            raise DataFileError(f"{p}: {key} is {value!r:.40}; expected {what} or null")
    return (None if target is None else _plain(target), protocol, precision,
            None if plan is None else _plain(plan))


def _doc_spec(p: Path, doc: Any) -> DesignSpec:
    """A parsed design document (objects as :class:`JsonObject`) -> the checked spec."""
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
    angles, shots, where, observables = [], [], [], []
    for i, e in enumerate(settings):
        a, s = setting_entry(p, f"setting {i}", e, "shots", n, optional=("observable",))
        angles.append(a)
        shots.append(_shots(p, f"setting {i}", s))
        where.append(f"setting {i}")
        observables.append(_observable(p, f"setting {i}", e))
    named = any(o is not None for o in observables)
    if not named:  # a planned stabilizer design may measure one setting for several elements
        check_unique(p, np.array(angles), where)
    target, protocol, precision, plan = _top(p, d)
    problem = planned_problem(n, shots, target, protocol, precision, plan,
                              observables if named else None)
    if problem:
        raise DataFileError(f"{p}: {problem}")
    return DesignSpec(n, np.array(angles), tuple(shots), target, protocol,
                      None if precision is None else float(precision), plan,
                      tuple(observables) if named else None)


def _json_spec(p: Path) -> DesignSpec:
    return _doc_spec(p, load_json(p))


def design_from_text(text: str, source: str) -> DesignSpec:
    """A design stored as JSON text (in a dataset, :func:`design_text`); errors name
    ``source``."""
    try:
        doc = json.loads(text, object_pairs_hook=JsonObject)
    except json.JSONDecodeError as e:
        raise DataFileError(f"{source}: not valid JSON ({e.msg})") from None
    return _doc_spec(Path(source), doc)


def _plain(obj: Any) -> Any:
    """A parsed JSON value with its objects as plain dicts."""
    if isinstance(obj, JsonObject):
        return {k: _plain(v) for k, v in obj}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


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


def _setting_json(label: str, angles: np.ndarray, shots: int,
                  observable: str | None) -> dict[str, Any]:
    out: dict[str, Any] = ({"axes": [[float(t), float(ph)] for t, ph in angles]}
                           if AXIS_LETTER in label else {"paulis": label})
    if observable is not None:
        out["observable"] = observable
    out["shots"] = int(shots)
    return out


def design_text(spec: DesignSpec) -> str:
    """The JSON layout of ``spec`` (module docstring), as text."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "n_qubits": spec.n_qubits}
    for key in ("target", "protocol", "precision"):
        if getattr(spec, key) is not None:
            doc[key] = getattr(spec, key)
    obs = spec.observables or (None,) * spec.n_settings
    doc["settings"] = [_setting_json(lb, a, s, o) for lb, a, s, o in
                       zip(spec.labels, spec.angles, spec.shots, obs, strict=True)]
    if spec.plan is not None:
        doc["plan"] = spec.plan
    return json.dumps(doc, indent=1) + "\n"


def _csv_text(spec: DesignSpec) -> str:
    if spec.plan is not None or spec.observables is not None:
        raise InputValueError("a CSV design holds settings and shots only, not the plan and "
                              "observables of a planned design; write it as .json")
    labels = spec.labels
    pauli = not any(AXIS_LETTER in s for s in labels)
    lines = [",".join(("setting", "shots") if pauli
                      else angle_header(spec.n_qubits, ("shots",)))]
    for label, a, s in zip(labels, spec.angles, spec.shots, strict=True):
        cells = [label] if pauli else [repr(float(x)) for x in a.reshape(-1)]
        lines.append(",".join([*cells, str(int(s))]))
    return "\n".join(lines) + "\n"


def write_design_file(path: str | os.PathLike[str], spec: DesignSpec) -> Path:
    """Write ``spec`` atomically: CSV for a ``.csv`` path (``setting,shots`` when every setting
    is a Pauli setting, the angle header otherwise; no target or protocol; refused for a
    design with a plan block or observables), JSON otherwise (:func:`design_text`)."""
    out = Path(path)
    text = _csv_text(spec) if out.suffix.lower() == ".csv" else design_text(spec)
    try:
        with atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as e:
        raise OutputExistsError(f"cannot write {out}: {e.strerror or e}") from None
    return out


__all__ = [
    "ALL_PAULI_MAX_QUBITS",
    "FORMAT",
    "VERSION",
    "DesignSpec",
    "all_pauli_design",
    "design_from_text",
    "design_text",
    "read_design_file",
    "write_design_file",
]
