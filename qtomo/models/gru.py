"""GRU autoregressive model of outcome strings (Carrasquilla et al., Nat. Mach. Intell. 2019).

Q(a) = prod_j Q(a_j | a_<j), each conditional a softmax over the K outcomes of qubit j, read
from the hidden state of a stacked GRU that has seen a_0 .. a_{j-1} (qubit 0 first; a learned
start token stands for "no outcome yet"). Optionally a learned per-site embedding is added to
the input, so the network knows how far it is from the chain's right end.

* ``log_prob`` is exact and runs in one fused pass over the sequence (teacher forcing: the
  whole string is fed to ``torch.nn.GRU`` at once; no per-qubit Python loop).
* ``sample`` is exact ancestral sampling, batched over strings, one GRU step per qubit.
* ``log_prob_table`` gives log Q of all K^N strings by walking the tree of prefixes, one GRU
  step per prefix (what the dense states of ``qtomo reconstruct`` need).
* The network computes in float32. Under ``torch.autocast`` with a bfloat16/float16 dtype
  (the Trainer enables it where the hardware has fast bf16 matrix units) the recurrent
  layers run on low-precision copies of the float32 master weights; the softmax, the
  log-probabilities and the gradients stay float32 and the returned log Q is float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from qtomo.errors import InputValueError
from qtomo.models.base import DensityEstimator, likelihood_hparams
from qtomo.models.registry import register

#: On at most this many shots the GRU trains with the plateau schedule, at any N.
PLATEAU_MAX_SHOTS = 20_000
#: On more shots, up to this N (an epoch is cheap).
PLATEAU_LARGE_DATA_MAX_QUBITS = 6
#: Up to this N (where ``qtomo reconstruct`` builds dense states) the plateau-trained GRU reads
#: its product channels per site (``phase_site``).
PHASE_SITE_MAX_QUBITS = 10
#: In the cosine regime, above this many shots the GRU trains on batches of 512 at the
#: peak rate :data:`LARGE_BATCH_LR` (an epoch still has more than 80 steps).
LARGE_BATCH_MIN_SHOTS = 50_000
LARGE_BATCH_LR = 4.2e-3
#: Complex product channels of the default GRU (see :class:`GRUModel`).
DEFAULT_PHASE_CHANNELS = 16
#: Strings sampled per GRU pass (bounds the memory of very large sample requests).
_SAMPLE_CHUNK = 1 << 18
#: Prefixes held at once by :meth:`GRUModel.log_prob_table` (hidden states of 2 x 100 floats:
#: about 100 MB).
_TABLE_NODES = 1 << 17


def plateau_regime(n_qubits: int, shots: int) -> bool:
    """Whether the GRU's defaults train with the plateau schedule: up to
    :data:`PLATEAU_MAX_SHOTS` shots at any N, or any shots at N <=
    :data:`PLATEAU_LARGE_DATA_MAX_QUBITS`."""
    return shots <= PLATEAU_MAX_SHOTS or n_qubits <= PLATEAU_LARGE_DATA_MAX_QUBITS


def phase_site_default(n_qubits: int, shots: int) -> bool:
    """Whether the default GRU reads its product channels per site: where the plateau schedule
    trains and N <= :data:`PHASE_SITE_MAX_QUBITS` (the GHZ coherence of the dense states
    ``qtomo reconstruct`` fits; above, on the tuning cells of ``scripts/training_cells.py``,
    the per-site readout cost classical fidelity for TFIM and GHZ alike: docs/design-notes.md,
    section "Training defaults")."""
    return plateau_regime(n_qubits, shots) and n_qubits <= PHASE_SITE_MAX_QUBITS


#: Floor of the per-site interference factor (the smallest conditional ratio it can express).
SITE_FACTOR_FLOOR = 1e-3


@register("gru")
class GRUModel(DensityEstimator):
    """Stacked-GRU autoregressive distribution over K-outcome strings of N qubits.

    Parameters
    ----------
    n_qubits : int
        String length N.
    K : int
        Outcomes per qubit.
    hidden : int
        GRU hidden size (also the input embedding size).
    layers : int
        Number of stacked GRU layers.
    dropout : float
        Dropout between GRU layers during training, in [0, 1).
    positional : bool
        Add a learned embedding of the site index j to the input at site j.
    phase : int
        Number of complex product channels (0 disables them; see Notes).

    Notes
    -----
    Product channels. Born probabilities of a product POVM are sums of products of local
    matrix elements, P(a) = sum_{s,s'} rho_{s s'} prod_j <s'_j|M(a_j)|s_j>; a coherence between
    basis strings that differ on many qubits (a GHZ state's |0..0><1..1|) enters through the
    product of complex numbers <0|M(a_j)|1> over all those qubits, a parity-like function of
    the outcomes that a plain recurrent network finds only after a long plateau (the gradient
    towards a many-body product vanishes where the network starts). Each channel c carries the
    running product ``m_c(j) = prod_{i<j} r_c(a_i) exp(i theta_c(a_i))`` of learned complex
    factors with modulus <= 1 (random phases at the start, modulus 1); ``Re m`` and ``Im m``
    enter the GRU input and the output layer at site j. The product is computed in log-polar
    form (cumulative sums), exact and cheap.
    """

    exact_log_prob = True
    has_likelihood = True

    @classmethod
    def training_defaults(cls, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
        """Training settings for the GRU (merged into ``default_config``).

        Up to :data:`PLATEAU_MAX_SHOTS` shots at any N, and on more shots up to
        :data:`PLATEAU_LARGE_DATA_MAX_QUBITS` qubits (an epoch is cheap): the peak learning
        rate is kept while the validation NLL improves and halved after every epoch that
        brings no progress; training stops after ``patience`` such epochs in a row
        (``lr_schedule="plateau"``), so the length of the run follows the held-out data, not
        a fixed epoch count, and the lowest validation NLL is kept. The epoch cap is a safety
        net. On few shots a fixed schedule either stops before it anneals or over-fits: the
        held-out NLL has to decide when the rate drops and when the run ends.

        Otherwise (more shots of more qubits, where an epoch costs shots times qubits): a
        short cosine schedule whose length grows slowly with N, which anneals within a few
        epochs; the lowest validation NLL is kept (at the end of an annealed schedule that is
        usually the last epoch). Above :data:`LARGE_BATCH_MIN_SHOTS` shots the batch doubles
        to 512 and the peak rate grows by sqrt(2): on a small CPU a step is overhead-bound,
        so an epoch runs faster at the same classical fidelity (docs/design-notes.md, section
        "Training defaults"). Every run
        validates, keeps and scores an exponential moving average of the weights.
        """
        del K
        if plateau_regime(n_qubits, shots):
            out: dict[str, Any] = {"lr_schedule": "plateau", "epochs": 100, "patience": 3,
                                   "ema_decay": 0.999 if shots > 20_000 else 0.998}
            if 20_000 < shots <= 400_000:
                out["batch_size"] = 512  # small N: a step costs little more at 512 than at 256
            return out
        epochs = int(round(float(np.clip(5.0 * (n_qubits / 10.0) ** 0.365, 3, 12))))
        out = {"epochs": epochs, "ema_decay": 0.999}
        if LARGE_BATCH_MIN_SHOTS < shots <= 400_000:
            # a step of 512 strings costs much less than two of 256 on a small CPU; the peak
            # rate grows by sqrt(2) with the batch (the tuning cells of scripts/training_cells.py)
            out.update(batch_size=512, lr=LARGE_BATCH_LR)
        return out

    def __init__(
        self,
        n_qubits: int,
        K: int,
        *,
        hidden: int = 100,
        layers: int = 2,
        dropout: float = 0.0,
        positional: bool = True,
        phase: int = 0,
        phase_site: bool = False,
        likelihood: str = "joint",
    ) -> None:
        hidden, layers, dropout = int(hidden), int(layers), float(dropout)
        positional, phase, phase_site = bool(positional), int(phase), bool(phase_site)
        hp: dict[str, Any] = {"hidden": hidden, "layers": layers, "dropout": dropout,
                              "positional": positional, "phase": phase}
        if phase_site:  # recorded only when on: older checkpoints keep their hparams
            hp["phase_site"] = True
        hp.update(likelihood_hparams(likelihood, K))
        super().__init__(n_qubits, K, hp)
        if hidden < 1:
            raise InputValueError(f"hidden size must be >= 1, got {hidden}")
        if layers < 1:
            raise InputValueError(f"number of layers must be >= 1, got {layers}")
        if not 0.0 <= dropout < 1.0:
            raise InputValueError(f"dropout must lie in [0, 1), got {dropout}")
        if phase < 0:
            raise InputValueError(f"number of phase channels must be >= 0, got {phase}")
        self.phase = phase
        self.phase_site = phase_site and phase > 0
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        # token K is the start token fed before qubit 0
        self.embed = nn.Embedding(self.K + 1, hidden)
        self.pos = nn.Parameter(torch.zeros(self.n_qubits, hidden)) if positional else None
        self.gru = nn.GRU(hidden, hidden, layers, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, self.K)
        nn.init.normal_(self.embed.weight, std=0.5)
        if phase:
            g = torch.Generator().manual_seed(torch.initial_seed() % (2**31))
            # per outcome and channel: phase theta and pre-modulus u, |factor| = exp(-softplus(u))
            self.phase_theta = nn.Parameter(
                (torch.rand(self.K, phase, generator=g) * 2 - 1) * math.pi)
            self.phase_u = nn.Parameter(torch.full((self.K, phase), -4.0))
            self.phase_in = nn.Linear(2 * phase, hidden)
            self.phase_out = nn.Linear(2 * phase, self.K)
            nn.init.zeros_(self.phase_out.weight)
            nn.init.zeros_(self.phase_out.bias)
            if self.phase_site:
                # a readout of the channels per site: the GHZ coherence of N qubits shows only
                # in the last site's conditional, which a readout shared by all sites (where
                # the same features carry no signal) cannot pick out
                self.phase_site_out = nn.Parameter(torch.zeros(self.n_qubits, self.K, 2 * phase))

    def init_from_povm(self, elements: np.ndarray) -> None:
        """Start product channel 0 at the POVM's normalised coherence factor.

        ``c(a) = <0|M(a)|1> / sqrt(<0|M(a)|0> <1|M(a)|1>)`` (modulus <= 1 by positivity of
        M(a)): the product of c(a_j) over a prefix is the interference term between the
        branches |0...0> and |1...1> relative to their populations -- the coherence that makes a
        GHZ state, which a randomly started channel does not find beyond a few qubits.
        The other channels keep their random start; training moves all of them.
        """
        if not self.phase:
            return
        m = np.asarray(elements, dtype=np.complex128)
        if m.shape != (self.K, 2, 2):
            raise InputValueError(f"POVM elements of shape {m.shape}, expected ({self.K}, 2, 2)")
        z = m[:, 0, 1]
        pop = np.sqrt(np.maximum(m[:, 0, 0].real * m[:, 1, 1].real, 1e-300))
        r = np.clip(np.abs(z) / pop, 1e-6, 1.0 - 1e-4)
        with torch.no_grad():  # |factor| = exp(-softplus(u))  <=>  u = log(1/r - 1)
            self.phase_theta[:, 0] = torch.as_tensor(np.angle(z), dtype=self.phase_theta.dtype)
            self.phase_u[:, 0] = torch.as_tensor(np.log(1.0 / r - 1.0), dtype=self.phase_u.dtype)

    # -- network -------------------------------------------------------------------------------
    def _inputs(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Input sequence (batch, N, hidden): start token, then a_0 .. a_{N-2}; and the
        product-channel features (batch, N, 2 phase) of the prefixes a_<j (None without)."""
        start = torch.full((a.shape[0], 1), self.K, dtype=torch.long, device=a.device)
        x = self.embed(torch.cat([start, a[:, :-1]], dim=1))
        if self.pos is not None:
            x = x + self.pos
        feat = None
        if self.phase:
            # exclusive cumulative sums: site j sees the factors of sites < j
            # one table lookup for both factors (embedding: a fast gather and backward)
            tu = nn.functional.embedding(a[:, :-1], torch.cat([self.phase_theta, self.phase_u], 1))
            theta = torch.cumsum(tu[..., : self.phase], dim=1)  # batch N-1 P
            logr = torch.cumsum(-nn.functional.softplus(tu[..., self.phase :]), dim=1)
            zero = theta.new_zeros(a.shape[0], 1, self.phase)
            feat = self.phase_features(torch.cat([zero, theta], 1), torch.cat([zero, logr], 1))
            x = x + self.phase_in(feat)
        return x, feat

    @staticmethod
    def site_factor(x: torch.Tensor) -> torch.Tensor:
        """log of the interference factor ``1 + x`` (smoothly kept positive): a coherence
        between two branches multiplies a conditional by ``1 + Re(...)``, which can vanish."""
        return torch.log(SITE_FACTOR_FLOOR + nn.functional.softplus(1.0 + x.float(), beta=10.0))

    @staticmethod
    def phase_features(theta: torch.Tensor, logr: torch.Tensor) -> torch.Tensor:
        """The phase features ``[r cos(theta), r sin(theta)]`` (last axis 2P) of the
        accumulated phases ``theta`` and log-amplitudes ``logr`` (last axis P)."""
        r = torch.exp(logr)
        return torch.cat([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)

    def _run_gru(
        self, x: torch.Tensor, h: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        dev = x.device.type
        if dev in ("cpu", "cuda") and torch.is_autocast_enabled(dev):
            dt = torch.get_autocast_dtype(dev)
            if dt in (torch.bfloat16, torch.float16):
                if h is None:
                    h = x.new_zeros(self.layers, x.shape[0], self.hidden)
                with torch.autocast(dev, enabled=False):
                    w = [p.to(dt) for layer in self.gru.all_weights for p in layer]
                    out, h = torch.gru(  # the kernel nn.GRU calls, on low-precision copies
                        x.to(dt), h.to(dt), w, True, self.layers, self.gru.dropout,
                        self.training, False, True,
                    )
                return out.float(), h.float()
        return self.gru(x, h)

    def _logits(self, a: torch.Tensor) -> torch.Tensor:
        """Unnormalised conditionals (batch, N, K) under teacher forcing, float32."""
        x, feat = self._inputs(a)
        out, _ = self._run_gru(x, None)
        logits = self.head(out).float()
        if feat is not None:
            logits = logits + self.phase_out(feat).float()
            if self.phase_site:
                logits = logits + self.site_factor(
                    torch.einsum("bnf,nkf->bnk", feat, self.phase_site_out))
        return logits

    # -- DensityEstimator ----------------------------------------------------------------------
    def _log_prob_impl(self, a: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self._cond(self._logits(a)), dim=-1)  # batch N K
        return logp.gather(-1, a.unsqueeze(-1)).squeeze(-1).double().sum(-1)

    def _sample_impl(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.cat([self._sample_chunk(min(_SAMPLE_CHUNK, n - s), generator)
                          for s in range(0, n, _SAMPLE_CHUNK)])

    def _sample_chunk(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        dev = self.device
        out = torch.empty((n, self.n_qubits), dtype=torch.long, device=dev)
        state = self._start_state(n)
        for j in range(self.n_qubits):  # ancestral sampling is sequential in j
            logits, state = self._step(j, state)
            probs = torch.softmax(logits, dim=-1)
            tok = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            out[:, j] = tok
            state = (tok, *state[1:])
        return out

    # -- stepping ------------------------------------------------------------------------------
    def _start_state(self, batch: int) -> tuple[Any, ...]:
        """The state before qubit 0: (last token = start token, hidden, theta, log r)."""
        dev = self.device
        tok = torch.full((batch,), self.K, dtype=torch.long, device=dev)
        if not self.phase:
            return tok, None, None, None
        zero = torch.zeros(batch, self.phase, device=dev)
        return tok, None, zero, zero.clone()

    def _step(self, j: int, state: tuple[Any, ...]) -> tuple[torch.Tensor, tuple[Any, ...]]:
        """One step of the chain: the (conditioned) logits (batch, K) of qubit j and the state
        after it, given the state after qubits < j. ``state = (tok, h, theta, logr)``: the
        last token fed (a_{j-1}, or the start token), the GRU's hidden state, and the product
        channels' phase and log modulus summed over a_<{j-1} (None without channels). The
        returned state still holds ``tok``; the caller puts the next token in."""
        tok, h, theta, logr = state
        x = self.embed(tok)
        if self.pos is not None:
            x = x + self.pos[j]
        feat = None
        if self.phase:
            if j > 0:
                theta = theta + self.phase_theta[tok]
                logr = logr - nn.functional.softplus(self.phase_u[tok])
            feat = self.phase_features(theta, logr)
            x = x + self.phase_in(feat)
        y, h = self._run_gru(x.unsqueeze(1), h)
        logits = self.head(y[:, 0]).float()
        if feat is not None:
            logits = logits + self.phase_out(feat).float()
            if self.phase_site:
                logits = logits + self.site_factor(feat @ self.phase_site_out[j].T)
        return self._cond(logits), (tok, h, theta, logr)

    def log_prob_table(self, *, max_nodes: int = _TABLE_NODES) -> torch.Tensor:
        """log Q(a) of all K^N strings (float64), in the order of
        :func:`qtomo.povm.born.all_outcomes` (qubit 0 slowest).

        The tree of prefixes is walked depth first: each prefix's conditional is computed once,
        ``sum_j K^j`` GRU steps in all instead of ``N K^N`` for ``log_prob`` of every string
        (about ``N (K - 1) / K`` times fewer). At most ``max_nodes``
        prefixes are held at once.
        """
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                parts: list[torch.Tensor] = []
                logp = torch.zeros(1, dtype=torch.float64, device=self.device)
                self._expand(0, self._start_state(1), logp, parts, max(int(max_nodes), self.K))
                return torch.cat(parts)
        finally:
            self.train(was_training)

    def _expand(self, j: int, state: tuple[Any, ...], logp: torch.Tensor,
                parts: list[torch.Tensor], max_nodes: int) -> None:
        """Append log Q of every completion of the prefixes (batch, lexicographic order)
        of length j to ``parts``, in order."""
        logits, (_, h, theta, logr) = self._step(j, state)
        child = (logp[:, None] + torch.log_softmax(logits, dim=-1).double()).reshape(-1)
        if j == self.n_qubits - 1:
            parts.append(child)
            return
        K = self.K
        batch = logp.shape[0]
        step = max(1, max_nodes // K)  # parents per chunk
        for s in range(0, batch, step):
            e = min(batch, s + step)
            rep = (e - s) * K
            tok = torch.arange(K, device=logp.device).repeat(e - s)
            sub = (tok, h[:, s:e].repeat_interleave(K, dim=1),
                   None if theta is None else theta[s:e].repeat_interleave(K, dim=0),
                   None if logr is None else logr[s:e].repeat_interleave(K, dim=0))
            self._expand(j + 1, sub, child[s * K : s * K + rep], parts, max_nodes)


__all__ = ["GRUModel", "phase_site_default", "plateau_regime"]
