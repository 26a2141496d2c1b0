"""Readout correction in ``qtomo reconstruct``: the corrected estimates recover the prepared
state, the report carries the uncorrected figures and the calibration error."""

from __future__ import annotations

import pytest

from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.reconstruction.run import ReconstructConfig, reconstruct

SHOTS = 30_000


@pytest.fixture(scope="module")
def misread(tmp_path_factory):
    path = tmp_path_factory.mktemp("ro") / "ghz3.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=3, povm="pauli6", shots=SHOTS, eval_shots=0,
                            noise=0.05, seed=11, readout_error=(0.03, 0.08)), path)
    return path


def test_corrected_direct_and_mle_recover_the_prepared_state(misread):
    rec = reconstruct(misread, None, ReconstructConfig())
    q = rec.report["quantum"]
    exact = q["exact_fidelity"]
    d = q["direct_estimate"]
    # the simulated matrices are exact: no calibration error, the statistical s.e. alone
    assert rec.report["readout"]["calibration_stderr"] == 0.0
    assert abs(d["value"] - exact) < 4 * d["stderr"]
    # the raw-frequency MLE with the effective POVM: within a few direct s.e. too
    assert abs(q["data"]["mle"]["fidelity"] - exact) < 4 * d["stderr"]
    ro = rec.report["readout"]
    assert ro["applied"] is True and ro["source"] == "simulate"
    # uncorrected: the GHZ coherence is damped by (1 - P10 - P01)^3 on the XY strings
    assert ro["quantum_fidelity_uncorrected_direct"] < exact - 10 * d["stderr"]


def test_without_correction_the_report_gives_the_corrected_figure_beside(misread):
    off = reconstruct(misread, None, ReconstructConfig(readout_correction=False))
    on = reconstruct(misread, None, ReconstructConfig())
    ro = off.report["readout"]
    assert ro["applied"] is False
    assert ro["quantum_fidelity_corrected_direct"] == pytest.approx(
        on.report["quantum"]["direct_estimate"]["value"], abs=1e-12)
    assert off.report["quantum"]["direct_estimate"]["value"] == pytest.approx(
        on.report["readout"]["quantum_fidelity_uncorrected_direct"], abs=1e-12)
    # <Z_0 Z_1> = (1 - p)^2 for the noisy GHZ state: corrected within 4 s.e., uncorrected off
    zz = on.report["observables"]["two_point"]["ZZ"]
    exact = zz["exact"][0][1]
    assert exact == pytest.approx(0.95**2)
    v, se = zz["direct"]["value"][0][1], zz["direct"]["stderr"][0][1]
    assert abs(v - exact) < 4 * se
    raw = off.report["observables"]["two_point"]["ZZ"]["direct"]["value"][0][1]
    assert raw < exact - 5 * se  # (1 - P10 - P01)^2 damping and a shift: ~8 s.e. here
