"""Test helpers: an exact "model" that wraps a true Born table, and small datasets."""

from __future__ import annotations

import numpy as np
import torch

from qtomo.models.base import DensityEstimator
from qtomo.povm.born import outcome_index


class TableModel(DensityEstimator):
    """A DensityEstimator whose Q(a) is a given table over all K^N strings (exact).

    Not registered: it stands in for a perfectly trained model in library tests.
    """

    name = "table"
    exact_log_prob = True
    has_likelihood = True

    def __init__(self, table: np.ndarray, n_qubits: int, K: int) -> None:  # noqa: N803
        super().__init__(n_qubits, K, {})
        p = np.clip(np.asarray(table, dtype=np.float64), 0.0, None)
        p = p / p.sum()
        self.register_buffer("probs", torch.from_numpy(p))
        with np.errstate(divide="ignore"):
            self.register_buffer("logp", torch.from_numpy(np.log(p)))

    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        idx = outcome_index(a.cpu().numpy(), self.K)
        return self.logp[torch.from_numpy(idx)]

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        idx = torch.multinomial(self.probs, n, replacement=True, generator=generator)
        powers = self.K ** torch.arange(self.n_qubits - 1, -1, -1)
        return (idx[:, None] // powers[None, :]) % self.K


class HistogramOnlyModel(TableModel):
    """The same, but without a likelihood (like a GAN): only samples."""

    name = "table-nolik"
    has_likelihood = False
    exact_log_prob = False


def snapshot(x: object, depth: int = 0) -> object:
    """A comparable copy of what a stage is handed: dicts, lists, tuples and dataclasses
    recursively, arrays by dtype, shape and bytes, floats by ``repr`` (NaN equals NaN); any
    other object (a dataset, a model, a frame) by its type alone."""
    import dataclasses

    if depth > 12:
        return "..."
    if isinstance(x, dict):
        return {k: snapshot(v, depth + 1) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [type(x).__name__, *(snapshot(v, depth + 1) for v in x)]
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, (float, np.floating)):
        return ("float", repr(float(x)))
    if x is None or isinstance(x, (bool, int, str, np.integer, np.bool_)):
        return x
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__, {f.name: snapshot(getattr(x, f.name), depth + 1)
                                   for f in dataclasses.fields(x)})
    return ("object", type(x).__name__)


def spy_unchanged(module: object, names: list[str], monkeypatch: object,
                  calls: dict[str, int]) -> None:
    """Wrap ``module.<name>`` for each name so that every call asserts that the function
    left its arguments as it found them (:func:`snapshot`); ``calls`` counts the calls."""
    for name in names:
        fn = getattr(module, name)

        def wrapped(*args: object, _fn=fn, _name=name, **kwargs: object) -> object:
            before = snapshot((args, kwargs))
            out = _fn(*args, **kwargs)
            assert snapshot((args, kwargs)) == before, f"{_name} changed what it was handed"
            calls[_name] = calls.get(_name, 0) + 1
            return out

        monkeypatch.setattr(module, name, wrapped)  # type: ignore[attr-defined]
