"""The report of ``qtomo reconstruct``, built once at the end from what the stages returned.

No stage edits another's output: the quantum stage, the model-vs-data check, the bootstrap
members, the readout correction, the fidelity range and the lab-scale protocol each return
their record, the headline policy (:func:`qtomo.reconstruction.headline.choose_headline`)
picks the headline fidelity and its interval from them, and this module lays out the
sections, each a new dict: :func:`with_member_bars` puts the members' error bar beside each
model figure of the quantum, classical, observables and subsystems sections;
:func:`headline_section` lays out every headline figure (quantum fidelity, energy, classical
fidelity and KL, purity); :func:`quantum_section` adds the checks' figures to the quantum
section (the direct estimate's calibration error, the fidelity range); and
:func:`lab_scale_readout` puts a headlined protocol's figure on the other side of the readout
correction into the readout block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qtomo.reconstruction.bootstrap import FigurePath, MemberErrors
from qtomo.reconstruction.consistency import ConsistencyResult
from qtomo.reconstruction.conventions import CONVENTIONS
from qtomo.reconstruction.estimates import MembersInterval
from qtomo.reconstruction.headline import (
    Headline,
    HeadlineChecks,
    figure_fallback,
    widen_by_calibration,
)
from qtomo.reconstruction.source import Source


@dataclass(frozen=True)
class StageRecords:
    """What the stages of one reconstruction returned, as the report needs it.

    Attributes
    ----------
    quantum, classical, observables, subsystems, rdm :
        The quantum stage's section (with the raw-frequency MLE a fallback fitted), the
        model's classical metrics (None without a model), the observables, the Renyi-2
        entropies and the reduced density matrix, as their stages made them.
    consistency : ConsistencyResult or None
        The model-vs-data check (None without a model).
    headline, checks :
        The headline policy's choice and the checks it weighed.
    members : MemberErrors or None
        The run's bootstrap members.
    fidelity_range, readout, device_checks, lab_scale : dict or None
        The range of fidelities the shots allow, the readout block, the goodness-of-fit and
        no-signalling blocks, and the protocol of a planned design.
    """

    quantum: Mapping[str, Any]
    classical: Mapping[str, Any] | None
    observables: Mapping[str, Any]
    subsystems: Sequence[Mapping[str, Any]]
    rdm: Mapping[str, Any]
    consistency: ConsistencyResult | None
    headline: Headline
    checks: HeadlineChecks
    members: MemberErrors | None = None
    fidelity_range: dict[str, Any] | None = None
    readout: dict[str, Any] | None = None
    device_checks: dict[str, Any] | None = None
    lab_scale: dict[str, Any] | None = None


def report_sections(r: StageRecords) -> dict[str, Any]:
    """The report's sections from the stages' records, each laid out once (the keyword
    arguments of :func:`qtomo.reconstruction.schema.report_dict` but the provenance and
    notes): the members' error bars beside the model figures, the headline figures, the
    quantum section with the checks' figures, and a planned design's protocol (its figure on
    the other side of the readout correction where it heads)."""
    s = with_member_bars({"quantum": r.quantum, "classical": r.classical,
                          "observables": r.observables, "subsystems": r.subsystems}, r.members)
    head = headline_section(r.headline, s["observables"]["scalars"].get("energy"), r.checks,
                            s["classical"], r.members)
    readout = lab_scale_readout(r.lab_scale, r.readout, r.headline)
    return {
        "consistency": r.consistency, "headline": head,
        "quantum": quantum_section(s["quantum"], r.checks.calibration_stderr,
                                   r.fidelity_range),
        "classical": s["classical"], "observables": s["observables"],
        "subsystems": s["subsystems"], "rdm": r.rdm,
        "bootstrap": r.members.section if r.members is not None else None,
        "readout": readout, "device_checks": r.device_checks, "lab_scale": r.lab_scale,
    }


def _energy_entry(energy: Mapping[str, Any], source: Source) -> dict[str, Any]:
    key = "model" if source.from_model else "direct"
    return {**energy[key], "source": f"{key} estimate", "estimator": source.value,
            "exact": energy.get("exact"), "convention": CONVENTIONS["energy"]}


def headline_energy(energy: Mapping[str, Any] | None, checks: HeadlineChecks,
                    members: MembersInterval | None = None) -> dict[str, Any] | None:
    """The headline energy: the model's estimate (with its members' error bar), or the direct
    one when there is no model estimate or the model-vs-data check rejects the model (the
    model's value kept beside it)."""
    if energy is None:
        return None
    if not energy.get("model"):
        return _energy_entry(energy, Source.DIRECT)
    model = _energy_entry(energy, Source.MODEL_SAMPLES)
    if checks.consistent is False:
        return figure_fallback(model, _energy_entry(energy, Source.DIRECT), checks)
    if members is None:
        return model
    return members.apply(model, f"{model['source']} ({members.label})")


def headline_section(fidelity: Headline, energy: Mapping[str, Any] | None,
                     checks: HeadlineChecks, classical: Mapping[str, Any] | None,
                     members: MemberErrors | None) -> dict[str, Any]:
    """``report["headline"]``: quantum fidelity (the policy's :class:`Headline`), energy,
    classical fidelity and KL of the model (with the members' error bars where the run has
    members), and the purity of the headline state when the model's state heads. The other
    figures the headline's estimator made with it (the energy protocol's <H>) take the place
    of those of the same key, keeping their exact value."""
    bars = members.headline if members is not None else {}
    out: dict[str, Any] = {
        "quantum_fidelity": fidelity.as_dict(),
        "energy": headline_energy(energy, checks, bars.get("energy")),
    }
    for key, entry in fidelity.figures.items():
        old = out.get(key) or {}
        out[key] = {**entry, **{k: old[k] for k in ("exact",) if k in old}}
    for key in ("classical_fidelity", "kl_divergence"):
        e = (classical or {}).get(key)
        out[key] = bars[key].apply(e) if e and key in bars else e
    p = bars.get("purity")
    if p is not None and fidelity.source is not None and fidelity.source.from_model:
        out["purity"] = {"value": members.purity if members else None, "stderr": p.stderr,
                         "ci95": p.ci95, "ci95_method": p.ci95_method,
                         "source": f"model: purity Tr rho^2 of the headline state ({p.label})"}
    return out


def quantum_section(section: Mapping[str, Any], calibration_stderr: float,
                    fidelity_range: dict[str, Any] | None) -> dict[str, Any]:
    """``report["quantum"]``: the quantum stage's section, the direct estimate widened by the
    readout calibration's error, and the range of fidelities the shots allow (``data_range``)
    where it was computed."""
    out = dict(section)
    direct = out.get("direct_estimate")
    if direct is not None:
        direct = dict(direct)
        if widen_by_calibration(direct, calibration_stderr):
            out["direct_estimate"] = direct
    if fidelity_range is not None:
        out["data_range"] = fidelity_range
    return out


def with_member_bars(sections: Mapping[str, Any], members: MemberErrors | None
                     ) -> dict[str, Any]:
    """The report's sections (``quantum``, ``classical``, ``observables``, ``subsystems``)
    with the bootstrap members' error bar beside each model figure (``members.beside``):
    new dicts and lists along the path of every figure that gets one, the stages' records
    unchanged."""
    out = dict(sections)
    for path, fields in (members.beside.items() if members is not None else ()):
        out = _with_fields(out, path, fields)
    return out


def _with_fields(tree: Any, path: FigurePath, fields: Mapping[str, Any]) -> Any:
    """``tree`` (nested dicts and lists) with ``fields`` added to the dict at ``path``,
    copied along the path."""
    if not path:
        return {**tree, **fields}
    copy = list(tree) if isinstance(tree, list) else dict(tree)
    copy[path[0]] = _with_fields(tree[path[0]], path[1:], fields)
    return copy


def lab_scale_readout(lab: Mapping[str, Any] | None, readout: dict[str, Any] | None,
                      headline: Headline) -> dict[str, Any] | None:
    """The readout block with a planned design's protocol (``lab``, ``report["lab_scale"]``)
    on the other side of the correction, where that protocol heads the report (``headline``):
    the same figure the headline shows, without the correction when it was applied (with it
    under ``--no-readout-correction``). Unchanged otherwise; a new dict where changed."""
    if (lab is None or readout is None or "other_side" not in lab
            or headline.source is not Source.LAB_SCALE):
        return readout
    side = "uncorrected" if readout.get("applied") else "corrected"
    return {**readout, f"quantum_fidelity_{side}": lab["other_side"],
            f"quantum_fidelity_{side}_source": headline.entry["source"]}


__all__ = ["StageRecords", "headline_energy", "headline_section", "lab_scale_readout",
           "quantum_section", "report_sections", "with_member_bars"]
