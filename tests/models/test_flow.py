"""Maths of the flows: exact inverses, log|det J| against autograd, argmax dequantization."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qtomo.errors import InputValueError
from qtomo.models.flow import FLOWS, build_flow
from qtomo.models.flows import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    ArgmaxDequantizer,
    DiagonalScale,
    InvertibleLinear,
    Permutation,
)
from qtomo.models.registry import build_model
from qtomo.povm.born import all_outcomes, outcome_index

D = 6
MASK = torch.tensor([True, False, True, False, False, True])


def _perturbed(t):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in t.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return t.double()


def _transforms():
    ctx = 3
    return {
        "additive": (_perturbed(AdditiveCoupling(MASK, 16, 2)), 0),
        "affine": (_perturbed(AffineCoupling(MASK, 16, 2)), 0),
        "affine_ctx": (_perturbed(AffineCoupling(MASK, 16, 2, context_dim=ctx)), ctx),
        "diag": (_perturbed(DiagonalScale(D)), 0),
        "actnorm": (_perturbed(ActNorm(D)), 0),
        "linear": (_perturbed(InvertibleLinear(D, seed=3)), 0),
        "perm": (Permutation(D, seed=2).double(), 0),
    }


@pytest.mark.parametrize("name", list(_transforms()))
def test_transform_inverse_and_logdet_against_autograd(name):
    t, ctx_dim = _transforms()[name]
    t.eval()
    torch.manual_seed(2)
    x = torch.randn(4, D, dtype=torch.float64)
    ctx = torch.randn(4, ctx_dim, dtype=torch.float64) if ctx_dim else None
    z, logdet = t(x, ctx)
    assert torch.allclose(t.inverse(z, ctx), x, atol=1e-10)
    for i in range(4):
        c = None if ctx is None else ctx[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda v, c=c: t(v[None], c)[0][0], x[i])
        expected = float(torch.linalg.slogdet(jac)[1])
        assert float(logdet[i].detach()) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("kind", FLOWS)
def test_named_flows_invert_and_logdet_against_autograd(kind):
    torch.manual_seed(0)
    f = _perturbed(build_flow(kind, 3, 2, layers=4, hidden=16, depth=1))
    f.train()
    f(torch.randn(32, 6, dtype=torch.float64))  # actnorm initialisation
    f.eval()
    x = torch.randn(3, 6, dtype=torch.float64)
    z, logdet = f(x)
    assert torch.allclose(f.inverse(z), x, atol=1e-9)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: f(v[None])[0][0], x[i])
        assert float(logdet[i].detach()) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-8)


def test_actnorm_initialises_to_zero_mean_unit_variance():
    t = ActNorm(4).train()
    x = 3.0 + 2.0 * torch.randn(1000, 4)
    z, _ = t(x)
    assert torch.allclose(z.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(z.std(0), torch.ones(4), atol=1e-4)
    assert bool(t.initialized)


def test_argmax_dequantizer_lands_in_the_region_and_its_density_is_right():
    torch.manual_seed(0)
    deq = _perturbed(ArgmaxDequantizer(3, 4, hidden=16, layers=2)).float()
    a = torch.randint(0, 4, (500, 3))
    v, log_q = deq.sample_and_log_q(a)
    assert torch.equal(v.view(500, 3, 4).argmax(-1), a)
    # the thresholding's log-det against autograd: v as a function of u, at fixed a
    u = torch.randn(12, dtype=torch.float64)
    a1 = torch.tensor([2, 0, 3])

    def thresh(u):
        uu = u.view(3, 4)
        t = uu.gather(1, a1[:, None])
        w = t - torch.nn.functional.softplus(t - uu)
        return w.scatter(1, a1[:, None], t).reshape(-1)

    jac = torch.autograd.functional.jacobian(thresh, u)
    uu = u.view(3, 4)
    t = uu.gather(1, a1[:, None])
    off = torch.ones(3, 4, dtype=torch.float64).scatter(1, a1[:, None], 0.0)
    ld = float((-torch.nn.functional.softplus(uu - t) * off).sum())
    assert ld == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-10)


@pytest.mark.parametrize(
    "kind,decoder", [(k, "argmax") for k in FLOWS] + [("realnvp", "softmax")]
)
def test_argmax_flow_is_normalised_and_samples_match(kind, decoder):
    """sum_a exp(IW estimate) is an unbiased estimate of sum_a Q(a) = 1; samples agree."""
    torch.manual_seed(0)
    m = build_model("flow", 2, 3, flow=kind, layers=2, hidden=16, depth=1, dequant_layers=1,
                    iw_samples=1000, decoder=decoder)
    target = torch.tensor([0.3, 0.05, 0.05, 0.05, 0.2, 0.05, 0.05, 0.05, 0.2])
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    m.train()
    for _ in range(200):  # fit a toy distribution so that q(v|a) matches p(v|a) a little
        idx = torch.multinomial(target, 64, replacement=True)
        loss = m(torch.stack([idx // 3, idx % 3], 1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    a = all_outcomes(2, 3)
    with torch.no_grad():
        q = m.log_prob(a).exp().numpy()
        s = m.sample(20_000, torch.Generator().manual_seed(1)).numpy()
    assert q.sum() == pytest.approx(1.0, abs=0.05)
    h = np.bincount(outcome_index(s, 3), minlength=9) / len(s)
    assert np.abs(h - q).max() < 0.03
    assert np.abs(h - target.numpy()).max() < 0.15  # and it is learning the toy distribution


def test_training_loss_is_a_bound_and_the_estimate_tightens_it():
    torch.manual_seed(0)
    m = build_model("flow", 3, 2, flow="realnvp", layers=2, hidden=16).eval()
    a = all_outcomes(3, 2).astype(np.int64)
    x = torch.from_numpy(a).repeat(200, 1)
    with torch.no_grad():
        elbo = m.elbo(x, 1).view(200, -1).mean(0)
        iw = m.elbo(x, 64).view(200, -1).mean(0)
    assert torch.all(iw >= elbo)


def test_unknown_flow_is_rejected():
    with pytest.raises(InputValueError, match="unknown flow 'maf'"):
        build_model("flow", 4, 4, flow="maf")


def test_cli_rejects_flow_without_model_flow(tmp_path):
    from click.testing import CliRunner

    from qtomo.cli.main import cli

    res = CliRunner().invoke(cli, ["train", str(tmp_path / "d.h5"), "--model", "gru", "--flow",
                                   "glow", "--out", str(tmp_path / "run")])
    assert res.exit_code == 3
    assert "--flow glow applies only to --model flow" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
