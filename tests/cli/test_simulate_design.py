"""``qtomo simulate --design``: fixed designs through the CLI, stored as imported counts are;
per-setting frequencies follow the exact Born rule; drift moves the marginals; bad designs are
one line with no file; counts given by axes import; train and reconstruct read the Pauli part."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import chi2

from qtomo.cli.main import cli
from qtomo.data.design_file import DesignSpec, write_design_file
from qtomo.data.hdf5 import open_dataset
from qtomo.povm.axes import angles_to_vectors, bit_channel, letter_angles, setting_probabilities
from qtomo.povm.born import all_outcomes

FAST_TRAIN = ["--epochs", "1", "--batch-size", "200", "--hidden", "8", "--layers", "1",
              "--device", "cpu", "--precision", "fp32", "--bootstrap", "0"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def simulate(out, *args):
    r = run("simulate", "--out", out, "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def one_error_line(r, code, text, tmp_path, keep=()):
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("qtomo: error:"), r.stderr
    assert text in lines[0] and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def exact_tables(ds):
    """Exact P(bits | setting) of every setting of a simulated dataset (dense), with its noise
    and nominal readout: (S, 2^N)."""
    psi = ds.target_array("psi")
    noise = float(ds.target["noise"])
    conf = None if ds.readout is None else ds.readout.confusion
    vec = angles_to_vectors(ds.design.angles())
    return np.stack([setting_probabilities(psi, v, bit_channel(noise, conf)) for v in vec])


def setting_counts(ds):
    idx, bits = ds.setting_shots()
    code = bits.astype(np.int64) @ (2 ** np.arange(ds.n_qubits - 1, -1, -1))
    k = np.zeros((ds.design.n_settings, 2**ds.n_qubits))
    np.add.at(k, (idx, code), 1)
    return k


def pearson(k, p):
    """Pearson chi-square of counts k (S, 2^N) against probabilities p, and its dof."""
    m = k.sum(1, keepdims=True)
    keep = p > 1e-12
    assert k[~keep].sum() == 0
    e = (m * p)[keep]
    return float(((k[keep] - e) ** 2 / e).sum()), int(keep.sum() - len(k))


def test_all_pauli_ghz3_is_stored_like_counts_and_reconstructs(tmp_path):
    out = tmp_path / "g3.h5"
    s = simulate(out, "--state", "ghz", "-n", "3", "--design", "all-pauli",
                 "--shots-per-setting", "400", "--noise", "0.05", "--readout-error",
                 "0.02,0.05", "--eval-shots", "500", "--seed", "5")
    assert s["shots"] == 27 * 400 and s["povm"] == "pauli6" and s["sampler"] == "state vector"
    assert s["design"] == {"kind": "fixed", "n_settings": 27, "shots_min": 400,
                           "shots_max": 400, "shots_total": 10_800}
    with open_dataset(out) as ds:
        assert ds.shots == 10_800 and ds.axis_shots == 0 and ds.K == 6 and ds.eval_shots == 500
        assert ds.design.settings[:2] == ("XXX", "XXY") and ds.design.axes is None
        idx, bits = ds.setting_shots()
        assert np.bincount(idx).tolist() == [400] * 27
        a = ds.outcomes()
        assert np.array_equal(bits, a % 2)
        letters = np.array([[ "XYZ".index(c) for c in s] for s in ds.design.settings])
        assert np.array_equal(letters[idx], a // 2)
        # every setting's bits follow its exact Born probabilities (noise and readout)
        p = exact_tables(ds)
        stat, dof = pearson(setting_counts(ds), p)
        assert chi2.sf(stat, dof) > 1e-3
        # the stored log P is log P(bits | setting), exact
        code = bits.astype(np.int64) @ np.array([4, 2, 1])
        np.testing.assert_allclose(ds.log_p_true(), np.log(p[idx, code]), atol=1e-12)
        assert ds.readout.source == "simulate"
        cfg = ds.config
        assert cfg["design"] == "all-pauli" and cfg["shots"] == 10_800 and cfg["drift"] == 0.0
    r = run("reconstruct", "--data", out, "--out", tmp_path / "rep", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    exact = (0.975**3 + 0.025**3 + 0.95**3) / 2  # GHZ-3 with local depolarizing p = 0.05
    assert abs(rec["quantum_fidelity"] - exact) < 4 * rec["quantum_fidelity_stderr"] + 0.01


def test_drift_zero_is_no_drift_and_drift_moves_the_z_marginals(tmp_path):
    """Product state, all 27 Pauli settings x 3000 shots: with SIGMA = 0 the shots are those
    of a run without drift; with SIGMA = 0.3 the Z marginals of the settings that measure a
    qubit in Z leave their nominal values by far more than shot noise."""
    base = ["--state", "product", "-n", "3", "--design", "all-pauli", "--shots-per-setting",
            "3000", "--eval-shots", "0", "--seed", "11"]
    simulate(tmp_path / "a.h5", *base)
    simulate(tmp_path / "b.h5", *base, "--drift", "0")
    s = simulate(tmp_path / "c.h5", *base, "--drift", "0.3")
    assert s["drift"] == 0.3
    with open_dataset(tmp_path / "a.h5") as a, open_dataset(tmp_path / "b.h5") as b:
        assert np.array_equal(a.outcomes(), b.outcomes())
        assert np.array_equal(a.log_p_true(), b.log_p_true())
        stat_a = z_marginal_chi2(a)
    with open_dataset(tmp_path / "c.h5") as c:
        assert c.config["drift"] == 0.3 and c.design.settings[0] == "XXX"  # nominal design
        stat_c = z_marginal_chi2(c)
    dof = 27  # 9 settings measure each of the 3 qubits in Z
    assert chi2.sf(stat_a, dof) > 1e-3
    assert chi2.sf(stat_c, dof) < 1e-10


def z_marginal_chi2(ds):
    """Chi-square of every (setting, qubit in Z) marginal P(bit 0) against the nominal one."""
    p = exact_tables(ds)
    k = setting_counts(ds)
    strings = all_outcomes(ds.n_qubits, 2)
    stat = 0.0
    for s, label in enumerate(ds.design.settings):
        m = k[s].sum()
        for q, letter in enumerate(label):
            if letter == "Z":
                zero = strings[:, q] == 0
                p0, k0 = p[s, zero].sum(), k[s, zero].sum()
                stat += (k0 - m * p0) ** 2 / (m * p0 * (1 - p0))
    return stat


def parity_design(n, shots):
    phases = [np.pi / (n + 1), 2 * np.pi / (n + 1)]
    angles = [letter_angles("Z" * n), letter_angles("X" * n)]
    angles += [np.tile([[np.pi / 2, ph]], (n, 1)) for ph in phases]
    return DesignSpec(n, np.array(angles), (shots,) * len(angles), {"state": "ghz"}), \
        phases


def test_ghz20_axis_design_on_the_mps_sampler(tmp_path):
    """N = 20 GHZ, the parity layout (Z, X and two XY phases): the MPS path; the all-Z shots are
    0...0 or 1...1 and the parities of the XY settings average to cos(N phi)."""
    n, shots = 20, 1500
    spec, phases = parity_design(n, shots)
    design = write_design_file(tmp_path / "parity.json", spec)
    out = tmp_path / "g20.h5"
    s = simulate(out, "--state", "ghz", "--design", design, "--eval-shots", "0")
    assert s["n_qubits"] == 20 and s["sampler"] == "MPS"
    assert s["design"]["n_axis_settings"] == 2 and s["design"]["axis_shots"] == 2 * shots
    with open_dataset(out) as ds:
        assert ds.shots == 2 * shots and ds.axis_shots == 2 * shots
        assert ds.design.settings[2] == "A" * n
        idx, bits = ds.setting_shots()
        assert np.bincount(idx).tolist() == [shots] * 4
        z = bits[idx == 0]
        assert set(z.sum(1).tolist()) <= {0, n}
        assert abs((z[:, 0] == 0).mean() - 0.5) < 4 * 0.5 / np.sqrt(shots)
        for s_idx, ph in zip((1, 2, 3), [0.0, *phases], strict=True):
            parity = 1.0 - 2 * (bits[idx == s_idx].astype(int).sum(1) % 2)
            se = max(parity.std(ddof=1), 0.05) / np.sqrt(shots)
            assert abs(parity.mean() - np.cos(n * ph)) < 4 * se
        lp = ds.setting_log_p()
        assert np.allclose(lp[idx == 0], np.log(0.5)) and np.isfinite(lp).all()
    r = run("reconstruct", "--data", out, "--out", tmp_path / "rep", "--json")
    assert r.exit_code == 0, r.output
    notes = json.loads((tmp_path / "rep" / "report.json").read_text())["notes"]
    assert any("2 of 4 settings are along other axes" in t for t in notes)


def test_readout_drift_and_calibration_store_the_nominal_readout(tmp_path):
    out = tmp_path / "w.h5"
    s = simulate(out, "--state", "w", "-n", "3", "--design", "all-pauli",
                 "--shots-per-setting", "50", "--readout-error", "0.02,0.05",
                 "--readout-drift", "0.01", "--calibration-shots", "40000", "--eval-shots", "0")
    assert s["calibration_shots"] == 40_000 and s["readout_drift"] == 0.01
    with open_dataset(out) as ds:
        ro = ds.readout
        assert ro.source == "calibration" and (ro.calibration_shots == 40_000).all()
        f = ro.flip_probabilities
        sd = np.sqrt(np.array([0.02 * 0.98, 0.05 * 0.95]) / 40_000)
        assert (np.abs(f - [0.02, 0.05]) < 4 * sd).all()
        assert ds.config["readout_drift"] == 0.01 and ds.config["calibration_shots"] == 40_000


def test_counts_given_by_axes_import_exactly(tmp_path):
    doc = {"settings": [
        {"setting": "ZZ", "counts": {"00": 40, "11": 38, "01": 2}},
        {"axes": [[np.pi / 2, 0.3], [1.0, 2.0]], "counts": {"00": 7, "10": 5}},
        {"vectors": [[0, 0, 1], [0, 1, 0]], "counts": {"01": 9}},
        {"paulis": "XX", "counts": {"00": 3}}]}
    src = tmp_path / "c.json"
    src.write_text(json.dumps(doc))
    r = run("import", src, "--out", tmp_path / "c.h5", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["shots"] == 80 + 9 + 3 and s["axis_shots"] == 12
    with open_dataset(tmp_path / "c.h5") as ds:
        d = ds.design
        assert d.settings == ("XX", "ZY", "ZZ", "AA") and d.shots_per_setting == (3, 9, 80, 12)
        np.testing.assert_allclose(d.angles()[3], [[np.pi / 2, 0.3], [1.0, 2.0]])
        k = setting_counts(ds)
        assert k[2, [0, 1, 3]].tolist() == [40, 2, 38] and k[1, 1] == 9
        assert k[3, [0, 2]].tolist() == [7, 5] and k.sum() == 104
    csv = tmp_path / "c.csv"
    csv.write_text("theta_0,phi_0,theta_1,phi_1,outcome,count\n"
                   "1.5707963267948966,0.3,1.0,2.0,00,7\n1.5707963267948966,0.3,1.0,2.0,10,5\n"
                   "0,0,0,0,00,40\n")
    r = run("import", csv, "--out", tmp_path / "d.h5", "--json")
    assert r.exit_code == 0, r.output
    with open_dataset(tmp_path / "d.h5") as ds:
        assert ds.design.settings == ("ZZ", "AA") and ds.design.shot_totals() == (40, 12)


def test_train_uses_the_pauli_part_and_refuses_axes_only(tmp_path):
    spec = DesignSpec(2, np.array([letter_angles("ZZ"), letter_angles("XX"), letter_angles("YY"),
                                   [[0.5, 0.1], [0.5, 0.1]]]), (700, 700, 700, 300))
    simulate(tmp_path / "m.h5", "--state", "ghz", "--design",
             write_design_file(tmp_path / "m.json", spec), "--eval-shots", "200")
    r = run("train", tmp_path / "m.h5", "--out", tmp_path / "run", "--json", *FAST_TRAIN)
    assert r.exit_code == 0, r.output
    assert "1 of 4 settings are along other axes" in json.loads(r.stdout)["note"]
    axes_only = DesignSpec(2, np.array([[[0.5, 0.1], [0.5, 0.1]]]), (300,))
    simulate(tmp_path / "a.h5", "--state", "ghz", "--design",
             write_design_file(tmp_path / "a.json", axes_only), "--eval-shots", "0")
    with open_dataset(tmp_path / "a.h5") as ds:
        assert ds.shots == 0 and ds.axis_shots == 300 and ds.setting_shots()[1].shape == (300, 2)
    for cmd in (["train", tmp_path / "a.h5", "--out", tmp_path / "run2", *FAST_TRAIN],
                ["reconstruct", "--data", tmp_path / "a.h5", "--out", tmp_path / "rep2"]):
        r = run(*cmd)
        assert r.exit_code == 3 and "Pauli settings only; 1 of 1 settings" in r.stderr, r.output
        assert not (tmp_path / "run2").exists() and not (tmp_path / "rep2").exists()


DESIGN = {"format": "qtomo-design", "version": 1, "n_qubits": 2}
BAD_DESIGNS = [
    ({"settings": [{"axes": [[float("nan"), 0.0], [0.0, 0.0]], "shots": 5}]}, "must be finite"),
    ({"settings": [{"paulis": "ZZZ", "shots": 5}]}, "has 3 letters; expected 2"),
    ({"settings": [{"axes": [[0.0, 0.0]], "shots": 5}]}, "axes has 1 entries; expected 2"),
    ({"settings": [{"paulis": "ZZ", "shots": 0}]}, "shots 0; expected an integer >= 1"),
    ({"settings": [{"paulis": "ZQ", "shots": 5}]}, "'Q' is not X, Y or Z"),
    ({"settings": [{"vectors": [[1, 0, 0.1], [0, 0, 1]], "shots": 5}]},
     "expected a unit vector"),
    ({"settings": [{"paulis": "ZZ", "axes": [[0, 0], [0, 0]], "shots": 5}]},
     "expected exactly one of"),
    ({"settings": [{"paulis": "ZZ", "shots": 5}], "version": 2}, "version 2"),
    ({"settings": []}, "expected a non-empty list"),
]


@pytest.mark.parametrize("doc,text", BAD_DESIGNS)
def test_bad_design_files_one_line_no_file(tmp_path, doc, text):
    src = tmp_path / "bad.json"
    src.write_text(json.dumps({**DESIGN, **doc}))
    r = run("simulate", "-n", "2", "--state", "ghz", "--design", src, "--out", tmp_path / "o.h5")
    one_error_line(r, 4, text, tmp_path, keep=["bad.json"])


@pytest.mark.parametrize("csv,text", [
    ("setting,shots\nZZ,5\nZX,-1\n", "line 3: count -1 is negative"),
    ("theta_0,phi_0,theta_1,phi_1,shots\n0,0,abc,0,5\n", "column 3 is 'abc'"),
    ("theta_0,phi_1,shots\n0,0,5\n", "header"),
])
def test_bad_design_csv_one_line_no_file(tmp_path, csv, text):
    src = tmp_path / "bad.csv"
    src.write_text(csv)
    r = run("simulate", "-n", "2", "--design", src, "--out", tmp_path / "o.h5")
    one_error_line(r, 4, text, tmp_path, keep=["bad.csv"])


@pytest.mark.parametrize("args,text", [
    (["-n", "9", "--design", "all-pauli", "--shots-per-setting", "2"], "N = 9 is above 8"),
    (["-n", "2", "--design", "all-pauli"], "needs --shots-per-setting"),
    (["-n", "2", "--drift", "0.1"], "--drift applies to fixed designs"),
    (["-n", "2", "--design", "all-pauli", "--shots-per-setting", "2", "--drift", "-0.1"],
     "--drift must be a finite number >= 0"),
    (["-n", "2", "--design", "all-pauli", "--shots-per-setting", "2", "--readout-drift",
      "0.01"], "--readout-drift needs --readout-error"),
    (["-n", "2", "--design", "all-pauli", "--shots-per-setting", "2", "--povm", "pauli4"],
     "--povm must be pauli6"),
    (["-n", "2", "--design", "all-pauli", "--shots-per-setting", "2", "--shots", "10"],
     "--shots does not apply"),
    (["-n", "2", "--design", "all-pauli", "--shots-per-setting", "0"],
     "--shots-per-setting must be >= 1"),
    (["-n", "2", "--calibration-shots", "100"], "--calibration-shots needs --readout-error"),
])
def test_bad_design_options_one_line_no_file(tmp_path, args, text):
    r = run("simulate", "--out", tmp_path / "o.h5", *args)
    one_error_line(r, 3, text, tmp_path)


def test_design_qubits_must_match(tmp_path):
    spec = DesignSpec(3, np.array([letter_angles("ZZZ")]), (10,))
    write_design_file(tmp_path / "d.json", spec)
    assert simulate(tmp_path / "ok.h5", "--design", tmp_path / "d.json",
                    "--eval-shots", "0")["n_qubits"] == 3  # N from the design file
    r = run("simulate", "-n", "4", "--design", tmp_path / "d.json", "--out", tmp_path / "o.h5")
    one_error_line(r, 3, "measures 3 qubits, but --n-qubits is 4", tmp_path,
                   keep=["d.json", "ok.h5"])
