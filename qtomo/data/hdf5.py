"""Reading and writing qtomo dataset files (see :mod:`qtomo.data.schema`).

Writes are atomic: a :class:`~qtomo.data.writer.DatasetWriter` (re-exported here) fills a
temporary file beside the target and renames it only after the ``complete`` flag is set.
:func:`open_dataset` validates a file and
names exactly what is wrong; it reads the shots block by block, so files larger than memory
can be used for training.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from qtomo.data.design import Design, Readout, read_design, read_readout
from qtomo.data.design_file import DesignSpec, design_from_text
from qtomo.data.schema import READABLE_VERSIONS
from qtomo.data.writer import DatasetWriter, check_output_path
from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.frames import (
    AnyFrame,
    FrameError,
    LocalFrames,
    frame_from_elements,
    readout_frames,
    site_operators,
)
from qtomo.states.mps import MPS
from qtomo.typing import FloatArray, Outcomes

#: Outcome arrays up to this many entries are range-checked in full when opened; larger ones
#: are checked block by block as they are read.
_FULL_CHECK_ENTRIES = 200_000_000


class Dataset:
    """A validated, open qtomo dataset. Use :func:`open_dataset`.

    Attributes
    ----------
    path : Path
    n_qubits, shots, eval_shots, K : int
    frame : Frame
        The ideal POVM, rebuilt from the stored elements.
    has_log_p : bool
        Whether exact ``log_p_true`` is stored (training and evaluation shots).
    config : dict
        The configuration that produced the file.
    target : dict
        Target attributes (state, J, h, boundary, method, noise, seed, energy, ...).
    design : Design
        How the bases were chosen: ``kind`` ``random`` (drawn per shot; also every file
        without ``/design``) or ``fixed`` (with ``settings`` and ``shots_per_setting``, and
        ``axes`` when some settings measure along other axes than X, Y, Z).
    axis_shots : int
        Shots of axis settings, stored apart from the Pauli-6 ``outcomes`` (0 for most files);
        :meth:`setting_shots` gives every shot's setting and bits.
    readout : Readout or None
        Readout confusion matrices with standard errors and source.
    measured_frame : Frame or LocalFrames
        The POVM the recorded bits follow, per qubit: the ideal one misread through
        ``readout`` (``/povm/site_elements``), or ``frame`` when there is no readout.
    """

    def __init__(self, path: Path, f: h5py.File) -> None:
        self.path = path
        self._f = f
        self._validate()

    # -- validation --------------------------------------------------------------------------
    def _fail(self, what: str) -> DataFileError:
        return DataFileError(f"{self.path}: {what}")

    def _validate(self) -> None:
        f = self._f
        if "schema_version" not in f.attrs:
            raise self._fail("not a qtomo dataset (no schema_version attribute)")
        version = int(f.attrs["schema_version"])
        if version not in READABLE_VERSIONS:
            raise self._fail(
                f"schema version {version} is not supported (this qtomo reads "
                f"{', '.join(map(str, READABLE_VERSIONS))}); re-create the file with this qtomo "
                "version"
            )
        self.schema_version = version
        if not bool(f.attrs.get("complete", False)):
            raise self._fail("incomplete dataset (its writer was interrupted); simulate it again")
        if "povm" not in f or "elements" not in f["povm"]:
            raise self._fail("missing /povm/elements")
        elements = f["povm/elements"][()]
        k_attr = int(f["povm"].attrs.get("K", -1))
        if elements.ndim != 3 or elements.shape[1:] != (2, 2):
            raise self._fail(f"/povm/elements has shape {elements.shape}, expected (K, 2, 2)")
        if k_attr != elements.shape[0]:
            raise self._fail(f"/povm K={k_attr} does not match {elements.shape[0]} elements")
        try:
            self.frame = frame_from_elements(str(f["povm"].attrs.get("name", "custom")), elements)
        except FrameError as e:
            raise self._fail(f"invalid POVM: {e}") from None
        self.K = self.frame.K
        self.axis_shots = self._check_axis_shots(f)
        self._check_shots(f, "outcomes", "log_p_true", "", empty_ok=self.axis_shots > 0)
        self.n_qubits = int(f["outcomes"].shape[1])
        self.shots = int(f["outcomes"].shape[0])
        self.has_log_p = "log_p_true" in f
        if "eval" in f:
            self._check_shots(f["eval"], "outcomes", "log_p_true", "eval/")
            self.eval_shots = int(f["eval/outcomes"].shape[0])
            if f["eval/outcomes"].shape[1] != self.n_qubits:
                raise self._fail("eval/outcomes has a different qubit count than outcomes")
        else:
            self.eval_shots = 0
        self.config = json.loads(f.attrs.get("config", "{}"))
        self.target = {k: _py(v) for k, v in f["target"].attrs.items()} if "target" in f else {}
        design, problem = read_design(f, self.n_qubits, self.shots, self.axis_shots)
        if problem or design is None:
            raise self._fail(problem or "unreadable /design")
        self.design: Design = design
        self._check_axis_settings()
        self.readout: Readout | None
        self.readout, problem = read_readout(f, self.n_qubits)
        if problem:
            raise self._fail(problem)
        self.measured_frame = self._read_site_elements(f)

    def _read_site_elements(self, f: h5py.File) -> AnyFrame:
        """The POVM each qubit's recorded bits follow (``/povm/site_elements``, see schema)."""
        if "site_elements" not in f["povm"]:
            if self.readout is None:
                return self.frame
            try:  # a version-1 file with a stored readout: build the effective POVM now
                return readout_frames(self.frame, self.readout.confusion)
            except FrameError as e:
                raise self._fail(f"/readout cannot act on this POVM: {e}") from None
        m = f["povm/site_elements"][()]
        if m.shape != (self.n_qubits, self.K, 2, 2):
            raise self._fail(f"/povm/site_elements has shape {m.shape}, expected "
                             f"({self.n_qubits}, {self.K}, 2, 2)")
        if self.readout is not None:  # the stored elements are the readout's: its duals
            measured = readout_frames(self.frame, self.readout.confusion)
            if np.allclose(site_operators(measured, self.n_qubits), m, atol=1e-12):
                return measured
        frames = []
        for q in range(self.n_qubits):
            try:
                frames.append(frame_from_elements(f"{self.frame.name}+readout", m[q]))
            except FrameError as e:
                raise self._fail(f"/povm/site_elements[{q}] is not a valid POVM: {e}") from None
        if all(np.array_equal(m[q], m[0]) for q in range(self.n_qubits)):
            return frames[0]
        return LocalFrames(tuple(frames), f"{self.frame.name}+readout")

    def frame_for(self, *, readout_correction: bool = True) -> AnyFrame:
        """The POVM to invert the Born rule with: the measured (effective) one, which removes
        readout errors, or the ideal one (``readout_correction=False``)."""
        return self.measured_frame if readout_correction else self.frame

    def _check_shots(self, g: h5py.Group, name: str, lp: str, prefix: str,
                     empty_ok: bool = False, k: int | None = None) -> None:
        if name not in g:
            raise self._fail(f"missing /{prefix}{name}")
        d = g[name]
        if d.ndim != 2 or d.shape[0] < (0 if empty_ok else 1) or d.shape[1] < 1:
            raise self._fail(f"/{prefix}{name} has shape {d.shape}, expected (shots>=1, N>=1)")
        if d.dtype != np.uint8:
            raise self._fail(f"/{prefix}{name} has dtype {d.dtype}, expected uint8")
        if d.size <= _FULL_CHECK_ENTRIES:
            for s in range(0, d.shape[0], 1 << 20):
                self._check_range(d[s : s + (1 << 20)], f"/{prefix}{name}", s, k)
        if lp in g and (g[lp].shape != (d.shape[0],) or g[lp].dtype != np.float64):
            raise self._fail(
                f"/{prefix}{lp} has shape {g[lp].shape} and dtype {g[lp].dtype}, "
                f"expected ({d.shape[0]},) float64"
            )

    def _check_range(self, block: np.ndarray, name: str, offset: int, k: int | None = None
                     ) -> None:
        what = f"the POVM has only K={self.K} outcomes" if k is None else "bits are 0 or 1"
        k = self.K if k is None else k
        if block.size and int(block.max()) >= k:
            row = offset + int(np.argwhere(block >= k)[0, 0])
            raise self._fail(
                f"{name} row {row} holds outcome {int(block.max())}, but {what} (0..{k - 1})"
            )

    def _check_axis_shots(self, f: h5py.File) -> int:
        """Rows of ``/axis_shots`` (bits 0/1, a setting index per row), 0 when absent."""
        if "axis_shots" not in f:
            return 0
        g = f["axis_shots"]
        self._check_shots(g, "bits", "log_p_true", "axis_shots/", k=2)
        rows = int(g["bits"].shape[0])
        idx = g.get("setting_index")
        if idx is None or idx.shape != (rows,) or idx.dtype.kind not in "iu":
            raise self._fail(f"/axis_shots/setting_index must be integers ({rows},)")
        return rows

    def _check_axis_settings(self) -> None:
        """Every axis shot names an axis setting of the design."""
        if not self.axis_shots:
            return
        if self._f["axis_shots/bits"].shape[1] != self.n_qubits:
            raise self._fail("/axis_shots/bits has a different qubit count than /outcomes")
        mask = self.design.axis_mask
        idx = self._f["axis_shots/setting_index"][()]
        if idx.min() < 0 or idx.max() >= mask.size or not mask[idx].all():
            raise self._fail("/axis_shots/setting_index names settings that are not axis "
                             f"settings of the design (0..{mask.size - 1} with an axis)")

    # -- access -------------------------------------------------------------------------------
    def outcomes(self, start: int = 0, stop: int | None = None) -> Outcomes:
        """Training shots ``start:stop`` as uint8 ``(rows, N)`` (read from disk)."""
        block = self._f["outcomes"][start:stop]
        self._check_range(block, "/outcomes", start)
        return block

    def log_p_true(self, start: int = 0, stop: int | None = None) -> FloatArray | None:
        """Exact log P of training shots ``start:stop``, or None when not stored."""
        return self._f["log_p_true"][start:stop] if self.has_log_p else None

    def eval_outcomes(self) -> Outcomes | None:
        """The evaluation shots (never for training), or None."""
        return self._f["eval/outcomes"][()] if self.eval_shots else None

    def eval_log_p(self) -> FloatArray | None:
        """Exact log P of the evaluation shots, or None."""
        if self.eval_shots and "log_p_true" in self._f["eval"]:
            return self._f["eval/log_p_true"][()]
        return None

    def setting_shots(self) -> tuple[np.ndarray, np.ndarray]:
        """Every shot's setting and bits: ``(setting_index int64 (M,), bits uint8 (M, N))``.

        ``setting_index`` indexes ``design.settings``; bit 0 is the +1 outcome of the setting's
        axis on that qubit (:mod:`qtomo.povm.axes`). The Pauli settings' shots come first, in
        file order, read from their Pauli-6 outcomes (setting from outcome // 2, bit from
        outcome % 2), then the axis settings' shots (``/axis_shots``). M = shots + axis_shots.
        Fixed designs only (shots in random bases have no settings).
        """
        d = self.design
        if d.kind != "fixed" or d.settings is None:
            raise InputValueError(f"{self.path}: the shots were measured in bases drawn per "
                                  "shot (design random); they have no fixed settings")
        a = self.outcomes()
        idx_p = np.zeros(len(a), dtype=np.int64)
        if len(a):
            if self.K != 6:
                raise InputValueError(f"{self.path}: fixed-design shots are read from Pauli-6 "
                                      f"outcomes, but the POVM has K = {self.K}")
            idx_p = self._pauli_setting_index(a // 2)
        bits_p = (a % 2).astype(np.uint8)
        if not self.axis_shots:
            return idx_p, bits_p
        g = self._f["axis_shots"]
        return (np.concatenate([idx_p, g["setting_index"][()].astype(np.int64)]),
                np.concatenate([bits_p, g["bits"][()]]))

    def _pauli_setting_index(self, bases: np.ndarray) -> np.ndarray:
        """The setting of every Pauli shot (bases (M, N) 0 X, 1 Y, 2 Z); the shots of a
        setting listed several times go to its entries in file order (module
        :mod:`qtomo.data.schema`: they are draws of one measurement)."""
        d = self.design
        rows, inverse = np.unique(bases, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        entries: dict[str, list[int]] = {}
        for i, s in enumerate(d.settings or ()):
            entries.setdefault(s, []).append(i)
        labels = ["".join("XYZ"[c] for c in r) for r in rows]
        missing = [s for s in labels if s not in entries]
        if missing:
            raise self._fail(f"shots measured in {missing[0]!r}, which is not a setting of "
                             "the design")
        idx = np.array([entries[s][0] for s in labels], dtype=np.int64)[inverse]
        counts = np.asarray(d.shots_per_setting, dtype=np.int64)
        for r, s in enumerate(labels):
            if len(entries[s]) > 1:
                at = np.flatnonzero(inverse == r)
                share = np.repeat(entries[s], counts[entries[s]])
                if share.size != at.size:
                    raise self._fail(f"setting {s!r} holds {at.size} shots, its entries "
                                     f"{share.size}")
                idx[at] = share
        return idx

    def setting_log_p(self) -> FloatArray | None:
        """Stored log P of every shot, in the order of :meth:`setting_shots` (None: not
        stored); for fixed designs, log P(bits | setting) (see :mod:`qtomo.data.schema`)."""
        if not self.has_log_p:
            return None
        lp = self._f["log_p_true"][()]
        if self.axis_shots:
            lp = np.concatenate([lp, self._f["axis_shots/log_p_true"][()]])
        return lp

    def planned_design(self) -> DesignSpec | None:
        """The planned design the shots follow (``qtomo simulate --design`` of a ``qtomo
        plan`` file), or None."""
        text = self.design.planned
        if text is None:
            return None
        return design_from_text(text, f"{self.path}: /design planned_design")

    def target_array(self, name: str) -> np.ndarray | None:
        """A stored target array (``x_exact``, ``zz_exact``, ``psi``), or None."""
        key = f"target/{name}"
        if key in self._f and isinstance(self._f[key], h5py.Dataset):
            return self._f[key][()]
        return None

    def target_mps(self) -> MPS | None:
        """The stored target MPS, or None."""
        if "target/mps" not in self._f:
            return None
        return MPS.load_from_group(self._f["target/mps"])

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (schema_version, qtomo_version, created, dataset_id, ...)."""
        return {k: _py(v) for k, v in self._f.attrs.items()}

    @property
    def dataset_hash(self) -> str:
        """SHA-256 identifying this dataset (its unique id, shape, POVM and config)."""
        a = self._f.attrs
        key = json.dumps(
            [str(a["dataset_id"]), self.shots, self.n_qubits, self.frame.name,
             str(a.get("config", ""))]
        )
        return hashlib.sha256(key.encode()).hexdigest()

    def summary(self) -> dict[str, Any]:
        """Plain summary for printing or JSON."""
        return {
            "path": str(self.path),
            "n_qubits": self.n_qubits,
            "shots": self.shots,
            "eval_shots": self.eval_shots,
            **({"axis_shots": self.axis_shots} if self.axis_shots else {}),
            "povm": self.frame.name,
            "K": self.K,
            "has_log_p_true": self.has_log_p,
            "target": self.target,
            "design": self.design.summary(),
            "readout": None if self.readout is None else self.readout.summary(),
            "schema_version": self.schema_version,
            "created": self.attrs.get("created"),
            "qtomo_version": self.attrs.get("qtomo_version"),
        }

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _py(v: Any) -> Any:
    """HDF5 attribute value as a plain Python value (NaN stays float NaN)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def open_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Open and validate a qtomo dataset; raises :class:`DataFileError` naming the problem."""
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"{p}: no such file")
    if p.is_dir():
        raise DataFileError(f"{p}: is a directory, expected a qtomo .h5 dataset")
    if p.stat().st_size == 0:
        raise DataFileError(f"{p}: empty file, expected a qtomo .h5 dataset")
    try:
        is_h5 = h5py.is_hdf5(p)
    except OSError:
        is_h5 = False
    if not is_h5:
        raise DataFileError(f"{p}: not an HDF5 file, expected a qtomo .h5 dataset")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise DataFileError(f"{p}: cannot be read (truncated or corrupt HDF5: {e})") from None
    try:
        return Dataset(p, f)
    except DataFileError:
        f.close()
        raise
    except (OSError, KeyError, ValueError, TypeError) as e:
        f.close()
        raise DataFileError(f"{p}: cannot be read (truncated or corrupt: {e})") from None


def iter_blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in blocks of ``block``."""
    for s in range(0, n, block):
        yield s, min(n, s + block)


__all__ = ["Dataset", "DatasetWriter", "check_output_path", "iter_blocks", "open_dataset"]
