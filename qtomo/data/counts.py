"""Counts per measurement setting, and classical-shadow files (``qtomo import --format
counts|shadow``).

Counts (a fixed design: the lab measured a list of settings, each a fixed number of times)
------------------------------------------------------------------------------------------
A *setting* names the Pauli basis of every qubit (``"XXYZ"``: qubit 0 in X, ..., qubit 3 in Z;
lower case accepted); an *outcome* the bit of every qubit (``"0101"``), bit 0 for the +1
eigenstate of the measured Pauli and 1 for the -1 eigenstate. JSON, one of::

    {"XXYZ": {"0101": 12, "1100": 3, ...}, "ZZZZ": {...}, ...}
    [{"setting": "XXYZ", "counts": {"0101": 12, ...}}, ...]
    {"settings": <either of the above>, "calibration": {...}, "comment": <anything>}

(the third adds calibration counts, see :mod:`qtomo.data.readout`; ``comment`` is ignored).
CSV: header ``setting,outcome,count``, one line per setting and outcome (``XXYZ,0101,12``;
lines starting with ``#`` are comments; a setting spreads over as many lines as it has
outcomes).

* Every setting has the same number N of letters X, Y, Z; every outcome N digits 0 or 1.
  Spaces inside an outcome are ignored (Qiskit separates classical registers with them).
* ``bit_order="q0-first"`` (default): the first character of settings, outcomes and
  calibration labels is qubit 0. ``"q0-last"`` reads Qiskit's keys: the last character is
  qubit 0.
* Counts are non-negative integers (``12`` or ``12.0``; not ``12.5``, ``-1``, ``"12"``,
  ``true`` or NaN); zero is allowed, but the file must hold at least one shot. A setting or an
  outcome of a setting given twice is refused (merge its counts first).

Each count c of (setting s, outcome o) becomes c per-shot rows with bases s and bits o, i.e.
Pauli-6 outcomes ``2 * basis + bit`` (order +x, -x, +y, -y, +z, -z). The rows are laid out in
a canonical order (settings in lexicographic order X < Y < Z with qubit 0 first, then the
outcomes) and shuffled by one uniformly random permutation from
``numpy.random.default_rng(seed)``. So **any prefix of the shots is a fair sample**: its first
k rows are a uniformly random k-subset of all shots (drawn without replacement), with every
setting represented in proportion up to hypergeometric fluctuations; a validation split or a
shots subset taken from the front is not biased towards the settings listed first. The dataset
depends only on the counts and the seed, not on the order or layout of the file (JSON and CSV
of the same counts give identical datasets). The design (settings and their shot counts) is
recorded as :class:`~qtomo.data.design.Design` ``kind="fixed"``.

Settings along any axis
-----------------------
In the list layout an entry may give, instead of ``setting``, exactly one of ``paulis``,
``axes`` ([theta, phi] per qubit, radians) or ``vectors`` (unit [x, y, z] per qubit) beside
its ``counts``, as a design file does (:mod:`qtomo.data.design_file`); entry k of ``axes`` is
character k of the outcome strings (reversed with ``q0-last``). The CSV form of such counts
has the header ``theta_0,phi_0,...,theta_{N-1},phi_{N-1},outcome,count``, whose columns name
the qubits. Settings along +x, +y, +z only are Pauli settings as above; the others (axis
settings, listed after the Pauli ones, sorted by their angles) are expanded the same way into
``axis_index`` and ``axis_bits`` (:class:`~qtomo.data.lab_files.LabShots`), bit 0 the +1
outcome of n.sigma.

Classical shadows (random design)
---------------------------------
``.npz`` with integer arrays ``bits`` and ``recipes``, both ``(T, N)`` (PennyLane's
``ClassicalShadow`` convention): ``recipes`` 0, 1, 2 = X, Y, Z measured on qubit (wire) j in
snapshot t, ``bits`` 0 for the +1 eigenvalue and 1 for -1 (booleans accepted). Column j is
qubit j (reversed with ``q0-last``). The bases were drawn per shot: design ``random``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.design import AXIS_LETTER, Design, axis_label, design_axes
from qtomo.data.lab_files import (
    JsonObject,
    LabShots,
    check_cell,
    existing_file,
    file_error,
    load_json,
    parse_count,
    read_csv_rows,
)
from qtomo.data.setting_cells import angle_header, angle_row, csv_header, setting_entry
from qtomo.errors import DataFileError
from qtomo.povm.axes import letter_angles

_LETTER = {"X": 0, "Y": 1, "Z": 2}
#: counts table: setting (basis codes, qubit 0 first) -> outcome (bits) -> count
Table = dict[tuple[int, ...], dict[tuple[int, ...], int]]
#: axis settings: angles (theta_0, phi_0, theta_1, ...) -> outcome (bits) -> count
AxisTable = dict[tuple[float, ...], dict[tuple[int, ...], int]]


# --- cells --------------------------------------------------------------------------------------
def _qubit(k: int, n: int, bit_order: str) -> int:
    return n - 1 - k if bit_order == "q0-last" else k


def parse_setting(p: Path, where: str, s: Any, n: int | None, bit_order: str
                  ) -> tuple[int, ...]:
    """A setting string -> basis codes (0, 1, 2 = X, Y, Z), qubit 0 first."""
    if not isinstance(s, str):
        raise file_error(p, where, f"setting {s!r} is not a string; expected letters X, Y, Z")
    t = s.strip()
    if not t:
        raise file_error(p, where, "empty setting; expected one letter X, Y or Z per qubit")
    if n is not None and len(t) != n:
        raise file_error(p, where, f"setting {t!r} has {len(t)} letters, but the first setting "
                         f"has {n}; every setting must measure the same qubits")
    codes = []
    for k, ch in enumerate(t):
        code = _LETTER.get(ch.upper())
        if code is None:
            raise file_error(p, where, f"setting {t!r}: character {k + 1} (qubit "
                             f"{_qubit(k, len(t), bit_order)}) is {ch!r}; expected X, Y or Z")
        codes.append(code)
    return tuple(codes[::-1] if bit_order == "q0-last" else codes)


def parse_bits(p: Path, where: str, key: Any, n: int, bit_order: str, what: str = "outcome"
               ) -> tuple[int, ...]:
    """An outcome key (digits 0/1, spaces ignored) -> bits, qubit 0 first."""
    if not isinstance(key, str):
        raise file_error(p, where, f"{what} {key!r} is not a string; expected digits 0/1")
    t = key.replace(" ", "").strip()
    if len(t) != n:
        raise file_error(p, where, f"{what} {key!r} has {len(t)} bits; expected {n}, one "
                         "digit 0/1 per qubit")
    bits = []
    for k, ch in enumerate(t):
        if ch not in "01":
            raise file_error(p, where, f"{what} {key!r}: character {k + 1} (qubit "
                             f"{_qubit(k, n, bit_order)}) is {ch!r}; expected 0 or 1")
        bits.append(int(ch))
    return tuple(bits[::-1] if bit_order == "q0-last" else bits)


def _show(codes: tuple[int, ...], letters: str, bit_order: str) -> str:
    s = "".join(letters[c] for c in codes)
    return s[::-1] if bit_order == "q0-last" else s


# --- JSON ---------------------------------------------------------------------------------------
def _counts_object(p: Path, where: str, obj: Any, n: int, bit_order: str, what: str
                   ) -> dict[tuple[int, ...], int]:
    if not isinstance(obj, JsonObject):
        raise file_error(p, where, f"counts are {type(obj).__name__} {obj!r:.40}; expected an "
                         f"object {{{what}: count}}, e.g. {{\"{'0' * n}\": 12}}")
    out: dict[tuple[int, ...], int] = {}
    for key, v in obj:
        at = f"{where}, {what} {key!r}"
        bits = parse_bits(p, where, key, n, bit_order, what)
        if bits in out:
            raise file_error(p, at, f"{what} given twice (as another key with the same bits); "
                             "merge the counts into one key")
        out[bits] = parse_count(p, at, v)
    return out


def _json_entries(p: Path, obj: Any) -> list[tuple[str, str, Any, Any]]:
    """(place of the setting, place of its counts, setting or raw entry, counts or None)."""
    if isinstance(obj, JsonObject):
        return [("", f"setting {s!r}", s, c) for s, c in obj]
    if not isinstance(obj, list):
        raise DataFileError(f"{p}: settings are {type(obj).__name__}; expected an object "
                            "{setting: {outcome: count}} or a list of {setting, counts}")
    entries = []
    for i, e in enumerate(obj):
        where = f"entry {i}"
        keys = [k for k, _ in e] if isinstance(e, JsonObject) else []
        if sorted(keys) == ["counts", "setting"]:
            d = dict(e)
            entries.append((where, f"entry {i} (setting {d['setting']!r})", d["setting"],
                            d["counts"]))
        else:  # the design file's layout: paulis, axes or vectors (design_file.setting_entry)
            entries.append((where, f"entry {i}", e, None))
    return entries


def _json_settings(p: Path, obj: Any, bit_order: str) -> tuple[Table, AxisTable, int]:
    """Settings mapping or list -> (Pauli table, axis table, N)."""
    entries = _json_entries(p, obj)
    if not entries:
        raise DataFileError(f"{p}: no settings (no shots); expected counts per setting")
    table: Table = {}
    axes: AxisTable = {}
    n: int | None = None
    for where, ctx, s, c in entries:
        if c is None:
            angles, c = setting_entry(p, where, s, "counts", n, bit_order)
            n = len(angles)
            key, into = setting_key(angles)
        else:
            key = parse_setting(p, where, s, n, bit_order)
            n, into = len(key), "pauli"
        target: dict = table if into == "pauli" else axes
        if key in target:
            raise file_error(p, ctx, "setting given twice; merge its counts into one entry")
        target[key] = _counts_object(p, ctx, c, n, bit_order, "outcome")
    assert n is not None
    return table, axes, n


def setting_key(angles: np.ndarray) -> tuple[tuple[Any, ...], str]:
    """``(basis codes, "pauli")`` for a Pauli setting, ``(flattened angles, "axes")`` else."""
    label = axis_label(angles)
    if AXIS_LETTER in label:
        return tuple(float(x) for x in np.asarray(angles).reshape(-1)), "axes"
    return tuple("XYZ".index(c) for c in label), "pauli"


def parse_calibration(p: Path, obj: Any, n: int, bit_order: str
                      ) -> dict[tuple[int, ...], dict[tuple[int, ...], int]]:
    """``{prepared: {read: count}}`` with prepared and read bit strings of N qubits."""
    if not isinstance(obj, JsonObject) or not obj:
        raise file_error(p, "calibration", "expected a non-empty object {prepared: {read: "
                         f"count}}, e.g. {{\"{'0' * n}\": {{...}}, \"{'1' * n}\": {{...}}}}")
    out: dict[tuple[int, ...], dict[tuple[int, ...], int]] = {}
    for label, counts in obj:
        where = f"calibration, prepared {label!r}"
        prep = parse_bits(p, "calibration", label, n, bit_order, "prepared state")
        if prep in out:
            raise file_error(p, where, "prepared state given twice; merge its counts")
        out[prep] = _counts_object(p, where, counts, n, bit_order, "outcome")
    return out


def read_counts_json(p: Path, bit_order: str) -> tuple[Table, AxisTable, int, Any]:
    """(Pauli table, axis table, N, raw calibration entry or None) of a counts JSON file."""
    doc = load_json(p)
    calibration = None
    if isinstance(doc, JsonObject) and any(k == "settings" for k, _ in doc):
        keys = [k for k, _ in doc]
        for k in keys:
            if k not in ("settings", "calibration", "comment") or keys.count(k) > 1:
                raise file_error(p, f"top-level key {k!r}", "expected each of 'settings', "
                                 "'calibration' and 'comment' at most once")
        d = dict(doc)
        calibration = d.get("calibration")
        doc = d["settings"]
    elif isinstance(doc, JsonObject) and any(k == "calibration" for k, _ in doc):
        raise file_error(p, "top-level key 'calibration'", "a file with calibration counts "
                         "keeps its counts under 'settings': {\"settings\": {...}, "
                         "\"calibration\": {...}}")
    table, axes, n = _json_settings(p, doc, bit_order)
    return table, axes, n, calibration


# --- CSV ----------------------------------------------------------------------------------------
def read_counts_csv(p: Path, bit_order: str) -> tuple[Table, AxisTable, int]:
    """(Pauli table, axis table, N) of a ``setting,outcome,count`` CSV file, or of one with
    the header ``theta_0,phi_0,...,theta_{N-1},phi_{N-1},outcome,count`` (the columns name
    the qubits, whatever ``bit_order``; the outcome string follows it)."""
    head = csv_header(p)
    n_ax = (len(head) - 2) // 2
    by_angles = len(head) >= 4 and head == angle_header(n_ax, ("outcome", "count"))
    rows, numbers = read_csv_rows(p, head if by_angles else ("setting", "outcome", "count"),
                                  "one line per setting and outcome")
    table: Table = {}
    axes: AxisTable = {}
    seen: dict[tuple[tuple[Any, ...], tuple[int, ...]], int] = {}
    n: int | None = None
    width = len(head) if by_angles else 3
    for row, ln in zip(rows, numbers, strict=True):
        where = f"line {ln}"
        if len(row) != width:
            raise file_error(p, where, f"{len(row)} columns; expected {width} "
                             f"({','.join(head) if by_angles else 'setting,outcome,count'}), "
                             "e.g. 'XXYZ,0101,12'")
        for col, cell, expect in ((f"{width - 1} (outcome)", row[-2], "digits 0/1"),
                                  (f"{width} (count)", row[-1], "a non-negative integer")):
            check_cell(p, where, col, cell, expect)
        if by_angles:
            key, into = setting_key(angle_row(p, where, row, n_ax))
            n = n_ax
        else:
            check_cell(p, where, "1 (setting)", row[0], "letters X, Y, Z")
            key, into = parse_setting(p, where, row[0], n, bit_order), "pauli"
            n = len(key)
        bits = parse_bits(p, where, row[-2], n, bit_order)
        if (key, bits) in seen:
            what = f"setting {row[0]!r}" if not by_angles else "the setting of these angles"
            raise file_error(p, where, f"{what}, outcome {row[-2]!r} was already counted on "
                             f"line {seen[key, bits]}; merge the two lines")
        seen[key, bits] = ln
        target: dict = table if into == "pauli" else axes
        target.setdefault(key, {})[bits] = parse_count(p, where, row[-1], text=True)
    assert n is not None
    return table, axes, n


# --- expansion ----------------------------------------------------------------------------------
def _expand(tables: list[dict[tuple[int, ...], int]], n: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Per-shot rows of the settings' counts, shuffled: (setting position (M,), bits (M, N),
    shots per setting)."""
    rows_s: list[int] = []
    rows_o: list[tuple[int, ...]] = []
    counts: list[int] = []
    for i, outs in enumerate(tables):
        for o in sorted(outs):
            if outs[o]:
                rows_s.append(i)
                rows_o.append(o)
                counts.append(outs[o])
    c = np.array(counts, dtype=np.int64)
    idx = np.repeat(np.arange(len(c), dtype=np.int32 if len(c) < 2**31 else np.int64), c)
    rng.shuffle(idx)
    return (np.array(rows_s, dtype=np.int64)[idx],
            np.array(rows_o, dtype=np.uint8).reshape(-1, n)[idx],
            [sum(outs.values()) for outs in tables])


def expand_counts(p: Path, table: Table, n: int, seed: int, axes: AxisTable | None = None
                  ) -> LabShots:
    """Per-shot rows of a counts table, shuffled (see the module docstring); the shots of axis
    settings (``axes``) go to ``axis_index`` and ``axis_bits``."""
    rng = np.random.default_rng(seed)
    settings, axis_keys = sorted(table), sorted(axes or {})
    pos, bits, per_setting = _expand([table[s] for s in settings], n, rng)
    pos_a, bits_a, per_axis = _expand([(axes or {})[a] for a in axis_keys], n, rng)
    if sum(per_setting) + sum(per_axis) == 0:
        raise DataFileError(f"{p}: no shots (every count is 0)")
    labels = tuple(_show(s, "XYZ", "q0-first") for s in settings)
    angles = [letter_angles(s) for s in labels] + [np.reshape(a, (n, 2)) for a in axis_keys]
    design = Design("fixed", labels + tuple(axis_label(a) for a in angles[len(labels):]),
                    tuple(int(x) for x in per_setting + per_axis),
                    design_axes(np.array(angles)) if axis_keys else None)
    bases = np.array(settings, dtype=np.uint8).reshape(-1, n)[pos]
    return LabShots(n_qubits=n, bases=bases, bits=bits, design=design,
                    axis_index=(len(settings) + pos_a) if axis_keys else None,
                    axis_bits=bits_a if axis_keys else None)


def _is_csv(p: Path) -> bool:
    """``.csv`` -> CSV, ``.json`` -> JSON; otherwise JSON when the text opens with { or [."""
    ext = p.suffix.lower()
    if ext in (".csv", ".json"):
        return ext == ".csv"
    with open(p, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] not in (b"{", b"[")


def read_counts(path: str | os.PathLike[str], bit_order: str = "q0-first", seed: int = 1234
                ) -> LabShots:
    """Counts per setting (JSON or CSV) -> shuffled per-shot bases and bits, with the design
    and, for a JSON file with a ``calibration`` entry, its calibration counts."""
    p = existing_file(path, "counts per setting (JSON or CSV)")
    calibration = None
    if _is_csv(p):
        table, axes, n = read_counts_csv(p, bit_order)
    else:
        table, axes, n, raw_cal = read_counts_json(p, bit_order)
        if raw_cal is not None:
            calibration = parse_calibration(p, raw_cal, n, bit_order)
    shots = expand_counts(p, table, n, seed, axes)
    shots.calibration = calibration
    return shots


# --- classical shadows --------------------------------------------------------------------------
def read_shadow(path: str | os.PathLike[str], bit_order: str = "q0-first") -> LabShots:
    """``bits`` and ``recipes`` (T, N) of an ``.npz`` file -> bases and bits, design random."""
    p = existing_file(path, "an .npz file with arrays bits and recipes")
    try:
        z = np.load(p, allow_pickle=False)
        if not hasattr(z, "files"):
            raise DataFileError(f"{p}: a single array; expected an .npz archive with arrays "
                                "'bits' and 'recipes'")
        with z:
            missing = [k for k in ("bits", "recipes") if k not in z.files]
            if missing:
                raise DataFileError(f"{p}: no array {' or '.join(map(repr, missing))} (found "
                                    f"{z.files}); expected 'bits' and 'recipes', both (T, N)")
            bits, recipes = z["bits"], z["recipes"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataFileError(f"{p}: not a readable .npz archive "
                            f"({str(e).splitlines()[0][:100]})") from None
    for name, a, kinds in (("bits", bits, "iub"), ("recipes", recipes, "iu")):
        if a.dtype.kind not in kinds or a.ndim != 2:
            raise DataFileError(f"{p}: {name} has shape {a.shape} and dtype {a.dtype}; "
                                "expected integers (T, N)")
    if bits.shape != recipes.shape:
        raise DataFileError(f"{p}: bits has shape {bits.shape} but recipes {recipes.shape}; "
                            "expected one bit and one recipe per snapshot and qubit")
    if bits.shape[0] < 1 or bits.shape[1] < 1:
        raise DataFileError(f"{p}: arrays of shape {bits.shape} hold no shots")
    n = bits.shape[1]
    for name, a, hi, expect in (("recipes", recipes, 2, "0, 1 or 2 (X, Y, Z)"),
                                ("bits", bits.astype(np.int64), 1, "0 or 1")):
        bad = np.argwhere((a < 0) | (a > hi))
        if bad.size:
            t, k = (int(x) for x in bad[0])
            raise file_error(p, f"snapshot {t}", f"{name}[{t}, {k}] (qubit "
                             f"{_qubit(k, n, bit_order)}) is {int(a[t, k])}; expected {expect}")
    b, r = bits.astype(np.uint8), recipes.astype(np.uint8)
    if bit_order == "q0-last":
        b, r = b[:, ::-1].copy(), r[:, ::-1].copy()
    return LabShots(n_qubits=n, bases=r, bits=b, design=Design("random"))


__all__ = [
    "AxisTable",
    "JsonObject",
    "Table",
    "expand_counts",
    "load_json",
    "parse_bits",
    "parse_calibration",
    "parse_count",
    "parse_setting",
    "read_counts",
    "read_counts_csv",
    "read_counts_json",
    "read_shadow",
    "setting_key",
]
