"""Acceptance figures of ``qtomo train`` (issue 4), printed as plain lines and one JSON line.

Sections (``--only`` picks some; each runs the real commands with their defaults):

* ``throughput``: training steps per second at N=50, K=4, 3 GRU layers, hidden 100, batch
  1000, for qtomo's fused GRU model (the Trainer's step: AdamW, clipping, bf16 autocast where
  the CPU has bf16 matrix units) and, side by side in the same process, for the per-qubit-loop
  float64 form of the same network that public reimplementations use (``nn.GRUCell`` stack
  stepped qubit by qubit in Python). Also the model's achieved GFLOP/s as a fraction of the
  float32 GEMM rate measured in the same run.
* ``tfim10``: ``qtomo simulate --n-qubits 10 --h 1 --shots 100000`` then
  ``qtomo train DATA --out RUN`` (defaults); exact F_c and KL by summing over all 4^10 strings
  with ``born_probabilities``.
* ``tfim50``: N=50 (DMRG/MPS data, 100,000 shots), defaults; F_c and KL on the 10,000
  evaluation shots with exact log P.
* ``ghz40``: GHZ N=40, tetrahedral POVM, 2,000 shots, defaults; F_c and KL on the
  evaluation shots.

Run under the shared CPU lock, one section at a time on a shared machine, e.g.
``flock /tmp/qtomo_cpu.lock python scripts/bench_train.py --only tfim10``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
import numpy as np
import torch
from torch import nn

SECTIONS = ("throughput", "tfim10", "tfim50", "ghz40")


# -- throughput ---------------------------------------------------------------------------------
class LoopGRU(nn.Module):
    """The per-qubit-loop float64 form: GRUCell stack stepped over the qubits in Python."""

    def __init__(self, n: int, k: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.n, self.k = n, k
        self.cells = nn.ModuleList(
            [nn.GRUCell(k if i == 0 else hidden, hidden) for i in range(layers)]
        )
        self.head = nn.Linear(hidden, k)
        self.hidden = hidden
        self.double()

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        b = a.shape[0]
        h = [torch.zeros(b, self.hidden, dtype=torch.float64) for _ in self.cells]
        x = torch.zeros(b, self.k, dtype=torch.float64)
        lp = torch.zeros(b, dtype=torch.float64)
        for j in range(self.n):
            inp = x
            for i, cell in enumerate(self.cells):
                h[i] = cell(inp, h[i])
                inp = h[i]
            logp = torch.log_softmax(self.head(inp), dim=-1)
            lp = lp + logp.gather(1, a[:, j : j + 1]).squeeze(1)
            x = nn.functional.one_hot(a[:, j], self.k).double()
        return -lp


def gemm_rate(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """GFLOP/s of an n x n x n matrix product."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def gru_train_flops(n: int, k: int, hidden: int, layers: int, batch: int) -> float:
    """FLOPs of one training step of qtomo's GRU (matrix products; backward = 2x forward)."""
    per_site = sum(2 * hidden * 3 * hidden * 2 for _ in range(layers)) + 2 * hidden * k
    return 3.0 * per_site * n * batch


def bench_throughput(rounds: int = 5, steps: int = 3) -> dict:
    from qtomo.models.registry import build_model
    from qtomo.training.config import resolve_precision

    n, k, hidden, layers, batch = 50, 4, 100, 3, 1000
    torch.manual_seed(0)
    a = torch.randint(0, k, (batch, n))
    prec = resolve_precision("auto", torch.device("cpu"))
    ours = build_model("gru", n, k, hidden=hidden, layers=layers)
    loop = LoopGRU(n, k, hidden, layers)

    def stepper(model: nn.Module, autocast: bool):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step() -> None:
            ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if autocast
                   else torch.autocast("cpu", enabled=False))
            with ctx:
                loss = model(a).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        return step

    runs = {"qtomo": stepper(ours, prec == "bf16"), "loop_float64": stepper(loop, False),
            "qtomo_fp32": stepper(ours, False)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for f in runs.values():  # warm-up
        f()
    for _ in range(rounds):  # interleaved, so machine noise hits all alike
        for name, f in runs.items():
            t = time.perf_counter()
            for _ in range(steps):
                f()
            times[name].append((time.perf_counter() - t) / steps)
    med = {name: float(np.median(v)) for name, v in times.items()}
    f32 = gemm_rate(torch.float32)
    bf16 = gemm_rate(torch.bfloat16)
    flops = gru_train_flops(n, k, hidden, layers, batch)
    achieved = flops / med["qtomo"] / 1e9
    return {
        "precision": prec,
        "threads": torch.get_num_threads(),
        "qtomo_shots_per_s": batch / med["qtomo"],
        "qtomo_fp32_shots_per_s": batch / med["qtomo_fp32"],
        "loop_float64_shots_per_s": batch / med["loop_float64"],
        "speedup_vs_loop": med["loop_float64"] / med["qtomo"],
        "speedup_fp32_vs_loop": med["loop_float64"] / med["qtomo_fp32"],
        "achieved_gflops": achieved,
        "gemm_fp32_gflops": f32,
        "gemm_bf16_gflops": bf16,
        "fraction_of_fp32_gemm": achieved / f32,
    }


# -- fidelity sections ----------------------------------------------------------------------------
def qtomo(*args: str) -> dict:
    """Run ``qtomo ARGS --json`` as a user would; return its JSON."""
    exe = shutil.which("qtomo") or str(Path(sys.executable).parent / "qtomo")
    p = subprocess.run([exe, *args, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"qtomo {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def train_section(work: Path, name: str, sim_args: list[str], exact: bool) -> dict:
    data = work / f"{name}.h5"
    if not data.exists():
        t = time.perf_counter()
        qtomo("simulate", *sim_args, "--out", str(data))
        print(f"[{name}] simulated {data} in {time.perf_counter() - t:.1f} s", flush=True)
    run = work / f"{name}_run"
    cmd = ["train", str(data), "--out", str(run), "--overwrite"]
    print(f"[{name}] qtomo {' '.join(cmd)}", flush=True)
    s = qtomo(*cmd)
    out = {k: s[k] for k in ("classical_fidelity", "classical_fidelity_se", "kl_divergence",
                             "kl_divergence_se", "val_nll", "epochs", "best_epoch", "stopped",
                             "train_seconds", "shots_per_second", "hparams", "precision")}
    out["command"] = "qtomo " + " ".join(cmd)
    if exact:
        from qtomo.data.hdf5 import open_dataset
        from qtomo.povm.born import all_outcomes, born_probabilities
        from qtomo.training import load_run
        from qtomo.training.metrics import log_prob_numpy, scores_exact

        model, _ = load_run(run)
        with open_dataset(data) as ds:
            psi, frame, n, k = ds.target_array("psi"), ds.frame, ds.n_qubits, ds.K
        p = born_probabilities(psi, frame)
        sc = scores_exact(log_prob_numpy(model, all_outcomes(n, k)), p)
        out["exact_classical_fidelity"] = sc.classical_fidelity
        out["exact_kl_divergence"] = sc.kl_divergence
    return out


TARGETS = {
    "tfim10": ("exact_classical_fidelity", 0.999, "exact_kl_divergence", 0.003, 60),
    "tfim50": ("classical_fidelity", 0.996, "kl_divergence", 0.015, 600),
    "ghz40": ("classical_fidelity", 0.995, None, None, None),
}


def verdict(name: str, r: dict) -> str:
    fk, fmin, kk, kmax, tmax = TARGETS[name]
    ok = r[fk] >= fmin
    parts = [f"{fk} {r[fk]:.5f} (target >= {fmin})"]
    if kk:
        ok &= r[kk] <= kmax
        parts.append(f"{kk} {r[kk]:.5f} (target <= {kmax})")
    if tmax:
        ok &= r["train_seconds"] <= tmax
        parts.append(f"train_seconds {r['train_seconds']:.1f} (target <= {tmax})")
    return ("PASS " if ok else "MISS ") + ", ".join(parts)


def record(sec: str, r: dict) -> None:
    """The figures a section printed, as benchmark records (``scripts/benchlib.py``)."""
    if sec == "throughput":
        info = {"precision": r["precision"], "threads": r["threads"], "n": 50, "K": 4,
                "layers": 3, "hidden": 100, "batch": 1000}
        keys = (("qtomo_shots_per_s", "shots/s"), ("loop_float64_shots_per_s", "shots/s"),
                ("speedup_vs_loop", ""), ("qtomo_fp32_shots_per_s", "shots/s"),
                ("speedup_fp32_vs_loop", ""), ("achieved_gflops", "GFLOP/s"),
                ("fraction_of_fp32_gemm", ""), ("gemm_fp32_gflops", "GFLOP/s"),
                ("gemm_bf16_gflops", "GFLOP/s"))
        benchlib.write_records("train", [{"case": sec, "metric": k, "value": r[k], "unit": u,
                                          "extra": info} for k, u in keys])
        return
    info = {"epochs": r["epochs"], "best_epoch": r["best_epoch"], "stopped": r["stopped"],
            "command": r["command"], "verdict": verdict(sec, r)}
    rows = [{"case": sec, "metric": "classical_fidelity", "value": r["classical_fidelity"],
             "stderr": r["classical_fidelity_se"], "extra": info},
            {"case": sec, "metric": "kl_divergence", "value": r["kl_divergence"],
             "stderr": r["kl_divergence_se"], "unit": "nats", "extra": info},
            {"case": sec, "metric": "train_s", "value": r["train_seconds"], "unit": "s",
             "extra": info}]
    if "exact_classical_fidelity" in r:
        rows += [{"case": sec, "metric": "classical_fidelity_exact",
                  "value": r["exact_classical_fidelity"], "extra": info},
                 {"case": sec, "metric": "kl_divergence_exact", "value": r["exact_kl_divergence"],
                  "unit": "nats", "extra": info}]
    benchlib.write_records("train", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--work", default=None, help="Folder for datasets and runs (kept).")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    work = Path(args.work or tempfile.mkdtemp(prefix="qtomo_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for sec in args.only:
        if sec == "throughput":
            r = bench_throughput()
            print(f"[throughput] N=50 K=4 3x100 GRU batch 1000 ({r['precision']}, "
                  f"{r['threads']} threads): qtomo {r['qtomo_shots_per_s']:.0f} shots/s, "
                  f"loop float64 {r['loop_float64_shots_per_s']:.0f} shots/s, "
                  f"ratio {r['speedup_vs_loop']:.2f}x (target >= 2); qtomo fp32 "
                  f"{r['qtomo_fp32_shots_per_s']:.0f} shots/s ({r['speedup_fp32_vs_loop']:.2f}x)",
                  flush=True)
            print(f"[throughput] achieved {r['achieved_gflops']:.1f} GFLOP/s = "
                  f"{r['fraction_of_fp32_gemm']:.2f} of the fp32 GEMM rate "
                  f"{r['gemm_fp32_gflops']:.0f} GFLOP/s (bf16 GEMM {r['gemm_bf16_gflops']:.0f})",
                  flush=True)
        elif sec == "tfim10":
            r = train_section(work, sec, ["--n-qubits", "10", "--h", "1", "--shots", "100000",
                                          "--seed", "1"], exact=True)
            print(f"[tfim10] {verdict(sec, r)}", flush=True)
        elif sec == "tfim50":
            r = train_section(work, sec, ["--n-qubits", "50", "--h", "1", "--shots", "100000",
                                          "--seed", "1"], exact=False)
            print(f"[tfim50] {verdict(sec, r)}", flush=True)
        else:
            r = train_section(work, sec, ["--state", "ghz", "--n-qubits", "40", "--povm",
                                          "tetra", "--shots", "2000", "--seed", "1"],
                              exact=False)
            print(f"[ghz40] {verdict(sec, r)}", flush=True)
        results[sec] = r
        record(sec, r)
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
