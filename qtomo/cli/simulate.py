"""``qtomo simulate``: build a target state and sample POVM shots into a dataset file."""

from __future__ import annotations

import sys

import click

from qtomo.cli.options import (
    emit_json,
    json_option,
    overwrite_option,
    parse_readout_error,
    run_command,
    seed_option,
)


@click.command(
    "simulate",
    epilog="Examples:\n\n\b\n  qtomo simulate --n-qubits 10 --h 1 --shots 100000 --out tfim10.h5\n"
    "  qtomo simulate --state ghz --n-qubits 40 --povm tetra --shots 2000 --out ghz40.h5\n"
    "  qtomo simulate --state cluster --n-qubits 8 --povm pauli6 --out cluster8.h5\n"
    "  qtomo simulate --n-qubits 50 --h 1 --shots 200000 --json",
)
@click.option("--state",
              type=click.Choice(["tfim", "ghz", "w", "cluster", "product", "random-mps"]),
              default="tfim", show_default=True,
              help="Target: TFIM ground state, GHZ state (|0..0> + |1..1>)/sqrt(2), W state "
              "(|10..0> + ... + |0..01>)/sqrt(N), 1-D open cluster state (CZ chain on |+>^N), "
              "random product state (Haar qubits from --seed) or random MPS (bond dim. 2, "
              "open, from --seed). The last four at any N: a state vector up to 16 qubits, "
              "above an exact MPS (bond dim. 2, 2, 1 and 2).")
@click.option("--n-qubits", "-n", type=int, default=10, show_default=True,
              help="Number of qubits N.")
@click.option("--J", "J", type=float, default=1.0, show_default=True,
              help="TFIM coupling J in H = -J sum Z_i Z_i+1 - h sum X_i.")
@click.option("--h", "h", type=float, default=1.0, show_default=True,
              help="TFIM transverse field h (critical point h/J = 1).")
@click.option("--boundary", type=click.Choice(["open", "periodic"]), default="open",
              show_default=True, help="Chain boundary condition.")
@click.option("--povm", type=str, default="pauli4", show_default=True,
              help="Single-qubit POVM: pauli4, tetra or pauli6.")
@click.option("--shots", type=int, default=100_000, show_default=True,
              help="Number of training shots.")
@click.option("--eval-shots", type=int, default=10_000, show_default=True,
              help="Fresh shots with exact log P, stored apart for scoring models "
                   "(never trained on).")
@click.option("--noise", type=float, default=0.0, show_default=True,
              help="Local depolarizing noise strength p in [0, 1] on every qubit.")
@seed_option
@click.option("--method", type=click.Choice(["auto", "ed", "dmrg"]), default="auto",
              show_default=True,
              help="Ground-state method: ed (exact, N <= 20), dmrg, or auto (ed up to 14 qubits).")
@click.option("--chi", type=int, default=64, show_default=True,
              help="Maximum MPS bond dimension for DMRG.")
@click.option("--cutoff", type=float, default=1e-10, show_default=True,
              help="DMRG truncation: drop Schmidt weight up to this fraction per bond "
              "(1e-10 gives relative energy errors ~1e-10 and keeps sampling and exact log P "
              "fast; use 1e-14 for the last digits).")
@click.option("--log-p", "log_p", type=click.Choice(["all", "none"]), default="all",
              show_default=True, help="Store the exact log-probability of every shot (or skip it).")
@click.option("--readout-error", type=str, default=None, metavar="P10,P01",
              help="Misread every qubit's bit: P(read 1 | 0),P(read 0 | 1), e.g. 0.02,0.05 "
              "(Pauli-6 only). The confusion matrices are stored; reconstruct corrects them.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="qtomo_data.h5",
              show_default=True, help="Output dataset file (HDF5).")
@overwrite_option
@json_option
@run_command
def cmd(state, n_qubits, J, h, boundary, povm, shots, eval_shots, noise, seed, method, chi,
        cutoff, log_p, readout_error, out, overwrite, as_json):
    """Simulate a target state and sample informationally complete POVM shots.

    Builds a TFIM ground state (exact diagonalization or DMRG), a GHZ, W, cluster, seeded random
    product or seeded random MPS state (a state vector up to 16 qubits, an exact MPS above),
    optionally with local depolarizing noise, samples --shots training shots and --eval-shots
    evaluation shots exactly, and writes them with their exact log-probabilities, the POVM and
    the target's exact observables to a versioned HDF5 dataset. The file appears only when
    complete.
    """
    from tqdm import tqdm

    from qtomo.api import simulate

    bars: list[tqdm] = []

    def stage(text: str) -> None:
        # the bar appears with the first stage, after every value and the output were checked
        if not bars:
            bars.append(tqdm(total=shots + eval_shots, unit="shot", unit_scale=True,
                             file=sys.stderr, desc="simulate", leave=False, disable=None,
                             dynamic_ncols=True))
        bars[0].set_description(text)

    ro = parse_readout_error(readout_error)
    try:
        summary = simulate(
            out, state=state, n_qubits=n_qubits, J=J, h=h, boundary=boundary,
            povm=povm.lower(), shots=shots, eval_shots=eval_shots, noise=noise, seed=seed,
            method=method, chi=chi, cutoff=cutoff, log_p=log_p, readout_error=ro,
            overwrite=overwrite,
            progress=lambda k: bars[0].update(k), on_stage=stage,
        ).summary
    finally:
        for b in bars:
            b.close()
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(s: dict) -> None:
    import math

    energy = s["energy"]
    missing = energy is None or (isinstance(energy, float) and math.isnan(energy))
    e = "none" if missing else f"{energy:.10f}"
    ro = s.get("readout_error")
    readout = f"readout error P(1|0) {ro[0]:g} P(0|1) {ro[1]:g}, " if ro else ""
    click.echo(
        f"wrote {s['out']}: {s['state']} N={s['n_qubits']} ({s['method']}), POVM {s['povm']}, "
        f"{s['shots']} shots + {s['eval_shots']} eval shots, noise {s['noise']:g}, {readout}"
        f"energy {e}, log_p_true {'stored' if s['log_p_true'] else 'not stored'}"
    )
