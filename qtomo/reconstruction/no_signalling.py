"""No-signalling check of shots grouped by setting: drift and crosstalk between settings.

With ideal local measurements, the marginal of qubit q measured in basis b is the same in
every setting that measures q in b, whatever the other qubits' bases (no signalling); likewise
the joint marginal of a pair of qubits in a pair of bases. A lab's settings are run minutes or
hours apart: when readout, calibration or crosstalk drift between them, these marginals
differ by more than their shot noise.

Each (qubit, basis) and each (pair of qubits, pair of bases) shared by at least two settings is
tested for homogeneity across those settings: Pearson's chi-square of the settings x outcomes
contingency table, with (settings - 1) (outcomes - 1) degrees of freedom (outcome columns
that no setting observed are left out). The tests are combined by **Holm's** step-down
correction at level ``ALPHA``: the check fails when any test is rejected, and its p-value is
the smallest Holm-adjusted one (for the global null, the Bonferroni bound: number of tests x
smallest p). The overall statistic quoted beside it is the sum over the single-qubit tests
(for one qubit, its bases use disjoint settings; across qubits the tests share settings, so the
sum is a summary, not the verdict).

Per setting, each cell of a contingency table has its adjusted residual
(O - E) / sqrt(E (1 - n_s / n) (1 - c / n)), about N(0, 1) without drift. The report draws, per
setting and qubit, the largest |residual| over the tests that involve the qubit (its own
marginal and its pairs) as a heat map (settings x qubits), so a lab sees which qubit drifted in
which settings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from qtomo.reconstruction.setting_counts import SettingCounts

#: Family-wise level of the check (Holm).
ALPHA = 1e-3
#: Tests and settings listed as the worst.
WORST = 5


def homogeneity(table: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Pearson chi-square of homogeneity of the rows of a contingency table (settings x
    outcomes): ``(statistic, dof, adjusted residuals)`` (residuals 0 in unobserved columns)."""
    t = np.asarray(table, dtype=np.float64)
    col = t.sum(axis=0)
    used = col > 0
    row = t.sum(axis=1, keepdims=True)
    total = t.sum()
    e = row * col[None, :] / total
    z = np.zeros_like(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(((t - e) ** 2 / e)[:, used].sum())
        scale = np.sqrt(e * (1 - row / total) * (1 - col[None, :] / total))
        z[:, used] = np.where(scale[:, used] > 0, (t - e)[:, used] / scale[:, used], 0.0)
    dof = (t.shape[0] - 1) * (int(used.sum()) - 1)
    return chi2, max(dof, 0), z


@dataclass(frozen=True)
class MarginalTest:
    """The homogeneity test of one marginal across the settings that share it."""

    qubits: tuple[int, ...]
    bases: str
    statistic: float
    dof: int
    p_value: float
    settings: np.ndarray  # indices into the SettingCounts
    max_abs_z: np.ndarray  # (settings,) largest |adjusted residual| per setting

    def as_dict(self, labels: tuple[str, ...], adjusted: float) -> dict[str, Any]:
        worst = np.argsort(self.max_abs_z)[::-1][:WORST]
        return {"qubits": list(self.qubits), "bases": self.bases, "statistic": self.statistic,
                "dof": self.dof, "p_value": self.p_value, "p_value_holm": adjusted,
                "worst_settings": [{"setting": labels[self.settings[i]],
                                    "z": float(self.max_abs_z[i])} for i in worst]}


def _tests(sc: SettingCounts, qubits: tuple[int, ...]) -> list[MarginalTest]:
    """One test per combination of bases of ``qubits`` shared by two settings or more."""
    m = sc.marginal(qubits)
    names = np.array(["".join(row) for row in sc.bases[:, list(qubits)]])
    out = []
    for b in np.unique(names):
        idx = np.flatnonzero(names == b)
        if idx.size < 2:
            continue
        chi2, dof, z = homogeneity(m[idx])
        if dof == 0:
            continue
        out.append(MarginalTest(qubits, str(b), chi2, dof, float(stats.chi2.sf(chi2, dof)),
                                idx, np.abs(z).max(axis=1)))
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (reject where adjusted < level)."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p)
    m = p.size
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def deviations(tests: list[MarginalTest], shape: tuple[int, int]) -> np.ndarray:
    """Largest |adjusted residual| (S, N) of each setting over the tests that involve each
    qubit (its own marginal and its pairs; 0 where no test covers it)."""
    z = np.zeros(shape)
    for t in tests:
        for q in t.qubits:
            z[t.settings, q] = np.maximum(z[t.settings, q], t.max_abs_z)
    return z


@dataclass(frozen=True)
class NoSignalling:
    """Result of :func:`no_signalling`: the single-qubit and pair tests with Holm's p-values,
    and the per-setting deviations (S, N) of :func:`deviations`."""

    singles: list[MarginalTest]
    pairs: list[MarginalTest]
    adjusted: np.ndarray
    deviations: np.ndarray

    @property
    def p_value(self) -> float:
        return float(self.adjusted.min()) if self.adjusted.size else float("nan")

    @property
    def rejected(self) -> bool:
        return bool(self.adjusted.size) and self.p_value < ALPHA

    def rejected_qubits(self) -> list[int]:
        """Qubits of the rejected tests, the worst first."""
        tests = self.singles + self.pairs
        out: list[int] = []
        for i in np.argsort([t.p_value for t in tests]):
            if self.adjusted[i] >= ALPHA:
                break
            out += [q for q in tests[i].qubits if q not in out]
        return out

    def as_dict(self, labels: tuple[str, ...]) -> dict[str, Any]:
        tests = self.singles + self.pairs
        order = np.argsort([t.p_value for t in tests])[:WORST]
        return {
            "statistic": float(sum(t.statistic for t in self.singles)),
            "dof": int(sum(t.dof for t in self.singles)),
            "p_value": self.p_value, "rejected": self.rejected, "alpha": ALPHA,
            "tests": {"single_qubit": len(self.singles), "pairs": len(self.pairs)},
            "pairs_statistic": float(sum(t.statistic for t in self.pairs)),
            "pairs_dof": int(sum(t.dof for t in self.pairs)),
            "drifting_qubits": self.rejected_qubits(),
            "worst": [tests[i].as_dict(labels, float(self.adjusted[i])) for i in order],
            "method": ("Pearson chi-square of homogeneity of each (qubit, basis) marginal and "
                       "each (pair of qubits, pair of bases) marginal across the settings that "
                       "share it, dof (settings - 1)(outcomes - 1); combined by Holm's "
                       "correction (p_value: the smallest Holm-adjusted p); statistic and dof "
                       "sum the single-qubit tests"),
        }


def no_signalling(sc: SettingCounts, *, pairs: bool = True) -> NoSignalling:
    """The no-signalling check of shots grouped by setting (module docstring)."""
    n = sc.n_qubits
    singles = [t for q in range(n) for t in _tests(sc, (q,))]
    two = [t for qs in itertools.combinations(range(n), 2) for t in _tests(sc, qs)] \
        if pairs else []
    adjusted = holm(np.array([t.p_value for t in singles + two]))
    return NoSignalling(singles, two, adjusted,
                        deviations(singles + two, (len(sc.labels), n)))


def calibration_check(sc: SettingCounts, flips: np.ndarray, flip_stderr: np.ndarray
                      ) -> dict[str, Any]:
    """Readout calibration counts against the data's all-Z settings.

    A calibration taken at another time predicts the data's Z marginals only through the
    state, which is unknown; what it fixes is their range: whatever the state, qubit q reads 1
    with a probability between P(1|0) and 1 - P(0|1). A data marginal outside that range, by
    more than the binomial errors of both (one-sided z, Bonferroni over the qubits and all-Z
    settings), means the readout changed between the calibration and the data. Inside the
    range, state and readout cannot be told apart from these counts: the check is skipped where
    no setting measures every qubit in Z or the flips carry no standard errors.

    Parameters
    ----------
    sc : SettingCounts
    flips, flip_stderr : (N, 2)
        P(read 1 | 0), P(read 0 | 1) per qubit and their standard errors.
    """
    allz = np.flatnonzero((sc.bases == "Z").all(axis=1))
    se = np.asarray(flip_stderr, dtype=np.float64)
    if allz.size == 0:
        return {"skipped": "no setting measures every qubit in Z"}
    if not np.all(np.isfinite(se)):
        return {"skipped": "the readout matrices carry no standard errors (no calibration "
                "counts)"}
    z_all, where = [], []
    for s in allz:
        n = sc.shots[s]
        r1 = np.array([sc.marginal((q,))[s, 1] for q in range(sc.n_qubits)]) / n
        var = r1 * (1 - r1) / n
        low = (flips[:, 0] - r1) / np.sqrt(var + se[:, 0] ** 2 + 1e-300)
        high = (r1 - (1 - flips[:, 1])) / np.sqrt(var + se[:, 1] ** 2 + 1e-300)
        z = np.maximum(low, high)
        z_all.append(z)
        where += [(sc.labels[s], q, float(r1[q])) for q in range(sc.n_qubits)]
    z = np.concatenate(z_all)
    i = int(np.argmax(z))
    p = float(min(1.0, z.size * stats.norm.sf(z[i])))
    label, q, r1 = where[i]
    return {"p_value": p, "consistent": p >= ALPHA, "tested": int(z.size),
            "worst": {"setting": label, "qubit": q, "read_1": r1, "z": float(z[i]),
                      "range": [float(flips[q, 0]), float(1 - flips[q, 1])]},
            "method": "each all-Z setting's P(read 1) of every qubit against the range "
            "[P(1|0), 1 - P(0|1)] that any state allows under the calibration; one-sided z "
            "with the binomial errors of both, Bonferroni over qubits and settings"}


__all__ = ["ALPHA", "MarginalTest", "NoSignalling", "calibration_check", "deviations", "holm",
           "homogeneity", "no_signalling"]
