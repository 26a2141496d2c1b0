"""Reading lab files: the per-shot layouts and the helpers every lab format shares.

Per-shot layouts
----------------
``pauli-basis`` -- each qubit of each shot was measured in a Pauli basis X, Y or Z and gave a
bit. CSV layout (one header line, then one line per shot; lines starting with ``#`` are
comments)::

    bases,bits
    XZZY,0110
    ZZXX,1001

``bases`` holds one letter X, Y or Z per qubit, ``bits`` one digit per qubit; bit 0 is the +1
eigenstate of the measured Pauli (``|0>`` for Z, ``|+>`` for X, ``|+i>`` for Y), bit 1 the -1
eigenstate. With ``bit_order="q0-first"`` (the default) the first character is qubit 0; with
``"q0-last"`` (Qiskit's convention) the last character is qubit 0. Lower-case letters are
accepted. A ``.npy`` file holds either a string array ``(shots, 2)`` with the same two columns,
or an integer array ``(shots, 2, N)``: ``[:, 0, :]`` basis codes 0, 1, 2 for X, Y, Z and
``[:, 1, :]`` the bits (column j = qubit j, or reversed with ``q0-last``).

``outcomes`` -- POVM outcome indices of a known POVM (``povm`` = pauli4, tetra or pauli6). CSV:
header ``outcomes``, then one string of digits per shot (``0312``); ``.npy``: an integer array
``(shots, N)``. ``bit_order`` orders the qubits the same way.

The counts and classical-shadow layouts are read by :mod:`qtomo.data.counts`, calibration
counts and readout matrices by :mod:`qtomo.data.readout`. Every problem in a file raises a
:class:`~qtomo.errors.DataFileError` naming the place (CSV line, 1-based, header = line 1;
NumPy row, 0-based; JSON setting and key) before any output is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qtomo.errors import DataFileError

if TYPE_CHECKING:
    from qtomo.data.design import Design

NAN_WORDS = {"nan", "na", "n/a", "null", "none"}
BASIS_CODE = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate("XYZ"):
    BASIS_CODE[ord(_c)] = _i
    BASIS_CODE[ord(_c.lower())] = _i
BIT_CODE = np.full(256, -1, dtype=np.int16)
BIT_CODE[ord("0")], BIT_CODE[ord("1")] = 0, 1
DIGIT_CODE = np.full(256, -1, dtype=np.int16)
for _i in range(10):
    DIGIT_CODE[ord(str(_i))] = _i


@dataclass
class LabShots:
    """Parsed lab shots before conversion.

    ``bases`` and ``bits`` (pauli-basis, counts, shadow) or ``indices`` (outcomes): integer
    arrays ``(shots, N)`` with column j = qubit j (bit order already applied). ``design``: how
    the bases were chosen (None: drawn per shot). ``calibration``: calibration counts found in
    the file itself (a counts JSON's ``calibration`` entry), as
    ``{prepared bits (tuple, qubit 0 first): {read bits (tuple): count}}``, or None.
    ``axis_index`` (M_a,) and ``axis_bits`` (M_a, N): the shots of a fixed design's axis
    settings (their setting's index in ``design.settings`` and bits), or None.
    """

    n_qubits: int
    bases: np.ndarray | None = None
    bits: np.ndarray | None = None
    indices: np.ndarray | None = None
    design: Design | None = None
    calibration: dict[tuple[int, ...], dict[tuple[int, ...], int]] | None = None
    axis_index: np.ndarray | None = None
    axis_bits: np.ndarray | None = None


# --- reading ------------------------------------------------------------------------------------
def file_error(path: Path, where: str, what: str) -> DataFileError:
    """``PATH: WHERE: WHAT`` (``PATH: WHAT`` when ``where`` is empty)."""
    return DataFileError(f"{path}: {where}: {what}" if where else f"{path}: {what}")


def read_csv_rows(path: Path, header: tuple[str, ...], rows_are: str = "one line per shot"
                  ) -> tuple[list[list[str]], list[int]]:
    """Data rows (lists of stripped cells) and their 1-based line numbers."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataFileError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise file_error(path, f"line {line}", "not UTF-8 text; expected a CSV file") from None
    lines = text.splitlines()
    # drop trailing blank lines (a final newline is normal)
    while lines and not lines[-1].strip():
        lines.pop()
    want = ",".join(header)
    head_idx = None
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            head_idx = i
            break
    if head_idx is None:
        raise DataFileError(
            f"{path}: empty file; expected a header line '{want}' followed by {rows_are}"
        )
    cells = [c.strip().lower() for c in lines[head_idx].split(",")]
    if tuple(cells) != header:
        raise file_error(
            path, f"line {head_idx + 1}",
            f"wrong columns {lines[head_idx].strip()!r}; expected the header '{want}'",
        )
    rows: list[list[str]] = []
    numbers: list[int] = []
    for i in range(head_idx + 1, len(lines)):
        line = lines[i]
        if line.lstrip().startswith("#"):
            continue
        if not line.strip():
            raise file_error(path, f"line {i + 1}", f"blank line; expected '{want}' values")
        rows.append([c.strip() for c in line.split(",")])
        numbers.append(i + 1)
    if not rows:
        raise DataFileError(f"{path}: no shots after the header '{want}'")
    return rows, numbers


# --- JSON and count cells shared by the counts, calibration and design files ----------------
class JsonObject(list):
    """A JSON object as its list of (key, value) pairs, so that repeated keys are seen."""


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


def check_cell(path: Path, where: str, col: str, cell: str, expect: str) -> None:
    if cell == "":
        raise file_error(path, where, f"column {col} is blank; expected {expect}")
    if cell.lower() in NAN_WORDS:
        raise file_error(path, where,
                         f"column {col} is {cell!r} (not a number); expected {expect}")


def decode_strings(path: Path, strings: list[str], numbers: list[int], col: str,
                   code: np.ndarray, expect: str, n: int, bit_order: str,
                   unit: str = "line") -> np.ndarray:
    """Equal-length strings -> (rows, N) codes via a byte lookup table; errors name the cell."""
    for s, ln in zip(strings, numbers, strict=True):
        if len(s) != n:
            raise file_error(
                path, f"{unit} {ln}",
                f"column {col} has {len(s)} characters ({s!r}), but the first shot has {n} "
                "qubits; every shot must measure the same qubits",
            )
    try:
        buf = "".join(strings).encode("ascii")
    except UnicodeEncodeError:
        buf = None
    if buf is None:
        for s, ln in zip(strings, numbers, strict=True):
            for k, ch in enumerate(s):
                if ord(ch) > 127:
                    raise _bad_char(path, unit, ln, col, k, ch, n, bit_order, expect)
    arr = code[np.frombuffer(buf, dtype=np.uint8)].reshape(len(strings), n)
    bad = np.argwhere(arr < 0)
    if bad.size:
        r, k = (int(x) for x in bad[0])
        raise _bad_char(path, unit, numbers[r], col, k, strings[r][k], n, bit_order, expect)
    return arr[:, ::-1] if bit_order == "q0-last" else arr


def _bad_char(path: Path, unit: str, ln: int, col: str, k: int, ch: str, n: int,
              bit_order: str, expect: str) -> DataFileError:
    q = n - 1 - k if bit_order == "q0-last" else k
    return file_error(path, f"{unit} {ln}",
                      f"column {col}, character {k + 1} (qubit {q}) is {ch!r}; expected {expect}")


def read_pauli_basis(path: str | os.PathLike[str], bit_order: str = "q0-first") -> LabShots:
    """Read ``pauli-basis`` shots from a CSV or ``.npy`` file (see the module docstring)."""
    p = existing_file(path)
    if p.suffix.lower() == ".npy":
        arr = load_npy(p)
        if arr.dtype.kind in "US" and arr.ndim == 2 and arr.shape[1] == 2:
            strings = arr.astype(str)
            return _pauli_from_strings(p, strings[:, 0].tolist(), strings[:, 1].tolist(),
                                       list(range(len(arr))), bit_order, unit="row")
        if arr.dtype.kind in "iu" and arr.ndim == 3 and arr.shape[1] == 2:
            return _pauli_from_ints(p, arr, bit_order)
        raise DataFileError(
            f"{p}: array of shape {arr.shape} and dtype {arr.dtype}; expected strings "
            "(shots, 2) [bases, bits] or integers (shots, 2, N) [basis codes 0/1/2 = X/Y/Z, bits]"
        )
    rows, numbers = read_csv_rows(p, ("bases", "bits"))
    bases, bits = [], []
    for row, ln in zip(rows, numbers, strict=True):
        if len(row) != 2:
            raise file_error(p, f"line {ln}",
                             f"{len(row)} columns; expected 2 (bases,bits), e.g. 'XZZY,0110'")
        bases.append(row[0])
        bits.append(row[1])
    return _pauli_from_strings(p, bases, bits, numbers, bit_order)


def _pauli_from_strings(p: Path, bases: list[str], bits: list[str], numbers: list[int],
                        bit_order: str, unit: str = "line") -> LabShots:
    if not bases:
        raise DataFileError(f"{p}: no shots")
    for b, s, ln in zip(bases, bits, numbers, strict=True):
        check_cell(p, f"{unit} {ln}", "1 (bases)", b.strip(), "letters X, Y, Z, one per qubit")
        check_cell(p, f"{unit} {ln}", "2 (bits)", s.strip(), "digits 0/1, one per qubit")
        if len(b) != len(s):
            raise file_error(p, f"{unit} {ln}",
                             f"bases has {len(b)} letters but bits has {len(s)} digits; expected "
                             "one of each per qubit")
    n = len(bases[0])
    bcode = decode_strings(p, bases, numbers, "1 (bases)", BASIS_CODE, "X, Y or Z", n,
                           bit_order, unit)
    bitcode = decode_strings(p, bits, numbers, "2 (bits)", BIT_CODE, "0 or 1", n, bit_order,
                             unit)
    return LabShots(n_qubits=n, bases=bcode.astype(np.uint8), bits=bitcode.astype(np.uint8))


def _pauli_from_ints(p: Path, arr: np.ndarray, bit_order: str) -> LabShots:
    if arr.shape[0] < 1 or arr.shape[2] < 1:
        raise DataFileError(f"{p}: array of shape {arr.shape} holds no shots")
    n = arr.shape[2]
    for layer, name, hi in ((0, "basis code", 2), (1, "bit", 1)):
        v = arr[:, layer, :]
        bad = np.argwhere((v < 0) | (v > hi))
        if bad.size:
            r, k = (int(x) for x in bad[0])
            q = n - 1 - k if bit_order == "q0-last" else k
            raise file_error(p, f"row {r}",
                             f"[{layer}, {k}] (qubit {q}) holds {name} {int(v[r, k])}; expected "
                             f"{'0, 1 or 2 (X, Y, Z)' if layer == 0 else '0 or 1'}")
    out = arr.astype(np.uint8)
    if bit_order == "q0-last":
        out = out[:, :, ::-1]
    return LabShots(n_qubits=n, bases=out[:, 0, :].copy(), bits=out[:, 1, :].copy())


def read_outcomes(path: str | os.PathLike[str], K: int, bit_order: str = "q0-first") -> LabShots:
    """Read POVM outcome indices ``0..K-1`` from a CSV (header ``outcomes``) or ``.npy``."""
    p = existing_file(path)
    expect = f"an outcome index 0..{K - 1}"
    if p.suffix.lower() == ".npy":
        arr = load_npy(p)
        if arr.dtype.kind not in "iu" or arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise DataFileError(
                f"{p}: array of shape {arr.shape} and dtype {arr.dtype}; expected integers "
                "(shots, N)"
            )
        bad = np.argwhere((arr < 0) | (arr >= K))
        if bad.size:
            r, k = (int(x) for x in bad[0])
            n = arr.shape[1]
            q = n - 1 - k if bit_order == "q0-last" else k
            raise file_error(p, f"row {r}", f"column {k} (qubit {q}) holds {int(arr[r, k])}; "
                             f"expected {expect}")
        idx = arr.astype(np.uint8)
        return LabShots(n_qubits=arr.shape[1],
                        indices=idx[:, ::-1].copy() if bit_order == "q0-last" else idx)
    rows, numbers = read_csv_rows(p, ("outcomes",))
    strings = []
    for row, ln in zip(rows, numbers, strict=True):
        if len(row) != 1:
            raise file_error(p, f"line {ln}",
                             f"{len(row)} columns; expected 1 (outcomes), e.g. '0312'")
        check_cell(p, f"line {ln}", "1 (outcomes)", row[0], "one digit per qubit")
        strings.append(row[0])
    n = len(strings[0])
    code = DIGIT_CODE.copy()
    code[code >= K] = -1
    idx = decode_strings(p, strings, numbers, "1 (outcomes)", code, expect, n, bit_order)
    return LabShots(n_qubits=n, indices=idx.astype(np.uint8))


def existing_file(path: str | os.PathLike[str],
                  expect: str = "a CSV or .npy file of shots") -> Path:
    """``path`` as a Path, or a :class:`DataFileError` when it is missing, a folder or empty."""
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"{p}: no such file")
    if p.is_dir():
        raise DataFileError(f"{p}: is a directory; expected {expect}")
    if p.stat().st_size == 0:
        raise DataFileError(f"{p}: empty file; expected {expect}")
    return p


def load_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataFileError(f"{p}: not a readable .npy array ({str(e).splitlines()[0][:100]})") \
            from None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()



__all__ = [
    "BASIS_CODE",
    "BIT_CODE",
    "DIGIT_CODE",
    "JsonObject",
    "LabShots",
    "check_cell",
    "decode_strings",
    "existing_file",
    "file_error",
    "file_sha256",
    "load_json",
    "load_npy",
    "parse_count",
    "read_csv_rows",
    "read_outcomes",
    "read_pauli_basis",
]
