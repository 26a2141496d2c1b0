"""``qtomo info``: validate a dataset file and print its summary."""

from __future__ import annotations

import click

from qtomo.api import load
from qtomo.cli.options import emit_json, json_option, run_command


@click.command("info")
@click.argument("data", type=click.Path(dir_okay=False))
@json_option
@run_command
def cmd(data, as_json):
    """Validate DATA (a qtomo .h5 dataset) and print what it holds."""
    ds = load(data)
    s = ds.info
    if as_json:
        emit_json(s)
        return
    t = s["target"]
    click.echo(f"{s['path']}: schema v{s['schema_version']}, qtomo {s['qtomo_version']}, "
               f"created {s['created']}")
    axis = f" + {s['axis_shots']} shots of axis settings" if s.get("axis_shots") else ""
    click.echo(f"  {s['n_qubits']} qubits, {s['shots']} shots{axis} + {s['eval_shots']} eval "
               "shots, "
               f"POVM {s['povm']} (K={s['K']}), "
               f"log_p_true {'yes' if s['has_log_p_true'] else 'no'}")
    if t:
        keys = ("state", "method", "J", "h", "boundary", "noise", "energy", "truncation_error")
        click.echo("  target: " + ", ".join(f"{k}={t[k]}" for k in keys if k in t))
    design = ds.design
    line = f"  design: {design.describe()}"
    if design.settings:
        shown = ", ".join(design.settings[:6])
        line += f" ({shown}{', ...' if len(design.settings) > 6 else ''})"
    click.echo(line)
    click.echo("  readout: " + ("none" if ds.readout is None else ds.readout.describe()))
