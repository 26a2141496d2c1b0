"""Lab data with readout errors and fixed designs, end to end with the CLI's defaults.

Three cases, each through ``qtomo import``/``simulate``, ``qtomo train`` and ``qtomo
reconstruct`` exactly as a user types them (defaults, subprocesses):

* ``ghz4``: ``data/ghz4_counts.json`` (noisy GHZ-4, p = 0.05; readout P(1|0) = 0.02,
  P(0|1) = 0.05 on every qubit; 81 settings x 1,000 shots; 10,000 calibration shots each of
  |0000> and |1111>; made by the independent ``scripts/make_lab_counts.py``). Target: the
  headline fidelity (model) and the direct estimate within 0.005 of the exact 0.8591, the 95%
  interval covering it; the uncorrected figures printed beside.
* ``ghz6``: noisy GHZ-6 (p = 0.05) in 40 random settings (of 729) x 500 shots, from
  ``make_lab_counts.py --n 6 --settings 40 --shots 500`` with perfect readout (the case is
  about the design). Trained with the default likelihood (conditional, for a fixed design)
  and with ``--likelihood joint``; target: the conditional model within 0.01 of exact.
* ``tfim8``: ``qtomo simulate --state tfim -n 8 --povm pauli6 --shots 100000
  --readout-error 0.03,0.03``; target: model fidelity >= 0.98.

    python scripts/bench_readout.py [--cases ghz4,ghz6,tfim8] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

ROOT = Path(__file__).resolve().parents[1]
QTOMO = [sys.executable, "-m", "qtomo.cli.main"]


def qtomo(*args: object) -> dict:
    """Run ``qtomo ARGS --json``; the parsed JSON, with the wall time."""
    t0 = time.perf_counter()
    r = subprocess.run([*QTOMO, *map(str, args), "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"qtomo {' '.join(map(str, args))} failed:\n{r.stderr[-2000:]}")
    sys.stdout.flush()
    out = json.loads(r.stdout)
    out["_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def make_counts(path: Path, *extra: str) -> dict:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_lab_counts.py"), "--out",
                    str(path), *extra], check=True, capture_output=True)
    return json.loads(path.read_text())["comment"]


def train_and_reconstruct(data: Path, run: Path, *train_args: str) -> tuple[dict, dict]:
    t = qtomo("train", data, "--out", run, "--overwrite", *train_args)
    rec = qtomo("reconstruct", run, "--data", data, "--out", run.with_suffix(".report"),
                "--overwrite")
    return t, rec


def line(label: str, rec: dict, exact: float, tol: float | None = None) -> str:
    f, se, ci = rec["quantum_fidelity"], rec["quantum_fidelity_stderr"], \
        rec.get("quantum_fidelity_ci95")
    covers = ci is not None and ci[0] <= exact <= ci[1]
    ok = "" if tol is None else ("  within %.3g: %s" % (tol, "yes" if abs(f - exact) <= tol
                                                         else "NO"))
    unc = rec.get("quantum_fidelity_uncorrected")
    unc_txt = "" if unc is None else f"; uncorrected {unc:.4f}"
    ci_txt = "none" if ci is None else f"[{ci[0]:.4f}, {ci[1]:.4f}] covers: {covers}"
    se_txt = "(no error bar)" if se is None else f"{se:.4f}"
    return (f"  {label}: {f:.4f} +- {se_txt} (exact {exact:.4f}, diff {f - exact:+.4f}), "
            f"95% {ci_txt}{ok}{unc_txt}\n    source: {rec['quantum_fidelity_source']}")


def record(case: str, metric: str, value: object, stderr: object = None, **extra: object
           ) -> None:
    """One printed figure as a benchmark record (``scripts/benchlib.py``)."""
    benchlib.record("readout", case, metric, value, stderr=stderr, extra=extra)


def case_ghz4(work: Path) -> None:
    src = ROOT / "data" / "ghz4_counts.json"
    exact = json.loads(src.read_text())["comment"]["exact_fidelity_to_ghz"]
    data = work / "ghz4.h5"
    qtomo("import", src, "--target", "ghz", "--out", data, "--overwrite")
    direct = qtomo("reconstruct", "--data", data, "--out", work / "ghz4_direct", "--overwrite")
    t, rec = train_and_reconstruct(data, work / "ghz4_run")
    print(f"ghz4 (data/ghz4_counts.json, exact {exact:.4f}); train {t['_seconds']} s, "
          f"reconstruct {rec['_seconds']} s")
    print(line("headline (model)", rec, exact, 0.005))
    print(f"  direct: {rec['direct_fidelity']:.4f} +- {rec['direct_fidelity_stderr']:.4f}"
          f" (diff {rec['direct_fidelity'] - exact:+.4f}, within 0.005: "
          f"{'yes' if abs(rec['direct_fidelity'] - exact) <= 0.005 else 'NO'}); uncorrected "
          f"{rec['direct_fidelity_uncorrected']:.4f}; calibration s.e. "
          f"{rec['calibration_stderr']:.4f} (in the error bars)")
    print(line("without a model", direct, exact, 0.005))
    record("ghz4", "headline_fidelity", rec["quantum_fidelity"], rec["quantum_fidelity_stderr"],
           exact=exact, ci95=rec.get("quantum_fidelity_ci95"),
           source=rec["quantum_fidelity_source"])
    record("ghz4", "direct_fidelity", rec["direct_fidelity"], rec["direct_fidelity_stderr"],
           exact=exact, calibration_stderr=rec["calibration_stderr"])
    record("ghz4", "direct_fidelity_uncorrected", rec["direct_fidelity_uncorrected"],
           exact=exact)
    record("ghz4", "headline_fidelity_without_model", direct["quantum_fidelity"],
           direct["quantum_fidelity_stderr"], exact=exact)


def case_ghz6(work: Path, seed: int = 61) -> None:
    counts = work / "ghz6_counts.json"
    comment = make_counts(counts, "--n", "6", "--settings", "40", "--shots", "500",
                          "--p10", "0", "--p01", "0", "--seed", str(seed))
    exact = comment["exact_fidelity_to_ghz"]
    data = work / "ghz6.h5"
    qtomo("import", counts, "--target", "ghz", "--out", data, "--overwrite")
    print(f"ghz6 (40 random settings x 500 shots, design seed {seed}, exact {exact:.4f})")
    for label, args in (("conditional (default)", ()), ("joint", ("--likelihood", "joint"))):
        t, rec = train_and_reconstruct(data, work / f"ghz6_{args[-1] if args else 'cond'}",
                                       *args)
        print(line(f"{label}, train {t['_seconds']} s", rec, exact,
                   0.01 if not args else None))
        print(f"    model's own state (before any fallback): {rec['quantum_fidelity_model']}; "
              f"direct: {rec['direct_fidelity']} (none on an incomplete design); reconstruct "
              f"{rec['_seconds']} s")
        case, key = f"ghz6 design seed {seed}", "conditional" if not args else "joint"
        record(case, f"{key}_headline_fidelity", rec["quantum_fidelity"],
               rec["quantum_fidelity_stderr"], exact=exact,
               ci95=rec.get("quantum_fidelity_ci95"), source=rec["quantum_fidelity_source"])
        record(case, f"{key}_model_fidelity", rec["quantum_fidelity_model"], exact=exact)
        if rec.get("fidelity_range") is not None:
            lo, hi = rec["fidelity_range"]
            print(f"    fidelities the shots allow (95%, all states): [{lo:.4f}, {hi:.4f}], "
                  f"covers exact: {lo <= exact <= hi}; determined by the design: "
                  f"{rec['fidelity_determined']}")
            for end, v in (("low", lo), ("high", hi)):
                record(case, f"{key}_fidelity_range_{end}", v, exact=exact,
                       determined=rec["fidelity_determined"])


def case_tfim8(work: Path) -> None:
    data = work / "tfim8.h5"
    qtomo("simulate", "--state", "tfim", "-n", "8", "--povm", "pauli6", "--shots", "100000",
          "--readout-error", "0.03,0.03", "--out", data, "--overwrite")
    t, rec = train_and_reconstruct(data, work / "tfim8_run")
    f = rec["quantum_fidelity_model"] if rec.get("quantum_fidelity_model") is not None \
        else rec["quantum_fidelity"]
    print(f"tfim8 (readout 0.03 both ways, 100k Pauli-6 shots); train {t['_seconds']} s, "
          f"reconstruct {rec['_seconds']} s")
    print(line("headline", rec, 1.0))
    print(f"  model fidelity {f:.4f} (target >= 0.98: {'yes' if f >= 0.98 else 'NO'}); "
          f"direct {rec['direct_fidelity']:.4f} +- {rec['direct_fidelity_stderr']:.4f}, "
          f"uncorrected {rec['direct_fidelity_uncorrected']:.4f}")
    record("tfim8", "model_fidelity", f, train_s=t["_seconds"])
    record("tfim8", "direct_fidelity", rec["direct_fidelity"], rec["direct_fidelity_stderr"])
    record("tfim8", "direct_fidelity_uncorrected", rec["direct_fidelity_uncorrected"])


CASES = {"ghz4": case_ghz4, "ghz6": case_ghz6, "tfim8": case_tfim8}


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--work", type=Path, default=None, help="keep the files here")
    ap.add_argument("--ghz6-seed", type=int, default=61,
                    help="design seed of the ghz6 case (make_lab_counts.py --seed) [61]")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="qtomo_readout_"))
    work.mkdir(parents=True, exist_ok=True)
    for name in args.cases.split(","):
        if name == "ghz6":
            case_ghz6(work, args.ghz6_seed)
        else:
            CASES[name](work)


if __name__ == "__main__":
    main()
