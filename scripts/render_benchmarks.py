"""Render ``docs/benchmarks.md`` and the README's headline figures from the benchmark records.

Reads every ``benchmarks/results/*.jsonl`` (written by ``scripts/benchlib.py``; schema in
``docs/benchmarks-howto.md``), keeps the latest record of each (benchmark, case, metric), and
writes:

* ``docs/benchmarks.md``: one section per benchmark script, one table per machine (the machine
  stated once above its table), rows case / metric / value +- stderr / unit / date / commit,
  and the commands that measured them;
* the block of ``README.md`` between ``<!-- figures:start -->`` and ``<!-- figures:end -->``:
  the records of the :data:`HEADLINE` keys (a key without a record is left out and named in
  a comment).

The output depends only on the records and the scripts present (everything sorted), so
``tests/test_docs.py`` can check that the committed files are what this script renders.

    python scripts/render_benchmarks.py            # rewrite both files
    python scripts/render_benchmarks.py --check    # exit 1 if either file is out of date
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"

#: The README's headline figures: (benchmark, case, metric, what it is, in words).
HEADLINE: list[tuple[str, str, str, str]] = [
    ("dmrg", "TFIM N=100", "rel_energy_error",
     "DMRG, critical TFIM N=100: relative energy error"),
    ("families", "tfim10-h1-100k", "classical_fidelity",
     "`qtomo train` defaults, TFIM N=10, 100,000 shots: classical fidelity"),
    ("families", "tfim50-J1-20k", "classical_fidelity",
     "`qtomo train` defaults, TFIM N=50, 20,000 shots: classical fidelity"),
    ("families", "tfim50-J1-100k", "classical_fidelity",
     "`qtomo train` defaults, TFIM N=50, 100,000 shots: classical fidelity"),
    ("families", "tfim50-J1-100k", "train_seconds", "the same run: training time"),
    ("families", "ghz40-tetra-2k", "classical_fidelity",
     "GHZ N=40, 2,000 tetrahedral shots: classical fidelity"),
    ("reconstruct", "tfim10", "model_mle_fidelity",
     "TFIM N=10: quantum fidelity of the model's MLE state"),
    ("coverage", "ghz4 seeds 1-20", "coverage",
     "bootstrap 95% interval, noisy GHZ-4: coverage over 20 datasets"),
    ("readout", "ghz4", "headline_fidelity",
     "`data/ghz4_counts.json` with readout correction: headline fidelity"),
    ("devices", "ghz4-drift", "covered",
     "drifting device, noisy GHZ-4, 81 settings x 8,000 shots: 95% interval covers (of 20)"),
    ("devices", "haar4-drift", "covered",
     "the same, a Haar-random 4-qubit state: 95% interval covers (of 20)"),
    ("lab_scale", "ghz-parity N=50", "max_abs_error",
     "`qtomo plan --protocol parity`, noisy GHZ-50: largest error of the fidelity"),
    ("lab_scale", "ghz-parity N=50", "coverage",
     "the same: 95% interval covers the exact fidelity (fraction of datasets)"),
    ("lab_scale", "cluster-stabilizer N=50", "settings",
     "`qtomo plan --protocol stabilizer`, cluster-50, s.e. 0.01: settings"),
    ("devices", "ghz4-no-drift", "fit_flagged",
     "the same device without drift: datasets whose fit is flagged (of 20)"),
]


# --- reading ---------------------------------------------------------------------------------
def load_records(folder: Path = RESULTS) -> list[dict[str, Any]]:
    """Every record of every ``*.jsonl`` in ``folder``, in file order (files sorted)."""
    out: list[dict[str, Any]] = []
    for f in sorted(folder.glob("*.jsonl")):
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                for key in ("benchmark", "case", "metric", "value", "date"):
                    rec[key]  # noqa: B018 (a missing key is a bad record)
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"{f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}: "
                                 f"line {i} is not a benchmark record ({e})") from None
            out.append(rec)
    return out


def latest(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The latest record (by date; the later line on a tie) of each (benchmark, case, metric)."""
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rec in records:
        key = (rec["benchmark"], rec["case"], rec["metric"])
        if key not in best or rec["date"] >= best[key]["date"]:
            best[key] = rec
    return best


def scripts() -> dict[str, str]:
    """benchmark name -> script path, for every ``scripts/bench_*.py``."""
    return {f.stem.removeprefix("bench_"): f"scripts/{f.name}"
            for f in sorted((ROOT / "scripts").glob("bench_*.py"))}


#: A figure "moved" when its latest value differs from the one before it (an older commit) by
#: more than twice their combined standard error, or, without standard errors, by this much.
MOVED_ABS = 0.002
#: Units whose figures are timings or rates: they vary with the machine's load, not listed.
TIMING_UNITS = frozenset({"s", "shots/s", "ms"})


def moved(records: Iterable[dict[str, Any]], benchmark: str) -> list[tuple[dict, dict]]:
    """``(before, now)`` record pairs of ``benchmark`` whose figure moved: ``now`` the latest
    record of a (case, metric), ``before`` the latest one from another commit, earlier."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        if r["benchmark"] == benchmark and (r.get("unit") or "") not in TIMING_UNITS:
            by_key.setdefault((r["case"], r["metric"]), []).append(r)
    out = []
    for key in sorted(by_key):
        recs = sorted(by_key[key], key=lambda r: r["date"])
        now = recs[-1]
        older = [r for r in recs[:-1] if r.get("git_commit") != now.get("git_commit")]
        if not older:
            continue
        before = older[-1]
        ses = [r.get("stderr") for r in (before, now)]
        gate = (2 * math.hypot(*ses) if all(x is not None for x in ses) else MOVED_ABS)
        if abs(now["value"] - before["value"]) > gate:
            out.append((before, now))
    return out


def moved_lines(pairs: list[tuple[dict, dict]]) -> list[str]:
    """The "what moved" table of one benchmark (empty without moved figures)."""
    if not pairs:
        return []
    lines = ["**What moved** (the latest figure against the one before it, from an older "
             "commit; timings left out; why: the changelog and the design notes):", "",
             "| case | metric | before | commit | now | commit |", "|---|---|---|---|---|---|"]
    for b, n in pairs:
        lines.append(f"| {_cell(n['case'])} | {_cell(n['metric'])} | {value_text(b)} "
                     f"| {_cell(b.get('git_commit') or 'n/a')} | {value_text(n)} "
                     f"| {_cell(n.get('git_commit') or 'n/a')} |")
    return [*lines, ""]


# --- formatting ------------------------------------------------------------------------------
def _num(v: Any, spec: str = ".6g") -> str:
    return str(v) if isinstance(v, int) else format(float(v), spec)


def value_text(rec: dict[str, Any]) -> str:
    """``value +- stderr`` (``value`` alone without a standard error)."""
    se = rec.get("stderr")
    return _num(rec["value"]) + ("" if se is None else f" ± {_num(se, '.2g')}")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def machine_text(m: dict[str, Any]) -> str:
    threads = m.get("torch_threads")
    return (f"CPU {m.get('cpu_model') or 'unknown'}, {m.get('cores') or '?'} cores, "
            f"torch threads {threads if threads is not None else 'n/a'}, "
            f"GPU {m.get('gpu') or 'none'}")


def _machine_key(rec: dict[str, Any]) -> str:
    return json.dumps(rec.get("machine") or {}, sort_keys=True)


# --- the page --------------------------------------------------------------------------------
def render_page(records: Iterable[dict[str, Any]]) -> str:
    """``docs/benchmarks.md`` from the records."""
    records = list(records)
    best = latest(records)
    known = scripts()
    names = sorted(set(known) | {b for b, _, _ in best})
    lines = [
        "<!-- Generated by scripts/render_benchmarks.py from benchmarks/results/*.jsonl: "
        "do not edit by hand. -->",
        "",
        "# Benchmarks",
        "",
        "Every figure on this page comes from a record that a benchmark script appended to "
        "`benchmarks/results/<benchmark>.jsonl` when it ran, with the qtomo version, the git "
        "commit, the machine, the date and the command. The page shows the latest record of "
        "each (benchmark, case, metric); the older ones stay in the files and in git. How to "
        "run a benchmark, and the record's schema: [Running benchmarks](benchmarks-howto.md).",
        "",
    ]
    for name in names:
        script = known.get(name, "")
        lines += [f"## {name}", ""]
        if script:
            lines += [f"Script: `{script}` (what it measures: "
                      f"[Running benchmarks](benchmarks-howto.md#{name})).", ""]
        recs = sorted((r for k, r in best.items() if k[0] == name),
                      key=lambda r: (r["case"], r["metric"]))
        if not recs:
            run = f"`python {script}`" if script else "its script"
            lines += [f"No records yet: run {run} to measure them.", ""]
            continue
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in recs:
            groups.setdefault(_machine_key(r), []).append(r)
        for mkey in sorted(groups):
            rows = groups[mkey]
            lines += [f"**Machine:** {machine_text(json.loads(mkey))}", "",
                      "| case | metric | value | unit | date | commit |",
                      "|---|---|---|---|---|---|"]
            for r in rows:
                lines.append(f"| {_cell(r['case'])} | {_cell(r['metric'])} | {value_text(r)} "
                             f"| {_cell(r.get('unit') or '')} | {str(r['date'])[:10]} "
                             f"| {_cell(r.get('git_commit') or 'n/a')} |")
            commands = sorted({str(r.get("command") or "") for r in rows} - {""})
            if commands:
                lines += ["", "Measured by:", ""]
                lines += [f"- `{c}`" for c in commands]
            lines.append("")
        lines += moved_lines(moved(records, name))
    return "\n".join(lines).rstrip("\n") + "\n"


# --- the README block ------------------------------------------------------------------------
def render_figures(records: Iterable[dict[str, Any]],
                   keys: Iterable[tuple[str, str, str, str]] = HEADLINE) -> str:
    """The lines between the README's markers (without the markers): one row per key of
    ``keys`` (benchmark, case, metric, what it is) that has a record."""
    best = latest(records)
    rows, missing = [], []
    for bench, case, metric, what in keys:
        r = best.get((bench, case, metric))
        if r is None:
            missing.append(f"{bench} / {case} / {metric}")
            continue
        unit = f" {r['unit']}" if r.get("unit") else ""
        rows.append(f"| {what} | {_cell(case)} | {_cell(metric)} | {value_text(r)}{unit} "
                    f"| [{bench}](docs/benchmarks.md#{bench}) |")
    out = ["<!-- Generated by scripts/render_benchmarks.py from benchmarks/results: "
           "do not edit by hand. -->"]
    if rows:
        out += ["| figure | case | metric | value | benchmark |", "|---|---|---|---|---|", *rows]
    else:
        out.append("No headline figure has been recorded yet: the benchmark scripts write "
                   "them (see [Running benchmarks](docs/benchmarks-howto.md)).")
    if missing:
        out.append("<!-- no record yet, left out: " + "; ".join(missing) + " -->")
    return "\n".join(out)


def replace_block(text: str, block: str) -> str:
    """``text`` with the lines between the markers replaced by ``block``."""
    i, j = text.find(START), text.find(END)
    if i < 0 or j < i:
        raise SystemExit(f"README.md: the markers {START} ... {END} are missing")
    return text[: i + len(START)] + "\n" + block + "\n" + text[j:]


def render_all(results: Path = RESULTS, readme_text: str | None = None) -> tuple[str, str]:
    """(the page, the README) as this script would write them."""
    records = load_records(results)
    readme = README.read_text(encoding="utf-8") if readme_text is None else readme_text
    return render_page(records), replace_block(readme, render_figures(records))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSONL files")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 when a file differs from its rendering")
    args = ap.parse_args(argv)
    page, readme = render_all(args.results)
    stale = [p for p, text in ((PAGE, page), (README, readme))
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run python scripts/render_benchmarks.py",
                  file=sys.stderr)
        return 1 if stale else 0
    for p, text in ((PAGE, page), (README, readme)):
        if p in stale:
            p.write_text(text, encoding="utf-8")
            print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
