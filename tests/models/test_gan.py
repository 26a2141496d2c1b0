"""Maths of the GAN: the discriminator's optimum, gradient routing, no likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from qtomo.errors import InputValueError
from qtomo.models.gan import discriminator_loss
from qtomo.models.registry import build_model
from qtomo.povm.born import outcome_index


def test_discriminator_optimum_is_p_over_p_plus_q():
    """Minimising the discriminator loss gives D*(a) = P(a) / (P(a) + Q(a))."""
    torch.manual_seed(0)
    m = build_model("gan", 2, 3, hidden=64)
    p = torch.tensor([0.30, 0.05, 0.10, 0.02, 0.20, 0.03, 0.10, 0.15, 0.05])
    q = torch.tensor([0.10, 0.10, 0.10, 0.15, 0.05, 0.20, 0.10, 0.05, 0.15])
    opt = torch.optim.Adam(m.discriminator.parameters(), lr=3e-3)
    strings = torch.stack([torch.arange(9) // 3, torch.arange(9) % 3], 1)
    onehot = F.one_hot(strings, 3).float()
    for _ in range(600):
        r = torch.multinomial(p, 512, replacement=True)
        f = torch.multinomial(q, 512, replacement=True)
        loss = discriminator_loss(m.discriminate(onehot[r]), m.discriminate(onehot[f])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        d = torch.sigmoid(m.discriminate(onehot))
    assert torch.allclose(d, p / (p + q), atol=0.05)


def test_generator_loss_reaches_only_the_generator():
    torch.manual_seed(0)
    m = build_model("gan", 4, 3, hidden=16, r1=0.0).train()
    fake = m.generate(8)
    m.discriminate(fake, frozen=True).sum().backward()
    assert all(p.grad is None for p in m.discriminator.parameters())
    assert all(p.grad is not None for p in m.generator.parameters())


def test_straight_through_strings_are_exact_one_hots():
    torch.manual_seed(0)
    m = build_model("gan", 5, 4, hidden=16)
    x = m.generate(100)
    assert torch.equal(x.sum(-1), torch.ones(100, 5))
    assert set(torch.unique(x.detach()).tolist()) <= {0.0, 1.0}


def test_samples_follow_the_generator_distribution():
    """Q(a) = E_z prod_j softmax(l_j(z))[a_j]: sampled histogram against a z-average."""
    torch.manual_seed(0)
    m = build_model("gan", 2, 3, hidden=16, ema=0.0, generator="mlp").eval()
    with torch.no_grad():
        for p in m.generator.parameters():
            p.mul_(3.0)
        z = torch.randn(200_000, m.noise)
        probs = torch.softmax(m.generator_logits(z), -1)  # batch 2 3
        q = torch.einsum("bi,bj->ij", probs[:, 0], probs[:, 1]).reshape(-1) / len(z)
    s = m.sample(200_000, torch.Generator().manual_seed(1)).numpy()
    h = np.bincount(outcome_index(s, 3), minlength=9) / len(s)
    assert np.abs(h - q.numpy()).max() < 0.005


def test_no_likelihood():
    m = build_model("gan", 3, 4)
    assert not m.has_likelihood and not m.exact_log_prob
    with pytest.raises(InputValueError, match="no likelihood"):
        m.log_prob(torch.zeros(2, 3, dtype=torch.long))


def test_validation_loss_is_a_histogram_cross_entropy_for_small_n():
    torch.manual_seed(0)
    m = build_model("gan", 2, 2, hidden=8, hist_samples=100_000).eval()
    a = torch.tensor([[0, 0], [1, 1]])
    with torch.no_grad():
        loss = m(a)
        s = m.sample(100_000, torch.Generator().manual_seed(12345))
    h = np.bincount(outcome_index(s.numpy(), 2), minlength=4) / 1e5
    assert np.allclose(np.exp(-loss.numpy()), h[[0, 3]], atol=0.01)
    big = build_model("gan", 9, 4, hidden=8, hist_samples=1000).eval()
    assert torch.isnan(big(torch.zeros(2, 9, dtype=torch.long))).all()
    default = build_model("gan", 2, 2, hidden=8).eval()  # no validation signal by default
    assert torch.isnan(default(a)).all()


#: A correlated two-site distribution (K = 2) and one with the same marginals, uncorrelated.
CORRELATED = (0.4, 0.1, 0.1, 0.4)
UNCORRELATED = (0.25, 0.25, 0.25, 0.25)


def two_site_batch(probs: torch.Tensor, n: int) -> torch.Tensor:
    """n one-hot strings (n, 2, 2) drawn from a two-site distribution over 4 strings."""
    i = torch.multinomial(probs, n, replacement=True)
    return F.one_hot(torch.stack([i // 2, i % 2], 1), 2).float()


def test_pair_moment_gap_is_an_unbiased_mmd():
    from qtomo.models.gan import pair_moment_gap

    torch.manual_seed(0)
    p, q = torch.tensor(CORRELATED), torch.tensor(UNCORRELATED)
    batch = two_site_batch

    same = torch.stack([pair_moment_gap(batch(p, 64), batch(p, 64))[0] for _ in range(400)])
    diff = pair_moment_gap(batch(p, 20000), batch(q, 20000))[0]
    # exact squared moment distance: the two-site block of x x^T differs by +-0.15 in 8 entries
    assert float(same.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(diff) == pytest.approx(8 * 0.15**2, abs=0.02)


def test_expected_pair_moment_gap_is_unbiased_and_chi_square_weighted():
    from qtomo.models.gan import expected_pair_moment_gap, one_and_two_site_moments

    torch.manual_seed(1)
    p, q = torch.tensor(CORRELATED), torch.tensor(UNCORRELATED)
    batch = two_site_batch

    def cond_probs(x, probs):
        """Conditional probabilities of each site given the sites before it."""
        joint = probs.view(2, 2)
        first = joint.sum(1).expand(len(x), 2)
        second = joint[x[:, 0].argmax(-1)] / joint.sum(1)[x[:, 0].argmax(-1)][:, None]
        return torch.stack([first, second], 1)

    ref = one_and_two_site_moments(batch(p, 40000))  # chi-square weights, independent batch
    same = []  # 2000 batches: the mean's standard error is about 0.002 (unweighted)
    for _ in range(2000):
        f = batch(p, 64)
        same.append(expected_pair_moment_gap(batch(p, 64), f, cond_probs(f, p))[0])
    assert float(torch.stack(same).mean()) == pytest.approx(0.0, abs=0.01)
    same = []
    for _ in range(2000):
        f = batch(p, 64)
        same.append(expected_pair_moment_gap(batch(p, 64), f, cond_probs(f, p), ref)[0])
    f = batch(q, 40000)
    diff = expected_pair_moment_gap(batch(p, 40000), f, cond_probs(f, q), ref)[0]
    assert float(torch.stack(same).mean()) == pytest.approx(0.0, abs=0.05)
    # the i < j block differs by +-0.15 in 4 entries: chi-square weights 1/0.4, 1/0.1, 1/0.1,
    # 1/0.4 of the real pair moments, times 2 (both orderings, as in the MMD)
    assert float(diff) == pytest.approx(2 * 0.15**2 * (2.5 + 10 + 10 + 2.5), abs=0.05)
