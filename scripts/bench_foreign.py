"""The CLI with its defaults on lab-style shots of states that no benchmark of qtomo names,
made here with plain NumPy (no qtomo code in the generator): does the model's headline beat,
or at least match, the raw-frequency MLE, and does it agree with the direct estimate?

Every case is a density matrix rho and the pure target |psi> a lab would name; the shots are
``bases,bits`` rows as ``qtomo import`` reads them (one uniformly random Pauli basis per qubit
and shot, bit 0 = the +1 eigenstate, qubit 0 the first character), sampled setting by setting
from the Born rule of the rotated rho. The exact value is <psi|rho|psi>.

    dicke5         Dicke state D(5, 2) (two excitations over five qubits), pure
    dephased-ghz4  GHZ-4 behind local Z dephasing, rho -> (1 - q) rho + q Z rho Z, q = 0.1
    haar4          a Haar-random pure state of 4 qubits (seeded)
    damped-w4      W-4 behind local amplitude damping, gamma = 0.1
    bell-pairs6    three Bell pairs (|00> + |11>)/sqrt(2) on qubits (0,1), (2,3), (4,5),
                   behind local depolarizing noise p = 0.02

Each case runs, in its own folder under ``--work`` (default ``out/bench_foreign``)::

    qtomo import shots.csv --target target.npy --out data.h5
    qtomo train data.h5 --out run
    qtomo reconstruct run --data data.h5 --out report --json

and prints the exact value; the headline with its standard error, 95% interval and source;
the model's MLE state and the raw-frequency MLE state (the report's own fits), the raw MLE's
bootstrap error (``RAW_ERROR_B`` multinomial refits, as bench_families' ``--mle-error``); the
direct estimate; |error| of the headline and of the raw MLE; whether the interval covers the
exact value; bench_families' rule 1 (the headline's error at most the raw MLE's plus that
bootstrap error); and the training time.

    python scripts/bench_foreign.py                       # every case, 20,000 shots each
    python scripts/bench_foreign.py --cases dicke5,haar4 --shots 50000

A case whose folder already holds ``report/report.json`` is read back, not rerun (delete the
folder to rerun it). A bad option is one line on stderr and exit code 2; a case whose qtomo
command fails, one line naming it and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib
import numpy as np

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Z = np.diag([1.0, -1.0]).astype(complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
#: Rotations that take the +1 / -1 eigenstates of X, Y, Z to |0> / |1>.
ROTATE = {"X": H, "Y": H @ np.diag([1, -1j]), "Z": I2}


def basis_state(n: int, ones: tuple[int, ...]) -> np.ndarray:
    v = np.zeros(2**n, dtype=complex)
    v[sum(1 << (n - 1 - j) for j in ones)] = 1.0
    return v


def dicke(n: int, k: int) -> np.ndarray:
    from itertools import combinations

    v = sum(basis_state(n, c) for c in combinations(range(n), k))
    return v / np.linalg.norm(v)


def ghz(n: int) -> np.ndarray:
    return (basis_state(n, ()) + basis_state(n, tuple(range(n)))) / np.sqrt(2)


def w_state(n: int) -> np.ndarray:
    return dicke(n, 1)


def local_channel(rho: np.ndarray, kraus: list[np.ndarray]) -> np.ndarray:
    """The same single-qubit channel (Kraus operators) on every qubit."""
    n = int(round(np.log2(rho.shape[0])))
    for j in range(n):
        ops = [np.kron(np.kron(np.eye(2**j), k), np.eye(2 ** (n - j - 1))) for k in kraus]
        rho = sum(k @ rho @ k.conj().T for k in ops)
    return rho


def dephasing(q: float) -> list[np.ndarray]:
    return [np.sqrt(1 - q) * I2, np.sqrt(q) * Z]


def amplitude_damping(g: float) -> list[np.ndarray]:
    return [np.array([[1, 0], [0, np.sqrt(1 - g)]], dtype=complex),
            np.array([[0, np.sqrt(g)], [0, 0]], dtype=complex)]


def depolarizing(p: float) -> list[np.ndarray]:
    paulis = [X, np.array([[0, -1j], [1j, 0]]), Z]
    return [np.sqrt(1 - 3 * p / 4) * I2] + [np.sqrt(p / 4) * s for s in paulis]


def pure(v: np.ndarray) -> np.ndarray:
    return np.outer(v, v.conj())


def _haar4() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20261206)
    v = rng.normal(size=16) + 1j * rng.normal(size=16)
    v /= np.linalg.norm(v)
    return pure(v), v


def _bell_pairs6() -> tuple[np.ndarray, np.ndarray]:
    bell = (basis_state(2, ()) + basis_state(2, (0, 1))) / np.sqrt(2)
    v = np.kron(np.kron(bell, bell), bell)
    return local_channel(pure(v), depolarizing(0.02)), v


#: name -> () -> (rho, psi)
CASES: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "dicke5": lambda: (pure(dicke(5, 2)), dicke(5, 2)),
    "dephased-ghz4": lambda: (local_channel(pure(ghz(4)), dephasing(0.1)), ghz(4)),
    "haar4": _haar4,
    "damped-w4": lambda: (local_channel(pure(w_state(4)), amplitude_damping(0.1)), w_state(4)),
    "bell-pairs6": _bell_pairs6,
}


def sample_shots(rho: np.ndarray, shots: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Random Pauli settings (one letter per qubit and shot) and the measured bits."""
    n = int(round(np.log2(rho.shape[0])))
    rng = np.random.default_rng(seed)
    letters = rng.integers(0, 3, size=(shots, n))
    bits = np.zeros((shots, n), dtype=np.int8)
    keys = letters @ (3 ** np.arange(n - 1, -1, -1))
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        setting = ["XYZ"[c] for c in letters[rows[0]]]
        u = np.array([[1.0 + 0j]])
        for s in setting:
            u = np.kron(u, ROTATE[s])
        p = np.clip(np.real(np.diag(u @ rho @ u.conj().T)), 0, None)
        idx = rng.choice(2**n, size=rows.size, p=p / p.sum())
        bits[rows] = (idx[:, None] >> np.arange(n - 1, -1, -1)) & 1
    return ["".join("XYZ"[c] for c in row) for row in letters], bits


def write_case(name: str, folder: Path, shots: int, seed: int) -> float:
    """shots.csv and target.npy of a case; returns the exact <psi|rho|psi>."""
    rho, psi = CASES[name]()
    exact = float(np.real(psi.conj() @ rho @ psi))
    bases, bits = sample_shots(rho, shots, seed)
    lines = [f"# bench_foreign case {name}: {shots} shots, seed {seed}, plain NumPy",
             f"# exact squared fidelity to the target: {exact!r}", "bases,bits"]
    lines += [f"{b},{''.join(map(str, r))}" for b, r in zip(bases, bits, strict=True)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shots.csv").write_text("\n".join(lines) + "\n")
    np.save(folder / "target.npy", psi)
    (folder / "exact.json").write_text(json.dumps({"exact": exact}))
    return exact


def qtomo(*args: Any) -> str:
    exe = Path(sys.executable).parent / "qtomo"
    cmd = [str(exe) if exe.exists() else (shutil.which("qtomo") or "qtomo")]
    res = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"qtomo {args[0]} failed ({res.returncode}): "
                           f"{res.stderr.strip().splitlines()[-1:]}")
    return res.stdout


def run_case(name: str, work: Path, shots: int, seed: int) -> dict[str, Any]:
    d = work / name
    rep_file = d / "report" / "report.json"
    fresh = not rep_file.exists()
    if fresh:
        shutil.rmtree(d, ignore_errors=True)
        write_case(name, d, shots, seed)
        qtomo("import", d / "shots.csv", "--target", d / "target.npy", "--out", d / "data.h5")
        t = time.perf_counter()
        qtomo("train", d / "data.h5", "--out", d / "run")
        (d / "train_wall.json").write_text(json.dumps({"seconds": time.perf_counter() - t}))
        qtomo("reconstruct", d / "run", "--data", d / "data.h5", "--out", d / "report",
              "--json")
    rep = json.loads(rep_file.read_text())
    exact = json.loads((d / "exact.json").read_text())["exact"]
    hf = rep["headline"]["quantum_fidelity"]
    q = rep["quantum"]
    card = json.loads((d / "run" / "model_card.json").read_text())["results"]
    return {"case": name, "n": rep["provenance"]["dataset"]["n_qubits"], "exact": exact,
            "headline": hf.get("value"), "stderr": hf.get("stderr"), "ci95": hf.get("ci95"),
            "source": str(hf.get("source", "")).split(":")[0],
            "model_mle": ((q.get("model") or {}).get("mle") or {}).get("fidelity"),
            "raw_mle": ((q.get("data") or {}).get("mle") or {}).get("fidelity"),
            "raw_err": raw_mle_error(d, shots, seed),
            "direct": (q.get("direct_estimate") or {}).get("value"),
            "direct_se": (q.get("direct_estimate") or {}).get("stderr"),
            "consistent": rep.get("consistent"), "train_seconds": card.get("train_seconds"),
            "fresh": fresh}


#: Multinomial refits for the raw MLE's bootstrap error (bench_families' ``--mle-error``).
RAW_ERROR_B = 5


def raw_mle_error(d: Path, shots: int, seed: int) -> float | None:
    """The raw MLE fidelity's bootstrap error of a case (cached in raw_error.json)."""
    f = d / "raw_error.json"
    if not f.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_families as bf

        freq, frame, n, psi = bf._data_arrays(d / "data.h5")  # noqa: SLF001
        got = bf.raw_mle_bootstrap(freq, frame, n, shots, psi, b=RAW_ERROR_B, seed=seed)
        f.write_text(json.dumps({"raw_err": got["mle_err"], "b": RAW_ERROR_B}))
    return json.loads(f.read_text())["raw_err"]


def _f(v: Any, spec: str = ".4f") -> str:
    return "n/a" if v is None else format(v, spec)


def row(r: dict[str, Any]) -> str:
    err = None if r["headline"] is None else abs(r["headline"] - r["exact"])
    raw_err = None if r["raw_mle"] is None else abs(r["raw_mle"] - r["exact"])
    ci = r["ci95"]
    tol = 1e-12  # the exact value of a pure state is 1 up to rounding
    covers = "n/a" if not ci else ("yes" if ci[0] - tol <= r["exact"] <= ci[1] + tol else "NO")
    ci_s = "n/a" if not ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"
    rule1 = ("n/a" if err is None or raw_err is None else
             "PASS" if err <= raw_err + (r["raw_err"] or 0.0) else "FAIL")
    return (f"| {r['case']} | {r['n']} | {r['exact']:.4f} | {_f(r['headline'])} +- "
            f"{_f(r['stderr'])} {ci_s} ({r['source']}) | {covers} | {_f(r['model_mle'])} "
            f"| {_f(r['raw_mle'])} +- {_f(r['raw_err'])} | {_f(r['direct'])} +- "
            f"{_f(r['direct_se'])} | {_f(err)} | {_f(raw_err)} | {rule1} | {r['consistent']} "
            f"| {_f(r['train_seconds'], '.1f')} |")


def record(r: dict[str, Any], shots: int, seed: int) -> None:
    """A case's row as benchmark records (``scripts/benchlib.py``); a report read back from
    an earlier run says so (``reused_report``)."""
    info = {"exact": r["exact"], "ci95": r["ci95"], "source": r["source"],
            "consistent": r["consistent"], "raw_mle_error": r["raw_err"],
            "reused_report": not r["fresh"]}
    case = f"{r['case']}, {shots} shots, seed {seed}"
    benchlib.write_records("foreign", [
        {"case": case, "metric": "headline_fidelity", "value": r["headline"],
         "stderr": r["stderr"], "extra": info},
        {"case": case, "metric": "model_mle_fidelity", "value": r["model_mle"], "extra": info},
        {"case": case, "metric": "raw_mle_fidelity", "value": r["raw_mle"], "extra": info},
        {"case": case, "metric": "direct_fidelity", "value": r["direct"],
         "stderr": r["direct_se"], "extra": info},
        {"case": case, "metric": "train_s", "value": r["train_seconds"], "unit": "s",
         "extra": info}])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated, of: {', '.join(CASES)} [all]")
    ap.add_argument("--shots", type=int, default=20_000, help="shots per case [20000]")
    ap.add_argument("--seed", type=int, default=20261206, help="sampling seed [20261206]")
    ap.add_argument("--work", type=Path, default=Path("out/bench_foreign"),
                    help="folder of the cases' files [out/bench_foreign]")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    bad = [c for c in cases if c not in CASES]
    problem = (f"unknown case(s) {', '.join(bad) or '(none)'}; one of {', '.join(CASES)}"
               if bad or not cases else
               "--shots must be at least 100" if args.shots < 100 else None)
    if problem:
        print(f"bench_foreign.py: error: {problem}", file=sys.stderr)
        return 2
    print("| case | N | exact | headline +- s.e. [95%] (source) | covers | model MLE "
          "| raw MLE +- err | direct +- s.e. | headline error | raw-MLE error | rule 1 "
          "| consistent | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for name in cases:
        try:
            r = run_case(name, args.work, args.shots, args.seed)
            print(row(r), flush=True)
            record(r, args.shots, args.seed)
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            print(f"bench_foreign.py: case {name}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
