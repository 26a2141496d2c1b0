"""The report of ``qtomo reconstruct``, built once at the end from what the stages returned.

No stage writes the headline: the quantum stage, the model-vs-data check, the bootstrap
members, the readout correction and the fidelity range each return their record, the headline
policy (:func:`qtomo.reconstruction.headline.choose_headline`) picks the headline fidelity and
its interval from them, and :func:`headline_section` lays out every headline figure (quantum
fidelity, energy, classical fidelity and KL, purity). :func:`quantum_section` adds the
checks' figures to the quantum section (the direct estimate's calibration error, the fidelity
range).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qtomo.reconstruction.bootstrap import MemberErrors
from qtomo.reconstruction.conventions import CONVENTIONS
from qtomo.reconstruction.estimates import MembersInterval
from qtomo.reconstruction.headline import (
    Headline,
    HeadlineChecks,
    figure_fallback,
    widen_by_calibration,
)
from qtomo.reconstruction.source import Source


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
    members), and the purity of the headline state when the model's state heads."""
    bars = members.headline if members is not None else {}
    out: dict[str, Any] = {
        "quantum_fidelity": fidelity.as_dict(),
        "energy": headline_energy(energy, checks, bars.get("energy")),
    }
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


__all__ = ["headline_energy", "headline_section", "quantum_section"]
