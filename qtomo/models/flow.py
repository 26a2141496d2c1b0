"""Normalizing flows over outcome strings: NICE, RealNVP and Glow with argmax dequantization.

A flow f maps a continuous vector v in R^{N K} (K numbers per site) to z = f(v) ~ N(0, I),
with log p(v) = log N(f(v); 0, I) + log|det df/dv| computed exactly. Three variants, assembled
from the shared parts of :mod:`qtomo.models.flows`:

* ``nice``: additive couplings (volume preserving) and a final diagonal scaling (Dinh 2014);
* ``realnvp``: affine couplings with soft-clamped log-scales (Dinh 2016);
* ``glow``: steps of actnorm, an invertible linear mixing of all N K dimensions in LU form
  (Glow's invertible 1x1 convolution, the "channels" being every dimension) and an affine
  coupling (Kingma & Dhariwal 2018).

The couplings split the dimensions by site (even/odd sites, then left/right halves,
alternating), so each one updates all K numbers of half of the sites given the other half.

**Categorical outcomes.** Labels are categories, not ordinal numbers, so the string is not
dequantized as a + uniform noise (which leaks mass between labels that happen to be adjacent
numbers). The outcome of site j is a_j = argmax_k v_jk (argmax flow, Hoogeboom et al. 2021):
Q(a) = int_{argmax v = a} p(v) dv is a normalised distribution over strings and ``sample``
draws from it exactly (z ~ N(0, I), v = f^-1(z), argmax per site). A learned variational
dequantizer q(v|a) (see :class:`qtomo.models.flows.ArgmaxDequantizer`) proposes v inside the
region of a. Which likelihood is which:

* the training loss (``forward``) and the validation NLL are -ELBO, the negative of the
  **lower bound** log Q(a) >= E_q[log p(v) - log q(v|a)] (one draw of v per shot);
* ``log_prob`` is an **estimate**: the importance-weighted bound with ``iw_samples`` draws,
  log (1/S) sum_s p(v_s)/q(v_s|a), consistent as S grows and biased low for finite S
  (``exact_log_prob`` is False). Fidelities and KL computed from it are labelled estimates;
* the flow density log p(v) itself is exact.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from qtomo.errors import InputValueError
from qtomo.models.base import DensityEstimator
from qtomo.models.flows import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    ArgmaxDequantizer,
    DiagonalScale,
    Flow,
    InvertibleLinear,
)
from qtomo.models.flows.dequantization import chain_masks, site_masks
from qtomo.models.layers import SAMPLE_CHUNK
from qtomo.models.registry import register

FLOWS = ("nice", "realnvp", "glow")
_LOG_2PI = math.log(2 * math.pi)


def build_flow(
    kind: str, n_sites: int, K: int, layers: int, hidden: int, depth: int,
    argmax_features: bool = True, order: str = "chain",
) -> Flow:
    """The transform stack of a named variant on D = n_sites * K dimensions.

    ``order``: ``chain`` (``layers`` sweeps of the autoregressive coupling schedule of
    :func:`chain_masks`, N couplings per sweep) or ``alternating`` (``layers`` couplings on
    even/odd sites and left/right halves). ``argmax_features``: the couplings' conditioners
    also see the one-hot argmax of every conditioning site (its outcome under argmax
    dequantization). Glow mixes the K channels of every site with one invertible matrix.
    """
    d = n_sites * K
    if order == "chain":
        masks = [m for _ in range(layers) for m in chain_masks(n_sites, K)]
    else:
        masks = site_masks(n_sites, K, layers)
    g = K if argmax_features else 0
    ts: list = []
    if kind == "nice":
        ts = [AdditiveCoupling(m, hidden, depth, groups=g) for m in masks] + [DiagonalScale(d)]
    elif kind == "realnvp":
        ts = [AffineCoupling(m, hidden, depth, groups=g) for m in masks]
    elif kind == "glow":
        for i, m in enumerate(masks):
            ts += [ActNorm(d), InvertibleLinear(K, seed=i, blocks=n_sites),
                   AffineCoupling(m, hidden, depth, groups=g)]
    else:
        raise InputValueError(f"unknown flow {kind!r}; expected one of {', '.join(FLOWS)}")
    return Flow(ts)


@register("flow")
class FlowModel(DensityEstimator):
    """Argmax normalizing flow (NICE, RealNVP or Glow) over K-outcome strings of N qubits.

    Parameters
    ----------
    n_qubits : int
        String length N.
    K : int
        Outcomes per qubit.
    flow : str
        ``nice``, ``realnvp`` or ``glow``.
    order : str
        Coupling schedule: ``chain`` (autoregressive along the sites: coupling k transforms
        sites >= k given sites < k, N couplings per sweep) or ``alternating`` (even/odd sites,
        left/right halves).
    layers : int or None
        ``chain``: sweeps (default 1); ``alternating``: couplings (default 8). Glow: each
        coupling is a step of actnorm + channel mixing + coupling.
    hidden : int
        Width of the coupling conditioners (and of the dequantizer).
    depth : int
        Hidden layers of each conditioner MLP.
    dequant_layers : int
        Conditional affine couplings of the variational dequantizer.
    iw_samples : int
        Importance samples S of the ``log_prob`` estimate.
    train_samples : int
        Draws of v per shot in the training loss (> 1: the tighter importance-weighted bound).
    decoder : str
        ``argmax`` (a_j = argmax_k v_jk, the argmax flow) or ``softmax`` (a latent-variable
        model with the flow as prior over v and p(a|v) = prod_j softmax(v_j)[a_j]).
    argmax_features : bool
        Conditioners also see the one-hot argmax (the outcome) of each conditioning site.
    """

    exact_log_prob = False
    has_likelihood = True

    def __init__(
        self,
        n_qubits: int,
        K: int,
        *,
        flow: str = "realnvp",
        order: str = "chain",
        layers: int | None = None,
        hidden: int = 128,
        depth: int = 2,
        dequant_layers: int = 2,
        iw_samples: int = 32,
        train_samples: int = 1,
        decoder: str = "argmax",
        argmax_features: bool = True,
    ) -> None:
        flow, order = str(flow).lower(), str(order).lower()
        if order not in ("chain", "alternating"):
            raise InputValueError(f"order must be 'chain' or 'alternating', got {order!r}")
        if layers is None:
            layers = 1 if order == "chain" else 8
        layers, hidden, depth = int(layers), int(hidden), int(depth)
        dequant_layers, iw_samples = int(dequant_layers), int(iw_samples)
        train_samples, decoder = int(train_samples), str(decoder).lower()
        super().__init__(n_qubits, K, {
            "flow": flow, "order": order, "layers": layers, "hidden": hidden, "depth": depth,
            "dequant_layers": dequant_layers, "iw_samples": iw_samples,
            "train_samples": train_samples, "decoder": decoder,
            "argmax_features": bool(argmax_features),
        })
        if decoder not in ("argmax", "softmax"):
            raise InputValueError(f"decoder must be 'argmax' or 'softmax', got {decoder!r}")
        self.decoder = decoder
        if flow not in FLOWS:
            raise InputValueError(f"unknown flow {flow!r}; expected one of {', '.join(FLOWS)}")
        for name, v, lo in (("layers", layers, 1), ("hidden", hidden, 1), ("depth", depth, 1),
                            ("dequant_layers", dequant_layers, 0), ("iw_samples", iw_samples, 1),
                            ("train_samples", train_samples, 1)):
            if v < lo:
                raise InputValueError(f"{name} must be >= {lo}, got {v}")
        self.flow_kind = flow
        self.dim = self.n_qubits * self.K
        self.flow = build_flow(flow, self.n_qubits, self.K, layers, hidden, depth,
                               bool(argmax_features), order)
        self.dequantizer = ArgmaxDequantizer(self.n_qubits, self.K, hidden, dequant_layers)
        self.iw_samples, self.train_samples = iw_samples, train_samples

    @classmethod
    def training_defaults(cls, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
        """Training settings for this model (merged into ``default_config``).

        Large datasets: 15 epochs (the cosine learning-rate schedule ends within a few minutes
        for a typical dataset on a small CPU, ``scripts/bench_models.py``) and a moving average
        of the weights.
        """
        del n_qubits, K
        return {"epochs": 15, "ema_decay": 0.999} if shots > 20_000 else {}

    # -- densities ---------------------------------------------------------------------------
    def log_density(self, v: torch.Tensor) -> torch.Tensor:
        """Exact log p(v) of the continuous flow, v (batch, N*K) -> (batch,) float32."""
        z, logdet = self.flow(v)
        return -0.5 * (z * z + _LOG_2PI).sum(1) + logdet

    def elbo(self, a: torch.Tensor, samples: int = 1) -> torch.Tensor:
        """Importance-weighted lower bound on log Q(a) with ``samples`` draws (1: the ELBO).

        ``a``: int64 (batch, N) on the model's device; returns (batch,) float32.
        """
        with torch.autocast(self.device.type, enabled=False):  # flows stay in float32
            return self._elbo(a, samples)

    def _elbo(self, a: torch.Tensor, samples: int) -> torch.Tensor:
        b = a.shape[0]
        rep = a.repeat_interleave(samples, dim=0) if samples > 1 else a
        v, log_q = self.dequantizer.sample_and_log_q(rep, threshold=self.decoder == "argmax")
        w = self.log_density(v) - log_q
        if self.decoder == "softmax":  # + log p(a|v) = sum_j log softmax(v_j)[a_j]
            lp = torch.log_softmax(v.view(-1, self.n_qubits, self.K), -1)
            w = w + lp.gather(2, rep.unsqueeze(2)).sum((1, 2))
        w = w.view(b, samples)
        return torch.logsumexp(w, dim=1) - math.log(samples)

    # -- DensityEstimator --------------------------------------------------------------------
    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Negative (importance-weighted) ELBO per shot: an upper bound on -log Q(a).

        Training uses ``train_samples`` draws (IWAE bound; 1: the plain ELBO); evaluation
        (the Trainer's validation NLL) always the plain ELBO.
        """
        return -self.elbo(a, self.train_samples if self.training else 1)

    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        s = self.iw_samples
        rows = max(1, (1 << 16) // s)
        return torch.cat([self.elbo(a[i : i + rows], s) for i in range(0, len(a), rows)]).double()

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        out = []
        for s in range(0, n, SAMPLE_CHUNK):
            m = min(SAMPLE_CHUNK, n - s)
            z = torch.randn((m, self.dim), generator=generator, device=self.device)
            v = self.flow.inverse(z).view(m, self.n_qubits, self.K)
            if self.decoder == "argmax":
                out.append(v.argmax(-1))
            else:
                probs = torch.softmax(v.float(), -1).view(-1, self.K)
                out.append(torch.multinomial(probs, 1, generator=generator).view(m, -1))
        return torch.cat(out)


__all__ = ["FLOWS", "FlowModel", "build_flow"]
