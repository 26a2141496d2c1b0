"""What a dataset records about how it was measured: the design and the readout calibration.

:class:`Design` -- how the measurement bases were chosen.

* ``kind="random"``: every shot is an independent draw of the POVM; for Pauli data, every
  qubit's basis was drawn afresh for every shot (the per-shot layouts ``pauli-basis`` and
  ``outcomes``, classical-shadow files, ``qtomo simulate`` without ``--design``). No settings.
* ``kind="fixed"``: the lab chose a list of settings and measured each a fixed number of
  times (counts files, ``qtomo simulate --design``). ``settings`` holds their labels, qubit 0
  first: one Pauli letter per qubit (``"XXYZ"``) for a *Pauli setting*; ``shots_per_setting``
  their shot counts (a listed setting without shots keeps 0). Imported counts list the Pauli
  settings in lexicographic order X < Y < Z; a simulated design keeps its file's order.
  Each Pauli shot is stored as a Pauli-6 outcome, from which its setting can be read back:
  basis = outcome // 2 per qubit.
* A fixed design may also measure qubits along any Bloch axis (``axes``, angles (theta, phi)
  of every qubit of every setting; :mod:`qtomo.povm.axes`). A setting with any axis that is
  not +x, +y or +z is an *axis setting*: its label has the Pauli letter of every qubit measured
  along a Pauli axis and ``A`` for the others (``"ZAAZ"``). Its shots cannot be Pauli-6
  outcomes; they are stored apart as (setting index, bits) (``/axis_shots``, see
  :mod:`qtomo.data.schema`). ``Dataset.setting_shots()`` gives every shot's setting and bits,
  whichever way it is stored.

:class:`Readout` -- per-qubit readout confusion matrices, ``confusion[q, b, b'] =
P(read b | prepared b')`` (rows: bit read, columns: bit prepared; each column sums to 1),
with binomial standard errors when they were estimated from calibration counts. The dataset
also stores the effective per-qubit POVM they make (``/povm/site_elements``, see
:mod:`qtomo.data.schema`), which ``qtomo reconstruct`` inverts to correct the readout. The
same matrices misread the bits of axis settings (bit flips after the projective measurement).

HDF5 layout (both groups optional; files without them read as design ``random`` and no
readout)::

    /design                attrs: kind ("random" | "fixed")
    /design/settings       |S{N} (S,) ASCII labels, qubit 0 first (fixed only)
    /design/shots_per_setting  int64 (S,); the Pauli settings' sum to the rows of /outcomes,
                           the axis settings' to the rows of /axis_shots (fixed only)
    /design/axes           float64 (S, N, 2): (theta, phi) of every qubit of every setting
                           (only in designs with axis settings)
    /design                attrs: planned_design (str, the JSON of the planned design the
                           shots follow; only for designs of ``qtomo plan``)
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

from qtomo.errors import InputValueError
from qtomo.povm.axes import angles_to_vectors, letter_angles, pauli_letters
from qtomo.typing import FloatArray

DESIGN_KINDS = ("random", "fixed")
#: Largest flip probability accepted: at 0.5 a readout carries no information about the bit.
MAX_FLIP = 0.5
CONVENTION = "confusion[q, b, b'] = P(read b | prepared b'); rows read, columns prepared"
_LETTERS = frozenset("XYZ")
#: Label letter of a qubit measured along an axis other than +x, +y, +z.
AXIS_LETTER = "A"
#: (theta, phi) per qubit per setting, as nested tuples (hashable, comparable).
Axes = tuple[tuple[tuple[float, float], ...], ...]


def axis_label(angles: FloatArray) -> str:
    """The label of a setting with angles (N, 2): each qubit's Pauli letter, or ``A``."""
    vecs = angles_to_vectors(angles)
    return "".join(pauli_letters(v[None]) or AXIS_LETTER for v in vecs)


@dataclass(frozen=True)
class Design:
    """How the measurement bases were chosen (see the module docstring).

    Attributes
    ----------
    kind : ``"random"`` (bases drawn per shot) or ``"fixed"`` (fixed settings)
    settings : tuple of str or None
        Setting labels, one letter per qubit, qubit 0 first (``fixed`` only): X/Y/Z, and ``A``
        for a qubit of an axis setting measured along another axis.
    shots_per_setting : tuple of int or None
        Shots measured in each setting, in the order of ``settings``.
    axes : nested tuples (S, N, 2) or None
        (theta, phi) in radians of every qubit of every setting; None when every setting is a
        Pauli setting (the letters say it all). See :meth:`angles`.
    planned : str or None
        The planned design the shots follow (``qtomo plan``'s design file, its JSON text:
        target, protocol, plan block; :mod:`qtomo.data.design_file`), None when not planned.
    """

    kind: str = "random"
    settings: tuple[str, ...] | None = None
    shots_per_setting: tuple[int, ...] | None = None
    axes: Axes | None = None
    planned: str | None = None

    @property
    def n_settings(self) -> int | None:
        return None if self.settings is None else len(self.settings)

    @property
    def axis_mask(self) -> np.ndarray:
        """bool (S,): True for axis settings (some qubit not along +x, +y or +z)."""
        return np.array([AXIS_LETTER in s for s in self.settings or ()], dtype=bool)

    @property
    def n_axis_settings(self) -> int:
        return int(self.axis_mask.sum())

    def angles(self) -> FloatArray:
        """float64 (S, N, 2): (theta, phi) of every qubit of every setting."""
        if self.axes is not None:
            return np.array(self.axes, dtype=np.float64)
        return np.array([letter_angles(s) for s in self.settings or ()], dtype=np.float64)

    def shot_totals(self) -> tuple[int, int]:
        """Shots of the Pauli settings and of the axis settings."""
        counts = np.array(self.shots_per_setting or (), dtype=np.int64)
        mask = self.axis_mask
        return int(counts[~mask].sum()), int(counts[mask].sum())

    def summary(self) -> dict[str, Any]:
        """Compact JSON-able summary (the settings list itself is left out)."""
        out: dict[str, Any] = {"kind": self.kind, "n_settings": self.n_settings}
        if self.shots_per_setting:
            s = self.shots_per_setting
            out.update(shots_min=min(s), shots_max=max(s), shots_total=sum(s))
        if self.axes is not None:
            out.update(n_axis_settings=self.n_axis_settings, axis_shots=self.shot_totals()[1])
        return out

    def describe(self) -> str:
        """One line for ``qtomo info`` and reprs."""
        if self.kind == "random":
            return "random (bases drawn per shot)"
        s = self.summary()
        each = (f"{s['shots_min']} shots each" if s["shots_min"] == s["shots_max"]
                else f"{s['shots_min']}-{s['shots_max']} shots per setting")
        axes = f" ({self.n_axis_settings} along other axes)" if self.n_axis_settings else ""
        return f"fixed, {s['n_settings']} settings{axes}, {each}"


def pauli_part_note(design: Design | None, command: str, does: str) -> str | None:
    """What ``command`` (which reads Pauli-6 shots only) does with a design's axis settings:
    None when there are none; a note naming the shots left out; an :class:`InputValueError`
    when every setting is an axis setting (nothing to read)."""
    n_axis = 0 if design is None else design.n_axis_settings
    if design is None or not n_axis:
        return None
    pauli, axis = design.shot_totals()
    head = (f"{command} {does} Pauli settings only; {n_axis} of {design.n_settings} settings "
            "are along other axes")
    if not pauli:
        raise InputValueError(head)
    return (f"{head}: it uses the {pauli} shots of the {design.n_settings - n_axis} Pauli "
            f"settings and leaves out the {axis} shots of the axis settings")


def design_axes(angles: FloatArray) -> Axes:
    """Angles (S, N, 2) as the nested tuples of :attr:`Design.axes`."""
    return tuple(tuple((float(t), float(p)) for t, p in row) for row in np.asarray(angles))


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
    if design.axes is not None:
        g.create_dataset("axes", data=design.angles())
    if design.planned is not None:
        g.attrs["planned_design"] = design.planned


def read_design(f: h5py.File, n_qubits: int, shots: int, axis_shots: int = 0
                ) -> tuple[Design | None, str | None]:
    """``(design, None)`` or ``(None, problem)``; a file without ``/design`` is ``random``.

    ``shots`` and ``axis_shots`` are the rows of ``/outcomes`` and ``/axis_shots``.
    """
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
    axes, problem = _read_axes(g, settings, n_qubits)
    if problem:
        return None, problem
    if counts.size and int(counts.min()) < 0:
        return None, "/design/shots_per_setting holds a negative count"
    planned = g.attrs.get("planned_design")
    planned = planned.decode() if isinstance(planned, bytes) else planned
    design = Design(kind, settings, tuple(int(x) for x in counts), axes,
                    None if planned is None else str(planned))
    pauli, axis = design.shot_totals()
    if kind == "fixed" and (pauli, axis) != (shots, axis_shots):
        if not (axis or axis_shots):
            return None, (f"/design/shots_per_setting sums to {pauli}, but the dataset holds "
                          f"{shots} shots")
        return None, (f"/design/shots_per_setting gives {pauli} shots of Pauli settings and "
                      f"{axis} of axis settings, but the dataset holds {shots} and "
                      f"{axis_shots}")
    return design, None


def _read_axes(g: h5py.Group, settings: tuple[str, ...], n_qubits: int
               ) -> tuple[Axes | None, str | None]:
    """``/design/axes`` checked against the labels: ``(axes or None, problem or None)``."""
    letters = _LETTERS | {AXIS_LETTER} if "axes" in g else _LETTERS
    for i, s in enumerate(settings):
        if len(s) != n_qubits or not set(s) <= letters:
            return None, (f"/design/settings[{i}] is {s!r}; expected {n_qubits} letters "
                          f"{', '.join(sorted(letters))}")
    if "axes" not in g:
        return None, None
    a = g["axes"][()]
    if a.shape != (len(settings), n_qubits, 2) or a.dtype.kind != "f" \
            or not np.all(np.isfinite(a)):
        return None, (f"/design/axes has shape {a.shape} and dtype {a.dtype}; expected finite "
                      f"float64 ({len(settings)}, {n_qubits}, 2)")
    for i, s in enumerate(settings):
        if axis_label(a[i]) != s:
            return None, (f"/design/settings[{i}] is {s!r} but its axes make {axis_label(a[i])!r}"
                          f" (Pauli letters for +x, +y, +z, {AXIS_LETTER} for other axes)")
    return design_axes(a), None


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
    "AXIS_LETTER",
    "CONVENTION",
    "DESIGN_KINDS",
    "Axes",
    "MAX_FLIP",
    "Design",
    "Readout",
    "axis_label",
    "confusion_from_flips",
    "design_axes",
    "pauli_part_note",
    "confusion_problem",
    "read_design",
    "read_readout",
    "write_design",
    "write_readout",
]
