"""Direct fidelity estimation of stabilizer states over sampled group elements.

For a stabilizer state (GHZ, cluster and other graph states; :mod:`qtomo.states.stabilizers`)
``F = <psi|rho|psi> = 2^-N sum_S <S>`` over the 2^N elements S of its group (Flammia and Liu
2011; da Silva, Landon-Cardinal and Poulin 2011). A design draws l elements uniformly and
independently and measures each as one Pauli setting; setting i's observable is
``S_i = sign_i P_0 (x) ... (x) P_{N-1}`` and its per-shot value ``sign_i prod_{q: P_q != I} y_q``
(readout-corrected, :mod:`.shots`). The estimate

    F_hat = (1/l) sum_i mean_i

is unbiased over both the draw of the elements and the shots, and its variance
``(1/l) [Var_S <S> + E_S Var(shot | S) / m]`` does not depend on N. When the design lists every
element once (``sampled=False``: small N) the average is the exact sum and only shot noise is
left. The bootstrap resamples the settings as well as the shots for a sampled design.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale.axes import letters_match
from qtomo.reconstruction.lab_scale.results import (
    ProtocolResult,
    bootstrap_stderr,
    normal_interval,
    stderr_or_analytic,
    with_readout,
)
from qtomo.reconstruction.lab_scale.shots import (
    DEFAULT_BOOTSTRAP,
    check_shots,
    group_shots,
    product_values,
    readout_tables,
    setting_means,
)
from qtomo.states.stabilizers import parse_element_label
from qtomo.typing import FloatArray

ASSUMPTIONS = (
    "the target is the stabilizer state of the group the observables were drawn from, so "
    "that F = 2^-N sum_S <S>",
)
SAMPLED_WORDS = "the observables drawn uniformly and independently from the group"
ENUMERATED_WORDS = "every element of the group measured once: the average is the exact sum"


def parse_observables(labels: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``"+XZIY.."`` -> ``(signs int64 (S,), letters uint8 (S, N))`` (codes 0 I, 1 X,
    2 Y, 3 Z)."""
    parsed = [parse_element_label(t, n) for t in labels]
    if not parsed:
        raise InputValueError("the stabilizer protocol needs at least one observable")
    return (np.array([p[0] for p in parsed], dtype=np.int64),
            np.stack([p[1] for p in parsed]))


def stabilizer_values(signs: np.ndarray, letters: np.ndarray, s: int, bits: np.ndarray,
                      tables: np.ndarray) -> FloatArray:
    """Per-shot values (n, T) of setting ``s``: ``sign_s prod_{q in support} y_q``."""
    return signs[s] * product_values(bits, tables, letters[s] != 0)


def stabilizer_from_means(means: np.ndarray) -> np.ndarray:
    """``F = mean over settings`` of the signed means (..., S) -> (...)."""
    return np.asarray(means, dtype=np.float64).mean(axis=-1)


def _analytic_stderr(point: np.ndarray, var: np.ndarray, shots: np.ndarray,
                     sampled: bool) -> float:
    n_set = point.size
    if sampled:
        return float(point.std(ddof=1) / np.sqrt(n_set)) if n_set > 1 else float("nan")
    return float(np.sqrt(np.sum(var / shots)) / n_set)


def stabilizer_fidelity(axes: np.ndarray, setting_index: np.ndarray, bits: np.ndarray,
                        observables: Sequence[str], *, sampled: bool = True,
                        readout: Any = None, n_boot: int = DEFAULT_BOOTSTRAP,
                        seed: int = 0) -> ProtocolResult:
    """Stabilizer-state fidelity from the shots of a stabilizer design (module docstring).

    Parameters
    ----------
    axes : (S, N, 2)
        The settings' (theta, phi); on the observable's support they must be its Pauli axes.
    setting_index : int64 (M,)
    bits : uint8 (M, N)
    observables : sequence of S labels ``"+XZIY.."``
        Setting i's group element (sign, then one letter per qubit, I off the support).
    sampled : bool
        The elements were drawn at random (the bootstrap resamples them) rather than listing
        the whole group once.
    readout, n_boot, seed :
        As :func:`qtomo.reconstruction.lab_scale.parity.parity_fidelity`.
    """
    a, idx, b = check_shots(axes, setting_index, bits)
    signs, letters = parse_observables(observables, a.shape[1])
    if len(signs) != a.shape[0]:
        raise InputValueError(f"{len(signs)} observables for {a.shape[0]} settings; the design "
                              "names one group element per setting")
    bad = np.flatnonzero(~letters_match(a, letters))
    if bad.size:
        raise InputValueError(f"setting {int(bad[0])} does not measure its observable "
                              f"{observables[int(bad[0])]!r} along the Pauli axes it names")
    rng = np.random.default_rng(seed)
    tables, calibrated = readout_tables(readout, a.shape[1], n_boot, rng)
    sm = setting_means(group_shots(idx, b, a.shape[0]),
                       lambda s, x, t: stabilizer_values(signs, letters, s, x, t),
                       tables, n_boot, rng)
    value = float(stabilizer_from_means(sm.point))
    boot = None
    if sm.boot is not None:
        n_set = a.shape[0]
        pick = (rng.integers(0, n_set, size=(n_boot, n_set)) if sampled
                else np.broadcast_to(np.arange(n_set), (n_boot, n_set)))
        boot = stabilizer_from_means(np.take_along_axis(sm.boot, pick, axis=1))
    se_an = _analytic_stderr(sm.point, sm.var, sm.shots, sampled)
    se = stderr_or_analytic(bootstrap_stderr(boot), se_an)
    details = {
        "design": "sampled" if sampled else "whole group",
        "mean_weight": float((letters != 0).sum(axis=1).mean()),
        "spread_between_settings": float(sm.point.std(ddof=1)) if sm.point.size > 1 else None,
        "negative_settings": int((sm.point < 0).sum()),
        "calibration_resampled": calibrated,
    }
    words = (*ASSUMPTIONS, SAMPLED_WORDS if sampled else ENUMERATED_WORDS)
    return ProtocolResult(
        "stabilizer", value, se, se_an, normal_interval(value, se), None, a.shape[0],
        int(sm.shots.sum()), with_readout(words, readout), details)


__all__ = ["ASSUMPTIONS", "parse_observables", "stabilizer_fidelity", "stabilizer_from_means",
           "stabilizer_values"]
