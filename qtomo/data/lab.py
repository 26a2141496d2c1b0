"""Import lab data into a qtomo dataset (library side of ``qtomo import``).

Formats (``format``; ``auto`` picks one from the file, see :func:`detect_format`)
---------------------------------------------------------------------------------
* ``pauli-basis`` -- per shot and qubit a Pauli basis letter and a bit (CSV ``bases,bits`` or
  ``.npy``), layouts in :mod:`qtomo.data.lab_files`. Bases drawn per shot: design ``random``.
* ``outcomes`` -- POVM outcome indices of a known POVM (``povm`` = pauli4, tetra or pauli6),
  CSV ``outcomes`` or ``.npy`` (:mod:`qtomo.data.lab_files`); never auto-detected.
* ``counts`` -- counts per fixed measurement setting (JSON, or CSV ``setting,outcome,count``),
  expanded into shuffled per-shot rows; design ``fixed``, optional calibration counts
  (:mod:`qtomo.data.counts`, :mod:`qtomo.data.readout`); with ``design``, the ``qtomo plan``
  design the counts follow and its target are attached (:mod:`qtomo.data.lab_plan`).
* ``shadow`` -- a classical shadow ``.npz`` (``bits``, ``recipes``; PennyLane's convention),
  design ``random`` (:mod:`qtomo.data.counts`).

``bit_order="q0-first"`` (default): the first character of every string is qubit 0;
``"q0-last"`` (Qiskit's convention): the last character is qubit 0.

Each (basis, bit) becomes the Pauli-6 outcome ``2 * basis + bit`` in the order
(+x, -x, +y, -y, +z, -z); ``povm="pauli4"`` coarse-grains it (+z -> 0, +x -> 1, +y -> 2, the
three minus outcomes -> 3), except for counts, which stay Pauli-6 so that every shot keeps the
basis of its setting. The Pauli-6 reading assumes every qubit's basis is drawn
independently and uniformly (a fixed design with every setting measured equally often has
exactly those frequencies). The importer tests the pooled basis counts against 1/3 each with a
chi-square test; when they differ (p < ``basis_alpha``) it warns and builds the POVM from the
measured frequencies, ``pauli6(basis_weights=(q_x, q_y, q_z))`` (then its coarse-graining).
It also warns when the basis frequencies differ between qubits or the bases of neighbouring
qubits are correlated, cases that no single product POVM describes. A fixed design (counts
per setting) is not a draw of bases: it keeps the uniform Pauli-6 POVM without warnings (the
test's figures stay in the summary), and the stored design makes the models condition on the
settings and the direct estimators stratify by them.

The dataset records the design (:class:`~qtomo.data.design.Design`) and, when calibration
counts or readout matrices are given, the readout confusion matrices
(:class:`~qtomo.data.design.Readout`) and the effective per-qubit POVM they make (the ideal
elements misread; ``qtomo reconstruct`` inverts it, which corrects the readout). Every problem in a
file ends the import with a :class:`~qtomo.errors.DataFileError` naming the place, before any
output is written.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.basis_check import BasisCheck, check_bases
from qtomo.data.counts import read_counts, read_shadow
from qtomo.data.design import Design
from qtomo.data.design_file import DesignSpec
from qtomo.data.hdf5 import DatasetWriter, check_output_path
from qtomo.data.lab_files import (
    LabShots,
    existing_file,
    file_sha256,
    load_npy,
    read_outcomes,
    read_pauli_basis,
)
from qtomo.data.lab_plan import attach_plan, planned_target, read_plan
from qtomo.data.readout import import_readout
from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.frames import Frame, get_frame, pauli6
from qtomo.states.targets import Target, build_target, target_from_statevector
from qtomo.typing import Outcomes

FORMATS = ("auto", "pauli-basis", "outcomes", "counts", "shadow")
BIT_ORDERS = ("q0-first", "q0-last")
LAB_POVMS = {"pauli-basis": ("pauli6", "pauli4"), "outcomes": ("pauli4", "tetra", "pauli6"),
             "counts": ("pauli6",), "shadow": ("pauli6", "pauli4"),
             "auto": ("pauli6", "pauli4")}
#: Pauli-6 outcome -> Pauli-4 outcome (+x->1, -x->3, +y->2, -y->3, +z->0, -z->3).
PAULI6_TO_PAULI4 = np.array([1, 3, 2, 3, 0, 3], dtype=np.uint8)
#: Pauli-4 outcome k merges these Pauli-6 outcomes.
PAULI4_GROUPS = [[4], [0], [2], [1, 3, 5]]


class LabImportWarning(UserWarning):
    """The shots do not fit the assumptions of the uniform Pauli-6 reading."""


@dataclass(frozen=True)
class LabImportConfig:
    """Everything that defines an import (recorded in the dataset's config).

    Attributes
    ----------
    format : ``auto``, ``pauli-basis``, ``outcomes``, ``counts`` or ``shadow``
        (``auto`` is resolved from the file by :func:`detect_format` before it is recorded)
    povm : output POVM for ``pauli-basis`` and ``shadow`` (``pauli6`` or ``pauli4``) and
        ``counts`` (``pauli6``); the POVM of the indices for ``outcomes`` (``pauli4``,
        ``tetra`` or ``pauli6``).
    bit_order : ``q0-first`` or ``q0-last``
    target : ``none``, ``ghz``, ``tfim`` or the path of a ``.npy`` state vector (big-endian)
    J, h, boundary : TFIM couplings of ``target="tfim"``
    basis_alpha : significance level of the basis-frequency chi-square test
    seed : seed of the shuffle of expanded counts (see :mod:`qtomo.data.counts`)
    calibration : path of a calibration-counts JSON file, or None
    readout : path of a JSON file of per-qubit confusion matrices, or None
    design : path of the ``qtomo plan`` design the counts follow, or None
        (:mod:`qtomo.data.lab_plan`; the target then is the plan's)
    """

    format: str = "auto"
    povm: str = "pauli6"
    bit_order: str = "q0-first"
    target: str = "none"
    J: float = 1.0
    h: float = 1.0
    boundary: str = "open"
    basis_alpha: float = 0.01
    seed: int = 1234
    calibration: str | None = None
    readout: str | None = None
    design: str | None = None

    def validate(self) -> LabImportConfig:
        if self.format not in FORMATS:
            raise InputValueError(
                f"unknown --format {self.format!r}; expected one of {', '.join(FORMATS)}"
            )
        if self.povm not in LAB_POVMS[self.format]:
            why = {"counts": " (counts stay in the Pauli-6 encoding, in which every shot keeps "
                             "the basis of its setting)",
                   "auto": f" (outcome indices of {self.povm} need --format outcomes)"
                   }.get(self.format, "")
            raise InputValueError(
                f"--povm {self.povm} does not apply to --format {self.format}; expected one of "
                f"{', '.join(LAB_POVMS[self.format])}{why}"
            )
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputValueError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if self.calibration is not None and self.readout is not None:
            raise InputValueError("give --calibration (counts) or --readout (matrices), not both")
        if self.format == "outcomes" and (self.calibration or self.readout):
            raise InputValueError("--calibration and --readout apply to measured bits "
                                  "(pauli-basis, counts, shadow), not to POVM outcome indices")
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
    if shots.design is not None and shots.design.kind == "fixed":
        # chosen settings, not drawn bases: the Pauli-6 POVM with its own 1/3 weights, and
        # the design (stored) tells the models and the direct estimators the rest
        check = (check_bases(shots.bases, cfg.basis_alpha, require_all=False)
                 if len(shots.bases) else None)
        out6 = pauli_basis_to_outcomes(shots.bases, shots.bits)
        out = out6 if cfg.povm == "pauli6" else PAULI6_TO_PAULI4[out6]
        return ImportedShots(out, lab_frame(cfg.povm, None),
                             check and replace(check, uniform=True, warnings=()))
    check = check_bases(shots.bases, cfg.basis_alpha)
    weights = None if check.uniform else check.weights
    out6 = pauli_basis_to_outcomes(shots.bases, shots.bits)
    frame = lab_frame(cfg.povm, weights)
    out = out6 if cfg.povm == "pauli6" else PAULI6_TO_PAULI4[out6]
    return ImportedShots(out, frame, check)


# --- target -------------------------------------------------------------------------------------
def load_state_vector(path: str | os.PathLike[str], n: int) -> np.ndarray:
    """A big-endian state vector of ``n`` qubits from ``.npy`` (normalised, complex128)."""
    p = existing_file(path, "a .npy state vector")
    v = load_npy(p)
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
    if cfg.target in ("ghz", "tfim", "cluster"):  # cluster: a plan's target
        t = build_target(cfg.target, n, J=cfg.J, h=cfg.h, boundary=cfg.boundary, noise=0.0)
        t.attrs = {**base, **t.attrs, "origin": "lab", "symmetry": "none"}
        return t
    psi = load_state_vector(cfg.target, n)
    attrs = {**base, "state": "custom", "method": "exact", "target_file": str(cfg.target)}
    return target_from_statevector(psi, attrs)



# --- the whole import ---------------------------------------------------------------------------
def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a lab file, from its extension and first bytes.

    ``.json`` -> counts, ``.npz`` -> shadow, ``.npy`` -> pauli-basis; a CSV whose header is
    ``setting,outcome,count`` (or ``theta_0,phi_0,...,outcome,count``) -> counts, any other
    CSV -> pauli-basis. Other extensions: JSON
    text -> counts, a zip archive -> shadow, else pauli-basis. ``outcomes`` (digit strings of
    some POVM) is never guessed: pass ``--format outcomes --povm ...``.
    """
    p = existing_file(path, "a lab file (shots, counts or a classical shadow)")
    ext = p.suffix.lower()
    fixed = {".json": "counts", ".npz": "shadow", ".npy": "pauli-basis"}
    if ext in fixed:
        return fixed[ext]
    with open(p, "rb") as f:
        head = f.read(1 << 16)
    if ext != ".csv":
        if head.startswith(b"PK"):
            return "shadow"
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
            return "counts"
    for line in head.decode("utf-8", errors="replace").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            cells = tuple(c.strip().lower() for c in line.split(","))
            counts = cells[-2:] == ("outcome", "count") and cells[0] in ("setting", "theta_0")
            return "counts" if counts else "pauli-basis"
    return "pauli-basis"


def read_lab_file(src: Path, cfg: LabImportConfig) -> LabShots:
    """Parse ``src`` in the (resolved) format of ``cfg``."""
    if cfg.format == "pauli-basis":
        return read_pauli_basis(src, cfg.bit_order)
    if cfg.format == "counts":
        return read_counts(src, cfg.bit_order, cfg.seed)
    if cfg.format == "shadow":
        return read_shadow(src, cfg.bit_order)
    return read_outcomes(src, get_frame(cfg.povm).K, cfg.bit_order)


def with_plan(src: Path, shots: LabShots, cfg: LabImportConfig
              ) -> tuple[LabShots, LabImportConfig, DesignSpec | None]:
    """The shots on the settings of the plan ``cfg.design`` names, with the plan attached, and
    the config with the plan's target (:mod:`qtomo.data.lab_plan`); unchanged without one."""
    if cfg.design is None:
        return shots, cfg, None
    plan = read_plan(cfg.design)
    shots = attach_plan(src, shots, plan, Path(cfg.design))
    target = planned_target(plan, cfg.design, cfg.target, cfg.J, cfg.h, cfg.boundary)
    return shots, replace(cfg, **target), plan


def import_lab_shots(source: str | os.PathLike[str], out: str | os.PathLike[str],
                     cfg: LabImportConfig, *, overwrite: bool = False) -> dict[str, Any]:
    """Read, check and convert lab shots and write them to a dataset file atomically.

    Every check runs before the output is opened, so a bad file leaves no output. Warnings of
    the basis check are issued as :class:`LabImportWarning` and returned in the summary. The
    dataset records the design and, when given, the readout confusion matrices with the
    effective per-qubit POVM they make.
    """
    cfg = cfg.validate()
    out_path = check_output_path(out, overwrite)
    src = Path(source)
    if cfg.format == "auto":
        cfg = replace(cfg, format=detect_format(src)).validate()
    shots = read_lab_file(src, cfg)
    n = shots.n_qubits
    if n < 1:
        raise DataFileError(f"{src}: shots of 0 qubits")
    shots, cfg, plan = with_plan(src, shots, cfg)
    design = shots.design or Design("random")
    readout = import_readout(src, n, cfg.bit_order, shots.calibration, cfg.calibration,
                             cfg.readout)
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
        "readout_source": None if readout is None else str(Path(readout.source_file).resolve()),
        "readout_sha256": None if readout is None else file_sha256(readout.source_file),
        "design_sha256": None if cfg.design is None else file_sha256(cfg.design),
    }
    axis_rows = 0 if shots.axis_index is None else len(shots.axis_index)
    with DatasetWriter(out_path, n_qubits=n, shots=len(conv.outcomes), frame=conv.frame,
                       with_log_p=False, eval_shots=0, config=config, overwrite=overwrite,
                       axis_shots=axis_rows) as w:
        for s in range(0, len(conv.outcomes), 1 << 18):
            w.write_block(s, conv.outcomes[s : s + (1 << 18)])
        if axis_rows:
            w.write_axis_block(0, shots.axis_index, shots.axis_bits)
        w.write_target(target)
        w.write_design(design)
        if readout is not None:
            w.write_readout(readout)
    return {
        "out": str(out_path), "n_qubits": n, "shots": int(len(conv.outcomes)),
        **({"axis_shots": axis_rows} if axis_rows else {}),
        "povm": conv.frame.name, "K": conv.frame.K, "format": cfg.format,
        "target": target.attrs["state"],
        "basis_weights": list(check.weights) if check else None,
        "basis_uniform": check.uniform if check else None,
        "basis_p_value": check.p_uniform if check else None,
        "design": design.summary(),
        "protocol": None if plan is None else plan.protocol,
        "readout": None if readout is None else readout.summary(),
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
    "detect_format",
    "import_lab_shots",
    "lab_frame",
    "load_state_vector",
    "pauli_basis_to_outcomes",
    "read_lab_file",
    "read_outcomes",
    "read_pauli_basis",
    "with_plan",
]
