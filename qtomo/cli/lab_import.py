"""``qtomo import``: lab data (per-shot files, counts per setting, classical shadows) into a
qtomo dataset file."""

from __future__ import annotations

import warnings

import click

from qtomo.api import import_shots
from qtomo.cli.options import emit_json, finite_float, json_option, overwrite_option, run_command


@click.command(
    "import",
    epilog="Examples:\n\n\b\n  qtomo import data/ghz4_lab.csv --target ghz --out ghz4_lab.h5\n"
    "  qtomo import data/ghz4_counts.json --target ghz --out ghz4_counts.h5\n"
    "  qtomo import counts.json --bit-order q0-last --out lab.h5          # Qiskit keys\n"
    "  qtomo import shadow.npz --out lab.h5                               # PennyLane\n"
    "  qtomo import shots.csv --povm pauli4 --bit-order q0-last --out lab.h5\n"
    "  qtomo import shots.npy --target tfim --J 1 --h 0.8 --out lab.h5 --json\n"
    "  qtomo import idx.csv --format outcomes --povm tetra --out lab.h5\n"
    "  qtomo import ghz20_counts.json --design ghz20.json --out ghz20.h5  # planned\n\n"
    "\b\npauli-basis CSV layout (bit 0 = +1 eigenstate of the measured Pauli):\n"
    "  bases,bits\n  XZZY,0110\n  ZZXX,1001\n\n"
    "\b\ncounts: JSON {\"XXYZ\": {\"0101\": 12, ...}, ...} or CSV setting,outcome,count\n"
    "shadow: .npz with bits and recipes (T, N), recipes 0/1/2 = X/Y/Z\n\n"
    "A bad file stops with its place (line, setting, key) named (exit code 4) and writes "
    "nothing.",
)
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--format", "fmt",
              type=click.Choice(["auto", "pauli-basis", "outcomes", "counts", "shadow"]),
              default="auto", show_default=True,
              help="auto: from the extension and header (.json/setting,outcome,count -> counts, "
              ".npz -> shadow, else pauli-basis); outcomes must be given explicitly.")
@click.option("--povm", default=None,
              help="pauli-basis, shadow: pauli6 (default) or pauli4 (coarse-grained); counts: "
              "pauli6; outcomes: the POVM of the indices, pauli4, tetra or pauli6 (required).")
@click.option("--bit-order", type=click.Choice(["q0-first", "q0-last"]), default="q0-first",
              show_default=True,
              help="Whether the first (q0-first) or last (q0-last, Qiskit) character is qubit 0.")
@click.option("--target", default="none", show_default=True,
              help="State the lab meant to prepare: none, ghz, tfim (with --J --h --boundary) "
              "or a .npy state vector (big-endian, qubit 0 most significant).")
@click.option("--J", "J", type=float, default=1.0, show_default=True,
              help="TFIM J of --target tfim.")
@click.option("--h", "h", type=float, default=1.0, show_default=True,
              help="TFIM h of --target tfim.")
@click.option("--boundary", type=click.Choice(["open", "periodic"]), default="open",
              show_default=True, help="TFIM boundary of --target tfim.")
@click.option("--basis-alpha", type=float, default=0.01, show_default=True,
              help="Significance level of the chi-square test of uniform basis frequencies.")
@click.option("--seed", type=int, default=1234, show_default=True,
              help="Seed of the shuffle that expands counts into per-shot rows.")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="JSON calibration counts of prepared |0...0> and |1...1>: per-qubit readout "
              "confusion matrices are estimated and stored with the effective per-qubit POVM; "
              "reconstruct corrects the readout with it (--no-readout-correction to compare).")
@click.option("--readout", type=click.Path(dir_okay=False), default=None,
              help="JSON of per-qubit 2x2 confusion matrices P(read b | prepared b'); stored "
              "like --calibration's estimate and corrected by reconstruct.")
@click.option("--design", "plan_file", type=click.Path(dir_okay=False), default=None,
              help="The design file of 'qtomo plan' the counts follow: the counts must hold "
              "its settings; the plan and its target are stored, and reconstruct reports the "
              "plan's lab-scale fidelity.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="qtomo_lab.h5",
              show_default=True, help="Output dataset file (HDF5).")
@overwrite_option
@json_option
@run_command
def cmd(source, fmt, povm, bit_order, target, J, h, boundary, basis_alpha, seed,
        calibration, readout, plan_file, out, overwrite, as_json):
    """Import lab data from SOURCE into a qtomo dataset.

    Bases and bits become Pauli-6 outcomes (+x, -x, +y, -y, +z, -z); --povm pauli4
    coarse-grains them (+z -> 0, +x -> 1, +y -> 2, the rest -> 3). Counts per setting are
    expanded into per-shot rows and shuffled (seeded), and the dataset records the design
    (settings and shots). The basis frequencies are tested against 1/3 each; when they differ
    the command warns and uses the Pauli-6 POVM weighted by the measured frequencies.
    --target stores the intended state so that 'qtomo reconstruct' reports the fidelity to it;
    --design attaches the 'qtomo plan' design the counts follow (and its target), so that
    'qtomo reconstruct' checks the counts against the plan and reports its lab-scale fidelity.
    """
    finite_float("J", J)
    finite_float("h", h)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        summary = import_shots(source, out, format=fmt, povm=povm, bit_order=bit_order,
                               target=target, J=J, h=h, boundary=boundary,
                               basis_alpha=basis_alpha, seed=seed, calibration=calibration,
                               readout=readout, design=plan_file, overwrite=overwrite).summary
    for msg in summary["warnings"]:
        click.echo(f"qtomo: warning: {msg}", err=True)
    if as_json:
        emit_json(summary)
        return
    w = summary["basis_weights"]
    basis = (f", basis frequencies X {w[0]:.4f} Y {w[1]:.4f} Z {w[2]:.4f} "
             f"(chi-square p = {summary['basis_p_value']:.3g})" if w else "")
    d = summary["design"]
    planned = f", {summary['protocol']} plan {plan_file}" if summary["protocol"] else ""
    design = (f", design fixed ({d['n_settings']} settings{planned})" if d["kind"] == "fixed"
              else ", design random")
    click.echo(f"wrote {summary['out']}: {summary['shots']} shots of "
               f"{summary['n_qubits']} qubits ({summary['format']}), POVM {summary['povm']}, "
               f"target {summary['target']}{design}{basis}")
    r = summary["readout"]
    if r is not None:
        flips = [(c[1][0], c[0][1]) for c in r["confusion"]]
        click.echo(f"  readout confusion matrices ({r['source']}, {r['source_file']}) stored, "
                   "corrected by reconstruct: " + ", ".join(f"q{q} P(1|0) {a:.4f} P(0|1) {b:.4f}"
                                               for q, (a, b) in enumerate(flips[:8]))
                   + (" ..." if len(flips) > 8 else ""))
