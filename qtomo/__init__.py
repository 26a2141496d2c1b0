"""qtomo: quantum state tomography with generative models.

Conventions (qubit order, POVM outcome order, fidelity convention) are fixed in the
project's conventions page, docs/conventions.md, and repeated in each module's docstrings.

The public API (:mod:`qtomo.api`) is loaded on first use, so ``import qtomo`` stays light::

    import qtomo
    ds = qtomo.simulate("tfim6.h5", n_qubits=6, shots=20_000)
    run = qtomo.train(ds, "runs/tfim6")
    rec = qtomo.reconstruct(ds, run)

Nothing inside the package imports this module (every layer reads the version from
:mod:`qtomo._version`): the API on top of all the layers is reached only from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtomo._version import __version__

if TYPE_CHECKING:
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

_API = ("simulate", "load", "import_shots", "train", "reconstruct", "plan", "Dataset", "Run",
        "Reconstruction", "ObservableTable")


def __getattr__(name: str) -> Any:
    if name in _API:
        from qtomo import api

        return getattr(api, name)
    raise AttributeError(f"module 'qtomo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


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
