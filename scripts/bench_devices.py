"""Shots from simulated devices that drift, through the command line with its defaults (the
acceptance of the issue "Shots from real devices": goodness of fit, no signalling, systematic
error bars).

Every dataset is made and read as a user types it (subprocesses, no model, CLI defaults)::

    qtomo simulate --state S -n 4 --design all-pauli --shots-per-setting 8000 --povm pauli6 \\
        [CONDITION] --seed SEED --out DATA.h5 --json
    qtomo reconstruct --data DATA.h5 --out REPORT --json

for S in GHZ-4, W-4 and a Haar-random 4-qubit state (``--state haar``: a new state with every
seed), local depolarizing noise p = 0.05 on every qubit (``--noise``, :data:`NOISE`), all 81
Pauli settings x 8,000 shots, under three conditions:

    drift          --drift SIGMA, SIGMA (:data:`SIGMA`) chosen so that G/dof of the best
                   physical state lies between 10 and 30 (``--calibrate``)
    no-drift       SIGMA = 0: the measurements as assumed
    readout-drift  --readout-error 0.02,0.05 --readout-drift 0.01 --calibration-shots 20000
                   (flips redrawn per setting and qubit; the stored readout is estimated from
                   calibration counts of |0000> and |1111>)

From each ``report.json`` it reads: the fit flagged (``goodness_of_fit.best_physical``
p < 0.001), the no-signalling check flagged, at least one drifting qubit named, the headline
fidelity and its 95% interval, and whether the interval covers the exact fidelity of the
prepared state. That exact value is computed here from the dataset's stored target and noise
(``<psi|E_p(|psi><psi|)|psi>``, 1 for a noiseless pure state) and checked against the report's
``quantum.exact_fidelity``. Acceptance, K = 20 datasets per state: drift flagged (fit and
no signalling) and a qubit named in 20 of 20, covered in >= 17; no drift flagged in <= 1,
covered in >= 18; readout drift covered in >= 17.

It prints one table per condition (states x counts out of K) and appends per cell the counts
``fit_flagged``, ``no_signalling_flagged``, ``qubit_named``, ``covered``, ``datasets``, the
median headline, interval width and G/dof to ``benchmarks/results/devices.jsonl``.
One dataset (simulate and reconstruct) takes 6 to 12 s of one core, so K = 20 (180 datasets)
takes 10 to 20 minutes with the default two workers on two cores.

Seeds: dataset i of state s under condition c has ``--seed`` ``SEED0 + 10000 c + 1000 s + i``;
``--calibrate`` uses seeds from ``CALIBRATION_SEED0``, so SIGMA is never chosen on the datasets
that judge it.

    python scripts/bench_devices.py                          # K = 20, every state and condition
    python scripts/bench_devices.py --datasets 2 --states ghz4 --conditions drift --keep
    python scripts/bench_devices.py --calibrate --sigmas 0.1,0.15,0.2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchlib
import numpy as np

from qtomo.data.hdf5 import open_dataset
from qtomo.states.noise import depolarize

QTOMO = [sys.executable, "-m", "qtomo.cli.main"]
N = 4
SHOTS_PER_SETTING = 8000
#: Local depolarizing p of the prepared state: its exact fidelity is then below 1, so that
#: coverage means something. On a noiseless GHZ state every outcome of every Pauli setting
#: gives the same direct-estimate value, 1, and the interval has zero width.
NOISE = 0.05
#: Axis drift (radians) of the ``drift`` condition, chosen so that G/dof of the best physical
#: state lies between 10 and 30 on all three states, by
#: ``python scripts/bench_devices.py --calibrate --sigmas 0.1,0.15,0.2``.
SIGMA = 0.15
READOUT = ("--readout-error", "0.02,0.05", "--readout-drift", "0.01",
           "--calibration-shots", "20000")
STATES = {"ghz4": "ghz", "w4": "w", "haar4": "haar"}
CONDITIONS = ("drift", "no-drift", "readout-drift")
ALPHA = 0.001
SEED0 = 1
CALIBRATION_SEED0 = 900_000
#: The acceptance of each condition, out of K = 20 datasets per state.
TARGETS = {"drift": "fit and no signalling flagged and a qubit named in 20/20, covered >= 17",
           "no-drift": "flagged <= 1, covered >= 18",
           "readout-drift": "covered >= 17"}


@dataclass(frozen=True)
class Task:
    """One dataset: its state, condition, seed, drift angle and folder (``keep``: leave its
    dataset and report there)."""

    state: str
    condition: str
    seed: int
    sigma: float
    noise: float
    work: Path
    keep: bool = False

    @property
    def name(self) -> str:
        return f"{self.state}-{self.condition}-{self.seed}"

    def simulate_args(self) -> list[object]:
        extra: list[object] = ["--drift", self.sigma] if self.sigma else []
        if self.condition == "readout-drift":
            extra += list(READOUT)
        return ["simulate", "--state", STATES[self.state], "-n", N, "--design", "all-pauli",
                "--shots-per-setting", SHOTS_PER_SETTING, "--povm", "pauli6",
                "--noise", self.noise, *extra, "--seed", self.seed,
                "--out", self.work / f"{self.name}.h5", "--overwrite"]


def qtomo(*args: object) -> dict[str, Any]:
    """Run ``qtomo ARGS --json`` from the repository root (one thread per process: the
    matrices are 16 x 16); its JSON output."""
    env = {**os.environ, "PYTHONPATH": str(benchlib.ROOT), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    r = subprocess.run([*QTOMO, *map(str, args), "--json"], capture_output=True, text=True,
                       cwd=benchlib.ROOT, env=env)
    if r.returncode != 0:
        raise SystemExit(f"qtomo {' '.join(map(str, args))} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def exact_fidelity(data: Path) -> float:
    """``<psi|E_p(|psi><psi|)|psi>`` of the dataset's stored target and noise p."""
    with open_dataset(data) as ds:
        psi = np.asarray(ds.target_array("psi"), dtype=np.complex128)
        p = float(ds.target["noise"])
    if p == 0:
        return float(np.vdot(psi, psi).real)
    return float(np.real(psi.conj() @ depolarize(np.outer(psi, psi.conj()), p) @ psi))


def one(task: Task) -> dict[str, Any]:
    """Simulate and reconstruct one dataset; the figures of its report."""
    t0 = time.perf_counter()
    data, report = task.work / f"{task.name}.h5", task.work / f"{task.name}.report"
    qtomo(*task.simulate_args())
    qtomo("reconstruct", "--data", data, "--out", report, "--overwrite")
    seconds = time.perf_counter() - t0
    rep = json.loads((report / "report.json").read_text())
    exact = exact_fidelity(data)
    if not task.keep:
        data.unlink()
        shutil.rmtree(report)
    stored = rep["quantum"].get("exact_fidelity")
    if stored is None or abs(stored - exact) > 1e-9:
        print(f"warning: {task.name}: the report's exact fidelity {stored} differs from the "
              f"stored target's {exact:.10f}", file=sys.stderr)
    best = rep.get("goodness_of_fit", {}).get("best_physical") or {}
    ns = rep.get("no_signalling") or {}
    head = rep["headline"]["quantum_fidelity"]
    lo, hi = head["ci95"]
    return {"state": task.state, "condition": task.condition, "seed": task.seed,
            "exact": exact, "value": head["value"], "ci95": (lo, hi),
            "covered": bool(lo <= exact <= hi), "widened": "systematic_error" in head,
            "fit_flagged": bool(best.get("p_value", 1.0) < ALPHA),
            "g_ratio": best.get("ratio", float("nan")),
            "no_signalling_flagged": bool(ns.get("rejected", False)),
            "qubit_named": bool(ns.get("drifting_qubits")), "seconds": seconds}


def run_all(tasks: list[Task], workers: int) -> list[dict[str, Any]]:
    """Every task, ``workers`` at a time (each runs its own qtomo subprocesses)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, tasks))


def cell_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts out of K and medians of one (state, condition) cell."""
    med = statistics.median
    return {"datasets": len(rows),
            "fit_flagged": sum(r["fit_flagged"] for r in rows),
            "no_signalling_flagged": sum(r["no_signalling_flagged"] for r in rows),
            "qubit_named": sum(r["qubit_named"] for r in rows),
            "covered": sum(r["covered"] for r in rows),
            "widened": sum(r["widened"] for r in rows),
            "headline_median": med(r["value"] for r in rows),
            "interval_width_median": med(r["ci95"][1] - r["ci95"][0] for r in rows),
            "g_over_dof_median": med(r["g_ratio"] for r in rows),
            "exact_median": med(r["exact"] for r in rows)}


def summarize(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Print one table per condition; the benchmark records."""
    records = []
    for cond in args.conditions:
        cells = {s: [r for r in rows if r["condition"] == cond and r["state"] == s]
                 for s in args.states}
        print(f"\n{cond} (SIGMA {SIGMA if cond == 'drift' else 0:g}; target: {TARGETS[cond]})")
        print("| state | fit flagged | no-signalling flagged | qubit named | covered | widened "
              "| headline (median) | 95% width (median) | G/dof (median) | exact (median) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for state, rs in cells.items():
            if not rs:
                continue
            f, k = cell_figures(rs), len(rs)
            print(f"| {state} | {f['fit_flagged']}/{k} | {f['no_signalling_flagged']}/{k} | "
                  f"{f['qubit_named']}/{k} | {f['covered']}/{k} | {f['widened']}/{k} | "
                  f"{f['headline_median']:.4f} | {f['interval_width_median']:.4f} | "
                  f"{f['g_over_dof_median']:.1f} | {f['exact_median']:.4f} |")
            extra = {"sigma": SIGMA if cond == "drift" else 0.0, "noise": args.noise,
                     "shots_per_setting": SHOTS_PER_SETTING, "alpha": ALPHA,
                     "seeds": [r["seed"] for r in rs], "target": TARGETS[cond],
                     "readout": list(READOUT) if cond == "readout-drift" else None}
            records += [{"case": f"{state}-{cond}", "metric": m, "value": v, "extra": extra}
                        for m, v in f.items()]
    return records


def calibrate(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """G/dof of the best physical state at each SIGMA of ``--sigmas`` (``--datasets`` per state,
    default 2); the records."""
    k = args.datasets or 2
    tasks = [Task(s, "drift", CALIBRATION_SEED0 + 1000 * j + i, sigma, args.noise, work,
                  args.keep)
             for sigma in args.sigmas for j, s in enumerate(args.states) for i in range(k)]
    rows = run_all(tasks, args.workers)
    records = []
    print("| SIGMA | " + " | ".join(f"{s} G/dof" for s in args.states) + " |")
    print("|---|" + "---|" * len(args.states))
    for sigma in args.sigmas:
        cells = []
        for state in args.states:
            g = [r["g_ratio"] for r, t in zip(rows, tasks, strict=True)
                 if t.sigma == sigma and t.state == state]
            cells.append(", ".join(f"{x:.1f}" for x in g))
            records.append({"case": f"{state}-calibration-sigma{sigma:g}",
                            "metric": "g_over_dof_median", "value": statistics.median(g),
                            "extra": {"sigma": sigma, "g_over_dof": g, "noise": args.noise}})
        print(f"| {sigma:g} | " + " | ".join(cells) + " |")
    print("(wanted: 10 <= G/dof <= 30 on every state; write the SIGMA into bench_devices.SIGMA)")
    return records


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=None,
                    help="datasets K per state and condition [20; 2 with --calibrate]")
    ap.add_argument("--states", default=",".join(STATES), help=f"of {','.join(STATES)}")
    ap.add_argument("--conditions", default=",".join(CONDITIONS),
                    help=f"of {','.join(CONDITIONS)}")
    ap.add_argument("--noise", type=float, default=NOISE,
                    help=f"local depolarizing p of the prepared state [{NOISE}]")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="datasets run at once [the cores]")
    ap.add_argument("--work", type=Path, default=None, help="folder of the datasets and reports")
    ap.add_argument("--keep", action="store_true",
                    help="keep every dataset and report (else each goes once it is read)")
    ap.add_argument("--calibrate", action="store_true",
                    help="print G/dof at each of --sigmas instead (drift condition)")
    ap.add_argument("--sigmas", default="0.1,0.15,0.2", help="SIGMAs that --calibrate scans")
    args = ap.parse_args(argv)
    args.states = [s for s in args.states.split(",") if s]
    args.conditions = [c for c in args.conditions.split(",") if c]
    args.sigmas = [float(x) for x in args.sigmas.split(",") if x]
    bad = [s for s in args.states if s not in STATES] + [
        c for c in args.conditions if c not in CONDITIONS]
    if bad:
        ap.error(f"unknown state or condition {bad}; states {list(STATES)}, conditions "
                 f"{list(CONDITIONS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="qtomo-devices-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        if args.calibrate:
            records = calibrate(args, work)
        else:
            k = 20 if args.datasets is None else args.datasets
            tasks = [Task(s, c, SEED0 + 10_000 * ci + 1000 * si + i,
                          SIGMA if c == "drift" else 0.0, args.noise, work, args.keep)
                     for ci, c in enumerate(CONDITIONS) if c in args.conditions
                     for si, s in enumerate(STATES) if s in args.states for i in range(k)]
            rows = run_all(tasks, args.workers)
            seconds = [r["seconds"] for r in rows]
            print(f"{len(rows)} datasets in {time.perf_counter() - t0:.0f} s with "
                  f"{args.workers} workers; one dataset {statistics.median(seconds):.1f} s "
                  f"(median, simulate + reconstruct)")
            records = summarize(rows, args)
            records.append({"case": "all", "metric": "dataset_wall_s_median", "unit": "s",
                            "value": statistics.median(seconds),
                            "extra": {"workers": args.workers, "datasets": len(rows)}})
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            print(f"datasets and reports kept in {work}")
    benchlib.write_records("devices", records)
    print(f"appended {len(records)} records to {benchlib.results_dir() / 'devices.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
