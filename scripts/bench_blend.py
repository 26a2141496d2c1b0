"""Fidelity of the model's MLE state at every blend weight, on bench_families cells.

For each cell (the dataset and training of ``scripts/bench_families.py``: same seed, the CLI's
training defaults, no members) this trains the GRU once (or reuses the run in
``--cache-dir``), reconstructs with ``ReconstructConfig()`` and records the fidelity of the
state fitted to (1 - w) Q + w f_train at every w of ``qtomo.reconstruction.blend.BLEND_WEIGHTS``
(the refits ``choose_weight`` makes, captured as they happen), the weight the current rule
chose, its anchor with the scatters and the distance it rests on, each weight's validation-NLL
excess over the best with its standard error -- so that any weight rule can be judged on the
same runs -- and the reported state (the chosen weight's, refitted with the validation shots
folded back in).

    python scripts/bench_blend.py tfim-h0.5:0:8:20000 cluster:0:8:20000
    python scripts/bench_blend.py --cache-dir out/bench_blend ghz-pauli4:0:10:20000

A cell is FAMILY:NOISE:N:SHOTS with the families of bench_families.py. One JSON per cell in
the cache; each cell prints one line. Each cell also records the exact value and the
raw-frequency MLE's fidelity from the same reconstruct report, and for N <= 6 the raw MLE's
bootstrap error (bench_families' ``--mle-error``: 5 multinomial refits, the cell's seed; up to
``--raw-error-max-n`` qubits with ``--table``), so the cell is judged by bench_families' two
rules.

``--replica R`` (R > 0) scans the same cells on independent datasets and trainings (seeds
drawn from the cell's name and R), each replica in its own ``--cache-dir``: how far a cell's
figures move with the shots alone.

``--table`` prints the Markdown table of every cell in the cache (or of the cells named) with
both rules, the direct estimate from all the shots with its standard error and the training
time (the run's model card; not a timing measurement when scans shared the CPU), completing
cells recorded by an older version of this script first without reconstructing
(:func:`complete_cell`: the raw MLE fitted as bench_families does), and the weight of every
cell scanned by this version re-derived by the current rule from its recorded validation
likelihoods, scatters and distance (a cell scanned by an older version keeps its recorded
weight and state, marked "(old)"):

    python scripts/bench_blend.py --cache-dir out/bench_blend --table

A noisy cell also records each state's fidelity F(rho, sigma) to the noisy state sigma the shots
came from, and the raw MLE's (with its bootstrap error up to ``--raw-error-max-n``); ``--table``
then prints a second table that judges the noisy cells by those: the rules read as the issue
words them ("the model's MLE fidelity", "the model's infidelity"), exact value 1, beside the
first table's reading (the error of <psi|rho|psi> against <psi|sigma|psi>).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_families as bf  # noqa: E402
import benchlib  # noqa: E402


def parse_cell(spec: str) -> tuple[str, float, int, int]:
    """FAMILY:NOISE:N:SHOTS -> (family, noise, n, shots); argparse reports a bad one."""
    try:
        fam, noise, n, shots = spec.split(":")
        cell = (fam, float(noise), int(n), int(shots))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{spec!r} is not FAMILY:NOISE:N:SHOTS") from None
    if fam not in bf.FAMILIES:
        raise argparse.ArgumentTypeError(
            f"unknown family {fam!r}; one of {', '.join(sorted(bf.FAMILIES))}")
    return cell


def replica_seed(key: str, replica: int) -> int:
    """The cell's seed (bench_families'), or for ``replica`` R > 0 an independent one: another
    dataset and training of the same cell, to see how far a figure moves with the shots."""
    return bf.cell_seed(key if replica == 0 else f"{key}/replica{replica}")


def scan_cell(cell: tuple[str, float, int, int], cache: Path, replica: int = 0
              ) -> dict[str, Any]:
    import qtomo.reconstruction.blend as bl
    from qtomo.data.hdf5 import open_dataset
    from qtomo.data.simulate import simulate
    from qtomo.reconstruction import metrics as mt
    from qtomo.reconstruction.run import ReconstructConfig, reconstruct
    from qtomo.training.session import run_training

    key = bf.cell_key(*cell)
    seed = replica_seed(key, replica)
    d = cache / key
    d.mkdir(parents=True, exist_ok=True)
    data, run = d / "data.h5", d / "run"
    if not data.exists():
        simulate(bf.sim_config(*cell, seed), data, overwrite=True)
    summary: dict[str, Any] = {}
    if not (run / "best.pt").exists():
        shutil.rmtree(run, ignore_errors=True)
        cfg = bf.train_config_like_cli(data, seed=seed, max_minutes=None)
        summary = run_training(data, run, cfg, progress=False)
    states: list[Any] = []
    refit = bl.mle.refit_like

    def capture(*a: Any, **k: Any) -> Any:
        res = refit(*a, **k)
        states.append(res.rho)
        return res

    bl.mle.refit_like = capture
    try:
        rec = reconstruct(data, run, ReconstructConfig())
    finally:
        bl.mle.refit_like = refit
    q = rec.report["quantum"]
    if "model" not in q:  # no dense model state to scan (a model evaluated string by string)
        out = {"key": key, "replica": replica, "seed": seed, "weights": [],
               "fidelity_at_weight": [], "candidates": [], "model_fidelity": None,
               "chosen_weight": None, "anchor": None, "dense_note": q.get("dense"),
               "train_seconds": summary.get("train_seconds")}
        return complete_cell(cell, out, d)
    model = q["model"]
    blend = model.get("blend") or {}
    with open_dataset(data) as ds:
        psi = mt.target_state(ds.target_array("psi"))
    first = model.get("mle_table_only") or model["mle"]
    fids = [first["fidelity"]] + [mt.physical_fidelity(r, psi)
                                  for r in states[: len(bl.BLEND_WEIGHTS) - 1]]
    sigma = {}
    if cell[1] > 0:  # each state's fidelity to the noisy state the shots came from
        noisy = rec.rhos["target_noisy"]
        sigma = {"fidelity_to_noisy_at_weight": [first["fidelity_to_noisy_state"]] + [
                     mt.physical_fidelity(r, noisy) for r in states[: len(bl.BLEND_WEIGHTS) - 1]],
                 "folded_fidelity_to_noisy": model["mle"]["fidelity_to_noisy_state"]}
    exact = rec.report["headline"]["quantum_fidelity"].get("exact")
    out = {"key": key, "replica": replica, "seed": seed, "family": cell[0], "noise": cell[1],
           "n": cell[2], "shots": cell[3],
           "state": bf.FAMILIES[cell[0]]["state"],
           "exact": exact if exact is not None else q.get("exact_fidelity"),
           "raw_f": bf.report_raw_fidelity(q, data, cell[2], bf._k_of(  # noqa: SLF001
               bf.FAMILIES[cell[0]]["povm"]), cell[3])[0],
           "train_seconds": summary.get("train_seconds"),
           "weights": list(bl.BLEND_WEIGHTS), "fidelity_at_weight": fids,
           "chosen_weight": blend.get("weight"), "anchor": blend.get("anchor"),
           "raw_infidelity": blend.get("raw_infidelity"),
           "model_infidelity": blend.get("model_infidelity"),
           "distance": blend.get("distance"), "scan_version": SCAN_VERSION,
           "folded_fidelity": model["mle"]["fidelity"],
           "params": bl.family_parameters(cell[2], model["mle_fit"]),
           "validation_shots": blend.get("validation_shots"),
           "candidates": [(c["weight"], c["excess_over_best"], c["excess_stderr"])
                          for c in blend.get("candidates", [])],
           "model_fidelity": model["mle"]["fidelity"], **sigma}
    return complete_cell(cell, out, d)  # adds the raw MLE's error and writes blend.json


def complete_cell(cell: tuple[str, float, int, int], r: dict[str, Any], d: Path,
                  raw_error_max_n: int | None = None) -> dict[str, Any]:
    """Add what an older version of this script did not record, without reconstructing: the
    exact value, the raw MLE's fidelity (fitted as bench_families does) and its error; and
    re-derive the weight by the current rule from the recorded validation NLLs (a record
    without the family's parameter count: rank 1, plus the noise strength in a noisy cell)."""
    import numpy as np

    import qtomo.reconstruction.blend as bl
    from qtomo.reconstruction import density as dm
    from qtomo.reconstruction import metrics as mt

    fam, noise, n, shots = cell
    freq, frame, _, psi = bf._data_arrays(d / "data.h5")  # noqa: SLF001
    ideal = mt.target_state(psi)
    r.update(family=fam, noise=noise, n=n, shots=shots, state=bf.FAMILIES[fam]["state"])
    r["exact"] = 1.0 if noise == 0 else mt.physical_fidelity(mt.target_state(psi, noise), ideal)
    cfg = json.loads((d / "run" / "config.json").read_text())
    params = r.get("params") or bl.family_parameters(
        n, {"rank": 1, "depolarizing": noise})
    r.update(params=params, validation_shots=cfg["val_shots"])
    if r["candidates"] and r.get("scan_version", 1) >= SCAN_VERSION:
        # a dense cell scanned by this version: the weight by the current rule; the state
        # with the validation shots folded back in is known at the weight the scan chose,
        # elsewhere the training shots' state stands in (``train_only``)
        excess = np.array([c[1] for c in r["candidates"]])
        stderr = np.array([c[2] for c in r["candidates"]])
        anchor = bl.weight_anchor(excess, stderr, bl.anchor_weight(
            r["model_infidelity"], r["raw_infidelity"], r["distance"]))
        i = bl.rule_weight(excess, stderr, anchor)
        w = bl.settle_weight(excess, stderr, anchor)
        same = abs(w - r["chosen_weight"]) < 1e-12
        r.update(chosen_weight=w if same else bl.BLEND_WEIGHTS[i], anchor=anchor,
                 train_only=not same,
                 model_fidelity=r["folded_fidelity"] if same else r["fidelity_at_weight"][i])
        if "folded_fidelity_to_noisy" in r:
            r["model_fidelity_to_noisy"] = (r["folded_fidelity_to_noisy"] if same
                                            else r["fidelity_to_noisy_at_weight"][i])
    if r.get("train_seconds") is None:  # a run trained by an earlier scan
        r["train_seconds"] = _train_seconds(d / "run")
    if "direct_f" not in r:
        direct = _direct_estimate(d / "data.h5", psi)
        r["direct_f"], r["direct_se"] = direct.value, direct.stderr
    dense = n <= dm.MAX_RHO_QUBITS and freq.size <= dm.MAX_TABLE_ENTRIES
    # the raw MLE's fidelity to the noisy state sigma, where the scan recorded the model's
    sigma = (mt.target_state(psi, noise)
             if noise > 0 and dense and "folded_fidelity_to_noisy" in r else None)
    if "raw_f" not in r or (sigma is not None and "raw_f_to_noisy" not in r):
        rho = bf.raw_mle_state(freq, frame, n, shots) if dense else None
        if "raw_f" not in r:
            r["raw_f"] = None if rho is None else float(mt.physical_fidelity(rho, ideal))
        if sigma is not None:
            r["raw_f_to_noisy"] = float(mt.physical_fidelity(rho, sigma))
    max_n = RAW_ERROR_MAX_N if raw_error_max_n is None else raw_error_max_n
    if n <= max_n and r["raw_f"] is not None and (
            r.get("raw_err") is None or (sigma is not None and r.get("raw_err_to_noisy") is None)):
        seed = r.get("seed") or bf.cell_seed(r["key"])
        boot = bf.raw_mle_bootstrap(freq, frame, n, shots, psi, b=RAW_ERROR_B, seed=seed,
                                    sigma=sigma)
        r["raw_err"] = r.get("raw_err") or boot["mle_err"]
        if sigma is not None:
            r["raw_err_to_noisy"] = boot["mle_err_sigma"]
    (d / "blend.json").write_text(json.dumps(r, indent=1))
    return r


def _train_seconds(run: Path) -> float | None:
    """The run's training time: its model card, else the last epoch's elapsed time in
    metrics.csv (a run written before model cards), else None."""
    import csv

    card = run / "model_card.json"
    if card.exists():
        return json.loads(card.read_text())["results"].get("train_seconds")
    if (run / "metrics.csv").exists():
        with open(run / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return float(rows[-1]["elapsed_seconds"]) if rows else None
    return None


def _direct_estimate(data: Path, psi: Any) -> Any:
    """The direct estimate of <psi|rho|psi> from every shot of the dataset, with its standard
    error (what ``qtomo reconstruct`` reports beside the model)."""
    from qtomo.data.hdf5 import open_dataset
    from qtomo.reconstruction import metrics as mt

    with open_dataset(data) as ds:
        return mt.direct_fidelity(ds.outcomes(), ds.frame, psi)


#: Version of a cell record: 2 records the anchor's distance and the state with the
#: validation shots folded back in; a record of version 1 keeps the weight and state it had.
SCAN_VERSION = 2
#: The raw MLE's bootstrap error (bench_families --mle-error) up to this N, from B refits.
RAW_ERROR_MAX_N = 6
RAW_ERROR_B = 5
_FRAC = {0.0: "0", 0.25: "1/4", 0.5: "1/2", 0.75: "3/4", 1.0: "1"}


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of scanned cells with bench_families' rules, and the pass counts."""
    lines = ["| cell | exact | F at w = 0 / 1/4 / 1/2 / 3/4 / 1 | anchor | chosen w, F "
             "| raw-MLE F +- err | direct F +- se | rule 1 | rule 2 | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    n1 = p1 = n2 = p2 = 0
    for r in rows:
        j = bf.judge({"exact": r["exact"], "model_f": r["model_fidelity"], "raw_f": r["raw_f"],
                      "mle_err": r.get("raw_err"), "state": r["state"], "n": r["n"],
                      "shots": r["shots"]})
        n1, p1 = n1 + (j["rule1"] is not None), p1 + bool(j["rule1"])
        n2, p2 = n2 + (j["rule2"] is not None), p2 + bool(j["rule2"])
        noise = f" p = {r['noise']:g}" if r["noise"] else ""
        name = (f"{r['family']}{noise}"
                f", N = {r['n']}" + ("" if r["shots"] == 20_000 else f", {r['shots']:,} shots"))
        err = "n/a" if r.get("raw_err") is None else f"{r['raw_err']:.5f}"
        direct = f"{bf._f(r.get('direct_f'))} +- {bf._f(r.get('direct_se'))}"  # noqa: SLF001
        fids = " / ".join(f"{x:.5f}" for x in r["fidelity_at_weight"]) or "n/a (no dense state)"
        mark = "" if r.get("scan_version", 1) >= SCAN_VERSION and not r.get("train_only") \
            else " (old)"
        chosen = ("n/a" if r["chosen_weight"] is None
                  else f"{_FRAC.get(r['chosen_weight'], format(r['chosen_weight'], '.3f'))}, "
                  f"{r['model_fidelity']:.5f}{mark}")
        lines.append(f"| {name} | {r['exact']:.5f} | {fids} "
                     f"| {bf._f(r['anchor'], '.2f')} | {chosen} "  # noqa: SLF001
                     f"| {bf._f(r['raw_f'])} +- {err} "  # noqa: SLF001
                     f"| {direct} "
                     f"| {bf._pf(j['rule1'])} | {bf._pf(j['rule2'], False)} "  # noqa: SLF001
                     f"| {bf._f(r.get('train_seconds'), '.1f')} |")  # noqa: SLF001
    lines.append(f"\nrule 1 holds in {p1} of {n1} cells, rule 2 in {p2} of {n2}; '(old)': "
                 "the state of the training shots alone at the weight of an earlier rule "
                 "(a cell scanned before scan version "
                 f"{SCAN_VERSION}, or re-weighted without a refit)")
    noisy = [r for r in rows if r["noise"] and r.get("model_fidelity_to_noisy") is not None]
    if noisy:
        lines.append("\n" + noisy_table(noisy))
    return "\n".join(lines)


def noisy_table(rows: list[dict[str, Any]]) -> str:
    """The noisy cells judged on each state's fidelity F(rho, sigma) to the state sigma the
    shots came from (bench_families' ``state_table``), beside the table above, which judges the
    error of <psi|rho|psi> against <psi|sigma|psi>."""
    return bf.state_table([
        {"name": f"{r['family']} p = {r['noise']:g}, N = {r['n']}"
                 + ("" if r["shots"] == 20_000 else f", {r['shots']:,} shots"),
         "model_f_to_noisy": r["model_fidelity_to_noisy"],
         "raw_f_to_noisy": r.get("raw_f_to_noisy"), "mle_err_sigma": r.get("raw_err_to_noisy"),
         "state": r["state"], "n": r["n"], "shots": r["shots"]} for r in rows])


def _cached_cells(cache: Path) -> list[tuple[str, float, int, int]]:
    """The cells with a blend.json in ``cache``, named by the record itself (a file that is
    not a cell record is skipped with a one-line note)."""
    cells = []
    for f in sorted(cache.glob("*/blend.json")):
        try:
            r = json.loads(f.read_text())
            cell = (str(r["family"]), float(r["noise"]), int(r["n"]), int(r["shots"]))
        except (ValueError, KeyError, TypeError):
            print(f"skipping {f}: not a bench_blend cell record", file=sys.stderr)
            continue
        if cell[0] in bf.FAMILIES and bf.cell_key(*cell) == f.parent.name:
            cells.append(cell)
        else:
            print(f"skipping {f}: its folder does not name its cell", file=sys.stderr)
    return cells


def _order(r: dict[str, Any]) -> tuple[Any, ...]:
    fams = list(bf.FAMILIES)
    return r["shots"], r["n"], fams.index(r["family"]), r["noise"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells", nargs="*", type=parse_cell, help="FAMILY:NOISE:N:SHOTS")
    ap.add_argument("--cache-dir", type=Path, default=Path("out/bench_blend"))
    ap.add_argument("--table", action="store_true",
                    help="print the Markdown table of the cached (or named) cells")
    ap.add_argument("--raw-error-max-n", type=int, default=RAW_ERROR_MAX_N, metavar="N",
                    help="--table: compute the raw MLE's bootstrap error (B = "
                    f"{RAW_ERROR_B} refits) for cells up to N qubits [{RAW_ERROR_MAX_N}]")
    ap.add_argument("--replica", type=int, default=0, metavar="R",
                    help="R > 0: an independent dataset and training of each cell (its own "
                    "seed; give each replica its own --cache-dir) [0: bench_families' seed]")
    args = ap.parse_args(argv)
    if args.replica < 0:
        ap.error("--replica must be >= 0")
    if args.table:
        rows = []
        cells = args.cells or _cached_cells(args.cache_dir)
        if not cells:
            ap.error(f"no scanned cells in {args.cache_dir}")
        for cell in cells:
            f = args.cache_dir / bf.cell_key(*cell) / "blend.json"
            r = json.loads(f.read_text()) if f.exists() else {}
            if not r:
                r = scan_cell(cell, args.cache_dir, args.replica)
            else:
                r = complete_cell(cell, r, f.parent, args.raw_error_max_n)
            rows.append(r)
        print(table(sorted(rows, key=_order)))
        return 0
    if not args.cells:
        ap.error("name at least one cell, or --table")
    for cell in args.cells:
        r = scan_cell(cell, args.cache_dir, args.replica)
        case = r["key"] + (f" replica {args.replica}" if args.replica else "")
        info = {"exact": r["exact"], "seed": r["seed"]}
        if r["model_fidelity"] is None:
            print(f"{r['key']}: {r.get('dense_note')}; direct {r['direct_f']:.5f} +- "
                  f"{r['direct_se']:.5f}", flush=True)
            benchlib.record("blend", case, "direct_fidelity", r["direct_f"],
                            stderr=r["direct_se"], extra=info)
            continue
        f = " / ".join(f"{x:.5f}" for x in r["fidelity_at_weight"])
        print(f"{r['key']}: F at w = 0 .. 1: {f}; chosen w = {r['chosen_weight']} "
              f"(anchor {r['anchor']:.3f}), F = {r['model_fidelity']:.5f}",
              flush=True)
        info.update(fidelity_at_weight=r["fidelity_at_weight"], anchor=r["anchor"],
                    raw_mle_fidelity=r["raw_f"], raw_mle_error=r.get("raw_err"))
        benchlib.write_records("blend", [
            {"case": case, "metric": "model_fidelity", "value": r["model_fidelity"],
             "extra": info},
            {"case": case, "metric": "chosen_weight", "value": r["chosen_weight"], "extra": info},
            {"case": case, "metric": "direct_fidelity", "value": r["direct_f"],
             "stderr": r["direct_se"], "extra": info}])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
