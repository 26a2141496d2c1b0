"""Bootstrap and learning-curve members: multinomial shot weights, the stacked GRU, member
run directories and the --bootstrap / --learning-curve options."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.data.hdf5 import open_dataset
from qtomo.models.gru import GRUModel
from qtomo.models.stacked import StackedGRU
from qtomo.training import TrainConfig, load_run, run_training
from qtomo.training.data import ShotSplit
from qtomo.training.members import member_plan, member_weights

SMALL = {"hparams": {"hidden": 16, "layers": 1}, "batch_size": 100, "device": "cpu",
         "precision": "fp32"}


def test_bootstrap_weights_are_a_multinomial_of_the_training_shots():
    n, rows = 20_000, 22_000
    train = np.sort(np.random.default_rng(0).choice(rows, n, replace=False))
    specs = member_plan(n, seed=5, bootstrap=10, learning_curve=True)
    assert [s.kind for s in specs].count("bootstrap") == 10
    w = np.stack([member_weights(s, train, rows).astype(float) for s in specs])
    mask = np.zeros(rows, bool)
    mask[train] = True
    assert np.all(w[:, ~mask] == 0)  # validation rows are never resampled
    boot = w[:10, mask]
    assert np.all(boot.sum(1) == n)  # Multinomial(n, 1/n): size n
    # each count is Binomial(n, 1/n): mean 1, variance 1 - 1/n (5-sigma bounds over 2e5 cells)
    assert abs(boot.mean() - 1) < 1e-12
    assert abs(boot.var() - (1 - 1 / n)) < 5 * np.sqrt(2 / boot.size) * 1.5
    assert abs(np.mean(boot == 0) - np.exp(-1)) < 0.01  # 36.8% of shots left out
    for s, ws in zip(specs[10:], w[10:], strict=True):  # m-out-of-n resamples
        assert ws.sum() == s.effective_shots == max(1, round(s.fraction * n))
    # members differ from each other, and are a fixed function of the seed
    assert all(not np.array_equal(w[i], w[j]) for i in range(10) for j in range(i))
    again = member_weights(member_plan(n, 5, 10, False)[3], train, rows)
    assert np.array_equal(again, w[3])
    assert not np.array_equal(member_weights(member_plan(n, 6, 10, False)[3], train, rows),
                              w[3])


def test_batches_carry_the_global_row_numbers(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        sp = ShotSplit(ds, val_fraction=0.1, seed=3, block_rows=700)
        allrows = ds.outcomes(0, ds.shots)
        plain = list(sp.train_batches(1, 128))
        indexed = list(sp.train_batches(1, 128, with_index=True))
        assert len(plain) == len(indexed)
        for p, (a, i) in zip(plain, indexed, strict=True):
            assert np.array_equal(p, a) and np.array_equal(allrows[i], a)
        seen = np.sort(np.concatenate([i for _, i in indexed]))
        assert np.array_equal(seen, sp.train_indices())
        r1 = list(sp.train_batches(1, 128, rank=1, world=2, with_index=True))
        assert np.array_equal(r1[0][1], indexed[0][1][1::2])


@pytest.mark.parametrize(("phase", "site"), [(0, False), (4, False), (4, True)])
def test_stacked_member_equals_a_gru_with_its_weights(phase, site):
    torch.manual_seed(0)
    models = [GRUModel(5, 4, hidden=12, layers=2, phase=phase, phase_site=site)
              for _ in range(3)]
    for g in models:  # the product channels' output layers start at zero: exercise them
        if phase:
            with torch.no_grad():
                g.phase_out.weight.normal_()
                g.phase_u.normal_()
                if site:
                    g.phase_site_out.normal_()
    stack = StackedGRU(models)
    a = torch.randint(0, 4, (64, 5))
    lp = stack.log_prob(a)
    assert lp.shape == (3, 64)
    for m, g in enumerate(models):
        sd, ref = stack.member_state_dict(m), g.state_dict()
        assert list(sd) == list(ref) and all(sd[k].shape == ref[k].shape for k in ref)
        torch.testing.assert_close(lp[m], g.log_prob(a), atol=1e-5, rtol=0)
        torch.testing.assert_close(stack.member(m).log_prob(a), g.log_prob(a))
    # members share nothing: member 0's loss gives no gradient to member 1
    stack(a)[0].mean().backward()
    assert all(float(p.grad[1:].abs().max()) == 0 for p in stack.parameters())
    assert all(float(p.grad[0].abs().max()) > 0 for p in stack.parameters())


@pytest.fixture(scope="module")
def member_run(tiny_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("members") / "run"
    cfg = TrainConfig(**SMALL, epochs=4, bootstrap=3)
    return out, run_training(tiny_h5, out, cfg, progress=False)


def test_members_are_normal_checkpoints_that_differ(member_run, tiny_h5):
    out, summary = member_run
    info = json.loads((out / "members.json").read_text())
    assert summary["members"]["bootstrap"] == 3 and info["count"] == 3
    assert info["bootstrap_cost_ratio"] > 1
    main, _ = load_run(out)
    a = open_dataset(tiny_h5).eval_outcomes()[:200]
    with torch.no_grad():
        lps = [main.log_prob(a)]
    for e in info["members"]:
        assert e["kind"] == "bootstrap" and e["effective_shots"] == summary["train_shots"]
        model, cfg = load_run(out / e["dir"])
        assert isinstance(model, GRUModel) and cfg["member"]["name"] == e["name"]
        assert cfg["bootstrap"] == 0  # a member is a plain run
        assert (out / e["dir"] / "model_card.json").exists()
        with torch.no_grad():
            lps.append(model.log_prob(a))
    for i in range(len(lps)):
        for j in range(i):
            assert float((lps[i] - lps[j]).abs().max()) > 1e-4


def test_cli_bootstrap_bad_values(tiny_h5, tmp_path):
    def run(*args):
        return CliRunner().invoke(cli, ["train", str(tiny_h5), "--out", str(tmp_path / "r"),
                                        "--epochs", "1", *args])

    for args in (["--bootstrap", "1"], ["--bootstrap", "-2"], ["--bootstrap", "x"],
                 ["--model", "conv", "--bootstrap", "3"]):
        r = run(*args)
        assert r.exit_code in (2, 3), r.output
        if args[-1] != "x":
            assert r.exit_code == 3
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and "--bootstrap" in lines[0], r.stderr
    assert not (tmp_path / "r").exists()
    h = CliRunner().invoke(cli, ["train", "--help"]).output
    assert "--bootstrap" in h and "--learning-curve" in h
