"""Counts per setting and classical shadows: exact expansion into per-shot rows, bit order,
the seeded shuffle, format detection, and bad files named by their place with no output."""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pytest

from qtomo.data.counts import read_counts, read_shadow
from qtomo.data.design import Design
from qtomo.data.hdf5 import open_dataset
from qtomo.data.lab import LabImportConfig, LabImportWarning, detect_format, import_lab_shots
from qtomo.errors import DataFileError, InputValueError

LETTERS = "XYZ"


def random_table(rng, n=3, n_settings=12, max_count=40):
    """{setting: {outcome: count}} over a random subset of settings (some zero counts)."""
    settings = ["".join(s) for s in itertools.product(LETTERS, repeat=n)]
    chosen = rng.choice(len(settings), size=n_settings, replace=False)
    table = {}
    for i in chosen:
        keys = ["".join(b) for b in itertools.product("01", repeat=n)]
        picked = rng.choice(len(keys), size=rng.integers(1, len(keys) + 1), replace=False)
        table[settings[i]] = {keys[k]: int(rng.integers(0, max_count)) for k in picked}
    return table


def recount(outcomes):
    """Per-shot Pauli-6 outcomes back to {setting: {outcome: count}} (qubit 0 first)."""
    out = {}
    for row in outcomes:
        s = "".join(LETTERS[v // 2] for v in row)
        o = "".join(str(v % 2) for v in row)
        out.setdefault(s, {}).setdefault(o, 0)
        out[s][o] += 1
    return out


def nonzero(table):
    return {s: {o: c for o, c in d.items() if c} for s, d in table.items()
            if any(d.values())}


def write_csv(path, table, q0_last=False):
    flip = (lambda x: x[::-1]) if q0_last else (lambda x: x)
    lines = ["# counts", "setting,outcome,count"]
    lines += [f"{flip(s)},{flip(o)},{c}" for s, d in table.items() for o, c in d.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def import_to(src, out, **kw):
    with warnings.catch_warnings():  # random subsets of settings: the basis check warns
        warnings.simplefilter("ignore", LabImportWarning)
        import_lab_shots(src, out, LabImportConfig(**kw))
    with open_dataset(out) as ds:
        return ds.outcomes(), ds.design, ds.readout


def test_expansion_preserves_every_count_in_every_layout(tmp_path, rng):
    table = random_table(rng)
    as_map = tmp_path / "m.json"
    as_map.write_text(json.dumps(table))
    as_list = tmp_path / "l.json"
    as_list.write_text(json.dumps([{"setting": s, "counts": c} for s, c in table.items()]))
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"settings": table, "comment": {"anything": [1, 2]}}))
    as_csv = write_csv(tmp_path / "c.csv", table)
    results = [import_to(p, tmp_path / f"{p.stem}.h5")
               for p in (as_map, as_list, wrapped, as_csv)]
    total = sum(sum(d.values()) for d in table.values())
    first = results[0][0]
    assert first.shape == (total, 3) and first.dtype == np.uint8
    assert recount(first) == nonzero(table)  # every count, exactly
    for outcomes, _design, readout in results:
        np.testing.assert_array_equal(outcomes, first)  # same counts + seed -> same file
        assert readout is None
    design = results[0][1]
    assert design.kind == "fixed" and design.settings == tuple(sorted(table))
    assert design.shots_per_setting == tuple(sum(table[s].values()) for s in sorted(table))


def test_bit_order_q0_last_round_trips(tmp_path, rng):
    table = random_table(rng, n=4, n_settings=20)
    qiskit = {s[::-1]: {f"{o[::-1][:2]} {o[::-1][2:]}": c for o, c in d.items()}
              for s, d in table.items()}  # qubit 0 rightmost, two registers
    (tmp_path / "a.json").write_text(json.dumps(table))
    (tmp_path / "b.json").write_text(json.dumps(qiskit))
    a, da, _ = import_to(tmp_path / "a.json", tmp_path / "a.h5")
    b, db, _ = import_to(tmp_path / "b.json", tmp_path / "b.h5", bit_order="q0-last")
    np.testing.assert_array_equal(a, b)
    assert da == db and da.settings == tuple(sorted(table))  # stored qubit 0 first
    c, _, _ = import_to(write_csv(tmp_path / "c.csv", table, q0_last=True), tmp_path / "c.h5",
                        bit_order="q0-last")
    np.testing.assert_array_equal(a, c)
    # an asymmetric single setting pins the direction: "XXYZ" read q0-last is Z Y X X
    (tmp_path / "d.json").write_text(json.dumps({"XXYZ": {"0001": 1}}))
    shots = read_counts(tmp_path / "d.json", "q0-last")
    np.testing.assert_array_equal(shots.bases, [[2, 1, 0, 0]])
    np.testing.assert_array_equal(shots.bits, [[1, 0, 0, 0]])


def test_shuffle_is_seeded_and_any_prefix_is_a_fair_sample(tmp_path):
    from scipy.stats import chi2

    table = {"ZZ": {"00": 3000}, "XX": {"00": 2000, "11": 1000}, "YY": {"01": 500}}
    (tmp_path / "t.json").write_text(json.dumps(table))
    s1 = read_counts(tmp_path / "t.json", seed=7)
    s2 = read_counts(tmp_path / "t.json", seed=7)
    s3 = read_counts(tmp_path / "t.json", seed=8)
    np.testing.assert_array_equal(s1.bases, s2.bases)
    assert not np.array_equal(s1.bases, s3.bases)
    assert recount(2 * s3.bases + s3.bits) == recount(2 * s1.bases + s1.bits)
    # not laid out setting by setting: the first 650 rows hold every setting in proportion
    total = 6500
    for k in (650, 3250):
        first = s1.bases[:k, 0]
        got = np.bincount(first, minlength=3)  # X, Y, Z
        want = k * np.array([3000, 500, 3000]) / total
        stat = ((got - want) ** 2 / want).sum()
        assert chi2.sf(stat, 2) > 1e-3, (k, got, want)


def test_shadow_npz(tmp_path, rng):
    recipes = rng.integers(0, 3, size=(400, 5))
    bits = rng.integers(0, 2, size=(400, 5)).astype(np.int8)
    np.savez(tmp_path / "s.npz", bits=bits, recipes=recipes)
    out, design, _ = import_to(tmp_path / "s.npz", tmp_path / "s.h5")
    np.testing.assert_array_equal(out, 2 * recipes + bits)
    assert design == Design("random")
    rev, _, _ = import_to(tmp_path / "s.npz", tmp_path / "r.h5", bit_order="q0-last")
    np.testing.assert_array_equal(rev, (2 * recipes + bits)[:, ::-1])
    np.savez(tmp_path / "b.npz", bits=bits.astype(bool), recipes=recipes)
    shots = read_shadow(tmp_path / "b.npz")
    np.testing.assert_array_equal(shots.bits, bits)


def test_detect_format(tmp_path):
    cases = {"a.json": "{}", "b.npz": "x", "c.npy": "x", "d.csv": "# c\nsetting, outcome ,count\n",
             "e.csv": "bases,bits\n", "f.csv": "outcomes\n", "g.txt": ' \n[{"setting": 1}]',
             "h.dat": "bases,bits\n"}
    want = {"a.json": "counts", "b.npz": "shadow", "c.npy": "pauli-basis", "d.csv": "counts",
            "e.csv": "pauli-basis", "f.csv": "pauli-basis", "g.txt": "counts",
            "h.dat": "pauli-basis"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert detect_format(tmp_path / name) == want[name], name
    np.savez(tmp_path / "z.bin", bits=np.zeros((1, 1)))
    assert detect_format(tmp_path / "z.bin.npz") == "shadow"
    (tmp_path / "zip").write_bytes((tmp_path / "z.bin.npz").read_bytes())
    assert detect_format(tmp_path / "zip") == "shadow"


def test_counts_options():
    with pytest.raises(InputValueError, match="pauli4 does not apply to --format counts"):
        LabImportConfig(format="counts", povm="pauli4").validate()
    with pytest.raises(InputValueError, match="seed"):
        LabImportConfig(seed=-1).validate()
    with pytest.raises(InputValueError, match="not to POVM outcome indices"):
        LabImportConfig(format="outcomes", povm="tetra", readout="r.json").validate()


BAD_JSON = [
    ('{"XXZ": {"000": 1}, "XZ": {"00": 1}}', "bad.json: setting 'XZ' has 2 letters, but the "
     "first setting has 3"),
    ('{"XQZ": {"000": 1}}', "bad.json: setting 'XQZ': character 2 \\(qubit 1\\) is 'Q'"),
    ('{"XYZ": {"00": 1}}', "bad.json: setting 'XYZ': outcome '00' has 2 bits; expected 3"),
    ('[{"setting": "XYZ", "counts": {"000": 1}}, {"setting": "XY", "counts": {}}]',
     "bad.json: entry 1: setting 'XY' has 2 letters"),
    ('{"XYZ": {"0a1": 1}}', "outcome '0a1': character 2 \\(qubit 1\\) is 'a'"),
    ('{"XYZ": {"011": -2}}', "setting 'XYZ', outcome '011': count -2 is negative"),
    ('{"XYZ": {"011": 1.5}}', "outcome '011': count 1.5 is not an integer"),
    ('{"XYZ": {"011": "12"}}', "count '12' is not a number"),
    ('{"XYZ": {"011": true}}', "count True is not a number"),
    ('{"XYZ": {"011": NaN}}', "count nan is not an integer"),
    ('{"XYZ": {"011": 0}, "ZZZ": {}}', "no shots \\(every count is 0\\)"),
    ("{}", "no settings \\(no shots\\)"),
    ("[]", "no settings \\(no shots\\)"),
    ("   \n", "empty file"),
    ('{"XYZ": {"01 1": 1, "011": 2}}', "outcome '011': outcome given twice"),
    ('[{"setting": "XYZ", "counts": {"000": 1}}, {"setting": "xyz", "counts": {}}]',
     "entry 1 \\(setting 'xyz'\\): setting given twice"),
    ('[{"setting": "XYZ", "count": {"000": 1}}]', "entry 0: keys \\['setting', 'count'\\]"),
    ('{"XYZ": [1, 2]}', "setting 'XYZ': counts are list"),
    ('{"XYZ": {"000": 1},\n "XXX": {"000": 1,}}', "line 2, column 1[89]: not valid JSON"),
    ('{"settings": {"XYZ": {"000": 1}}, "calibraton": {}}', "top-level key 'calibraton'"),
    ('{"calibration": {}, "XYZ": {"000": 1}}', "keeps its counts under 'settings'"),
    ("7", "settings are int"),
]


@pytest.mark.parametrize("text,msg", BAD_JSON)
def test_bad_counts_json_names_the_place(tmp_path, text, msg):
    src = tmp_path / "bad.json"
    src.write_text(text)
    out = tmp_path / "out.h5"
    with pytest.raises(DataFileError, match=msg):
        import_lab_shots(src, out, LabImportConfig())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]  # no output, no temp


BAD_CSV = [
    ("setting,outcome,count\nXYZ,000,1\nXY,00,1\n", "line 3: setting 'XY' has 2 letters"),
    ("setting,outcome,count\nXYZ,000,1\nXYW,000,1\n", "line 3: setting 'XYW': character 3"),
    ("setting,outcome,count\nXYZ,000,1\nXYZ,0000,1\n", "line 3: outcome '0000' has 4 bits"),
    ("setting,outcome,count\nXYZ,002,1\n", "line 2: outcome '002': character 3 \\(qubit 2\\)"),
    ("setting,outcome,count\nXYZ,000,-1\n", "line 2: count -1 is negative"),
    ("setting,outcome,count\nXYZ,000,2.5\n", "line 2: count 2.5 is not an integer"),
    ("setting,outcome,count\nXYZ,000,many\n", "line 2: count 'many' is not a number"),
    ("setting,outcome,count\nXYZ,000,\n", "line 2: column 3 \\(count\\) is blank"),
    ("setting,outcome,count\nXYZ,000,1,2\n", "line 2: 4 columns; expected 3"),
    ("setting,outcome,count\nXYZ,000,1\nZZZ,111,1\nXYZ,000,3\n",
     "line 4: setting 'XYZ', outcome '000' was already counted on line 2"),
    ("setting,outcome,count\nXYZ,000,0\n", "no shots"),
    ("setting,outcome,count\n", "no shots after the header"),
]


@pytest.mark.parametrize("text,msg", BAD_CSV)
def test_bad_counts_csv_names_the_line(tmp_path, text, msg):
    src = tmp_path / "bad.csv"
    src.write_text(text)
    with pytest.raises(DataFileError, match=msg):
        import_lab_shots(src, tmp_path / "out.h5", LabImportConfig(format="counts"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def _npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def test_bad_shadow_files(tmp_path):
    ok_r = np.zeros((5, 3), dtype=np.int64)
    ok_b = np.zeros((5, 3), dtype=np.int64)
    r_bad = ok_r.copy()
    r_bad[3, 1] = 3
    b_bad = ok_b.copy()
    b_bad[4, 2] = 2
    cases = [
        (dict(bits=ok_b, recipes=r_bad), "snapshot 3: recipes\\[3, 1\\] \\(qubit 1\\) is 3; "
         "expected 0, 1 or 2"),
        (dict(bits=b_bad, recipes=ok_r), "snapshot 4: bits\\[4, 2\\] \\(qubit 2\\) is 2; "
         "expected 0 or 1"),
        (dict(bits=ok_b[:, :2], recipes=ok_r), "bits has shape \\(5, 2\\) but recipes \\(5, 3\\)"),
        (dict(bits=ok_b[:4], recipes=ok_r), "bits has shape \\(4, 3\\) but recipes"),
        (dict(bits=ok_b), "no array 'recipes'"),
        (dict(bits=ok_b[:0], recipes=ok_r[:0]), "hold no shots"),
        (dict(bits=ok_b.astype(float), recipes=ok_r), "bits has shape \\(5, 3\\) and dtype "
         "float64; expected integers"),
        (dict(bits=ok_b[0], recipes=ok_r[0]), "expected integers \\(T, N\\)"),
    ]
    for i, (arrays, msg) in enumerate(cases):
        src = _npz(tmp_path / f"s{i}.npz", **arrays)
        with pytest.raises(DataFileError, match=msg):
            import_lab_shots(src, tmp_path / f"s{i}.h5", LabImportConfig())
        assert not (tmp_path / f"s{i}.h5").exists()
    (tmp_path / "x.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFileError, match="not a readable .npz"):
        import_lab_shots(tmp_path / "x.npz", tmp_path / "x.h5", LabImportConfig())
    np.save(tmp_path / "one.npy", ok_b)
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(DataFileError, match="a single array"):
        import_lab_shots(tmp_path / "one.npz", tmp_path / "one.h5", LabImportConfig())
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(DataFileError, match="empty file"):
        import_lab_shots(tmp_path / "e.npz", tmp_path / "e.h5", LabImportConfig())
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob(".*.tmp"))
