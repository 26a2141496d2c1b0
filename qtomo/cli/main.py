"""The ``qtomo`` command: a thin click group whose subcommands load lazily.

Each subcommand lives in ``qtomo/cli/<module>.py`` as a click command named ``cmd``, imported
only when that command runs; the library behind it (NumPy, SciPy, h5py, torch) loads when the
command calls :mod:`qtomo.api`, so ``qtomo --help`` is instant.
"""

from __future__ import annotations

import importlib

import click

from qtomo._version import __version__

#: command name -> (module, one-line help shown by ``qtomo --help``)
COMMANDS = {
    "plan": ("qtomo.cli.plan", "Plan the settings and shots that certify a fidelity."),
    "simulate": ("qtomo.cli.simulate", "Simulate a target state and sample POVM shots to HDF5."),
    "train": ("qtomo.cli.train", "Fit a generative model to the shots of a dataset."),
    "reconstruct": ("qtomo.cli.reconstruct", "Density matrix, observables, fidelities, report."),
    "import": ("qtomo.cli.lab_import", "Import lab shots, counts or shadows into a dataset."),
    "info": ("qtomo.cli.info", "Validate a dataset file and print its summary."),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _) in COMMANDS.items() if importlib.util.find_spec(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _ = COMMANDS[name]
        try:
            return importlib.import_module(module).cmd
        except ModuleNotFoundError as e:
            if e.name == module:
                return None
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad value, 4 bad input file, "
    "5 output exists, 6 no convergence / out of memory. Run 'qtomo COMMAND --help' for details.",
)
@click.version_option(__version__, "--version", "-V", prog_name="qtomo")
def cli() -> None:
    """qtomo: quantum state tomography with generative models.

    Typical pipeline: 'qtomo simulate' (or 'qtomo import' for lab shots) writes a dataset,
    'qtomo train' fits a model to it, 'qtomo reconstruct' writes a lab report.
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
