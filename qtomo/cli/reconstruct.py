"""``qtomo reconstruct``: density matrix, observables, fidelities and a lab report."""

from __future__ import annotations

import math
import sys
import warnings

import click

from qtomo.api import reconstruct
from qtomo.cli.options import emit_json, json_option, overwrite_option, run_command, seed_option
from qtomo.errors import InputValueError


@click.command(
    "reconstruct",
    epilog="Examples:\n\n\b\n  qtomo reconstruct runs/tfim10 --data tfim10.h5 --out report10\n"
    "  qtomo reconstruct runs/tfim50 --data tfim50.h5 --out report50 --observable 'Z0 Z25' "
    "--json\n  qtomo reconstruct --data ghz4_lab.h5 --out ghz_report     (no model: from the "
    "shots)\n\nExit codes: 0 ok, 3 bad value, 4 bad dataset or run directory, 5 report exists.",
)
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--data", "-d", required=True, type=click.Path(dir_okay=False),
              help="Dataset file (qtomo simulate / qtomo import).")
@click.option("--out", "-o", default="qtomo_report", show_default=True,
              type=click.Path(file_okay=False),
              help="Report directory: report.json, report.html (and rho_*.npy).")
@click.option("--samples", type=int, default=100_000, show_default=True,
              help="Strings sampled from the model for observables and entropies.")
@click.option("--observable", "observables", multiple=True, metavar="PAULIS",
              help="Extra Pauli string to estimate, e.g. 'Z0 Z5' or 'X0 Y1 X2' (repeatable).")
@click.option("--save-rho", is_flag=True,
              help="Also write every density matrix as rho_<name>.npy (complex128).")
@click.option("--max-rho-qubits", type=int, default=10, show_default=True,
              help="Build dense density matrices (inversion, projection, MLE) up to this N "
              "(Pauli-6 at N = 10, 6^10 outcome strings: about 18 minutes and 7.5 GB on 2 cores; "
              "9 skips it).")
@click.option("--mle/--no-mle", default=True, show_default=True,
              help="Fit maximum-likelihood physical states to the outcome tables.")
@click.option("--mle-rank", type=int, default=None,
              help="Rank of the MLE state  [chosen on measured shots].")
@click.option("--subsystem", "subsystems", multiple=True, metavar="SITES",
              help="Qubits of a subsystem for its Renyi-2 entropy, e.g. '0,1,2' (repeatable; "
              "default: leading blocks of 1..4 qubits).")
@click.option("--precision", type=float, default=None, metavar="P",
              help="Shots planning: the error bar wanted on the headline fidelity, e.g. 0.005; "
              "with a run trained with --learning-curve the report gives the shots needed, "
              "assuming the error bar falls as 1/sqrt(shots).")
@click.option("--estimator", type=click.Choice(["auto", "model", "blend", "raw-mle", "direct"]),
              default="auto", show_default=True,
              help="The estimate that heads the report: auto (the headline policy: the model's "
              "state unless the model-vs-data check rejects it, else the best-supported estimate "
              "from the shots), model (the model's own MLE state, no blend), blend (the model's "
              "state blended with the shots' frequencies), raw-mle (the raw-frequency MLE with "
              "its bootstrap error bar) or direct (the direct estimate from the shots).")
@click.option("--readout-correction/--no-readout-correction", default=True, show_default=True,
              help="Correct the readout errors of the dataset's calibration (qtomo import "
              "--calibration/--readout, qtomo simulate --readout-error) through its effective "
              "per-qubit POVM; the report gives the headline figures without it beside.")
@seed_option
@overwrite_option
@click.option("--progress/--no-progress", default=None,
              help="Print each stage on stderr  [only on a terminal].")
@json_option
@run_command
def cmd(run_dir, data, out, samples, observables, save_rho, max_rho_qubits, mle, mle_rank,
        subsystems, precision, estimator, readout_correction, seed, overwrite, progress, as_json):
    """Reconstruct the state behind DATA from the model in RUN_DIR and write a lab report.

    RUN_DIR is a directory written by 'qtomo train'. Without it the report is built from the
    shots alone: the direct (classical-shadow) estimator, and for small N linear inversion and
    maximum likelihood of the raw frequencies.

    Shots of a design planned by 'qtomo plan' (simulated with 'qtomo simulate --design') are
    checked against the plan and get the protocol's fidelity at any N: GHZ parity, stabilizer
    sampling, or the certified lower bound from the TFIM energy (report section 'lab_scale');
    above --max-rho-qubits it is the headline.

    The report gives the density matrix for N <= 10 (eigenvalues, purity, smallest eigenvalue,
    closest physical state, maximum-likelihood state), observables with standard errors from
    the model's samples and from the data side by side with exact values, the TFIM energy,
    quantum fidelity (squared convention) to the stored target beside its direct estimate
    from the shots, classical fidelity and KL, and Renyi-2 entropies of small subsystems.
    """
    subs = []
    for text in subsystems:
        try:
            subs.append(tuple(int(x) for x in text.replace(" ", ",").split(",") if x != ""))
        except ValueError:
            raise InputValueError(
                f"--subsystem {text!r} is not a list of qubit indices such as '0,1,2'"
            ) from None
    show = sys.stderr.isatty() if progress is None else progress

    def stage(text: str) -> None:
        if show:
            click.echo(f"reconstruct: {text} ...", err=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the report directory is checked before anything is computed, written at the end
        rec = reconstruct(
            data, run_dir, samples=samples, observables=observables, seed=seed,
            max_rho_qubits=max_rho_qubits, mle=mle, mle_rank=mle_rank,
            subsystems=subs or None, precision=precision, estimator=estimator,
            readout_correction=readout_correction, report=out, save_rho=save_rho,
            overwrite=overwrite, on_stage=stage,
        )
    for w in caught:
        click.echo(f"qtomo: warning: {w.message}", err=True)
    summary = rec.summary

    for note in rec.report.get("warnings") or []:
        click.echo(f"qtomo: warning: {note}", err=True)
    if summary["consistent"] is False:
        click.echo("qtomo: warning: the model is inconsistent with its data (failed: "
                   f"{', '.join(summary['consistency_failed'])}); the headline shows the "
                   "estimates from the shots instead; see 'Model-vs-data consistency' in "
                   f"{summary['report']}", err=True)
    if as_json:
        emit_json(summary)
    else:
        _print(summary)
    sys.stdout.flush()


def _print(s: dict) -> None:
    def f(v, se=None):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        return f"{v:.6f}" + (f" +- {se:.2g}" if se is not None and math.isfinite(se) else "")

    click.echo(f"quantum fidelity {f(s['quantum_fidelity'], s['quantum_fidelity_stderr'])} "
               f"({s['quantum_fidelity_source']})")
    if s.get("quantum_fidelity_why"):
        click.echo(s["quantum_fidelity_why"])
    lab = s.get("lab_scale")
    if lab:
        what = (f"fidelity >= {lab['lower_bound95']:.4f} (one-sided 95%; bound at the measured "
                f"energy {f(lab['value'], lab['stderr'])})" if lab["lower_bound95"] is not None
                else f"fidelity {f(lab['value'], lab['stderr'])}, 95% interval "
                f"[{lab['ci95'][0]:.4f}, {lab['ci95'][1]:.4f}]")
        click.echo(f"lab-scale {lab['protocol']} protocol: {what}, {lab['n_settings']} settings, "
                   f"{lab['n_shots']} shots")
    if s["direct_fidelity"] is not None:
        d = f(s["direct_fidelity"], s["direct_fidelity_stderr"])
        click.echo(f"direct estimate from the shots {d}")
    if s.get("fidelity_range") is not None:
        lo, hi = s["fidelity_range"]
        click.echo(f"fidelities the shots allow (95% profile likelihood over all states): "
                   f"{lo:.4f} to {hi:.4f}")
    if s.get("readout_corrected") is not None:
        if s["readout_corrected"]:
            click.echo(f"readout errors corrected (calibration s.e. {f(s['calibration_stderr'])},"
                       f" in the error bar); without the correction: "
                       f"{f(s['quantum_fidelity_uncorrected'])}")
        else:
            click.echo("readout errors NOT corrected (--no-readout-correction)")
    if s["classical_fidelity"] is not None:
        se = s["classical_fidelity_stderr"]
        exact = se == 0.0  # summed over every outcome string, not sampled: no error bar
        c = f(s["classical_fidelity"], None if exact else se)
        kl = f(s["kl_divergence"], None if exact else s["kl_divergence_stderr"])
        click.echo(f"classical fidelity {c}, KL {kl} nats"
                   + (" (exact sums over all outcome strings)" if exact else ""))
    if s["energy"] is not None:
        click.echo(f"energy {f(s['energy'], s['energy_stderr'])} "
                   f"({s['reference']} {f(s['energy_exact'])})")
    if s["consistent"] is not None:
        verdict = ("consistent with the data" if s["consistent"] else
                   "INCONSISTENT with the data (" + ", ".join(s["consistency_failed"])
                   + f"); the model's own fidelity was {f(s['quantum_fidelity_model'])}")
        pv = s["consistency_p_value"]
        click.echo(f"model: {verdict}" + (f" (chi-square p = {pv:.2g})" if pv is not None else ""))
    click.echo(f"report: {s['report']}")
