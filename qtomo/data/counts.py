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

Classical shadows (random design)
---------------------------------
``.npz`` with integer arrays ``bits`` and ``recipes``, both ``(T, N)`` (PennyLane's
``ClassicalShadow`` convention): ``recipes`` 0, 1, 2 = X, Y, Z measured on qubit (wire) j in
snapshot t, ``bits`` 0 for the +1 eigenvalue and 1 for -1 (booleans accepted). Column j is
qubit j (reversed with ``q0-last``). The bases were drawn per shot: design ``random``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.design import Design
from qtomo.data.lab_files import (
    LabShots,
    check_cell,
    existing_file,
    file_error,
    read_csv_rows,
)
from qtomo.errors import DataFileError

_LETTER = {"X": 0, "Y": 1, "Z": 2}
#: counts table: setting (basis codes, qubit 0 first) -> outcome (bits) -> count
Table = dict[tuple[int, ...], dict[tuple[int, ...], int]]


class JsonObject(list):
    """A JSON object as its list of (key, value) pairs, so that repeated keys are seen."""


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


def parse_count(p: Path, where: str, v: Any, text: bool = False) -> int:
    """A count: a non-negative integer (an integral float such as 12.0 is accepted).

    ``text``: ``v`` is a CSV cell to be parsed; in JSON a quoted count is refused.
    """
    expect = "expected a non-negative integer"
    if text and isinstance(v, str):
        try:
            v = float(v) if any(c in v for c in ".eEnN") else int(v)
        except ValueError:
            raise file_error(p, where, f"count {v!r} is not a number; {expect}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise file_error(p, where, f"count {v!r} is not a number; {expect}")
    if isinstance(v, float):
        if not math.isfinite(v) or v != int(v):
            raise file_error(p, where, f"count {v!r} is not an integer; {expect}")
        v = int(v)
    if v < 0:
        raise file_error(p, where, f"count {v} is negative; {expect}")
    return int(v)


def _show(codes: tuple[int, ...], letters: str, bit_order: str) -> str:
    s = "".join(letters[c] for c in codes)
    return s[::-1] if bit_order == "q0-last" else s


# --- JSON ---------------------------------------------------------------------------------------
def load_json(p: Path) -> Any:
    """Parse a JSON file; objects come back as :class:`JsonObject`. Errors name line and column."""
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise file_error(p, f"line {line}", "not UTF-8 text; expected a JSON file") from None
    if not text.strip():
        raise DataFileError(f"{p}: empty file; expected JSON counts per setting")
    try:
        return json.loads(text, object_pairs_hook=JsonObject)
    except json.JSONDecodeError as e:
        raise file_error(p, f"line {e.lineno}, column {e.colno}",
                         f"not valid JSON ({e.msg})") from None


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


def _json_settings(p: Path, obj: Any, bit_order: str) -> tuple[Table, int]:
    """Settings mapping or list -> (table, N)."""
    # (place of the setting string, place of its counts, setting, counts)
    if isinstance(obj, JsonObject):
        entries = [("", f"setting {s!r}", s, c) for s, c in obj]
    elif isinstance(obj, list):
        entries = []
        for i, e in enumerate(obj):
            where = f"entry {i}"
            if not isinstance(e, JsonObject):
                raise file_error(p, where, f"{type(e).__name__}; expected an object "
                                 "{\"setting\": ..., \"counts\": {...}}")
            d = dict(e)
            if set(d) != {"setting", "counts"} or len(e) != 2:
                raise file_error(p, where, f"keys {[k for k, _ in e]}; expected exactly "
                                 "'setting' and 'counts'")
            entries.append((where, f"entry {i} (setting {d['setting']!r})", d["setting"],
                            d["counts"]))
    else:
        raise DataFileError(f"{p}: settings are {type(obj).__name__}; expected an object "
                            "{setting: {outcome: count}} or a list of {setting, counts}")
    if not entries:
        raise DataFileError(f"{p}: no settings (no shots); expected counts per setting")
    table: Table = {}
    n: int | None = None
    for where, ctx, s, c in entries:
        codes = parse_setting(p, where, s, n, bit_order)
        n = len(codes)
        if codes in table:
            raise file_error(p, ctx, "setting given twice; merge its counts into one entry")
        table[codes] = _counts_object(p, ctx, c, n, bit_order, "outcome")
    assert n is not None
    return table, n


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


def read_counts_json(p: Path, bit_order: str) -> tuple[Table, int, Any]:
    """(table, N, raw calibration entry or None) of a counts JSON file."""
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
    table, n = _json_settings(p, doc, bit_order)
    return table, n, calibration


# --- CSV ----------------------------------------------------------------------------------------
def read_counts_csv(p: Path, bit_order: str) -> tuple[Table, int]:
    """(table, N) of a ``setting,outcome,count`` CSV file."""
    rows, numbers = read_csv_rows(p, ("setting", "outcome", "count"),
                                  "one line per setting and outcome")
    table: Table = {}
    seen: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    n: int | None = None
    for row, ln in zip(rows, numbers, strict=True):
        where = f"line {ln}"
        if len(row) != 3:
            raise file_error(p, where, f"{len(row)} columns; expected 3 (setting,outcome,count), "
                             "e.g. 'XXYZ,0101,12'")
        for col, cell, expect in (("1 (setting)", row[0], "letters X, Y, Z"),
                                  ("2 (outcome)", row[1], "digits 0/1"),
                                  ("3 (count)", row[2], "a non-negative integer")):
            check_cell(p, where, col, cell, expect)
        codes = parse_setting(p, where, row[0], n, bit_order)
        n = len(codes)
        bits = parse_bits(p, where, row[1], n, bit_order)
        if (codes, bits) in seen:
            raise file_error(p, where, f"setting {row[0]!r}, outcome {row[1]!r} was already "
                             f"counted on line {seen[codes, bits]}; merge the two lines")
        seen[codes, bits] = ln
        table.setdefault(codes, {})[bits] = parse_count(p, where, row[2], text=True)
    assert n is not None
    return table, n


# --- expansion ----------------------------------------------------------------------------------
def expand_counts(p: Path, table: Table, n: int, seed: int) -> LabShots:
    """Per-shot rows of a counts table, shuffled (see the module docstring)."""
    settings = sorted(table)
    rows_b: list[tuple[int, ...]] = []
    rows_o: list[tuple[int, ...]] = []
    counts: list[int] = []
    per_setting = []
    for s in settings:
        outs = table[s]
        per_setting.append(sum(outs.values()))
        for o in sorted(outs):
            if outs[o]:
                rows_b.append(s)
                rows_o.append(o)
                counts.append(outs[o])
    total = sum(counts)
    if total == 0:
        raise DataFileError(f"{p}: no shots (every count is 0)")
    c = np.array(counts, dtype=np.int64)
    idx = np.repeat(np.arange(len(c), dtype=np.int32 if len(c) < 2**31 else np.int64), c)
    np.random.default_rng(seed).shuffle(idx)
    bases = np.array(rows_b, dtype=np.uint8)[idx]
    bits = np.array(rows_o, dtype=np.uint8)[idx]
    design = Design("fixed", tuple(_show(s, "XYZ", "q0-first") for s in settings),
                    tuple(int(x) for x in per_setting))
    return LabShots(n_qubits=n, bases=bases, bits=bits, design=design)


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
        table, n = read_counts_csv(p, bit_order)
    else:
        table, n, raw_cal = read_counts_json(p, bit_order)
        if raw_cal is not None:
            calibration = parse_calibration(p, raw_cal, n, bit_order)
    shots = expand_counts(p, table, n, seed)
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
]
