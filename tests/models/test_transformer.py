"""Maths of the causal transformer: causality, normalisation, cached sampling is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.registry import build_model
from qtomo.povm.born import all_outcomes, outcome_index

SMALL = {"channels": 16} if "conv" in __name__ else {"d_model": 16, "heads": 2}


def _model(n=5, K=3, **hp):  # noqa: N803
    torch.manual_seed(0)
    m = build_model("transformer", n, K, **hp).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m


def test_logits_of_site_j_depend_only_on_earlier_sites():
    m = _model(n=6, K=4)
    a = torch.randint(0, 4, (5, 6))
    base = m._logits(a)
    for j in range(6):
        b = a.clone()
        b[:, j] = (b[:, j] + 1) % 4
        diff = (m._logits(b) - base).abs().amax(dim=(0, 2))
        assert torch.all(diff[: j + 1] < 1e-6), j
        if j < 5:
            assert diff[j + 1] > 0


def test_probabilities_sum_to_one_over_all_strings():
    m = _model(n=5, K=3)
    with torch.no_grad():
        p = m.log_prob(all_outcomes(5, 3)).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)


def test_cached_step_equals_full_pass():
    m = _model(n=9, K=4, layers=3)
    a = torch.randint(0, 4, (7, 9))
    full = m._logits(a)
    step = m._step_fn(7)
    with torch.no_grad():
        for j in range(9):
            assert torch.allclose(step(a, j), full[:, j], atol=1e-5), j


def test_sampler_matches_log_prob_chi_square():
    m = _model(n=4, K=3, **SMALL)
    with torch.no_grad():
        p = m.log_prob(all_outcomes(4, 3)).exp().numpy()
    n = 40_000
    s = m.sample(n, torch.Generator().manual_seed(5)).numpy()
    counts = np.bincount(outcome_index(s, 3), minlength=81)
    chi2 = float(((counts - n * p) ** 2 / (n * p)).sum())
    assert chi2 < 80 + 5 * np.sqrt(2 * 80)


def test_bad_options_are_rejected():
    with pytest.raises(InputValueError, match="multiple of heads"):
        build_model("transformer", 4, 4, d_model=30, heads=4)
