#!/usr/bin/env python
"""Compare qtomo's density estimators on the same data: one table, cached and resumable.

Cells (datasets, simulated once with ``qtomo simulate`` into the work directory):

* ``tfim6``:  TFIM J = h = 1, N = 6,  Pauli-4, 100,000 shots (+ 10,000 evaluation shots)
* ``tfim10``: TFIM J = h = 1, N = 10, Pauli-4, 100,000 shots
* ``ghz20``:  GHZ, N = 20, tetrahedral, 2,000 shots
* ``ghz80``:  GHZ, N = 80, tetrahedral, 5,000 shots (acceptance cell of the transformer; not
  in the default set)

Rows: every model (``flow-nice``, ``flow-realnvp``, ``flow-glow`` are ``--model flow`` with
``--flow``), each trained with ``qtomo train DATA --model NAME --max-minutes M`` (its defaults
otherwise), plus two references that need no training: the product of the exact single-site
marginals (a floor: no correlations) and the direct estimator (the training shots themselves).

Columns per cell: classical fidelity F_c and KL(P||Q) (exact sums over all K^N strings for
N <= 6, and for N <= 10 for models with an exact likelihood; Monte Carlo over the evaluation
shots, which have exact log P, otherwise), the errors of
<Z_0 Z_1> and <X_2> (from 200,000 model samples, or the training shots for the direct
estimator) against the exact values, the quantum fidelity <psi|rho|psi> (squared convention) of
rho = sum_a Q(a) D(a) at N = 6, the training time and the parameter count.

Labels: ``~`` marks an importance-weighted *estimate* of log Q (flow, VAE; 128 importance samples, 1,024 when all strings are scored,
samples, more than the models' training-time default) carried into F_c and KL; ``h`` marks a
*histogram* of 10^6 model samples (GAN: no likelihood; direct estimator: the training shots'
frequencies), for which KL uses add-1/2 smoothing; ``-`` is not available.

Every result is cached in a JSON file as soon as it exists, so runs can be split (``--models``,
``--cells``) and the table assembled later (``--table``). Run the training under the shared CPU
lock, in short pieces, e.g.::

    flock /tmp/qtomo_cpu.lock python scripts/bench_models.py --models conv --cells tfim10
    python scripts/bench_models.py --table
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchlib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["gru", "conv", "transformer", "flow-nice", "flow-realnvp", "flow-glow", "vae", "gan"]
DEFAULT_MODELS = [m for m in MODELS if m != "gru"]
REFERENCES = ["product", "direct"]
CELLS = {
    "tfim6": ["--n-qubits", "6", "--h", "1", "--shots", "100000"],
    "tfim10": ["--n-qubits", "10", "--h", "1", "--shots", "100000"],
    "ghz20": ["--state", "ghz", "--n-qubits", "20", "--povm", "tetra", "--shots", "2000"],
    "ghz80": ["--state", "ghz", "--n-qubits", "80", "--povm", "tetra", "--shots", "5000"],
}
DEFAULT_CELLS = ["tfim6", "tfim10", "ghz20"]
TITLES = {"tfim6": "TFIM N=6 (100k)", "tfim10": "TFIM N=10 (100k)", "ghz20": "GHZ N=20 (2k)",
          "ghz80": "GHZ N=80 (5k)"}
OBS_SAMPLES = 200_000
HIST_SAMPLES = 1_000_000
EXACT_MAX_STRINGS = 4**6
#: Models with an exact likelihood are scored by exact sums up to this many strings (N = 10).
EXACT_LOGPROB_MAX_STRINGS = 4**10
#: Importance samples of the log Q estimates of flow and VAE in the benchmark.
EVAL_IW_SAMPLES = 128
#: Importance samples when every string is scored (N <= 6: 4,096 strings, ~100 s per model).
EVAL_IW_SAMPLES_ALL_STRINGS = 1024


def qtomo_cmd() -> list[str]:
    return [sys.executable, "-m", "qtomo.cli.main"]


def dataset(workdir: Path, cell: str) -> Path:
    path = workdir / f"{cell}.h5"
    if not path.exists():
        subprocess.run(qtomo_cmd() + ["simulate", *CELLS[cell], "--out", str(path)],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def train(workdir: Path, cell: str, row: str, minutes: float, seed: int) -> tuple[Path, dict]:
    data = dataset(workdir, cell)
    run = workdir / "runs" / f"{cell}-{row}"
    model, *flow = row.split("-", 1)
    cmd = qtomo_cmd() + ["train", str(data), "--model", model, "--out", str(run),
                         "--max-minutes", str(minutes), "--device", "cpu", "--seed", str(seed),
                         "--overwrite", "--json", "--no-progress"]
    if flow:
        cmd += ["--flow", flow[0]]
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    summary = json.loads(res.stdout)
    summary["wall_seconds"] = time.time() - t0
    return run, summary


# -- references ------------------------------------------------------------------------------
class Truth:
    """Exact P (small N), exact log P of the evaluation shots, exact observables."""

    def __init__(self, path: Path) -> None:
        from qtomo.data.hdf5 import open_dataset
        from qtomo.povm.born import born_probabilities

        with open_dataset(path) as ds:
            self.n, self.K, self.frame = ds.n_qubits, ds.K, ds.frame
            self.train_a = ds.outcomes()
            self.eval_a, self.eval_lp = ds.eval_outcomes(), ds.eval_log_p()
            psi = ds.target_array("psi")
            self.target = ds.target
            x, zz = ds.target_array("x_exact"), ds.target_array("zz_exact")
        self.psi = psi
        self.p = born_probabilities(psi, self.frame) if psi is not None and self.n <= 10 else None
        if x is None or zz is None:  # GHZ: <X_j> = 0 (N > 2), <Z_i Z_j> = 1
            self.x2, self.zz01 = 0.0, 1.0
        else:
            self.x2, self.zz01 = float(np.ravel(x)[2]), float(np.asarray(zz)[0, 1])

    def marginals(self) -> np.ndarray:
        """Exact single-site outcome marginals (N, K)."""
        if self.p is not None:
            t = self.p.reshape((self.K,) * self.n)
            return np.stack([t.sum(axis=tuple(i for i in range(self.n) if i != j))
                             for j in range(self.n)])
        # GHZ: every single-qubit reduced state is I/2, so P_j(a) = Tr[M(a)] / 2
        m = np.real(np.trace(self.frame.elements, axis1=1, axis2=2)) / 2
        return np.tile(m, (self.n, 1))


def observables(truth: Truth, a: np.ndarray) -> dict[str, float]:
    from qtomo.povm.born import estimate, pauli_q_values

    zz = estimate(pauli_q_values(a, truth.frame, {0: "Z", 1: "Z"})).value
    x = estimate(pauli_q_values(a, truth.frame, {2: "X"})).value
    return {"err_zz01": abs(zz - truth.zz01), "err_x2": abs(x - truth.x2)}


def quantum_fidelity(truth: Truth, q: np.ndarray) -> float:
    from qtomo.povm.born import rho_from_probabilities

    rho = rho_from_probabilities(q, truth.frame, truth.n)
    return float(np.real(truth.psi.conj() @ rho @ truth.psi))


def histogram_scores(truth: Truth, a: np.ndarray) -> dict[str, Any]:
    """F_c, smoothed KL and JS of the frequencies of ``a`` against the exact P (small N)."""
    from qtomo.povm.born import outcome_index

    size = truth.K**truth.n
    counts = np.bincount(outcome_index(a, truth.K), minlength=size).astype(np.float64)
    freq = counts / counts.sum()
    smooth = (counts + 0.5) / (counts.sum() + 0.5 * size)
    p = truth.p
    pos = p > 0
    mix = 0.5 * (p + freq)
    js = 0.5 * np.sum(p[pos] * np.log(p[pos] / mix[pos]))
    fp = freq > 0
    js += 0.5 * np.sum(freq[fp] * np.log(freq[fp] / mix[fp]))
    return {"fc": float(np.sum(np.sqrt(p * freq))),
            "kl": float(np.sum(p[pos] * np.log(p[pos] / smooth[pos]))), "js": float(js),
            "label": "h", "q_table": freq}


def evaluate_model(truth: Truth, run: Path) -> dict[str, Any]:
    import torch

    from qtomo.povm.born import all_outcomes
    from qtomo.training import load_run
    from qtomo.training.metrics import log_prob_numpy, scores_exact, scores_from_samples

    torch.manual_seed(0)
    model, _ = load_run(run)
    g = torch.Generator().manual_seed(1)
    out: dict[str, Any] = {}
    if model.has_likelihood:
        label = "" if model.exact_log_prob else "~"
        q_table = None
        exact_max = EXACT_LOGPROB_MAX_STRINGS if model.exact_log_prob else EXACT_MAX_STRINGS
        all_strings = truth.p is not None and truth.K**truth.n <= exact_max
        if hasattr(model, "iw_samples"):  # a tighter importance-weighted estimate than training's
            iw = EVAL_IW_SAMPLES_ALL_STRINGS if all_strings else EVAL_IW_SAMPLES
            model.iw_samples = iw
            out["iw_samples"] = iw
        if all_strings:
            lq = log_prob_numpy(model, all_outcomes(truth.n, truth.K))
            s = scores_exact(lq, truth.p)
            q_table = np.exp(lq) if truth.K**truth.n <= EXACT_MAX_STRINGS else None
            out["scored_on"] = "all strings"
        else:
            s = scores_from_samples(log_prob_numpy(model, truth.eval_a), truth.eval_lp)
            out["scored_on"] = f"{len(truth.eval_a)} evaluation shots"
        out.update(fc=s.classical_fidelity, fc_se=s.classical_fidelity_se,
                   kl=s.kl_divergence, kl_se=s.kl_divergence_se, label=label)
        if q_table is not None and truth.psi is not None:
            out["fq"] = quantum_fidelity(truth, q_table)
        if q_table is not None and not model.exact_log_prob:
            # cross-check of the estimate: the histogram of the model's own samples
            h = histogram_scores(truth, model.sample(HIST_SAMPLES, g).cpu().numpy())
            out.update(fc_hist=h["fc"], kl_hist=h["kl"])
        if model.name == "vae":
            out["active_units"] = model.active_units(truth.eval_a)
            out["latent"] = model.latent
    elif truth.p is not None:  # no likelihood: histogram of model samples
        h = histogram_scores(truth, model.sample(HIST_SAMPLES, g).cpu().numpy())
        q_table = h.pop("q_table")
        out.update(h, scored_on=f"histogram of {HIST_SAMPLES} samples")
        if truth.psi is not None and truth.K**truth.n <= EXACT_MAX_STRINGS:
            out["fq"] = quantum_fidelity(truth, q_table)
    out.update(observables(truth, model.sample(OBS_SAMPLES, g).cpu().numpy()))
    return out


def evaluate_reference(truth: Truth, row: str) -> dict[str, Any]:
    from qtomo.povm.born import all_outcomes

    out: dict[str, Any] = {"train_seconds": 0.0, "n_parameters": 0}
    if row == "product":
        m = truth.marginals()  # N K
        if truth.p is not None and truth.K**truth.n <= EXACT_MAX_STRINGS:
            a = all_outcomes(truth.n, truth.K)
            q = np.prod(m[np.arange(truth.n), a], axis=1)
            pos = truth.p > 0
            out.update(fc=float(np.sum(np.sqrt(truth.p * q))),
                       kl=float(np.sum(truth.p[pos] * np.log(truth.p[pos] / q[pos]))),
                       fq=quantum_fidelity(truth, q), label="")
        else:
            lq = np.sum(np.log(m[np.arange(truth.n), truth.eval_a]), axis=1)
            d = lq - truth.eval_lp
            out.update(fc=float(np.mean(np.exp(0.5 * d))), kl=float(-np.mean(d)), label="")
        # observables of the product state: <Z0 Z1> = <Z0><Z1>, <X2> exact
        from qtomo.povm.born import _PAULI_INDEX

        def site_mean(j: int, letter: str) -> float:
            return float(m[j] @ truth.frame.pauli_table[_PAULI_INDEX[letter]])

        out["err_zz01"] = abs(site_mean(0, "Z") * site_mean(1, "Z") - truth.zz01)
        out["err_x2"] = abs(site_mean(2, "X") - truth.x2)
        out["n_parameters"] = int(truth.n * (truth.K - 1))
    else:  # direct estimator: the training shots
        if truth.p is not None:
            h = histogram_scores(truth, truth.train_a)
            q_table = h.pop("q_table")
            out.update(h)
            if truth.K**truth.n <= EXACT_MAX_STRINGS:
                out["fq"] = quantum_fidelity(truth, q_table)
        out.update(observables(truth, truth.train_a))
    return out


# -- table -----------------------------------------------------------------------------------
def fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def table(results: dict[str, Any], rows: list[str], cells: list[str]) -> str:
    head = ["model", "params*"]
    for c in cells:
        t = TITLES[c]
        head += [f"{t} F_c", f"{t} KL", f"{t} dZZ01 / dX2"]
        if c == "tfim6":
            head.append(f"{t} F_q")
        head.append(f"{t} time s")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        params = next((results[f"{c}/{r}"].get("n_parameters") for c in cells
                       if f"{c}/{r}" in results), None)
        line = [r, fmt(params, "d")]
        for c in cells:
            e = results.get(f"{c}/{r}", {})
            lab = e.get("label", "")
            line += [fmt(e.get("fc"), ".4f") + lab if "fc" in e else "-",
                     fmt(e.get("kl"), ".4f") + lab if "kl" in e else "-",
                     f"{fmt(e.get('err_zz01'), '.3f')} / {fmt(e.get('err_x2'), '.3f')}"
                     if e else "-"]
            if c == "tfim6":
                line.append(fmt(e.get("fq"), ".4f"))
            line.append(fmt(e.get("train_seconds"), ".0f") if e else "-")
        lines.append("| " + " | ".join(line) + " |")
    notes = []
    for key in sorted(results):
        e = results[key]
        if "fc_hist" in e:
            notes.append(f"{key}: F_c of a histogram of 10^6 samples {e['fc_hist']:.4f} "
                         f"(estimate {e['fc']:.4f})")
        if "active_units" in e:
            notes.append(f"{key}: {e['active_units']} of {e['latent']} latent units active")
        if "error" in e:
            notes.append(f"{key}: FAILED: {e['error']}")
    legend = ("F_c: classical fidelity; KL: KL(P||Q) in nats; exact sums over all strings at "
              "N=6 (and N=10 for exact likelihoods: conv, transformer, gru), Monte Carlo over "
              "10,000 evaluation shots otherwise. ~: from the "
              "importance-weighted estimate of log Q (flow, VAE; 1,024 samples when all strings are scored, else 128). h: histogram "
              "of 10^6 model samples (GAN) or of the training shots (direct); its KL uses "
              "add-1/2 smoothing. "
              "dZZ01 / dX2: |error| of <Z0 Z1> and <X2>. F_q: <psi|rho|psi> (squared "
              "convention). time: training wall time (shared 2-core CPU), the 3-minute budget "
              "is checked after each step, so the last epoch's validation can overshoot it. "
              "params*: parameter count in the first cell shown (conv and flows grow with N).")
    return "\n".join(lines + ["", legend] + (["", *notes] if notes else []))


def record(key: str, e: dict[str, Any]) -> None:
    """A freshly computed cell of the table as benchmark records (``scripts/benchlib.py``):
    the figures its row shows, with the label (``~`` estimate, ``h`` histogram) kept."""
    info = {k: e[k] for k in ("label", "scored_on", "n_parameters", "epochs", "active_units",
                              "latent", "fc_hist") if k in e}
    names = (("fc", "classical_fidelity", "", "fc_se"), ("kl", "kl_divergence", "nats", "kl_se"),
             ("err_zz01", "abs_error_zz01", "", None), ("err_x2", "abs_error_x2", "", None),
             ("fq", "quantum_fidelity_inversion", "", None),
             ("train_seconds", "train_s", "s", None))
    benchlib.write_records("models", [
        {"case": key, "metric": metric, "value": e[k], "stderr": e.get(se) if se else None,
         "unit": unit, "extra": info} for k, metric, unit, se in names if k in e])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS + REFERENCES),
                    help=f"comma list from {','.join(MODELS + REFERENCES)}")
    ap.add_argument("--cells", default=",".join(DEFAULT_CELLS),
                    help=f"comma list from {','.join(CELLS)}")
    ap.add_argument("--minutes", type=float, default=3.0, help="training budget per cell")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--workdir", default=str(ROOT / "runs" / "bench_models"))
    ap.add_argument("--cache", default=None, help="results JSON [WORKDIR/results.json]")
    ap.add_argument("--force", action="store_true", help="redo cached results")
    ap.add_argument("--table", action="store_true", help="only print the table from the cache")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reeval", action="store_true",
                    help="evaluate the existing runs again (no training)")
    args = ap.parse_args(argv)
    rows = [r.strip() for r in args.models.split(",") if r.strip()]
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    bad = [r for r in rows if r not in MODELS + REFERENCES] + [c for c in cells if c not in CELLS]
    if bad:
        ap.error(f"unknown model or cell: {', '.join(bad)}")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else workdir / "results.json"
    results: dict[str, Any] = json.loads(cache.read_text()) if cache.exists() else {}
    if not args.table:
        import torch

        torch.set_num_threads(args.threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        for c in cells:
            truth = None
            for r in rows:
                key = f"{c}/{r}"
                if key in results and "error" not in results[key] and not args.force and not (
                    args.reeval and r not in REFERENCES
                ):
                    continue
                print(f"[bench] {key} ...", file=sys.stderr, flush=True)
                try:
                    truth = truth or Truth(dataset(workdir, c))
                    if r in REFERENCES:
                        e = evaluate_reference(truth, r)
                    elif args.reeval:
                        run = workdir / "runs" / f"{c}-{r}"
                        e = {**{k: v for k, v in results.get(key, {}).items()},
                             **evaluate_model(truth, run)}
                    else:
                        run, summary = train(workdir, c, r, args.minutes, args.seed)
                        e = evaluate_model(truth, run)
                        e.update({k: summary.get(k) for k in (
                            "train_seconds", "n_parameters", "epochs", "stopped", "val_nll",
                            "hparams")})
                        e["trainer_fc"] = summary.get("classical_fidelity")
                        e["trainer_kl"] = summary.get("kl_divergence")
                except Exception as exc:  # keep going; the failure is cached and shown
                    e = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                e["when"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                # merge into the file as it is now (another run may have added results)
                results = json.loads(cache.read_text()) if cache.exists() else {}
                results[key] = e
                tmp = cache.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(results, indent=1, sort_keys=True))
                tmp.replace(cache)
                print(f"[bench] {key}: " + json.dumps(
                    {k: v for k, v in e.items() if k not in ("hparams",)}), file=sys.stderr)
                if "error" not in e:
                    record(key, e)
    all_rows = [r for r in MODELS + REFERENCES if any(f"{c}/{r}" in results for c in cells)]
    print(table(results, all_rows, cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
