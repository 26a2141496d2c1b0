"""The MLE fit behind local depolarizing noise on noisy GHZ shot tables: time, p, KL, fidelity.

For each table (GHZ state with local depolarizing noise p = 0.05, a POVM, N qubits, 20,000
shots drawn with a fixed seed from the exact Born table) this fits the rank-r state without
noise (``fit_mle``), then the same rank behind a fitted strength from that state
(``fit_mle_noisy``, the step ``fit_mle_auto`` takes at every rank), and prints the wall time,
the fitted p, the KL to the table and the fidelity to the ideal GHZ state beside the exact
<psi|sigma|psi>. Run one job at a time (timings).

    python scripts/bench_noise_fit.py                       # the four default tables
    python scripts/bench_noise_fit.py --tables tetra:10:1
"""

from __future__ import annotations

import argparse
import time

import benchlib
import numpy as np

POVMS = ("pauli4", "tetra", "pauli6")
DEFAULT_TABLES = ("pauli4:6:1", "pauli6:6:2", "tetra:8:1", "tetra:10:1")


def ghz_table(povm: str, n: int, p: float, shots: int, seed: int
              ) -> tuple[np.ndarray, np.ndarray, float]:
    """(psi, shot frequencies, exact fidelity) of GHZ-N behind local depolarizing noise p."""
    from qtomo.povm.frames import get_frame, site_operators
    from qtomo.reconstruction.density import product_table
    from qtomo.states.noise import depolarize

    psi = np.zeros(2**n, dtype=np.complex128)
    psi[0] = psi[-1] = 2**-0.5
    rho = depolarize(np.outer(psi, psi.conj()), p)
    born = np.clip(product_table(rho, site_operators(get_frame(povm), n)).real, 0.0, None)
    counts = np.random.default_rng(seed).multinomial(shots, born / born.sum())
    return psi, counts / shots, float(np.real(psi.conj() @ rho @ psi))


def parse_tables(text: str) -> list[tuple[str, int, int]]:
    """POVM:N:RANK,... -> [(povm, n, rank)]; argparse reports a bad spec in one line."""
    out = []
    for spec in text.split(","):
        try:
            povm, n, rank = spec.split(":")
            cell = (povm, int(n), int(rank))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{spec!r} is not POVM:N:RANK") from None
        if povm not in POVMS or not 1 <= cell[1] <= 10 or not 1 <= cell[2] <= 2**cell[1]:
            raise argparse.ArgumentTypeError(
                f"{spec!r}: POVM one of {', '.join(POVMS)}, 1 <= N <= 10, "
                "1 <= RANK <= 2^N")
        out.append(cell)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=parse_tables, default=",".join(DEFAULT_TABLES),
                    help="comma-separated POVM:N:RANK (default: %(default)s)")
    ap.add_argument("--shots", type=int, default=20_000)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.shots < 1 or not 0.0 <= args.noise <= 1.0:
        ap.error("--shots must be >= 1 and --noise in [0, 1]")
    from qtomo.povm.frames import get_frame
    from qtomo.reconstruction.mle import fit_mle, fit_mle_noisy

    print("| table | exact F | no noise: s, KL, F | with noise: s, p, KL, F |")
    print("|---|---|---|---|")
    rows: list[dict] = []
    for povm, n, rank in args.tables:
        psi, table, exact = ghz_table(povm, n, args.noise, args.shots, args.seed)
        frame = get_frame(povm)
        t0 = time.perf_counter()
        plain = fit_mle(table, frame, n, rank=rank)
        t1 = time.perf_counter()
        noisy = fit_mle_noisy(table, frame, n, rank=rank, init=plain.rho)
        t2 = time.perf_counter()

        def fid(rho: np.ndarray) -> float:
            return float(np.real(psi.conj() @ rho @ psi))

        print(f"| {povm} N = {n} rank {rank} | {exact:.5f} | {t1 - t0:.1f}, {plain.kl:.6f}, "
              f"{fid(plain.rho):.5f} | {t2 - t1:.1f}, {noisy.depolarizing:.4f}, "
              f"{noisy.kl:.6f}, {fid(noisy.rho):.5f} |", flush=True)
        info = {"exact": exact, "shots": args.shots, "noise": args.noise, "seed": args.seed}
        rows += [{"case": f"ghz {povm} N={n} rank {rank}", "metric": key, "value": value,
                  "unit": unit, "extra": info}
                 for key, value, unit in (
                     ("plain_fit_s", t1 - t0, "s"), ("plain_kl", plain.kl, "nats"),
                     ("plain_fidelity", fid(plain.rho), ""), ("noisy_fit_s", t2 - t1, "s"),
                     ("noisy_depolarizing", noisy.depolarizing, ""),
                     ("noisy_kl", noisy.kl, "nats"), ("noisy_fidelity", fid(noisy.rho), ""))]
    benchlib.write_records("noise_fit", rows)


if __name__ == "__main__":
    main()
