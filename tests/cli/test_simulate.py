"""``qtomo simulate`` through click's CliRunner: JSON output, exit codes, no partial files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.data.hdf5 import open_dataset


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_help_and_version():
    r = run("--help")
    assert r.exit_code == 0 and "simulate" in r.output
    r = run("--version")
    assert r.exit_code == 0 and "qtomo" in r.output
    r = run("simulate", "--help")
    assert r.exit_code == 0 and "--eval-shots" in r.output


def test_json_summary(tmp_path):
    out = tmp_path / "d.h5"
    r = run("simulate", "--n-qubits", "6", "--shots", "2000", "--eval-shots", "100",
            "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["n_qubits"] == 6 and s["shots"] == 2000 and s["povm"] == "pauli4"
    assert s["out"] == str(out)
    assert abs(s["energy"] - (1 - 1 / np.sin(np.pi / 26))) < 1e-10
    with open_dataset(out) as ds:
        assert ds.shots == 2000


def test_ghz_noise_and_povms(tmp_path):
    for povm in ("tetra", "pauli6"):
        out = tmp_path / f"g{povm}.h5"
        r = run("simulate", "--state", "ghz", "-n", "5", "--povm", povm, "--noise", "0.1",
                "--shots", "500", "--out", str(out), "--json")
        assert r.exit_code == 0, r.output
        s = json.loads(r.stdout)
        assert s["energy"] is None and s["noise"] == 0.1
        with open_dataset(out) as ds:
            zz = ds.target_array("zz_exact")
            assert np.isclose(zz[0, 4], 0.81)


def test_refuses_overwrite(tmp_path):
    out = tmp_path / "d.h5"
    assert run("simulate", "-n", "3", "--shots", "10", "--out", str(out)).exit_code == 0
    before = out.read_bytes()
    r = run("simulate", "-n", "4", "--shots", "10", "--out", str(out))
    assert r.exit_code == 5 and "--overwrite" in r.stderr
    assert out.read_bytes() == before
    r = run("simulate", "-n", "4", "--shots", "10", "--out", str(out), "--overwrite")
    assert r.exit_code == 0


@pytest.mark.parametrize(
    "args,code,text",
    [
        (["--n-qubits", "0"], 3, "n-qubits"),
        (["--shots", "0"], 3, "shots"),
        (["--h", "nan"], 3, "finite"),
        (["--J", "inf"], 3, "finite"),
        (["--noise", "1.5"], 3, "noise"),
        (["--noise", "-0.1"], 3, "noise"),
        (["--povm", "pauli5"], 3, "unknown POVM"),
        (["--method", "ed", "--n-qubits", "21"], 3, "dmrg"),
        (["--chi", "0", "-n", "30"], 3, "chi"),
        (["--eval-shots", "-1"], 3, "eval-shots"),
        (["--boundary", "twisted"], 2, "boundary"),
    ],
)
def test_bad_input_one_line_no_file(tmp_path, args, code, text):
    out = tmp_path / "d.h5"
    r = run("simulate", "--out", str(out), *args)
    assert r.exit_code == code, r.output
    assert text in r.stderr
    assert "Traceback" not in r.output
    if code != 2:
        assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,text", [(b"", "empty"), (b"not hdf5 at all", "not an HDF5")])
def test_info_rejects_bad_files(tmp_path, content, text):
    p = tmp_path / "x.h5"
    p.write_bytes(content)
    r = run("info", str(p))
    assert r.exit_code == 4 and text in r.stderr and "Traceback" not in r.output


def test_haar_above_12_qubits_refused_in_one_line(tmp_path):
    r = run("simulate", "--state", "haar", "-n", "13", "--out", str(tmp_path / "h.h5"))
    assert r.exit_code == 3, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "at most 12 qubits, got 13" in lines[0]
    assert "Traceback" not in r.output and not list(tmp_path.iterdir())
    r = run("simulate", "--help")
    text = " ".join(r.output.split())
    assert "haar" in text and "Haar-random pure state (from --seed, N <= 12)" in text


@pytest.mark.parametrize("state,symmetry", [("w", "permutation"), ("cluster", "reflection"),
                                            ("product", "none"), ("random-mps", "none"),
                                            ("haar", "none")])
def test_state_families_write_datasets(tmp_path, state, symmetry):
    from qtomo.povm.born import born_probabilities, outcome_index
    from qtomo.reconstruction.run import ReconstructConfig, reconstruct
    from qtomo.states.families import family_statevector
    from qtomo.training.symmetry import target_symmetry

    out = tmp_path / f"{state}.h5"
    r = run("simulate", "--state", state, "-n", "4", "--povm", "pauli6", "--noise", "0.05",
            "--shots", "3000", "--eval-shots", "200", "--seed", "9", "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["state"] == state and s["method"] == "exact" and s["energy"] is None
    psi = family_statevector(state, 4, seed=9)
    with open_dataset(out) as ds:
        assert ds.shots == 3000 and ds.eval_shots == 200 and ds.K == 6
        t = ds.target
        assert t["state"] == state and target_symmetry(t) == symmetry
        assert np.allclose(ds.target_array("psi"), psi)
        # stored exact log P = Born rule of the noisy state with the ideal POVM
        p = born_probabilities(psi, ds.frame.depolarized(0.05))
        a = ds.eval_outcomes()
        assert np.allclose(ds.eval_log_p(), np.log(p[outcome_index(a, 6)]))
    r = run("info", str(out))
    assert r.exit_code == 0 and f"state={state}" in r.output
    rep = reconstruct(out, None, ReconstructConfig(samples=1000)).report
    q = rep["quantum"]
    assert "unknown" not in q["target"] and "p=0.05" in q["target"]
    # <psi|E_p(|psi><psi|)|psi> < 1; the direct estimate agrees with it within 4 se
    exact = q["exact_fidelity"]
    assert 0.5 < exact < 1.0
    d = q["direct_estimate"]
    assert abs(d["value"] - exact) < 4 * d["stderr"] + 1e-3
    assert abs(q["data"]["mle"]["fidelity"] - exact) < 0.1
