"""Variance models behind ``qtomo plan``: how many shots (and settings) give a standard error.

Per protocol the plan models the variance of one shot's value in the target state and
allocates shots to minimise the total for the requested standard error ``eps`` (Lagrange: shots
in proportion to ``sqrt(weight * variance)``). Readout errors assumed by the plan
(``--readout-error``) enter through the corrected single-qubit values ``y_q`` of :mod:`.shots`,
whose conditional second moments ``m_q(b') = E[y_q^2 | prepared b']`` exceed 1: their mean over
b' is ``mu_q``, their maximum ``r_q`` (both 1 for an ideal readout).

* **parity** (GHZ): a parity shot has second moment ``E prod_q m_q(b_q)``; the XY-plane bits of
  a GHZ state (with any local depolarizing noise) are uniform on every N - 1 qubits, so this is
  ``prod_q mu_q`` up to a term of order ``(r - mu)^N``. With every XY setting at ``n_xy``
  shots, ``Var(Re c) <= prod mu / (2 M n_xy)`` since ``sum_k cos^2(N phi_k) = M/2``. The
  population shot's second moment ``V_Z`` is the mean over the two branches |0..0> and |1..1>,
  and ``Var(F) <= V_Z / (4 n_Z) + prod mu / (2 M n_xy)``: no noise assumption is needed (the
  means squared are not subtracted).
* **stabilizer**: ``Var(F_hat) = (1/l) [sigma_S^2 + E_S Var(shot | S) / m]``. The per-shot part
  is bounded by the second moment ``prod_{q in supp S} mu_q`` (the bits of a proper part of
  the support are uniform in a stabilizer state); the spread ``sigma_S^2 = Var_S <S>`` between
  elements is that of the assumed noisy target, ``<S> = (1 - p)^w(S)`` under local
  depolarizing p (``--noise``), estimated over 4096 drawn elements. The plan takes
  ``l = max(MIN_SETTINGS, 2 sigma_S^2 / eps^2)`` settings (at most half the budget for the
  spread) and ``m = E_S prod mu / (l eps^2 - sigma_S^2)`` shots each; neither grows with N.
* **energy**: the per-shot variances of ``e_Z`` and ``e_X`` in the assumed state: the ground
  state's exact term moments (free fermions, Wick's theorem,
  :func:`qtomo.states.exact.tfim_term_moments`), products damped by ``(1 - p)`` per qubit
  outside their overlap for noise p, and each term's own square by ``r_q`` per qubit for the
  readout correction (its cross terms on a shared qubit are left undamped: a readout
  approximation of relative size ``r - 1``). ``stderr(F) = stderr(<H>) / (E1 - E0)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtomo.data.design import confusion_from_flips
from qtomo.reconstruction.lab_scale.shots import corrected_values, ideal_table
from qtomo.states.exact import tfim_term_moments
from qtomo.typing import FloatArray

#: Fewest settings of a sampled stabilizer design (a bootstrap over settings needs some).
MIN_SETTINGS = 50
#: Fewest shots per setting.
MIN_SHOTS = 2
#: Elements drawn to estimate the spread of <S> between settings.
SPREAD_DRAWS = 4096


@dataclass(frozen=True)
class ReadoutModel:
    """Per-qubit readout assumed by a plan: value tables ``y_q(b)`` and confusion matrices."""

    table: FloatArray  # (N, 2)
    confusion: FloatArray  # (N, 2, 2)

    @classmethod
    def of(cls, n: int, flips: tuple[float, float] | None) -> ReadoutModel:
        if flips is None:
            c = confusion_from_flips(np.zeros((n, 2)))
            return cls(ideal_table(n), c)
        c = confusion_from_flips(np.tile(np.asarray(flips, dtype=np.float64), (n, 1)))
        return cls(corrected_values(c), c)

    def second_moments(self, table: FloatArray | None = None) -> FloatArray:
        """``E[t(read)^2 | prepared b']`` (N, 2) of a value table t (default the y table)."""
        t = self.table if table is None else table
        return np.einsum("qbp,qb->qp", self.confusion, t**2)

    @property
    def r(self) -> FloatArray:
        """Largest conditional second moment of y per qubit, (N,)."""
        return self.second_moments().max(axis=1)

    @property
    def mu(self) -> FloatArray:
        """Mean over the prepared bit of the conditional second moments of y, (N,)."""
        return self.second_moments().mean(axis=1)


def allocate(sqrt_terms: list[float], eps: float) -> list[float]:
    """Shots of each group for ``sum_g V_g / n_g = eps^2`` at the smallest total, where
    ``sqrt_terms`` are the ``sqrt(V_g)`` (unrounded)."""
    total = sum(sqrt_terms)
    return [s * total / eps**2 for s in sqrt_terms]


# --- parity -----------------------------------------------------------------------------------
def parity_moments(ro: ReadoutModel) -> tuple[float, float]:
    """``(V_Z, m2_xy)``: second moments of a population shot and of a parity shot of a GHZ
    state (module docstring)."""
    plus = ro.second_moments((1.0 + ro.table) / 2)  # N, prepared b'
    minus = ro.second_moments((1.0 - ro.table) / 2)
    branches = [float(np.prod(plus[:, b]) + np.prod(minus[:, b])) for b in (0, 1)]
    cross = float(np.prod(np.abs(1.0 - ro.table**2).max(axis=1) / 4))
    return float(np.mean(branches)) + 2 * cross, float(np.prod(ro.mu))


def parity_stderr(v_z: float, m2: float, n_phases: int, n_z: int, n_xy: int) -> float:
    return float(np.sqrt(v_z / (4 * n_z) + m2 / (2 * n_phases * n_xy)))


def parity_shots(v_z: float, m2: float, n_phases: int, eps: float | None,
                 total: int | None) -> tuple[int, int]:
    """``(n_Z, n_xy)`` for a standard error ``eps``, or splitting ``total`` shots."""
    roots = [np.sqrt(v_z / 4), np.sqrt(m2 / 2)]
    if eps is not None:
        n_z, n_all = allocate(roots, eps)
    else:
        assert total is not None
        n_z = total * roots[0] / sum(roots)
        n_all = total - n_z
    return max(MIN_SHOTS, int(np.ceil(n_z))), max(MIN_SHOTS, int(np.ceil(n_all / n_phases)))


# --- stabilizer -------------------------------------------------------------------------------
def stabilizer_spread(weights: np.ndarray, noise: float) -> float:
    """``Var_S (1 - p)^w(S)`` over drawn elements' weights."""
    return float(np.var((1.0 - noise) ** np.asarray(weights, dtype=np.float64)))


def stabilizer_stderr(spread: float, m2: float, n_settings: int, shots: int,
                      sampled: bool) -> float:
    return float(np.sqrt(((spread if sampled else 0.0) + m2 / shots) / n_settings))


# --- energy -----------------------------------------------------------------------------------
def _overlap_damping(sets: list[frozenset[int]], noise: float) -> FloatArray:
    """``(1 - p)^|A sym-diff B|`` for every pair of qubit sets."""
    k = len(sets)
    out = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            out[i, j] = (1.0 - noise) ** len(sets[i] ^ sets[j])
    return out


def energy_variances(n: int, J: float, h: float, noise: float, ro: ReadoutModel,
                     parity_weight: float = 0.0, parity: int = 1) -> tuple[float, float]:
    """Per-shot variances ``(Var e_Z, Var e_X)`` in the assumed noisy ground state; with a
    ``parity_weight`` w, the all-X value is ``e_X - w P`` (P = prod_i X_i, the ground state's
    parity ``parity``). In the pure ground state P is sharp, so P varies only by the noise:
    ``<P> = s0 (1 - p)^N`` and ``Cov(X_i, P) = s0 <X_i> ((1 - p)^(N-1) - (1 - p)^(N+1))``."""
    zz_mean, zz_second, x_mean, x_second = tfim_term_moments(n, J, h)
    r = ro.r
    out = []
    for coupling, mean, second, sets in (
            (J, zz_mean, zz_second, [frozenset((i, i + 1)) for i in range(n - 1)]),
            (h, x_mean, x_second, [frozenset((i,)) for i in range(n)])):
        m2 = _overlap_damping(sets, noise) * second
        np.fill_diagonal(m2, [float(np.prod(r[sorted(s)])) for s in sets])
        w = len(sets[0])
        var = m2.sum() - ((1.0 - noise) ** w * mean.sum()) ** 2
        out.append(coupling**2 * max(float(var), 0.0))
    if parity_weight:
        q = 1.0 - noise
        var_p = float(np.prod(r)) - q ** (2 * n)
        cov = -h * parity * float(x_mean.sum()) * (q ** (n - 1) - q ** (n + 1))
        out[1] = max(out[1] + parity_weight**2 * var_p - 2.0 * parity_weight * cov, 0.0)
    return out[0], out[1]


__all__ = [
    "MIN_SETTINGS",
    "MIN_SHOTS",
    "SPREAD_DRAWS",
    "ReadoutModel",
    "allocate",
    "energy_variances",
    "parity_moments",
    "parity_shots",
    "parity_stderr",
    "stabilizer_spread",
    "stabilizer_stderr",
]
