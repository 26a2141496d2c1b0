"""The blocks of ``report.html`` that judge the model: the warning at the top of a report whose
model its data contradict, the model-vs-data consistency section, and the bootstrap error bars
with the shots planning (learning curve).
"""

from __future__ import annotations

from typing import Any

from qtomo.reports.formatting import esc, num, p_value, pm, table, z_score


def consistency_alarm(r: dict[str, Any]) -> str:
    """The warning at the very top of a report whose model its data contradict."""
    c = r.get("consistency") or {}
    if c.get("consistent") is not False:
        return ""
    items = []
    for sc in c.get("scalars") or []:
        if sc.get("flagged"):
            items.append(f"<li>{esc(sc['name'].replace('_', ' '))} ({esc(sc.get('quantity'))}"
                         f"): model {num(sc.get('model'))} vs direct estimate from the shots "
                         f"{pm({'value': sc.get('direct'), 'stderr': sc.get('direct_stderr')})}"
                         f": <b>{z_score(sc.get('z'))} standard errors</b></li>")
    failed = c.get("failed") or []
    if "chi2" in failed or "max_abs_z" in failed:
        worst = ", ".join(
            f"&lang;{esc(w['name'])}&rang; {num(w['model'], 4)} vs {num(w['direct'], 4)} "
            f"({z_score(w['z'])} s.e.)" for w in (c.get("worst") or [])[:3])
        items.append(f"<li>one- and two-point observables: &chi;&sup2; = "
                     f"{num(c.get('statistic'), 1)} over {c.get('dof')} degrees of freedom, "
                     f"p = {p_value(c.get('p_value'))}; worst: {worst}</li>")
    shown = []
    for key, label in (("quantum_fidelity", "quantum fidelity"), ("energy", "energy")):
        e = (r.get("headline") or {}).get(key) or {}
        if "model_value" in e:
            shown.append(f"<li>{label}: <b>{pm(e)}</b> ({esc(e.get('source'))}); the model "
                         f"gave {num(e.get('model_value'))}</li>")
    return ('<div class="alarm" id="consistency-warning"><h2>Warning: the model is inconsistent '
            "with its data</h2><p>Figures of the model disagree with their direct estimates "
            "from the measured shots beyond their joint statistical error:</p><ul>"
            + "".join(items) + "</ul>"
            + ("<p>The headline therefore shows the best-supported estimate from the shots:</p>"
               "<ul>" + "".join(shown) + "</ul>" if shown else "")
            + "<p>Retrain the model (more epochs, a larger model) or rely on the direct "
            "estimates; the tests are in the section Model-vs-data consistency below.</p></div>")


def consistency_section(r: dict[str, Any]) -> str:
    """A short section with the consistency tests, whatever their outcome."""
    c = r.get("consistency")
    if not c:
        return ""
    head = '<h2 id="consistency">Model-vs-data consistency</h2>'
    if c.get("consistent") is None:
        return head + f'<p class="note">{esc(c.get("reason"))}</p>'
    verdict = ('<p class="ok"><b>Consistent</b>: the model agrees with the direct estimates '
               "from the shots within their errors.</p>" if c["consistent"] else
               '<p class="bad">Inconsistent: see the warning at the top; the headline shows '
               "estimates from the shots.</p>")
    out = head + verdict + table(["test", "statistic", "p-value / note", "rejects when",
                                  "result"], _test_rows(c))
    worst = c.get("worst") or []
    if worst:
        out += "<h3>Largest deviations, model &minus; direct</h3>" + table(
            ["observable", "model &plusmn; s.e.", "direct &plusmn; s.e.", "z"],
            [[f"&lang;{esc(w['name'])}&rang;",
              pm({"value": w["model"], "stderr": w["model_stderr"]}, 4),
              pm({"value": w["direct"], "stderr": w["direct_stderr"]}, 4), z_score(w["z"])]
             for w in worst])
    out += (f'<p class="note">Observables: {esc(c.get("observables"))}. {esc(c.get("method"))}'
            f". False-alarm rate of a correct model at most {p_value(c.get('false_alarm_bound'))}."
            "</p>")
    return out


def _test_rows(c: dict[str, Any]) -> list[list[str]]:
    """One row per test of the consistency block: statistic, p-value, threshold, verdict."""
    th = c.get("thresholds") or {}

    def v(ok: bool) -> str:
        return '<span class="ok">pass</span>' if ok else '<span class="bad">fail</span>'

    failed = c.get("failed") or []
    rows = []
    if c.get("statistic") is not None:
        rows.append([f"&chi;&sup2; of {c.get('n_observables')} one- and two-point observables "
                     f"(dof {c.get('dof')}, {c.get('dropped_directions', 0)} dropped)",
                     num(c.get("statistic"), 2), f"p = {p_value(c.get('p_value'))} "
                     f"(&chi;&sup2; p = {p_value(c.get('p_value_chi2'))})",
                     f"p &lt; {p_value(th.get('chi2_p'))}", v("chi2" not in failed)])
        rows.append(["largest |z| over the observables", num(c.get("max_abs_z"), 2),
                     f"Bonferroni p = {p_value(c.get('max_abs_z_p_value'))}",
                     f"p &lt; {p_value(th.get('max_abs_z_bonferroni_p'))}",
                     v("max_abs_z" not in failed)])
    for sc in c.get("scalars") or []:
        direct = pm({"value": sc.get("direct"), "stderr": sc.get("direct_stderr")})
        rows.append([f"{esc(sc['name'].replace('_', ' '))}: model {num(sc.get('model'))} vs "
                     f"direct {direct}",
                     f"z = {z_score(sc.get('z'))}", esc(sc.get("note", "")),
                     f"|z| &gt; {num(th.get('scalar_abs_z'), 1)}", v(not sc.get("flagged"))])
    return rows


def bootstrap_section(r: dict[str, Any]) -> str:
    """Error bars from bootstrap members and shots planning (qtomo.reconstruction.bootstrap)."""
    b = r.get("bootstrap")
    if not b:
        if r.get("mode") == "direct (no model)":
            return ""
        return ('<p class="note">The model figures are point estimates with no error bar: '
                "train with <code>qtomo train --bootstrap 10</code> for standard errors and "
                "95% intervals.</p>")
    out = []
    if b.get("bootstrap_members"):
        out.append(f'<p class="note">Error bars of the model figures: {b["bootstrap_members"]} '
                   f"bootstrap members ({b.get('member_samples')} samples each). "
                   f"{esc(b.get('method', ''))}</p>")
    lc = b.get("learning_curve")
    if lc and lc.get("points"):
        rows = [[num(p["fraction"], 3), str(p["shots"]), str(p["members"]),
                 pm({"value": p["value"], "stderr": p["stderr"]})] for p in lc["points"]]
        out.append("<h3>Shots planning (learning curve)</h3>")
        out.append(table(["fraction", "training shots", "members",
                          f"{esc(lc.get('quantity'))} &plusmn; s.e."], rows))
        if lc.get("shots_needed"):
            out.append(f"<p>For an error bar of &plusmn;{num(lc['precision'])}: about "
                       f"<b>{lc['shots_needed']:,}</b> shots ({lc['train_shots_needed']:,} "
                       f"training shots).</p>")
        out.append(f'<p class="note">{esc(lc.get("fit"))}</p>')
    return "".join(out)


__all__ = ["bootstrap_section", "consistency_alarm", "consistency_section"]


def readout_section(r: dict[str, Any]) -> str:
    """Whether readout errors were corrected, from which calibration, and the figures on the
    other side of the correction ("" when the dataset has no readout calibration)."""
    ro = r.get("readout")
    if not ro:
        return ""
    applied = bool(ro.get("applied"))
    side = "uncorrected" if applied else "corrected"
    src = {"calibration": "estimated from calibration counts",
           "simulate": "exact (simulated readout error)"}.get(ro.get("source"), "given matrices")
    flips = ro.get("flip_probabilities") or []
    rows = [[str(q), num(f[0]), num(f[1])] for q, f in enumerate(flips)]
    other = [("headline quantum fidelity", ro.get(f"quantum_fidelity_{side}"),
              ro.get(f"quantum_fidelity_{side}_source")),
             ("direct fidelity estimate", ro.get(f"quantum_fidelity_{side}_direct"),
              f"s.e. {num(ro.get(f'quantum_fidelity_{side}_direct_stderr'))}")]
    lines = "".join(f"<li>{label} {side}: {num(v)} ({esc(str(w))})</li>"
                    for label, v, w in other if v is not None)
    cal = ro.get("calibration_stderr") or 0.0
    return (
        "<h2>Readout errors</h2>"
        f'<p class="note">Readout correction <b>{"applied" if applied else "not applied"}'
        f"</b>: confusion matrices {esc(src)} ({esc(ro.get('source_file') or '')}). "
        f"{esc(ro.get('method', ''))}. Calibration error of the corrected fidelity: "
        f"{num(cal)}{' (in the headline error bar)' if applied and cal > 0 else ''}.</p>"
        f"<ul>{lines}</ul>"
        + table(["qubit", "P(read 1 | 0)", "P(read 0 | 1)"], rows, "readout")
    )
