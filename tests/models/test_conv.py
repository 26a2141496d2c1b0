"""Maths of the causal convolutional model: causality, normalisation, exact sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.layers import dilations_for, receptive_field
from qtomo.models.registry import build_model
from qtomo.povm.born import all_outcomes, outcome_index

SMALL = {"channels": 16} if "conv" in __name__ else {"d_model": 16, "heads": 2}


def _model(n=5, K=3, **hp):  # noqa: N803
    torch.manual_seed(0)
    m = build_model("conv", n, K, **hp).eval()
    with torch.no_grad():  # move away from the near-uniform initialisation
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("n", [1, 4, 9, 20, 80])
def test_receptive_field_covers_the_chain(n):
    d = dilations_for(n, 3, None)
    assert receptive_field(3, d) >= n
    m = build_model("conv", n, 4)
    assert m.rf >= n


def test_logits_of_site_j_depend_only_on_earlier_sites():
    m = _model(n=7, K=4)
    a = torch.randint(0, 4, (6, 7))
    base = m._logits(a)
    for j in range(7):
        b = a.clone()
        b[:, j] = (b[:, j] + 1) % 4  # change site j
        diff = (m._logits(b) - base).abs().amax(dim=(0, 2))
        assert torch.all(diff[: j + 1] == 0), j
        if j < 6:
            assert diff[j + 1] > 0


def test_probabilities_sum_to_one_over_all_strings():
    m = _model(n=5, K=3)
    a = all_outcomes(5, 3)
    with torch.no_grad():
        p = m.log_prob(a).exp()
    assert p.dtype == torch.float64
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)


def test_sampler_matches_log_prob_chi_square():
    m = _model(n=4, K=3, **SMALL)
    with torch.no_grad():
        p = m.log_prob(all_outcomes(4, 3)).exp().numpy()
    n = 40_000
    s = m.sample(n, torch.Generator().manual_seed(3)).numpy()
    counts = np.bincount(outcome_index(s, 3), minlength=81)
    chi2 = float(((counts - n * p) ** 2 / (n * p)).sum())
    assert chi2 < 80 + 5 * np.sqrt(2 * 80)  # 80 degrees of freedom, 5 sigma


def test_windowed_sampling_step_equals_full_pass():
    m = _model(n=12, K=4, layers=2, kernel=2)  # receptive field 4 < N: windows are used
    assert m.rf < 12
    a = torch.randint(0, 4, (5, 12))
    full = m._logits(a)
    step = m._step_fn(5)
    for j in range(12):
        assert torch.allclose(step(a, j), full[:, j], atol=1e-5)


def test_bad_options_are_rejected():
    with pytest.raises(InputValueError, match="kernel"):
        build_model("conv", 4, 4, kernel=1)
    with pytest.raises(InputValueError, match="channels"):
        build_model("conv", 4, 4, channels=0)


def test_training_defaults_reach_default_config():
    from qtomo.training.config import default_config

    big = default_config("conv", 10, 100_000, 4)
    assert big["epochs"] == 8 and big["ema_decay"] == 0.999
    small = default_config("conv", 10, 2_000, 4)
    assert "ema_decay" not in small and small["epochs"] == 200
    assert default_config("transformer", 10, 100_000, 4)["epochs"] == 10
