#!/usr/bin/env python
"""Benchmark the batched exact MPS sampler and exact log-probabilities.

Builds the N-qubit critical TFIM ground state by DMRG (J = h = 1, open) with the settings
``qtomo simulate`` uses by default (``--chi 64 --cutoff 1e-10``; pass ``--cutoff 1e-14``
for the tightest state), draws Pauli-4 shots and scores them, and prints shots per second with
the bond dimension and the relative energy error of the state that was sampled. Also checks a
sample statistic against the exact free-fermion <Z_i Z_{i+1}> (Pauli-4 classical-shadow
estimate) as a sanity check.

Run it under the shared CPU lock::

    flock /tmp/qtomo_cpu.lock .venv/bin/python scripts/bench_sampling.py [--shots 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import benchlib
import numpy as np

from qtomo.povm.frames import get_frame
from qtomo.povm.sampling import log_prob_mps, sample_mps
from qtomo.data.simulate import SimulateConfig
from qtomo.states.dmrg import dmrg_tfim
from qtomo.states.exact import tfim_ground_energy, tfim_zz_matrix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--shots", type=int, default=1_000_000)
    ap.add_argument("--logp-shots", type=int, default=100_000)
    ap.add_argument("--povm", default="pauli4")
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chi", type=int, default=SimulateConfig.chi)
    ap.add_argument("--cutoff", type=float, default=SimulateConfig.cutoff)
    args = ap.parse_args()
    frame = get_frame(args.povm)
    if args.noise > 0:
        frame = frame.depolarized(args.noise)
    t0 = time.perf_counter()
    res = dmrg_tfim(args.n, 1.0, 1.0, chi_max=args.chi, cutoff=args.cutoff)
    t_dmrg = time.perf_counter() - t0
    mps = res.mps
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    shots = sample_mps(mps, frame, args.shots, rng)
    t_sample = time.perf_counter() - t0
    m = min(args.logp_shots, args.shots)
    t0 = time.perf_counter()
    lp = log_prob_mps(mps, frame, shots[:m])
    t_logp = time.perf_counter() - t0
    # sanity: shadow estimate of <Z_i Z_{i+1}> averaged over the chain vs free fermions
    qz = frame.pauli_table[3][shots]  # Tr[Z D(a)] per qubit
    est = float((qz[:, :-1] * qz[:, 1:]).mean())
    exact = float(np.diag(tfim_zz_matrix(args.n, 1, 1), 1).mean()) * (1 - args.noise) ** 2
    e0 = tfim_ground_energy(args.n, 1.0, 1.0)
    print(f"# cpu count {os.cpu_count()}")
    result = {
        "n": args.n,
        "povm": frame.name,
        "cutoff": args.cutoff,
        "max_bond": mps.max_bond,
        "rel_energy_error": abs(res.energy - e0) / abs(e0),
        "dmrg_s": round(t_dmrg, 2),
        "shots": args.shots,
        "sample_s": round(t_sample, 2),
        "sample_shots_per_s": round(args.shots / t_sample),
        "logp_shots": m,
        "logp_s": round(t_logp, 2),
        "logp_shots_per_s": round(m / t_logp),
        "mean_log_p": float(lp.mean()),
        "zz_nn_estimate": round(est, 4),
        "zz_nn_exact": round(exact, 4),
    }
    print(json.dumps(result))
    case = f"TFIM N={args.n} {frame.name}"
    info = {k: result[k] for k in ("shots", "logp_shots", "cutoff", "max_bond", "zz_nn_estimate",
                                   "zz_nn_exact")}
    benchlib.write_records("sampling", [
        {"case": case, "metric": key, "value": result[key], "unit": unit, "extra": info}
        for key, unit in (("sample_shots_per_s", "shots/s"), ("sample_s", "s"),
                     ("logp_shots_per_s", "shots/s"), ("dmrg_s", "s"), ("rel_energy_error", ""))])


if __name__ == "__main__":
    main()
