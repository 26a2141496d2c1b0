"""The estimates a report can headline, as typed records: which estimator made each number
(:class:`Source`), its value, standard error and 95% interval, and the method in words
(:class:`FigureEstimate`); the error bar a run's bootstrap members give a model figure
(:class:`MembersInterval`).

Every estimator of the quantum fidelity <psi|rho|psi> to the ideal target hands the headline
policy (:func:`qtomo.reconstruction.headline.choose_headline`) one such record:

* the model's state (:func:`model_estimate`): the maximum-likelihood state of the model's
  outcome table (``MODEL_MLE``), or of the table blended with the shots' frequencies
  (``BLEND``; at weight 1 the model's table has no part in it and the words say "raw-frequency
  MLE"), or the projected inversion of the table where no MLE state was fitted
  (``MODEL_PROJECTED``);
* the raw shot frequencies' states (:func:`raw_estimates`): the maximum-likelihood state
  (``RAW_MLE``), with its bootstrap error bar where it was computed
  (:func:`raw_mle_estimate`), and the projected inversion (``RAW_PROJECTED``);
* the direct estimate from the shots (:func:`direct_estimate`, ``DIRECT``): the unbiased mean
  of the per-shot values, the only one with a state-free error bar;
* the protocol of a planned design (``LAB_SCALE``,
  :func:`qtomo.reconstruction.lab_scale.report.lab_scale_estimate`): an estimate with its
  bootstrap interval, or a certified one-sided lower bound (:class:`PointBound`).

No code branches on the words of ``method``: the source says what a number is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qtomo.povm.born import Estimate
from qtomo.reconstruction.conventions import CONVENTIONS, estimate_entry
from qtomo.reconstruction.source import NAMES, Source

#: The words on the error bar of an estimate without one of its own.
POINT = "point estimate, no error bar"


@dataclass(frozen=True)
class MembersInterval:
    """A figure's error bar from the run's bootstrap members
    (:func:`qtomo.reconstruction.bootstrap.interval`): standard error, 95% interval, how the
    interval was made, the members' bias and the label the report shows."""

    stderr: float | None
    ci95: list[float | None] | None
    ci95_method: str
    bias: float | None
    bias_corrected: bool
    label: str

    @classmethod
    def from_interval(cls, r: Mapping[str, Any], label: str) -> MembersInterval:
        return cls(r["stderr"], r["ci95"], r["ci95_method"], r["bias"],
                   bool(r["bias_corrected"]), label)

    def apply(self, entry: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
        """``entry`` (a report figure) with this error bar; its own (sampling) error is kept
        as ``sampling_stderr``; ``source``: its new words (which name the members)."""
        e = dict(entry)
        if e.get("stderr") is not None:
            e["sampling_stderr"] = e["stderr"]
        e.update(stderr=self.stderr, ci95=self.ci95, ci95_method=self.ci95_method,
                 bias=self.bias, bias_corrected=self.bias_corrected, error_bar=self.label)
        if source is not None:
            e["source"] = source
        return e


@dataclass(frozen=True)
class PointBound:
    """What a one-sided 95% lower confidence bound is made of: the bound at the measured value
    (``point``) and its standard error; the bound is ``min(1, point - 1.645 stderr)``."""

    point: float
    stderr: float


#: What the report says a lower bound is.
LOWER_BOUND = "one-sided 95% lower confidence bound: F >= value"


@dataclass(frozen=True)
class FigureEstimate:
    """One estimator's estimate of a report figure.

    Attributes
    ----------
    source : Source
    value : float or None
        None: the estimator ran but has no value (no target to take a fidelity to).
    stderr : float or None
        Its own standard error (None: a point estimate).
    ci95 : list of two floats or None
    method : str
        What the number is, in words (the report's ``source`` sentence, with ``error_bar``).
    error_bar : str
        Words on its error bar where it has none of its own (:data:`POINT`; empty: the
        method says it).
    n : int or None
        Shots behind a direct estimate.
    convention : str
    state : str or None
        The density matrix behind it (a key of ``Reconstruction.rhos``).
    members : MembersInterval or None
        The run's bootstrap members' error bar (model estimates of a run with members).
    name : str
        The estimator in a few words, for the headline's sentence ("the raw-frequency MLE";
        empty: the source's name).
    notes : tuple of str
    bound : PointBound or None
        Set where ``value`` is a one-sided 95% lower confidence bound (then ``stderr`` is
        None and ``ci95`` is ``[value, 1]``): the point bound and its standard error.
    extra : mapping
        Further fields of the report figure (a protocol's ``kind``, ``assumptions``, ...).
    figures : mapping
        Other headline figures the estimator made with it (a key of ``report["headline"]``
        -> its entry), which head the report when it does: the energy protocol's <H>.
    """

    source: Source
    value: float | None
    stderr: float | None = None
    ci95: list[float] | None = None
    method: str = ""
    error_bar: str = ""
    n: int | None = None
    convention: str = CONVENTIONS["quantum_fidelity"]
    state: str | None = None
    members: MembersInterval | None = None
    name: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    bound: PointBound | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def words(self) -> str:
        """The report's ``source``: the method and the words on its error bar."""
        return f"{self.method} ({self.error_bar})" if self.error_bar else self.method

    def words_with(self, members: MembersInterval) -> str:
        """The report's ``source`` with the members' error bar."""
        return f"{self.method} ({members.label})"

    @property
    def title(self) -> str:
        """The estimator in a few words."""
        return self.name or NAMES[self.source]

    def entry(self) -> dict[str, Any]:
        """The report figure: ``value``, ``stderr`` (``n``, ``ci95`` where known; a bound's
        ``bound``, ``point_bound`` and ``point_bound_stderr``) and the :attr:`extra`
        fields."""
        out: dict[str, Any] = {"value": self.value, "stderr": self.stderr}
        if self.n is not None:
            out["n"] = self.n
        if self.ci95 is not None:
            out["ci95"] = list(self.ci95)
        if self.bound is not None:
            out.update(bound=LOWER_BOUND, point_bound=self.bound.point,
                       point_bound_stderr=self.bound.stderr)
        return {**out, **self.extra}


def model_estimate(quantum: Mapping[str, Any], symmetry: str = "none",
                   members: MembersInterval | None = None) -> FigureEstimate | None:
    """The model's state as an estimate (None where no dense model state was built).

    ``quantum`` is ``report["quantum"]`` as the quantum stage wrote it (its ``model`` section,
    with ``blend`` where the blend ran); ``symmetry`` the group the run's frequencies were
    averaged over (:attr:`~qtomo.reconstruction.run_shots.RunShots.symmetry`)."""
    sec = quantum.get("model") or {}
    if sec.get("mle"):
        blend = sec.get("blend")
        w = float(blend["weight"]) if blend else 0.0
        name = ("" if not blend else "the raw-frequency MLE (the blend's weight of the shots' "
                "frequencies came out 1)" if w == 1.0 else
                f"the model's state blended with the shots' frequencies (weight {w:g})")
        return FigureEstimate(Source.BLEND if blend else Source.MODEL_MLE,
                              sec["mle"].get("fidelity"), method=_model_words(w, symmetry),
                              error_bar=POINT, state="model_mle", members=members, name=name)
    if sec.get("projected"):
        return FigureEstimate(Source.MODEL_PROJECTED, sec["projected"].get("fidelity"),
                              method=("model: inversion, projected to a physical state, of the "
                                      "model's outcome table"), error_bar=POINT,
                              state="model_projected", members=members)
    return None


def _model_words(weight: float, symmetry: str) -> str:
    """The model's MLE state in words, by the blend weight w of the shots' frequencies."""
    if weight == 1.0:
        avg = "" if symmetry == "none" else f", averaged over the run's {symmetry} group"
        return ("raw-frequency MLE: maximum-likelihood physical state fitted to the frequencies "
                f"of all the shots{avg}, in the family (rank, noise) chosen for the model's "
                "table (blend weight 1, chosen by the validation shots and the two estimates' "
                "errors: the model's table has no part in it)")
    table = "model's outcome table"
    if weight:
        table += (f" mixed with the frequencies of all its shots (weight {weight:g}, chosen by "
                  "the validation shots and the two estimates' errors)")
    return f"model: maximum-likelihood physical state fitted to the {table}"


def raw_estimates(quantum: Mapping[str, Any]) -> list[FigureEstimate]:
    """The raw frequencies' maximum-likelihood and projected states as point estimates."""
    sec = quantum.get("data") or {}
    out = []
    for kind, source, what in (
            ("mle", Source.RAW_MLE, "maximum-likelihood physical state fitted to the"),
            ("projected", Source.RAW_PROJECTED, "inversion, projected to a physical state, of "
                                                "the")):
        if sec.get(kind):
            out.append(FigureEstimate(source, sec[kind].get("fidelity"),
                                      method=f"data: {what} raw shot frequencies",
                                      error_bar=POINT, state=f"data_{kind}"))
    return out


def raw_mle_estimate(quantum: Mapping[str, Any], boot: Mapping[str, Any]) -> FigureEstimate:
    """The raw-frequency MLE with its bootstrap error bar (``boot``:
    :func:`qtomo.reconstruction.likelihood_ratio.raw_mle_bootstrap`)."""
    return FigureEstimate(
        Source.RAW_MLE, quantum["data"]["mle"]["fidelity"], stderr=boot["stderr"],
        ci95=list(boot["ci95"]), state="data_mle",
        method=("raw shot frequencies: maximum-likelihood physical state (standard "
                f"tomography), error bar from {boot['b']} bootstrap refits"))


def direct_estimate(direct: Estimate | None) -> FigureEstimate | None:
    """The direct estimate from the shots (None: none computed)."""
    if direct is None:
        return None
    e = estimate_entry(direct) or {}
    return FigureEstimate(Source.DIRECT, e["value"], stderr=e["stderr"], ci95=e.get("ci95"),
                          n=e["n"], method="direct estimate from the measured shots (unbiased)",
                          convention=CONVENTIONS["direct_fidelity"])


def fidelity_candidates(quantum: Mapping[str, Any], direct: Estimate | None, *,
                        raw_with_error: FigureEstimate | None = None,
                        symmetry: str = "none",
                        members: MembersInterval | None = None) -> list[FigureEstimate]:
    """Every estimate of the quantum fidelity the reconstruction made, model first.

    ``raw_with_error`` replaces the raw MLE's point estimate where its bootstrap ran;
    ``members`` is the bootstrap members' error bar of the model's state."""
    out = [model_estimate(quantum, symmetry, members), direct_estimate(direct)]
    for raw in raw_estimates(quantum):
        out.append(raw_with_error if raw_with_error is not None
                   and raw.source is Source.RAW_MLE else raw)
    return [c for c in out if c is not None]


__all__ = ["LOWER_BOUND", "POINT", "FigureEstimate", "MembersInterval", "PointBound",
           "direct_estimate", "fidelity_candidates", "model_estimate", "raw_estimates",
           "raw_mle_estimate"]
