"""``qtomo simulate``: build a target state and sample POVM shots into a dataset file."""

from __future__ import annotations

import math
import sys

import click
from tqdm import tqdm

from qtomo.api import simulate
from qtomo.cli.options import (
    emit_json,
    finite_float,
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
    "  qtomo simulate --state haar -n 4 --seed 7 --povm pauli6 --out haar4.h5\n"
    "  qtomo simulate --n-qubits 50 --h 1 --shots 200000 --json\n"
    "  qtomo simulate --state ghz -n 3 --design all-pauli --shots-per-setting 1000 --out g3.h5\n"
    "  qtomo simulate --design ghz20_parity.json --noise 0.01 --out ghz20.h5   (the "
    "target of qtomo plan's design)\n"
    "  qtomo simulate --state w -n 4 --design all-pauli --shots-per-setting 8000 --drift 0.05 "
    "--readout-error 0.02,0.05 --readout-drift 0.01 --calibration-shots 10000 --out w4.h5\n\n"
    "\b\nA design file (JSON; CSV 'setting,shots' or 'theta_0,phi_0,...,shots' also read):\n"
    "  {\"format\": \"qtomo-design\", \"version\": 1, \"n_qubits\": 2,\n"
    "   \"settings\": [{\"paulis\": \"ZZ\", \"shots\": 1000},\n"
    "                {\"axes\": [[1.5708, 0.0], [1.5708, 0.785]], \"shots\": 500}]}\n"
    "  axis (theta, phi): n = (sin t cos p, sin t sin p, cos t); bit 0 = +1 of n.sigma",
)
@click.option("--state",
              type=click.Choice(["tfim", "ghz", "w", "cluster", "product", "random-mps",
                                 "haar"]),
              default=None,
              help="Target: TFIM ground state, GHZ state (|0..0> + |1..1>)/sqrt(2), W state "
              "(|10..0> + ... + |0..01>)/sqrt(N), 1-D open cluster state (CZ chain on |+>^N), "
              "random product state (Haar qubits from --seed), random MPS (bond dim. 2, "
              "open, from --seed) or Haar-random pure state (from --seed, N <= 12). W to "
              "random MPS at any N: a state vector up to 16 qubits, above an exact MPS (bond "
              "dim. 2, 2, 1 and 2). With a --design file that names its target (qtomo plan "
              "writes one) leave it out: the design's target and its J, h, boundary are "
              "simulated, and a --state, --J, --h or --boundary that contradicts them is an "
              "error  [default: the design's target, else tfim]")
@click.option("--n-qubits", "-n", type=int, default=None,
              help="Number of qubits N  [default: the design file's, else 10]")
@click.option("--J", "J", type=float, default=None,
              help="TFIM coupling J in H = -J sum Z_i Z_i+1 - h sum X_i  [default: the "
              "design's target's, else 1]")
@click.option("--h", "h", type=float, default=None,
              help="TFIM transverse field h (critical point h/J = 1)  [default: the design's "
              "target's, else 1]")
@click.option("--boundary", type=click.Choice(["open", "periodic"]), default=None,
              help="Chain boundary condition  [default: the design's target's, else open]")
@click.option("--povm", type=str, default=None,
              help="Single-qubit POVM: pauli4, tetra or pauli6  [default: pauli4; pauli6, the "
              "only one, with --design]")
@click.option("--shots", type=int, default=None,
              help="Number of training shots, each in random bases  [default: 100000; not "
              "with --design]")
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
@click.option("--design", type=str, default=None, metavar="FILE|all-pauli",
              help="Measure a fixed design instead of random bases: every setting of a design "
              "file (Pauli letters or any axes per qubit) exactly its shots, or all-pauli, the "
              "3^N Pauli settings (N <= 8). Stored as 'qtomo import' stores counts.")
@click.option("--shots-per-setting", type=int, default=None, metavar="M",
              help="Shots of every setting of --design (required for all-pauli; overrides the "
              "file's).")
@click.option("--drift", type=float, default=0.0, show_default=True, metavar="SIGMA",
              help="Fixed designs: in every setting turn each qubit's axis by a fresh random "
              "angle ~ N(0, SIGMA) radians; the stored design stays the nominal one.")
@click.option("--readout-drift", type=float, default=0.0, show_default=True, metavar="SPREAD",
              help="Fixed designs with --readout-error: redraw the flip probabilities per "
              "setting and qubit, standard deviation SPREAD (clipped to [0, 0.5)); the stored "
              "readout stays the nominal one.")
@click.option("--calibration-shots", type=int, default=0, show_default=True, metavar="C",
              help="With --readout-error: store the readout estimated from C simulated "
              "calibration shots of each of |0...0> and |1...1> (0: the exact matrices).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="qtomo_data.h5",
              show_default=True, help="Output dataset file (HDF5).")
@overwrite_option
@json_option
@run_command
def cmd(state, n_qubits, J, h, boundary, povm, shots, eval_shots, noise, seed, method, chi,
        cutoff, log_p, readout_error, design, shots_per_setting, drift, readout_drift,
        calibration_shots, out, overwrite, as_json):
    """Simulate a target state and sample informationally complete POVM shots.

    Builds a TFIM ground state (exact diagonalization or DMRG), a GHZ, W, cluster, seeded random
    product or seeded random MPS state (a state vector up to 16 qubits, an exact MPS above) or
    a seeded Haar-random state (up to 12 qubits),
    optionally with local depolarizing noise, samples --shots training shots and --eval-shots
    evaluation shots exactly, and writes them with their exact log-probabilities, the POVM and
    the target's exact observables to a versioned HDF5 dataset. The file appears only when
    complete. With --design every setting of a fixed design is measured exactly its shots
    (the layout of a lab's run), optionally on a device that drifts between settings; a design
    of 'qtomo plan' names its target, which is then simulated (no --state needed), and the
    dataset keeps the plan so that 'qtomo reconstruct' reports the protocol's fidelity.
    """
    bars: list[tqdm] = []

    def stage(text: str) -> None:
        # the bar appears with the first stage, after every value and the output were checked
        if not bars:
            total = None if design is not None else (shots or 100_000) + eval_shots
            bars.append(tqdm(total=total, unit="shot", unit_scale=True,
                             file=sys.stderr, desc="simulate", leave=False, disable=None,
                             dynamic_ncols=True))
        bars[0].set_description(text)

    ro = parse_readout_error(readout_error)
    for name, v in (("drift", drift), ("readout-drift", readout_drift)):
        finite_float(name, v)
    try:
        summary = simulate(
            out, state=state, n_qubits=n_qubits, J=J, h=h, boundary=boundary,
            povm=None if povm is None else povm.lower(), shots=shots, eval_shots=eval_shots,
            noise=noise, seed=seed, method=method, chi=chi, cutoff=cutoff, log_p=log_p,
            readout_error=ro, design=design, shots_per_setting=shots_per_setting, drift=drift,
            readout_drift=readout_drift, calibration_shots=calibration_shots,
            overwrite=overwrite, progress=lambda k: bars[0].update(k), on_stage=stage,
        ).summary
    finally:
        for b in bars:
            b.close()
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(s: dict) -> None:
    energy = s["energy"]
    missing = energy is None or (isinstance(energy, float) and math.isnan(energy))
    e = "none" if missing else f"{energy:.10f}"
    ro = s.get("readout_error")
    readout = f"readout error P(1|0) {ro[0]:g} P(0|1) {ro[1]:g}, " if ro else ""
    if s.get("calibration_shots"):
        readout += f"stored as estimated from {s['calibration_shots']} calibration shots, "
    design = ""
    if "design" in s:
        d = s["design"]
        axes = f" ({d['n_axis_settings']} along other axes)" if d.get("n_axis_settings") else ""
        design = f"fixed design of {d['n_settings']} settings{axes}, "
        if s["drift"] or s["readout_drift"]:
            design += f"drift {s['drift']:g} rad, readout drift {s['readout_drift']:g}, "
    click.echo(
        f"wrote {s['out']}: {s['state']} N={s['n_qubits']} ({s['method']}), POVM {s['povm']}, "
        f"{design}{s['shots']} shots + {s['eval_shots']} eval shots, noise {s['noise']:g}, "
        f"{readout}energy {e}, log_p_true {'stored' if s['log_p_true'] else 'not stored'}"
    )
