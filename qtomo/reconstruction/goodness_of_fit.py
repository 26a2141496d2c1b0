"""Goodness of fit of a state to the shots: the G-test over measurement settings.

For a state rho and the shots grouped by setting (:class:`~qtomo.reconstruction.
setting_counts.SettingCounts`: counts n(s, b) of bit string b in setting s, and each setting's
effective POVM E(s, b), readout included),

    G = 2 sum_s sum_b n(s, b) log[f(s, b) / p_rho(s, b)],   p_rho(s, b) = Tr[rho E(s, b)],

f the per-setting frequencies. If rho produced the shots and the measurements are the ones
assumed, G is asymptotically chi-square with

    dof = S (2^N - 1) - k

degrees of freedom: each of the S settings has 2^N - 1 free frequencies, and k counts the
parameters of the family the state was fitted in. A state fitted to these shots by maximum
likelihood in the rank-r family has k = 2 d r - r^2 - 1 (d = 2^N; plus one for a fitted local
depolarizing strength): :func:`fitted_parameters`. A state not fitted to the shots (the target)
has k = 0; any other state derived from the shots (a model trained on them, a projected
inversion) counts as a full density matrix, k = 4^N - 1, the most a state can absorb (for 4
qubits on all 81 Pauli settings: 81 x 15 - 255 = 960).

A G far above its dof means that no state of the family, measured as assumed, produces the
counts: the measurements differ from setting to setting (drift, crosstalk) or from the assumed
POVM (uncorrected readout). The test is meaningful when every setting holds several shots per
outcome; settings with fewer than ``MIN_SHOTS_PER_OUTCOME x 2^N`` shots are left out, and when
they hold more than ``MAX_DROPPED_SHOTS`` of all shots (random bases at large N) the test is
not run, with the reason.

Zero probabilities: an outcome observed n > 0 times where the state gives p = 0 makes G
infinite. Probabilities are clipped to ``PROBABILITY_FLOOR``, so such a cell adds about
``2 n log(f / floor)`` (28 for one count in a thousand shots of its setting): a few such counts
reject the state, with a finite statistic; ``clipped_cells`` counts those cells. Conversely,
outcomes a nearly pure state makes almost impossible, never observed, add nothing: the
effective dof is smaller than the nominal one and the test is conservative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from qtomo.reconstruction.density import product_table
from qtomo.reconstruction.mle import has_noise, mle_parameter_count
from qtomo.reconstruction.setting_counts import SettingCounts
from qtomo.states.paulis import I2, X, Y, Z

#: Level below which the report says that the shots reject the state.
ALPHA = 1e-3
#: Probabilities are clipped to this floor (module docstring).
PROBABILITY_FLOOR = 1e-9
#: A setting enters the test with at least this many shots per outcome on average.
MIN_SHOTS_PER_OUTCOME = 5
#: The test is not run when the settings left out hold more than this fraction of the shots.
MAX_DROPPED_SHOTS = 0.1
#: Settings listed as the worst in the report.
WORST = 5
_PAULI_BASIS = np.stack([I2, X, Y, Z])


def setting_probabilities(rho: np.ndarray, projectors: np.ndarray, *,
                          block_entries: int = 1 << 22) -> np.ndarray:
    """Born probabilities p(s, b) = Tr[rho E(s, b_0) (x) ... (x) E(s, b_{N-1})], (S, 2^N).

    ``rho`` (2^N, 2^N) is expanded once in Pauli strings, c_P = Tr[rho P]; every setting then
    contracts the real 4^N coefficients qubit by qubit with Tr[E(s, q, b) P_q] / 2 (settings in
    blocks of at most ``block_entries`` / 4^N). Bit strings are indexed with qubit 0 the most
    significant bit.
    """
    n = projectors.shape[1]
    coef = product_table(rho, _PAULI_BASIS).real  # (4^N,)
    e = 0.5 * np.einsum("sqbij,pji->sqbp", projectors, _PAULI_BASIS).real  # (S, N, 2, 4)
    step = max(1, block_entries >> (2 * n))
    out = np.empty((projectors.shape[0], 1 << n))
    for s0 in range(0, projectors.shape[0], step):
        es = e[s0:s0 + step]
        t = np.broadcast_to(coef, (es.shape[0], coef.size)).reshape(es.shape[0], 1, -1)
        for q in range(n):  # t: (s, bits of qubits < q, 4 of qubit q x the rest)
            t = np.einsum("sbp,sxpr->sxbr", es[:, q], t.reshape(t.shape[0], t.shape[1], 4, -1))
            t = t.reshape(t.shape[0], -1, t.shape[-1])
        out[s0:s0 + step] = t.reshape(es.shape[0], -1)
    return out


@dataclass(frozen=True)
class GTest:
    """The G-test of one state (module docstring).

    Attributes
    ----------
    statistic, dof, p_value : the test (p from the chi-square upper tail)
    parameters : int
        k subtracted from the dof.
    per_setting : float (S,)
        Each setting's share of G (its own dof is 2^N - 1).
    clipped_cells : int
        Observed cells whose probability was clipped to the floor.
    """

    statistic: float
    dof: int
    p_value: float
    parameters: int
    per_setting: np.ndarray = field(repr=False)
    clipped_cells: int = 0

    @property
    def rejected(self) -> bool:
        return self.p_value < ALPHA

    @property
    def ratio(self) -> float:
        """G / dof (about 1 when the state fits)."""
        return self.statistic / self.dof


def g_test(counts: np.ndarray, probs: np.ndarray, parameters: int) -> GTest:
    """G-test of per-setting ``counts`` (S, 2^N) against ``probs`` (S, 2^N, rows sum to 1)
    for a state with ``parameters`` fitted parameters."""
    n_s = counts.sum(axis=1, keepdims=True).astype(np.float64)
    seen = counts > 0
    p = np.clip(probs, PROBABILITY_FLOOR, None)
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(seen, counts * np.log(np.where(seen, counts, 1) / (n_s * p)), 0.0)
    per_setting = 2.0 * terms.sum(axis=1)
    g = float(max(per_setting.sum(), 0.0))
    dof = int(counts.shape[0] * (counts.shape[1] - 1) - parameters)
    return GTest(g, dof, float(stats.chi2.sf(g, dof)) if dof > 0 else float("nan"),
                 int(parameters), per_setting, int((seen & (probs < PROBABILITY_FLOOR)).sum()))


def fitted_parameters(name: str, fit: dict[str, Any] | None, n: int) -> tuple[int, str]:
    """``(k, why)``: the parameters of the family a report state was fitted in."""
    if name.startswith("target"):
        return 0, "the target is not fitted to the shots"
    if name == "data_mle" and fit:
        r = int(fit["rank"])
        k = mle_parameter_count(n, r) + (1 if has_noise(fit) else 0)
        return k, (f"maximum likelihood at rank {r}: 2 d r - r^2 - 1"
                   + (" plus the fitted depolarizing strength" if has_noise(fit) else ""))
    return 4**n - 1, ("derived from the shots: counted as a full density matrix (4^N - 1), the "
                      "most a state can be fitted with")


def usable_settings(sc: SettingCounts) -> tuple[np.ndarray, str | None]:
    """Which settings have enough shots, and why the test cannot run (None: it can)."""
    need = MIN_SHOTS_PER_OUTCOME * (1 << sc.n_qubits)
    shots = sc.shots
    keep = shots >= need
    dropped = float(shots[~keep].sum() / max(shots.sum(), 1))
    if dropped > MAX_DROPPED_SHOTS:
        return keep, (f"too few shots per setting: {int(np.median(shots))} (median over "
                      f"{shots.size} settings) for 2^{sc.n_qubits} outcomes; settings with at "
                      f"least {need} shots hold only {1 - dropped:.0%} of the shots (random "
                      "bases at this N: group them into a fixed design)")
    return keep, None


def gof_entry(t: GTest, sc: SettingCounts, state: str, why: str) -> dict[str, Any]:
    """One state's test as a report entry, with its worst settings."""
    per_dof = (1 << sc.n_qubits) - 1
    worst = np.argsort(t.per_setting)[::-1][:WORST]
    return {
        "state": state, "statistic": t.statistic, "dof": t.dof, "p_value": t.p_value,
        "ratio": t.ratio, "rejected": t.rejected, "parameters": t.parameters,
        "parameters_note": why, "clipped_cells": t.clipped_cells,
        "worst_settings": [{"setting": sc.labels[i], "g": float(t.per_setting[i]),
                            "dof": per_dof, "shots": int(sc.shots[i]),
                            "p_value": float(stats.chi2.sf(t.per_setting[i], per_dof))}
                           for i in worst],
    }


__all__ = ["ALPHA", "MAX_DROPPED_SHOTS", "MIN_SHOTS_PER_OUTCOME", "PROBABILITY_FLOOR", "GTest",
           "fitted_parameters", "g_test", "gof_entry", "setting_probabilities",
           "usable_settings"]
