"""Compare two generative models on one dataset with qtomo's Python API (tiny configuration).

Simulates a 4-qubit GHZ state measured with the tetrahedral POVM, trains a GRU and a 1-D causal
convolution on the same shots, reconstructs with each and prints a table: parameters,
classical fidelity F_c and KL(P||Q) (nats, on the evaluation shots), the headline quantum
fidelity (squared convention) and the error of <Z0 Z1>.

    python examples/compare_models.py [--out DIR] [--models gru,conv] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import qtomo

TINY = {"gru": {"hidden": 32, "layers": 1}, "conv": {"channels": 16}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="work directory [a new temporary one]")
    p.add_argument("--models", default="gru,conv")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="qtomo-example-"))

    ds = qtomo.simulate(out / "ghz.h5", state="ghz", n_qubits=4, povm="tetra", shots=4000,
                        eval_shots=1000, seed=11, overwrite=True)
    print(ds)
    rows = []
    for name in args.models.split(","):
        run = qtomo.train(ds, out / f"run_{name}", model=name, epochs=args.epochs,
                          hparams=TINY.get(name, {}), bootstrap=0, device="cpu",
                          precision="fp32", overwrite=True, progress=False)
        rec = qtomo.reconstruct(ds, run, samples=10_000)
        zz = rec.observables["Z0 Z1"]
        rows.append((name, run.summary["n_parameters"], run.metrics["classical_fidelity"],
                     run.metrics["kl_divergence"], rec.fidelity["value"],
                     abs(zz["model"] - zz["exact"])))
    print(f"{'model':<8} {'params':>7} {'F_c':>8} {'KL':>8} {'F_q':>8} {'|dZZ01|':>8}")
    for r in rows:
        print(f"{r[0]:<8} {r[1]:>7d} {r[2]:>8.4f} {r[3]:>8.4f} {r[4]:>8.4f} {r[5]:>8.4f}")


if __name__ == "__main__":
    main()
