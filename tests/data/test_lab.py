"""Lab import: conversion to POVM outcomes, bit order, coarse-graining, the basis-frequency
check, targets, and bad files named by line and column with no output left behind."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.data.lab import (
    PAULI6_TO_PAULI4,
    LabImportConfig,
    LabImportWarning,
    check_bases,
    import_lab_shots,
    lab_frame,
    pauli_basis_to_outcomes,
    read_pauli_basis,
)
from qtomo.errors import DataFileError, InputValueError, OutputExistsError
from qtomo.povm.born import born_probabilities
from qtomo.povm.frames import PAULI6_ORDER, get_frame, pauli4, pauli6
from qtomo.states.ghz import ghz_statevector
from qtomo.states.tfim import tfim_ground_state

LETTERS = np.array(list("XYZ"))


def write_csv(path, bases, bits, header="bases,bits", q0_last=False):
    rows = []
    for b, s in zip(bases, bits, strict=True):
        bs, ss = "".join(LETTERS[b]), "".join(map(str, s))
        rows.append(f"{bs[::-1]},{ss[::-1]}" if q0_last else f"{bs},{ss}")
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def sample_pauli(psi, shots, rng, weights=(1 / 3, 1 / 3, 1 / 3)):
    """Lab-style shots of a pure state: random bases, then bits from the Born rule."""
    f = pauli6(None if np.allclose(weights, 1 / 3) else weights)
    p = np.clip(born_probabilities(psi, f), 0.0, None)
    n = int(np.log2(len(psi)))
    idx = rng.choice(p.size, size=shots, p=p / p.sum())
    out = (idx[:, None] // 6 ** np.arange(n - 1, -1, -1)[None, :]) % 6
    return out // 2, out % 2  # bases (X, Y, Z = 0, 1, 2), bits


def test_pauli6_outcome_order():
    # (basis, bit) -> 2*basis + bit follows (+x, -x, +y, -y, +z, -z)
    got = pauli_basis_to_outcomes(np.array([[0, 0, 1, 1, 2, 2]]), np.array([[0, 1, 0, 1, 0, 1]]))
    np.testing.assert_array_equal(got, [[0, 1, 2, 3, 4, 5]])
    assert PAULI6_ORDER == ("+x", "-x", "+y", "-y", "+z", "-z")
    # coarse-graining +z->0, +x->1, +y->2, minus outcomes->3, and the frame is pauli4 exactly
    np.testing.assert_array_equal(PAULI6_TO_PAULI4, [1, 3, 2, 3, 0, 3])
    np.testing.assert_allclose(lab_frame("pauli4", None).elements, pauli4().elements, atol=1e-15)
    np.testing.assert_allclose(lab_frame("pauli6", None).elements, pauli6().elements)


def test_round_trip_and_bit_order(tmp_path, rng):
    psi = tfim_ground_state(3, 1.0, 0.7).psi
    bases, bits = sample_pauli(psi, 500, rng)
    want = (2 * bases + bits).astype(np.uint8)
    for q0_last in (False, True):
        src = write_csv(tmp_path / f"s{q0_last}.csv", bases, bits, q0_last=q0_last)
        out = tmp_path / f"d{q0_last}.h5"
        cfg = LabImportConfig(bit_order="q0-last" if q0_last else "q0-first")
        s = import_lab_shots(src, out, cfg)
        assert s["shots"] == 500 and s["n_qubits"] == 3 and s["povm"] == "pauli6"
        with open_dataset(out) as ds:
            np.testing.assert_array_equal(ds.outcomes(), want)
            np.testing.assert_allclose(ds.frame.elements, pauli6().elements)
            assert ds.config["command"] == "import" and len(ds.config["source_sha256"]) == 64
            assert ds.target["state"] == "unknown" and not ds.has_log_p
    # coarse-grained to Pauli-4
    out = tmp_path / "p4.h5"
    import_lab_shots(tmp_path / "sFalse.csv", out, LabImportConfig(povm="pauli4"))
    with open_dataset(out) as ds:
        np.testing.assert_array_equal(ds.outcomes(), PAULI6_TO_PAULI4[want])
        assert ds.K == 4 and ds.frame.name == "pauli4"


def test_imported_statistics_match_the_born_rule(tmp_path, rng):
    # Pauli-4 counts after coarse-graining agree with P(a) = Tr[rho M(a)] (chi-square)
    from tests.conftest import chi_square_pvalue

    psi = ghz_statevector(2)
    bases, bits = sample_pauli(psi, 30_000, rng)
    out = tmp_path / "g.h5"
    import_lab_shots(write_csv(tmp_path / "g.csv", bases, bits), out,
                     LabImportConfig(povm="pauli4"))
    with open_dataset(out) as ds:
        a = ds.outcomes()
    counts = np.bincount(4 * a[:, 0].astype(int) + a[:, 1], minlength=16)
    assert chi_square_pvalue(counts, born_probabilities(psi, pauli4())) > 1e-3


def test_unequal_basis_frequencies_give_a_weighted_povm(tmp_path, rng):
    psi = ghz_statevector(2)
    w = (0.2, 0.3, 0.5)
    bases, bits = sample_pauli(psi, 20_000, rng, weights=w)
    src = write_csv(tmp_path / "w.csv", bases, bits)
    with pytest.warns(LabImportWarning, match="differ from 1/3"):
        s = import_lab_shots(src, tmp_path / "w.h5", LabImportConfig())
    assert not s["basis_uniform"] and s["basis_p_value"] < 1e-6
    with open_dataset(tmp_path / "w.h5") as ds:
        measured = tuple(ds.config["basis_check"]["weights"])
        np.testing.assert_allclose(measured, w, atol=0.01)
        np.testing.assert_allclose(ds.frame.elements, pauli6(measured).elements)
        assert ds.frame.name == "pauli6-weighted"
    # the weighted POVM is the right one: its Born rule predicts the weighted counts
    f = pauli6(measured)
    p = born_probabilities(psi, f)
    a = 2 * bases + bits
    freq = np.bincount(6 * a[:, 0] + a[:, 1], minlength=36) / len(a)
    assert np.abs(freq - p).max() < 0.01


def test_basis_checks(rng):
    uniform = rng.integers(0, 3, size=(30_000, 4))
    c = check_bases(uniform)
    assert c.uniform and not c.warnings and c.p_uniform > 0.01
    same = np.repeat(rng.integers(0, 3, size=(30_000, 1)), 4, axis=1)  # one basis per shot
    c = check_bases(same)
    assert c.uniform and any("correlated" in m for m in c.warnings)
    skew = uniform.copy()
    skew[:, 0] = rng.choice(3, size=30_000, p=[0.5, 0.25, 0.25])
    assert any("between qubits" in m for m in check_bases(skew).warnings)
    with pytest.raises(InputValueError, match="no shot measured basis Y"):
        check_bases(np.zeros((10, 2), dtype=int) + np.array([0, 2]))


BAD = [
    ("", "empty file"),
    ("# only a comment\n", "empty file"),
    ("bases,bits\n", "no shots"),
    ("basis,bit\nXZ,01\n", "line 1: wrong columns"),
    ("bases,bits\nXZ,01,1\n", "line 2: 3 columns; expected 2"),
    ("bases,bits\nXZ,01\nXW,01\n",
     "line 3: column 1 \\(bases\\), character 2 \\(qubit 1\\) is 'W'"),
    ("bases,bits\nXZ,01\nXZ,21\n", "line 3: column 2 \\(bits\\), character 1 \\(qubit 0\\) is '2'"),
    ("bases,bits\nXZ,01\n,01\n", "line 3: column 1 \\(bases\\) is blank"),
    ("bases,bits\nXZ,01\nXZ,nan\n", "line 3: column 2 \\(bits\\) is 'nan'"),
    ("bases,bits\nXZ,01\nXZY,011\n", "line 3: column 1 \\(bases\\) has 3 characters"),
    ("bases,bits\nXZ,01\nXZ,011\n", "line 3: bases has 2 letters but bits has 3"),
    ("bases,bits\nXZ,01\n\nXZ,01\n", "line 3: blank line"),
    ("bases,bits\nXZ,01\nXZ,0é\n", "line 3: column 2 \\(bits\\), character 2 \\(qubit 1\\) is 'é'"),
]


@pytest.mark.parametrize("text,msg", BAD)
def test_bad_csv_files_name_line_and_column(tmp_path, text, msg):
    src = tmp_path / "bad.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.h5"
    with pytest.raises(DataFileError, match=msg):
        import_lab_shots(src, out, LabImportConfig())
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]  # no temporary file either


def test_bad_char_with_q0_last_names_the_right_qubit(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("bases,bits\nXZY,011\nXQY,011\n")
    with pytest.raises(DataFileError, match="character 2 \\(qubit 1\\)"):
        read_pauli_basis(src, "q0-last")
    src.write_text("bases,bits\nXZY,011\nQZY,011\n")
    with pytest.raises(DataFileError, match="character 1 \\(qubit 2\\)"):
        read_pauli_basis(src, "q0-last")


def test_npy_layouts(tmp_path, rng):
    bases = rng.integers(0, 3, size=(300, 3))
    bits = rng.integers(0, 2, size=(300, 3))
    want = 2 * bases + bits
    np.save(tmp_path / "i.npy", np.stack([bases, bits], axis=1))
    strings = np.array([["".join(LETTERS[b]), "".join(map(str, s))]
                        for b, s in zip(bases, bits, strict=True)])
    np.save(tmp_path / "s.npy", strings)
    for name in ("i", "s"):
        import_lab_shots(tmp_path / f"{name}.npy", tmp_path / f"{name}.h5", LabImportConfig())
        with open_dataset(tmp_path / f"{name}.h5") as ds:
            np.testing.assert_array_equal(ds.outcomes(), want)
    bad = np.stack([bases, bits], axis=1)
    bad[17, 1, 2] = 2
    np.save(tmp_path / "b.npy", bad)
    with pytest.raises(DataFileError, match="row 17: \\[1, 2\\] \\(qubit 2\\) holds bit 2"):
        import_lab_shots(tmp_path / "b.npy", tmp_path / "b.h5", LabImportConfig())
    np.save(tmp_path / "f.npy", np.zeros((3, 4)))
    with pytest.raises(DataFileError, match="expected strings"):
        import_lab_shots(tmp_path / "f.npy", tmp_path / "f.h5", LabImportConfig())
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    with pytest.raises(DataFileError, match="not a readable .npy"):
        import_lab_shots(tmp_path / "x.npy", tmp_path / "x.h5", LabImportConfig())
    assert not (tmp_path / "b.h5").exists() and not (tmp_path / "f.h5").exists()


def test_outcomes_format(tmp_path, rng):
    a = rng.integers(0, 4, size=(200, 5))
    (tmp_path / "o.csv").write_text("outcomes\n" + "\n".join("".join(map(str, r)) for r in a))
    np.save(tmp_path / "o.npy", a)
    for src in ("o.csv", "o.npy"):
        out = tmp_path / (src + ".h5")
        import_lab_shots(tmp_path / src, out, LabImportConfig(format="outcomes", povm="tetra"))
        with open_dataset(out) as ds:
            np.testing.assert_array_equal(ds.outcomes(), a)
            assert ds.frame.name == "tetra"
    (tmp_path / "o4.csv").write_text("outcomes\n0123\n0124\n")
    with pytest.raises(DataFileError, match="line 3: column 1 \\(outcomes\\), character 4"):
        import_lab_shots(tmp_path / "o4.csv", tmp_path / "o4.h5",
                         LabImportConfig(format="outcomes", povm="pauli4"))
    with pytest.raises(InputValueError, match="--povm tetra does not apply"):
        LabImportConfig(povm="tetra").validate()


def test_targets(tmp_path, rng):
    bases, bits = sample_pauli(ghz_statevector(3), 100, rng)
    src = write_csv(tmp_path / "t.csv", bases, bits)
    import_lab_shots(src, tmp_path / "ghz.h5", LabImportConfig(target="ghz"))
    with open_dataset(tmp_path / "ghz.h5") as ds:
        np.testing.assert_allclose(ds.target_array("psi"), ghz_statevector(3))
        assert ds.target["state"] == "ghz" and ds.target["noise"] == 0.0
    import_lab_shots(src, tmp_path / "tfim.h5", LabImportConfig(target="tfim", h=0.5))
    with open_dataset(tmp_path / "tfim.h5") as ds:
        gs = tfim_ground_state(3, 1.0, 0.5)
        np.testing.assert_allclose(ds.target_array("psi"), gs.psi, atol=1e-10)
        assert ds.target["energy"] == pytest.approx(gs.energy) and ds.target["h"] == 0.5
    v = rng.normal(size=8) + 1j * rng.normal(size=8)
    np.save(tmp_path / "v.npy", v)
    import_lab_shots(src, tmp_path / "v.h5", LabImportConfig(target=str(tmp_path / "v.npy")))
    with open_dataset(tmp_path / "v.h5") as ds:
        np.testing.assert_allclose(ds.target_array("psi"), v / np.linalg.norm(v))
        assert ds.target["state"] == "custom"
    np.save(tmp_path / "w.npy", np.ones(4))
    with pytest.raises(DataFileError, match="expected a state vector of shape \\(8,\\)"):
        import_lab_shots(src, tmp_path / "w.h5", LabImportConfig(target=str(tmp_path / "w.npy")))
    with pytest.raises(InputValueError, match="unknown --target"):
        LabImportConfig(target="w-state").validate()
    with pytest.raises(OutputExistsError):
        import_lab_shots(src, tmp_path / "ghz.h5", LabImportConfig())


def test_shipped_example_is_uniform():
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "data" / "ghz4_lab.csv"
    shots = read_pauli_basis(src)
    assert shots.n_qubits == 4 and len(shots.bases) == 200_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = check_bases(shots.bases)
    assert c.uniform and not c.warnings
    np.testing.assert_allclose(get_frame("pauli6").elements, lab_frame("pauli6", None).elements)
