"""``qtomo plan``: write the fixed design a lab should measure to certify a target's fidelity."""

from __future__ import annotations

import click

from qtomo.api import plan as plan_design
from qtomo.cli.options import (
    emit_json,
    json_option,
    overwrite_option,
    parse_readout_error,
    run_command,
    seed_option,
)


@click.command(
    "plan",
    epilog="Examples:\n\n\b\n"
    "  qtomo plan --state ghz -n 20 --protocol parity --precision 0.005 --out ghz20.json\n"
    "  qtomo plan --state cluster -n 50 --protocol stabilizer --precision 0.01 --noise 0.01 "
    "--out cl50.json\n"
    "  qtomo plan --state tfim -n 50 --h 2 --protocol energy --shots 100000 --out tfim50.json",
)
@click.option("--state", type=str, required=True,
              help="Target: ghz (parity, stabilizer), cluster (stabilizer) or tfim (energy).")
@click.option("--n-qubits", "-n", type=int, required=True, help="Number of qubits N >= 2.")
@click.option("--protocol", type=str, required=True,
              help="parity (GHZ populations and parity oscillations), stabilizer (direct "
              "fidelity estimation over sampled stabilizers) or energy (certified lower bound "
              "from <H> of the TFIM).")
@click.option("--precision", type=float, default=None,
              help="Requested standard error of the fidelity (of the bound, for energy).")
@click.option("--shots", type=int, default=None,
              help="Plan this total number of shots instead of a precision.")
@click.option("--J", "J", type=float, default=1.0, show_default=True,
              help="TFIM coupling J in H = -J sum Z_i Z_i+1 - h sum X_i.")
@click.option("--h", "h", type=float, default=1.0, show_default=True,
              help="TFIM transverse field h.")
@click.option("--boundary", type=str, default="open", show_default=True,
              help="TFIM chain boundary (the energy protocol handles open chains).")
@click.option("--noise", type=float, default=0.0, show_default=True,
              help="Local depolarizing p the plan assumes for its shot counts (stabilizer "
              "spread, energy variances).")
@click.option("--readout-error", type=str, default=None, metavar="P10,P01",
              help="Readout flips P(read 1 | 0),P(read 0 | 1) the plan assumes on every qubit "
              "(the correction's extra variance), e.g. 0.01,0.02.")
@click.option("--settings", type=int, default=None,
              help="Stabilizer protocol: number of sampled settings (default: planned, at "
              "least 50).")
@seed_option
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="design.json",
              show_default=True, help="Output design file (JSON).")
@overwrite_option
@json_option
@run_command
def cmd(state, n_qubits, protocol, precision, shots, J, h, boundary, noise, readout_error,
        settings, seed, out, overwrite, as_json):
    """Plan the settings and shots that certify a target's fidelity at lab scale.

    Writes a design file (JSON: the target, the protocol, every setting with its measurement
    axes and shots, and the variance model behind the shot counts). Measure it, or simulate it
    with 'qtomo simulate --design FILE'; 'qtomo reconstruct' checks the data against the plan.
    The file appears only when complete.
    """
    spec = plan_design(out, state=state.lower(), n_qubits=n_qubits, protocol=protocol.lower(),
                       precision=precision, shots=shots, J=J, h=h, boundary=boundary,
                       noise=noise, readout_error=parse_readout_error(readout_error),
                       settings=settings, seed=seed, overwrite=overwrite)
    plan = spec.plan or {}
    summary = {"out": str(out), "state": state.lower(), "n_qubits": n_qubits,
               "protocol": spec.protocol, "n_settings": spec.n_settings,
               "shots_total": sum(spec.shots), "shots_min": min(spec.shots),
               "shots_max": max(spec.shots), "predicted_stderr": plan["predicted_stderr"],
               "requested_precision": precision, "assumed_noise": noise,
               "assumed_readout_error": plan["assumed_readout_error"]}
    if as_json:
        emit_json(summary)
        return
    each = (f"{summary['shots_min']} shots each" if summary["shots_min"] == summary["shots_max"]
            else f"{summary['shots_min']}-{summary['shots_max']} shots per setting")
    click.echo(f"wrote {out}: {spec.protocol} protocol for {state.lower()} N={n_qubits}: "
               f"{spec.n_settings} settings, {summary['shots_total']} shots ({each}), "
               f"predicted standard error {plan['predicted_stderr']:.4g}")
