"""qtomo: quantum state tomography with generative models.

Conventions (qubit order, POVM outcome order, fidelity convention) are fixed in the
project's conventions page, docs/conventions.md, and repeated in each module's docstrings.

The public API is :mod:`qtomo.api`, re-exported here (it is light: torch, SciPy and the
reconstruction are loaded by the functions that need them)::

    import qtomo
    ds = qtomo.simulate("tfim6.h5", n_qubits=6, shots=20_000)
    run = qtomo.train(ds, "runs/tfim6")
    rec = qtomo.reconstruct(ds, run)

Nothing inside the package imports this module (every layer reads the version from
:mod:`qtomo._version`): the API on top of all the layers is reached only from here.
"""

from __future__ import annotations

from qtomo._version import __version__
from qtomo.api import (
    Dataset,
    ObservableTable,
    Reconstruction,
    Run,
    import_shots,
    load,
    plan,
    reconstruct,
    simulate,
    train,
)

__all__ = [
    "Dataset",
    "ObservableTable",
    "Reconstruction",
    "Run",
    "__version__",
    "import_shots",
    "load",
    "plan",
    "reconstruct",
    "simulate",
    "train",
]
