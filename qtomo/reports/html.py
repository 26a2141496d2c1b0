"""``report.html``: the report as one self-contained page (styles and script inline, figures
embedded as PNG ``data:`` URIs).

:func:`render_html` puts the sections together in order, one function each: header (title,
dataset, notes), headline, the lab-scale protocol (:mod:`qtomo.reports.html_lab`), consistency
and bootstrap blocks (:mod:`qtomo.reports.html_checks`), goodness of fit and no signalling
(:mod:`qtomo.reports.html_device`),
fidelities and density matrices, figures, observables (scalars, agreement with exact values,
single-site expectations, <Z_0 Z_r>), Renyi-2 entropies, the reduced density matrix and the
provenance. Cells are formatted by :mod:`qtomo.reports.formatting`.
"""

from __future__ import annotations

import json
from typing import Any

from qtomo.reports.formatting import (
    ci,
    deviation,
    esc,
    figure,
    jsonable,
    num,
    pm,
    purity,
    reference_label,
    table,
)
from qtomo.reports.html_checks import (
    bootstrap_section,
    consistency_alarm,
    consistency_section,
    readout_section,
)
from qtomo.reports.html_device import device_alarm, device_section
from qtomo.reports.html_lab import lab_scale_section

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


def render_html(report: dict[str, Any], pngs: dict[str, bytes | None]) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    report : dict
        The reconstruction's report (``report.json``).
    pngs : dict name -> PNG bytes or None
        The figures (:func:`qtomo.reports.plots.make_figures`).

    Returns
    -------
    str
        The page.
    """
    r = jsonable(report)
    title = f"qtomo report: {(r.get('quantum') or {}).get('target', 'state')}"
    srcs = [s for s in ("model", "direct") if s in r["observables"]["n_samples"]]
    ref = reference_label(r)
    parts = [
        *_header(r, title),
        *_headline(r, ref),
        lab_scale_section(r),
        consistency_section(r),
        readout_section(r),
        bootstrap_section(r),
        device_section(r, pngs),
        *_fidelities(r, pngs),
        *_figures(pngs, ref),
        *_observables(r, srcs, ref),
        *_subsystems(r, srcs, ref),
        *_provenance(r),
    ]
    body = "\n".join(p for p in parts if p)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
        f"<title>{esc(title)}</title><style>{_CSS}</style>"
        f"<script>{_SCRIPT}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def _header(r: dict[str, Any], title: str) -> list[str]:
    """Title, the consistency warning, the dataset and model line, and the notes."""
    dsp = r["provenance"]["dataset"]
    model = r["provenance"].get("model")
    parts = [f"<h1>{esc(title)}</h1>", consistency_alarm(r), device_alarm(r)]
    parts.append(
        f'<p class="note">Dataset <code>{esc(dsp["path"])}</code> (hash {esc(dsp["hash"][:16])}'
        f"&hellip;): N = {dsp['n_qubits']} qubits, {dsp['shots']} shots, POVM "
        f"{esc(dsp['povm'])} (K = {dsp['K']}). Mode: <b>{esc(r['mode'])}</b>"
        + (f"; model <b>{esc(model['name'])}</b> from <code>{esc(model['run_dir'])}</code>"
           if model else "") + f". Created {esc(r['created'])}.</p>"
    )
    parts += [f'<p class="warn">{esc(note)}</p>' for note in r.get("notes") or []]
    return parts


def _headline(r: dict[str, Any], ref: str) -> list[str]:
    """The headline table: quantum fidelity, purity, energy, classical fidelity and KL."""
    h = r["headline"]
    qf = h["quantum_fidelity"]
    rows = []
    interval = qf.get("ci95")
    rows.append([
        "quantum fidelity", pm(qf),
        f"[{num(interval[0])}, {num(interval[1])}]" if interval else "&mdash;",
        esc(qf.get("source")), esc(qf.get("convention", "")),
    ])
    pu = h.get("purity")
    if pu:
        rows.append(["purity Tr&rho;&sup2;", pm(pu), ci(pu), esc(pu.get("source")), ""])
    en = h.get("energy")
    if en:
        ex = num(en.get("exact"))
        rows.append([
            "energy &lang;H&rang;", pm(en), f"{ci(en)} / {ex}" if en.get("error_bar") else ex,
            esc(en.get("source")), esc(en.get("convention", "")),
        ])
    for key, label in (("classical_fidelity", "classical fidelity F<sub>c</sub>"),
                       ("kl_divergence", "KL(P||Q) [nats]")):
        e = h.get(key)
        if e:
            rows.append([label, pm(e), ci(e) if e.get("error_bar") else "&mdash;",
                         esc(e.get("method")) + (f" ({esc(e['error_bar'])})"
                                                 if e.get("error_bar") else ""),
                         esc(e.get("convention"))])
    why = [f'<p class="note" id="headline-why">{esc(qf["why"])}</p>'] if qf.get("why") else []
    return ["<h2>Headline</h2>",
            table(["quantity", "value &plusmn; 1 s.e.", f"95% interval / {ref}", "source",
                   "convention"], rows, "headline"), *why]


def _fidelities(r: dict[str, Any], pngs: dict[str, bytes | None]) -> list[str]:
    """Every dense state's fidelity, purity, smallest eigenvalue and trace, and the cityscape."""
    q = r.get("quantum") or {}
    parts = ["<h2>Fidelities and density matrices</h2>",
             f'<p class="note">Target: {esc(q.get("target"))}. Quantum fidelity convention: '
             f"{esc(q.get('convention'))}.</p>"]
    frows = [_state_row(src, kind, q[src])
             for src in ("model", "data") if q.get(src)
             for kind in ("inversion", "projected", "mle", "mle_table_only")
             if q[src].get(kind)]
    de = q.get("direct_estimate")
    if de:
        frows.append(["direct estimate from shots (Tr[&sigma; &rho;<sub>lab</sub>])", pm(de),
                      "&mdash;", "&mdash;", "&mdash;", esc(de.get("convention"))])
    rng = q.get("data_range")
    if rng:
        frows.append([f"range the shots allow ({100 * rng['level']:g}%, all states)",
                      f"{rng['low']:.4f} &ndash; {rng['high']:.4f}", "&mdash;", "&mdash;",
                      "&mdash;", esc(rng.get("method"))])
    if frows:
        parts.append(table(["state", "fidelity (squared)", "purity Tr&rho;&sup2;",
                            "smallest eigenvalue", "trace", "from"], frows))
    elif q.get("dense"):
        parts.append(f'<p class="note">{esc(q["dense"])}</p>')
    if q.get("model_dense"):
        parts.append(f'<p class="note">{esc(q["model_dense"])}</p>')
    parts.append(figure(pngs.get("rho"), "density-matrix cityscape of the headline state"))
    return parts


def _state_row(src: str, kind: str, sec: dict[str, Any]) -> list[str]:
    e = sec[kind]
    rank = (sec.get("mle_fit") or {}).get("rank") if kind == "mle" else None
    fid = e.get("fidelity")
    if fid is None and e.get("overlap_tr_sigma_rho") is not None:
        fid_s = f"Tr[&sigma;&rho;] = {num(e['overlap_tr_sigma_rho'])}"
    elif fid is None and e.get("overlap_psi_rho") is not None:
        fid_s = f"&lang;&psi;|&rho;|&psi;&rang; = {num(e['overlap_psi_rho'])}"
    else:
        fid_s = num(fid)
    label = f"{src}: {kind}" + (f" (rank {rank})" if rank else "")
    blend = sec.get("blend") if kind == "mle" else None
    if blend and blend.get("weight"):
        label += f", weight {blend['weight']:g} on the shots' frequencies"
    if kind == "mle_table_only":
        label = f"{src}: mle of the model's table alone (weight 0)"
    return [
        label, fid_s,
        purity(e), num(e.get("min_eigenvalue")), num(e.get("trace")),
        esc((sec.get("table") or {}).get("source", "")),
    ]


def _figures(pngs: dict[str, bytes | None], ref: str) -> list[str]:
    """Training curves, <Z_0 Z_r>, <X_i> and the learning curve."""
    parts = ["<h2>Figures</h2>"]
    for key, alt in (("training", "training curves (metrics.csv)"),
                     ("zz", f"<Z_0 Z_r> against r: estimates +- 1 s.e. and {ref} values"),
                     ("x", f"per-site <X_i>: estimates +- 1 s.e. and {ref} values"),
                     ("learning_curve", "learning curve: headline fidelity +- 1 s.e. over "
                      "members against training shots, and the shots needed for --precision")):
        parts.append(figure(pngs.get(key), alt))
    return parts


def _observables(r: dict[str, Any], srcs: list[str], ref: str) -> list[str]:
    """Scalars beside their exact (lab data: target) values, agreement with them, one- and
    two-point tables."""
    obs = r["observables"]
    parts = ["<h2>Observables</h2>",
             f'<p class="note">{esc(obs["convention"])}. Strings: '
             + ", ".join(f"{s} {obs['n_samples'][s]}" for s in srcs) + ".</p>"]
    if obs.get("exact_note"):
        parts.append(f'<p class="note">{esc(obs["exact_note"])}.</p>')
    srows = []
    for name, e in obs["scalars"].items():
        row = [esc(name)]
        for s in srcs:
            row += [pm(e.get(s)), deviation(e.get(s), e.get("exact"))]
        row.append(num(e.get("exact")))
        srows.append(row)
    head = ["observable"]
    for s in srcs:
        head += [f"{s} &plusmn; s.e.", f"{s} &minus; {ref} [s.e.]"]
    head.append(ref)
    parts.append(table(head, srows))
    parts.append(_agreement(obs, srcs, ref))
    n = r["provenance"]["dataset"]["n_qubits"]
    parts.append(_single_site(obs, srcs, n, ref))
    if n > 1:
        parts.append(_zz(obs, srcs, n, ref))
    return parts


def _agreement(obs: dict[str, Any], srcs: list[str], ref: str) -> str:
    ag = obs.get("agreement_with_exact") or {}
    arows = []
    for s in srcs:
        a = ag.get(s) or {}
        if a:
            cnt = a.get("within_3se_count")
            arows.append([s, num(a.get("within_3se_fraction"), 4)
                          + (f" ({cnt[0]}/{cnt[1]})" if cnt else ""), num(a.get("zz0r_rmse"))])
    if not arows:
        return ""
    return table(["source", f"within 3 s.e. of {ref} (all &lang;Z<sub>i</sub>Z<sub>j"
                  "</sub>&rang;, &lang;X<sub>i</sub>&rang;)",
                  "RMSE of &lang;Z<sub>0</sub>Z<sub>r</sub>&rang;"], arows)


def _single_site(obs: dict[str, Any], srcs: list[str], n: int, ref: str) -> str:
    rows = []
    for i in range(n):
        row = [str(i)]
        for p in ("X", "Y", "Z"):
            ss = obs["single_site"][p]
            for s in srcs:
                row.append(pm({"value": ss[s]["value"][i], "stderr": ss[s]["stderr"][i]}, 4))
            row.append(num(ss["exact"][i], 4))
        rows.append(row)
    head = ["site"]
    for p in ("X", "Y", "Z"):
        head += [f"&lang;{p}&rang; {s}" for s in srcs] + [f"&lang;{p}&rang; {ref}"]
    return "<h3>Single-site expectations</h3>" + table(head, rows)


def _zz(obs: dict[str, Any], srcs: list[str], n: int, ref: str) -> str:
    rows = []
    zz = obs["two_point"]["ZZ"]
    for d in range(1, n):
        row = [str(d)]
        for s in srcs:
            row.append(pm({"value": zz[s]["value"][0][d], "stderr": zz[s]["stderr"][0][d]}, 4))
        row.append(num(zz["exact"][0][d], 4))
        rows.append(row)
    return ("<h3>&lang;Z<sub>0</sub> Z<sub>r</sub>&rang;</h3>"
            + table(["r"] + [f"{s} &plusmn; s.e." for s in srcs] + [ref], rows)
            + '<p class="note">All two-point functions &lang;P<sub>i</sub> P<sub>j'
            "</sub>&rang; (P = X, Y, Z) with standard errors are in report.json "
            "(observables.two_point).</p>")


def _subsystems(r: dict[str, Any], srcs: list[str], ref: str) -> list[str]:
    """Renyi-2 entropies of the subsystems and the reduced density matrix."""
    parts = []
    subs = r.get("subsystems") or []
    if subs:
        rows = []
        for e in subs:
            row = [esc(e["sites"])]
            for s in srcs:
                v = e.get(s)
                row.append(pm({"value": v["renyi2"], "stderr": v["renyi2_stderr"]}, 4)
                           if v else "&mdash;")
            row.append(num((e.get("model_mle") or {}).get("renyi2"), 4))
            row.append(num((e.get("exact") or {}).get("renyi2"), 4))
            rows.append(row)
        parts.append("<h2>Renyi-2 entropies of subsystems [bits]</h2>")
        parts.append(f'<p class="note">{esc(r["conventions"]["renyi2"])}</p>')
        parts.append(table(["qubits"] + [f"{s} &plusmn; s.e." for s in srcs]
                           + ["model MLE state", ref], rows))
    rdm = r.get("reduced_density_matrix") or {}
    if rdm:
        rows = []
        for s in srcs:
            e = rdm.get(s)
            if e:
                rows.append([s, purity(e), num(e.get("min_eigenvalue")),
                             num(e.get("fidelity_projected_to_exact"))])
        parts.append(f"<h3>Reduced density matrix of qubits {esc(rdm.get('sites'))}</h3>")
        parts.append(f'<p class="note">{esc(rdm.get("convention"))}</p>')
        parts.append(table(["source", "purity", "smallest eigenvalue",
                            f"fidelity (projected) to {ref}"], rows))
    return parts


def _provenance(r: dict[str, Any]) -> list[str]:
    """The provenance in short (the full one is in report.json)."""
    prov = r["provenance"]
    dsp = prov["dataset"]
    model = prov.get("model")
    prov_short = {
        "dataset": {k: dsp.get(k) for k in ("path", "hash", "n_qubits", "shots", "povm",
                                            "target", "created", "qtomo_version")},
        "model": {k: (model or {}).get(k) for k in ("run_dir", "name", "hparams", "checkpoint",
                                                    "epoch", "dataset_hash_matches")}
        if model else None,
        "reconstruct_config": prov.get("reconstruct_config"),
        "versions": prov.get("versions"),
    }
    return ["<h2>Provenance</h2>",
            f"<pre>{esc(json.dumps(prov_short, indent=2))}</pre>",
            '<p class="note">Every number above, with all two-point functions and the '
            "full provenance, is in report.json beside this page.</p>"]


__all__ = ["render_html"]
