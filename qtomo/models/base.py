"""The interface every generative model of outcome strings implements.

A :class:`DensityEstimator` is a distribution Q(a) over outcome strings ``a`` of N qubits with K
outcomes each (docs/conventions.md, "Qubits and bit order"): ``a`` has shape ``(batch, N)``,
integer values ``0..K-1``, and column j is qubit j. Models have no ``fit``:
:class:`qtomo.training.Trainer` drives them all.

Public methods validate their inputs and then call private ``_impl`` methods that compute:

* :meth:`DensityEstimator.log_prob` -> ``(batch,)`` float64 natural log Q(a). It is exact
  (normalized over all K^N strings) when :attr:`exact_log_prob` is True, an estimate or a
  bound otherwise (flows: a dequantization lower bound; VAE: an importance-weighted
  estimate); models without a likelihood (GAN) set :attr:`has_likelihood` False and raise.
* :meth:`DensityEstimator.sample` -> ``(n, N)`` uint8 strings drawn from Q.
* ``forward(a)`` -> ``(batch,)`` float per-shot training loss, the quantity the Trainer
  minimises on average (negative log-likelihood for likelihood models, negative ELBO for a
  VAE). It is the module's ``__call__`` so that DistributedDataParallel can wrap it.

Networks compute in float32 (bfloat16 under autocast where the hardware supports it); the
log-probabilities they return are float64.

Save and load go through :meth:`DensityEstimator.state` and
:func:`qtomo.models.registry.model_from_state`: a plain dict (name, n_qubits, K, hparams,
state_dict) that ``torch.load(weights_only=True)`` reads back.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from qtomo.errors import InputValueError

#: Rows per chunk when log_prob runs without gradients (bounds the activation memory).
_NO_GRAD_CHUNK_ELEMENTS = 1 << 21


#: ``--likelihood`` of the autoregressive models (see :func:`conditional_logits`).
LIKELIHOODS = ("joint", "conditional")


def conditional_logits(logits: torch.Tensor) -> torch.Tensor:
    """Pauli-6 conditionals with the basis probabilities fixed at 1/3.

    In the Pauli-6 encoding ``a = 2 s + b`` (basis s in X, Y, Z; bit b), the joint model
    Q(a_j | a_<j) = Q(s_j | a_<j) Q(b_j | s_j, a_<j). For a fixed measurement design the
    settings are not random, so only the bits are modelled: the returned log-conditionals are
    ``log(1/3) + log Q(b_j | s_j, a_<j)`` (a normalised distribution over the 6 outcomes whose
    basis marginal is uniform). The model's P(a) is then the Born distribution of uniformly
    random Pauli measurements whatever design the shots came from, since the bits of qubits
    <= j do not depend on the settings of later qubits.
    """
    sh = logits.shape
    lb = torch.log_softmax(logits.float().reshape(*sh[:-1], 3, 2), dim=-1) - math.log(3.0)
    return lb.reshape(sh)


def likelihood_hparams(likelihood: str, K: int) -> dict[str, Any]:
    """The hparam entry of ``likelihood`` (none for ``joint``: older checkpoints keep theirs);
    a conditional likelihood needs the Pauli-6 encoding (K = 6)."""
    if likelihood not in LIKELIHOODS:
        raise InputValueError(f"unknown likelihood {likelihood!r}; expected joint or conditional")
    if likelihood == "conditional" and int(K) != 6:
        raise InputValueError(
            f"the conditional likelihood needs Pauli-6 outcomes (bits given settings), K = {K}")
    return {"likelihood": likelihood} if likelihood == "conditional" else {}


class DensityEstimator(nn.Module):
    """Base class of generative models Q(a) over outcome strings.

    Parameters
    ----------
    n_qubits : int
        Number of qubits N (string length), >= 1.
    K : int
        Outcomes per qubit (the POVM size), >= 2.
    hparams : dict
        The model's own keyword arguments (everything but ``n_qubits`` and ``K``) with the
        values used; with :attr:`name` they rebuild the model (see :meth:`state`).

    Attributes
    ----------
    name : str
        Registry name, set by :func:`qtomo.models.registry.register`.
    exact_log_prob : bool
        ``log_prob`` is the exact normalized log Q(a).
    has_likelihood : bool
        ``log_prob`` exists at all.
    """

    name: ClassVar[str] = "base"
    exact_log_prob: ClassVar[bool] = False
    has_likelihood: ClassVar[bool] = False

    def __init__(self, n_qubits: int, K: int, hparams: dict[str, Any]) -> None:
        super().__init__()
        if isinstance(n_qubits, bool) or not isinstance(n_qubits, (int, np.integer)) \
                or n_qubits < 1:
            raise InputValueError(f"n_qubits must be an integer >= 1, got {n_qubits!r}")
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2:
            raise InputValueError(f"K must be an integer >= 2, got {K!r}")
        self.n_qubits = int(n_qubits)
        self.K = int(K)
        self._hparams = dict(hparams)

    # -- description -----------------------------------------------------------------------
    @property
    def hparams(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model (besides ``n_qubits`` and ``K``)."""
        return dict(self._hparams)

    @property
    def device(self) -> torch.device:
        """Device of the parameters (CPU for a model without parameters)."""
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def num_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the model, as a ``weights_only``-loadable dict."""
        return {
            "name": self.name,
            "n_qubits": self.n_qubits,
            "K": self.K,
            "hparams": self.hparams,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
        }

    # -- public API (validates) -------------------------------------------------------------
    @property
    def conditional(self) -> bool:
        """True for a conditional likelihood (bits given Pauli-6 settings)."""
        return self._hparams.get("likelihood") == "conditional"

    def _cond(self, logits: torch.Tensor) -> torch.Tensor:
        return conditional_logits(logits) if self.conditional else logits

    def init_from_povm(self, elements: np.ndarray) -> None:
        """Initialise from the POVM before training (fresh models only; default: nothing).

        ``elements`` is the (K, 2, 2) array of single-qubit POVM elements M(a).
        """
        del elements

    def log_prob(self, a: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Natural log Q(a) of each string.

        Parameters
        ----------
        a : Tensor or ndarray, integer, shape (batch, N)
            Outcome strings, values ``0..K-1``, column j = qubit j.

        Returns
        -------
        Tensor, float64, shape (batch,), on the model's device
            Exact when :attr:`exact_log_prob`; differentiable. Without gradients, large
            batches are evaluated in chunks.
        """
        if not self.has_likelihood:
            raise InputValueError(
                f"model {self.name!r} has no likelihood; use its samples (observables, "
                "histogram fidelities) instead of log_prob"
            )
        x = self._check_outcomes(a)
        if torch.is_grad_enabled() or len(x) == 0:
            return self._log_prob_impl(x)
        rows = max(1, _NO_GRAD_CHUNK_ELEMENTS // self.n_qubits)
        if len(x) <= rows:
            return self._log_prob_impl(x)
        return torch.cat([self._log_prob_impl(x[s : s + rows]) for s in range(0, len(x), rows)])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` strings from Q.

        Parameters
        ----------
        n : int
            Number of strings, >= 0.
        generator : torch.Generator, optional
            Source of randomness on the model's device (the global RNG when None); the same
            generator state gives the same strings.

        Returns
        -------
        Tensor, uint8, shape (n, N), on the model's device
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise InputValueError(f"number of samples must be an integer >= 0, got {n!r}")
        if generator is not None and generator.device.type != self.device.type:
            raise InputValueError(
                f"generator is on {generator.device}, the model on {self.device}; "
                "create the generator on the model's device"
            )
        if n == 0:
            return torch.zeros((0, self.n_qubits), dtype=torch.uint8, device=self.device)
        with torch.no_grad():
            out = self._sample_impl(int(n), generator)
        return out.to(torch.uint8)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Per-shot training loss, shape (batch,); ``a`` is trusted (long, on device)."""
        return -self._log_prob_impl(a)

    # -- private computation (subclasses) ---------------------------------------------------
    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        """log Q(a) for validated ``a`` (int64, shape (batch, N), on the model's device)."""
        raise NotImplementedError

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` >= 1 strings as an integer tensor (n, N) on the model's device."""
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------------
    def _check_outcomes(self, a: torch.Tensor | np.ndarray) -> torch.Tensor:
        if isinstance(a, np.ndarray):
            if not np.issubdtype(a.dtype, np.integer):
                raise InputValueError(f"outcomes must be integers, got dtype {a.dtype}")
            a = torch.from_numpy(np.ascontiguousarray(a))
        if not isinstance(a, torch.Tensor):
            raise InputValueError(f"outcomes must be a tensor or array, got {type(a).__name__}")
        if a.dtype.is_floating_point or a.dtype.is_complex or a.dtype == torch.bool:
            raise InputValueError(f"outcomes must be integers, got dtype {a.dtype}")
        if a.ndim != 2 or a.shape[1] != self.n_qubits:
            raise InputValueError(
                f"outcomes must have shape (batch, {self.n_qubits}), got {tuple(a.shape)}"
            )
        if a.numel():
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi >= self.K:
                bad = lo if lo < 0 else hi
                raise InputValueError(
                    f"outcome {bad} is out of range: this model has K={self.K} outcomes "
                    f"(0..{self.K - 1})"
                )
        return a.to(device=self.device, dtype=torch.long)


__all__ = ["DensityEstimator"]
