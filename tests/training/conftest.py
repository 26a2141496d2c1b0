"""Small simulated datasets for the training tests (made once per session)."""

from __future__ import annotations

import pytest

from qtomo.data.simulate import SimulateConfig, simulate


def make_dataset(path, **kw):
    cfg = SimulateConfig(**{"n_qubits": 4, "shots": 3000, "eval_shots": 500, "seed": 7, **kw})
    simulate(cfg, path)
    return path


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory):
    """TFIM N=4, 3000 Pauli-4 shots with exact log P, 500 evaluation shots."""
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture(scope="session")
def other_h5(tmp_path_factory):
    """Same shape as tiny_h5 but another dataset (different seed)."""
    return make_dataset(tmp_path_factory.mktemp("data") / "other.h5", seed=8)
