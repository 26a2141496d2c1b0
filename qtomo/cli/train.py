"""``qtomo train``: fit a generative model to the shots of a dataset."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from qtomo.api import train
from qtomo.cli.options import (
    emit_json,
    finite_float,
    json_option,
    overwrite_option,
    run_command,
    seed_option,
)
from qtomo.errors import InputValueError, QtomoError


class Interrupted(QtomoError):
    """Ctrl-C during training: the last finished epoch is kept for --resume."""

    exit_code = 130


def _parse_hparam(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputValueError(f"--hparam expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


@click.command(
    "train",
    epilog="Examples:\n\n\b\n  qtomo train tfim10.h5 --out runs/tfim10\n"
    "  qtomo train ghz40.h5 --out runs/ghz40 --json\n"
    "  qtomo train big.h5 --out runs/big --max-minutes 30 ; qtomo train big.h5 --out runs/big "
    "--resume\n  torchrun --nproc_per_node=2 -m qtomo.cli.main train data.h5 --out runs/ddp\n\n"
    "Options left out take defaults adapted to the dataset (batch size, epochs, network size).",
)
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "-m", default="gru", show_default=True,
              help="Model name (gru, and any other registered model).")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="qtomo_run",
              show_default=True, help="Run directory: config, checkpoints, metrics, model card.")
@click.option("--epochs", type=int, default=None, help="Maximum epochs [adapted to the data].")
@click.option("--batch-size", type=int, default=None, help="Shots per step [adapted to the data].")
@click.option("--lr", type=float, default=None, help="Peak learning rate (AdamW)  [3e-3].")
@click.option("--hidden", type=int, default=None,
              help="Hidden size of the network [64 up to 4 qubits, else 100].")
@click.option("--layers", type=int, default=None, help="Number of layers of the network [2].")
@click.option("--flow", type=click.Choice(["nice", "realnvp", "glow"]), default=None,
              help="Variant of --model flow: NICE, RealNVP or Glow couplings  [realnvp].")
@click.option("--hparam", multiple=True, metavar="KEY=VALUE",
              help="Any other model option, e.g. --hparam dropout=0.1 (repeatable).")
@click.option("--likelihood", type=click.Choice(["joint", "conditional"]), default=None,
              help="joint: model the settings and the bits (bases drawn per shot); "
              "conditional: the bits given the settings, bases 1/3 each (Pauli-6; gru, conv, "
              "transformer)  [from the dataset's design: conditional for a fixed design].")
@click.option("--val-fraction", type=float, default=None,
              help="Shots held out for validation / early stopping  [0.1].")
@click.option("--patience", type=int, default=None,
              help="Stop after this many epochs without better validation NLL (0: never) "
              "[adapted to the data: 3 for the GRU's plateau schedule, else 5; see the docs' "
              "training guide].")
@click.option("--weight-decay", type=float, default=None, help="AdamW weight decay  [0].")
@click.option("--symmetry", type=click.Choice(["auto", "none", "reflection", "translation",
                                               "permutation"]), default=None,
              help="Augment the training shots with qubit permutations that leave the state "
              "invariant (auto: the group the dataset declares; imported lab data: none) [auto].")
@click.option("--keep", type=click.Choice(["best", "last"]), default=None,
              help="Model kept and scored: lowest validation NLL, or the end of the run "
              "(reconstruct then checks it against the run's best on the held-out shots) "
              "[best].")
@click.option("--max-minutes", type=float, default=None,
              help="Wall-time budget; on resume it counts the earlier runs of the same directory "
              "too.")
@click.option("--bootstrap", type=int, default=None, metavar="B",
              help="Also train B bootstrap members (GRU only) on multinomial resamples of the "
              "training shots, side by side in one stacked model, warm started from the main "
              "model: each is a normal run in OUT/members/, and 'qtomo reconstruct' then gives "
              "every headline figure a standard error and a 95% interval. Costs about "
              "1 + 0.24 B main runs (B=10: about 3.4)  [GRU up to 6 qubits: 10, else 0; 0: "
              "none].")
@click.option("--learning-curve", is_flag=True, default=None,
              help="Shots planning: also train 3 members each on 1/8, 1/4, 1/2 and all of the "
              "shots, from scratch (slow: about 12-15 main runs); 'qtomo reconstruct "
              "--precision' then reports the shots needed for a target error bar.")
@seed_option
@click.option("--device", default="auto", show_default=True,
              help="auto, cpu, cuda, cuda:N or mps (auto: cuda, then mps, then cpu).")
@click.option("--precision", default=None,
              help="auto (bf16 where the hardware is fast at it), fp32 or bf16  [auto].")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its last checkpoint, bit for bit; a "
              "finished run is reported again. With --epochs above the stored cap the run "
              "(finished or not) is extended: the cosine learning rate is re-stretched to the "
              "new length from the current step (for a finished run it rises again), the "
              "plateau schedule keeps its rate and restarts its patience count, bootstrap "
              "members are retrained.")
@overwrite_option
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr  [only on a terminal].")
@json_option
@click.pass_context
@run_command
def cmd(ctx: click.Context, data: str, model: str, out: str, epochs: int | None,
        batch_size: int | None, lr: float | None, hidden: int | None, layers: int | None,
        flow: str | None, hparam: tuple[str, ...], likelihood: str | None,
        val_fraction: float | None,
        patience: int | None, symmetry: str | None, keep: str | None,
        weight_decay: float | None, max_minutes: float | None, bootstrap: int | None,
        learning_curve: bool | None, seed: int, device: str,
        precision: str | None, resume: bool, overwrite: bool, progress: bool | None,
        as_json: bool) -> None:
    """Fit a generative model to the shots of DATA.h5 and write the run to --out.

    Trains with AdamW, warm-up and cosine learning rate, gradient clipping and early stopping
    on the validation NLL; logs NLL, classical fidelity and KL(P||Q) (on the dataset's
    evaluation shots, when it stores exact log P) per epoch to metrics.csv; keeps last.pt
    and best.pt. Under torchrun it trains with DistributedDataParallel.
    """
    from qtomo.training.config import parse_device

    for name, v in (("lr", lr), ("val-fraction", val_fraction),
                    ("weight-decay", weight_decay), ("max-minutes", max_minutes)):
        if v is not None:
            finite_float(name, v)
    device = parse_device(device)
    hp = _parse_hparam(hparam)
    if hidden is not None:
        hp["hidden"] = hidden
    if layers is not None:
        hp["layers"] = layers
    if likelihood is not None:
        hp["likelihood"] = likelihood
    if flow is not None:
        if model != "flow":
            raise InputValueError(
                f"--flow {flow} applies only to --model flow, not --model {model}; drop --flow "
                "or pass --model flow"
            )
        hp["flow"] = flow
    def given(name: str) -> bool:
        src = ctx.get_parameter_source(name)
        return src is not None and src.name != "DEFAULT"

    try:
        # on --resume, --seed and --model count only when given (else the stored ones)
        summary = train(
            data, out, model=model if not resume or given("model") else None, epochs=epochs,
            batch_size=batch_size, lr=lr, hparams=hp, val_fraction=val_fraction,
            patience=patience, weight_decay=weight_decay, symmetry=symmetry, keep=keep,
            bootstrap=bootstrap, learning_curve=learning_curve,
            seed=seed if not resume or given("seed") else None, device=device,
            precision=precision, max_minutes=max_minutes, resume=resume, overwrite=overwrite,
            progress=progress,
        ).summary
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; the last finished epoch is kept in {out}: continue with --resume"
        ) from None
    from qtomo.training.trainer import DistInfo, shutdown_distributed

    is_main = DistInfo.current().is_main
    shutdown_distributed()
    if not is_main:  # under torchrun only rank 0 reports
        return
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(s: dict[str, Any]) -> None:
    def f(v: Any, spec: str) -> str:
        return "n/a" if v is None or v != v else format(v, spec)

    lines = [
        f"model            {s['model']} {s['hparams']} ({s['n_parameters']} parameters)",
        f"epochs           {s['epochs']} (best {s['best_epoch']}, stopped: {s['stopped']})",
        f"val NLL          {f(s['val_nll'], '.5f')} nats/string",
        f"class. fidelity  {f(s['classical_fidelity'], '.5f')} +- "
        f"{f(s['classical_fidelity_se'], '.5f')} (eval shots)",
        f"KL(P||Q)         {f(s['kl_divergence'], '.5f')} +- "
        f"{f(s['kl_divergence_se'], '.5f')} nats",
        f"train time       {s['train_seconds']:.1f} s, {f(s['shots_per_second'], '.0f')} shots/s "
        f"on {s['device']} ({s['precision']}, {s['processes']} process(es))",
        f"run directory    {s['run_dir']}",
    ]
    if s.get("note"):
        lines.append(f"note             {s['note']}")
    if s.get("resumed") == "finished":
        lines.append(f"resume           the run had already finished (stopped: {s['stopped']});"
                     " --resume --epochs N, N above its epoch cap, extends it")
    mem = s.get("members")
    if mem:
        ratio = mem.get("bootstrap_cost_ratio")
        lines.append(
            f"members          {mem['bootstrap']} bootstrap, {mem['learning_curve']} "
            f"learning-curve in {s['run_dir']}/members ({mem['members_seconds']:.1f} s"
            + (f"; main + bootstrap = {ratio:.2f} x the main run)" if ratio else ")"))
    click.echo("\n".join(lines))
    sys.stdout.flush()
