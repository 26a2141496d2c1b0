"""``qtomo train`` through click's CliRunner: JSON output, run directory, refusals, resume."""

from __future__ import annotations

import json
import math

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
    # Monte-Carlo F_c and KL over the same evaluation shots: F_c <= 1 within its error bar,
    # KL >= 0 within its error bar, and Jensen's inequality F_c >= exp(-KL/2) holds exactly
    # for the two sample means
    f, kl = s["classical_fidelity"], s["kl_divergence"]
    assert s["epochs"] == 2 and 0.5 < f <= 1 + 4 * s["classical_fidelity_se"]
    assert kl >= -4 * s["kl_divergence_se"]
    assert f >= math.exp(-kl / 2) - 1e-12
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


def test_resume_extends_a_finished_run(data, tmp_path):
    """A finished 2-epoch run: plain --resume says it is finished and trains nothing;
    --resume --epochs 4 trains epochs 3 and 4 on the re-stretched cosine; fewer is refused."""
    import csv

    out = tmp_path / "ext"
    r1 = run("train", data / "a.h5", "--out", out, "--json", "--bootstrap", "0", *FAST)
    s1 = json.loads(r1.stdout)
    assert s1["epochs"] == 2 and s1["stopped"] == "epochs"
    r2 = run("train", data / "a.h5", "--out", out, "--resume", "--no-progress")
    assert r2.exit_code == 0, r2.output
    assert "stopped: epochs" in r2.stdout and "already finished" in r2.stdout
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    one_error_line(run("train", data / "a.h5", "--out", out, "--resume", "--epochs", "1"), 3)
    r3 = run("train", data / "a.h5", "--out", out, "--resume", "--epochs", "4", "--json")
    assert r3.exit_code == 0, r3.output
    s3 = json.loads(r3.stdout)
    assert s3["epochs"] == 4 and s3["stopped"] == "epochs" and s3["resumed"] == "extended"
    assert s3["steps"] == 2 * s1["steps"]
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    # this small GRU run uses the plateau schedule: the extension goes on from the rate it
    # had reached (never back up to a fresh warm-up); the cosine case is in
    # tests/training/test_trainer.py
    conf = json.loads((out / "config.json").read_text())
    assert conf["epochs"] == 4 and conf["lr_schedule"] == "plateau"
    lr = [float(r["lr"]) for r in rows]
    assert lr[3] <= lr[2] <= lr[1] <= conf["lr"]
