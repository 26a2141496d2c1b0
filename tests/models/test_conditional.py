"""Conditional likelihood (bits given Pauli-6 settings) of the autoregressive models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.registry import build_model
from qtomo.povm.born import all_outcomes

N = 3
SMALL = {"gru": {"hidden": 12, "phase": 2, "phase_site": True}, "conv": {"channels": 8},
         "transformer": {"d_model": 8, "heads": 2, "layers": 1}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_conditional_model_is_normalised_with_uniform_settings(name):
    """sum_a Q(a) = 1 and every setting s has probability 3^-N exactly: the basis choices
    are not modelled, only the bits given them."""
    torch.manual_seed(0)
    m = build_model(name, N, 6, likelihood="conditional", **SMALL[name]).eval()
    a = torch.from_numpy(all_outcomes(N, 6)).long()
    with torch.no_grad():
        p = torch.exp(m.log_prob(a)).numpy()
    assert abs(p.sum() - 1) < 1e-5
    setting = (a.numpy() // 2) @ (3 ** np.arange(N)[::-1])
    per_setting = np.bincount(setting, weights=p, minlength=3**N)
    assert np.allclose(per_setting, 3.0**-N, atol=1e-6)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_conditional_is_the_joint_model_given_its_settings(name):
    """log Q_cond(a) = log Q_joint(a) - sum_j log Q_joint(s_j | a_<j) - N log 3 for the same
    weights: the conditional keeps Q(b_j | s_j, a_<j) and replaces Q(s_j | a_<j) by 1/3."""
    torch.manual_seed(1)
    joint = build_model(name, N, 6, **SMALL[name]).eval()
    cond = build_model(name, N, 6, likelihood="conditional", **SMALL[name]).eval()
    cond.load_state_dict(joint.state_dict())
    a = torch.from_numpy(np.random.default_rng(2).integers(0, 6, (50, N))).long()
    with torch.no_grad():
        lp = torch.log_softmax(joint._logits(a).float(), -1).double()  # noqa: SLF001
        basis = torch.logsumexp(lp.reshape(50, N, 3, 2), -1)  # log Q(s_j | a_<j)
        s = a // 2
        log_qs = basis.gather(-1, s.unsqueeze(-1)).squeeze(-1).sum(-1)
        expect = joint.log_prob(a) - log_qs - N * math.log(3)
        torch.testing.assert_close(cond.log_prob(a), expect, atol=1e-4, rtol=0)
        # sampling draws the settings uniformly
        smp = cond.sample(30_000, torch.Generator().manual_seed(3)).numpy().astype(np.int64)
    frac = np.bincount((smp // 2).ravel(), minlength=3) / smp.size
    assert np.allclose(frac, 1 / 3, atol=4 * math.sqrt(2 / 9 / smp.size))


def test_conditional_needs_pauli6():
    with pytest.raises(InputValueError, match="Pauli-6"):
        build_model("gru", N, 4, likelihood="conditional")
    with pytest.raises(InputValueError, match="likelihood"):
        build_model("conv", N, 6, likelihood="marginal")
