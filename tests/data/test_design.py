"""The measurement design and the readout in the dataset file: round trips through HDF5,
old files (no ``/design``) read as random, and broken groups named by the reader."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from qtomo.data.design import Design, Readout, design_axes
from qtomo.data.hdf5 import DatasetWriter, open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.errors import DataFileError, InputValueError
from qtomo.povm.frames import get_frame, site_operators, with_readout

SETTINGS = ("XXZ", "XYZ", "ZZZ")
SHOTS = (3, 0, 2)


def write(path, design=None, readout=None, shots=5, n=3):
    with DatasetWriter(path, n_qubits=n, shots=shots, frame=get_frame("pauli6"),
                       with_log_p=False, eval_shots=0, config={}) as w:
        w.write_block(0, np.zeros((shots, n), np.uint8))
        if design is not None:
            w.write_design(design)
        if readout is not None:
            w.write_readout(readout)
    return path


def test_design_and_readout_round_trip(tmp_path):
    d = Design("fixed", SETTINGS, SHOTS)
    c = np.array([[[0.98, 0.05], [0.02, 0.95]]] * 3)
    se = np.full((3, 2, 2), 0.001)
    r = Readout(c, se, "calibration", "cal.json", np.full((3, 2), 10_000))
    with open_dataset(write(tmp_path / "a.h5", d, r)) as ds:
        assert ds.design == d and ds.design.n_settings == 3
        assert ds.design.summary() == {"kind": "fixed", "n_settings": 3, "shots_min": 0,
                                       "shots_max": 3, "shots_total": 5}
        np.testing.assert_array_equal(ds.readout.confusion, c)
        np.testing.assert_array_equal(ds.readout.stderr, se)
        np.testing.assert_array_equal(ds.readout.calibration_shots, np.full((3, 2), 10_000))
        assert (ds.readout.source, ds.readout.source_file, ds.readout.applied) == (
            "calibration", "cal.json", True)
        # the measured POVM is the ideal one misread, the same on every qubit here
        assert ds.measured_frame.uniform and ds.frame_for(readout_correction=False) is ds.frame
        np.testing.assert_allclose(ds.measured_frame.elements,
                                   with_readout(get_frame("pauli6"), c[0]).elements)
        s = ds.summary()
        assert s["design"]["kind"] == "fixed" and s["readout"]["confusion"] == c.tolist()
    with open_dataset(write(tmp_path / "b.h5")) as ds:  # nothing said: random, no readout
        assert ds.design == Design("random") and ds.readout is None
        assert ds.design.settings is None and ds.design.shots_per_setting is None


def test_old_files_read_as_random(tmp_path):
    path = tmp_path / "s.h5"
    simulate(SimulateConfig(n_qubits=3, shots=50, eval_shots=0, seed=1), path)
    with h5py.File(path, "r+") as f:
        assert f["design"].attrs["kind"] == "random"
        del f["design"]  # as written before the design was recorded
    with open_dataset(path) as ds:
        assert ds.design == Design("random") and ds.readout is None
        assert ds.summary()["design"] == {"kind": "random", "n_settings": None}


@pytest.mark.parametrize("mutate,message", [
    (lambda g: g.attrs.__setitem__("kind", "adaptive"), "/design kind 'adaptive'"),
    (lambda g: g.__delitem__("settings"), "fixed but has no settings"),
    (lambda g: g.__delitem__("shots_per_setting"), "without /design/shots_per_setting"),
    (lambda g: (g.__delitem__("shots_per_setting"),
                g.create_dataset("shots_per_setting", data=np.array([3, 0, 3]))),
     "sums to 6, but the dataset holds 5 shots"),
    (lambda g: (g.__delitem__("settings"),
                g.create_dataset("settings", data=np.array([b"XXZ", b"XWZ", b"ZZZ"]))),
     "settings\\[1\\] is 'XWZ'"),
    (lambda g: (g.__delitem__("shots_per_setting"),
                g.create_dataset("shots_per_setting", data=np.array([3.0, 0, 2]))),
     "integer counts"),
])
def test_broken_design_is_named(tmp_path, mutate, message):
    path = write(tmp_path / "a.h5", Design("fixed", SETTINGS, SHOTS))
    with h5py.File(path, "r+") as f:
        mutate(f["design"])
    with pytest.raises(DataFileError, match=message):
        open_dataset(path)


def test_broken_readout_is_named(tmp_path):
    c = np.array([[[0.98, 0.05], [0.02, 0.95]]] * 3)
    path = write(tmp_path / "a.h5", readout=Readout(c, c * 0, "readout", "r.json"))
    with h5py.File(path, "r+") as f:
        f["readout"].attrs["confusion"] = c[:2]
    with pytest.raises(DataFileError, match="confusion \\(2, 2, 2\\)"):
        open_dataset(path)
    with h5py.File(path, "r+") as f:
        bad = c.copy()
        bad[1] = [[0.3, 0.05], [0.7, 0.95]]
        f["readout"].attrs["confusion"] = bad
    with pytest.raises(DataFileError, match="qubit 1: P\\(read 1 \\| prepared 0\\) = 0.7"):
        open_dataset(path)


def test_per_qubit_readout_and_version_1_files(tmp_path):
    """Different matrices per qubit give per-qubit frames, written to /povm/site_elements; a
    version-1 file (no site elements) builds them from /readout when opened."""
    c = np.array([[[0.98, 0.05], [0.02, 0.95]], [[0.97, 0.01], [0.03, 0.99]],
                  [[1.0, 0.1], [0.0, 0.9]]])
    r = Readout(c, np.full((3, 2, 2), np.nan), "readout", "m.json")
    path = write(tmp_path / "a.h5", None, r)
    with open_dataset(path) as ds:
        assert ds.schema_version == 2 and not ds.measured_frame.uniform
        for q in range(3):
            np.testing.assert_allclose(ds.measured_frame.at(q).elements,
                                       with_readout(get_frame("pauli6"), c[q]).elements)
        stored = site_operators(ds.measured_frame, 3)
    with h5py.File(path, "r+") as f:
        del f["povm/site_elements"]
        f.attrs["schema_version"] = 1
    with open_dataset(path) as ds:
        assert ds.schema_version == 1
        np.testing.assert_allclose(site_operators(ds.measured_frame, 3), stored)
    with h5py.File(path, "r+") as f:
        f["povm"].create_dataset("site_elements", data=np.zeros((3, 6, 2, 2), complex))
    with pytest.raises(DataFileError, match=r"site_elements\[0\] is not a valid POVM"):
        open_dataset(path)


def write_axes(path, n_pauli=2, axis_rows=3):
    """Two settings, ZZ (Pauli, ``n_pauli`` shots) and an axis setting (``axis_rows`` shots)."""
    angles = np.array([[[0.0, 0.0], [0.0, 0.0]], [[0.3, 0.1], [np.pi / 2, 0.0]]])
    d = Design("fixed", ("ZZ", "AX"), (n_pauli, axis_rows), design_axes(angles))
    with DatasetWriter(path, n_qubits=2, shots=n_pauli, frame=get_frame("pauli6"),
                       with_log_p=False, eval_shots=0, config={}, axis_shots=axis_rows) as w:
        if n_pauli:
            w.write_block(0, np.array([[4, 5]] * n_pauli, np.uint8))  # ZZ, bits 0 1
        w.write_axis_block(0, np.ones(axis_rows, np.int64), np.array([[1, 0]] * axis_rows))
        w.write_design(d)
    return path, d


def test_axis_settings_round_trip_and_setting_shots(tmp_path):
    path, d = write_axes(tmp_path / "a.h5")
    with open_dataset(path) as ds:
        assert ds.design == d and ds.axis_shots == 3 and ds.shots == 2
        assert ds.design.n_axis_settings == 1 and ds.design.shot_totals() == (2, 3)
        np.testing.assert_array_equal(ds.design.angles()[1], [[0.3, 0.1], [np.pi / 2, 0.0]])
        idx, bits = ds.setting_shots()
        np.testing.assert_array_equal(idx, [0, 0, 1, 1, 1])
        np.testing.assert_array_equal(bits, [[0, 1]] * 2 + [[1, 0]] * 3)
        assert ds.summary()["axis_shots"] == 3
    path, _ = write_axes(tmp_path / "b.h5", n_pauli=0)  # axis settings only: no Pauli rows
    with open_dataset(path) as ds:
        assert ds.shots == 0 and ds.setting_shots()[0].tolist() == [1, 1, 1]
    with open_dataset(write(tmp_path / "r.h5")) as ds, \
            pytest.raises(InputValueError, match="no fixed settings"):
        ds.setting_shots()


@pytest.mark.parametrize("mutate,message", [
    (lambda f: f["design/axes"].__setitem__((1, 1, 0), 0.2), "its axes make 'AA'"),
    (lambda f: f["design/axes"].__setitem__((0, 0, 0), np.nan), "expected finite"),
    (lambda f: f["axis_shots/setting_index"].__setitem__(0, 0), "not axis settings"),
    (lambda f: f["axis_shots/bits"].__setitem__((0, 0), 2), "bits are 0 or 1"),
    (lambda f: f["design/shots_per_setting"].__setitem__(1, 4), "4 of axis settings"),
    (lambda f: f["design"].__delitem__("axes"), "expected 2 letters X, Y, Z"),
])
def test_broken_axis_design_is_named(tmp_path, mutate, message):
    path, _ = write_axes(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        mutate(f)
    with pytest.raises(DataFileError, match=message):
        open_dataset(path)
