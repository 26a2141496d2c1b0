"""``qtomo import``: lab shots (CSV or NumPy) into a qtomo dataset file."""

from __future__ import annotations

import click

from qtomo.cli.options import emit_json, finite_float, json_option, overwrite_option, run_command


@click.command(
    "import",
    epilog="Examples:\n\n\b\n  qtomo import data/ghz4_lab.csv --target ghz --out ghz4_lab.h5\n"
    "  qtomo import shots.csv --povm pauli4 --bit-order q0-last --out lab.h5\n"
    "  qtomo import shots.npy --target tfim --J 1 --h 0.8 --out lab.h5 --json\n"
    "  qtomo import idx.csv --format outcomes --povm tetra --out lab.h5\n\n"
    "\b\npauli-basis CSV layout (bit 0 = +1 eigenstate of the measured Pauli):\n"
    "  bases,bits\n  XZZY,0110\n  ZZXX,1001\n\n"
    "A bad file stops with its line and column named (exit code 4) and writes nothing.",
)
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["pauli-basis", "outcomes"]),
              default="pauli-basis", show_default=True,
              help="pauli-basis: a basis letter and a bit per qubit; outcomes: POVM indices.")
@click.option("--povm", default=None,
              help="pauli-basis: pauli6 (default) or pauli4 (coarse-grained); outcomes: the "
              "POVM of the indices, pauli4, tetra or pauli6 (required).")
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
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="qtomo_lab.h5",
              show_default=True, help="Output dataset file (HDF5).")
@overwrite_option
@json_option
@run_command
def cmd(source, fmt, povm, bit_order, target, J, h, boundary, basis_alpha, out,  # noqa: N803
        overwrite, as_json):
    """Import lab shots from SOURCE (.csv or .npy) into a qtomo dataset.

    pauli-basis shots become Pauli-6 outcomes (+x, -x, +y, -y, +z, -z); --povm pauli4
    coarse-grains them (+z -> 0, +x -> 1, +y -> 2, the rest -> 3). The basis frequencies are
    tested against 1/3 each; when they differ the command warns and uses the Pauli-6 POVM
    weighted by the measured frequencies. --target stores the intended state so that
    'qtomo reconstruct' reports the fidelity to it.
    """
    import warnings

    from qtomo.api import import_shots

    finite_float("J", J)
    finite_float("h", h)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        summary = import_shots(source, out, format=fmt, povm=povm, bit_order=bit_order,
                               target=target, J=J, h=h, boundary=boundary,
                               basis_alpha=basis_alpha, overwrite=overwrite).summary
    for msg in summary["warnings"]:
        click.echo(f"qtomo: warning: {msg}", err=True)
    if as_json:
        emit_json(summary)
    else:
        w = summary["basis_weights"]
        basis = (f", basis frequencies X {w[0]:.4f} Y {w[1]:.4f} Z {w[2]:.4f} "
                 f"(chi-square p = {summary['basis_p_value']:.3g})" if w else "")
        click.echo(f"wrote {summary['out']}: {summary['shots']} shots of "
                   f"{summary['n_qubits']} qubits, POVM {summary['povm']}, target "
                   f"{summary['target']}{basis}")
