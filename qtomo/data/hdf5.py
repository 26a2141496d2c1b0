"""Reading and writing qtomo dataset files (see :mod:`qtomo.data.schema`).

Writes are atomic: a :class:`DatasetWriter` fills a temporary file beside the target and
renames it only after the ``complete`` flag is set. :func:`open_dataset` validates a file and
names exactly what is wrong; it reads the shots block by block, so files larger than memory
can be used for training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from qtomo._version import __version__
from qtomo.data.design import (
    Design,
    Readout,
    read_design,
    read_readout,
    write_design,
    write_readout,
)
from qtomo.data.schema import (
    CHUNK_ROWS,
    FORMAT_NAME,
    MAX_PSI_QUBITS,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
)
from qtomo.errors import DataFileError, OutputExistsError
from qtomo.povm.frames import (
    AnyFrame,
    Frame,
    FrameError,
    LocalFrames,
    frame_from_elements,
    readout_frames,
    site_operators,
)
from qtomo.states.mps import MPS
from qtomo.typing import FloatArray, Outcomes

if TYPE_CHECKING:
    from qtomo.states.targets import Target

#: Outcome arrays up to this many entries are range-checked in full when opened; larger ones
#: are checked block by block as they are read.
_FULL_CHECK_ENTRIES = 200_000_000


def check_output_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse to replace an existing output unless ``overwrite`` is set."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{p} already exists; pass --overwrite to replace it")
    if p.exists() and p.is_dir():
        raise OutputExistsError(f"{p} is a directory; give a file name ending in .h5")
    return p


class DatasetWriter:
    """Write one dataset file atomically.

    Use as a context manager; on a clean exit the ``complete`` flag is written and the
    temporary file is renamed onto ``path``. On an exception nothing appears at ``path``.

    Parameters
    ----------
    path : path-like
        Destination ``.h5`` file.
    n_qubits, shots : int
        Shape of the outcome array.
    frame : Frame
        The ideal POVM that was measured.
    with_log_p : bool
        Whether ``/log_p_true`` is written for the training shots.
    eval_shots : int
        Number of evaluation shots (0 for none).
    config : dict
        Full configuration, stored as JSON.
    overwrite : bool
        Replace an existing file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_qubits: int,
        shots: int,
        frame: Frame,
        with_log_p: bool,
        eval_shots: int,
        config: dict[str, Any],
        overwrite: bool = False,
    ) -> None:
        self.path = check_output_path(path, overwrite)
        self.n_qubits = int(n_qubits)
        self.shots = int(shots)
        self.frame = frame
        self.with_log_p = with_log_p
        self.eval_shots = int(eval_shots)
        self.config = config
        self._tmp: Path | None = None
        self._f: h5py.File | None = None

    # -- context management -------------------------------------------------------------
    def __enter__(self) -> DatasetWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        f = h5py.File(self._tmp, "w")
        self._f = f
        f.attrs["format"] = FORMAT_NAME
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["qtomo_version"] = __version__
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        f.attrs["dataset_id"] = uuid.uuid4().hex
        f.attrs["config"] = json.dumps(self.config, sort_keys=True)
        f.attrs["complete"] = False
        self._create_shots(f, "outcomes", "log_p_true", self.shots)
        if self.eval_shots > 0:
            g = f.create_group("eval")
            self._create_shots(g, "outcomes", "log_p_true", self.eval_shots)
        pg = f.create_group("povm")
        pg.attrs["name"] = self.frame.name
        pg.attrs["K"] = self.frame.K
        pg.create_dataset("elements", data=self.frame.elements)
        tg = f.create_group("target")
        tg.attrs["n_qubits"] = self.n_qubits
        return self

    def _create_shots(self, g: h5py.Group, name: str, lp_name: str, rows: int) -> None:
        chunk = (max(1, min(rows, CHUNK_ROWS)), self.n_qubits)
        g.create_dataset(
            name, shape=(rows, self.n_qubits), dtype=np.uint8, chunks=chunk,
            compression="gzip", compression_opts=1,
        )
        if self.with_log_p:
            g.create_dataset(lp_name, shape=(rows,), dtype=np.float64, chunks=(chunk[0],))

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._f is not None and self._tmp is not None
        try:
            if exc_type is None:
                if "design" not in self._f:
                    write_design(self._f, Design("random"))
                self._f.attrs["complete"] = True
                self._f.close()
                os.replace(self._tmp, self.path)
                return
        finally:
            if self._f.id.valid:
                self._f.close()
            with contextlib.suppress(FileNotFoundError):
                if self._tmp.exists() and exc_type is not None:
                    self._tmp.unlink()

    # -- content ---------------------------------------------------------------------------
    @property
    def file(self) -> h5py.File:
        assert self._f is not None, "use DatasetWriter as a context manager"
        return self._f

    def write_block(
        self, start: int, outcomes: Outcomes, log_p: FloatArray | None = None, *, eval: bool = False
    ) -> None:
        """Write rows ``start .. start+len(outcomes)`` of the training (or eval) shots."""
        g = self.file["eval"] if eval else self.file
        stop = start + len(outcomes)
        g["outcomes"][start:stop] = np.asarray(outcomes, dtype=np.uint8)
        if self.with_log_p:
            if log_p is None:
                raise ValueError("this dataset stores log_p_true: pass log_p")
            g["log_p_true"][start:stop] = np.asarray(log_p, dtype=np.float64)

    def set_target(self, attrs: dict[str, Any], arrays: dict[str, np.ndarray | None]) -> None:
        """Store target attributes and arrays (``None`` entries are skipped).

        A ``psi`` of more than ``MAX_PSI_QUBITS`` qubits is refused (it used to be dropped
        silently, leaving the dataset without a target): store its MPS instead, as
        :meth:`write_target` does for a :class:`~qtomo.states.targets.Target`.
        """
        tg = self.file["target"]
        for k, v in attrs.items():
            tg.attrs[k] = np.nan if v is None else v
        for k, v in arrays.items():
            if v is None:
                continue
            if k == "psi" and int(np.log2(len(v))) > MAX_PSI_QUBITS:
                raise ValueError(
                    f"a target state vector of more than {MAX_PSI_QUBITS} qubits is not stored "
                    "as psi; build the target with qtomo.states.targets (an MPS above that)"
                )
            tg.create_dataset(k, data=v)

    def write_target(self, target: Target) -> None:
        """Store a target: attributes, ``psi`` / ``x_exact`` / ``zz_exact`` and its MPS."""
        self.set_target(target.attrs, target.arrays())
        if target.mps is not None:
            target.mps.save_to_group(self.target_group().create_group("mps"))

    def write_design(self, design: Design) -> None:
        """Store how the bases were chosen (``/design``; ``random`` when never called)."""
        write_design(self.file, design)

    def write_readout(self, readout: Readout) -> None:
        """Store readout confusion matrices (``/readout``) and the effective per-qubit POVM
        they make of the ideal one (``/povm/site_elements``, see :mod:`qtomo.data.schema`)."""
        if readout.n_qubits != self.n_qubits:
            raise ValueError(f"readout of {readout.n_qubits} qubits for {self.n_qubits}")
        measured = readout_frames(self.frame, readout.confusion)
        pg = self.file["povm"]
        if "site_elements" in pg:
            del pg["site_elements"]
        pg.create_dataset("site_elements", data=np.array(site_operators(measured, self.n_qubits)))
        write_readout(self.file, dataclasses.replace(readout, applied=True))

    def target_group(self) -> h5py.Group:
        """The ``/target`` group, e.g. for storing an MPS with ``mps.save_to_group``."""
        return self.file["target"]


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
        without ``/design``) or ``fixed`` (with ``settings`` and ``shots_per_setting``).
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
        self._check_shots(f, "outcomes", "log_p_true", "")
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
        design, problem = read_design(f, self.n_qubits, self.shots)
        if problem or design is None:
            raise self._fail(problem or "unreadable /design")
        self.design: Design = design
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

    def _check_shots(self, g: h5py.Group, name: str, lp: str, prefix: str) -> None:
        if name not in g:
            raise self._fail(f"missing /{prefix}{name}")
        d = g[name]
        if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
            raise self._fail(f"/{prefix}{name} has shape {d.shape}, expected (shots>=1, N>=1)")
        if d.dtype != np.uint8:
            raise self._fail(f"/{prefix}{name} has dtype {d.dtype}, expected uint8")
        if d.size <= _FULL_CHECK_ENTRIES:
            for s in range(0, d.shape[0], 1 << 20):
                self._check_range(d[s : s + (1 << 20)], f"/{prefix}{name}", s)
        if lp in g:
            if g[lp].shape != (d.shape[0],) or g[lp].dtype != np.float64:
                raise self._fail(
                    f"/{prefix}{lp} has shape {g[lp].shape} and dtype {g[lp].dtype}, "
                    f"expected ({d.shape[0]},) float64"
                )

    def _check_range(self, block: np.ndarray, name: str, offset: int) -> None:
        if block.size and int(block.max()) >= self.K:
            row = offset + int(np.argwhere(block >= self.K)[0, 0])
            raise self._fail(
                f"{name} row {row} holds outcome {int(block.max())}, but the POVM has only "
                f"K={self.K} outcomes (0..{self.K - 1})"
            )

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

    def target_array(self, name: str) -> np.ndarray | None:
        """A stored target array (``x_exact``, ``zz_exact``, ``psi``), or None."""
        key = f"target/{name}"
        return self._f[key][()] if key in self._f and isinstance(self._f[key], h5py.Dataset) else None

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
