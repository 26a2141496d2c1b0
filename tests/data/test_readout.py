"""Readout calibration: the confusion estimate from exact counts equals the known matrices,
given matrices are checked, everything is stored (with the per-qubit POVM) and read back as
``ds.readout``; bad calibrations are refused with one line."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from qtomo.data.design import confusion_problem
from qtomo.data.hdf5 import open_dataset
from qtomo.data.lab import LabImportConfig, import_lab_shots
from qtomo.data.readout import estimate_confusion
from qtomo.errors import DataFileError, InputValueError

#: a few settings only: the basis-frequency check warns, which is beside the point here
pytestmark = pytest.mark.filterwarnings("ignore::qtomo.data.lab.LabImportWarning")
#: per-qubit (P(1|0), P(0|1)) of three qubits; multiples of 1/100
FLIPS = [(0.02, 0.05), (0.01, 0.10), (0.03, 0.04)]
SETTINGS = {"XYZ": {"000": 5, "101": 7}, "ZZX": {"111": 3}, "YXY": {"010": 4}}


def confusion_of(flips):
    return np.array([[[1 - a, b], [a, 1 - b]] for a, b in flips])


def exact_calibration(flips, n_shots, prepared=("000", "111")):
    """Counts that are exactly n_shots x P(read | prepared) for independent qubits."""
    c = confusion_of(flips)
    out = {}
    for prep in prepared:
        counts = {}
        for read in itertools.product((0, 1), repeat=len(prep)):
            p = np.prod([c[q, r, int(prep[q])] for q, r in enumerate(read)])
            counts["".join(map(str, read))] = int(round(p * n_shots))
        out[prep] = counts
    return out


def test_confusion_estimate_from_exact_counts_is_the_known_matrix():
    n_shots = 10**6  # every product of three probabilities times 10^6 is an integer
    cal = exact_calibration(FLIPS, n_shots)
    assert all(sum(d.values()) == n_shots for d in cal.values())
    parsed = {tuple(map(int, p)): {tuple(map(int, r)): c for r, c in d.items()}
              for p, d in cal.items()}
    conf, se, shots = estimate_confusion(parsed, 3)
    want = confusion_of(FLIPS)
    np.testing.assert_allclose(conf, want, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(shots, np.full((3, 2), n_shots))
    np.testing.assert_allclose(se, np.sqrt(want * (1 - want) / n_shots), rtol=1e-12)
    assert confusion_problem(conf) is None


def test_other_prepared_states_pool_by_the_prepared_bit():
    # |010> and |101> prepare every qubit once in 0 and once in 1: the same matrices
    cal = exact_calibration(FLIPS, 10**6, prepared=("010", "101"))
    parsed = {tuple(map(int, p)): {tuple(map(int, r)): c for r, c in d.items()}
              for p, d in cal.items()}
    conf, _, _ = estimate_confusion(parsed, 3)
    np.testing.assert_allclose(conf, confusion_of(FLIPS), atol=1e-15)


def test_embedded_and_separate_calibration_are_stored_in_the_povm(tmp_path):
    cal = exact_calibration(FLIPS, 10**4 * 100)
    (tmp_path / "c.json").write_text(json.dumps({"settings": SETTINGS, "calibration": cal}))
    import_lab_shots(tmp_path / "c.json", tmp_path / "a.h5", LabImportConfig())
    (tmp_path / "plain.json").write_text(json.dumps(SETTINGS))
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    import_lab_shots(tmp_path / "plain.json", tmp_path / "b.h5",
                     LabImportConfig(calibration=str(tmp_path / "cal.json")))
    import_lab_shots(tmp_path / "plain.json", tmp_path / "n.h5", LabImportConfig())
    for name, src in (("a.h5", "c.json"), ("b.h5", "cal.json")):
        with open_dataset(tmp_path / name) as ds:
            r = ds.readout
            np.testing.assert_allclose(r.confusion, confusion_of(FLIPS), atol=1e-15)
            np.testing.assert_allclose(r.flip_probabilities, FLIPS, atol=1e-15)
            assert r.source == "calibration" and r.source_file.endswith(src)
            assert r.applied and r.calibration_shots.shape == (3, 2)
            assert not ds.measured_frame.uniform  # qubits misread differently
            assert ds.summary()["readout"]["applied"] is True
            # the bits are stored as read: the shots are the plain expansion of the counts
            with open_dataset(tmp_path / "n.h5") as plain:
                np.testing.assert_array_equal(ds.outcomes(), plain.outcomes())
                np.testing.assert_array_equal(ds.frame.elements, plain.frame.elements)
    with open_dataset(tmp_path / "n.h5") as ds:
        assert ds.readout is None and ds.summary()["readout"] is None


def test_calibration_in_qiskit_order(tmp_path):
    cal = exact_calibration(FLIPS, 10**6)
    rev = {p[::-1]: {r[::-1]: c for r, c in d.items()} for p, d in cal.items()}
    settings = {s[::-1]: {o[::-1]: c for o, c in d.items()} for s, d in SETTINGS.items()}
    (tmp_path / "q.json").write_text(json.dumps({"settings": settings, "calibration": rev}))
    import_lab_shots(tmp_path / "q.json", tmp_path / "q.h5", LabImportConfig(bit_order="q0-last"))
    with open_dataset(tmp_path / "q.h5") as ds:
        np.testing.assert_allclose(ds.readout.confusion, confusion_of(FLIPS), atol=1e-15)


def test_given_readout_matrices(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps(SETTINGS))
    c = confusion_of(FLIPS)
    (tmp_path / "r.json").write_text(json.dumps(c.tolist()))
    se = np.full_like(c, 0.001)
    (tmp_path / "rs.json").write_text(json.dumps({"confusion": c.tolist(), "stderr": se.tolist(),
                                                  "comment": "from the vendor"}))
    for name, want_se in (("r.json", np.full_like(c, np.nan)), ("rs.json", se)):
        out = tmp_path / f"{name}.h5"
        import_lab_shots(tmp_path / "p.json", out, LabImportConfig(readout=str(tmp_path / name)))
        with open_dataset(out) as ds:
            np.testing.assert_array_equal(ds.readout.confusion, c)
            np.testing.assert_array_equal(ds.readout.stderr, want_se)
            assert ds.readout.source == "readout" and ds.readout.calibration_shots is None


BAD_CAL = [
    ({"000": {"000": 10}}, "no calibration shots with qubit 0 prepared in |1>"),
    ({"000": {"100": 6, "000": 4}, "111": {"111": 10}},
     "qubit 0: P\\(read 1 \\| prepared 0\\) = 0.6 >= 0.5"),
    ({"000": {"000": 10}, "111": {"101": 5, "111": 5}},
     "qubit 1: P\\(read 0 \\| prepared 1\\) = 0.5 >= 0.5"),
    ({"000": {"000": 10}, "11": {"11": 1}}, "calibration: prepared state '11' has 2 bits"),
    ({"000": {"000": 10}, "111": {"1x1": 1}}, "calibration, prepared '111': outcome '1x1': "
     "character 2"),
    ({"000": {"000": -1}, "111": {"111": 1}}, "count -1 is negative"),
    ({"000": {"000": 0}, "111": {"111": 0}}, "no calibration shots \\(every count is 0\\)"),
    ([], "calibration: expected a non-empty object"),
]


@pytest.mark.parametrize("cal,msg", BAD_CAL)
def test_bad_calibration_is_refused(tmp_path, cal, msg):
    (tmp_path / "c.json").write_text(json.dumps({"settings": SETTINGS, "calibration": cal}))
    with pytest.raises(DataFileError, match=msg):
        import_lab_shots(tmp_path / "c.json", tmp_path / "c.h5", LabImportConfig())
    assert not (tmp_path / "c.h5").exists()


BAD_READOUT = [
    ([[[0.9, 0.1], [0.2, 0.9]]] * 3, "qubit 0: columns sum to 1.1 and 1"),
    ([[[1.1, 0.1], [-0.1, 0.9]]] * 3, "qubit 0: entries .* are not probabilities"),
    ([[[0.98, 0.05], [0.02, 0.95]]] * 2 + [[[0.4, 0.05], [0.6, 0.95]]],
     "qubit 2: P\\(read 1 \\| prepared 0\\) = 0.6 >= 0.5"),
    ([[[0.98, 0.05], [0.02, 0.95]]] * 2, "shape \\(2, 2, 2\\); expected \\(3, 2, 2\\)"),
    ([[[0.98, 0.05], [0.02]]] * 3, "not an array of numbers"),
    ({"matrices": []}, "top-level key 'matrices'"),
    ({"confusion": [[[0.98, 0.05], [0.02, 0.95]]] * 3, "stderr": [[[-1, 0], [0, 0]]] * 3},
     "stderr holds negative"),
]


@pytest.mark.parametrize("readout,msg", BAD_READOUT)
def test_bad_readout_file_is_refused(tmp_path, readout, msg):
    (tmp_path / "p.json").write_text(json.dumps(SETTINGS))
    (tmp_path / "r.json").write_text(json.dumps(readout))
    with pytest.raises(DataFileError, match=msg):
        import_lab_shots(tmp_path / "p.json", tmp_path / "o.h5",
                         LabImportConfig(readout=str(tmp_path / "r.json")))
    assert not (tmp_path / "o.h5").exists()


def test_one_readout_source_at_most(tmp_path):
    cal = exact_calibration(FLIPS, 100)
    (tmp_path / "c.json").write_text(json.dumps({"settings": SETTINGS, "calibration": cal}))
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    with pytest.raises(InputValueError, match="readout given twice"):
        import_lab_shots(tmp_path / "c.json", tmp_path / "o.h5",
                         LabImportConfig(calibration=str(tmp_path / "cal.json")))
    with pytest.raises(InputValueError, match="not both"):
        LabImportConfig(calibration="a.json", readout="b.json").validate()
    # per-shot layouts take a calibration file too
    (tmp_path / "s.csv").write_text("bases,bits\nXYZ,011\nZZZ,000\nYXY,110\n")
    import_lab_shots(tmp_path / "s.csv", tmp_path / "s.h5",
                     LabImportConfig(calibration=str(tmp_path / "cal.json")))
    with open_dataset(tmp_path / "s.h5") as ds:
        assert ds.readout.source == "calibration" and ds.design.kind == "random"
