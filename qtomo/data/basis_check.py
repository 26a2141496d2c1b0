"""Chi-square tests of the Pauli bases measured in imported shots (``qtomo import``).

The Pauli-6 reading of shots in random bases assumes every qubit's basis was drawn
independently and uniformly; :func:`check_bases` tests the pooled basis frequencies against
1/3 each, their homogeneity across qubits and the independence of neighbouring qubits'
bases (:mod:`qtomo.data.lab` acts on the result).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2, chi2_contingency

from qtomo.errors import InputValueError


@dataclass(frozen=True)
class BasisCheck:
    """Result of the basis-frequency tests.

    Attributes
    ----------
    counts : (N, 3) counts of X, Y, Z per qubit
    weights : pooled frequencies (q_x, q_y, q_z)
    p_uniform : chi-square p-value of the pooled counts against 1/3 each
    p_homogeneous : chi-square p-value of "every qubit has the same basis frequencies"
    p_independent : chi-square p-value of "neighbouring qubits choose bases independently"
    uniform : whether the uniform Pauli-6 POVM is kept (p_uniform >= alpha)
    warnings : messages for the user
    """

    counts: np.ndarray
    weights: tuple[float, float, float]
    p_uniform: float
    p_homogeneous: float
    p_independent: float
    uniform: bool
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = self.counts.tolist()
        d["warnings"] = list(self.warnings)
        return d


def check_bases(bases: np.ndarray, alpha: float = 0.01, *, require_all: bool = True
                ) -> BasisCheck:
    """Chi-square tests of the measured bases (codes 0, 1, 2 = X, Y, Z), shape (shots, N).

    ``require_all``: refuse shots that never measured some basis (random bases: the POVM would
    not be informationally complete). A fixed design records what it measured, so its
    settings may leave a basis out (an energy or parity design).
    """
    b = np.asarray(bases)
    shots, n = b.shape
    counts = np.stack([(b == k).sum(0) for k in range(3)], axis=1).astype(np.int64)  # N x 3
    pooled = counts.sum(0).astype(float)
    total = pooled.sum()
    exp = total / 3
    stat = float(((pooled - exp) ** 2 / exp).sum())
    p_uniform = float(chi2.sf(stat, 2))
    weights = tuple(float(x) for x in pooled / total)
    msgs: list[str] = []
    p_homog = 1.0
    if n > 1:
        table = counts[:, pooled > 0]
        if table.shape[1] > 1:
            p_homog = float(chi2_contingency(table)[1])
    p_indep = 1.0
    if n > 1 and shots > 1:
        # pooled 3x3 table of (basis_j, basis_{j+1}) over neighbouring pairs
        pair = np.zeros((3, 3))
        for j in range(n - 1):
            np.add.at(pair, (b[:, j], b[:, j + 1]), 1)
        keep_r, keep_c = pair.sum(1) > 0, pair.sum(0) > 0
        sub = pair[np.ix_(keep_r, keep_c)]
        if sub.shape[0] > 1 and sub.shape[1] > 1:
            p_indep = float(chi2_contingency(sub)[1])
    uniform = p_uniform >= alpha
    if min(weights) == 0.0 and require_all:
        missing = ", ".join(x for x, w in zip("XYZ", weights, strict=True) if w == 0)
        raise InputValueError(
            f"no shot measured basis {missing}; a POVM without it is not informationally "
            "complete, so the state cannot be reconstructed from these shots"
        )
    if not uniform:
        msgs.append(
            f"basis frequencies X {weights[0]:.4f}, Y {weights[1]:.4f}, Z {weights[2]:.4f} differ "
            f"from 1/3 (chi-square p = {p_uniform:.2g} < {alpha}); using the Pauli-6 POVM "
            "weighted by the measured frequencies"
        )
    if p_homog < alpha:
        msgs.append(
            f"basis frequencies differ between qubits (chi-square p = {p_homog:.2g}); qtomo "
            "uses one POVM for every qubit, built from the pooled frequencies"
        )
    if p_indep < alpha:
        msgs.append(
            f"bases of neighbouring qubits are correlated (chi-square p = {p_indep:.2g}); the "
            "product-POVM reading assumes each qubit's basis is drawn independently"
        )
    return BasisCheck(counts, weights, p_uniform, p_homog, p_indep, uniform, tuple(msgs))


__all__ = ["BasisCheck", "check_bases"]
