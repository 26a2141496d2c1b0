"""Readout calibration: confusion matrices from calibration counts, or given ones.

The dataset stores the matrices and the effective per-qubit POVM they make of the ideal one,
M'_q(s, b) = sum_b' C_q[b|b'] M(s, b') (:func:`qtomo.povm.frames.readout_frames`); inverting
the Born rule with the effective POVM's duals removes the readout error from every estimate
(see :class:`qtomo.data.design.Readout`).

Calibration counts
------------------
The lab prepares computational basis states and counts what it reads, with the counts
layout of :mod:`qtomo.data.counts` (bit order as ``--bit-order``)::

    {"0000": {"0000": 9800, "0001": 50, "0010": 48, ...},
     "1111": {"1111": 9500, "1110": 130, ...}}

keys of the outer object: the prepared state, one bit per qubit; inner objects: the bits read
and their counts. Either as the ``calibration`` entry of a counts JSON (then the counts go
under ``settings``, see :mod:`qtomo.data.counts`) or as a file of its own
(``--calibration FILE``: the object above, or a counts JSON with a ``calibration`` entry).
``|0...0>`` and ``|1...1>`` are the usual pair; any basis states are accepted as long as every
qubit is prepared at least once in 0 and once in 1.

Per qubit q the estimate pools every prepared state by the bit b' that q was prepared in:

    C_q[b | b'] = k_q(b, b') / n_q(b'),   se = sqrt(C (1 - C) / n_q(b'))  (binomial),

with n_q(b') the calibration shots with qubit q prepared in b' and k_q(b, b') those among them
that read b. Rows: bit read, columns: bit prepared; each column sums to 1. The estimate
treats the qubits' readout as independent (correlated readout errors are averaged over).

Given matrices (``--readout FILE``)
-----------------------------------
JSON, either a list of N matrices ``[[[P(0|0), P(0|1)], [P(1|0), P(1|1)]], ...]`` (entry q is
qubit q, whatever ``--bit-order``) or ``{"confusion": [...], "stderr": [...], "comment": ...}``
with optional standard errors of the same shape (NaN when absent).

Both are refused (exit code 4) unless every matrix is stochastic (entries in [0, 1], columns
summing to 1 within 1e-6) and both flip probabilities are below 0.5: a readout that flips a
prepared bit half the time or more cannot be inverted into a correction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.counts import JsonObject, load_json, parse_calibration
from qtomo.data.design import Readout, confusion_problem
from qtomo.data.lab_files import existing_file
from qtomo.errors import DataFileError, InputValueError

Calibration = dict[tuple[int, ...], dict[tuple[int, ...], int]]


def estimate_confusion(calibration: Calibration, n: int, where: str = "calibration"
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-qubit confusion matrices from calibration counts (see the module docstring).

    Returns
    -------
    confusion, stderr : float64 (N, 2, 2)
        ``confusion[q, b, b'] = P(read b | prepared b')`` and its binomial standard error.
    shots : int64 (N, 2)
        Calibration shots with qubit q prepared in b' = 0, 1.
    """
    k = np.zeros((n, 2, 2), dtype=np.int64)  # q, read b, prepared b'
    q = np.arange(n)
    for prep, counts in calibration.items():
        pb = np.asarray(prep, dtype=np.int64)
        for read, c in counts.items():
            k[q, np.asarray(read, dtype=np.int64), pb] += c
    shots = k.sum(axis=1)  # q, b'
    if shots.sum() == 0:
        raise DataFileError(f"{where}: no calibration shots (every count is 0)")
    missing = np.argwhere(shots == 0)
    if missing.size:
        qq, b = (int(x) for x in missing[0])
        raise DataFileError(
            f"{where}: no calibration shots with qubit {qq} prepared in |{b}>; expected counts "
            f"for |{'0' * n}> and |{'1' * n}> (or basis states preparing every qubit in 0 and 1)"
        )
    confusion = k / shots[:, None, :]
    stderr = np.sqrt(confusion * (1 - confusion) / shots[:, None, :])
    problem = confusion_problem(confusion)
    if problem:
        raise DataFileError(f"{where}: {problem}")
    return confusion, stderr, shots


def read_calibration_file(path: str | os.PathLike[str], n: int, bit_order: str
                          ) -> Calibration:
    """Calibration counts of a ``--calibration`` JSON file (its own object, or a counts
    file's ``calibration`` entry)."""
    p = existing_file(path, "calibration counts (JSON)")
    doc = load_json(p)
    if isinstance(doc, JsonObject) and any(key == "calibration" for key, _ in doc):
        doc = dict(doc)["calibration"]
    return parse_calibration(p, doc, n, bit_order)


def _matrices(p: Path, where: str, obj: Any, n: int) -> np.ndarray:
    try:
        a = np.array(obj, dtype=np.float64)
    except (ValueError, TypeError):
        raise DataFileError(f"{p}: {where}: not an array of numbers; expected {n} matrices "
                            "2x2") from None
    if a.shape != (n, 2, 2):
        raise DataFileError(f"{p}: {where}: shape {a.shape}; expected ({n}, 2, 2), one 2x2 "
                            "matrix per qubit of the data")
    return a


def read_readout_file(path: str | os.PathLike[str], n: int) -> Readout:
    """Given confusion matrices (``--readout FILE``), checked (see the module docstring)."""
    p = existing_file(path, "readout confusion matrices (JSON)")
    doc = load_json(p)
    stderr = None
    if isinstance(doc, JsonObject):
        keys = [key for key, _ in doc]
        for key in keys:
            if key not in ("confusion", "stderr", "comment") or keys.count(key) > 1:
                raise DataFileError(f"{p}: top-level key {key!r}; expected 'confusion' and "
                                    "optionally 'stderr' and 'comment', each once")
        d = dict(doc)
        if "confusion" not in d:
            raise DataFileError(f"{p}: no 'confusion' entry; expected {{\"confusion\": "
                                "[[[P(0|0), P(0|1)], [P(1|0), P(1|1)]], ...]}")
        doc, stderr = d["confusion"], d.get("stderr")
    c = _matrices(p, "confusion", doc, n)
    problem = confusion_problem(c)
    if problem:
        raise DataFileError(f"{p}: {problem}")
    se = np.full_like(c, np.nan)
    if stderr is not None:
        se = _matrices(p, "stderr", stderr, n)
        if not np.all(np.isfinite(se)) or se.min() < 0:
            raise DataFileError(f"{p}: stderr holds negative or non-finite entries")
    return Readout(c, se, "readout", str(p))


def import_readout(source: Path, n: int, bit_order: str, embedded: Calibration | None,
                   calibration: str | None, readout: str | None) -> Readout | None:
    """The readout of an import: from the data file's own ``calibration`` entry, a
    ``--calibration`` file or a ``--readout`` file (one of them at most), or None."""
    given = [name for name, v in (("a 'calibration' entry in the data file", embedded),
                                  ("--calibration", calibration), ("--readout", readout))
             if v is not None]
    if len(given) > 1:
        raise InputValueError(f"readout given twice ({' and '.join(given)}); give one source")
    if readout is not None:
        return read_readout_file(readout, n)
    if embedded is None and calibration is None:
        return None
    if embedded is not None:
        counts, src = embedded, source
    else:
        assert calibration is not None
        counts, src = read_calibration_file(calibration, n, bit_order), Path(calibration)
    c, se, shots = estimate_confusion(counts, n, where=f"{src}: calibration")
    return Readout(c, se, "calibration", str(src), shots)


__all__ = [
    "Calibration",
    "estimate_confusion",
    "import_readout",
    "read_calibration_file",
    "read_readout_file",
]
