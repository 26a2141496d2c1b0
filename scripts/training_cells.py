"""Tuning and validation cells of the training defaults (``bench_families.py --split``).

The defaults of ``qtomo train`` (schedule, patience, which checkpoint is kept) are chosen on
the TUNING cells only; the VALIDATION cells, named here before any tuning, report how those
defaults do where no benchmark tuned them. A validation cell is never used to choose a default.

Each cell is simulated with the cell's own seed (a hash of its name), trained exactly as
``qtomo train DATA --out RUN`` with no flags, and reconstructed as ``qtomo reconstruct RUN
--data DATA`` with its defaults. Recorded per cell:

* the kept model's classical fidelity F_c and KL(P||Q) on the evaluation shots (exact log P;
  the model's dense state is out of reach at these N), with their standard errors;
* the kept epoch, the epoch of the lowest validation NLL, and, side by side, the highest F_c
  over all epochs (an oracle no user has: it reads the exact log P) and its epoch;
* the training time, epochs run and why training stopped;
* from the report: the headline fidelity's source, the consistency verdict with the tests
  that rejected, and the model's energy against the exact ground energy E0 (TFIM cells), in
  standard errors below E0.

Every figure is appended to ``benchmarks/results/bench_families.jsonl`` (:mod:`benchlib`).
"""

from __future__ import annotations

import json
import math
import shutil
import time
import zlib
from pathlib import Path
from typing import Any

#: Cells that choose the training defaults.
TUNING_CELLS: list[dict[str, Any]] = [
    {"name": "tfim30-Jm1-20k", "state": "tfim", "J": -1.0, "h": -1.0, "n": 30, "shots": 20_000},
    {"name": "tfim40-h1-15k", "state": "tfim", "J": 1.0, "h": 1.0, "n": 40, "shots": 15_000},
    {"name": "tfim40-h1.5-10k", "state": "tfim", "J": 1.0, "h": 1.5, "n": 40, "shots": 10_000},
    {"name": "tfim16-h0.8-50k", "state": "tfim", "J": 1.0, "h": 0.8, "n": 16, "shots": 50_000},
    {"name": "tfim30-h1-60k", "state": "tfim", "J": 1.0, "h": 1.0, "n": 30, "shots": 60_000},
    {"name": "tfim30-Jm1-60k", "state": "tfim", "J": -1.0, "h": -1.0, "n": 30,
     "shots": 60_000},
    {"name": "ghz30-tetra-3k", "state": "ghz", "povm": "tetra", "n": 30, "shots": 3_000},
    {"name": "ghz24-tetra-2k", "state": "ghz", "povm": "tetra", "n": 24, "shots": 2_000},
    {"name": "ghz8-pauli6-20k", "state": "ghz", "povm": "pauli6", "n": 8, "shots": 20_000},
    {"name": "tfim8-h1-20k", "state": "tfim", "J": 1.0, "h": 1.0, "n": 8, "shots": 20_000},
]

#: Cells that report the defaults (never used to choose them).
VALIDATION_CELLS: list[dict[str, Any]] = [
    *({"name": f"tfim{n}-J{'m' if s < 0 else ''}1-{k // 1000}k", "state": "tfim", "J": s,
       "h": s, "n": n, "shots": k}
      for n in (20, 50) for s in (1.0, -1.0) for k in (5_000, 20_000, 100_000)),
    {"name": "tfim50-h0.5-20k", "state": "tfim", "J": 1.0, "h": 0.5, "n": 50, "shots": 20_000},
    {"name": "tfim50-h2-20k", "state": "tfim", "J": 1.0, "h": 2.0, "n": 50, "shots": 20_000},
    {"name": "ghz20-tetra-2k", "state": "ghz", "povm": "tetra", "n": 20, "shots": 2_000},
    {"name": "ghz40-tetra-2k", "state": "ghz", "povm": "tetra", "n": 40, "shots": 2_000},
    {"name": "w10-20k", "state": "w", "n": 10, "shots": 20_000},
    {"name": "random-mps20-20k", "state": "random-mps", "n": 20, "shots": 20_000},
]

#: Acceptance cells that are not validation cells: TFIM-10 at 100,000 shots (a figure the
#: defaults must reach), and a deliberately over-fitted run (``qtomo train --epochs 60 --keep
#: last`` on the 50-qubit, 20,000-shot data of the 2019 sign convention) that ``qtomo
#: reconstruct`` must flag.
EXTRA_CELLS: list[dict[str, Any]] = [
    {"name": "tfim10-h1-100k", "state": "tfim", "J": 1.0, "h": 1.0, "n": 10, "shots": 100_000},
    {"name": "tfim50-Jm1-20k-keep-last-60", "state": "tfim", "J": -1.0, "h": -1.0, "n": 50,
     "shots": 20_000, "train": {"epochs": 60, "keep": "last"}},
]

SPLITS = {"tuning": TUNING_CELLS, "validation": VALIDATION_CELLS, "extra": EXTRA_CELLS}


def cell_seed(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _simulate(cell: dict[str, Any], data: Path) -> None:
    from qtomo.data.simulate import SimulateConfig, simulate

    kw: dict[str, Any] = {"state": cell["state"], "povm": cell.get("povm", "pauli4"),
                          "n_qubits": cell["n"], "shots": cell["shots"],
                          "noise": cell.get("noise", 0.0), "seed": cell_seed(cell["name"])}
    if cell["state"] == "tfim":
        kw.update(J=cell["J"], h=cell["h"], boundary="open")
    simulate(SimulateConfig(**kw), data)


def run_cell(cell: dict[str, Any], work: Path, *, reconstruct_too: bool = True) -> dict[str, Any]:
    """Simulate, train with the CLI's defaults, reconstruct; the cell's record."""
    from qtomo.reconstruction.run import ReconstructConfig, reconstruct
    from qtomo.training.config import dataset_config
    from qtomo.training.session import run_training

    d = work / cell["name"]
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    data, run = d / "data.h5", d / "run"
    t0 = time.perf_counter()
    _simulate(cell, data)
    t1 = time.perf_counter()
    cfg = dataset_config(data, "gru", seed=cell_seed(cell["name"]), **cell.get("train", {}))
    s = run_training(data, run, cfg, progress=False)
    t2 = time.perf_counter()
    out: dict[str, Any] = {
        **cell, "seed": cell_seed(cell["name"]),
        "classical_fidelity": s["classical_fidelity"],
        "classical_fidelity_se": s["classical_fidelity_se"],
        "kl_divergence": s["kl_divergence"], "kl_divergence_se": s["kl_divergence_se"],
        "kept_epoch": s["kept_epoch"], "best_val_epoch": s["best_epoch"],
        "best_epoch_classical_fidelity": s["best_classical_fidelity"],
        "best_epoch_classical_fidelity_epoch": s["best_classical_fidelity_epoch"],
        "train_seconds": s["train_seconds"], "epochs": s["epochs"], "stopped": s["stopped"],
        "simulate_seconds": t1 - t0, "hparams": s["hparams"],
        "config": {k: getattr(cfg, k) for k in ("lr_schedule", "patience", "keep", "batch_size",
                                                "epochs", "ema_decay")},
    }
    if reconstruct_too:
        rep = reconstruct(data, run, ReconstructConfig()).report
        out["reconstruct_seconds"] = time.perf_counter() - t2
        out.update(_report_figures(rep))
    return out


def _report_figures(rep: dict[str, Any]) -> dict[str, Any]:
    """Headline, verdict and the model's energy against E0 from a report."""
    head = rep["headline"]["quantum_fidelity"]
    cons = rep.get("consistency") or {}
    energy = (rep.get("observables") or {}).get("scalars", {}).get("energy") or {}
    e0 = rep["provenance"]["dataset"]["target"].get("energy")
    model_e = energy.get("model") or {}
    z_below = None
    if model_e.get("value") is not None and e0 is not None and math.isfinite(e0):
        se = model_e.get("stderr") or 0.0
        z_below = (e0 - model_e["value"]) / se if se > 0 else None
    return {
        "headline_source": head.get("source"), "headline_f": head.get("value"),
        "headline_se": head.get("stderr"), "exact_f": head.get("exact"),
        "consistent": cons.get("consistent"), "failed": cons.get("failed"),
        "headline_energy_estimator": (rep["headline"].get("energy") or {}).get("estimator"),
        "model_energy": model_e.get("value"), "model_energy_se": model_e.get("stderr"),
        "direct_energy": (energy.get("direct") or {}).get("value"),
        "ground_energy": e0, "model_energy_z_below_e0": z_below,
    }


def within(r: dict[str, Any], tol: float = 0.002) -> bool | None:
    """The kept model's F_c within ``tol`` of the best epoch's."""
    a, b = r.get("classical_fidelity"), r.get("best_epoch_classical_fidelity")
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return b - a <= tol


def energy_ok(r: dict[str, Any]) -> bool | None:
    """No headline from a model whose energy lies > 3 s.e. below E0."""
    z = r.get("model_energy_z_below_e0")
    if z is None:
        return None
    return not (z > 3 and r.get("headline_energy_estimator") == "model samples")


def _f(v: Any, spec: str = ".5f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) \
        else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| cell | F_c kept (epoch) | best epoch F_c (epoch) | within 0.002 | KL kept "
            "| best val epoch | train s | stopped | verdict | headline source "
            "| model E - E0 (s.e.) |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        w = within(r)
        verdict = ("n/a" if r.get("consistent") is None else "ok" if r["consistent"]
                   else "flagged: " + ", ".join(r.get("failed") or []))
        z = r.get("model_energy_z_below_e0")
        lines.append(
            f"| {r['name']} | {_f(r['classical_fidelity'])} ({r['kept_epoch']}) "
            f"| {_f(r['best_epoch_classical_fidelity'])} "
            f"({r['best_epoch_classical_fidelity_epoch']}) "
            f"| {'-' if w is None else 'yes' if w else 'NO'} | {_f(r['kl_divergence'])} "
            f"| {r['best_val_epoch']} | {_f(r['train_seconds'], '.1f')} | {r['stopped']} "
            f"| {verdict} | {str(r.get('headline_source', 'n/a')).split(':')[0][:40]} "
            f"| {_f(-z if z is not None else None, '+.1f')} |")
    ws = [within(r) for r in rows]
    lines.append(f"\nkept F_c within 0.002 of the best epoch's in {sum(bool(w) for w in ws)} of "
                 f"{sum(w is not None for w in ws)} cells")
    return "\n".join(lines)


def records(r: dict[str, Any], benchlib: Any, split: str) -> None:
    """Append the cell's figures to benchmarks/results/bench_families.jsonl."""
    extra = {"split": split, "kept_epoch": r["kept_epoch"], "best_val_epoch": r["best_val_epoch"],
             "epochs": r["epochs"], "stopped": r["stopped"], "config": r["config"]}
    recs = [
        ("classical_fidelity", r["classical_fidelity"], r["classical_fidelity_se"], ""),
        ("kl_divergence", r["kl_divergence"], r["kl_divergence_se"], "nats"),
        ("best_epoch_classical_fidelity", r["best_epoch_classical_fidelity"], None, ""),
        ("train_seconds", r["train_seconds"], None, "s"),
    ]
    if r.get("model_energy_z_below_e0") is not None:
        recs.append(("model_energy_z_below_e0", r["model_energy_z_below_e0"], None, "s.e."))
    if r.get("headline_f") is not None:
        recs.append(("headline_fidelity", r["headline_f"], r.get("headline_se"), ""))
    for metric, value, se, unit in recs:
        benchlib.record("families", r["name"], metric, value, stderr=se, unit=unit,
                        extra={**extra, "headline_source": r.get("headline_source"),
                               "consistent": r.get("consistent")})


def run_split(split: str, only: list[str] | None, cache: Path, *, redo: bool,
              table_only: bool, benchlib: Any) -> list[dict[str, Any]]:
    """Run (or read from ``cache``) the cells of one split; print each as it ends."""
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / "work"
    rows = []
    for cell in SPLITS[split]:
        if only and cell["name"] not in only:
            continue
        path = cache / f"{cell['name']}.json"
        r = json.loads(path.read_text()) if path.exists() and not redo else None
        if r is None and not table_only:
            t = time.perf_counter()
            try:
                r = run_cell(cell, work)
            finally:
                shutil.rmtree(work / cell["name"], ignore_errors=True)
            r["cell_seconds"] = time.perf_counter() - t
            path.write_text(json.dumps(r, indent=1) + "\n")
            records(r, benchlib, split)
        if r is not None:
            rows.append(r)
            print(table([r]).splitlines()[2], flush=True)
    return rows
