"""The lab-scale block of a report as users see it: the section of ``report.html`` and the
figures of ``qtomo reconstruct --json``.

The block (``report["lab_scale"]``, :mod:`qtomo.reconstruction.lab_scale.report`) holds the
fidelity (or certified lower bound) of a planned design's protocol, with its error, settings
and shots, the check against the plan, the assumptions in words, and a trained model's figure
beside it.
"""

from __future__ import annotations

from typing import Any

from qtomo.reports.formatting import esc, num, table, z_score

#: What the summary of ``qtomo reconstruct --json`` keeps of the block.
SUMMARY_KEYS = ("protocol", "value", "stderr", "ci95", "ci95_kind", "lower_bound95",
                "n_settings", "n_shots", "assumptions")
_NAMES = {"parity": "GHZ populations and parity oscillations",
          "stabilizer": "direct fidelity estimation over sampled stabilizers",
          "energy": "certified lower bound from the measured energy"}


def _bound_formula(d: dict[str, Any]) -> str:
    if d.get("parity") is None:
        return "(E1 &minus; &lang;H&rang;) / (E1 &minus; E0)"
    return ("(E1 + c &minus; &lang;H&rang; + c s0 &lang;P&rang;) / (E1s &minus; E0), "
            "c = (E1s &minus; E1) / 2")


def _rows(sec: dict[str, Any]) -> list[list[str]]:
    lo, hi = sec["ci95"]
    if sec.get("lower_bound95") is not None:
        d = sec["details"]
        rows = [["fidelity, one-sided 95% lower bound", f"&ge; {num(sec['lower_bound95'])}",
                 "certified: F &ge; this with 95% confidence"],
                ["bound at the measured energy", f"{num(sec['value'])} &plusmn; "
                 f"{num(sec['stderr'], 2)}", _bound_formula(d)],
                ["energy &lang;H&rang;", f"{num(d['energy'])} &plusmn; "
                 f"{num(d['energy_stderr'], 2)}",
                 f"E0 = {num(d['E0'])}, E1 = {num(d['E1'])}, gap {num(d['gap'])}"]]
        if d.get("parity") is not None:
            rows.append(["parity &lang;P&rang; = &lang;&prod; X<sub>i</sub>&rang;",
                         num(d["parity"]), f"ground state's parity {d['ground_parity']:+d}; "
                         f"its sector's next level E1s = {num(d['E1_same_sector'])}"])
    else:
        rows = [["fidelity", f"{num(sec['value'])} &plusmn; {num(sec['stderr'], 2)}",
                 f"95% interval [{num(lo)}, {num(hi)}] (bootstrap)"]]
    m = sec.get("model")
    if m is not None:
        v = sec["model_vs_direct"]
        rows.append([f"model ({esc(v['quantity'])})",
                     f"{num(v['model'])} &plusmn; {num(v['model_stderr'], 2)}",
                     f"{esc(v['verdict'])} with the direct {num(v['direct'])} "
                     f"(z = {z_score(v['z'])}, {m['n_samples']} model samples)"])
    return rows


def lab_scale_section(r: dict[str, Any]) -> str:
    """The section ("" when the shots follow no planned design)."""
    sec = r.get("lab_scale")
    if not sec:
        return ""
    plan = sec.get("plan_check") or {}
    target = sec.get("target") or {}
    words = "".join(f"<li>{esc(a)}</li>" for a in sec.get("assumptions") or [])
    note = f' <span class="warn">{esc(plan["note"])}</span>' if plan.get("note") else ""
    return (
        '<h2 id="lab-scale">Lab-scale protocol</h2>'
        f'<p class="note">{esc(_NAMES.get(sec["protocol"], sec["protocol"]))} for the target '
        f"{esc(target.get('state'))} (N = {esc(target.get('n_qubits'))}): "
        f"{sec['n_settings']} settings, {sec['n_shots']} shots, as planned "
        f"(precision {num(sec.get('planned_precision'), 3)}){note}. Readout "
        f"{'corrected' if sec.get('readout_corrected') else 'not corrected'}.</p>"
        + table(["quantity", "value", "meaning"], _rows(sec), "lab-scale")
        + f'<p class="note">Assumes:</p><ul>{words}</ul>'
    )


def lab_scale_summary(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """The block's figures in the summary (None without a planned design), the model's
    value and verdict beside them when there is a model."""
    if section is None:
        return None
    out = {k: section.get(k) for k in SUMMARY_KEYS}
    if "model" in section:
        out.update(model_value=section["model"]["value"],
                   model_verdict=section["model_vs_direct"]["verdict"])
    return out


__all__ = ["SUMMARY_KEYS", "lab_scale_section", "lab_scale_summary"]
