"""Fidelity of the model's MLE state at every blend weight, on bench_families cells.

For each cell (the dataset and training of ``scripts/bench_families.py``: same seed, the CLI's
training defaults, no members) this trains the GRU once (or reuses the run in
``--cache-dir``), reconstructs with ``ReconstructConfig()`` and records the fidelity of the
state fitted to (1 - w) Q + w f_train at every w of ``qtomo.reconstruction.blend.BLEND_WEIGHTS``
(the refits ``choose_weight`` makes, captured as they happen), the weight the current rule
chose, the posterior mean of w it is the grid point nearest to, and each weight's validation-NLL
excess over the best with its standard error and posterior probability -- so that any weight
rule can be judged on the same runs.

    python scripts/bench_blend.py tfim-h0.5:0:8:20000 cluster:0:8:20000
    python scripts/bench_blend.py --cache-dir out/bench_blend ghz-pauli4:0:10:20000

A cell is FAMILY:NOISE:N:SHOTS with the families of bench_families.py. One JSON per cell in
the cache; each cell prints one line.
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


def scan_cell(cell: tuple[str, float, int, int], cache: Path) -> dict[str, Any]:
    import qtomo.reconstruction.blend as bl
    from qtomo.data.hdf5 import open_dataset
    from qtomo.data.simulate import simulate
    from qtomo.reconstruction import metrics as mt
    from qtomo.reconstruction.run import ReconstructConfig, reconstruct
    from qtomo.training.trainer import run_training

    key = bf.cell_key(*cell)
    seed = bf.cell_seed(key)
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
    model = rec.report["quantum"]["model"]
    blend = model.get("blend") or {}
    with open_dataset(data) as ds:
        psi = mt.target_state(ds.target_array("psi"))
    table_only = (model.get("mle_table_only") or model["mle"])["fidelity"]
    fids = [table_only] + [mt.physical_fidelity(r, psi)
                           for r in states[: len(bl.BLEND_WEIGHTS) - 1]]
    out = {"key": key, "train_seconds": summary.get("train_seconds"),
           "weights": list(bl.BLEND_WEIGHTS), "fidelity_at_weight": fids,
           "chosen_weight": blend.get("weight"), "posterior_mean": blend.get("posterior_mean"),
           "validation_shots": blend.get("validation_shots"),
           "candidates": [(c["weight"], c["excess_over_best"], c["excess_stderr"],
                           c.get("posterior"))
                          for c in blend.get("candidates", [])],
           "model_fidelity": model["mle"]["fidelity"]}
    (d / "blend.json").write_text(json.dumps(out, indent=1))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells", nargs="+", type=parse_cell, help="FAMILY:NOISE:N:SHOTS")
    ap.add_argument("--cache-dir", type=Path, default=Path("out/bench_blend"))
    args = ap.parse_args(argv)
    for cell in args.cells:
        r = scan_cell(cell, args.cache_dir)
        f = " / ".join(f"{x:.5f}" for x in r["fidelity_at_weight"])
        print(f"{r['key']}: F at w = 0 .. 1: {f}; chosen w = {r['chosen_weight']} "
              f"(posterior mean {r['posterior_mean']:.3f}), F = {r['model_fidelity']:.5f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
