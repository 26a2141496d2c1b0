"""Model-vs-data consistency check of ``qtomo reconstruct``.

Every figure the model gives that the measured shots also estimate directly is compared with
that direct estimate; when they disagree beyond their joint statistical error the report says
so and its headline falls back to the direct (or raw-frequency) figure. A model never silently
headlines a number its own data contradict.

What is compared (PHYSICS.md, "Observables"):

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
most their sum, ``2 ALPHA + n_scalars * 2 Phi(-Z_SCALAR)``, about 0.0074 with two scalars):
inconsistent when the chi-square p-value < ``ALPHA`` (1e-3), or the Bonferroni-corrected
p-value of the largest ``|z|`` < ``ALPHA``, or any scalar has ``|z| > Z_SCALAR`` (3).

A model trained on the very shots it is compared with is correlated with them: its deviations
are smaller than those of an independent model, so the check is conservative for it (it flags
less often than its nominal rate), never the other way round.

Which observables (:func:`consistency_terms`): up to ``ALL_PAIRS_MAX_QUBITS`` = 12 qubits every
``<X_i>, <Y_i>, <Z_i>`` and every two-point ``<P_i P_j>`` (P in X, Y, Z, i < j): 3N + 3N(N-1)/2
terms (165 at N = 10). Beyond, to keep the O(d^2) work per string bounded, the one-site terms
of every site and the nearest-neighbour ``<P_i P_i+1>`` of every bond, thinned to evenly
spaced sites when that exceeds ``MAX_TERMS`` = 300. User ``--observable`` strings that are not
already in the list are appended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.reconstruction.observables import LETTERS, VectorMoments, pauli_name

#: Level of the chi-square test and of the Bonferroni-corrected largest-|z| test.
ALPHA = 1e-3
#: A scalar (fidelity, energy) is flagged when |z| exceeds this.
Z_SCALAR = 3.0
#: Eigenvalues of the correlation matrix below this times the largest are dropped.
EIG_RTOL = 1e-9
#: Observables listed as the worst.
N_WORST = 5
#: Up to this N every pair i < j enters the vector.
ALL_PAIRS_MAX_QUBITS = 12
#: At most this many Pauli strings in the vector beyond ALL_PAIRS_MAX_QUBITS (O(d^2) per string).
MAX_TERMS = 300


# --- which observables ---------------------------------------------------------------------------
def consistency_terms(
    n: int, strings: Mapping[str, Mapping[int, str]] | None = None, *,
    max_terms: int = MAX_TERMS, all_pairs_max_qubits: int = ALL_PAIRS_MAX_QUBITS,
) -> tuple[list[dict[int, str]], str]:
    """The Pauli strings of the consistency vector and a sentence saying how they were chosen.

    Parameters
    ----------
    n : int
        Number of qubits.
    strings : dict name -> {site: letter}, optional
        User strings, appended when not already present.
    max_terms, all_pairs_max_qubits : int
        See the module docstring.

    Returns
    -------
    terms : list of {site: letter}
        One-site terms first (site-major, letters X, Y, Z), then two-point terms.
    selection : str
    """
    if n <= all_pairs_max_qubits:
        sites = list(range(n))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        what = (f"all <X_i>, <Y_i>, <Z_i> and all <P_i P_j> (P = X, Y, Z; i < j) for N = {n} "
                f"<= {all_pairs_max_qubits}")
    else:
        m = n
        while 6 * m - 3 > max_terms and m > 1:
            m -= 1
        sites = sorted({int(round(x)) for x in np.linspace(0, n - 1, m)}) if m < n else \
            list(range(n))
        pairs = [(i, i + 1) for i in sites if i + 1 < n]
        what = (f"N = {n} > {all_pairs_max_qubits}: <X_i>, <Y_i>, <Z_i> and nearest-neighbour "
                f"<P_i P_i+1> (P = X, Y, Z) " + ("at every site" if m == n else
                f"at {len(sites)} evenly spaced sites (at most {max_terms} terms)"))
    terms: list[dict[int, str]] = [{i: p} for i in sites for p in LETTERS]
    terms += [{i: p, j: p} for i, j in pairs for p in LETTERS]
    have = {pauli_name(t) for t in terms}
    extra = 0
    for paulis in (strings or {}).values():
        name = pauli_name(paulis)
        if name not in have:
            terms.append(dict(paulis))
            have.add(name)
            extra += 1
    if extra:
        what += f", and {extra} --observable string(s)"
    return terms, what + f": {len(terms)} observables"


# --- statistics ----------------------------------------------------------------------------------
def chi_square(diff: np.ndarray, cov: np.ndarray, *,
               rtol: float = EIG_RTOL) -> tuple[float, int, int]:
    """``d^T C^+ d`` with a relative eigenvalue cutoff, on the correlation scale.

    Parameters
    ----------
    diff : ndarray (d,)
        Differences of the estimates.
    cov : ndarray (d, d)
        Their covariance matrix (symmetric, positive semi-definite).
    rtol : float
        Eigenvalues of the correlation matrix ``D^-1/2 C D^-1/2`` (D its diagonal) below
        ``rtol`` times the largest are dropped; components with zero variance are left out.

    Returns
    -------
    statistic : float
    rank : int
        Directions kept (the degrees of freedom).
    dropped : int
        Directions dropped (zero variance or below the cutoff).
    """
    d = np.asarray(diff, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)
    var = np.diag(c).copy()
    keep = var > 0
    if not keep.any():
        return 0.0, 0, int(d.size)
    s = np.sqrt(var[keep])
    y = d[keep] / s
    r = c[np.ix_(keep, keep)] / np.outer(s, s)
    w, u = np.linalg.eigh(0.5 * (r + r.T))
    ok = w > rtol * max(float(w.max()), 0.0)
    proj = u[:, ok].T @ y  # components along the kept eigenvectors
    stat = float(np.sum(proj**2 / w[ok]))
    rank = int(ok.sum())
    return stat, rank, int(d.size) - rank


def chi_square_p_values(statistic: float, dof: int, nu: int | None) -> tuple[float, float]:
    """(Hotelling-corrected p, chi-square p) of a statistic with ``dof`` degrees of freedom.

    ``nu`` is the covariance's degrees of freedom (``min(n_D, n_M) - 1``); None or too small
    for the correction (``nu < dof``) gives the chi-square p twice.
    """
    from scipy import stats

    if dof <= 0:
        return 1.0, 1.0
    p_chi2 = float(stats.chi2.sf(statistic, dof))
    if nu is None or nu < dof:
        return p_chi2, p_chi2
    f = statistic * (nu - dof + 1) / (dof * nu)
    return float(stats.f.sf(f, dof, nu - dof + 1)), p_chi2


@dataclass(frozen=True)
class ScalarPair:
    """One model figure and its direct estimate.

    Attributes
    ----------
    name : str
        ``"quantum_fidelity"``, ``"energy"``, ...
    quantity : str
        What exactly is compared (e.g. ``"TFIM energy <H>"``).
    model, direct : float
        The two values.
    model_stderr : float or None
        None: the model figure has no error bar of its own (z uses the direct one alone).
    direct_stderr : float
    note : str
        How the model's error was taken.
    """

    name: str
    quantity: str
    model: float
    model_stderr: float | None
    direct: float
    direct_stderr: float
    note: str = ""

    def z(self) -> float:
        """``(model - direct) / sqrt(se_M^2 + se_D^2)`` (inf for a difference without error)."""
        var = self.direct_stderr**2 + (self.model_stderr or 0.0) ** 2
        dv = self.model - self.direct
        if var > 0:
            return float(dv / math.sqrt(var))
        return 0.0 if dv == 0 else math.copysign(math.inf, dv)


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-able block for ``report["consistency"]``."""
        from scipy import stats

        n_sc = len(self.scalars)
        bound = (2 * self.alpha if self.statistic is not None else 0.0) \
            + n_sc * float(2 * stats.norm.sf(self.z_scalar)) \
            + (float(self.likelihood_ratio["threshold"]) if self.likelihood_ratio else 0.0)
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

    Returns
    -------
    ConsistencyResult
    """
    from scipy import stats

    failed: list[str] = []
    bad: list[str] = []  # sentences of the tests that reject
    good: list[str] = []  # and of those that pass
    stat = p = p_chi2 = max_z = p_max = None
    dof = dropped = n_obs = 0
    worst: list[Deviation] = []
    if model is not None and direct is not None:
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
        if n_obs:
            max_z = float(np.abs(z).max())
            p_max = float(min(1.0, n_obs * 2 * stats.norm.sf(max_z)))
        if p < alpha:
            failed.append("chi2")
        if p_max is not None and p_max < alpha:
            failed.append("max_abs_z")
        chi_txt = (f"chi-square {stat:.1f} over {n_obs} one- and two-point observables "
                   f"(dof {dof}, p = {_p(p)})")
        if worst:
            w = worst[0]
            chi_txt += (f", largest deviation <{w.name}>: model {_fmt(w.model)} vs direct "
                        f"{_fmt(w.direct)} +- {_se(w.direct_stderr)} ({w.z:+.1f} s.e.; "
                        f"Bonferroni p = {_p(p_max)})")
        (bad if "chi2" in failed or "max_abs_z" in failed else good).append(chi_txt)
    if likelihood_ratio is not None:
        if likelihood_ratio.rejected:
            failed.append("likelihood_ratio")
        (bad if likelihood_ratio.rejected else good).append(likelihood_ratio.sentence())
    sc_out: list[dict[str, Any]] = []
    for sp in scalars:
        zs = sp.z()
        flagged = not abs(zs) <= z_scalar
        sc_out.append({"name": sp.name, "quantity": sp.quantity, "model": sp.model,
                       "model_stderr": sp.model_stderr, "direct": sp.direct,
                       "direct_stderr": sp.direct_stderr, "z": zs, "flagged": flagged,
                       "note": sp.note})
        if flagged:
            failed.append(sp.name)
        se_m = f" +- {_se(sp.model_stderr)}" if sp.model_stderr else ""
        (bad if flagged else good).append(
            f"{sp.name.replace('_', ' ')} ({sp.quantity}): model {_fmt(sp.model)}{se_m} vs "
            f"direct {_fmt(sp.direct)} +- {_se(sp.direct_stderr)} ({zs:+.1f} s.e.)")
    consistent = not failed
    if not bad and not good:
        reason = "nothing to compare: no observable vector and no scalar with a direct estimate"
    elif consistent:
        reason = "model and data agree within their errors: " + "; ".join(good) + "."
    else:
        reason = ("the model disagrees with its data beyond their joint statistical error: "
                  + "; ".join(bad) + "."
                  + (" Within errors: " + "; ".join(good) + "." if good else ""))
    return ConsistencyResult(
        consistent=consistent, statistic=stat, dof=dof, p_value=p, p_value_chi2=p_chi2,
        n_observables=n_obs, dropped=dropped, max_abs_z=max_z, max_z_p_value=p_max,
        worst=worst, scalars=sc_out, failed=failed, reason=reason, selection=selection,
        alpha=alpha, z_scalar=z_scalar,
        likelihood_ratio=likelihood_ratio.as_dict() if likelihood_ratio is not None else None,
    )


# --- report integration --------------------------------------------------------------------------
def fidelity_pair(
    headline: Mapping[str, Any], *, direct_value: float | None, direct_stderr: float | None,
    direct_n: int, model_samples: int, model_has_likelihood: bool,
) -> ScalarPair | None:
    """The headline quantum fidelity of a model against the direct fidelity estimate.

    Both are the squared fidelity ``<psi|rho|psi>`` to the ideal target (PHYSICS.md,
    "Metrics"): the headline of the model's state, and the unbiased mean of
    ``Q(a) = <psi|D(a_0) x ... x D(a_N-1)|psi>`` over the measured shots.

    Parameters
    ----------
    headline : dict
        ``report["headline"]["quantum_fidelity"]`` as built from the model; a headline whose
        ``source`` does not start with ``"model"`` gives None (nothing of the model's to check).
    direct_value, direct_stderr : float or None
        The direct estimate (None: none computed).
    direct_n : int
        Shots behind it.
    model_samples : int
        Samples behind the model's outcome table when it has no likelihood (a histogram).
    model_has_likelihood : bool
        True: the table is the model's exact distribution and the figure has no sampling error
        of its own; z then uses the direct standard error alone (said in ``note``).
    """
    if direct_value is None or direct_stderr is None or not math.isfinite(direct_stderr):
        return None
    if not str(headline.get("source", "")).startswith("model") or headline.get("value") is None:
        return None
    value = float(headline["value"])
    quantity = "squared fidelity <psi|rho|psi> to the ideal target"
    se = headline.get("stderr")
    if se is not None and math.isfinite(float(se)) and float(se) > 0:
        return ScalarPair("quantum_fidelity", quantity, value, float(se), float(direct_value),
                          float(direct_stderr), "the model figure's own standard error")
    if not model_has_likelihood:
        se_m = float(direct_stderr) * math.sqrt(direct_n / max(int(model_samples), 1))
        note = (f"the model's table is a histogram of {model_samples} samples: its standard "
                "error is taken as the direct one scaled by sqrt(shots / samples)")
        return ScalarPair("quantum_fidelity", quantity, value, se_m, float(direct_value),
                          float(direct_stderr), note)
    note = ("the model figure comes from its exact outcome table and has no error bar of its "
            "own: z uses the direct estimate's standard error alone")
    return ScalarPair("quantum_fidelity", quantity, value, None, float(direct_value),
                      float(direct_stderr), note)


def estimate_pair(name: str, quantity: str, entry: Mapping[str, Any] | None) -> ScalarPair | None:
    """A scalar observable with ``model`` and ``direct`` estimates (``{"value", "stderr"}``)."""
    if not entry or not entry.get("model") or not entry.get("direct"):
        return None
    m, d = entry["model"], entry["direct"]
    if m.get("value") is None or d.get("value") is None:
        return None
    return ScalarPair(name, quantity, float(m["value"]), float(m.get("stderr") or 0.0),
                      float(d["value"]), float(d.get("stderr") or 0.0),
                      "standard errors of both estimates (per-string values of the whole sum)")


def fallback(model_figure: Mapping[str, Any] | None, replacement: Mapping[str, Any] | None,
             result: ConsistencyResult) -> dict[str, Any] | None:
    """The headline figure that replaces a model figure its data contradict.

    The replacement's value and error are shown; the model's value is kept as
    ``model_value`` (with ``model_stderr`` and ``model_source``), and ``fallback_reason`` says
    why. A model figure that is not the model's (its source does not start with ``model``) or
    a consistent result is returned unchanged.
    """
    if model_figure is None or result.consistent or replacement is None:
        return dict(model_figure) if model_figure is not None else None
    if not str(model_figure.get("source", "")).startswith("model"):
        return dict(model_figure)
    out = dict(replacement)
    out["source"] = ("fallback (the model is inconsistent with the data): "
                     + str(replacement.get("source", "direct estimate")))
    out["model_value"] = model_figure.get("value")
    out["model_stderr"] = model_figure.get("stderr")
    out["model_source"] = model_figure.get("source")
    out["fallback_reason"] = (result.reason + " The headline shows the best-supported estimate "
                              "from the shots instead.")
    return out


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
    "fallback",
    "fidelity_pair",
    "no_model_block",
]
