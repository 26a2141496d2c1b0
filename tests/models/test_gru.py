"""GRU model: the fused teacher-forced pass against a per-qubit loop, bf16 autocast, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.gru import GRUModel
from qtomo.models.registry import build_model
from qtomo.povm.born import all_outcomes


def loop_log_prob(m: GRUModel, a: torch.Tensor) -> torch.Tensor:
    """Reference: one GRU step per qubit in float64 (the form public ports use)."""
    md = GRUModel(m.n_qubits, m.K, **m.hparams).double()
    md.load_state_dict(m.state_dict())
    md.eval()
    tok = torch.full((len(a),), m.K, dtype=torch.long)
    h = None
    total = torch.zeros(len(a), dtype=torch.float64)
    for j in range(m.n_qubits):
        x = md.embed(tok)
        if md.pos is not None:
            x = x + md.pos[j]
        y, h = md.gru(x.unsqueeze(1), h)
        logp = torch.log_softmax(md.head(y[:, 0]), -1)
        total += logp.gather(1, a[:, j : j + 1]).squeeze(1)
        tok = a[:, j]
    return total


@pytest.mark.parametrize("positional", [True, False])
def test_fused_pass_equals_per_qubit_loop(positional):
    torch.manual_seed(0)
    m = build_model("gru", 7, 4, hidden=16, layers=3, positional=positional).eval()
    a = torch.from_numpy(np.random.default_rng(1).integers(0, 4, (200, 7))).long()
    with torch.no_grad():
        fused = m.log_prob(a)
        ref = loop_log_prob(m, a)
    assert torch.allclose(fused, ref, atol=1e-4, rtol=0)


def test_bf16_autocast_is_close_and_normalized():
    torch.manual_seed(0)
    m = build_model("gru", 5, 4, hidden=32, layers=2).eval()
    a = all_outcomes(5, 4)
    with torch.no_grad():
        lp32 = m.log_prob(a)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lp16 = m.log_prob(a)
    assert lp16.dtype == torch.float64
    assert abs(lp16.exp().sum().item() - 1) < 1e-4
    assert (lp16 - lp32).abs().max() < 0.05


def test_bf16_gradients_reach_float32_master_weights():
    torch.manual_seed(0)
    m = build_model("gru", 6, 4, hidden=16, layers=2, dropout=0.1).train()
    a = torch.randint(0, 4, (32, 6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = m(a).mean()
    loss.backward()
    for name, p in m.named_parameters():
        assert p.dtype == torch.float32
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert p.grad.abs().sum() > 0, name


def test_sampling_is_seeded_and_in_range():
    torch.manual_seed(0)
    m = build_model("gru", 9, 6, hidden=8, layers=1)
    g = torch.Generator()
    s1 = m.sample(1000, g.manual_seed(3))
    s2 = m.sample(1000, g.manual_seed(3))
    assert torch.equal(s1, s2) and s1.dtype == torch.uint8 and int(s1.max()) <= 5
    assert not torch.equal(s1, m.sample(1000, g.manual_seed(4)))


@pytest.mark.parametrize("kw", [{"hidden": 0}, {"layers": 0}, {"dropout": 1.0},
                                {"dropout": -0.1}])
def test_bad_hparams(kw):
    with pytest.raises(InputValueError):
        build_model("gru", 4, 4, **kw)


def test_generator_on_wrong_device_is_rejected():
    m = build_model("gru", 3, 4, hidden=4, layers=1)
    if not torch.cuda.is_available():
        pytest.skip("needs a second device type")
    with pytest.raises(InputValueError):
        m.sample(3, torch.Generator(device="cuda"))


def test_training_defaults_follow_the_data():
    from qtomo.training.config import default_config

    # up to 20 qubits: train until the validation NLL stops improving (no fixed length)
    at10 = default_config("gru", 10, 20_000, 4)
    assert at10["lr_schedule"] == "plateau" and at10["patience"] >= 2
    assert at10["epochs"] >= 50  # only a safety cap
    assert at10["hparams"]["phase"] > 0
    assert default_config("gru", 6, 100_000, 6)["lr_schedule"] == "plateau"
    big10 = default_config("gru", 10, 100_000, 4)
    assert big10["epochs"] == 5 and big10.get("lr_schedule", "cosine") == "cosine"
    ghz_small = default_config("gru", 4, 20_000, 6, symmetry="permutation")
    assert ghz_small["lr_schedule"] == "plateau" and ghz_small.get("keep", "best") == "best"
    # large N: the epoch cost grows with N, a cosine schedule run to its end
    at50 = default_config("gru", 50, 100_000, 4)
    assert at50["epochs"] == 9 and at50.get("lr_schedule", "cosine") == "cosine"
    assert big10["ema_decay"] == at50["ema_decay"] == 0.999
    small = default_config("gru", 40, 2_000, 4)
    assert small["batch_size"] == 100 and small["patience"] == 10
