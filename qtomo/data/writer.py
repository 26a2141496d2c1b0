"""Writing qtomo dataset files atomically (see :mod:`qtomo.data.schema`).

A :class:`DatasetWriter` fills a temporary file beside the target and renames it onto the
target only after the ``complete`` flag is set; :func:`check_output_path` refuses to replace an
existing file unless told to. Reading and validation are in :mod:`qtomo.data.hdf5`, which
re-exports both names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from qtomo._version import __version__
from qtomo.data.design import Design, Readout, write_design, write_readout
from qtomo.data.schema import CHUNK_ROWS, FORMAT_NAME, MAX_PSI_QUBITS, SCHEMA_VERSION
from qtomo.errors import OutputExistsError
from qtomo.povm.frames import Frame, readout_frames, site_operators
from qtomo.typing import FloatArray, Outcomes

if TYPE_CHECKING:
    from qtomo.states.targets import Target

def check_output_path(path: str | os.PathLike[str], overwrite: bool,
                      suffix: str = ".h5") -> Path:
    """Refuse to replace an existing output unless ``overwrite`` is set, and a directory
    always (the output is a file name ending in ``suffix``)."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{p} already exists; pass --overwrite to replace it")
    if p.exists() and p.is_dir():
        raise OutputExistsError(f"{p} is a directory; give a file name ending in {suffix}")
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
    axis_shots : int
        Shots of axis settings (``/axis_shots``, fixed designs only; 0 for none). ``shots``
        may then be 0 (a design without Pauli settings).
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
        axis_shots: int = 0,
    ) -> None:
        self.path = check_output_path(path, overwrite)
        self.n_qubits = int(n_qubits)
        self.shots = int(shots)
        self.axis_shots = int(axis_shots)
        self.frame = frame
        self.with_log_p = with_log_p
        self.eval_shots = int(eval_shots)
        self.config = config
        self._tmp: Path | None = None
        self._f: h5py.File | None = None

    # -- context management -------------------------------------------------------------
    def __enter__(self) -> DatasetWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
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
        if self.axis_shots > 0:
            g = f.create_group("axis_shots")
            self._create_shots(g, "bits", "log_p_true", self.axis_shots)
            g.create_dataset("setting_index", shape=(self.axis_shots,), dtype=np.int64)
        pg = f.create_group("povm")
        pg.attrs["name"] = self.frame.name
        pg.attrs["K"] = self.frame.K
        pg.create_dataset("elements", data=self.frame.elements)
        tg = f.create_group("target")
        tg.attrs["n_qubits"] = self.n_qubits
        return self

    def _create_shots(self, g: h5py.Group, name: str, lp_name: str, rows: int) -> None:
        if rows == 0:  # no Pauli shots in a design of axis settings only: nothing to chunk
            g.create_dataset(name, shape=(0, self.n_qubits), dtype=np.uint8)
            if self.with_log_p:
                g.create_dataset(lp_name, shape=(0,), dtype=np.float64)
            return
        chunk = (min(rows, CHUNK_ROWS), self.n_qubits)
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

    def write_axis_block(self, start: int, setting_index: np.ndarray, bits: np.ndarray,
                         log_p: FloatArray | None = None) -> None:
        """Write rows ``start .. start+len(bits)`` of the axis-setting shots: each shot's
        setting (index into the design's settings) and its bits uint8 (rows, N)."""
        g = self.file["axis_shots"]
        stop = start + len(bits)
        g["setting_index"][start:stop] = np.asarray(setting_index, dtype=np.int64)
        g["bits"][start:stop] = np.asarray(bits, dtype=np.uint8)
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
