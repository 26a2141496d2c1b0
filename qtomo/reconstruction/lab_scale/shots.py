"""Shots of a fixed design, per setting: readout-corrected per-shot values and their resampling.

Conventions (docs/conventions.md): a shot is a row of ``bits`` (M, N) uint8, column q being
qubit q; bit 0 is the +1 outcome of ``n . sigma`` along the setting's axis for that qubit, so
the qubit's +-1 value is ``z = 1 - 2 b``. ``setting_index`` (M,) int64 names each shot's
setting (0..S-1).

Readout correction on the single-qubit level
--------------------------------------------
With ``C_q[b, b'] = P(read b | prepared b')`` the value read satisfies
``E[z_read | z] = alpha_q + beta_q z`` with ``alpha_q = C_q[0,0] - C_q[1,1]`` and
``beta_q = C_q[0,0] + C_q[1,1] - 1``, so ``y_q = (z_read - alpha_q) / beta_q`` has
``E[y_q | z] = z``. Readout errors independent between qubits (what per-qubit matrices
describe) make ``prod_q y_q`` an unbiased per-shot estimate of the product observable
``prod_q z_q``, and ``prod_q (1 + s y_q)/2`` one of the projector onto ``z_q = s``.
:func:`corrected_values` gives the table ``y_q(b)``, (N, 2); the ideal readout is
``y_q(0) = 1, y_q(1) = -1``.

Resampling
----------
:func:`setting_means` returns each setting's mean with the point readout and, for the
bootstrap, ``B`` replicate means: each replicate reweights the shots of every setting with
independent Poisson(1) weights (the Poisson bootstrap, a close approximation of resampling
n_s shots with replacement that can be drawn chunk by chunk; :data:`POISSON_TABLE`) and,
where the readout was estimated from calibration counts, uses its own draw of the confusion
matrices (:func:`qtomo.reconstruction.readout.confusion_draws`), so the calibration's error
is part of every bootstrap figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.data.design import confusion_problem
from qtomo.errors import InputValueError
from qtomo.reconstruction.readout import confusion_draws
from qtomo.typing import FloatArray

#: Shots per block when per-shot values are computed for many replicates at once.
CHUNK_SHOTS = 4096
#: Bootstrap replicates by default.
DEFAULT_BOOTSTRAP = 200

#: Poisson(1) bootstrap weights by inversion on a grid of 2^-16: entry u of the table is the
#: weight of a uniform 16-bit draw u (probabilities exact to 2^-16; one lookup per draw is
#: much cheaper than a Poisson sampler).
_GRID = 1 << 16
POISSON_TABLE = np.searchsorted(
    np.cumsum(np.exp(-1.0) / np.cumprod(np.r_[1.0, np.arange(1.0, 20.0)])),
    (np.arange(_GRID) + 0.5) / _GRID).astype(np.float64)

#: Per-shot values of setting s: ``values(s, bits (n, N), tables (T, N, 2)) -> (n, T)``.
ValuesFn = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


def ideal_table(n: int) -> FloatArray:
    """``y_q(b) = 1 - 2 b`` for every qubit, (N, 2)."""
    return np.tile(np.array([1.0, -1.0]), (n, 1))


def corrected_values(confusion: np.ndarray) -> FloatArray:
    """Readout-corrected single-qubit values ``y_q(b)`` (N, 2) of confusion matrices (N, 2, 2)
    (module docstring)."""
    c = np.asarray(confusion, dtype=np.float64)
    alpha = c[:, 0, 0] - c[:, 1, 1]
    beta = c[:, 0, 0] + c[:, 1, 1] - 1.0
    z = np.array([1.0, -1.0])
    return (z[None, :] - alpha[:, None]) / beta[:, None]


def readout_tables(readout: Any, n: int, draws: int, rng: np.random.Generator
                   ) -> tuple[FloatArray, bool]:
    """Value tables (T, N, 2): row 0 from the point readout, rows 1..draws from calibration
    draws when the readout carries an uncertainty (then T = draws + 1, else T = 1).

    ``readout`` is None (ideal), an array of confusion matrices (N, 2, 2) taken as exact, or a
    :class:`qtomo.data.design.Readout` (its calibration shots or standard errors give the
    draws). Returns ``(tables, calibration_resampled)``.
    """
    if readout is None:
        return ideal_table(n)[None], False
    confusion = getattr(readout, "confusion", readout)
    c = np.asarray(confusion, dtype=np.float64)
    problem = confusion_problem(c)
    if problem:
        raise InputValueError(f"readout: {problem}")
    if c.shape[0] != n:
        raise InputValueError(f"readout holds {c.shape[0]} qubits' matrices; the shots have {n}")
    point = corrected_values(c)[None]
    if not hasattr(readout, "confusion") or draws < 1:
        return point, False
    mats = confusion_draws(readout, draws, rng)
    if not mats:
        return point, False
    return np.concatenate([point, np.stack([corrected_values(m) for m in mats])]), True


def product_values(bits: np.ndarray, tables: np.ndarray, support: np.ndarray) -> FloatArray:
    """``prod_{q in support} tables[t, q, bits[:, q]]`` for every shot and table, (n, T).

    Computed as a sum of logarithms, ``sum_q log|t_q(0)| + bits . (log|t_q(1)| - log|t_q(0)|)``
    (one matrix product for all tables), with the signs and zeros counted apart, so that
    thousands of shots times hundreds of tables stay cheap.
    """
    sup = np.flatnonzero(np.asarray(support, dtype=bool))
    n_shots, n_tables = bits.shape[0], tables.shape[0]
    if sup.size == 0:
        return np.ones((n_shots, n_tables))
    b1 = bits[:, sup].astype(np.float64)
    t = tables[:, sup, :]  # T k 2
    zero, neg = t == 0.0, t < 0.0
    logs = np.log(np.where(zero, 1.0, np.abs(t)))
    log_sum = logs[:, :, 0].sum(axis=1)[None, :] + b1 @ (logs[:, :, 1] - logs[:, :, 0]).T
    # signs and zeros: one pattern for all tables in practice (calibration draws keep the
    # signs of the corrected values); counted per table only when they differ
    rows = slice(None) if (zero != zero[:1]).any() or (neg != neg[:1]).any() else slice(0, 1)
    n_zero = zero[rows, :, 0].sum(axis=1)[None, :] + b1 @ (
        zero[rows, :, 1].astype(np.float64) - zero[rows, :, 0]).T
    n_neg = neg[rows, :, 0].sum(axis=1)[None, :] + b1 @ (
        neg[rows, :, 1].astype(np.float64) - neg[rows, :, 0]).T
    sign = 1.0 - 2.0 * (np.rint(n_neg).astype(np.int64) & 1)
    return np.where(n_zero > 0.5, 0.0, sign * np.exp(log_sum))


def check_shots(axes: np.ndarray, setting_index: np.ndarray, bits: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``(axes (S, N, 2) float64, setting_index (M,) int64, bits (M, N) uint8)``."""
    a = np.asarray(axes, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputValueError(f"settings' axes must have shape (S, N, 2), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputValueError("settings' axes hold non-finite angles")
    idx = np.asarray(setting_index)
    b = np.asarray(bits)
    if idx.ndim != 1 or b.ndim != 2 or b.shape != (idx.size, a.shape[1]):
        raise InputValueError(f"setting_index {idx.shape} and bits {b.shape}: expected (M,) "
                              f"and (M, {a.shape[1]})")
    if idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= a.shape[0]):
        raise InputValueError(f"setting_index must hold integers 0..{a.shape[0] - 1}")
    if b.size and (b.dtype.kind not in "iub" or b.max() > 1 or b.min() < 0):
        raise InputValueError("bits must be 0 or 1")
    return a, idx.astype(np.int64), b.astype(np.uint8)


def group_shots(setting_index: np.ndarray, bits: np.ndarray, n_settings: int
                ) -> list[np.ndarray]:
    """The shots of each setting, in the order measured: list of S arrays (n_s, N)."""
    order = np.argsort(setting_index, kind="stable")
    bounds = np.searchsorted(setting_index[order], np.arange(n_settings + 1))
    return [bits[order[bounds[s]:bounds[s + 1]]] for s in range(n_settings)]


@dataclass(frozen=True)
class SettingMeans:
    """Per-setting means of per-shot values.

    Attributes
    ----------
    point : (S,)
        Means with the point readout.
    var : (S,)
        Per-shot sample variances (ddof 1; NaN for one shot).
    shots : int64 (S,)
    boot : (B, S) or None
        Replicate means (module docstring); None without bootstrap.
    """

    point: FloatArray
    var: FloatArray
    shots: np.ndarray
    boot: FloatArray | None


def _one_setting(s: int, g: np.ndarray, values: ValuesFn, tables: np.ndarray, n_boot: int,
                 rng: np.random.Generator) -> tuple[float, float, FloatArray]:
    n = len(g)
    total = total_sq = 0.0
    num, den = np.zeros(n_boot), np.zeros(n_boot)
    calibrated = tables.shape[0] > 1
    for c0 in range(0, n, CHUNK_SHOTS):
        chunk = g[c0:c0 + CHUNK_SHOTS]
        v = values(s, chunk, tables if calibrated else tables[:1])
        p = v[:, 0]
        total += float(p.sum())
        total_sq += float((p * p).sum())
        if n_boot:
            w = POISSON_TABLE[rng.integers(0, _GRID, size=(n_boot, len(chunk)),
                                           dtype=np.uint16)]
            num += (w * v[:, 1:].T).sum(axis=1) if calibrated else w @ p
            den += w.sum(axis=1)
    mean = total / n
    var = max(total_sq / n - mean**2, 0.0) * n / (n - 1) if n > 1 else float("nan")
    return mean, var, num / np.maximum(den, 1.0)


def setting_means(groups: Sequence[np.ndarray], values: ValuesFn, tables: np.ndarray,
                  n_boot: int, rng: np.random.Generator) -> SettingMeans:
    """Means of ``values`` per setting, with ``n_boot`` bootstrap replicates (module docstring).

    ``tables`` has one row (exact readout: every replicate uses it) or ``n_boot + 1`` rows
    (row 0 the point, row b + 1 replicate b's calibration draw).
    """
    if tables.shape[0] not in (1, n_boot + 1):
        raise ValueError(f"{tables.shape[0]} value tables for {n_boot} replicates")
    for s, g in enumerate(groups):
        if len(g) == 0:
            raise InputValueError(f"setting {s} has no shots; every setting of the design must "
                                  "be measured")
    rows = [_one_setting(s, g, values, tables, n_boot, rng) for s, g in enumerate(groups)]
    point = np.array([r[0] for r in rows])
    var = np.array([r[1] for r in rows])
    boot = np.stack([r[2] for r in rows], axis=1) if n_boot else None
    return SettingMeans(point, var, np.array([len(g) for g in groups], dtype=np.int64), boot)


__all__ = [
    "CHUNK_SHOTS",
    "DEFAULT_BOOTSTRAP",
    "POISSON_TABLE",
    "SettingMeans",
    "ValuesFn",
    "check_shots",
    "corrected_values",
    "group_shots",
    "ideal_table",
    "product_values",
    "readout_tables",
    "setting_means",
]
