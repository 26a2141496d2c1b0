"""Dataset files: round trip, atomic writes and validation of bad files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from qtomo.data.hdf5 import DatasetWriter, open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.errors import DataFileError, OutputExistsError
from qtomo.povm.frames import get_frame


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "d.h5"
    simulate(SimulateConfig(n_qubits=4, shots=3000, eval_shots=500, seed=7), path)
    return path


def test_round_trip(small):
    with open_dataset(small) as ds:
        assert (ds.n_qubits, ds.shots, ds.eval_shots, ds.K) == (4, 3000, 500, 4)
        a = ds.outcomes()
        assert a.dtype == np.uint8 and a.shape == (3000, 4) and a.max() < 4
        assert np.array_equal(ds.outcomes(100, 200), a[100:200])
        lp = ds.log_p_true()
        assert lp.shape == (3000,) and np.all(lp < 0)
        assert ds.eval_outcomes().shape == (500, 4) and ds.eval_log_p().shape == (500,)
        assert np.allclose(ds.frame.elements, get_frame("pauli4").elements)
        assert ds.target["state"] == "tfim" and ds.target["method"] == "ed"
        psi = ds.target_array("psi")
        assert psi.shape == (16,) and abs(np.linalg.norm(psi) - 1) < 1e-12
        assert ds.target_array("zz_exact").shape == (4, 4)
        assert ds.config["shots"] == 3000 and ds.config["command"] == "simulate"
        assert len(ds.dataset_hash) == 64
        # stored log P equals the Born probability recomputed from psi
        from qtomo.povm.born import born_probabilities, outcome_index

        p = born_probabilities(psi, ds.frame)
        assert np.allclose(lp, np.log(p[outcome_index(a, 4)]), atol=1e-12)


def test_refuses_overwrite(small):
    with pytest.raises(OutputExistsError):
        simulate(SimulateConfig(n_qubits=3, shots=10, eval_shots=0), small)
    simulate(SimulateConfig(n_qubits=3, shots=10, eval_shots=0), small, overwrite=True)
    with open_dataset(small) as ds:
        assert ds.n_qubits == 3 and ds.eval_shots == 0


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with DatasetWriter(path, n_qubits=2, shots=5, frame=get_frame("pauli4"), with_log_p=False,
                           eval_shots=0, config={}) as w:
            w.write_block(0, np.zeros((5, 2), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda f: f.attrs.__setitem__("schema_version", 99), "schema version 99"),
        (lambda f: f.attrs.__delitem__("schema_version"), "not a qtomo dataset"),
        (lambda f: f.attrs.__setitem__("complete", False), "incomplete"),
        (lambda f: f["outcomes"].__setitem__((5, 2), 7), "row 5 holds outcome 7"),
        (lambda f: f["povm"].attrs.__setitem__("K", 6), "K=6"),
        (lambda f: (f.__delitem__("outcomes"), f.create_dataset("outcomes", data=np.zeros((4, 4), np.int32))), "dtype int32"),
        (lambda f: (f.__delitem__("outcomes"), f.create_dataset("outcomes", data=np.zeros(4, np.uint8))), "shape"),
        (lambda f: f.__delitem__("outcomes"), "missing /outcomes"),
    ],
)
def test_validation_names_the_problem(small, mutate, message):
    _edit(small, mutate)
    with pytest.raises(DataFileError, match=message):
        open_dataset(small)


def test_missing_truncated_and_foreign_files(tmp_path, small):
    with pytest.raises(DataFileError, match="no such file"):
        open_dataset(tmp_path / "nope.h5")
    txt = tmp_path / "a.h5"
    txt.write_text("shots,basis\n")
    with pytest.raises(DataFileError, match="not an HDF5 file"):
        open_dataset(txt)
    empty = tmp_path / "e.h5"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match="empty"):
        open_dataset(empty)
    data = small.read_bytes()
    trunc = tmp_path / "t.h5"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError):
        with open_dataset(trunc) as ds:
            ds.outcomes()


def test_large_psi_is_refused_not_dropped(tmp_path):
    # a target vector above MAX_PSI_QUBITS used to vanish silently; the writer now refuses it
    # and a Target (qtomo.states.targets) carries an MPS there instead
    from qtomo.states.targets import build_target

    kw = dict(n_qubits=17, shots=1, frame=get_frame("pauli4"), with_log_p=False,
              eval_shots=0, config={})
    with pytest.raises(ValueError, match="MPS"):
        with DatasetWriter(tmp_path / "a.h5", **kw) as w:
            w.write_block(0, np.zeros((1, 17), np.uint8))
            w.set_target({"state": "custom"}, {"psi": np.ones(2**17) / 2**8.5})
    assert not (tmp_path / "a.h5").exists()
    with DatasetWriter(tmp_path / "b.h5", **kw) as w:
        w.write_block(0, np.zeros((1, 17), np.uint8))
        w.write_target(build_target("ghz", 17))
    with open_dataset(tmp_path / "b.h5") as ds:
        assert ds.target_array("psi") is None and ds.target_mps().max_bond == 2
        assert ds.target["state"] == "ghz"
