"""The public API (``import qtomo``) against the CLI: the same figures from the same calls."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import qtomo
from qtomo.cli.main import cli
from qtomo.errors import DataFileError, InputValueError

FAST = {"epochs": 2, "batch_size": 100, "hparams": {"hidden": 16, "layers": 1},
        "bootstrap": 0, "device": "cpu", "precision": "fp32"}
FAST_CLI = ["--epochs", "2", "--batch-size", "100", "--hidden", "16", "--layers", "1",
            "--bootstrap", "0", "--device", "cpu", "--precision", "fp32"]
#: differ between two runs by construction (paths, wall times)
VOLATILE = {"out", "run_dir", "train_seconds", "shots_per_second", "report", "report_json"}


def cli_json(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def plain(v):
    """As the CLI prints it: JSON, NaN and infinities as null."""
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def same(cli_summary: dict, api_summary: dict) -> None:
    a, b = cli_summary, plain(api_summary)
    assert list(a) == list(b)  # same keys in the same order
    for k in a.keys() - VOLATILE:
        assert a[k] == b[k], (k, a[k], b[k])


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """One dataset, run and reconstruction made by the CLI and one made by the API."""
    d = tmp_path_factory.mktemp("api")
    opts = {"n_qubits": 3, "shots": 2000, "eval_shots": 200, "seed": 5, "h": 0.8}
    c = {"sim": cli_json("simulate", "-n", 3, "--shots", 2000, "--eval-shots", 200, "--seed", 5,
                         "--h", 0.8, "--out", d / "c.h5", "--json")}
    c["train"] = cli_json("train", d / "c.h5", "--out", d / "c_run", "--json", *FAST_CLI)
    c["rec"] = cli_json("reconstruct", d / "c_run", "--data", d / "c.h5", "--out", d / "c_rep",
                        "--samples", 3000, "--observable", "Z0 Z2", "--json")
    ds = qtomo.simulate(d / "a.h5", **opts)
    run = qtomo.train(ds, d / "a_run", **FAST)
    rec = qtomo.reconstruct(ds, run, samples=3000, observables=["Z0 Z2"], report=d / "a_rep")
    return d, c, ds, run, rec


def test_api_reproduces_the_cli_json(pair):
    d, c, ds, run, rec = pair
    same(c["sim"], ds.summary)
    np.testing.assert_array_equal(qtomo.load(d / "c.h5").outcomes(), ds.outcomes())
    same(c["train"], run.summary)
    same(c["rec"], rec.summary)
    assert rec.summary["files"] == c["rec"]["files"]
    info = cli_json("info", d / "c.h5", "--json")
    assert {k: v for k, v in info.items() if k not in ("path", "created")} == {
        k: v for k, v in plain(ds.info).items() if k not in ("path", "created")}


def test_results_objects(pair):
    d, _, ds, run, rec = pair
    assert ds.n_qubits == 3 and ds.shots == 2000 and ds.povm == "pauli4"
    assert ds.target["state"] == "tfim" and ds.target["h"] == 0.8
    assert "3 qubits" in repr(ds) and "<table>" in ds._repr_html_()
    assert run.checkpoints["best"].exists() and run.checkpoints["last"].exists()
    assert run.metrics["epochs"] == 2 and len(run.history()["epoch"]) == 2
    assert run.model().n_qubits == 3 and "gru" in repr(run)
    # fidelities, the headline state as a qutip.Qobj, observables as a table
    assert rec.fidelity["value"] == rec.summary["quantum_fidelity"]
    assert rec.fidelities["headline"] == rec.fidelity["value"] and rec.fidelities["exact"] == 1.0
    assert rec.summary["reference"] == "exact"  # simulated shots: drawn from the target
    rho = rec.rho
    assert rho.dims == [[2, 2, 2], [2, 2, 2]] and abs(rho.tr() - 1) < 1e-12
    table = rec.observables
    assert len(table) == 3 * 3 + 3 * 3 + len(rec.report["observables"]["scalars"])
    zz = table["Z0 Z2"]
    assert zz["kind"] == "two point" and zz["exact"] == pytest.approx(
        rec.report["observables"]["two_point"]["ZZ"]["exact"][0][2])
    assert table["energy"]["exact"] == pytest.approx(rec.summary["energy_exact"])
    assert "Z0 Z2" in repr(table) and "<table>" in table._repr_html_()
    assert "quantum fidelity" in repr(rec) and "<table>" in rec._repr_html_()
    assert (d / "a_rep" / "report.html").exists() and rec.files["report.json"]


def test_errors_and_light_import(tmp_path):
    with pytest.raises(InputValueError, match="needs --povm"):
        qtomo.import_shots(tmp_path / "x.csv", tmp_path / "x.h5", format="outcomes")
    with pytest.raises(DataFileError, match="no such file"):
        qtomo.load(tmp_path / "missing.h5")
    with pytest.raises(InputValueError, match="--shots"):
        qtomo.simulate(tmp_path / "y.h5", shots=0)
    code = ("import sys, qtomo; heavy = [m for m in ('torch', 'numpy', 'h5py', 'qutip') "
            "if m in sys.modules]; assert not heavy, heavy; assert callable(qtomo.simulate)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow  # two N = 10 runs: about 15 minutes on 2 cores
def test_api_reproduces_the_cli_json_on_the_demo_dataset(tmp_path):
    """``scripts/demo.sh``'s three commands against ``qtomo.simulate()`` (its defaults are the
    demo's: TFIM N = 10, J = h = 1, Pauli-4, 100,000 shots), ``qtomo.train`` and
    ``qtomo.reconstruct``. Training stops after 2 epochs rather than the demo's one-minute
    budget, which would make the two runs stop at different epochs on a busy machine."""
    c = {"sim": cli_json("simulate", "--state", "tfim", "--n-qubits", 10, "--J", 1, "--h", 1,
                         "--povm", "pauli4", "--shots", 100000, "--out", tmp_path / "c.h5",
                         "--json")}
    c["train"] = cli_json("train", tmp_path / "c.h5", "--out", tmp_path / "c_run", "--epochs", 2,
                          "--json")
    c["rec"] = cli_json("reconstruct", tmp_path / "c_run", "--data", tmp_path / "c.h5",
                        "--out", tmp_path / "c_rep", "--json")
    ds = qtomo.simulate(tmp_path / "a.h5")
    run = qtomo.train(ds, tmp_path / "a_run", epochs=2)
    rec = qtomo.reconstruct(ds, run, report=tmp_path / "a_rep")
    same(c["sim"], ds.summary)
    same(c["train"], run.summary)
    same(c["rec"], rec.summary)
    assert rec.summary["quantum_fidelity"] == c["rec"]["quantum_fidelity"]
