"""Direct estimates under a fixed measurement design.

The direct (shot-average) estimators assume the Pauli-6 POVM's own setting weights: every
setting s of N qubits drawn with probability 3^-N. A lab's fixed design measures setting s in
n_s of the n shots instead. Since every Pauli-6 shot tells its setting (basis = outcome // 2),
the unbiased estimate of Tr[rho O] from per-shot values Q(a) is the stratified mean

    O_hat = sum_s 3^-N mean_{shots in s} Q,    se^2 = sum_s 3^-2N var_s(Q) / n_s,

which equals the plain mean when the design is balanced (n_s = n / 3^N) and corrects it
otherwise. When some of the 3^N settings were never measured, no unbiased linear estimate of
a figure that involves them (the fidelity with a GHZ state, say) exists; :func:`stratified_mean`
then reports the estimate as unavailable, and the caller says so instead of printing a biased
number. (The models are unaffected: their likelihood conditions on the settings.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtomo.povm.born import all_outcomes
from qtomo.reconstruction.density import product_table
from qtomo.reconstruction.notes import UNMEASURED_NOTE
from qtomo.states.paulis import I2, X, Y, Z
from qtomo.typing import FloatArray, Outcomes


@dataclass(frozen=True)
class DesignCoverage:
    """How a fixed design covers the 3^N settings.

    Attributes
    ----------
    setting_index : int64 (shots,)
        Each shot's setting as a base-3 number (X=0, Y=1, Z=2; qubit 0 most significant).
    counts : int64 (3^N,)
        Shots per setting.
    """

    setting_index: np.ndarray
    counts: np.ndarray

    @property
    def complete(self) -> bool:
        """Every setting measured at least twice (a variance per setting)."""
        return bool(self.counts.min() >= 2)

    @property
    def measured(self) -> int:
        return int((self.counts > 0).sum())

    def describe(self) -> str:
        return f"{self.measured} of {self.counts.size} settings measured"


#: Fixed designs above this many qubits are not stratified (3^N settings).
MAX_STRATIFIED_QUBITS = 12


def setting_index(outcomes: Outcomes) -> np.ndarray:
    """Each Pauli-6 string's setting as a base-3 number (X=0, Y=1, Z=2; qubit 0 most
    significant), int64 (shots,)."""
    a = np.asarray(outcomes)
    n = a.shape[1]
    return (a // 2).astype(np.int64) @ (3 ** np.arange(n - 1, -1, -1, dtype=np.int64))


def coverage(outcomes: Outcomes) -> DesignCoverage | None:
    """Settings of Pauli-6 shots (None above :data:`MAX_STRATIFIED_QUBITS` qubits)."""
    n = np.asarray(outcomes).shape[1]
    if n > MAX_STRATIFIED_QUBITS:
        return None
    idx = setting_index(outcomes)
    return DesignCoverage(idx, np.bincount(idx, minlength=3**n))


def stratified_mean(q: FloatArray, cov: DesignCoverage) -> tuple[float, float] | None:
    """Stratified estimate and standard error of mean Q (module docstring); None when some
    setting has fewer than two shots."""
    if not cov.complete:
        return None
    q = np.asarray(q, dtype=np.float64)
    k = cov.counts.astype(np.float64)
    s1 = np.bincount(cov.setting_index, weights=q, minlength=k.size)
    s2 = np.bincount(cov.setting_index, weights=q * q, minlength=k.size)
    mean_s = s1 / k
    var_s = np.maximum(s2 / k - mean_s**2, 0.0) * k / (k - 1)
    w = 1.0 / k.size
    return float(w * mean_s.sum()), float(w * np.sqrt((var_s / k).sum()))


def balanced(cov: DesignCoverage) -> bool:
    """Every setting measured equally often: the plain shot average is already unbiased."""
    return bool(cov.counts.min() == cov.counts.max() and cov.counts.min() > 0)


def design_table(table: FloatArray, cov: DesignCoverage, n: int) -> FloatArray:
    """A conditional model's Pauli-6 table with its settings reweighted to the design.

    A model trained with the conditional likelihood gives Q(a) = 3^-N Q(b | s) at every
    setting, also those never measured, where Q(b | s) is the network's extrapolation. Fitted
    as it is, a maximum-likelihood state would trust that extrapolation as much as the
    measured settings. Reweighted, w(s) Q(b | s) with w(s) = n_s / n, the fit is the state
    closest to the model on the settings the data support, and positivity and the rank fill in
    the rest, as for the raw frequencies. Equal to ``table`` for a balanced complete design.
    """
    w = cov.counts[setting_index(all_outcomes(n, 6))] / cov.counts.sum() * 3.0**n
    out = np.asarray(table, dtype=np.float64) * w
    return out / out.sum()


#: The fidelity's Pauli coverage is computed up to this many qubits (4^N strings).
COVERAGE_MAX_QUBITS = 8


def unmeasured_fidelity_weight(psi: np.ndarray, cov: DesignCoverage, n: int) -> float | None:
    """How much of the target's fidelity the design leaves unmeasured.

    F = <psi|rho|psi> = 2^-N sum_P c_P <P>_rho over Pauli strings P, c_P = <psi|P|psi>. A string
    is measured when some measured setting agrees with it on its support. The returned bound
    2^-N sum_{P unmeasured} |c_P| is how far the unmeasured terms could move F for states that
    agree on every measured string (before positivity, which often pins much of it): 0 for a
    complete design. None above :data:`COVERAGE_MAX_QUBITS` qubits.
    """
    if n > COVERAGE_MAX_QUBITS:
        return None
    v = np.asarray(psi, dtype=np.complex128)
    v = v / np.linalg.norm(v)
    c = product_table(np.outer(v, v.conj()), np.stack([I2, X, Y, Z])).real  # (4^N,)
    measured = np.zeros(4**n, dtype=bool)
    settings = np.flatnonzero(cov.counts)
    letters = (settings[:, None] // 3 ** np.arange(n - 1, -1, -1)[None, :]) % 3 + 1  # 1..3
    place = 4 ** np.arange(n - 1, -1, -1)
    for mask in range(2**n):  # which sites the string acts on
        on = ((mask >> np.arange(n - 1, -1, -1)) & 1).astype(bool)
        measured[(letters * on[None, :]) @ place] = True
    return float(np.abs(c[~measured]).sum() / 2**n)


__all__ = ["COVERAGE_MAX_QUBITS", "DesignCoverage", "MAX_STRATIFIED_QUBITS", "UNMEASURED_NOTE",
           "balanced",
           "coverage", "design_table", "setting_index", "stratified_mean",
           "unmeasured_fidelity_weight"]
