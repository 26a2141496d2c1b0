"""Simulate -> train -> reconstruct with qtomo's Python API, on a tiny, fast configuration.

A 4-qubit critical TFIM chain (H = -sum Z_i Z_i+1 - sum X_i), 5,000 Pauli-4 shots, a small GRU
trained for a few epochs, then the lab report: the headline quantum fidelity (squared
convention, F = <psi|rho|psi>), the density matrix as a qutip.Qobj and the observables table.

    python examples/simulate_train_reconstruct.py [--out DIR] [--epochs 3]

Larger settings (``--n-qubits 10 --shots 100000 --epochs 30``) come closer to the demo's case
(``bash scripts/demo.sh``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import qtomo


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="work directory [a new temporary one]")
    p.add_argument("--n-qubits", type=int, default=4)
    p.add_argument("--shots", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="qtomo-example-"))

    ds = qtomo.simulate(out / "tfim.h5", n_qubits=args.n_qubits, shots=args.shots,
                        eval_shots=1000, seed=7, overwrite=True)
    print(ds)
    run = qtomo.train(ds, out / "run", model="gru", epochs=args.epochs,
                      hparams={"hidden": 32, "layers": 1}, bootstrap=0, device="cpu",
                      precision="fp32", overwrite=True, progress=False)
    print(run)
    rec = qtomo.reconstruct(ds, run, samples=10_000, report=out / "report", overwrite=True)
    print(rec)
    f = rec.fidelities
    print(f"headline fidelity {f['headline']:.4f} (exact {f['exact']}), direct estimate "
          f"{f['direct']:.4f} +- {f['direct_stderr']:.4f}")
    zz = rec.observables["Z0 Z1"]
    print(f"<Z0 Z1>: exact {zz['exact']:.4f}, model {zz['model']:.4f} +- {zz['model_stderr']:.4f},"
          f" direct {zz['direct']:.4f} +- {zz['direct_stderr']:.4f}")
    rho = rec.rho  # qutip.Qobj, qubit 0 the leftmost factor
    print(f"headline state: qutip.Qobj with dims {rho.dims}, trace {rho.tr():.6f}")
    print(f"report: {rec.files['report.html']}")


if __name__ == "__main__":
    main()
