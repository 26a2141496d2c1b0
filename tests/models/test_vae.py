"""Maths of the VAE: closed-form KL, bounds, free bits, annealing, active units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.registry import build_model
from qtomo.models.vae import gaussian_kl
from qtomo.povm.born import all_outcomes


def test_closed_form_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.tensor([0.0, 1.5, -0.7], dtype=torch.float64)
    log_var = torch.tensor([0.0, -1.0, 0.8], dtype=torch.float64)
    exact = gaussian_kl(mu, log_var)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * log_var))
    z = q.sample((400_000,))
    mc = (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).mean(0)
    assert torch.allclose(mc, exact, atol=0.01)
    assert float(exact[0]) == 0.0
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    assert torch.allclose(exact, ref, atol=1e-12)


def _model(**hp):
    torch.manual_seed(0)
    m = build_model("vae", 3, 2, latent=2, hidden=16, channels=8, **hp)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m.eval()


def test_importance_weighted_estimate_is_normalised_and_above_the_elbo():
    m = _model(iw_samples=4000)
    a = torch.from_numpy(all_outcomes(3, 2).astype(np.int64))
    with torch.no_grad():
        q = m.log_prob(a).exp()
        elbo = m.elbo(a.repeat(300, 1)).view(300, -1).mean(0)
    # exp(IW estimate) is unbiased for Q(a), and sum_a Q(a) = 1
    assert float(q.sum()) == pytest.approx(1.0, abs=0.02)
    assert torch.all(elbo <= q.log().float() + 1e-3)


def test_decoder_is_normalised_for_a_fixed_latent():
    m = _model()
    a = torch.from_numpy(all_outcomes(3, 2).astype(np.int64))
    z = torch.randn(1, 2).expand(len(a), 2)
    with torch.no_grad():
        p = m.log_likelihood(a, z).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)


def test_free_bits_stop_the_gradient_of_small_kl_dimensions():
    m = _model(free_bits=100.0, anneal_steps=0).train()  # every dimension below the floor
    a = torch.randint(0, 2, (16, 3))
    torch.manual_seed(5)
    m(a).mean().backward()
    # the KL has no gradient then: the encoder is trained by the reconstruction term alone
    g_fb = [p.grad.clone() for p in m.encoder.parameters()]
    m.zero_grad()
    m2 = _model(free_bits=100.0, anneal_steps=0, beta=0.0).train()
    torch.manual_seed(5)
    m2(a).mean().backward()
    for g1, p2 in zip(g_fb, m2.encoder.parameters(), strict=True):
        assert torch.allclose(g1, p2.grad, atol=1e-6)


def test_kl_annealing_ramps_beta_with_the_training_steps():
    m = _model(anneal_steps=10, beta=0.5).train()
    assert m.current_beta() == 0.0
    for _ in range(5):
        m(torch.randint(0, 2, (4, 3)))
    assert m.current_beta() == pytest.approx(0.25)
    for _ in range(10):
        m(torch.randint(0, 2, (4, 3)))
    assert m.current_beta() == pytest.approx(0.5)
    m.eval()
    m(torch.randint(0, 2, (4, 3)))  # evaluation does not count
    assert int(m.train_steps) == 15


def test_active_units_counts_latent_dimensions_in_use():
    m = _model()
    a = torch.from_numpy(all_outcomes(3, 2).astype(np.int64))
    with torch.no_grad():
        m.encoder[-1].weight[:2].zero_()  # mean of z_0, z_1 no longer depends on a
        m.encoder[-1].weight[1, 0] = 0.0
    assert m.active_units(a) == 0
    with torch.no_grad():
        m.encoder[-1].weight[0].normal_(std=3.0)
    assert m.active_units(a) == 1


def test_bad_options_are_rejected():
    with pytest.raises(InputValueError, match="free_bits"):
        build_model("vae", 4, 4, free_bits=-1.0)
