"""``qtomo train`` through click's CliRunner: JSON output, run directory, refusals, resume."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.data.simulate import SimulateConfig, simulate

FAST = ["--epochs", "2", "--batch-size", "100", "--hidden", "16", "--layers", "1",
        "--device", "cpu", "--precision", "fp32"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("train_cli")
    simulate(SimulateConfig(n_qubits=4, shots=2000, eval_shots=300, seed=3), d / "a.h5")
    simulate(SimulateConfig(n_qubits=4, shots=2000, eval_shots=300, seed=4), d / "b.h5")
    simulate(SimulateConfig(n_qubits=4, shots=2000, eval_shots=300, seed=5, log_p="none"),
             d / "nolog.h5")
    (d / "junk.h5").write_text("not hdf5")
    return d


def snapshot(d):
    return ({str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}
            if d.exists() else None)


def one_error_line(r, code):
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("qtomo: error:"), r.stderr
    assert "Traceback" not in r.output


def test_help_lists_options():
    r = run("train", "--help")
    assert r.exit_code == 0
    for opt in ("--model", "--out", "--epochs", "--batch-size", "--lr", "--hidden", "--layers",
                "--val-fraction", "--patience", "--seed", "--device", "--resume", "--json",
                "--overwrite"):
        assert opt in r.output


def test_json_and_run_directory(data, tmp_path):
    out = tmp_path / "run"
    r = run("train", data / "a.h5", "--out", out, "--json", *FAST)
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    for key in ("classical_fidelity", "kl_divergence", "val_nll", "epochs", "train_seconds",
                "shots_per_second"):
        assert key in s
    assert s["epochs"] == 2 and 0.5 < s["classical_fidelity"] <= 1.1
    assert isinstance(s["kl_divergence"], float)
    card = json.loads((out / "model_card.json").read_text())
    assert card["dataset_hash"] and card["qtomo_version"] and card["model"] == "gru"
    assert json.loads((out / "config.json").read_text())["batch_size"] == 100
    # the human summary
    r = run("train", data / "a.h5", "--out", tmp_path / "run2", *FAST)
    assert r.exit_code == 0 and "val NLL" in r.stdout


def test_without_log_p_scores_are_null(data, tmp_path):
    r = run("train", data / "nolog.h5", "--out", tmp_path / "r", "--json", *FAST)
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["classical_fidelity"] is None and s["kl_divergence"] is None
    assert s["val_nll"] > 0


def test_refusals_leave_everything_untouched(data, tmp_path):
    out = tmp_path / "run"
    assert run("train", data / "a.h5", "--out", out, *FAST).exit_code == 0
    before = snapshot(out)
    one_error_line(run("train", data / "a.h5", "--out", out, *FAST), 5)
    one_error_line(run("train", data / "junk.h5", "--out", out, "--overwrite", *FAST), 4)
    one_error_line(run("train", data / "missing.h5", "--out", tmp_path / "m", *FAST), 4)
    one_error_line(run("train", data / "a.h5", "--out", out, "--overwrite", "--device", "gpu9"),
                   3)
    one_error_line(run("train", data / "a.h5", "--out", out, "--overwrite", "--model", "nope"),
                   3)
    one_error_line(run("train", data / "a.h5", "--out", out, "--overwrite", "--lr", "nan"), 3)
    one_error_line(run("train", data / "b.h5", "--out", out, "--resume"), 4)  # other dataset
    one_error_line(run("train", data / "a.h5", "--out", out, "--resume", "--model", "conv"), 4)
    one_error_line(run("train", data / "a.h5", "--out", out, "--resume", "--lr", "0.5"), 3)
    one_error_line(run("train", data / "a.h5", "--out", tmp_path / "none", "--resume"), 4)
    assert snapshot(out) == before
    assert not (tmp_path / "m").exists() and not (tmp_path / "none").exists()
    (out / "last.pt").write_bytes(before["last.pt"][:300])  # truncated checkpoint
    one_error_line(run("train", data / "a.h5", "--out", out, "--resume"), 4)


def test_resume_and_overwrite(data, tmp_path):
    out = tmp_path / "run"
    r1 = run("train", data / "a.h5", "--out", out, "--json", *FAST)
    s1 = json.loads(r1.stdout)
    r2 = run("train", data / "a.h5", "--out", out, "--resume", "--json")
    assert r2.exit_code == 0, r2.output
    s2 = json.loads(r2.stdout)
    assert s2["val_nll"] == s1["val_nll"] and s2["epochs"] == s1["epochs"]
    r3 = run("train", data / "a.h5", "--out", out, "--overwrite", "--json", *FAST[:-6],
             "--hidden", "8", "--layers", "1", "--device", "cpu")
    assert r3.exit_code == 0, r3.output
    assert json.loads(r3.stdout)["hparams"]["hidden"] == 8


def test_conditional_likelihood_refusals(data, tmp_path):
    """--likelihood conditional needs Pauli-6 outcomes and an autoregressive model: one line,
    exit 3, no run directory."""
    out = tmp_path / "cond"
    r = run("train", data / "a.h5", "--out", out, "--likelihood", "conditional",
            *FAST)
    one_error_line(r, 3)
    assert "Pauli-6" in r.stderr and not out.exists()
    d6 = tmp_path / "p6.h5"
    simulate(SimulateConfig(n_qubits=3, povm="pauli6", shots=500, eval_shots=0, seed=1), d6)
    r = run("train", d6, "--out", out, "--likelihood", "conditional",
            "--model", "vae", "--epochs", "1", "--device", "cpu")
    one_error_line(r, 3)
    assert "gru, conv or transformer" in r.stderr and not out.exists()
    r = run("train", d6, "--out", out, "--likelihood", "conditional", *FAST, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["hparams"]["likelihood"] == "conditional"
