"""What a dataset records about how it was measured: the design and the readout calibration.

:class:`Design` -- how the measurement bases were chosen.

* ``kind="random"``: every shot is an independent draw of the POVM; for Pauli data, every
  qubit's basis was drawn afresh for every shot (the per-shot layouts ``pauli-basis`` and
  ``outcomes``, classical-shadow files, ``qtomo simulate``). No settings list.
* ``kind="fixed"``: the lab chose a list of settings (one Pauli letter per qubit, e.g.
  ``"XXYZ"``) and measured each a fixed number of times (counts files). ``settings`` holds
  them, qubit 0 first, in lexicographic order X < Y < Z; ``shots_per_setting`` their shot
  counts (a listed setting without shots keeps 0). Each shot's setting can be read back from
  its Pauli-6 outcome: basis = outcome // 2 per qubit.

:class:`Readout` -- per-qubit readout confusion matrices, ``confusion[q, b, b'] =
P(read b | prepared b')`` (rows: bit read, columns: bit prepared; each column sums to 1),
with binomial standard errors when they were estimated from calibration counts. The dataset
also stores the effective per-qubit POVM they make (``/povm/site_elements``, see
:mod:`qtomo.data.schema`), which ``qtomo reconstruct`` inverts to correct the readout.

HDF5 layout (both groups optional; files without them read as design ``random`` and no
readout)::

    /design                attrs: kind ("random" | "fixed")
    /design/settings       |S{N} (S,) ASCII Pauli strings, qubit 0 first (fixed only)
    /design/shots_per_setting  int64 (S,), summing to the number of shots (fixed only)
    /readout               attrs: confusion float64 (N, 2, 2), stderr float64 (N, 2, 2)
                           (NaN: unknown), source ("calibration" | "readout" | "simulate"),
                           source_file,
                           calibration_shots int64 (N, 2) (shots with qubit q prepared in
                           b' = 0, 1; calibration only), applied (True: in the POVM),
                           convention
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

DESIGN_KINDS = ("random", "fixed")
#: Largest flip probability accepted: at 0.5 a readout carries no information about the bit.
MAX_FLIP = 0.5
CONVENTION = "confusion[q, b, b'] = P(read b | prepared b'); rows read, columns prepared"
_LETTERS = frozenset("XYZ")


@dataclass(frozen=True)
class Design:
    """How the measurement bases were chosen (see the module docstring).

    Attributes
    ----------
    kind : ``"random"`` (bases drawn per shot) or ``"fixed"`` (fixed settings)
    settings : tuple of str or None
        Pauli strings, one letter X/Y/Z per qubit, qubit 0 first (``fixed`` only).
    shots_per_setting : tuple of int or None
        Shots measured in each setting, in the order of ``settings``.
    """

    kind: str = "random"
    settings: tuple[str, ...] | None = None
    shots_per_setting: tuple[int, ...] | None = None

    @property
    def n_settings(self) -> int | None:
        return None if self.settings is None else len(self.settings)

    def summary(self) -> dict[str, Any]:
        """Compact JSON-able summary (the settings list itself is left out)."""
        out: dict[str, Any] = {"kind": self.kind, "n_settings": self.n_settings}
        if self.shots_per_setting:
            s = self.shots_per_setting
            out.update(shots_min=min(s), shots_max=max(s), shots_total=sum(s))
        return out

    def describe(self) -> str:
        """One line for ``qtomo info`` and reprs."""
        if self.kind == "random":
            return "random (bases drawn per shot)"
        s = self.summary()
        each = (f"{s['shots_min']} shots each" if s["shots_min"] == s["shots_max"]
                else f"{s['shots_min']}-{s['shots_max']} shots per setting")
        return f"fixed, {s['n_settings']} settings, {each}"


@dataclass(frozen=True, eq=False)
class Readout:
    """Per-qubit readout confusion matrices.

    Attributes
    ----------
    confusion : float64 (N, 2, 2)
        ``confusion[q, b, b'] = P(read b | prepared b')``; columns sum to 1.
    stderr : float64 (N, 2, 2)
        Binomial standard errors sqrt(C (1 - C) / n_b') of each entry (NaN: not known).
    source : ``"calibration"`` (estimated from calibration counts), ``"readout"`` (given) or
        ``"simulate"`` (the exact matrices of ``qtomo simulate --readout-error``)
    source_file : str
        The file the numbers came from.
    calibration_shots : int64 (N, 2) or None
        Calibration shots with qubit q prepared in b' = 0 and 1.
    applied : bool
        Whether the dataset's per-qubit POVM (``/povm/site_elements``) includes the readout
        (True for files written by this version; version-1 files stored it only).
    """

    confusion: np.ndarray
    stderr: np.ndarray
    source: str
    source_file: str
    calibration_shots: np.ndarray | None = None
    applied: bool = True

    @property
    def n_qubits(self) -> int:
        return int(self.confusion.shape[0])

    @property
    def flip_probabilities(self) -> np.ndarray:
        """(N, 2): ``[:, 0]`` = P(read 1 | prepared 0), ``[:, 1]`` = P(read 0 | prepared 1)."""
        return np.stack([self.confusion[:, 1, 0], self.confusion[:, 0, 1]], axis=1)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "source_file": self.source_file,
                "applied": self.applied, "confusion": self.confusion.tolist(),
                "stderr": self.stderr.tolist(),
                "calibration_shots": None if self.calibration_shots is None
                else self.calibration_shots.tolist()}

    def describe(self) -> str:
        f = self.flip_probabilities
        src = {"calibration": f"estimated from calibration counts in {self.source_file}",
               "simulate": "simulated (exact)"}.get(self.source, f"given in {self.source_file}")
        return (f"{src}; P(1|0) {f[:, 0].min():.4f}-"
                f"{f[:, 0].max():.4f}, P(0|1) {f[:, 1].min():.4f}-{f[:, 1].max():.4f} "
                f"over {self.n_qubits} qubits")


def confusion_from_flips(flips: np.ndarray) -> np.ndarray:
    """(N, 2, 2) confusion matrices C[b, b'] from (N, 2) flips (P(1|0), P(0|1)); the inverse
    of :attr:`Readout.flip_probabilities`."""
    f = np.asarray(flips, dtype=np.float64).reshape(-1, 2)
    c = np.empty((f.shape[0], 2, 2))
    c[:, 0, 0], c[:, 1, 0] = 1.0 - f[:, 0], f[:, 0]
    c[:, 1, 1], c[:, 0, 1] = 1.0 - f[:, 1], f[:, 1]
    return c


def confusion_problem(confusion: np.ndarray, tol: float = 1e-6) -> str | None:
    """What is wrong with (N, 2, 2) confusion matrices, or None when they are usable.

    Usable: finite entries in [0, 1], every column summing to 1 (within ``tol``), and both
    flip probabilities below :data:`MAX_FLIP` (a matrix with a flip probability of 0.5 or more
    is singular or swaps the bits, and cannot be inverted into a correction).
    """
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 3 or c.shape[1:] != (2, 2) or c.shape[0] < 1:
        return f"confusion matrices of shape {c.shape}; expected (N, 2, 2)"
    for q in range(c.shape[0]):
        m = c[q]
        if not np.all(np.isfinite(m)) or m.min() < 0 or m.max() > 1:
            return f"qubit {q}: entries {m.tolist()} are not probabilities in [0, 1]"
        sums = m.sum(axis=0)
        if np.abs(sums - 1).max() > tol:
            return (f"qubit {q}: columns sum to {sums[0]:.6g} and {sums[1]:.6g}; a confusion "
                    "matrix is stochastic (each column P(read 0|b') + P(read 1|b') = 1)")
        for b_prep, name in ((0, "P(read 1 | prepared 0)"), (1, "P(read 0 | prepared 1)")):
            flip = m[1 - b_prep, b_prep]
            if flip >= MAX_FLIP:
                return (f"qubit {q}: {name} = {flip:.4g} >= {MAX_FLIP}; such a readout cannot "
                        "be inverted (check the bit order and the prepared-state labels)")
    return None


# --- HDF5 ---------------------------------------------------------------------------------------
def write_design(f: h5py.File, design: Design) -> None:
    """Store ``design`` as ``/design`` (replacing one that is there)."""
    if "design" in f:
        del f["design"]
    g = f.create_group("design")
    g.attrs["kind"] = design.kind
    if design.settings is not None:
        n = max(1, max((len(s) for s in design.settings), default=1))
        g.create_dataset("settings", data=np.array(design.settings, dtype=f"S{n}"))
        g.create_dataset("shots_per_setting",
                         data=np.array(design.shots_per_setting, dtype=np.int64))


def read_design(f: h5py.File, n_qubits: int, shots: int) -> tuple[Design | None, str | None]:
    """``(design, None)`` or ``(None, problem)``; a file without ``/design`` is ``random``."""
    if "design" not in f:
        return Design("random"), None
    g = f["design"]
    kind = g.attrs.get("kind", "")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind not in DESIGN_KINDS:
        return None, f"/design kind {kind!r}; expected one of {', '.join(DESIGN_KINDS)}"
    if "settings" not in g:
        if kind == "fixed":
            return None, "/design is fixed but has no settings"
        return Design(kind), None
    if "shots_per_setting" not in g:
        return None, "/design/settings without /design/shots_per_setting"
    raw, counts = g["settings"][()], g["shots_per_setting"][()]
    if raw.ndim != 1 or counts.shape != raw.shape or counts.dtype.kind not in "iu":
        return None, (f"/design/settings {raw.shape} and shots_per_setting {counts.shape} "
                      f"{counts.dtype}; expected two 1-D arrays of one length, integer counts")
    settings = tuple(s.decode() if isinstance(s, bytes) else str(s) for s in raw.tolist())
    for i, s in enumerate(settings):
        if len(s) != n_qubits or not set(s) <= _LETTERS:
            return None, (f"/design/settings[{i}] is {s!r}; expected {n_qubits} letters "
                          "X, Y or Z")
    if counts.size and int(counts.min()) < 0:
        return None, "/design/shots_per_setting holds a negative count"
    if kind == "fixed" and int(counts.sum()) != shots:
        return None, (f"/design/shots_per_setting sums to {int(counts.sum())}, but the "
                      f"dataset holds {shots} shots")
    return Design(kind, settings, tuple(int(x) for x in counts)), None


def write_readout(f: h5py.File, readout: Readout) -> None:
    """Store ``readout`` as the attributes of ``/readout``."""
    if "readout" in f:
        del f["readout"]
    g = f.create_group("readout")
    g.attrs["confusion"] = np.asarray(readout.confusion, dtype=np.float64)
    g.attrs["stderr"] = np.asarray(readout.stderr, dtype=np.float64)
    g.attrs["source"] = readout.source
    g.attrs["source_file"] = readout.source_file
    g.attrs["applied"] = bool(readout.applied)
    g.attrs["convention"] = CONVENTION
    if readout.calibration_shots is not None:
        g.attrs["calibration_shots"] = np.asarray(readout.calibration_shots, dtype=np.int64)


def read_readout(f: h5py.File, n_qubits: int) -> tuple[Readout | None, str | None]:
    """``(readout or None, None)`` or ``(None, problem)``."""
    if "readout" not in f:
        return None, None
    a = f["readout"].attrs
    if "confusion" not in a or "stderr" not in a:
        return None, "/readout lacks its confusion or stderr attribute"
    c = np.asarray(a["confusion"], dtype=np.float64)
    se = np.asarray(a["stderr"], dtype=np.float64)
    if c.shape != (n_qubits, 2, 2) or se.shape != c.shape:
        return None, (f"/readout confusion {c.shape} and stderr {se.shape}; expected "
                      f"({n_qubits}, 2, 2) each")
    problem = confusion_problem(c)
    if problem:
        return None, f"/readout: {problem}"
    shots = np.asarray(a["calibration_shots"], dtype=np.int64) if "calibration_shots" in a \
        else None

    def text(key: str) -> str:
        v = a.get(key, "")
        return v.decode() if isinstance(v, bytes) else str(v)

    return Readout(c, se, text("source"), text("source_file"), shots,
                   bool(a.get("applied", False))), None


__all__ = [
    "CONVENTION",
    "DESIGN_KINDS",
    "MAX_FLIP",
    "Design",
    "Readout",
    "confusion_from_flips",
    "confusion_problem",
    "read_design",
    "read_readout",
    "write_design",
    "write_readout",
]
