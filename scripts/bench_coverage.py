"""Coverage of the bootstrap 95% interval of the headline fidelity (``qtomo train --bootstrap``).

For each dataset kind and seed: simulate a dataset, train the GRU with ``bootstrap=10`` and
the CLI defaults otherwise, reconstruct, and record whether the headline quantum fidelity's
``ci95`` covers the exact value (``headline.quantum_fidelity.exact``: <psi|sigma|psi> of the
state the shots came from). Prints per kind the coverage fraction, the median interval width
beside the direct estimator's (1.96 * 2 * its stderr), and the cost ratio: (main + bootstrap
training seconds) / seconds of one member trained alone, measured on the first dataset by a
separate plain run (and, for every seed, the ratio recorded in members.json).

Kinds::

    ghz4   noisy GHZ N=4, Pauli-6, 20,000 shots, noise 0.05
    tfim6  TFIM N=6 (J=h=1, open), Pauli-4, 20,000 shots

Results are cached per (kind, seed) as JSON in --cache-dir, so an interrupted run continues;
``--keep-runs`` also keeps every dataset and run (in CACHE_DIR/work), and
``--reconstruct-again`` then reconstructs those again with the current code, without training
(the training figures are carried over from each record).

    python scripts/bench_coverage.py                    # 20 seeds of both kinds (slow)
    python scripts/bench_coverage.py --kinds ghz4 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import benchlib

KINDS: dict[str, dict[str, Any]] = {
    "ghz4": {"state": "ghz", "n_qubits": 4, "povm": "pauli6", "noise": 0.05, "shots": 20_000},
    "tfim6": {"state": "tfim", "n_qubits": 6, "povm": "pauli4", "shots": 20_000},
}
BOOTSTRAP = 10
CACHE_FORMAT = 2


def _train_config(data: Path, seed: int, bootstrap: int) -> Any:
    """The config the CLI builds with no tuning flags (plus ``bootstrap``)."""
    from qtomo.training.config import dataset_config

    return dataset_config(data, "gru", bootstrap=bootstrap, seed=seed)


def one(kind: str, seed: int, work: Path, *, plain_too: bool, keep: bool = False,
        kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """One dataset: simulate, train, reconstruct; with ``kept`` (its earlier record, whose
    dataset and run were kept) only reconstruct again, carrying the training figures over."""
    from qtomo.data.simulate import SimulateConfig, simulate
    from qtomo.reconstruction.run import ReconstructConfig, reconstruct
    from qtomo.training import run_training

    d = work / f"{kind}_s{seed}"
    data = d / "data.h5"
    out: dict[str, Any] = {"kind": kind, "seed": seed}
    if kept is not None:
        out.update({k: kept[k] for k in ("plain_seconds", "bootstrap_seconds",
                                         "members_cost_ratio") if k in kept})
    else:
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        simulate(SimulateConfig(**KINDS[kind], seed=seed), data)
        if plain_too:
            t = time.perf_counter()
            run_training(data, d / "plain", _train_config(data, seed, 0), progress=False)
            out["plain_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        s = run_training(data, d / "run", _train_config(data, seed, BOOTSTRAP), progress=False)
        out["bootstrap_seconds"] = time.perf_counter() - t
        out["members_cost_ratio"] = s["members"]["bootstrap_cost_ratio"]
    rep = reconstruct(data, d / "run", ReconstructConfig(seed=seed)).report
    qf = rep["headline"]["quantum_fidelity"]
    de = rep["quantum"].get("direct_estimate") or {}
    mle = (rep["quantum"].get("model") or {}).get("mle") or {}
    exact = qf.get("exact")
    ci = qf.get("ci95")  # the headline's interval (the direct one if the model fell back)
    mci = mle.get("fidelity_ci95")  # the model's bootstrap interval, whatever the headline
    out.update({
        "format": CACHE_FORMAT,
        "exact": exact, "headline_source": qf.get("source"),
        "headline_value": qf.get("value"), "ci95": ci,
        "covered": bool(ci and exact is not None and ci[0] <= exact <= ci[1]),
        "width": (ci[1] - ci[0]) if ci else None,
        "model_headline": qf.get("estimator") in ("model MLE", "model projected", "blend"),
        "model_fidelity": mle.get("fidelity"), "model_ci95": mci,
        "blend_weight": ((rep["quantum"].get("model") or {}).get("blend") or {}).get("weight"),
        "model_stderr": mle.get("fidelity_stderr"),
        "model_covered": bool(mci and exact is not None and mci[0] <= exact <= mci[1]),
        "model_width": (mci[1] - mci[0]) if mci else None,
        "direct_value": de.get("value"), "direct_stderr": de.get("stderr"),
        "direct_width": 1.96 * 2 * de["stderr"] if de.get("stderr") is not None else None,
        "direct_covered": bool(de.get("ci95") and exact is not None
                               and de["ci95"][0] <= exact <= de["ci95"][1]),
    })
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", default="ghz4,tfim6", help="comma-separated: ghz4, tfim6")
    ap.add_argument("--seeds", type=int, default=20, help="datasets per kind [20]")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path, default=Path("bench_coverage_cache"))
    ap.add_argument("--keep-runs", action="store_true",
                    help="keep each dataset and run in CACHE_DIR/work (for scans of the "
                    "reconstruction on the same runs)")
    ap.add_argument("--reconstruct-again", action="store_true",
                    help="reconstruct every dataset whose run was kept (--keep-runs) again "
                    "with the current code, without training; the training figures are "
                    "carried over from its record")
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            print(f"unknown kind {k!r}; expected {', '.join(KINDS)}", file=sys.stderr)
            return 3
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    work = args.cache_dir / "work"
    table = []
    for kind in kinds:
        rows = []
        for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
            f = args.cache_dir / f"{kind}_s{seed}.json"
            r = json.loads(f.read_text()) if f.exists() else {}
            again = (args.reconstruct_again and r.get("format") == CACHE_FORMAT
                     and (work / f"{kind}_s{seed}" / "run" / "members.json").exists())
            if r.get("format") != CACHE_FORMAT or again:
                r = one(kind, seed, work, plain_too=i == 0, keep=args.keep_runs or again,
                        kept=r if again else None)
                f.write_text(json.dumps(r, indent=1) + "\n")
            rows.append(r)
            print(f"{kind} seed {seed}: headline {r['headline_value']} ci95 {r['ci95']} "
                  f"({'model' if r['model_headline'] else 'fallback'}); model "
                  f"{r['model_fidelity']} ci95 {r['model_ci95']}; exact {r['exact']}; "
                  f"covered {r['covered']} (model {r['model_covered']})", flush=True)
        first = rows[0]
        cost = (first["bootstrap_seconds"] / first["plain_seconds"]
                if first.get("plain_seconds") else math.nan)
        widths = [r["width"] for r in rows if r["width"] is not None]
        dwidths = [r["direct_width"] for r in rows if r["direct_width"] is not None]
        mwidths = [r["model_width"] for r in rows if r["model_width"] is not None]
        table.append({
            "kind": kind, "datasets": len(rows),
            "coverage": sum(r["covered"] for r in rows) / len(rows),
            "model_headlines": sum(r["model_headline"] for r in rows),
            "model_coverage": sum(r["model_covered"] for r in rows) / len(rows),
            "model_median_width": statistics.median(mwidths) if mwidths else math.nan,
            "median_width": statistics.median(widths) if widths else math.nan,
            "direct_median_width": statistics.median(dwidths) if dwidths else math.nan,
            "direct_coverage": sum(r["direct_covered"] for r in rows) / len(rows),
            "cost_ratio_first": cost,
            "cost_ratio_members_json": statistics.median(
                [r["members_cost_ratio"] for r in rows if r["members_cost_ratio"]]),
        })
    print()
    print(f"{'kind':6} {'n':>3} {'model hl':>8} {'coverage':>9} {'width':>9} "
          f"{'model cov':>9} {'model width':>11} {'direct width':>12} {'direct cov':>10} "
          f"{'cost B=10':>9} {'cost json':>9}")
    for t in table:
        print(f"{t['kind']:6} {t['datasets']:>3} {t['model_headlines']:>8} {t['coverage']:>9.2f} "
              f"{t['median_width']:>9.5f} {t['model_coverage']:>9.2f} "
              f"{t['model_median_width']:>11.5f} {t['direct_median_width']:>12.5f} "
              f"{t['direct_coverage']:>10.2f} {t['cost_ratio_first']:>9.2f} "
              f"{t['cost_ratio_members_json']:>9.2f}")
        last = args.first_seed + args.seeds - 1
        benchlib.write_records("coverage", [
            {"case": f"{t['kind']} seeds {args.first_seed}-{last}", "metric": key,
             "value": t[key], "extra": {"datasets": t["datasets"], "bootstrap": BOOTSTRAP,
                                        "model_headlines": t["model_headlines"]}}
            for key in ("coverage", "median_width", "model_coverage", "model_median_width",
                        "direct_coverage", "direct_median_width", "cost_ratio_first",
                        "cost_ratio_members_json")])
    print("\ncoverage/width: the headline fidelity's 95% interval (the model's bootstrap interval, "
          "B=10, or the direct one where the consistency check made the headline fall back; "
          "'model hl' counts model headlines); model cov/width: the model's bootstrap interval "
          "on every dataset; direct width = 1.96 * 2 * stderr of the direct estimator; cost "
          "B=10: wall seconds of the run with members / a plain run on the first dataset; "
          "cost json: members.json's (main + bootstrap) / main training seconds (median).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
