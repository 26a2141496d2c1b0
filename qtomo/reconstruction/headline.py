"""The headline policy: which estimate heads a report, with which interval, and why.

:func:`choose_headline` is the one place that decides the headline quantum fidelity. It takes
every estimate the reconstruction made (:class:`~qtomo.reconstruction.estimates.FigureEstimate`
records, model first) and what the checks found (:class:`HeadlineChecks`), and returns a
:class:`Headline`: the estimate, its error bar and 95% interval, and one sentence saying why.
The rules, in order (:func:`pick_headline`):

1. ``--estimator`` other than ``auto``: the estimate of that estimator, whatever the checks
   say (the sentence says when the model-vs-data check rejects it).
2. Where no estimate comes from a dense state (no candidate names a density matrix: N above
   ``--max-rho-qubits``), the lab-scale protocol of a planned design (``LAB_SCALE``): its
   estimate, or the energy protocol's certified one-sided 95% lower bound; its error does not
   grow with N.
3. The model's state, unless the model-vs-data check rejects the model; with the run's
   bootstrap members its error bar comes from them, else it is a point estimate.
4. A rejected model falls back to the best-supported estimate from the shots alone: the
   raw-frequency MLE with its bootstrap error bar where that error is smaller than the direct
   estimate's (or there is no direct estimate), else the direct estimate, else the raw
   frequencies' states as point estimates. The model's value is kept beside it.
5. Without a model state: the direct estimate, else the raw frequencies' MLE, else their
   projected inversion. A direct estimate whose standard error exceeds
   ``TUNING.direct_max_stderr`` (its interval is wider than [0, 1]) is never headlined by
   ``auto``: without another estimate the headline is "not determined by the shots".

Then the interval is widened, each step said in the sentence: by the readout calibration's
error (in quadrature, :func:`qtomo.reconstruction.readout.widen`), to the range of fidelities
the shots allow on a design that leaves part of the fidelity unmeasured
(:mod:`~qtomo.reconstruction.fidelity_range`), and by a systematic error where a check
supplies one (:class:`SystematicError`, the hook for goodness-of-fit and no-signalling checks).
A lab-scale protocol takes only the systematic error (a lower bound is lowered by it): its
bootstrap already redraws the readout calibration, and its planned settings measure its whole
figure (:func:`_widen`).

The density matrix the report draws is the headline's state; a direct headline has none, and
the report then draws the state rule 3 or 5 would pick, saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qtomo.errors import InputValueError
from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.conventions import CONVENTIONS
from qtomo.reconstruction.estimates import FigureEstimate, PointBound
from qtomo.reconstruction.readout import widen
from qtomo.reconstruction.source import REQUESTED, Source
from qtomo.reconstruction.systematics import SystematicError

#: The words that begin the source of a figure the model's check replaced.
FALLBACK_PREFIX = "fallback (the model is inconsistent with the data): "
#: How a fallback's reason ends.
FALLBACK_TAIL = " The headline shows the best-supported estimate from the shots instead."


@dataclass(frozen=True)
class HeadlineChecks:
    """What the checks found, as far as the headline is concerned.

    Attributes
    ----------
    consistent : bool or None
        The model-vs-data verdict (None: no model was checked).
    reason : str
        The verdict in words (a rejected model's fallback says it).
    requested : str
        ``--estimator`` (``auto``: the policy chooses).
    exact : tuple
        ``(value,)`` of the exact headline figure where the report knows it (value may be
        None), ``()`` where not; the headline carries ``exact`` only when it is a number, also
        when the shots do not determine the fidelity.
    calibration_stderr : float
        The readout calibration's error of the headline (0: none, or not corrected).
    fidelity_range : mapping or None
        The fidelities the shots allow (``low``, ``high``, ``level``) on an open design.
    systematic : SystematicError or None
    """

    consistent: bool | None = None
    reason: str = ""
    requested: str = "auto"
    exact: tuple[float | None, ...] = ()
    calibration_stderr: float = 0.0
    fidelity_range: Mapping[str, Any] | None = None
    systematic: SystematicError | None = None


@dataclass(frozen=True)
class Pick:
    """The estimate :func:`pick_headline` chose, the model's it replaced (a fallback) and the
    rule in words."""

    chosen: FigureEstimate | None
    replaced: FigureEstimate | None
    rule: str
    state: str | None
    #: An estimate left out for an error bar wider than the range of a fidelity.
    uninformative: FigureEstimate | None = None

    @property
    def source(self) -> Source | None:
        """The chosen estimator (None: nothing to headline)."""
        return None if self.chosen is None else self.chosen.source


@dataclass(frozen=True)
class Headline:
    """The headline quantum fidelity: the report entry (value, stderr, ci95, source, ...),
    the estimator that made it, the sentence saying why, the state the report draws, and the
    other headline figures its estimator made with it (:attr:`FigureEstimate.figures`)."""

    entry: dict[str, Any]
    source: Source | None
    sentence: str
    state: str | None
    widened: tuple[str, ...] = field(default_factory=tuple)
    figures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.entry, "estimator": self.source.value if self.source else None,
                "why": self.sentence}


def _first(cands: Sequence[FigureEstimate], *sources: Source) -> FigureEstimate | None:
    for s in sources:
        for c in cands:
            if c.source is s and c.value is not None:
                return c
    return None


def _state(cands: Sequence[FigureEstimate], model_ok: bool) -> str | None:
    """The state of the first model (where allowed) or raw-frequency estimate."""
    for c in cands:
        if c.state is not None and (model_ok or not c.source.from_model):
            return c.state
    return None


#: Why a planned design's protocol heads (rule 2).
PLANNED_RULE = "no dense state is built at this N, and the protocol's error does not grow with N"


def _asked_for(candidates: Sequence[FigureEstimate], checks: HeadlineChecks) -> Pick:
    """Rule 1: the estimate ``--estimator`` asks for (one line where there is none)."""
    got = _first(candidates, *REQUESTED[checks.requested])
    if got is None:
        raise InputValueError(f"--estimator {checks.requested}: this reconstruction has no "
                              "such estimate of the fidelity (see the report's notes); "
                              "use --estimator auto")
    rejected = checks.consistent is False
    why = (f"it was asked for (--estimator {checks.requested})"
           + (", although the model-vs-data check rejects the model"
              if rejected and got.source.from_model else ""))
    return Pick(got, None, why, got.state or _state(candidates, not rejected))


def _planned(candidates: Sequence[FigureEstimate]) -> Pick | None:
    """Rule 2: the lab-scale protocol of a planned design, where no estimate comes from a
    dense state (None: no such protocol, or a dense state was built)."""
    lab = _first(candidates, Source.LAB_SCALE)
    if lab is None or any(c.state is not None for c in candidates):
        return None
    bound = "; it is the certified one-sided 95% lower bound" if lab.bound is not None else ""
    return Pick(lab, None, PLANNED_RULE + bound, None)  # no dense state to draw


def pick_headline(candidates: Sequence[FigureEstimate], checks: HeadlineChecks) -> Pick:
    """Which estimate heads the report (rules 1-5 of the module doc), before any widening."""
    if checks.requested != "auto":
        return _asked_for(candidates, checks)
    planned = _planned(candidates)
    if planned is not None:
        return planned
    model = next((c for c in candidates if c.source.from_model and c.value is not None), None)
    direct = _first(candidates, Source.DIRECT)
    vague = None  # a direct estimate whose interval is wider than [0, 1]: not headlined
    if direct is not None and direct.stderr is not None and not (
            direct.stderr <= TUNING.direct_max_stderr):
        direct, vague = None, direct
    raw = _first(candidates, Source.RAW_MLE)
    points = _first(candidates, Source.RAW_MLE, Source.RAW_PROJECTED)
    rejected = checks.consistent is False
    if model is not None and not rejected:
        why = ("the model-vs-data check finds the model consistent with its shots"
               if checks.consistent else "the model heads where nothing checks it")
        return Pick(model, None, why, model.state)
    rejects = "the model-vs-data check rejects the model"
    no_direct = ("no direct estimate" if vague is None else "no direct estimate narrower than "
                 f"the range of a fidelity (its standard error is {vague.stderr:.2g})")
    if model is not None:
        if raw is not None and raw.stderr is not None and (
                direct is None or raw.stderr < direct.stderr):
            return Pick(raw, model, f"{rejects}, and of the estimates from the shots alone it "
                        "has the smallest error" if direct else f"{rejects}, and the shots give "
                        f"{no_direct}", raw.state)
        if direct is not None:
            return Pick(direct, model, f"{rejects}, and of the estimates from the shots alone "
                        "it has the smallest error", _state(candidates, False))
        if points is not None:
            return Pick(points, model, f"{rejects}, and the shots give {no_direct}",
                        points.state)
        return Pick(model, None, f"{rejects}, but the shots give no estimate of their own",
                    model.state)
    if direct is not None:
        return Pick(direct, None, "there is no model state", _state(candidates, True))
    if points is not None:
        return Pick(points, None, f"there is no model state and {no_direct}", points.state)
    if vague is not None:
        return Pick(None, None, (
            f"the shots do not determine the fidelity: the direct estimate's standard error "
            f"({vague.stderr:.2g}) spans the whole range [0, 1] (random Pauli shots of "
            "many qubits; plan settings for the target with qtomo plan)"),
            _state(candidates, True), vague)
    return Pick(None, None, "nothing estimates the fidelity (no target state, or N too large)",
                _state(candidates, True))


def choose_headline(candidates: Sequence[FigureEstimate], checks: HeadlineChecks) -> Headline:
    """The headline quantum fidelity (module doc): the estimate :func:`pick_headline` picks,
    its interval widened by the checks, and the sentence that says why.

    Parameters
    ----------
    candidates : sequence of FigureEstimate
        Every estimate of the fidelity the reconstruction made.
    checks : HeadlineChecks

    Returns
    -------
    Headline
    """
    pick = pick_headline(candidates, checks)
    c = pick.chosen
    exact = {"exact": checks.exact[0]} if checks.exact and checks.exact[0] is not None else {}
    if c is None:
        entry = {"value": None, "stderr": None, "source": "not computable (no target state "
                 "vector stored, or N too large)", "convention": CONVENTIONS["quantum_fidelity"]}
        u = pick.uninformative
        if u is not None:
            entry.update(source="not determined by the shots", uninformative={
                "estimator": u.source.value, "value": u.value, "stderr": u.stderr}, **exact)
        return Headline(entry, None, _sentence(pick, ()), pick.state)
    entry = {**c.entry(), **exact, "source": c.words, "convention": c.convention}
    steps = []
    if c.source.from_model and c.members is not None and pick.replaced is None:
        entry = c.members.apply(entry, c.words_with(c.members))
        steps.append(f"its {c.members.label}")
    if pick.replaced is not None:
        m = pick.replaced
        entry.update(source=FALLBACK_PREFIX + c.words, model_value=m.value,
                     model_stderr=m.stderr, model_source=m.words,
                     fallback_reason=checks.reason + FALLBACK_TAIL)
    steps += _widen(entry, checks, c)
    return Headline(entry, c.source, _sentence(pick, steps), pick.state, tuple(steps),
                    c.figures)


def _widen(entry: dict[str, Any], checks: HeadlineChecks, chosen: FigureEstimate
           ) -> list[str]:
    """Widen ``entry`` (in place) by the calibration error, the range the shots allow and a
    systematic error; returns what was done, in words.

    A lab-scale protocol (``chosen.source``) takes only the systematic error: its bootstrap
    redraws the readout calibration from its counts in every replicate
    (:func:`qtomo.reconstruction.lab_scale.shots.readout_tables`), so its error already holds
    the calibration's, and its figure is what its planned settings measure (sampled
    stabilizers included in its bootstrap), with no part left to a fit's extrapolation."""
    steps = []
    planned = chosen.source is Source.LAB_SCALE
    v, cal = entry.get("value"), checks.calibration_stderr
    if not planned and widen_by_calibration(entry, cal):
        steps.append(f"widened by the readout calibration's error ({cal:.2g})")
    rng = checks.fidelity_range
    if rng is not None and v is not None and not planned and _widen_to_range(entry, rng):
        steps.append(f"widened to the fidelities the shots allow ({rng['low']:.3f} to "
                     f"{rng['high']:.3f})")
    sys_err = checks.systematic
    if sys_err is not None and v is not None and (sys_err.size > 0 or not sys_err.plain):
        _widen_systematic(entry, sys_err, chosen.bound)
        steps.append(f"widened by a systematic error of {sys_err.size:.2g} ({sys_err.reason})"
                     if sys_err.plain else f"widened for systematic errors ({sys_err.reason})")
    return steps


def _widen_systematic(entry: dict[str, Any], sys_err: SystematicError,
                      bound: PointBound | None) -> None:
    """Add a systematic error to ``entry`` (in place): in quadrature, keeping the interval's
    shape, where it is plain, else by :meth:`SystematicError.apply`. A one-sided lower bound
    is lowered instead, recomputed from its point bound (:meth:`SystematicError.lower_bound`)."""
    v, se = entry["value"], entry.get("stderr")
    entry["systematic_error"] = {"check": sys_err.check, "size": sys_err.size,
                                 "scale": sys_err.scale, "bias": sys_err.bias,
                                 "reason": sys_err.reason, **sys_err.details}
    if bound is not None:
        s, low = sys_err.lower_bound(bound.point, bound.stderr)
        entry.update(bound_without_systematic=v, value=low, ci95=[low, 1.0],
                     point_bound_stderr_without_systematic=bound.stderr,
                     point_bound_stderr=s)
        return
    entry["stderr_without_systematic"] = se
    if se is not None and sys_err.plain:  # an independent error: keep the interval's shape
        entry["stderr"], ci = widen(v, se, entry.get("ci95"), sys_err.size)
        if ci is not None:
            entry["ci95"] = ci
    else:
        entry["stderr"], entry["ci95"] = sys_err.apply(v, se)


def widen_by_calibration(entry: dict[str, Any], cal: float) -> bool:
    """Add the readout calibration's error ``cal`` to a figure with an error bar, in quadrature
    (in place: ``stderr_statistical`` keeps the shots' error); whether it changed."""
    if not cal > 0 or entry.get("stderr") is None or entry.get("value") is None:
        return False
    entry["stderr_statistical"] = entry["stderr"]
    entry["calibration_stderr"] = cal
    entry["stderr"], ci = widen(entry["value"], entry["stderr"], entry.get("ci95"), cal)
    if ci is not None:
        entry["ci95"] = ci
    return True


def _widen_to_range(entry: dict[str, Any], rng: Mapping[str, Any]) -> bool:
    """Widen ``entry["ci95"]`` to contain the range; whether it changed."""
    ci = entry.get("ci95")
    lo, hi = ci if ci else (entry["value"], entry["value"])
    if not (rng["low"] < lo or rng["high"] > hi):
        return False
    entry["ci95_before_range"] = ci
    entry["ci95"] = [min(lo, rng["low"]), max(hi, rng["high"])]
    method = entry.get("ci95_method") or ""
    entry["ci95_method"] = (
        method + ("; " if method else "")
        + f"widened to the range of fidelities the shots allow ({100 * rng['level']:g}% "
        "simultaneous bands on the measured Pauli strings; the design leaves part of the "
        "fidelity unmeasured, which the bootstrap of one fit does not see)")
    return True


def _sentence(pick: Pick, steps: Sequence[str]) -> str:
    """One sentence: what heads the report and why, and how its interval was widened."""
    if pick.chosen is None:
        return f"No headline fidelity: {pick.rule}."
    text = f"The headline is {pick.chosen.title}: {pick.rule}"
    if steps:
        text += "; " + "; ".join(steps)
    return text + "."


def figure_fallback(model_entry: Mapping[str, Any], replacement: Mapping[str, Any] | None,
                    checks: HeadlineChecks) -> dict[str, Any]:
    """A model figure other than the fidelity (the energy) under the model's verdict: the
    replacement from the shots, the model's value kept beside it, when the check rejects the
    model; else the model's figure."""
    if checks.consistent is not False or replacement is None:
        return dict(model_entry)
    out = dict(replacement)
    out["source"] = FALLBACK_PREFIX + str(replacement.get("source", "direct estimate"))
    out.update(model_value=model_entry.get("value"), model_stderr=model_entry.get("stderr"),
               model_source=model_entry.get("source"),
               fallback_reason=checks.reason + FALLBACK_TAIL)
    return out


__all__ = ["FALLBACK_PREFIX", "PLANNED_RULE", "Headline", "HeadlineChecks", "Pick",
           "SystematicError",
           "choose_headline", "figure_fallback", "pick_headline", "widen_by_calibration"]
