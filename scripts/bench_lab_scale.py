"""Lab-scale fidelity from planned designs, end to end with the CLI (issue "Lab-scale fidelity",
its acceptance list).

Cases, each through ``qtomo plan`` -> ``qtomo simulate --design`` (the design's target: no
``--state``) -> ``qtomo reconstruct`` as a user types them (subprocesses), ``--datasets K``
independent datasets per cell (20 by default):

* ``ghz-parity``: GHZ-N, N = 20 and 50, local depolarizing p = 0.01 and readout error
  P(1|0) = 0.01, P(0|1) = 0.02 with calibration counts; the design of ``qtomo plan
  --protocol parity --precision 0.005`` (told the noise and readout it should budget for).
  Target: fidelity within 0.02 of the exact value, 95% interval covering it in >= 18 of 20.
* ``cluster-stabilizer``: 1-D cluster, N = 20 and 50, p = 0.01, ``--protocol stabilizer
  --precision 0.01``: within 0.03, covering in >= 18 of 20, the number of settings printed for
  both N (it should not grow with N).
* ``tfim-energy``: TFIM ground state, N = 50, h = 2 and h = 1, p = 0.001, ``--protocol energy``
  at 10^5 shots and, beside it, 10^5 random Pauli-6 shots (their energy gives the plain bound
  (E1 - <H>)/(E1 - E0); random bases do not read the 50-qubit parity the design's bound uses):
  the one-sided 95% lower bound below the exact fidelity in 20 of 20 datasets, within 0.1 of it
  at h = 2.
* ``bad-input``: a protocol that does not fit the target, a design with one setting less than
  its plan, a design whose axes are not unit vectors: one line, a non-zero exit, no file.

``--quick`` runs every case at N = 20 only with K = 2 datasets: a check that the pipeline
works, not the benchmark (its records carry ``quick: true``).

Exact fidelities of the noisy states are computed here, independently of qtomo's estimators:
GHZ in closed form, the cluster state by a transfer matrix over the stabilizer group's weights,
the TFIM by contracting two copies of the DMRG ground state through the depolarizing channel
(the two contractions are checked against each other and the closed form first).
``qtomo reconstruct`` of each 50-qubit dataset must take <= 60 s and ``qtomo plan`` <= 5 s.

The figures are read from the lab-scale block (JSON key :data:`LAB_KEY`) of ``qtomo
reconstruct --json``; ``--dry-run`` prints the commands without running anything.

    python scripts/bench_lab_scale.py [--cases ghz-parity,...] [--datasets 20] [--work DIR]
    python scripts/bench_lab_scale.py --quick
    python scripts/bench_lab_scale.py --dry-run
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib
import numpy as np

from qtomo.reconstruction.lab_scale.results import Z95_ONE_SIDED
from qtomo.states.exact import tfim_lowest_energies
from qtomo.states.targets import build_target

QTOMO = [sys.executable, "-m", "qtomo.cli.main"]
#: The lab-scale block in the summary of ``qtomo reconstruct --json``.
LAB_KEY = "lab_scale"
NOISE = {"ghz-parity": 0.01, "cluster-stabilizer": 0.01, "tfim-energy": 0.001}
READOUT = "0.01,0.02"
CALIBRATION_SHOTS = 20_000
PAULI6_SHOTS = 100_000
CASES = ("ghz-parity", "cluster-stabilizer", "tfim-energy", "bad-input")


# --- exact fidelities of the noisy states ---------------------------------------------------------
def ghz_fidelity(n: int, p: float) -> float:
    """``<GHZ| E_p(GHZ) |GHZ> = (a^N + b^N + (1 - p)^N) / 2``, a = 1 - p/2, b = p/2."""
    return ((1 - p / 2) ** n + (p / 2) ** n + (1 - p) ** n) / 2


def cluster_fidelity(n: int, p: float) -> float:
    """``2^-N sum_S (1 - p)^w(S)`` over the 1-D cluster's group: element ``prod_i K_i^{a_i}``
    acts on qubit j unless a_j = 0 and a_{j-1} = a_{j+1} (a_{-1} = a_N = 0). A transfer
    matrix over (a_{j-1}, a_j) sums it exactly."""
    weight = np.zeros((2, 2))  # (a_{j-1}, a_j) -> summed weight, starting with a_{-1} = 0
    weight[0, 0] = weight[0, 1] = 1.0
    for j in range(n):
        nxt = np.zeros((2, 2))
        for prev in (0, 1):
            for cur in (0, 1):
                for after in ((0, 1) if j < n - 1 else (0,)):
                    acts = cur == 1 or prev != after
                    nxt[cur, after] += weight[prev, cur] * ((1 - p) if acts else 1.0)
        weight = nxt
    return float(weight.sum() / 2**n)


def mps_noisy_fidelity(tensors: list[np.ndarray], p: float) -> float:
    """``<psi| E_p^{(x)N}(|psi><psi|) |psi>`` of a normalised MPS (legs vL p vR).

    With ``E_p(rho) = (1 - p) rho + p Tr_q(rho) I/2`` on every qubit,
    F = sum_S (1 - p)^{N-|S|} (p/2)^{|S|} Tr[rho_{not S}^2]: two copies of |psi><psi|, their
    physical legs paired across the copies on kept qubits and within each copy on traced ones.
    """
    env = np.ones((1, 1, 1, 1))  # ket1 bra1 ket2 bra2
    for a in tensors:
        c = a.conj()
        keep = np.einsum("abcd,asA,btB,ctC,dsD->ABCD", env, a, c, a, c, optimize=True)
        traced = np.einsum("abcd,asA,bsB,cuC,duD->ABCD", env, a, c, a, c, optimize=True)
        env = (1 - p) * keep + (p / 2) * traced
    return float(np.real(env.reshape(-1)[0]))


def tfim_fidelity(n: int, h: float, p: float) -> float:
    """Exact fidelity of the noisy DMRG ground state (bond cap 128, cutoff 1e-12)."""
    t = build_target("tfim", n, h=h, method="dmrg", cutoff=1e-12, chi=128)
    return mps_noisy_fidelity(t.mps.tensors, p)


# --- the CLI --------------------------------------------------------------------------------------
class Runner:
    """Runs (or, dry, prints) qtomo commands; returns their ``--json`` output."""

    def __init__(self, dry: bool) -> None:
        self.dry = dry

    def __call__(self, *args: object, expect_fail: bool = False) -> dict[str, Any] | None:
        cmd = [*QTOMO, *map(str, args), "--json"]
        if self.dry:
            print("  $ qtomo " + " ".join(shlex.quote(str(a)) for a in args) + " --json")
            return None
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if expect_fail:
            return {"returncode": r.returncode, "stderr": r.stderr, "_seconds": seconds}
        if r.returncode != 0:
            raise SystemExit(f"qtomo {' '.join(map(str, args))} failed:\n{r.stderr[-2000:]}")
        out = json.loads(r.stdout)
        out["_seconds"] = seconds
        return out


def plan_args(state: str, n: int, protocol: str, design: Path, *extra: object) -> list[object]:
    return ["plan", "--state", state, "-n", n, "--protocol", protocol, *extra, "--out", design,
            "--overwrite"]


def dataset(run: Runner, design: Path, data: Path, noise: float, seed: int,
            readout: bool) -> None:
    extra: list[object] = ["--readout-error", READOUT, "--calibration-shots",
                           CALIBRATION_SHOTS] if readout else []
    run("simulate", "--design", design, "--noise", noise, *extra, "--seed", seed,
        "--out", data, "--overwrite")


def lab_figure(rec: dict[str, Any]) -> dict[str, Any]:
    """The lab-scale block of a reconstruct summary (its absence is a failure)."""
    if not rec.get(LAB_KEY):
        raise SystemExit("qtomo reconstruct --json has no lab-scale block for a planned design")
    return rec[LAB_KEY]


#: Extra fields of every record (``quick: true`` under --quick).
RECORD_EXTRA: dict[str, Any] = {}


def record(case: str, metric: str, value: object, stderr: object = None, unit: str = "",
           **extra: object) -> None:
    """One printed figure as a benchmark record (``scripts/benchlib.py``)."""
    benchlib.record("lab_scale", case, metric, value, stderr=stderr, unit=unit,
                    extra={**RECORD_EXTRA, **extra})


def check_exact() -> None:
    """The exact fidelities agree with each other: the MPS contraction against the GHZ closed
    form and against the cluster transfer matrix (N = 20, where targets are MPS)."""
    p = 0.01
    for state, n, closed in (("ghz", 20, ghz_fidelity), ("cluster", 20, cluster_fidelity)):
        mps = build_target(state, n).mps
        got = mps_noisy_fidelity(mps.tensors, p)
        if abs(got - closed(n, p)) > 1e-10:
            raise SystemExit(f"exact {state} fidelities disagree: {got} vs {closed(n, p)}")


# --- the cases ------------------------------------------------------------------------------------
def estimate_cell(run: Runner, work: Path, case: str, state: str, n: int, protocol: str,
                  plan_extra: list[object], exact: float | None, tol: float,
                  datasets: int) -> None:
    design = work / f"{case}-{n}.json"
    noise = NOISE[case]
    readout = case == "ghz-parity"
    plan = run(*plan_args(state, n, protocol, design, *plan_extra))
    label = f"{case} N={n}"
    print(f"{label}: exact fidelity "
          + ("computed at run time" if exact is None else f"{exact:.5f}"))
    if plan is not None:
        print(f"  plan: {plan['n_settings']} settings, {plan['shots_total']} shots, predicted "
              f"stderr {plan['predicted_stderr']:.4f}, {plan['_seconds']:.1f} s (target <= 5 s)")
        record(label, "settings", plan["n_settings"], shots=plan["shots_total"])
        record(label, "plan_wall_s", plan["_seconds"], unit="s")
    hits, errs, times = 0, [], []
    for seed in range(1, datasets + 1):
        data = work / f"{case}-{n}-{seed}.h5"
        dataset(run, design, data, noise, seed, readout)
        rec = run("reconstruct", "--data", data, "--out", work / f"{case}-{n}-{seed}.report",
                  "--overwrite")
        if rec is None:
            print(f"  (x {datasets} seeds)")
            return
        fig = lab_figure(rec)
        lo, hi = fig["ci95"]
        hits += int(lo <= exact <= hi)
        errs.append(fig["value"] - exact)
        times.append(rec["_seconds"])
        record(label, "fidelity", fig["value"], fig["stderr"], exact=exact, seed=seed,
               ci95=[lo, hi], reconstruct_s=rec["_seconds"])
    worst = float(np.max(np.abs(errs)))
    print(f"  |F - exact| <= {worst:.4f} (target {tol}: {'yes' if worst <= tol else 'NO'}); "
          f"covered {hits}/{datasets} (target >= {int(0.9 * datasets)}); reconstruct "
          f"{max(times):.1f} s at most (target <= 60 s at N = 50)")
    record(label, "coverage", hits / datasets, datasets=datasets)
    record(label, "max_abs_error", worst, tolerance=tol)
    record(label, "reconstruct_wall_s_max", max(times), unit="s")


def energy_cell(run: Runner, work: Path, n: int, h: float, datasets: int) -> None:
    p, case = NOISE["tfim-energy"], "tfim-energy"
    exact = None if run.dry else tfim_fidelity(n, h, p)
    design = work / f"tfim-{n}-{h:g}.json"
    label = f"{case} N={n} h={h:g}"
    run(*plan_args("tfim", n, "energy", design, "--h", h, "--shots", PAULI6_SHOTS))
    print(f"{label}: exact fidelity " + ("computed at run time" if exact is None
                                         else f"{exact:.5f}"))
    e0, e1 = tfim_lowest_energies(n, 1.0, h)
    below, below6, gaps = 0, 0, []
    for seed in range(1, datasets + 1):
        data, p6 = work / f"tfim-{n}-{h:g}-{seed}.h5", work / f"tfim-{n}-{h:g}-{seed}-p6.h5"
        dataset(run, design, data, p, seed, readout=False)
        rec = run("reconstruct", "--data", data, "--out", work / f"tfim-{n}-{h:g}-{seed}.report",
                  "--overwrite")
        run("simulate", "--state", "tfim", "-n", n, "--h", h, "--noise", p, "--povm", "pauli6",
            "--shots", PAULI6_SHOTS, "--seed", seed, "--out", p6, "--overwrite")
        rec6 = run("reconstruct", "--data", p6,
                   "--out", work / f"tfim-{n}-{h:g}-{seed}-p6.report",
                   "--overwrite")
        if rec is None or rec6 is None:
            print(f"  (x {datasets} seeds)")
            return
        fig = lab_figure(rec)
        lb = fig["lower_bound95"]
        below += int(lb <= exact)
        gaps.append(exact - lb)
        record(label, "lower_bound95", lb, exact=exact, seed=seed, bound_value=fig["value"],
               reconstruct_s=rec["_seconds"])
        lb6 = (e1 - (rec6["energy"] + Z95_ONE_SIDED * rec6["energy_stderr"])) / (e1 - e0)
        below6 += int(lb6 <= exact)
        record(label, "pauli6_lower_bound95", lb6, exact=exact, seed=seed,
               energy=rec6["energy"], energy_stderr=rec6["energy_stderr"])
    print(f"  bound below the exact fidelity in {below}/{datasets} (target {datasets}); "
          f"exact - bound at most {max(gaps):.4f}" + (" (target <= 0.1)" if h == 2 else ""))
    print(f"  beside it, the same bound from {PAULI6_SHOTS} random Pauli-6 shots: below the "
          f"exact fidelity in {below6}/{datasets}")
    record(label, "bound_below_exact", below / datasets, datasets=datasets)
    record(label, "max_gap_to_exact", max(gaps))


def refused(r: dict[str, Any] | None, path: Path, what: str, metric: str) -> None:
    """Print and record whether a command failed in one line, leaving no ``path``."""
    if r is None:
        return
    ok = (r["returncode"] != 0 and len(r["stderr"].strip().splitlines()) == 1
          and not path.exists())
    print(f"  {what}: exit {r['returncode']}, {r['stderr'].strip()!r}: "
          f"{'ok' if ok else 'NOT OK'}")
    record("bad-input", metric, int(ok))


def bad_inputs(run: Runner, work: Path) -> None:
    print("bad-input:")
    out = work / "bad.json"
    r = run(*plan_args("tfim", 20, "parity", out, "--precision", 0.005), expect_fail=True)
    refused(r, out, "parity for a TFIM target", "protocol_mismatch_refused")
    design = work / "ghz-short.json"
    run(*plan_args("ghz", 10, "parity", design, "--precision", 0.01))
    edits = (("ghz-short", "setting count off the plan", "setting_count_refused"),
             ("ghz-not-unit", "axes that are not unit vectors", "non_unit_axes_refused"))
    for name, what, metric in edits:
        bad = work / f"{name}.json"
        if not run.dry:
            spec = json.loads(design.read_text())
            if name == "ghz-short":
                spec["settings"] = spec["settings"][:-1]  # the plan block now disagrees
            else:
                row = spec["settings"][2]
                row["vectors"] = [[1.0, 0.0, 0.1]] * len(row.pop("axes"))
            bad.write_text(json.dumps(spec))
        data = work / f"{name}.h5"
        r = run("simulate", "--design", bad, "--out", data, expect_fail=True)
        refused(r, data, what, metric)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--datasets", type=int, default=20, metavar="K",
                    help="independent datasets per cell (default 20)")
    ap.add_argument("--quick", action="store_true",
                    help="N = 20 only, K = 2: check the pipeline, not the acceptance")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = ap.parse_args(argv)
    run = Runner(args.dry_run)
    work = args.work or Path(tempfile.mkdtemp(prefix="qtomo-lab-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = args.cases.split(",")
    sizes, k = ((20,), 2) if args.quick else ((20, 50), args.datasets)
    if args.quick:
        RECORD_EXTRA["quick"] = True
    if not args.dry_run:
        check_exact()
    for n in sizes:
        if "ghz-parity" in cases:
            estimate_cell(run, work, "ghz-parity", "ghz", n, "parity",
                          ["--precision", 0.005, "--noise", NOISE["ghz-parity"],
                           "--readout-error", READOUT], ghz_fidelity(n, NOISE["ghz-parity"]),
                          0.02, k)
        if "cluster-stabilizer" in cases:
            p = NOISE["cluster-stabilizer"]
            estimate_cell(run, work, "cluster-stabilizer", "cluster", n, "stabilizer",
                          ["--precision", 0.01, "--noise", p], cluster_fidelity(n, p), 0.03, k)
    if "tfim-energy" in cases:
        for h in (2.0, 1.0):
            energy_cell(run, work, sizes[-1], h, k)
    if "bad-input" in cases:
        bad_inputs(run, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
