"""Design files (JSON and CSV) round trip; the simulated drift has the statistics it claims; a
simulated device's shots follow the exact Born rule of every setting, on both samplers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import chi2

from qtomo.data.design import AXIS_LETTER, confusion_from_flips
from qtomo.data.design_file import (
    DesignSpec,
    all_pauli_design,
    read_design_file,
    write_design_file,
)
from qtomo.data.design_sampler import DesignDevice, DesignSampler
from qtomo.data.drift import calibration_counts, drift_flips, drift_vectors
from qtomo.data.readout import estimate_confusion
from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.axes import angles_to_vectors, bit_channel, letter_angles
from qtomo.povm.born import outcome_index
from qtomo.states.targets import Target, build_target, statevector_to_mps


def mixed_spec():
    angles = np.array([letter_angles("ZZZ"), letter_angles("XYZ"),
                       [[np.pi / 2, 0.3], [0.4, -2.0], [0.0, 0.0]]])
    return DesignSpec(3, angles, (1000, 20, 7), {"state": "ghz", "n_qubits": 3}, "parity")


def same(a, b):
    assert a.n_qubits == b.n_qubits and a.shots == b.shots and a.labels == b.labels
    np.testing.assert_allclose(a.angles, b.angles, atol=1e-15)


def test_json_and_csv_round_trip(tmp_path):
    spec = mixed_spec()
    assert spec.labels == ("ZZZ", "XYZ", "AAZ")
    back = read_design_file(write_design_file(tmp_path / "d.json", spec))
    same(back, spec)
    assert back.target == spec.target and back.protocol == "parity"
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["format"] == "qtomo-design" and doc["version"] == 1
    assert doc["settings"][0] == {"paulis": "ZZZ", "shots": 1000} and "axes" in doc["settings"][2]
    same(read_design_file(write_design_file(tmp_path / "d.csv", spec)), spec)
    assert (tmp_path / "d.csv").read_text().startswith("theta_0,phi_0,theta_1,phi_1")
    pauli = all_pauli_design(2, 5)
    assert pauli.labels == ("XX", "XY", "XZ", "YX", "YY", "YZ", "ZX", "ZY", "ZZ")
    same(read_design_file(write_design_file(tmp_path / "p.csv", pauli)), pauli)
    assert (tmp_path / "p.csv").read_text().splitlines()[:2] == ["setting,shots", "XX,5"]
    d = spec.to_design()
    assert d.kind == "fixed" and d.n_axis_settings == 1 and d.shot_totals() == (1020, 7)
    assert pauli.to_design().axes is None


def test_vectors_and_near_pauli_axes(tmp_path):
    p = tmp_path / "v.json"
    p.write_text(json.dumps({"format": "qtomo-design", "version": 1, "n_qubits": 2, "settings": [
        {"vectors": [[1, 0, 0], [0.6, 0.0, 0.8]], "shots": 3},
        {"axes": [[1.5707963, 0.0], [1.5707963, 1.5707963]], "shots": 4}]}))
    spec = read_design_file(p)
    assert spec.labels == ("XA", "XY")  # 7-digit pi/2 is the Pauli axis (within 1e-6)
    np.testing.assert_allclose(spec.vectors()[0, 1], [0.6, 0.0, 0.8], atol=1e-15)
    np.testing.assert_array_equal(spec.angles[1], letter_angles("XY"))  # snapped exactly


def test_all_pauli_refuses_large_n():
    with pytest.raises(InputValueError, match="3\\^N settings"):
        all_pauli_design(9, 10)


def test_duplicate_setting_is_refused(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("setting,shots\nZZ,3\nXZ,4\nzz,5\n")
    with pytest.raises(DataFileError, match="line 4: the setting of line 2 given again"):
        read_design_file(p)


def test_drift_statistics(rng):
    v = angles_to_vectors(np.column_stack([rng.uniform(0, np.pi, 20_000),
                                           rng.uniform(-np.pi, np.pi, 20_000)]))
    assert np.array_equal(drift_vectors(v, 0.0, np.random.default_rng(1)), v)  # bit for bit
    sigma = 0.05
    w = drift_vectors(v, sigma, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-14)
    angle = np.arccos(np.clip((v * w).sum(1), -1, 1))
    # |g| with g ~ N(0, sigma): mean square sigma^2 (relative s.e. sqrt(2/20000) = 1%)
    assert abs((angle**2).mean() / sigma**2 - 1) < 0.05
    f = drift_flips(np.tile([0.02, 0.3], (4, 1)), 0.01, 5000, rng)
    assert f.shape == (5000, 4, 2) and f.min() >= 0 and f.max() < 0.5
    assert abs(f[..., 1].mean() - 0.3) < 4 * 0.01 / np.sqrt(20_000)
    assert abs(f[..., 1].std() - 0.01) < 5e-4


def test_calibration_counts_estimate_the_flips(rng):
    flips = np.array([[0.02, 0.05], [0.0, 0.1], [0.3, 0.01]])
    c, se, shots = estimate_confusion(calibration_counts(flips, 20_000, rng), 3)
    assert (shots == 20_000).all()
    est = np.stack([c[:, 1, 0], c[:, 0, 1]], axis=1)
    sd = np.sqrt(flips * (1 - flips) / 20_000)
    assert (np.abs(est - flips) <= 4 * sd + 1e-12).all()


def device(spec, rng, drift=0.0, spread=0.0, noise=0.05):
    s, n = spec.n_settings, spec.n_qubits
    flips = np.tile([0.02, 0.05], (n, 1))
    nominal = np.broadcast_to(bit_channel(noise, confusion_from_flips(flips)), (s, n, 2, 2))
    drawn = drift_flips(flips, spread, s, rng)
    true = bit_channel(noise, confusion_from_flips(drawn).reshape(s, n, 2, 2))
    return DesignDevice(spec.vectors(), drift_vectors(spec.vectors(), drift, rng), nominal, true)


@pytest.mark.parametrize("drift,spread", [(0.0, 0.0), (0.3, 0.02)])
def test_mps_and_dense_samplers_draw_one_distribution(rng, drift, spread):
    """GHZ-4 on a drifting device: the MPS sampler's per-setting histograms pass a chi-square
    test against the dense path's exact probabilities of the true (drifted) measurement, and
    both give the same nominal log P."""
    n, shots = 4, 8000
    spec = DesignSpec(n, np.array([letter_angles("ZZZZ"), letter_angles("XXYX"),
                                   np.tile([[np.pi / 2, np.pi / 5]], (n, 1))]), (shots,) * 3)
    dev = device(spec, rng, drift, spread)
    t = build_target("ghz", n)
    dense = DesignSampler(t, dev)
    mps = DesignSampler(Target(t.attrs, psi=None, mps=statevector_to_mps(t.psi)), dev)
    assert dense.dense and not mps.dense
    for s in range(3):
        p = dense.probabilities(s)
        bits = mps.sample(s, shots, rng)
        k = np.bincount(outcome_index(bits, 2), minlength=2**n)
        keep = p > 1e-12
        stat = ((k[keep] - shots * p[keep]) ** 2 / (shots * p[keep])).sum()
        assert chi2.sf(stat, keep.sum() - 1) > 1e-3 and k[~keep].sum() == 0
        np.testing.assert_allclose(mps.log_prob(s, bits[:300]), dense.log_prob(s, bits[:300]),
                                   atol=1e-10)
    assert AXIS_LETTER in spec.labels[2]
