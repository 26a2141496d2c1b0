"""Import lab shots (CSV or NumPy) into a qtomo dataset (library side of ``qtomo import``).

Formats
-------
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

Each (basis, bit) becomes the Pauli-6 outcome ``2 * basis + bit`` in the order
(+x, -x, +y, -y, +z, -z); ``povm="pauli4"`` coarse-grains it (+z -> 0, +x -> 1, +y -> 2, the
three minus outcomes -> 3). The Pauli-6 reading assumes every qubit's basis is drawn
independently and uniformly. The importer tests the pooled basis counts against 1/3 each with a
chi-square test; when they differ (p < ``basis_alpha``) it warns and builds the POVM from the
measured frequencies, ``pauli6(basis_weights=(q_x, q_y, q_z))`` (then its coarse-graining).
It also warns when the basis frequencies differ between qubits or the bases of neighbouring
qubits are correlated, cases that no single product POVM describes.

``outcomes`` -- POVM outcome indices of a known POVM (``povm`` = pauli4, tetra or pauli6). CSV:
header ``outcomes``, then one string of digits per shot (``0312``); ``.npy``: an integer array
``(shots, N)``. ``bit_order`` orders the qubits the same way.

Every problem in a file ends the import with a :class:`~qtomo.errors.DataFileError` naming
the line (CSV, 1-based, header = line 1) or row (NumPy, 0-based) and the column, before any
output is written.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.frames import Frame, get_frame, pauli6
from qtomo.states.targets import Target, build_target, target_from_statevector
from qtomo.typing import Outcomes

FORMATS = ("pauli-basis", "outcomes")
BIT_ORDERS = ("q0-first", "q0-last")
LAB_POVMS = {"pauli-basis": ("pauli6", "pauli4"), "outcomes": ("pauli4", "tetra", "pauli6")}
#: Pauli-6 outcome -> Pauli-4 outcome (+x->1, -x->3, +y->2, -y->3, +z->0, -z->3).
PAULI6_TO_PAULI4 = np.array([1, 3, 2, 3, 0, 3], dtype=np.uint8)
#: Pauli-4 outcome k merges these Pauli-6 outcomes.
PAULI4_GROUPS = [[4], [0], [2], [1, 3, 5]]
_NAN_WORDS = {"nan", "na", "n/a", "null", "none"}
_BASIS_CODE = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate("XYZ"):
    _BASIS_CODE[ord(_c)] = _i
    _BASIS_CODE[ord(_c.lower())] = _i
_BIT_CODE = np.full(256, -1, dtype=np.int16)
_BIT_CODE[ord("0")], _BIT_CODE[ord("1")] = 0, 1
_DIGIT_CODE = np.full(256, -1, dtype=np.int16)
for _i in range(10):
    _DIGIT_CODE[ord(str(_i))] = _i


class LabImportWarning(UserWarning):
    """The shots do not fit the assumptions of the uniform Pauli-6 reading."""


@dataclass(frozen=True)
class LabImportConfig:
    """Everything that defines an import (recorded in the dataset's config).

    Attributes
    ----------
    format : ``pauli-basis`` or ``outcomes``
    povm : output POVM for ``pauli-basis`` (``pauli6`` or ``pauli4``); the POVM of the
        indices for ``outcomes`` (``pauli4``, ``tetra`` or ``pauli6``).
    bit_order : ``q0-first`` or ``q0-last``
    target : ``none``, ``ghz``, ``tfim`` or the path of a ``.npy`` state vector (big-endian)
    J, h, boundary : TFIM couplings of ``target="tfim"``
    basis_alpha : significance level of the basis-frequency chi-square test
    """

    format: str = "pauli-basis"
    povm: str = "pauli6"
    bit_order: str = "q0-first"
    target: str = "none"
    J: float = 1.0  # noqa: N815
    h: float = 1.0
    boundary: str = "open"
    basis_alpha: float = 0.01

    def validate(self) -> LabImportConfig:
        if self.format not in FORMATS:
            raise InputValueError(
                f"unknown --format {self.format!r}; expected one of {', '.join(FORMATS)}"
            )
        if self.povm not in LAB_POVMS[self.format]:
            raise InputValueError(
                f"--povm {self.povm} does not apply to --format {self.format}; expected one of "
                f"{', '.join(LAB_POVMS[self.format])}"
            )
        if self.bit_order not in BIT_ORDERS:
            raise InputValueError(
                f"unknown --bit-order {self.bit_order!r}; expected one of {', '.join(BIT_ORDERS)}"
            )
        if not (0.0 < self.basis_alpha < 1.0):
            raise InputValueError(f"--basis-alpha must lie in (0, 1), got {self.basis_alpha}")
        for name, v in (("J", self.J), ("h", self.h)):
            if not math.isfinite(v):
                raise InputValueError(f"--{name} must be a finite number, got {v}")
        if self.boundary not in ("open", "periodic"):
            raise InputValueError(f"--boundary must be open or periodic, got {self.boundary!r}")
        t = self.target
        if t not in ("none", "ghz", "tfim") and not t.lower().endswith(".npy"):
            raise InputValueError(
                f"unknown --target {t!r}; expected none, ghz, tfim or a state vector file .npy"
            )
        return self


@dataclass
class LabShots:
    """Parsed lab shots before conversion.

    ``bases`` and ``bits`` (pauli-basis) or ``indices`` (outcomes): integer arrays
    ``(shots, N)`` with column j = qubit j (bit order already applied).
    """

    n_qubits: int
    bases: np.ndarray | None = None
    bits: np.ndarray | None = None
    indices: np.ndarray | None = None


# --- reading ------------------------------------------------------------------------------------
def _fail(path: Path, where: str, what: str) -> DataFileError:
    return DataFileError(f"{path}: {where}: {what}")


def _read_csv_rows(path: Path, header: tuple[str, ...]) -> tuple[list[list[str]], list[int]]:
    """Data rows (lists of stripped cells) and their 1-based line numbers."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataFileError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise _fail(path, f"line {line}", "not UTF-8 text; expected a CSV file") from None
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
            f"{path}: empty file; expected a header line '{want}' followed by one line per shot"
        )
    cells = [c.strip().lower() for c in lines[head_idx].split(",")]
    if tuple(cells) != header:
        raise _fail(
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
            raise _fail(path, f"line {i + 1}", f"blank line; expected '{want}' values")
        rows.append([c.strip() for c in line.split(",")])
        numbers.append(i + 1)
    if not rows:
        raise DataFileError(f"{path}: no shots after the header '{want}'")
    return rows, numbers


def _check_cell(path: Path, where: str, col: str, cell: str, expect: str) -> None:
    if cell == "":
        raise _fail(path, where, f"column {col} is blank; expected {expect}")
    if cell.lower() in _NAN_WORDS:
        raise _fail(path, where, f"column {col} is {cell!r} (not a number); expected {expect}")


def _decode(path: Path, strings: list[str], numbers: list[int], col: str, code: np.ndarray,
            expect: str, n: int, bit_order: str, unit: str = "line") -> np.ndarray:
    """Equal-length strings -> (rows, N) codes via a byte lookup table; errors name the cell."""
    for s, ln in zip(strings, numbers, strict=True):
        if len(s) != n:
            raise _fail(
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
    return _fail(path, f"{unit} {ln}",
                 f"column {col}, character {k + 1} (qubit {q}) is {ch!r}; expected {expect}")


def read_pauli_basis(path: str | os.PathLike[str], bit_order: str = "q0-first") -> LabShots:
    """Read ``pauli-basis`` shots from a CSV or ``.npy`` file (see the module docstring)."""
    p = _existing(path)
    if p.suffix.lower() == ".npy":
        arr = _load_npy(p)
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
    rows, numbers = _read_csv_rows(p, ("bases", "bits"))
    bases, bits = [], []
    for row, ln in zip(rows, numbers, strict=True):
        if len(row) != 2:
            raise _fail(p, f"line {ln}",
                        f"{len(row)} columns; expected 2 (bases,bits), e.g. 'XZZY,0110'")
        bases.append(row[0])
        bits.append(row[1])
    return _pauli_from_strings(p, bases, bits, numbers, bit_order)


def _pauli_from_strings(p: Path, bases: list[str], bits: list[str], numbers: list[int],
                        bit_order: str, unit: str = "line") -> LabShots:
    if not bases:
        raise DataFileError(f"{p}: no shots")
    for b, s, ln in zip(bases, bits, numbers, strict=True):
        _check_cell(p, f"{unit} {ln}", "1 (bases)", b.strip(), "letters X, Y, Z, one per qubit")
        _check_cell(p, f"{unit} {ln}", "2 (bits)", s.strip(), "digits 0/1, one per qubit")
        if len(b) != len(s):
            raise _fail(p, f"{unit} {ln}",
                        f"bases has {len(b)} letters but bits has {len(s)} digits; expected one "
                        "of each per qubit")
    n = len(bases[0])
    bcode = _decode(p, bases, numbers, "1 (bases)", _BASIS_CODE, "X, Y or Z", n, bit_order, unit)
    bitcode = _decode(p, bits, numbers, "2 (bits)", _BIT_CODE, "0 or 1", n, bit_order, unit)
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
            raise _fail(p, f"row {r}", f"[{layer}, {k}] (qubit {q}) holds {name} {int(v[r, k])}; "
                        f"expected {'0, 1 or 2 (X, Y, Z)' if layer == 0 else '0 or 1'}")
    out = arr.astype(np.uint8)
    if bit_order == "q0-last":
        out = out[:, :, ::-1]
    return LabShots(n_qubits=n, bases=out[:, 0, :].copy(), bits=out[:, 1, :].copy())


def read_outcomes(path: str | os.PathLike[str], K: int, bit_order: str = "q0-first") -> LabShots:  # noqa: N803
    """Read POVM outcome indices ``0..K-1`` from a CSV (header ``outcomes``) or ``.npy``."""
    p = _existing(path)
    expect = f"an outcome index 0..{K - 1}"
    if p.suffix.lower() == ".npy":
        arr = _load_npy(p)
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
            raise _fail(p, f"row {r}", f"column {k} (qubit {q}) holds {int(arr[r, k])}; "
                        f"expected {expect}")
        idx = arr.astype(np.uint8)
        return LabShots(n_qubits=arr.shape[1],
                        indices=idx[:, ::-1].copy() if bit_order == "q0-last" else idx)
    rows, numbers = _read_csv_rows(p, ("outcomes",))
    strings = []
    for row, ln in zip(rows, numbers, strict=True):
        if len(row) != 1:
            raise _fail(p, f"line {ln}", f"{len(row)} columns; expected 1 (outcomes), e.g. '0312'")
        _check_cell(p, f"line {ln}", "1 (outcomes)", row[0], "one digit per qubit")
        strings.append(row[0])
    n = len(strings[0])
    code = _DIGIT_CODE.copy()
    code[code >= K] = -1
    idx = _decode(p, strings, numbers, "1 (outcomes)", code, expect, n, bit_order)
    return LabShots(n_qubits=n, indices=idx.astype(np.uint8))


def _existing(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"{p}: no such file")
    if p.is_dir():
        raise DataFileError(f"{p}: is a directory; expected a CSV or .npy file of shots")
    if p.stat().st_size == 0:
        raise DataFileError(f"{p}: empty file; expected a CSV or .npy file of shots")
    return p


def _load_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataFileError(f"{p}: not a readable .npy array ({str(e).splitlines()[0][:100]})") \
            from None


# --- basis statistics ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BasisCheck:
    """Result of the basis-frequency tests.

    Attributes
    ----------
    counts : (N, 3) counts of X, Y, Z per qubit
    weights : pooled frequencies (q_x, q_y, q_z)
    p_uniform : chi-square p-value of the pooled counts against 1/3 each
    p_homogeneous : chi-square p-value of "every qubit has the same basis frequencies"
    p_independent : chi-square p-value of "neighbouring qubits choose bases independently"
    uniform : whether the uniform Pauli-6 POVM is kept (p_uniform >= alpha)
    warnings : messages for the user
    """

    counts: np.ndarray
    weights: tuple[float, float, float]
    p_uniform: float
    p_homogeneous: float
    p_independent: float
    uniform: bool
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = self.counts.tolist()
        d["warnings"] = list(self.warnings)
        return d


def check_bases(bases: np.ndarray, alpha: float = 0.01) -> BasisCheck:
    """Chi-square tests of the measured bases (codes 0, 1, 2 = X, Y, Z), shape (shots, N)."""
    from scipy.stats import chi2, chi2_contingency

    b = np.asarray(bases)
    shots, n = b.shape
    counts = np.stack([(b == k).sum(0) for k in range(3)], axis=1).astype(np.int64)  # N x 3
    pooled = counts.sum(0).astype(float)
    total = pooled.sum()
    exp = total / 3
    stat = float(((pooled - exp) ** 2 / exp).sum())
    p_uniform = float(chi2.sf(stat, 2))
    weights = tuple(float(x) for x in pooled / total)
    msgs: list[str] = []
    p_homog = 1.0
    if n > 1:
        table = counts[:, pooled > 0]
        if table.shape[1] > 1:
            p_homog = float(chi2_contingency(table)[1])
    p_indep = 1.0
    if n > 1 and shots > 1:
        # pooled 3x3 table of (basis_j, basis_{j+1}) over neighbouring pairs
        pair = np.zeros((3, 3))
        for j in range(n - 1):
            np.add.at(pair, (b[:, j], b[:, j + 1]), 1)
        keep_r, keep_c = pair.sum(1) > 0, pair.sum(0) > 0
        sub = pair[np.ix_(keep_r, keep_c)]
        if sub.shape[0] > 1 and sub.shape[1] > 1:
            p_indep = float(chi2_contingency(sub)[1])
    uniform = p_uniform >= alpha
    if min(weights) == 0.0:
        missing = ", ".join(x for x, w in zip("XYZ", weights, strict=True) if w == 0)
        raise InputValueError(
            f"no shot measured basis {missing}; a POVM without it is not informationally "
            "complete, so the state cannot be reconstructed from these shots"
        )
    if not uniform:
        msgs.append(
            f"basis frequencies X {weights[0]:.4f}, Y {weights[1]:.4f}, Z {weights[2]:.4f} differ "
            f"from 1/3 (chi-square p = {p_uniform:.2g} < {alpha}); using the Pauli-6 POVM "
            "weighted by the measured frequencies"
        )
    if p_homog < alpha:
        msgs.append(
            f"basis frequencies differ between qubits (chi-square p = {p_homog:.2g}); qtomo "
            "uses one POVM for every qubit, built from the pooled frequencies"
        )
    if p_indep < alpha:
        msgs.append(
            f"bases of neighbouring qubits are correlated (chi-square p = {p_indep:.2g}); the "
            "product-POVM reading assumes each qubit's basis is drawn independently"
        )
    return BasisCheck(counts, weights, p_uniform, p_homog, p_indep, uniform, tuple(msgs))


# --- conversion ---------------------------------------------------------------------------------
def pauli_basis_to_outcomes(bases: np.ndarray, bits: np.ndarray) -> Outcomes:
    """Pauli-6 outcomes ``2 * basis + bit`` (order +x, -x, +y, -y, +z, -z), uint8."""
    return (2 * np.asarray(bases, dtype=np.uint8) + np.asarray(bits, dtype=np.uint8)).astype(
        np.uint8
    )


def lab_frame(povm: str, weights: tuple[float, float, float] | None) -> Frame:
    """The POVM of imported pauli-basis shots: (weighted) Pauli-6 or its Pauli-4 coarse-graining."""
    f6 = pauli6(weights)
    if povm == "pauli6":
        return f6
    return f6.coarse_grain(PAULI4_GROUPS, "pauli4" if weights is None else "pauli4-weighted")


@dataclass
class ImportedShots:
    """Outcomes ready to store, with the POVM and what the checks found."""

    outcomes: Outcomes
    frame: Frame
    basis_check: BasisCheck | None


def convert(shots: LabShots, cfg: LabImportConfig) -> ImportedShots:
    """Turn parsed shots into POVM outcomes and the POVM they were measured with."""
    if cfg.format == "outcomes":
        assert shots.indices is not None
        return ImportedShots(shots.indices, get_frame(cfg.povm), None)
    assert shots.bases is not None and shots.bits is not None
    check = check_bases(shots.bases, cfg.basis_alpha)
    weights = None if check.uniform else check.weights
    out6 = pauli_basis_to_outcomes(shots.bases, shots.bits)
    frame = lab_frame(cfg.povm, weights)
    out = out6 if cfg.povm == "pauli6" else PAULI6_TO_PAULI4[out6]
    return ImportedShots(out, frame, check)


# --- target -------------------------------------------------------------------------------------
def load_state_vector(path: str | os.PathLike[str], n: int) -> np.ndarray:
    """A big-endian state vector of ``n`` qubits from ``.npy`` (normalised, complex128)."""
    p = _existing(path)
    v = _load_npy(p)
    if v.ndim != 1 or v.size != 2**n:
        raise DataFileError(
            f"{p}: array of shape {v.shape}; expected a state vector of shape ({2**n},) for the "
            f"{n} qubits of the shots"
        )
    if v.dtype.kind not in "iufc":
        raise DataFileError(f"{p}: dtype {v.dtype}; expected real or complex numbers")
    v = v.astype(np.complex128)
    if not np.all(np.isfinite(v)):
        raise DataFileError(f"{p}: the state vector holds NaN or infinite entries")
    norm = float(np.linalg.norm(v))
    if norm == 0:
        raise DataFileError(f"{p}: the state vector is zero")
    return v / norm


def build_lab_target(cfg: LabImportConfig, n: int) -> Target:
    """The target stored in ``/target``: ``none`` (attributes only), GHZ or TFIM (built as
    ``qtomo simulate`` builds them, noise-free) or a ``.npy`` state vector; see
    :mod:`qtomo.states.targets` for how it is kept (``psi`` for N <= 16, an MPS above)."""
    nan = float("nan")
    base = {"n_qubits": n, "J": nan, "h": nan, "boundary": "none", "method": "none",
            "noise": 0.0, "seed": -1, "energy": nan, "truncation_error": nan,
            "observables_include_noise": True, "origin": "lab"}
    if cfg.target == "none":
        return Target(attrs={**base, "state": "unknown"})
    if cfg.target in ("ghz", "tfim"):
        t = build_target(cfg.target, n, J=cfg.J, h=cfg.h, boundary=cfg.boundary, noise=0.0)
        t.attrs = {**base, **t.attrs, "origin": "lab", "symmetry": "none"}
        return t
    psi = load_state_vector(cfg.target, n)
    attrs = {**base, "state": "custom", "method": "exact", "target_file": str(cfg.target)}
    return target_from_statevector(psi, attrs)


# --- the whole import ---------------------------------------------------------------------------
def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_lab_shots(source: str | os.PathLike[str], out: str | os.PathLike[str],
                     cfg: LabImportConfig, *, overwrite: bool = False) -> dict[str, Any]:
    """Read, check and convert lab shots and write them to a dataset file atomically.

    Every check runs before the output is opened, so a bad file leaves no output. Warnings of
    the basis check are issued as :class:`LabImportWarning` and returned in the summary.
    """
    from qtomo.data.hdf5 import DatasetWriter, check_output_path

    cfg = cfg.validate()
    out_path = check_output_path(out, overwrite)
    src = Path(source)
    if cfg.format == "pauli-basis":
        shots = read_pauli_basis(src, cfg.bit_order)
    else:
        shots = read_outcomes(src, get_frame(cfg.povm).K, cfg.bit_order)
    n = shots.n_qubits
    if n < 1:
        raise DataFileError(f"{src}: shots of 0 qubits")
    conv = convert(shots, cfg)
    target = build_lab_target(cfg, n)
    check = conv.basis_check
    for msg in check.warnings if check else ():
        warnings.warn(msg, LabImportWarning, stacklevel=2)
    config = {
        "command": "import", **asdict(cfg), "source": str(src.resolve()),
        "source_sha256": file_sha256(src), "n_qubits": n, "shots": int(len(conv.outcomes)),
        "povm_name": conv.frame.name,
        "basis_check": check.as_dict() if check else None,
    }
    with DatasetWriter(out_path, n_qubits=n, shots=len(conv.outcomes), frame=conv.frame,
                       with_log_p=False, eval_shots=0, config=config, overwrite=overwrite) as w:
        for s in range(0, len(conv.outcomes), 1 << 18):
            w.write_block(s, conv.outcomes[s : s + (1 << 18)])
        w.write_target(target)
    return {
        "out": str(out_path), "n_qubits": n, "shots": int(len(conv.outcomes)),
        "povm": conv.frame.name, "K": conv.frame.K, "format": cfg.format,
        "target": target.attrs["state"],
        "basis_weights": list(check.weights) if check else None,
        "basis_uniform": check.uniform if check else None,
        "basis_p_value": check.p_uniform if check else None,
        "warnings": list(check.warnings) if check else [],
    }


__all__ = [
    "BIT_ORDERS",
    "FORMATS",
    "PAULI4_GROUPS",
    "PAULI6_TO_PAULI4",
    "BasisCheck",
    "ImportedShots",
    "LabImportConfig",
    "LabImportWarning",
    "LabShots",
    "build_lab_target",
    "check_bases",
    "convert",
    "import_lab_shots",
    "lab_frame",
    "load_state_vector",
    "pauli_basis_to_outcomes",
    "read_outcomes",
    "read_pauli_basis",
]
