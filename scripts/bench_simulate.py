#!/usr/bin/env python
"""Time ``qtomo simulate`` end to end (the Foundation issue's figure).

Prints the wall time of ``qtomo simulate --n-qubits 10 --h 1 --shots 100000`` (target: < 10 s on
2 cores) and of a few other sizes, each as a fresh subprocess so start-up is included.

    python scripts/bench_simulate.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

CASES = [
    ("TFIM N=10 pauli4 100k (target < 10 s)", ["--n-qubits", "10", "--h", "1", "--shots", "100000"]),
    ("TFIM N=12 pauli4 100k", ["--n-qubits", "12", "--h", "1", "--shots", "100000"]),
    ("TFIM N=8 pauli6 100k", ["--n-qubits", "8", "--povm", "pauli6", "--shots", "100000"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    qtomo = Path(sys.executable).with_name("qtomo")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for label, extra in CASES:
            times = []
            for r in range(args.repeat):
                out = Path(d) / f"b{r}.h5"
                t0 = time.perf_counter()
                subprocess.run([str(qtomo), "simulate", *extra, "--out", str(out), "--overwrite"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - t0)
            print(f"{label:45s} best {min(times):6.2f} s   median {sorted(times)[len(times)//2]:6.2f} s")
            case, info = label.split(" (")[0], {"repeat": args.repeat, "args": extra}
            rows += [{"case": case, "metric": "wall_s_best", "value": min(times), "unit": "s",
                      "extra": info},
                     {"case": case, "metric": "wall_s_median", "unit": "s", "extra": info,
                      "value": sorted(times)[len(times)//2]}]
    benchlib.write_records("simulate", rows)  # after the timings (it imports torch)


if __name__ == "__main__":
    main()
