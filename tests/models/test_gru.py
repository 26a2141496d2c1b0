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
    assert default_config("gru", 10, 100_000, 4)["hparams"]["phase"] == 0
    assert default_config("gru", 6, 100_000, 6)["lr_schedule"] == "plateau"
    big10 = default_config("gru", 10, 100_000, 4)
    assert big10["epochs"] == 5 and big10.get("lr_schedule", "cosine") == "cosine"
    plain = default_config("gru", 4, 20_000, 6)
    # no default keeps a schedule position: the lowest validation NLL is kept everywhere
    for n, shots in ((4, 20_000), (4, 100_000), (10, 20_000), (50, 20_000), (50, 100_000),
                     (40, 2_000)):
        assert default_config("gru", n, shots, 4).get("keep", "best") == "best"
        assert default_config("gru", n, shots, 4).get("patience", 5) > 0
    # large N: the epoch cost grows with N, a cosine schedule run to its end
    at50 = default_config("gru", 50, 100_000, 4)
    assert at50["epochs"] == 9 and at50.get("lr_schedule", "cosine") == "cosine"
    # many shots: larger batches at a sqrt(2) higher rate; fewer shots keep 256 (enough steps)
    assert at50["batch_size"] == 512 and at50["lr"] == pytest.approx(3e-3 * 2**0.5, rel=0.02)
    assert default_config("gru", 20, 40_000, 4)["batch_size"] == 256
    assert big10["ema_decay"] == at50["ema_decay"] == 0.999
    # few shots at any N: the held-out NLL drives the rate and ends the run
    small = default_config("gru", 40, 2_000, 4)
    assert small["batch_size"] == 100 and small["lr_schedule"] == "plateau"
    assert small["patience"] == 3 and not small["hparams"]["phase_site"]
    assert default_config("gru", 8, 20_000, 6)["hparams"]["phase_site"]
    # the network narrows only where the outcome space is small
    assert plain["hparams"]["hidden"] < at10["hparams"]["hidden"] == 100


def _site_model() -> GRUModel:
    torch.manual_seed(3)
    m = GRUModel(4, 6, hidden=16, layers=1, phase=4, phase_site=True)
    with torch.no_grad():  # the readouts start at zero: give them weight
        m.phase_out.weight.normal_()
        m.phase_site_out.normal_(std=2.0)
        m.phase_u.normal_()
    return m.eval()


def test_site_readout_is_normalized_and_sampling_follows_log_prob():
    """The per-site interference factor enters both the teacher-forced pass and ancestral
    sampling: the table sums to 1, and 60,000 samples match it (chi-square over the 1296
    strings, p > 1e-3)."""
    from scipy import stats

    m = _site_model()
    a = torch.from_numpy(all_outcomes(4, 6)).long()
    with torch.no_grad():
        p = torch.exp(m.log_prob(a)).numpy()
        s = m.sample(60_000, torch.Generator().manual_seed(5)).numpy().astype(np.int64)
    assert abs(p.sum() - 1.0) < 1e-5
    idx = ((s[:, 0] * 6 + s[:, 1]) * 6 + s[:, 2]) * 6 + s[:, 3]
    counts = np.bincount(idx, minlength=6**4)
    expected = 60_000 * p / p.sum()
    keep = expected > 5
    chi2 = float((((counts - expected) ** 2 / expected)[keep]).sum())
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3


def test_init_from_povm_starts_channel_zero_at_the_coherence_factor():
    """Pauli-6: <0|M|1> / sqrt(<0|M|0><1|M|1>) has modulus 1 for the X and Y outcomes and 0
    for Z; the channel's factor exp(i theta - softplus(u)) starts there."""
    from qtomo.povm.frames import get_frame

    m = GRUModel(3, 6, hidden=8, phase=4)
    m.init_from_povm(get_frame("pauli6").elements)
    with torch.no_grad():
        mod = torch.exp(-torch.nn.functional.softplus(m.phase_u[:, 0])).numpy()
        theta = m.phase_theta[:, 0].numpy()
    assert np.allclose(mod[:4], 1.0, atol=2e-4) and np.all(mod[4:] < 2e-6)
    el = get_frame("pauli6").elements[:4, 0, 1]
    assert np.allclose(np.exp(1j * theta[:4]), el / np.abs(el), atol=1e-6)
    with pytest.raises(InputValueError):
        m.init_from_povm(np.zeros((4, 2, 2)))


@pytest.mark.parametrize("kw, K, max_nodes", [
    ({"hidden": 8, "layers": 1, "positional": False}, 4, 1 << 17),
    ({"hidden": 16, "layers": 2, "phase": 3, "phase_site": True}, 6, 7),
    ({"hidden": 8, "layers": 2, "phase": 2, "likelihood": "conditional"}, 6, 50),
])
def test_prefix_tree_table_equals_log_prob_of_every_string(kw, K, max_nodes):
    """The table walked prefix by prefix (in chunks of at most max_nodes prefixes) is the
    teacher-forced log Q of every string, in the order of all_outcomes, and sums to 1."""
    torch.manual_seed(3)
    m = build_model("gru", 5, K, **kw)
    with torch.no_grad():
        ref = m.log_prob(torch.from_numpy(all_outcomes(5, K)).long()).numpy()
    table = m.log_prob_table(max_nodes=max_nodes).numpy()
    assert table.dtype == np.float64 and table.shape == (K**5,)
    assert np.abs(table - ref).max() < 1e-5
    assert abs(np.exp(table).sum() - 1.0) < 1e-5
    assert m.training  # the model's mode is restored
