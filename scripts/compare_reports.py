"""Do two versions of qtomo give the same reports? A safety net for restructuring the
reconstruction: every figure of ``report.json`` must come out the same.

``--make DIR`` runs a fixed list of cases through the command line (``qtomo simulate``,
``import``, ``train``, ``reconstruct``; fixed seeds, CPU, one thread, short trainings: the point
is identical numbers, not quality) and keeps every report as ``DIR/reports/<case>.json``::

    PYTHONPATH=/path/to/checkout python scripts/compare_reports.py --make out/reports_base

``--reuse BASE`` takes the datasets and trained runs of an earlier ``--make`` instead of making
them again (training is the slow part, and the comparison is about ``qtomo reconstruct``), so
only the reconstructions run.

``--compare A B`` prints every numeric field (numbers, booleans, nulls) of A's reports that B
lacks or gives differently (relative difference above ``RTOL``), and the numeric fields only
B has; it exits with 1 on any difference or missing field. Fields are matched by their value
path (``headline.quantum_fidelity.value``, list items by index); a field that moved is matched
through ``RENAMES`` (old path prefix -> new path prefix); fields that change from run to run
(dates, versions, paths) are in ``IGNORE``.

Cases (``--only a,b`` runs a subset): a TFIM-10 model and the same shots without one, noisy
GHZ-4 from 81,000 simulated shots with bootstrap members, the shipped ``data/ghz4_lab.csv``
and ``data/ghz4_counts.json`` (readout-corrected with its calibration counts; with and
without a model, and without the correction), a GHZ-6 fixed design of 40 settings made by
``scripts/make_lab_counts.py`` (with a model and without), a DMRG TFIM-18 and a GHZ-18 run,
and a TFIM-6 model trained for one epoch, which the consistency check rejects (the fallback).
Inputs shared by several cases are made by the first case that needs them (``--only`` of a
later case alone needs them in DIR already).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Relative difference above which two numbers differ.
RTOL = 1e-12
#: Training options every case shares: CPU, fp32 (bit-identical reruns), a small network.
TRAIN = ["--device", "cpu", "--precision", "fp32", "--no-progress", "--overwrite"]
#: The environment of every command: one thread (numbers independent of the machine's cores).
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def sim(name: str, *args: Any) -> list[str]:
    return ["simulate", *map(str, args), "--out", f"{{d}}/data/{name}.h5", "--overwrite"]


def imp(name: str, src: str, *args: Any) -> list[str]:
    return ["import", src, *map(str, args), "--out", f"{{d}}/data/{name}.h5", "--overwrite"]


def train(name: str, data: str, *args: Any) -> list[str]:
    return ["train", f"{{d}}/data/{data}.h5", "--out", f"{{d}}/runs/{name}", *map(str, args),
            *TRAIN]


def rec(data: str, run: str | None, *args: Any) -> list[str]:
    head = ["reconstruct"] + ([f"{{d}}/runs/{run}"] if run else [])
    return [*head, "--data", f"{{d}}/data/{data}.h5", *map(str, args), "--overwrite",
            "--no-progress", "--json"]


#: name -> (commands that make the inputs, the reconstruct command); ``{d}`` is --make's DIR,
#: ``{root}`` this checkout. Inputs of several cases are made by the first case that needs them.
CASES: dict[str, tuple[list[list[str]], list[str]]] = {
    "tfim10_model": (
        [sim("tfim10", "--state", "tfim", "-n", 10, "--povm", "pauli4", "--shots", 20000,
             "--eval-shots", 2000, "--seed", 11),
         train("tfim10", "tfim10", "--epochs", 3, "--seed", 5)],
        rec("tfim10", "tfim10", "--samples", 20000)),
    "tfim10_nomodel": ([], rec("tfim10", None)),
    "ghz4_noisy81k": (
        [sim("ghz4n", "--state", "ghz", "-n", 4, "--povm", "pauli6", "--noise", 0.05,
             "--shots", 81000, "--eval-shots", 2000, "--seed", 12),
         train("ghz4n", "ghz4n", "--epochs", 4, "--bootstrap", 3, "--seed", 5)],
        rec("ghz4n", "ghz4n", "--samples", 20000)),
    "ghz4_lab_csv": (
        [imp("ghz4lab", "{root}/data/ghz4_lab.csv", "--target", "ghz")],
        rec("ghz4lab", None)),
    "ghz4_counts": (
        [imp("ghz4counts", "{root}/data/ghz4_counts.json", "--target", "ghz")],
        rec("ghz4counts", None)),
    "ghz4_counts_uncorrected": ([], rec("ghz4counts", None, "--no-readout-correction")),
    "ghz4_counts_model": (
        [train("ghz4counts", "ghz4counts", "--epochs", 3, "--bootstrap", 2, "--seed", 5)],
        rec("ghz4counts", "ghz4counts", "--samples", 20000)),
    "ghz6_fixed": (
        [[sys.executable, "{root}/scripts/make_lab_counts.py", "--n", "6", "--settings", "40",
          "--shots", "500", "--out", "{d}/data/ghz6_counts.json"],
         imp("ghz6fixed", "{d}/data/ghz6_counts.json", "--target", "ghz"),
         train("ghz6fixed", "ghz6fixed", "--epochs", 2, "--bootstrap", 0, "--seed", 5)],
        rec("ghz6fixed", "ghz6fixed", "--samples", 20000)),
    "ghz6_fixed_nomodel": ([], rec("ghz6fixed", None)),
    "dmrg18": (
        [sim("tfim18", "--state", "tfim", "-n", 18, "--method", "dmrg", "--povm", "pauli4",
             "--shots", 5000, "--eval-shots", 1000, "--seed", 13),
         train("tfim18", "tfim18", "--epochs", 1, "--seed", 5)],
        rec("tfim18", "tfim18", "--samples", 5000)),
    "ghz18": (
        [sim("ghz18", "--state", "ghz", "-n", 18, "--povm", "pauli6", "--shots", 5000,
             "--eval-shots", 1000, "--seed", 14),
         train("ghz18", "ghz18", "--epochs", 1, "--seed", 5)],
        rec("ghz18", "ghz18", "--samples", 5000)),
    "epochs1_fallback": (
        [sim("tfim6", "--state", "tfim", "-n", 6, "--povm", "pauli4", "--shots", 20000,
             "--eval-shots", 1000, "--seed", 15),
         train("tfim6e1", "tfim6", "--epochs", 1, "--hidden", 8, "--bootstrap", 0,
               "--seed", 5)],
        rec("tfim6", "tfim6e1", "--samples", 20000)),
}

#: Old path prefix -> new path prefix, for fields the restructuring moved (applied to A's
#: paths before they are looked up in B).
RENAMES: dict[str, str] = {}
#: Fields that differ between any two runs (glob patterns on the path).
IGNORE = ("created", "provenance.versions.*", "provenance.dataset.path",
          "provenance.dataset.created", "provenance.model.*path*", "provenance.model.run_dir",
          "*seconds*", "*shots_per_second*")


def command(step: list[str], d: Path) -> list[str]:
    """A step with its placeholders filled; qtomo commands run as ``python -m qtomo.cli.main``."""
    args = [a.replace("{d}", str(d)).replace("{root}", str(ROOT)) for a in step]
    return args if args[0] == sys.executable else [sys.executable, "-m", "qtomo.cli.main", *args]


def run(args: list[str], log: Path) -> None:
    env = {**os.environ, **THREADS}
    with log.open("a") as f:
        f.write("$ " + " ".join(args) + "\n")
        f.flush()
        r = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env=env, check=False)
    if r.returncode != 0:
        sys.exit(f"compare_reports: failed (exit {r.returncode}): {' '.join(args)}; see {log}")


def make(d: Path, only: list[str], reuse: Path | None) -> None:
    """Run the cases into ``d`` (``reuse``: copy the inputs from there instead of making them)."""
    for sub in ("data", "runs", "reports", "out"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    if reuse is not None:
        for sub in ("data", "runs"):
            shutil.copytree(reuse / sub, d / sub, dirs_exist_ok=True)
    log = d / "commands.log"
    for name in only:
        inputs, recon = CASES[name]
        if reuse is None:
            for step in inputs:
                run(command(step, d), log)
        out = d / "out" / name
        run(command([*recon, "--out", str(out)], d), log)
        shutil.copyfile(out / "report.json", d / "reports" / f"{name}.json")
        print(f"{name}: {d / 'reports' / (name + '.json')}", flush=True)


def numeric_leaves(x: Any, path: str = "") -> dict[str, Any]:
    """Every number, boolean and null of a JSON value by its dotted path."""
    if isinstance(x, dict):
        out: dict[str, Any] = {}
        for k, v in x.items():
            out.update(numeric_leaves(v, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(x, list):
        out = {}
        for i, v in enumerate(x):
            out.update(numeric_leaves(v, f"{path}[{i}]"))
        return out
    if x is None or isinstance(x, (bool, int, float)):
        return {path: x}
    return {}


def renamed(path: str) -> str:
    for old, new in RENAMES.items():
        if path == old or path.startswith((old + ".", old + "[")):
            return new + path[len(old):]
    return path


def ignored(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in IGNORE)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b or abs(a - b) <= RTOL * max(abs(a), abs(b))


def compare_one(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(differences and missing fields, fields only ``b`` has) of two reports."""
    la, lb = numeric_leaves(a), numeric_leaves(b)
    diffs, matched = [], set()
    for path, va in la.items():
        if ignored(path):
            continue
        new = renamed(path)
        matched.add(new)
        if new not in lb:
            diffs.append(f"missing  {path} = {va!r}" + (f" (looked for {new})"
                                                          if new != path else ""))
        elif not same(va, lb[new]):
            diffs.append(f"differs  {path}: {va!r} -> {lb[new]!r}")
    added = [f"added    {p} = {v!r}" for p, v in lb.items() if p not in matched
             and not ignored(p)]
    return diffs, added


def compare(a_dir: Path, b_dir: Path, show_added: bool) -> int:
    a_files = sorted((a_dir / "reports").glob("*.json"))
    if not a_files:
        sys.exit(f"compare_reports: no reports in {a_dir / 'reports'}")
    bad = 0
    for fa in a_files:
        fb = b_dir / "reports" / fa.name
        if not fb.exists():
            print(f"{fa.stem}: MISSING in {b_dir}")
            bad += 1
            continue
        diffs, added = compare_one(json.loads(fa.read_text()), json.loads(fb.read_text()))
        print(f"{fa.stem}: {'identical' if not diffs else f'{len(diffs)} differences'}"
              f"{f', {len(added)} added fields' if added else ''}")
        for line in diffs + (added if show_added else []):
            print("    " + line)
        bad += bool(diffs)
    print(f"{len(a_files) - bad} of {len(a_files)} reports identical in every figure")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--make", type=Path, metavar="DIR")
    g.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    p.add_argument("--reuse", type=Path, metavar="BASE",
                   help="with --make: the datasets and runs of an earlier --make")
    p.add_argument("--only", default=",".join(CASES), help="with --make: cases, comma-separated")
    p.add_argument("--added", action="store_true", help="with --compare: list B's new fields")
    args = p.parse_args()
    if args.compare:
        return compare(*args.compare, show_added=args.added)
    only = [c for c in args.only.split(",") if c]
    unknown = [c for c in only if c not in CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; known: {', '.join(CASES)}")
    make(args.make.resolve(), only, args.reuse.resolve() if args.reuse else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
