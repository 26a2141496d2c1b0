"""Every fidelity, purity and trace a report writes lies in its physical range.

The reports are built from random inputs: small datasets of random families (TFIM, GHZ, with
and without noise, every POVM) and models whose outcome tables are random distributions (far
from any Born distribution, so their inversions are badly unphysical). Estimates that carry a
standard error (the direct fidelity estimate, the U-statistic purities of subsystems) are
linear and unbiased and may leave [0, 1] by their noise; they are documented as such and are
the only exceptions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.reconstruction.metrics import target_born_table
from qtomo.reconstruction.run import ReconstructConfig, reconstruct
from tests.reconstruction.helpers import TableModel

CASES = [
    # state, n, povm, noise, shots, model mix (0: exact model, 1: random table)
    ("tfim", 3, "pauli4", 0.0, 300, 1.0),
    ("ghz", 3, "pauli6", 0.1, 400, 0.5),
    ("ghz", 2, "tetra", 0.0, 200, 0.3),
    ("tfim", 2, "pauli6", 0.2, 150, 0.0),
    ("ghz", 4, "pauli4", 0.05, 500, 0.8),
]


def _walk(obj, path=()):
    """Yield (path, key, value, parent dict) for every entry of nested dicts/lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, k, v, obj
            yield from _walk(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, (*path, i))


def _is_estimate(parent: dict, key: str, path: tuple) -> bool:
    """A documented linear estimate with an error bar (allowed to leave [0, 1])."""
    if f"{key}_stderr" in parent:
        return True
    if key == "value" and parent.get("stderr") is not None:
        return True
    return "direct_estimate" in path


@pytest.mark.parametrize("seed, case", list(enumerate(CASES, start=7)),
                         ids=[f"{c[0]}{c[1]}-{c[2]}-p{c[3]}" for c in CASES])
def test_fidelity_purity_and_trace_stay_physical(tmp_path, seed, case):
    state, n, povm, noise, shots, mix = case
    path = tmp_path / "d.h5"
    simulate(SimulateConfig(state=state, n_qubits=n, povm=povm, noise=noise, shots=shots,
                            eval_shots=100, seed=seed), path)
    with open_dataset(path) as ds:
        p = target_born_table(ds.target_array("psi"), ds.frame, noise)
        K = ds.K  # noqa: N806
    rng = np.random.default_rng(seed)
    q = (1 - mix) * p + mix * rng.dirichlet(np.full(K**n, 0.3))
    rec = reconstruct(path, None, ReconstructConfig(samples=2000, seed=seed),
                      model=TableModel(q, n, K))
    checked = {"fidelity": 0, "purity": 0, "trace": 0}
    for where, key, value, parent in _walk(rec.report):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            if key in ("quantum_fidelity", "classical_fidelity") and isinstance(value, dict):
                v = value.get("value")
                if v is not None and not _is_estimate(value, "value", (*where, key)):
                    assert -1e-12 <= v <= 1 + 1e-12, (where, key, v)
            continue
        name = str(key)
        if not math.isfinite(value):
            continue
        if name == "trace":
            assert abs(value - 1.0) <= 1e-12, (where, value)
            checked["trace"] += 1
        elif ("fidelity" in name or name == "purity") and not name.endswith("_stderr"):
            if _is_estimate(parent, name, where):
                continue
            assert 0.0 <= value <= 1.0, (where, name, value)
            checked["fidelity" if "fidelity" in name else "purity"] += 1
    # the walk really saw the fields (model and data states, subsystems)
    assert checked["trace"] >= 6 and checked["fidelity"] >= 4 and checked["purity"] >= 4, checked
    # the unphysical inversion of a random table reports Tr rho^2, not a purity
    inv = rec.report["quantum"]["model"]["inversion"]
    if not inv["physical"]:
        assert inv["purity"] is None and inv["tr_rho_squared"] > 0
    for name, rho in rec.rhos.items():
        if name.endswith(("_mle", "_projected")) or name == "target":
            w = np.linalg.eigvalsh(rho)
            assert w.min() >= -1e-12 and abs(np.trace(rho).real - 1) <= 1e-12, name
