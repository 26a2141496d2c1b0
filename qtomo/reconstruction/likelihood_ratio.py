"""Likelihood-ratio test of the model's state against the raw-frequency MLE, and the error bar
of the raw-frequency MLE fidelity.

Where ``qtomo reconstruct`` fits a maximum-likelihood state to the raw shot frequencies beside
a model (small N, ``config.DATA_MLE_WITH_MODEL_MAX_QUBITS``), the shots can judge the model's
state directly. With ``c(a)`` the shot counts, ``rho_M`` the model's MLE state and ``rho_D``
the MLE state of the shots (rank ``r``, fitted to the same counts)::

    LR = 2 sum_a c(a) [log p_rhoD(a) - log p_rhoM(a)] = 2 n [KL(f || p_rhoM) - KL(f || p_rhoD)]

with ``p_rho(a) = Tr[rho M(a)]`` and f the relative frequencies. Under the null hypothesis that
the model's state is the state the shots came from, ``LR`` is asymptotically chi-square with
``k_r = 2 d r - r^2 - 1`` degrees of freedom (d = 2^N: the real parameters of a rank-r state),
at most: near the boundary of the state space (nearly pure states) the constrained fit gains
less than an unconstrained one, so the test is conservative there. A model whose errors push
its state away from what the shots say (typically a smoothed, lower-fidelity state fitted from
scarce data) is rejected when ``p < ALPHA`` and, since with many shots any imperfect state is
rejected, its fidelity also differs from the raw MLE's by more than ``Z_FIDELITY`` bootstrap
standard errors of the latter: a rejection that would not move the headline beyond its error
keeps the model (docs/design-notes.md, section "The likelihood-ratio test's fidelity gate").
Otherwise the consistency check headlines the raw-frequency MLE, the standard tomography
estimate, with its bootstrap error bar.

The raw-MLE error bar (:func:`raw_mle_bootstrap`): ``B`` multinomial resamples of the shot
counts, each refitted from the raw MLE in the same family (rank, noise; a warm start: a fit
takes a fraction of a second at N <= 6); the standard error is the standard deviation of the
B fidelities and the 95% interval their 2.5 and 97.5 percentiles, widened to at least
``value +- t se``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from qtomo.povm.frames import AnyFrame, site_operators
from qtomo.reconstruction import density as dm
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import TUNING

#: Level of the likelihood-ratio test (the consistency check's chi-square level).
ALPHA = TUNING.lr_alpha
#: A rejected state is replaced only when its fidelity is this many raw-MLE standard errors off.
Z_FIDELITY = TUNING.z_fidelity
#: Resamples behind the raw-MLE error bar.
RAW_MLE_BOOTSTRAP = TUNING.raw_mle_bootstrap
#: Iteration cap of each warm-started refit of a resample.
REFIT_ITERATIONS = TUNING.refit_iterations


@dataclass(frozen=True)
class LikelihoodRatio:
    """Result of :func:`likelihood_ratio_test`.

    Attributes
    ----------
    statistic : float
        ``LR`` >= 0 (clipped: a rank-constrained fit may stop short of the optimum).
    dof : int
        ``k_r`` of the raw MLE's rank.
    p_value : float
        Upper tail of chi-square(dof) at ``statistic``.
    n_shots : int
    rank : int
        Rank of the raw-frequency MLE state.
    """

    statistic: float
    dof: int
    p_value: float
    n_shots: int
    rank: int
    alpha: float = ALPHA
    #: (model fidelity - raw-MLE fidelity) / raw-MLE bootstrap standard error (None: not
    #: computed, the LR alone decides)
    fidelity_z: float | None = None
    z_threshold: float = Z_FIDELITY

    @property
    def rejected(self) -> bool:
        """The shots reject the model's state, and its fidelity differs materially (more than
        ``z_threshold`` standard errors) from the raw-frequency MLE's."""
        if not self.p_value < self.alpha:
            return False
        return self.fidelity_z is None or not abs(self.fidelity_z) <= self.z_threshold

    def sentence(self) -> str:
        out = (f"likelihood ratio of the raw-frequency MLE state against the model's state "
               f"on the {self.n_shots} shots: {self.statistic:.1f} (dof {self.dof}, "
               f"p = {self.p_value:.2g})")
        if self.fidelity_z is not None:
            out += (f", fidelity {self.fidelity_z:+.1f} bootstrap s.e. from the raw MLE's"
                    + ("" if self.rejected or not self.p_value < self.alpha
                       else " (within the error: the model is kept)"))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "dof": self.dof, "p_value": self.p_value,
                "n_shots": self.n_shots, "rank": self.rank, "rejected": self.rejected,
                "threshold": self.alpha, "shift_z": self.fidelity_z,
                "shift_z_threshold": self.z_threshold,
                "method": ("LR = 2 sum_a c(a) log[p_data_mle(a) / p_model_mle(a)] over the "
                           "shot counts c, chi-square with 2 d r - r^2 - 1 dof (r the rank of "
                           "the raw-frequency MLE state; conservative near pure states); the model "
                           "is rejected when p < threshold and its fidelity differs from the raw "
                           "MLE's by more than shift_z_threshold bootstrap standard errors "
                           "(shift_z = (model - raw MLE) / raw-MLE bootstrap s.e.)")}


def _loglik(freq: np.ndarray, rho: np.ndarray, frame: AnyFrame) -> float:
    """``sum_a f(a) log p_rho(a)`` (per shot)."""
    n = int(round(np.log2(rho.shape[0])))
    p = np.maximum(dm.born_table(rho, site_operators(frame, n)), 1e-300)
    m = freq > 0
    return float(np.dot(freq[m], np.log(p[m])))


def likelihood_ratio_test(freq: np.ndarray, n_shots: int, rho_model: np.ndarray,
                          rho_data: np.ndarray, rank: int, frame: AnyFrame, n: int,
                          alpha: float = ALPHA, *, depolarizing: bool = False) -> LikelihoodRatio:
    """The model's MLE state against the raw-frequency MLE state on the shots (module doc).

    Parameters
    ----------
    freq : (K^N,) float64
        Relative frequencies of the ``n_shots`` measured shots.
    rho_model, rho_data : (2^N, 2^N) complex
        The MLE states of the model's table and of ``freq``.
    rank : int
        Rank of ``rho_data``'s fit.
    depolarizing : bool
        Whether that fit has a fitted depolarizing strength too (one more degree of freedom).
    """
    f = np.asarray(freq, dtype=np.float64)
    f = f / f.sum()
    lr = 2.0 * n_shots * (_loglik(f, rho_data, frame) - _loglik(f, rho_model, frame))
    lr = max(0.0, float(lr))
    dof = mle.mle_parameter_count(n, int(rank)) + int(bool(depolarizing))
    return LikelihoodRatio(statistic=lr, dof=dof, p_value=float(stats.chi2.sf(lr, dof)),
                           n_shots=int(n_shots), rank=int(rank), alpha=alpha)


def raw_mle_bootstrap(freq: np.ndarray, n_shots: int, rho_data: np.ndarray,
                      fit: dict[str, Any], frame: AnyFrame, n: int, ideal: Any, *,
                      b: int = RAW_MLE_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Standard error and 95% interval of the raw-frequency MLE fidelity (module doc).

    ``fit`` is the raw MLE's :meth:`~qtomo.reconstruction.mle.MLEResult.info` (each resample
    is refitted in its family, :func:`~qtomo.reconstruction.mle.refit_like`); ``ideal`` is the
    target as :func:`metrics.target_state` gives it. Returns ``stderr``,
    ``ci95`` (list of two), ``members`` (the B fidelities) and ``method``.
    """
    rng = np.random.default_rng([int(seed), 0x5A4D])
    f = np.asarray(freq, dtype=np.float64)
    f = f / f.sum()
    value = float(mt.physical_fidelity(rho_data, ideal))
    fids = []
    for _ in range(int(b)):
        counts = rng.multinomial(int(n_shots), f)
        res = mle.refit_like(counts / n_shots, frame, n, fit, init=rho_data,
                             max_iter=REFIT_ITERATIONS)
        fids.append(float(mt.physical_fidelity(res.rho, ideal)))
    arr = np.asarray(fids)
    se = float(arr.std(ddof=1)) if arr.size > 1 else float("nan")
    half = float(stats.t.ppf(0.975, max(arr.size - 1, 1))) * se
    lo, hi = (np.percentile(arr, [2.5, 97.5]) if arr.size > 1 else (value, value))
    ci = [float(min(lo, value - half)), float(max(hi, value + half))]
    return {"stderr": se, "ci95": ci, "members": fids, "b": int(b),
            "method": (f"{b} multinomial resamples of the {n_shots} shot counts, each refitted "
                       f"in the raw MLE's family ({_family(fit)}) from it; se = their "
                       "standard deviation, interval = their 2.5-97.5 percentiles, at least "
                       "value +- t se")}


def _family(fit: dict[str, Any]) -> str:
    if mle.has_noise(fit):
        return f"rank {fit['rank']} behind a refitted local depolarizing strength"
    return f"rank {fit['rank']}"


__all__ = ["ALPHA", "LikelihoodRatio", "likelihood_ratio_test", "raw_mle_bootstrap"]
