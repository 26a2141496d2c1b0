"""The lab report: ``report.json`` (every number with its convention and provenance) and
``report.html`` (one self-contained page: figures embedded as PNG ``data:`` URIs, no external
resources), written into a report directory.

Files written by :func:`write_report`::

    report.json      the reconstruction's report dict (see qtomo.reconstruction.run)
    report.html      the same numbers as tables, with the figures
    rho_<name>.npy   with save_rho: every density matrix, complex128 (2^k, 2^k),
                     qubit 0 the leftmost factor (load with numpy.load)

The directory is filled from a temporary sibling and the files are moved in only when all of
them are written; an existing report is refused unless ``overwrite`` is given.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.errors import OutputExistsError
from qtomo.reports import figures as figs

REPORT_FILES = ("report.json", "report.html")


# --- JSON -----------------------------------------------------------------------------------------
def jsonable(o: Any) -> Any:
    """Plain JSON value: numpy scalars/arrays as numbers/lists, NaN and infinities as None."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return jsonable(o.item())
    if isinstance(o, Path):
        return str(o)
    return o


# --- formatting -----------------------------------------------------------------------------------
def _f(v: Any, digits: int = 5) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "&mdash;"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(v)
    x = float(v)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{max(digits - 2, 2)}e}"
    return f"{x:.{digits}f}"


def _pm(e: dict[str, Any] | None, digits: int = 5) -> str:
    if not e or e.get("value") is None:
        return "&mdash;"
    s = e.get("stderr")
    if s is None or (isinstance(s, float) and not math.isfinite(s)) or e.get("n", 1) == 0:
        return _f(e["value"], digits)
    return f"{_f(e['value'], digits)} &plusmn; {_f(s, 2 if s < 1e-3 else digits)}"


def _purity(e: dict[str, Any]) -> str:
    """Purity of a physical state; Tr rho^2 of an unphysical matrix, marked as such."""
    if e.get("purity") is not None:
        return _f(e["purity"])
    if e.get("tr_rho_squared") is not None:
        return f"({_f(e['tr_rho_squared'])}, unphysical)"
    return "&mdash;"


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _dev(e: dict[str, Any] | None, exact: Any) -> str:
    """Deviation from the exact value in standard errors."""
    if not e or exact is None or e.get("value") is None:
        return "&mdash;"
    s = e.get("stderr")
    if not s or not math.isfinite(s):
        return "&mdash;"
    return f"{(e['value'] - exact) / s:+.1f}"


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    b64 = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{_esc(alt)}" src="data:image/png;base64,{b64}"/>' \
           f"<figcaption>{_esc(alt)}</figcaption></figure>"


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


# --- figures --------------------------------------------------------------------------------------
def make_figures(rec: Any) -> dict[str, bytes | None]:
    """All report figures as PNG bytes (keys: training, zz, x, rho)."""
    fd = rec.figures
    out: dict[str, bytes | None] = {}
    out["training"] = figs.training_curves(fd.get("training_curves"))
    obs = fd.get("observables") or {}
    n = int(fd.get("n_qubits", 0))
    if n > 1 and obs:
        series: dict[str, Any] = {}
        for name in ("model", "direct"):
            s = obs.get(name)
            if s is not None:
                v, e = s.two_point["Z"]
                series[name] = (v[0, 1:], e[0, 1:])
        ex = obs.get("exact")
        if ex is not None:
            series["exact"] = ex.two_point["Z"][0][0, 1:]
        out["zz"] = figs.correlation_vs_distance(series, "Z")
    if obs:
        series = {}
        for name in ("model", "direct"):
            s = obs.get(name)
            if s is not None:
                series[name] = s.single["X"]
        ex = obs.get("exact")
        if ex is not None:
            series["exact"] = ex.single["X"][0]
        out["x"] = figs.site_expectations(series, "X")
    out["learning_curve"] = figs.learning_curve(fd.get("learning_curve"))
    name = fd.get("headline_rho")
    if name and name in rec.rhos:
        rho = rec.rhos[name]
        k = int(round(np.log2(rho.shape[0])))
        title = f"density matrix '{name}' ({k} qubits)"
        from qtomo.reconstruction.run import CITYSCAPE_MAX_QUBITS

        if k <= CITYSCAPE_MAX_QUBITS:
            out["rho"] = figs.cityscape(rho, title)
        elif k <= 8:
            out["rho"] = figs.matrix_heatmap(rho, title)
    return out


# --- HTML -----------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#1b1b1b;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:0.2em}h2{border-bottom:2px solid #ddd;padding-bottom:0.2em;
margin-top:1.6em}table{border-collapse:collapse;margin:0.6em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right;vertical-align:top}
th{background:#f2f4f7}td:first-child,th:first-child{text-align:left}
.headline td{font-size:1.05em}.note{color:#555;font-size:0.9em}
figure{display:inline-block;margin:0.5em 1em 0.5em 0}figure img{max-width:100%;
border:1px solid #eee}figcaption{font-size:0.85em;color:#555}
pre{background:#f7f7f7;padding:0.6em;overflow-x:auto;font-size:0.8em;max-height:30em}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:0.4em 0.8em}
.alarm{background:#fdecea;border:2px solid #c62828;border-left-width:8px;padding:0.5em 1em;
margin:0.8em 0}.alarm h2{border:none;color:#b71c1c;margin:0.2em 0;font-size:1.25em}
.ok{color:#1b5e20}.bad{color:#b71c1c;font-weight:bold}
"""

_SCRIPT = """
window.addEventListener('load', function () {
  var im = Array.prototype.slice.call(document.images);
  var ok = im.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + im.length);
});
"""


def _z(v: Any) -> str:
    return "&mdash;" if v is None else f"{float(v):+.1f}"


def _p_str(v: Any) -> str:
    return "&mdash;" if v is None else f"{float(v):.2g}"


def _consistency_alarm(r: dict[str, Any]) -> str:
    """The warning at the very top of a report whose model its data contradict."""
    c = r.get("consistency") or {}
    if c.get("consistent") is not False:
        return ""
    items = []
    for sc in c.get("scalars") or []:
        if sc.get("flagged"):
            items.append(f"<li>{_esc(sc['name'].replace('_', ' '))} ({_esc(sc.get('quantity'))}"
                         f"): model {_f(sc.get('model'))} vs direct estimate from the shots "
                         f"{_pm({'value': sc.get('direct'), 'stderr': sc.get('direct_stderr')})}"
                         f": <b>{_z(sc.get('z'))} standard errors</b></li>")
    failed = c.get("failed") or []
    if "chi2" in failed or "max_abs_z" in failed:
        worst = ", ".join(
            f"&lang;{_esc(w['name'])}&rang; {_f(w['model'], 4)} vs {_f(w['direct'], 4)} "
            f"({_z(w['z'])} s.e.)" for w in (c.get("worst") or [])[:3])
        items.append(f"<li>one- and two-point observables: &chi;&sup2; = "
                     f"{_f(c.get('statistic'), 1)} over {c.get('dof')} degrees of freedom, "
                     f"p = {_p_str(c.get('p_value'))}; worst: {worst}</li>")
    shown = []
    for key, label in (("quantum_fidelity", "quantum fidelity"), ("energy", "energy")):
        e = (r.get("headline") or {}).get(key) or {}
        if "model_value" in e:
            shown.append(f"<li>{label}: <b>{_pm(e)}</b> ({_esc(e.get('source'))}); the model "
                         f"gave {_f(e.get('model_value'))}</li>")
    return ('<div class="alarm" id="consistency-warning"><h2>Warning: the model is inconsistent '
            "with its data</h2><p>Figures of the model disagree with their direct estimates "
            "from the measured shots beyond their joint statistical error:</p><ul>"
            + "".join(items) + "</ul>"
            + ("<p>The headline therefore shows the best-supported estimate from the shots:</p>"
               "<ul>" + "".join(shown) + "</ul>" if shown else "")
            + "<p>Retrain the model (more epochs, a larger model) or rely on the direct "
            "estimates; the tests are in the section Model-vs-data consistency below.</p></div>")


def _consistency_section(r: dict[str, Any]) -> str:
    """A short section with the consistency tests, whatever their outcome."""
    c = r.get("consistency")
    if not c:
        return ""
    head = '<h2 id="consistency">Model-vs-data consistency</h2>'
    if c.get("consistent") is None:
        return head + f'<p class="note">{_esc(c.get("reason"))}</p>'
    verdict = ('<p class="ok"><b>Consistent</b>: the model agrees with the direct estimates '
               "from the shots within their errors.</p>" if c["consistent"] else
               '<p class="bad">Inconsistent: see the warning at the top; the headline shows '
               "estimates from the shots.</p>")
    th = c.get("thresholds") or {}

    def v(ok: bool) -> str:
        return '<span class="ok">pass</span>' if ok else '<span class="bad">fail</span>'

    failed = c.get("failed") or []
    rows = []
    if c.get("statistic") is not None:
        rows.append([f"&chi;&sup2; of {c.get('n_observables')} one- and two-point observables "
                     f"(dof {c.get('dof')}, {c.get('dropped_directions', 0)} dropped)",
                     _f(c.get("statistic"), 2), f"p = {_p_str(c.get('p_value'))} "
                     f"(&chi;&sup2; p = {_p_str(c.get('p_value_chi2'))})",
                     f"p &lt; {_p_str(th.get('chi2_p'))}", v("chi2" not in failed)])
        rows.append(["largest |z| over the observables", _f(c.get("max_abs_z"), 2),
                     f"Bonferroni p = {_p_str(c.get('max_abs_z_p_value'))}",
                     f"p &lt; {_p_str(th.get('max_abs_z_bonferroni_p'))}",
                     v("max_abs_z" not in failed)])
    for sc in c.get("scalars") or []:
        direct = _pm({"value": sc.get("direct"), "stderr": sc.get("direct_stderr")})
        rows.append([f"{_esc(sc['name'].replace('_', ' '))}: model {_f(sc.get('model'))} vs "
                     f"direct {direct}",
                     f"z = {_z(sc.get('z'))}", _esc(sc.get("note", "")),
                     f"|z| &gt; {_f(th.get('scalar_abs_z'), 1)}", v(not sc.get("flagged"))])
    out = head + verdict + _table(["test", "statistic", "p-value / note", "rejects when",
                                   "result"], rows)
    worst = c.get("worst") or []
    if worst:
        out += "<h3>Largest deviations, model &minus; direct</h3>" + _table(
            ["observable", "model &plusmn; s.e.", "direct &plusmn; s.e.", "z"],
            [[f"&lang;{_esc(w['name'])}&rang;",
              _pm({"value": w["model"], "stderr": w["model_stderr"]}, 4),
              _pm({"value": w["direct"], "stderr": w["direct_stderr"]}, 4), _z(w["z"])]
             for w in worst])
    out += (f'<p class="note">Observables: {_esc(c.get("observables"))}. {_esc(c.get("method"))}'
            f". False-alarm rate of a correct model at most {_p_str(c.get('false_alarm_bound'))}."
            "</p>")
    return out


def render_html(report: dict[str, Any], pngs: dict[str, bytes | None]) -> str:
    """The report as one self-contained HTML page."""
    r = jsonable(report)
    prov = r["provenance"]
    dsp = prov["dataset"]
    q = r.get("quantum") or {}
    parts: list[str] = []
    title = f"qtomo report: {q.get('target', 'state')}"
    parts.append(f"<h1>{_esc(title)}</h1>")
    parts.append(_consistency_alarm(r))
    model = prov.get("model")
    parts.append(
        f'<p class="note">Dataset <code>{_esc(dsp["path"])}</code> (hash {_esc(dsp["hash"][:16])}'
        f"&hellip;): N = {dsp['n_qubits']} qubits, {dsp['shots']} shots, POVM "
        f"{_esc(dsp['povm'])} (K = {dsp['K']}). Mode: <b>{_esc(r['mode'])}</b>"
        + (f"; model <b>{_esc(model['name'])}</b> from <code>{_esc(model['run_dir'])}</code>"
           if model else "") + f". Created {_esc(r['created'])}.</p>"
    )
    for note in r.get("notes") or []:
        parts.append(f'<p class="warn">{_esc(note)}</p>')

    # headline
    h = r["headline"]
    qf = h["quantum_fidelity"]
    rows = []
    ci = qf.get("ci95")
    rows.append([
        "quantum fidelity", _pm(qf), f"[{_f(ci[0])}, {_f(ci[1])}]" if ci else "&mdash;",
        _esc(qf.get("source")), _esc(qf.get("convention", "")),
    ])
    pu = h.get("purity")
    if pu:
        rows.append(["purity Tr&rho;&sup2;", _pm(pu), _ci(pu), _esc(pu.get("source")), ""])
    en = h.get("energy")
    if en:
        ex = _f(en.get("exact"))
        rows.append([
            "energy &lang;H&rang;", _pm(en), f"{_ci(en)} / {ex}" if en.get("error_bar") else ex,
            _esc(en.get("source")), _esc(en.get("convention", "")),
        ])
    for key, label in (("classical_fidelity", "classical fidelity F<sub>c</sub>"),
                       ("kl_divergence", "KL(P||Q) [nats]")):
        e = h.get(key)
        if e:
            rows.append([label, _pm(e), _ci(e) if e.get("error_bar") else "&mdash;",
                         _esc(e.get("method")) + (f" ({_esc(e['error_bar'])})"
                                                  if e.get("error_bar") else ""),
                         _esc(e.get("convention"))])
    parts.append("<h2>Headline</h2>")
    parts.append(_table(["quantity", "value &plusmn; 1 s.e.", "95% interval / exact", "source",
                         "convention"], rows, "headline"))
    parts.append(_consistency_section(r))
    parts.append(_bootstrap_section(r))

    # fidelity table
    parts.append("<h2>Fidelities and density matrices</h2>")
    parts.append(f'<p class="note">Target: {_esc(q.get("target"))}. Quantum fidelity convention: '
                 f"{_esc(q.get('convention'))}.</p>")
    frows = []
    for src in ("model", "data"):
        sec = q.get(src)
        if not sec:
            continue
        for kind in ("inversion", "projected", "mle"):
            e = sec.get(kind)
            if not e:
                continue
            rank = (sec.get("mle_fit") or {}).get("rank") if kind == "mle" else None
            fid = e.get("fidelity")
            if fid is None and e.get("overlap_tr_sigma_rho") is not None:
                fid_s = f"Tr[&sigma;&rho;] = {_f(e['overlap_tr_sigma_rho'])}"
            elif fid is None and e.get("overlap_psi_rho") is not None:
                fid_s = f"&lang;&psi;|&rho;|&psi;&rang; = {_f(e['overlap_psi_rho'])}"
            else:
                fid_s = _f(fid)
            frows.append([
                f"{src}: {kind}" + (f" (rank {rank})" if rank else ""), fid_s,
                _purity(e), _f(e.get("min_eigenvalue")), _f(e.get("trace")),
                _esc((sec.get("table") or {}).get("source", "")),
            ])
    de = q.get("direct_estimate")
    if de:
        frows.append(["direct estimate from shots (Tr[&sigma; &rho;<sub>lab</sub>])", _pm(de),
                      "&mdash;", "&mdash;", "&mdash;", _esc(de.get("convention"))])
    if frows:
        parts.append(_table(["state", "fidelity (squared)", "purity Tr&rho;&sup2;",
                             "smallest eigenvalue", "trace", "from"], frows))
    elif q.get("dense"):
        parts.append(f'<p class="note">{_esc(q["dense"])}</p>')
    parts.append(_img(pngs.get("rho"), "density-matrix cityscape of the headline state"))

    # figures
    parts.append("<h2>Figures</h2>")
    for key, alt in (("training", "training curves (metrics.csv)"),
                     ("zz", "<Z_0 Z_r> against r: estimates +- 1 s.e. and exact values"),
                     ("x", "per-site <X_i>: estimates +- 1 s.e. and exact values"),
                     ("learning_curve", "learning curve: headline fidelity +- 1 s.e. over "
                      "members against training shots, and the shots needed for --precision")):
        parts.append(_img(pngs.get(key), alt))

    # observables
    obs = r["observables"]
    srcs = [s for s in ("model", "direct") if s in obs["n_samples"]]
    parts.append("<h2>Observables</h2>")
    parts.append(f'<p class="note">{_esc(obs["convention"])}. Strings: '
                 + ", ".join(f"{s} {obs['n_samples'][s]}" for s in srcs) + ".</p>")
    srows = []
    for name, e in obs["scalars"].items():
        row = [_esc(name)]
        for s in srcs:
            row += [_pm(e.get(s)), _dev(e.get(s), e.get("exact"))]
        row.append(_f(e.get("exact")))
        srows.append(row)
    head = ["observable"]
    for s in srcs:
        head += [f"{s} &plusmn; s.e.", f"{s} &minus; exact [s.e.]"]
    head.append("exact")
    parts.append(_table(head, srows))
    ag = obs.get("agreement_with_exact") or {}
    arows = []
    for s in srcs:
        a = ag.get(s) or {}
        if a:
            cnt = a.get("within_3se_count")
            arows.append([s, _f(a.get("within_3se_fraction"), 4)
                          + (f" ({cnt[0]}/{cnt[1]})" if cnt else ""), _f(a.get("zz0r_rmse"))])
    if arows:
        parts.append(_table(["source", "within 3 s.e. of exact (all &lang;Z<sub>i</sub>Z<sub>j"
                             "</sub>&rang;, &lang;X<sub>i</sub>&rang;)",
                             "RMSE of &lang;Z<sub>0</sub>Z<sub>r</sub>&rang;"], arows))
    n = dsp["n_qubits"]
    rows = []
    for i in range(n):
        row = [str(i)]
        for p in ("X", "Y", "Z"):
            ss = obs["single_site"][p]
            for s in srcs:
                row.append(_pm({"value": ss[s]["value"][i], "stderr": ss[s]["stderr"][i]}, 4))
            row.append(_f(ss["exact"][i], 4))
        rows.append(row)
    head = ["site"]
    for p in ("X", "Y", "Z"):
        head += [f"&lang;{p}&rang; {s}" for s in srcs] + [f"&lang;{p}&rang; exact"]
    parts.append("<h3>Single-site expectations</h3>" + _table(head, rows))
    if n > 1:
        rows = []
        zz = obs["two_point"]["ZZ"]
        for d in range(1, n):
            row = [str(d)]
            for s in srcs:
                row.append(_pm({"value": zz[s]["value"][0][d], "stderr": zz[s]["stderr"][0][d]}, 4))
            row.append(_f(zz["exact"][0][d], 4))
            rows.append(row)
        parts.append("<h3>&lang;Z<sub>0</sub> Z<sub>r</sub>&rang;</h3>"
                     + _table(["r"] + [f"{s} &plusmn; s.e." for s in srcs] + ["exact"], rows)
                     + '<p class="note">All two-point functions &lang;P<sub>i</sub> P<sub>j'
                     "</sub>&rang; (P = X, Y, Z) with standard errors are in report.json "
                     "(observables.two_point).</p>")

    # subsystems
    subs = r.get("subsystems") or []
    if subs:
        rows = []
        for e in subs:
            row = [_esc(e["sites"])]
            for s in srcs:
                v = e.get(s)
                row.append(_pm({"value": v["renyi2"], "stderr": v["renyi2_stderr"]}, 4)
                           if v else "&mdash;")
            row.append(_f((e.get("model_mle") or {}).get("renyi2"), 4))
            row.append(_f((e.get("exact") or {}).get("renyi2"), 4))
            rows.append(row)
        parts.append("<h2>Renyi-2 entropies of subsystems [bits]</h2>")
        parts.append(f'<p class="note">{_esc(r["conventions"]["renyi2"])}</p>')
        parts.append(_table(["qubits"] + [f"{s} &plusmn; s.e." for s in srcs]
                            + ["model MLE state", "exact"], rows))
    rdm = r.get("reduced_density_matrix") or {}
    if rdm:
        rows = []
        for s in srcs:
            e = rdm.get(s)
            if e:
                rows.append([s, _purity(e), _f(e.get("min_eigenvalue")),
                             _f(e.get("fidelity_projected_to_exact"))])
        parts.append(f"<h3>Reduced density matrix of qubits {_esc(rdm.get('sites'))}</h3>")
        parts.append(f'<p class="note">{_esc(rdm.get("convention"))}</p>')
        parts.append(_table(["source", "purity", "smallest eigenvalue",
                             "fidelity (projected) to exact"], rows))

    # provenance
    parts.append("<h2>Provenance</h2>")
    prov_short = {
        "dataset": {k: dsp.get(k) for k in ("path", "hash", "n_qubits", "shots", "povm",
                                            "target", "created", "qtomo_version")},
        "model": {k: (model or {}).get(k) for k in ("run_dir", "name", "hparams", "checkpoint",
                                                    "epoch", "dataset_hash_matches")}
        if model else None,
        "reconstruct_config": prov.get("reconstruct_config"),
        "versions": prov.get("versions"),
    }
    parts.append(f"<pre>{_esc(json.dumps(prov_short, indent=2))}</pre>")
    parts.append('<p class="note">Every number above, with all two-point functions and the '
                 "full provenance, is in report.json beside this page.</p>")
    body = "\n".join(p for p in parts if p)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style>"
        f"<script>{_SCRIPT}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def _ci(e: dict[str, Any] | None) -> str:
    ci = (e or {}).get("ci95")
    return f"[{_f(ci[0])}, {_f(ci[1])}]" if ci and None not in ci else "&mdash;"


def _bootstrap_section(r: dict[str, Any]) -> str:
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
                   f"{_esc(b.get('method', ''))}</p>")
    lc = b.get("learning_curve")
    if lc and lc.get("points"):
        rows = [[_f(p["fraction"], 3), str(p["shots"]), str(p["members"]),
                 _pm({"value": p["value"], "stderr": p["stderr"]})] for p in lc["points"]]
        out.append("<h3>Shots planning (learning curve)</h3>")
        out.append(_table(["fraction", "training shots", "members",
                           f"{_esc(lc.get('quantity'))} &plusmn; s.e."], rows))
        if lc.get("shots_needed"):
            out.append(f"<p>For an error bar of &plusmn;{_f(lc['precision'])}: about "
                       f"<b>{lc['shots_needed']:,}</b> shots ({lc['train_shots_needed']:,} "
                       f"training shots).</p>")
        out.append(f'<p class="note">{_esc(lc.get("fit"))}</p>')
    return "".join(out)


# --- writing --------------------------------------------------------------------------------------
def check_report_dir(out: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse an existing non-empty report directory unless ``overwrite``."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise OutputExistsError(f"{p} exists and is not a directory; choose another --out")
    if p.is_dir() and any(p.iterdir()) and not overwrite:
        raise OutputExistsError(f"{p} already exists and is not empty; pass --overwrite to "
                                "replace the report")
    return p


def write_report(out: str | os.PathLike[str], rec: Any, *, save_rho: bool = False,
                 overwrite: bool = False) -> dict[str, str]:
    """Write report.json, report.html (and rho_*.npy) into ``out``; returns their paths."""
    target = check_report_dir(out, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    files: dict[str, str] = {}
    try:
        pngs = make_figures(rec)
        report = dict(rec.report)
        if save_rho:
            saved = {}
            for name, rho in rec.rhos.items():
                fn = f"rho_{name}.npy"
                np.save(tmp / fn, np.asarray(rho, dtype=np.complex128))
                saved[name] = fn
            report["saved_density_matrices"] = {
                "files": saved, "format": "numpy .npy, complex128 (2^k, 2^k), qubit 0 the "
                "leftmost tensor factor (most significant bit)",
            }
        (tmp / "report.json").write_text(json.dumps(jsonable(report), indent=1) + "\n")
        (tmp / "report.html").write_text(render_html(report, pngs), encoding="utf-8")
        target.mkdir(parents=True, exist_ok=True)
        for old in list(target.glob("rho_*.npy")) + [target / f for f in REPORT_FILES]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        for f in sorted(tmp.iterdir()):
            os.replace(f, target / f.name)
            files[f.name] = str(target / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rec.report = report
    return files


__all__ = ["REPORT_FILES", "check_report_dir", "jsonable", "make_figures", "render_html",
           "write_report"]
