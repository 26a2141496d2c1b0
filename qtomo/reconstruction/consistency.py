"""Model-vs-data consistency check of ``qtomo reconstruct``.

Every figure the model gives that the measured shots also estimate directly is compared with
that direct estimate; when they disagree beyond their joint statistical error the report says
so and its headline falls back to the direct (or raw-frequency) figure. A model never silently
headlines a number its own data contradict.

What is compared (docs/conventions.md, "Observables"):

* **The vector of one- and two-point functions.** For a list of Pauli strings O_1 .. O_d the
  per-string vector ``v(a) = (Q_O1(a), ..., Q_Od(a))``, ``Q_O(a) = prod_j Tr[O_j D(a_j)]``, is
  averaged over the measured shots (the direct estimate, mean ``m_D``, covariance of the mean
  ``C_D = Cov_D[v] / n_D``) and over the model's samples (``m_M``, ``C_M = Cov_M[v] / n_M``;
  independent of the shots given the model). Estimates from the same shots are correlated, so
  the statistic uses the full covariance::

      chi2 = d^T (C_D + C_M)^+ d,        d = m_M - m_D,

  the pseudo-inverse taken on the correlation scale (d_k / sqrt(var_k)) with eigenvalues below
  ``EIG_RTOL`` times the largest dropped (nearly singular directions: linear relations of the
  Q values on the support of a degenerate distribution; their number is reported), and
  ``dof`` = the rank kept. Under the null hypothesis (the model's Born distribution equals the
  lab's) ``chi2`` is chi-square with ``dof`` degrees of freedom for many strings. Because the
  covariances are estimated, the p-value that decides uses the Hotelling T^2 small-sample
  correction, ``F = chi2 (nu - dof + 1) / (dof nu) ~ F(dof, nu - dof + 1)`` with
  ``nu = min(n_D, n_M) - 1`` (conservative; it equals the chi-square p-value for
  ``n >> dof``); the plain chi-square p-value is reported beside it.
* **Each observable on its own**: ``z_k = d_k / sqrt(var_D,k / n_D + var_M,k / n_M)``; the
  worst few are listed, and the largest ``|z|`` is a test of its own with a Bonferroni
  correction over the d observables (it catches one grossly wrong observable that the
  chi-square, averaged over many, would dilute).
* **Scalars**: the headline quantum fidelity against the direct fidelity estimate (both the
  squared fidelity ``<psi|rho|psi>`` to the ideal target), and the TFIM energy, model against
  direct. ``z = d / sqrt(se_M^2 + se_D^2)``; a model figure without an error bar of its own (a
  state computed from the model's exact outcome table) uses ``se_D`` alone, and says so; one
  from a histogram of n_M samples (a model without likelihood) takes
  ``se_M = se_D sqrt(n_D / n_M)``.

Decision (each test at its own level, the family-wise false-alarm rate under the null is at
most their sum, ``2 ALPHA + n_scalars * 2 Phi(-Z_SCALAR)``, about 7.4e-3 with two scalars):
inconsistent when the chi-square p-value < ``ALPHA`` (1e-3), or the Bonferroni-corrected
p-value of the largest ``|z|`` < ``ALPHA``, or any scalar has ``|z| > Z_SCALAR`` (3).

A model trained on the very shots it is compared with is correlated with them: its deviations
are smaller than those of an independent model, so the check is conservative for it (it flags
less often than its nominal rate), never the other way round.

Which observables (:func:`consistency_terms`): up to ``ALL_PAIRS_MAX_QUBITS`` = 12 qubits all
one- and two-point functions, beyond them the one-site and nearest-neighbour terms (at most
``MAX_TERMS``), and the user's ``--observable`` strings.

Where it lives: this module holds the decision (:func:`check_consistency`, its result
:class:`ConsistencyResult`; the headline that replaces a rejected model is chosen by
:func:`qtomo.reconstruction.headline.choose_headline`);
:mod:`~qtomo.reconstruction.consistency_terms` chooses the observables,
:mod:`~qtomo.reconstruction.consistency_stats` has the chi-square and its p-values, and
:mod:`~qtomo.reconstruction.consistency_scalars` the scalar pairs (fidelity, energy). Every
name is importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.consistency_scalars import ScalarPair, estimate_pair, fidelity_pair
from qtomo.reconstruction.consistency_stats import EIG_RTOL, chi_square, chi_square_p_values
from qtomo.reconstruction.consistency_terms import (
    ALL_PAIRS_MAX_QUBITS,
    MAX_TERMS,
    consistency_terms,
)
from qtomo.reconstruction.observables import VectorMoments
from qtomo.reconstruction.physical_checks import PhysicalCheck

#: Level of the chi-square test and of the Bonferroni-corrected largest-|z| test.
ALPHA = TUNING.alpha
#: A scalar (fidelity, energy) is flagged when |z| exceeds this.
Z_SCALAR = TUNING.z_scalar
#: Observables listed as the worst.
N_WORST = 5


@dataclass(frozen=True)
class Deviation:
    """One observable of the vector: both estimates and their z."""

    name: str
    model: float
    model_stderr: float
    direct: float
    direct_stderr: float
    z: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "model_stderr": self.model_stderr,
                "direct": self.direct, "direct_stderr": self.direct_stderr, "z": self.z}


@dataclass
class ConsistencyResult:
    """Outcome of :func:`check_consistency` (see the module docstring for the tests).

    Attributes
    ----------
    consistent : bool
        False when any test rejects.
    statistic, dof, p_value, p_value_chi2 : chi-square of the observable vector (None without
        one); ``p_value`` has the Hotelling correction and decides.
    n_observables, dropped : int
        Length of the vector; directions left out of the chi-square.
    max_abs_z, max_z_p_value : largest |z| over the vector and its Bonferroni p-value.
    worst : list of Deviation
        The ``N_WORST`` observables with the largest |z|.
    scalars : list of dict
        Each :class:`ScalarPair` with its ``z`` and ``flagged``.
    failed : list of str
        The tests that rejected.
    physical : list of dict
        The physical checks (:class:`PhysicalCheck`), each with ``flagged`` and its figures.
    reason : str
        One or two sentences for people.
    """

    consistent: bool
    statistic: float | None
    dof: int
    p_value: float | None
    p_value_chi2: float | None
    n_observables: int
    dropped: int
    max_abs_z: float | None
    max_z_p_value: float | None
    worst: list[Deviation] = field(default_factory=list)
    scalars: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reason: str = ""
    selection: str = ""
    alpha: float = ALPHA
    z_scalar: float = Z_SCALAR
    likelihood_ratio: dict[str, Any] | None = None
    physical: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able block for ``report["consistency"]``."""
        n_sc = len(self.scalars)
        bound = (2 * self.alpha if self.statistic is not None else 0.0) \
            + n_sc * float(2 * stats.norm.sf(self.z_scalar)) \
            + (float(self.likelihood_ratio["threshold"]) if self.likelihood_ratio else 0.0) \
            + sum(_physical_level(c) for c in self.physical)
        return {
            "consistent": self.consistent,
            "statistic": self.statistic,
            "dof": self.dof,
            "p_value": self.p_value,
            "p_value_chi2": self.p_value_chi2,
            "n_observables": self.n_observables,
            "dropped_directions": self.dropped,
            "max_abs_z": self.max_abs_z,
            "max_abs_z_p_value": self.max_z_p_value,
            "worst": [w.as_dict() for w in self.worst],
            "scalars": self.scalars,
            "failed": self.failed,
            "likelihood_ratio": self.likelihood_ratio,
            "physical": self.physical,
            "reason": self.reason,
            "observables": self.selection,
            "thresholds": {"chi2_p": self.alpha, "max_abs_z_bonferroni_p": self.alpha,
                           "scalar_abs_z": self.z_scalar},
            "false_alarm_bound": bound,
            "method": (
                "chi2 = d^T (C_direct + C_model)^+ d over the one- and two-point observables, "
                "d = model - direct, C the covariance matrices of the means from the per-string "
                "Q_O vectors (shared shots correlate the estimates); pseudo-inverse on the "
                f"correlation scale, eigenvalues below {EIG_RTOL:g} of the largest dropped, "
                "dof = rank; p-value with the Hotelling T^2 correction (nu = min(n) - 1), the "
                "plain chi-square p beside it. Per observable z = d / sqrt(var_d); the largest "
                "|z| Bonferroni-corrected over the observables. Scalars (fidelity, energy): "
                "z = d / sqrt(se_model^2 + se_direct^2). Inconsistent when chi2 p < "
                f"{self.alpha:g}, or the corrected largest-|z| p < {self.alpha:g}, or a scalar "
                f"|z| > {self.z_scalar:g}; false_alarm_bound is the sum of the levels. A model "
                "trained on these shots is correlated with them, which makes the check "
                "conservative"),
        }


def _physical_level(check: Mapping[str, Any]) -> float:
    """False-alarm level of one physical check (one-sided z, or its Bonferroni alpha)."""
    if "alpha" in check:
        return float(check["alpha"])
    return float(stats.norm.sf(check.get("threshold_z", Z_SCALAR)))


def _fmt(x: float | None, digits: int = 4) -> str:
    """A value with ``digits`` decimals (scientific when tiny or huge)."""
    if x is None or not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}" if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4) else f"{x:.{digits}f}"


def _se(x: float | None) -> str:
    """A standard error with two significant digits."""
    return str(x) if x is None or not math.isfinite(x) else f"{x:.2g}"


def _p(x: float | None) -> str:
    return str(x) if x is None else f"{x:.2g}"


def check_consistency(
    model: VectorMoments | None,
    direct: VectorMoments | None,
    scalars: Sequence[ScalarPair] = (),
    *,
    alpha: float = ALPHA,
    z_scalar: float = Z_SCALAR,
    rtol: float = EIG_RTOL,
    n_worst: int = N_WORST,
    selection: str = "",
    likelihood_ratio: Any | None = None,
    physical: Sequence[PhysicalCheck] = (),
) -> ConsistencyResult:
    """Compare a model's estimates with the direct ones from the shots.

    Parameters
    ----------
    model, direct : VectorMoments or None
        The per-string vector moments of the same Pauli strings (same order) over the model's
        samples and over the measured shots; None skips the vector tests.
    scalars : sequence of ScalarPair
        Scalar figures (fidelity, energy) with their direct estimates.
    alpha : float
        Level of the chi-square and of the Bonferroni-corrected largest-|z| test.
    z_scalar : float
        |z| threshold of each scalar.
    rtol : float
        Relative eigenvalue cutoff of the pseudo-inverse (:func:`chi_square`).
    n_worst : int
        Observables listed as the worst.
    selection : str
        How the observables were chosen (copied into the result).
    likelihood_ratio : LikelihoodRatio or None
        The model's MLE state against the raw-frequency MLE state on the shots
        (:mod:`qtomo.reconstruction.likelihood_ratio`); rejects when its p-value < its level.
    physical : sequence of PhysicalCheck
        The model's physical checks (:mod:`qtomo.reconstruction.physical_checks`: the
        variational bound, the range of its Pauli expectations, its held-out NLL against the
        run's best checkpoint); any flagged one rejects.

    Returns
    -------
    ConsistencyResult
    """
    failed: list[str] = []
    bad: list[str] = []  # sentences of the tests that reject
    good: list[str] = []  # and of those that pass
    vec = _VectorTests()
    if model is not None and direct is not None:
        vec = _vector_tests(model, direct, alpha=alpha, rtol=rtol, n_worst=n_worst)
        failed += vec.failed
        (bad if vec.failed else good).append(vec.sentence)
    if likelihood_ratio is not None:
        if likelihood_ratio.rejected:
            failed.append("likelihood_ratio")
        (bad if likelihood_ratio.rejected else good).append(likelihood_ratio.sentence())
    for pc in physical:
        if pc.flagged:
            failed.append(pc.name)
        (bad if pc.flagged else good).append(pc.sentence)
    sc_out: list[dict[str, Any]] = []
    for sp in scalars:
        entry, sentence = _scalar_test(sp, z_scalar)
        sc_out.append(entry)
        if entry["flagged"]:
            failed.append(sp.name)
        (bad if entry["flagged"] else good).append(sentence)
    return ConsistencyResult(
        consistent=not failed, statistic=vec.statistic, dof=vec.dof, p_value=vec.p_value,
        p_value_chi2=vec.p_value_chi2, n_observables=vec.n_observables, dropped=vec.dropped,
        max_abs_z=vec.max_abs_z, max_z_p_value=vec.max_z_p_value, worst=vec.worst,
        scalars=sc_out, failed=failed, reason=_reason(bad, good, not failed),
        selection=selection, alpha=alpha, z_scalar=z_scalar,
        likelihood_ratio=likelihood_ratio.as_dict() if likelihood_ratio is not None else None,
        physical=[pc.as_dict() for pc in physical],
    )


@dataclass
class _VectorTests:
    """The chi-square and largest-|z| tests of the observable vector (defaults: no vector)."""

    statistic: float | None = None
    dof: int = 0
    dropped: int = 0
    p_value: float | None = None
    p_value_chi2: float | None = None
    n_observables: int = 0
    max_abs_z: float | None = None
    max_z_p_value: float | None = None
    worst: list[Deviation] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    sentence: str = ""


def _vector_tests(model: VectorMoments, direct: VectorMoments, *, alpha: float, rtol: float,
                  n_worst: int) -> _VectorTests:
    if model.names != direct.names:
        raise ValueError("model and direct vectors list different observables")
    n_obs = len(model.names)
    d = model.mean - direct.mean
    cov = direct.cov / direct.n + model.cov / model.n
    stat, dof, dropped = chi_square(d, cov, rtol=rtol)
    p, p_chi2 = chi_square_p_values(stat, dof, min(direct.n, model.n) - 1)
    var = np.diag(cov)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, d / np.sqrt(np.where(var > 0, var, 1.0)),
                     np.where(d == 0, 0.0, np.sign(d) * np.inf))
    se_m, se_d = model.stderr, direct.stderr
    order = np.argsort(-np.abs(z), kind="stable")[:n_worst]
    worst = [Deviation(model.names[k], float(model.mean[k]), float(se_m[k]),
                       float(direct.mean[k]), float(se_d[k]), float(z[k])) for k in order]
    max_z = p_max = None
    if n_obs:
        max_z = float(np.abs(z).max())
        p_max = float(min(1.0, n_obs * 2 * stats.norm.sf(max_z)))
    failed = []
    if p < alpha:
        failed.append("chi2")
    if p_max is not None and p_max < alpha:
        failed.append("max_abs_z")
    sentence = (f"chi-square {stat:.1f} over {n_obs} one- and two-point observables "
                f"(dof {dof}, p = {_p(p)})")
    if worst:
        w = worst[0]
        sentence += (f", largest deviation <{w.name}>: model {_fmt(w.model)} vs direct "
                     f"{_fmt(w.direct)} +- {_se(w.direct_stderr)} ({w.z:+.1f} s.e.; "
                     f"Bonferroni p = {_p(p_max)})")
    return _VectorTests(statistic=stat, dof=dof, dropped=dropped, p_value=p, p_value_chi2=p_chi2,
                        n_observables=n_obs, max_abs_z=max_z, max_z_p_value=p_max, worst=worst,
                        failed=failed, sentence=sentence)


def _scalar_test(sp: ScalarPair, z_scalar: float) -> tuple[dict[str, Any], str]:
    """A scalar pair's report entry (with ``z`` and ``flagged``) and its sentence."""
    zs = sp.z()
    flagged = not abs(zs) <= z_scalar
    entry = {"name": sp.name, "quantity": sp.quantity, "model": sp.model,
             "model_stderr": sp.model_stderr, "direct": sp.direct,
             "direct_stderr": sp.direct_stderr, "z": zs, "flagged": flagged, "note": sp.note}
    se_m = f" +- {_se(sp.model_stderr)}" if sp.model_stderr else ""
    sentence = (f"{sp.name.replace('_', ' ')} ({sp.quantity}): model {_fmt(sp.model)}{se_m} vs "
                f"direct {_fmt(sp.direct)} +- {_se(sp.direct_stderr)} ({zs:+.1f} s.e.)")
    return entry, sentence


def _reason(bad: list[str], good: list[str], consistent: bool) -> str:
    """One or two sentences for people: what rejected, what passed."""
    if not bad and not good:
        return "nothing to compare: no observable vector and no scalar with a direct estimate"
    if consistent:
        return "model and data agree within their errors: " + "; ".join(good) + "."
    return ("the model disagrees with its data beyond their joint statistical error: "
            + "; ".join(bad) + "."
            + (" Within errors: " + "; ".join(good) + "." if good else ""))

# --- report integration --------------------------------------------------------------------------
def no_model_block() -> dict[str, Any]:
    """``report["consistency"]`` of a reconstruction without a model."""
    return {"consistent": None, "reason": "no model: the report comes from the shots alone, "
            "there is nothing to check against them"}


__all__ = [
    "ALPHA",
    "ALL_PAIRS_MAX_QUBITS",
    "EIG_RTOL",
    "MAX_TERMS",
    "N_WORST",
    "Z_SCALAR",
    "ConsistencyResult",
    "Deviation",
    "ScalarPair",
    "check_consistency",
    "chi_square",
    "chi_square_p_values",
    "consistency_terms",
    "estimate_pair",
    "fidelity_pair",
    "no_model_block",
]
