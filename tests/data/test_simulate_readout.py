"""``qtomo simulate --readout-error``: the bits follow the effective POVM, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.errors import InputValueError
from qtomo.povm.born import born_probabilities, outcome_index
from qtomo.povm.frames import get_frame, with_readout
from qtomo.reconstruction.metrics import target_state


def test_log_p_and_frequencies_are_those_of_the_misread_bits(tmp_path):
    cfg = SimulateConfig(state="ghz", n_qubits=3, povm="pauli6", shots=60_000, eval_shots=0,
                         noise=0.05, seed=7, readout_error=(0.02, 0.05))
    simulate(cfg, tmp_path / "r.h5")
    with open_dataset(tmp_path / "r.h5") as ds:
        assert ds.readout.source == "simulate" and np.all(ds.readout.stderr == 0)
        np.testing.assert_allclose(ds.readout.flip_probabilities, [[0.02, 0.05]] * 3)
        eff = with_readout(get_frame("pauli6"), cfg.confusion()[0])
        np.testing.assert_allclose(ds.measured_frame.elements, eff.elements)
        psi = ds.target_array("psi")
        p = born_probabilities(target_state(psi, 0.05), eff)
        a = ds.outcomes()
        idx = outcome_index(a, 6)
        np.testing.assert_allclose(ds.log_p_true(), np.log(p[idx]), atol=1e-10)
        # frequencies follow the misread statistics: chi-square over the 216 strings
        counts = np.bincount(idx, minlength=p.size)
        expect = p * len(a)
        chi2 = float(((counts - expect) ** 2 / expect).sum())
        assert chi2 < p.size + 5 * np.sqrt(2 * p.size)
        # and they differ from the statistics of a perfect readout
        ideal = born_probabilities(target_state(psi, 0.05), get_frame("pauli6"))
        assert np.abs(p - ideal).max() > 1e-3


def test_readout_error_refusals():
    with pytest.raises(InputValueError, match="needs --povm pauli6"):
        SimulateConfig(state="ghz", n_qubits=3, povm="tetra", readout_error=(0.01, 0.01)).validate()
    with pytest.raises(InputValueError, match="cannot be inverted"):
        SimulateConfig(state="ghz", n_qubits=3, povm="pauli6",
                       readout_error=(0.5, 0.01)).validate()
    with pytest.raises(InputValueError, match="not probabilities"):
        SimulateConfig(state="ghz", n_qubits=3, povm="pauli6",
                       readout_error=(-0.1, 0.01)).validate()
