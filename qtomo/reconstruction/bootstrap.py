"""Error bars of the model's headline figures from bootstrap members (``qtomo train
--bootstrap B``), and shots planning from learning-curve members (``--learning-curve``).

For every bootstrap member (a normal run in ``RUN/members/mXX``, see
:mod:`qtomo.training.members`) the same figures as for the main model are computed, more
cheaply: the model-table maximum-likelihood state for N <= 10 (its quantum fidelity and purity,
fitted in the family -- rank, depolarizing noise -- chosen for the main model), the observables
(single-site, two-point, the scalars with the TFIM energy) and the Renyi-2 entropies of the
default subsystems from ``member_samples`` strings, and the classical fidelity and KL where the
dataset has exact log P. Then, per figure, with x the main model's value and x_1..x_B the
members':

* ``stderr`` = std(x_b) (ddof 1), the bootstrap standard error;
* ``bias`` = mean(x_b) - x. The members are fits to resamples of the data, as the main model
  is a fit to the data, so the bootstrap principle reads bias as the main estimate's own bias;
* ``ci95``: the percentile interval [q_2.5, q_97.5] of the x_b; when |bias| > 0.25 stderr
  (the members show bias) the basic, bias-corrected interval [2x - q_97.5, 2x - q_2.5] instead.
  With B of order 10 a percentile interval rests on the two extreme members and under-covers,
  so the interval is never narrower than the t interval c +- t_{0.975, B-1} stderr about the
  (bias-corrected, c = x - bias, when biased) centre, always contains the point estimate x, and
  is clipped to the figure's range ([0, 1] for fidelities and purities, >= 0 for KL and
  Renyi-2). ``ci95_method`` says which rule applied.

Learning curve: members trained on m = f n shots (f = 1/8, 1/4, 1/2, 1; three each) give the
headline fidelity (the model-MLE quantum fidelity for N <= 10, else the classical fidelity)
as mean +- std over the members at each m. The shots needed for a target error bar p assume
that the error bar falls as c / sqrt(m) (statistical noise of the shots dominates; training
noise and bias are ignored): c^2 is the mean of std_f^2 m_f over the fractions, and the
training shots needed are (c / p)^2 (the dataset shots add the validation fraction).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from qtomo.povm.born import rho_from_probabilities
from qtomo.reconstruction import density as dm
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.estimates import MembersInterval
from qtomo.reconstruction.members import (
    MEMBER_MLE_ITERATIONS,
    load_members,
    member_blend,
    member_family,
    read_members,
)
from qtomo.reconstruction.model_estimates import classical_metrics, sample_model
from qtomo.reconstruction.observables import PauliAccumulator

#: Strings sampled from each member for observables and entropies.
MEMBER_SAMPLES = TUNING.member_samples
#: Bias correction when |mean(members) - point| exceeds this many standard errors.
BIAS_THRESHOLD = TUNING.bias_threshold


# -- intervals -------------------------------------------------------------------------------
def interval(point: Any, members: Any, *, lo: float = -math.inf, hi: float = math.inf
             ) -> dict[str, Any]:
    """Bootstrap standard error and 95% interval of a figure (elementwise for arrays).

    Parameters
    ----------
    point : float or ndarray
        The main model's value.
    members : array (B, ...)
        The bootstrap members' values (non-finite ones are ignored per element).
    lo, hi : float
        Range of the figure (the interval is clipped to it).

    Returns
    -------
    dict with ``stderr``, ``ci95`` ([low, high]), ``bias``, ``bias_corrected`` (bool),
    ``members`` (B used) and ``ci95_method``; arrays for array figures, None where fewer
    than 2 members are finite.
    """
    x = np.asarray(point, dtype=float)
    m = np.asarray(members, dtype=float).reshape(-1, *x.shape)
    ok = np.isfinite(m)
    nb = ok.sum(0)
    mm = np.where(ok, m, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        se = np.nanstd(mm, axis=0, ddof=1)
        mean = np.nanmean(mm, axis=0)
        q_lo, q_hi = np.nanpercentile(mm, [2.5, 97.5], axis=0)
        bias = mean - x
        corrected = np.abs(bias) > BIAS_THRESHOLD * se
        p_lo = np.where(corrected, 2 * x - q_hi, q_lo)
        p_hi = np.where(corrected, 2 * x - q_lo, q_hi)
        t = stats.t.ppf(0.975, np.maximum(nb - 1, 1))
        c = np.where(corrected, x - bias, x)
        low = np.minimum(np.minimum(p_lo, c - t * se), x)
        high = np.maximum(np.maximum(p_hi, c + t * se), x)
    low, high = np.clip(low, lo, hi), np.clip(high, lo, hi)
    bad = (nb < 2) | ~np.isfinite(x)
    se, low, high, bias = (np.where(bad, np.nan, v) for v in (se, low, high, bias))
    scalar = x.ndim == 0

    def out(v: np.ndarray) -> Any:
        return (float(v) if math.isfinite(float(v)) else None) if scalar else v

    return {
        "stderr": out(se), "ci95": [out(low), out(high)] if not scalar or not bad else None,
        "bias": out(bias), "bias_corrected": bool(corrected) if scalar else corrected,
        "members": int(nb.max()) if nb.size else 0,
        "ci95_method": "percentile over bootstrap members, basic (bias-corrected) where "
        f"|mean - point| > {BIAS_THRESHOLD} stderr, never narrower than the t interval, "
        "always containing the point estimate, clipped to the figure's range",
    }


class _quiet:  # context manager silencing all-NaN warnings
    def __enter__(self) -> None:
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


def member_figures(model: Any, ds: Any, ctx: dict[str, Any], *, samples: int, seed: int,
                   full: bool = True, member: dict[str, Any] | None = None) -> dict[str, Any]:
    """The headline figures of one member model, as name -> float or ndarray.

    ``ctx`` holds what the main reconstruction used: psi, noise, ideal (target vector),
    frame, strings, tfim, subsystems, dense (bool), mle_fit (the main MLE fit, or None), blend
    (the main MLE state's weight of the shots' frequencies and the run's shots, or None),
    run_shots (the run's shots, :class:`~qtomo.reconstruction.run_shots.RunShots`, or None).
    ``full=False`` computes only the fidelities (learning curve). ``member`` is the member's
    entry of members.json (its resample, for the blend).
    """
    n, frame = ds.n_qubits, ctx["frame"]
    out: dict[str, Any] = {}
    table = None
    rho = None
    if ctx["dense"]:
        table, rho = _member_state(model, frame, n, ctx, member)
        if rho is not None:
            out["quantum_fidelity"] = mt.physical_fidelity(rho, ctx["ideal"])
            out["purity"] = float(np.real(np.vdot(rho, rho)))
    cl = classical_metrics(model, ds, ctx["psi"], ctx["noise"], frame, table, None)
    if cl:
        out["classical_fidelity"] = cl["classical_fidelity"]["value"]
        out["kl_divergence"] = cl["kl_divergence"]["value"]
    if not full:
        return out
    out.update(_member_shot_figures(sample_model(model, samples, seed), frame, n, ctx, rho))
    return out


def _member_state(model: Any, frame: Any, n: int, ctx: dict[str, Any],
                  member: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """A member's outcome table and, where the target is known (``ctx["ideal"]``), its state
    as the main model's was found: the MLE state in the main fit's family, or the projected
    inversion where the main reconstruction fitted no MLE state (:func:`member_figures`)."""
    table, _ = dm.probability_table(model)
    if ctx.get("ideal") is None:
        return table, None
    fit = table
    if ctx.get("design_fit") is not None and getattr(model, "conditional", False):
        fit = ctx["design_fit"](table)  # as the main model (design_weights)
    if ctx.get("blend") is not None and member is not None:  # as the main model
        fit = member_blend(fit, ctx["blend"], member)
    rho_proj = dm.project_to_physical(rho_from_probabilities(fit, frame, n))
    if ctx.get("mle_fit") is None:
        return table, rho_proj
    # a member's table is close to the main model's: start from the main model's MLE state,
    # in its family (its rank; its depolarizing strength searched again, or the member's
    # shots' own where the shots set the main one): a few iterations instead of a fit from
    # scratch
    init = rho_proj if ctx.get("mle_init") is None else ctx["mle_init"]
    rho = mle.refit_like(fit, frame, n, member_family(ctx, member, init), init=init,
                         max_iter=MEMBER_MLE_ITERATIONS).rho
    return table, rho


def _member_shot_figures(a: np.ndarray, frame: Any, n: int, ctx: dict[str, Any],
                         rho: np.ndarray | None) -> dict[str, Any]:
    """The figures of a member's samples ``a``: Pauli observables, scalars and the Renyi-2
    entropies of the subsystems (also of ``rho``'s reduced states, when given)."""
    out: dict[str, Any] = {}
    acc = PauliAccumulator(frame, n, strings=ctx["strings"], tfim=ctx["tfim"])
    acc.update(a)
    obs = acc.result("model")
    for p, (v, _) in obs.single.items():
        out[f"single_site.{p}"] = np.asarray(v, dtype=float)
    for p, (v, _) in obs.two_point.items():
        out[f"two_point.{p}{p}"] = np.asarray(v, dtype=float)
    for name, e in obs.scalars.items():
        out[f"scalar.{name}"] = float(e.value)
    for i, s in enumerate(ctx["subsystems"]):
        out[f"renyi2.{i}"] = float(mt.renyi2_from_shots(a, frame, s)["renyi2"])
        if rho is not None:
            out[f"renyi2_mle.{i}"] = float(mt.renyi2_exact(dm.partial_trace(rho, s))["renyi2"])
    return out


# -- the report section --------------------------------------------------------------------------
#: Where a member error bar goes: a path into the report's sections (``quantum``,
#: ``classical``, ``observables``, ``subsystems``; keys and list indices) to the entry of the
#: model figure it belongs to.
FigurePath = tuple[str | int, ...]


@dataclass
class MemberErrors:
    """What the run's members give: ``section`` (``report["bootstrap"]``), the headline
    figures' error bars (``headline``: ``quantum_fidelity``, ``purity``, ``energy``,
    ``classical_fidelity``, ``kl_divergence``, where computed), the error bars to put beside
    each model figure in the other sections (``beside``: path of the figure's entry -> the
    fields to add, such as ``fidelity_stderr`` or ``bootstrap_ci95``; the assembly adds them,
    :func:`qtomo.reconstruction.assemble.with_member_bars`), the purity of the model's state
    (the headline's purity when the model heads) and the learning curve."""

    section: dict[str, Any]
    headline: dict[str, MembersInterval] = field(default_factory=dict)
    beside: dict[FigurePath, dict[str, Any]] = field(default_factory=dict)
    purity: float | None = None
    learning_curve: dict[str, Any] | None = None


def member_errors(sections: Mapping[str, Any], ds: Any, run_dir: str | Path | None,
                  ctx: dict[str, Any], *, samples: int = MEMBER_SAMPLES, seed: int = 1234,
                  precision: float | None = None, stage: Any = None) -> MemberErrors | None:
    """Error bars from the run's bootstrap members and the learning curve (module doc); None
    for a run without members.

    ``sections`` holds the report's ``quantum``, ``classical``, ``observables`` and
    ``subsystems`` sections, read for the main model's values (not changed): each model
    figure's error bar is returned in ``beside``, the headline's in ``headline``."""
    info = read_members(run_dir)
    if info is None:
        return None
    rd = Path(run_dir)  # type: ignore[arg-type]
    out = MemberErrors({"method": __doc__.split("\n\n")[1].replace("\n", " ")
                        if __doc__ else "", "member_samples": samples})
    boot = load_members(rd, info, "bootstrap")
    if len(boot) >= 2:
        if stage:
            stage(f"error bars from {len(boot)} bootstrap members")
        vals = [member_figures(m, ds, ctx, samples=samples, seed=seed + 7919 * (i + 1),
                               member=e)
                for i, (e, m) in enumerate(boot)]
        out.section["bootstrap_members"] = len(boot)
        w = _Writer(vals, len(boot))
        out.purity = _apply_quantum(w, sections.get("quantum") or {})
        _apply_classical(w, sections.get("classical") or {})
        obs = sections.get("observables") or {}
        _apply_scalars(w, obs)
        _apply_correlations(w, obs)
        _apply_subsystems(w, sections.get("subsystems") or [])
        out.section["figures"] = w.flat
        out.headline = w.headline
        out.beside = w.beside
    lc = load_members(rd, info, "learning_curve")
    if lc:
        if stage:
            stage(f"learning curve from {len(lc)} members")
        out.learning_curve = _learning_curve(lc, ds, ctx, precision)
        out.section["learning_curve"] = out.learning_curve
    return out


def _stack(vals: list[dict[str, Any]], key: str) -> np.ndarray | None:
    got = [v.get(key) for v in vals]
    if any(g is None for g in got):
        return None
    return np.asarray(got, dtype=float)


class _Writer:
    """Computes the intervals of the figures from the members' values: into ``flat`` (the
    section's ``figures``), ``beside`` (the fields beside each model figure's entry) and, for
    the figures a headline may show, ``headline``."""

    def __init__(self, vals: list[dict[str, Any]], nb: int) -> None:
        self.flat: dict[str, Any] = {}
        self.headline: dict[str, MembersInterval] = {}
        self.beside: dict[FigurePath, dict[str, Any]] = {}
        self.vals = vals
        self.label = f"error bar from {nb} bootstrap members"

    def put(self, name: str, point: Any, key: str, lo: float, hi: float) -> dict[str, Any] | None:
        m = _stack(self.vals, key)
        if m is None or point is None:
            return None
        r = interval(point, m, lo=lo, hi=hi)
        flat = self.flat
        flat[name] = point if np.ndim(point) == 0 else np.asarray(point, dtype=float).tolist()
        flat[f"{name}_stderr"] = r["stderr"]
        flat[f"{name}_ci95"] = r["ci95"]
        flat[f"{name}_bias"] = r["bias"]
        return r

    def keep(self, key: str, r: dict[str, Any] | None) -> None:
        """Keep ``r`` as the error bar of the headline figure ``key``."""
        if r is not None:
            self.headline[key] = MembersInterval.from_interval(r, self.label)

    def add(self, path: FigurePath, **fields: Any) -> None:
        """Fields to put beside the model figure at ``path`` of the report's sections."""
        self.beside[path] = {**self.beside.get(path, {}), **fields}


def _apply_quantum(w: _Writer, q: Mapping[str, Any]) -> float | None:
    """Fidelity and purity of the model's MLE (or projected) state; returns its purity."""
    model = q.get("model") or {}
    kind = "mle" if model.get("mle") else "projected"
    mle = model.get(kind)
    if not mle:
        return None
    path = ("quantum", "model", kind)
    r = w.put("quantum_fidelity", mle.get("fidelity"), "quantum_fidelity", 0.0, 1.0)
    w.keep("quantum_fidelity", r)
    if r:
        w.add(path, fidelity_stderr=r["stderr"], fidelity_ci95=r["ci95"])
    rp = w.put("purity", mle.get("purity"), "purity", 0.0, 1.0)
    w.keep("purity", rp)
    if rp:
        w.add(path, purity_stderr=rp["stderr"], purity_ci95=rp["ci95"])
    return mle.get("purity")


def _apply_classical(w: _Writer, cl: Mapping[str, Any]) -> None:
    for key, hi in (("classical_fidelity", 1.0), ("kl_divergence", math.inf)):
        e = cl.get(key)
        if e:
            r = w.put(key, e.get("value"), key, 0.0, hi)
            if r:
                w.add(("classical", key), bootstrap_stderr=r["stderr"],
                      bootstrap_ci95=r["ci95"])
            w.keep(key, r)


def _apply_scalars(w: _Writer, obs: Mapping[str, Any]) -> None:
    for name, e in (obs.get("scalars") or {}).items():
        me = e.get("model")
        if me:
            r = w.put(f"observable.{name}", me.get("value"), f"scalar.{name}", -math.inf,
                      math.inf)
            if r:
                w.add(("observables", "scalars", name, "model"), bootstrap_stderr=r["stderr"],
                      bootstrap_ci95=r["ci95"])
                if name == "energy":
                    w.keep("energy", r)


def _apply_correlations(w: _Writer, obs: Mapping[str, Any]) -> None:
    """Single-site and two-point functions (arrays, elementwise intervals)."""
    for group, prefix in (("single_site", "single_site."), ("two_point", "two_point.")):
        for p, e in (obs.get(group) or {}).items():
            me = e.get("model")
            key = prefix + p
            if me:
                r = w.put(f"{group}.{p}", np.asarray(me["value"], dtype=float), key, -1.0, 1.0)
                if r:
                    w.add(("observables", group, p, "model"),
                          bootstrap_stderr=np.asarray(r["stderr"]).tolist(),
                          bootstrap_ci95=[np.asarray(x).tolist() for x in r["ci95"]])


def _apply_subsystems(w: _Writer, subsystems: Sequence[Mapping[str, Any]]) -> None:
    for i, e in enumerate(subsystems):
        for src, key in (("model", f"renyi2.{i}"), ("model_mle", f"renyi2_mle.{i}")):
            me = e.get(src)
            if me and me.get("renyi2") is not None:
                r = w.put(f"renyi2.{'-'.join(map(str, e['sites']))}.{src}", me["renyi2"], key,
                          0.0, math.inf)
                if r:
                    w.add(("subsystems", i, src), renyi2_bootstrap_stderr=r["stderr"],
                          renyi2_bootstrap_ci95=r["ci95"])


def _learning_curve(members: list[tuple[dict, Any]], ds: Any, ctx: dict[str, Any],
                    precision: float | None) -> dict[str, Any]:
    by: dict[float, list[tuple[int, float]]] = {}
    quantity = None
    for e, m in members:
        f = member_figures(m, ds, ctx, samples=0, seed=0, full=False, member=e)
        key = "quantum_fidelity" if "quantum_fidelity" in f else "classical_fidelity"
        if key not in f:
            continue
        quantity = key
        by.setdefault(float(e["fraction"]), []).append((int(e["effective_shots"]), f[key]))
    points = []
    for frac in sorted(by):
        v = np.array([x for _, x in by[frac]])
        points.append({"fraction": frac, "shots": int(by[frac][0][0]), "members": len(v),
                       "value": float(v.mean()),
                       "stderr": float(v.std(ddof=1)) if len(v) > 1 else None,
                       "values": v.tolist()})
    usable = [p for p in points if p["stderr"] is not None]
    out: dict[str, Any] = {
        "quantity": quantity, "points": points,
        "fit": "error bar = c / sqrt(training shots), c^2 = mean over fractions of "
        "stderr^2 * shots (assumes the spread is statistical shot noise; training noise "
        "and bias are ignored)",
    }
    if usable:
        c = math.sqrt(float(np.mean([p["stderr"] ** 2 * p["shots"] for p in usable])))
        out["c"] = c
        if precision is not None:
            need = (c / precision) ** 2 if c > 0 else 0.0
            out["precision"] = precision
            out["train_shots_needed"] = int(math.ceil(need))
            vf = float(ctx.get("val_fraction") or 0.0)
            out["shots_needed"] = int(math.ceil(need / max(1e-9, 1.0 - vf)))
            out["shots_needed_note"] = (f"dataset shots for an error bar of {precision:g} on "
                                        f"the {quantity}, with a validation fraction {vf:g}")
    return out


__all__ = ["BIAS_THRESHOLD", "MEMBER_SAMPLES", "FigurePath", "MemberErrors",
           "interval", "member_errors", "member_figures"]
