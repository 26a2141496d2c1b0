"""The Trainer: learning, checkpoints, exact resume, early stopping, run loading, DDP."""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from qtomo.data.hdf5 import open_dataset
from qtomo.errors import DataFileError, InputValueError, OutputExistsError
from qtomo.models.registry import build_model
from qtomo.training import TrainConfig, Trainer, load_run, resume_training, run_training
from qtomo.training.checkpoint import read_checkpoint
from qtomo.training.metrics import log_prob_numpy, scores_from_samples
from qtomo.training.scoring import heldout_gap

FAST = dict(hparams={"hidden": 16, "layers": 1}, batch_size=100, lr=1e-2, warmup_steps=5,
            device="cpu", precision="fp32")


def cfg(**kw):
    return TrainConfig(**{**FAST, **kw})


def strip_times(rows):
    drop = {"epoch_seconds", "elapsed_seconds", "shots_per_second"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_short_run_lowers_validation_nll(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        torch.manual_seed(0)
        m = build_model("gru", 4, 4, hidden=16, layers=1)
        tr = Trainer(m, ds, cfg(epochs=4, patience=0), None, progress=False)
        before = tr.validate(m)
        s = tr.fit()
    assert s["val_nll"] < before - 0.1
    assert s["epochs"] == 4 and s["stopped"] == "epochs"
    f, kl = s["classical_fidelity"], s["kl_divergence"]
    assert 0.9 < f <= 1 + 4 * s["classical_fidelity_se"] and -4 * s["kl_divergence_se"] <= kl < 0.1
    assert f >= math.exp(-kl / 2) - 1e-12  # Jensen, exact for the two sample means
    assert s["shots_per_second"] > 0 and s["train_seconds"] > 0


def test_run_directory_and_checkpoints(tiny_h5, tmp_path):
    out = tmp_path / "run"
    s = run_training(tiny_h5, out, cfg(epochs=3, ema_decay=0.9), progress=False)
    for f in ("config.json", "last.pt", "best.pt", "metrics.csv", "model_card.json"):
        assert (out / f).is_file(), f
    ck = torch.load(out / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "rng", "ema", "config", "trainer"} <= set(ck)
    with open_dataset(tiny_h5) as ds:
        assert ck["dataset_hash"] == ds.dataset_hash
        card = json.loads((out / "model_card.json").read_text())
        assert card["dataset_hash"] == ds.dataset_hash and card["qtomo_version"]
        ev, lp = ds.eval_outcomes(), ds.eval_log_p()
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["kl_divergence"]) > -0.1 and rows[-1]["classical_fidelity"]
    cfg_json = json.loads((out / "config.json").read_text())
    assert cfg_json["model"] == "gru" and cfg_json["hparams"]["hidden"] == 16
    # load_run gives the best model, and it reproduces the reported scores
    model, config = load_run(out)
    assert not model.training and config["dataset_hash"] == ck["dataset_hash"]
    sc = scores_from_samples(log_prob_numpy(model, ev), lp)
    assert sc.classical_fidelity == pytest.approx(s["classical_fidelity"], abs=1e-6)
    assert model.sample(5).shape == (5, 4)


def test_resume_is_bit_exact(tiny_h5, tmp_path):
    c = cfg(epochs=4, patience=0, ema_decay=0.8, hparams={"hidden": 16, "layers": 2,
                                                           "dropout": 0.2})
    ref = run_training(tiny_h5, tmp_path / "a", c, progress=False)

    def interrupt(trainer, row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_training(tiny_h5, tmp_path / "b", c, progress=False, callbacks=[interrupt])
    assert read_checkpoint(tmp_path / "b" / "last.pt")["trainer"]["epoch"] == 2
    res = resume_training(tiny_h5, tmp_path / "b", progress=False)
    assert res["val_nll"] == ref["val_nll"]
    assert res["classical_fidelity"] == ref["classical_fidelity"]
    for f in ("last.pt", "best.pt"):
        a = read_checkpoint(tmp_path / "a" / f)
        b = read_checkpoint(tmp_path / "b" / f)
        for k, v in a["model"]["state_dict"].items():
            assert torch.equal(v, b["model"]["state_dict"][k]), (f, k)
        assert strip_times(a["trainer"]["history"]) == strip_times(b["trainer"]["history"])
    # resuming a finished run changes nothing and reports the same result
    again = resume_training(tiny_h5, tmp_path / "b", progress=False)
    assert again["val_nll"] == ref["val_nll"] and again["epochs"] == 4


def test_streaming_training_equals_in_memory(tiny_h5):
    results = []
    for cache_mb in (1024, 0):
        with open_dataset(tiny_h5) as ds:
            torch.manual_seed(0)
            m = build_model("gru", 4, 4, hidden=8, layers=1)
            c = cfg(epochs=1, cache_mb=cache_mb, block_rows=700)
            tr = Trainer(m, ds, c, None, progress=False)
            assert tr.split.in_memory == (cache_mb > 0)
            tr.fit()
            results.append(m.state_dict())
    for k in results[0]:
        assert torch.equal(results[0][k], results[1][k])


def test_early_stopping_and_time_budget(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        torch.manual_seed(0)
        m = build_model("gru", 4, 4, hidden=16, layers=1)
        # a constant, too-large learning rate stops improving quickly
        tr = Trainer(m, ds, cfg(epochs=100, patience=1, lr=0.05, lr_schedule="constant"),
                     None, progress=False)
        s = tr.fit()
        assert s["stopped"] == "early_stopping" and s["epochs"] < 100
        assert s["best_epoch"] == s["epochs"] - 1
        m = build_model("gru", 4, 4, hidden=16, layers=1)
        c = cfg(epochs=1000, max_minutes=0.02, patience=0)
        s = Trainer(m, ds, c, None, progress=False).fit()
        assert s["stopped"] == "time_budget" and s["epochs"] < 1000


def test_refusals_write_nothing(tiny_h5, other_h5, tmp_path):
    out = tmp_path / "run"
    run_training(tiny_h5, out, cfg(epochs=1), progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(OutputExistsError):
        run_training(tiny_h5, out, cfg(epochs=1), progress=False)
    with pytest.raises(DataFileError, match="another dataset"):
        resume_training(other_h5, out, progress=False)
    with pytest.raises(DataFileError, match="model"):
        resume_training(tiny_h5, out, settings={"model": "conv"}, progress=False)
    with pytest.raises(InputValueError, match="differs"):
        resume_training(tiny_h5, out, settings={"lr": 0.5}, progress=False)
    with pytest.raises(InputValueError, match="device"):
        run_training(tiny_h5, tmp_path / "x", cfg(device="tpu"), progress=False)
    assert not (tmp_path / "x").exists()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataFileError, match="corrupt"):
        resume_training(tiny_h5, tmp_path / "bad", progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_two_process_ddp(tiny_h5, tmp_path):
    """torchrun with 2 CPU processes (gloo): rank 0 writes, the result matches one process."""
    from click.testing import CliRunner

    from qtomo.cli.main import cli

    args = ["train", str(tiny_h5), "--epochs", "2", "--batch-size", "100", "--lr", "1e-2",
            "--hidden", "16", "--layers", "1", "--patience", "0", "--device", "cpu",
            "--precision", "fp32", "--json"]
    r = CliRunner().invoke(cli, args + ["--out", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    single = json.loads(r.stdout)
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--standalone", "-m", "qtomo.cli.main", *args, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the launcher and both workers
        p.communicate()
        raise
    # the launcher's own traceback ends stderr; a worker's cause (a Python traceback, or a
    # C++ "terminate called ...") comes before it
    causes = [ln for ln in stderr.splitlines()
              if any(k in ln.lower() for k in ("terminate", "what()", "error"))]
    assert p.returncode == 0, "\n".join(causes[:20]) + "\n...\n" + stderr[-1500:]
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1  # only rank 0 prints
    s = json.loads(lines[0])
    assert s["processes"] == 2 and s["epochs"] == 2 and single["processes"] == 1
    assert (out / "best.pt").is_file() and (out / "metrics.csv").is_file()
    # the same global batches with gradients averaged over ranks: the same optimisation up
    # to floating-point summation order
    assert s["val_nll"] == pytest.approx(single["val_nll"], abs=2e-3)
    assert s["classical_fidelity"] == pytest.approx(single["classical_fidelity"], abs=2e-3)


def test_extension_follows_the_longer_schedule(tiny_h5, tmp_path):
    """An interrupted 2-of-4-epoch run extended to 6 epochs repeats, from epoch 3 on, the
    learning rate of a run planned for 6 epochs from the start (the re-stretched cosine)."""
    c4, c6 = cfg(epochs=4, patience=0), cfg(epochs=6, patience=0)
    run_training(tiny_h5, tmp_path / "six", c6, progress=False)

    def interrupt(trainer, row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_training(tiny_h5, tmp_path / "b", c4, progress=False, callbacks=[interrupt])
    ext = resume_training(tiny_h5, tmp_path / "b", settings={"epochs": 6}, progress=False)
    assert ext["epochs"] == 6 and ext["resumed"] == "extended"
    a = read_checkpoint(tmp_path / "six" / "last.pt")["trainer"]["history"]
    b = read_checkpoint(tmp_path / "b" / "last.pt")["trainer"]["history"]
    # epochs 1-2 followed the 4-epoch cosine (faster decay), 3-6 the 6-epoch one
    assert [r["lr"] for r in b[:2]] != [r["lr"] for r in a[:2]]
    assert [r["lr"] for r in b[2:]] == pytest.approx([r["lr"] for r in a[2:]], rel=1e-12)
    with pytest.raises(InputValueError, match="not be shortened|shortened"):
        resume_training(tiny_h5, tmp_path / "b", settings={"epochs": 3}, progress=False)


def test_kept_model_and_its_heldout_gap(tiny_h5):
    """keep=best keeps the lowest validation NLL (no gap to report); keep=last keeps the end
    of an over-fitting run, and the per-shot held-out comparison with the best checkpoint is
    the mean of the per-shot NLL differences on the validation shots."""
    with open_dataset(tiny_h5) as ds:
        # a large constant rate on 2,700 shots with a wide network over-fits within epochs
        over = dict(epochs=12, patience=0, lr=0.03, lr_schedule="constant",
                    hparams={"hidden": 64, "layers": 2})
        torch.manual_seed(0)
        tr = Trainer(build_model("gru", 4, 4, hidden=64, layers=2), ds, cfg(**over, keep="best"),
                     None, progress=False)
        s = tr.fit()
        assert s["kept_epoch"] == s["best_epoch"] and s["heldout_gap"] is None
        assert s["val_nll"] == min(r["val_nll"] for r in tr.history)
        torch.manual_seed(0)
        tr = Trainer(build_model("gru", 4, 4, hidden=64, layers=2), ds, cfg(**over, keep="last"),
                     None, progress=False)
        s = tr.fit()
        assert s["kept_epoch"] == 12 and s["best_epoch"] == min(
            tr.history, key=lambda r: r["val_nll"])["epoch"]
        gap = s["heldout_gap"]
        last_nll = tr.history[-1]["val_nll"]
        # the mean per-shot difference is the difference of the two mean NLLs
        assert gap["gap"] == pytest.approx(last_nll - s["val_nll"], abs=1e-6)
        assert gap["gap_se"] > 0 and gap["n"] == len(tr.val)
        best = copy.deepcopy(tr.scored_model)
        best.load_state_dict(tr.best_state)
        same = heldout_gap(best, best, tr.val, tr.device, tr.dist)
        assert same["gap"] == 0 and same["gap_se"] == 0
        d = (tr.scored_model(torch.from_numpy(np.asarray(tr.val)).long()).double()
             - best(torch.from_numpy(np.asarray(tr.val)).long()).double()).detach().numpy()
        assert gap["gap_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)), rel=1e-6)


def test_plateau_schedule_on_a_handful_of_shots(tmp_path):
    """With fewer shots than one batch the plateau schedule is built before any step (its
    rate reads the loop state): the run trains and stops instead of failing."""
    from tests.training.conftest import make_dataset

    data = make_dataset(tmp_path / "seven.h5", shots=7, eval_shots=0)
    cfg = TrainConfig(epochs=3, batch_size=100, lr_schedule="plateau", patience=2,
                      val_fraction=0.3, hparams={"hidden": 8, "layers": 1})
    summary = run_training(data, tmp_path / "run", cfg, progress=False)
    assert 1 <= summary["epochs"] <= 3
    assert math.isfinite(summary["val_nll"]) and summary["val_shots"] >= 1
