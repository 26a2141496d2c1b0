"""The contract every registered model meets (one parametrised test per clause).

New models join automatically: the tests run over ``model_names()``. Clauses: shapes and
dtypes, input validation, gradients reach every parameter, probabilities sum to 1 over all
K^N strings (exact models), sample histograms match log_prob (chi-square, exact models),
save/load through a weights_only checkpoint, seeded reproducibility.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.base import DensityEstimator
from qtomo.models.registry import build_model, model_from_state, model_names
from qtomo.povm.born import all_outcomes, outcome_index
from tests.conftest import chi_square_pvalue

NAMES = model_names()


def make(name: str, n: int = 4, k: int = 4, seed: int = 0) -> DensityEstimator:
    torch.manual_seed(seed)
    return build_model(name, n, k)


def test_registry_lists_gru():
    assert "gru" in NAMES


def test_unknown_model_and_option():
    with pytest.raises(InputValueError, match="unknown model"):
        build_model("nope", 3, 4)
    with pytest.raises(InputValueError, match="no option"):
        build_model("gru", 3, 4, hiddn=3)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    m = make(name).eval()
    a = all_outcomes(4, 4)[:50]
    if m.has_likelihood:
        lp = m.log_prob(a)
        assert lp.shape == (50,) and lp.dtype == torch.float64
        assert torch.isfinite(lp).all() and (lp <= 1e-6).all()
        assert m.log_prob(torch.from_numpy(a).long()).shape == (50,)
    else:
        with pytest.raises(InputValueError):
            m.log_prob(a)
    s = m.sample(7, torch.Generator().manual_seed(1))
    assert s.shape == (7, 4) and s.dtype == torch.uint8
    assert int(s.max()) < 4
    assert m.sample(0).shape == (0, 4)
    assert m.n_qubits == 4 and m.K == 4 and m.name == name


@pytest.mark.parametrize("name", NAMES)
def test_input_validation(name):
    """Bad strings and sample counts are refused by every model; a model without a
    likelihood (the GAN) refuses log_prob even of valid strings, and says why."""
    m = make(name)
    bads = (np.zeros((3, 5), np.uint8), np.full((2, 4), 4, np.uint8),
            np.zeros((2, 4), np.float32), np.zeros(4, np.uint8), -np.ones((1, 4), np.int64))
    good = all_outcomes(4, 4)[:3]
    for bad in (*bads, good) if not m.has_likelihood else bads:
        with pytest.raises(InputValueError, match=None if m.has_likelihood else "no likelihood"):
            m.log_prob(bad)
    if m.has_likelihood:
        assert m.log_prob(good).shape == (3,)
    for n in (-1, 2.5, True):
        with pytest.raises(InputValueError, match="integer >= 0"):
            m.sample(n)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    m = make(name).train()
    a = torch.from_numpy(np.random.default_rng(0).integers(0, 4, (64, 4))).long()
    loss = m(a).mean()
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient for {pname}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n,k", [(4, 4), (3, 6), (1, 4)])
def test_probabilities_sum_to_one(name, n, k):
    m = make(name, n, k).eval()
    if not m.exact_log_prob:
        pytest.skip(f"{name}: log_prob is not exact")
    with torch.no_grad():
        total = m.log_prob(all_outcomes(n, k)).exp().sum().item()
    assert abs(total - 1) < 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_sample_histogram_matches_log_prob(name):
    m = make(name, 3, 4, seed=3).eval()
    if not m.exact_log_prob:
        pytest.skip(f"{name}: log_prob is not exact")
    with torch.no_grad():
        p = m.log_prob(all_outcomes(3, 4)).exp().numpy()
    s = m.sample(20_000, torch.Generator().manual_seed(5)).numpy()
    counts = np.bincount(outcome_index(s, 4), minlength=64)
    assert chi_square_pvalue(counts, p / p.sum()) > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_save_load_roundtrip(name):
    m = make(name, 5, 4, seed=2).eval()
    buf = io.BytesIO()
    torch.save(m.state(), buf)
    buf.seek(0)
    m2 = model_from_state(torch.load(buf, weights_only=True)).eval()
    assert m2.hparams == m.hparams and type(m2) is type(m)
    a = all_outcomes(5, 4)[::7]
    if m.has_likelihood:
        with torch.no_grad():
            torch.manual_seed(0)
            x = m.log_prob(a)
            torch.manual_seed(0)
            y = m2.log_prob(a)
        assert torch.equal(x, y)
    s1 = m.sample(100, torch.Generator().manual_seed(9))
    s2 = m2.sample(100, torch.Generator().manual_seed(9))
    assert torch.equal(s1, s2)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_reproducibility(name):
    m1, m2 = make(name, 4, 4, seed=11), make(name, 4, 4, seed=11)
    sd1, sd2 = m1.state_dict(), m2.state_dict()
    assert sd1.keys() == sd2.keys()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    m3 = make(name, 4, 4, seed=12)
    assert any(not torch.equal(sd1[k], m3.state_dict()[k]) for k in sd1
               if sd1[k].is_floating_point() and sd1[k].numel() > 1)
    g = torch.Generator()
    assert torch.equal(m1.sample(50, g.manual_seed(4)), m1.sample(50, g.manual_seed(4)))
    # the hparams rebuild the same architecture
    m4 = build_model(name, 4, 4, **m1.hparams)
    assert m4.state_dict().keys() == sd1.keys()
