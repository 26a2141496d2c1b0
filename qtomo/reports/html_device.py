"""The blocks of ``report.html`` that judge the measurements: the warning at the top of a report
whose shots no physical state fits, and the section with the goodness-of-fit tests, the
no-signalling (drift and crosstalk) check, its heat map and the readout calibration check
(``report["goodness_of_fit"]``, ``report["no_signalling"]``).
"""

from __future__ import annotations

from typing import Any

from qtomo.reports.formatting import esc, figure, num, p_value, table


def device_alarm(r: dict[str, Any]) -> str:
    """The warning at the top when the G-test rejects a state the report shows (p < alpha)."""
    g = r.get("goodness_of_fit") or {}
    lines = []
    for key, what in (("best_physical", "no physical state fits the shots"),
                      ("headline_state", "the headline state does not fit the shots")):
        e = g.get(key) or {}
        if e.get("rejected"):
            lines.append(f"<li><b>{what}</b>: G = {num(e.get('statistic'), 1)} on "
                         f"{e.get('dof')} degrees of freedom (p = {p_value(e.get('p_value'))}, "
                         f"state {esc(e.get('state'))})</li>")
    if not lines:
        return ""
    sys_err = ((r.get("headline") or {}).get("quantum_fidelity") or {}).get("systematic_error")
    words = (sys_err or {}).get("reason")
    return ('<div class="alarm" id="fit-warning"><h2>Warning: the shots reject the measurement '
            "model</h2><ul>" + "".join(lines) + "</ul>"
            + (f"<p>{esc(words)}.</p>" if words else "")
            + '<p>See <a href="#device-checks">Goodness of fit and no signalling</a> below.'
            "</p></div>")


def device_section(r: dict[str, Any], pngs: dict[str, bytes | None]) -> str:
    """The goodness-of-fit tests, the no-signalling check and its heat map."""
    g, ns = r.get("goodness_of_fit"), r.get("no_signalling")
    if not g and not ns:
        return ""
    out = ['<h2 id="device-checks">Goodness of fit and no signalling</h2>']
    out.append(_gof(g or {}))
    out.append(_no_signalling(ns or {}))
    out.append(figure(pngs.get("no_signalling"), "per setting and qubit, the largest deviation "
                      "(in standard errors) of a marginal involving the qubit (its own, and its "
                      "pairs) from the other settings that measure it in the same bases; "
                      "without drift most lie below 3"))
    return "".join(out)


def _gof(g: dict[str, Any]) -> str:
    if "skipped" in g:
        return f'<p class="note">Goodness of fit not tested: {esc(g["skipped"])}.</p>'
    rows = []
    for key, label in (("best_physical", "best physical state"),
                       ("headline_state", "headline state")):
        e = g.get(key) or {}
        if "statistic" not in e:
            continue
        worst = ", ".join(f"{esc(w['setting'])} ({num(w['g'], 1)})"
                          for w in e.get("worst_settings", [])[:3])
        verdict = '<span class="bad">rejected</span>' if e["rejected"] else \
            '<span class="ok">fits</span>'
        rows.append([f"{label} ({esc(e['state'])})", num(e["statistic"], 1), str(e["dof"]),
                     p_value(e["p_value"]), num(e["ratio"], 2), worst, verdict])
    note = (f'<p class="note">{esc(g.get("method"))}. Parameters: '
            + "; ".join(f"{esc((g.get(k) or {}).get('state'))}: "
                        f"{(g.get(k) or {}).get('parameters')} "
                        f"({esc((g.get(k) or {}).get('parameters_note'))})"
                        for k in ("best_physical", "headline_state")
                        if "parameters" in (g.get(k) or {})) + ".</p>")
    return ("<h3>Goodness of fit (G-test over settings)</h3>"
            + table(["state", "G", "dof", "p-value", "G/dof", "worst settings (G)", "result"],
                    rows) + note)


def _no_signalling(ns: dict[str, Any]) -> str:
    if "skipped" in ns:
        return f'<p class="note">No-signalling check not run: {esc(ns["skipped"])}.</p>'
    verdict = ('<p class="bad">The marginals differ between settings beyond shot noise: drift '
               f"or crosstalk (qubits {esc(ns.get('drifting_qubits'))}).</p>"
               if ns.get("rejected") else
               '<p class="ok">The marginals agree across settings within shot noise.</p>')
    rows = [[esc(",".join(map(str, t["qubits"]))), esc(t["bases"]), num(t["statistic"], 1),
             str(t["dof"]), p_value(t["p_value"]), p_value(t["p_value_holm"]),
             ", ".join(f"{esc(w['setting'])} ({num(w['z'], 1)})"
                       for w in t["worst_settings"][:3])] for t in ns.get("worst", [])]
    cal = ns.get("calibration") or {}
    cal_line = (f"Readout calibration against the all-Z settings: not checked "
                f"({esc(cal['skipped'])})." if "skipped" in cal else
                f"Readout calibration against the all-Z settings: "
                f"{'consistent' if cal.get('consistent') else 'inconsistent'} (p = "
                f"{p_value(cal.get('p_value'))}; {esc(cal.get('method'))}).")
    return ("<h3>No signalling (drift and crosstalk between settings)</h3>" + verdict
            + f"<p>Single-qubit marginals: &chi;&sup2; = {num(ns.get('statistic'), 1)} on "
            f"{ns.get('dof')} dof; pairs: {num(ns.get('pairs_statistic'), 1)} on "
            f"{ns.get('pairs_dof')} dof; Holm-corrected p = {p_value(ns.get('p_value'))}.</p>"
            + table(["qubits", "bases", "&chi;&sup2;", "dof", "p-value", "Holm p",
                     "worst settings (|z|)"], rows)
            + f'<p class="note">{esc(ns.get("method"))}. {cal_line}</p>')


__all__ = ["device_alarm", "device_section"]
