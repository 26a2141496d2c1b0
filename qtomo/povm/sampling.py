"""Exact POVM sampling and exact log-probabilities of outcome strings for MPS states.

Conventions: outcome strings ``a`` have shape ``(shots, N)``, dtype ``uint8``, qubit 0 in column
0; P(a) = <psi| M(a_0) (x) ... (x) M(a_{N-1}) |psi> with the frame's elements M. Noise enters
only through the frame (``frame.depolarized(p)`` gives the Heisenberg-picture noisy POVM), so
the same functions draw noisy data. The MPS is brought to right-canonical form (legs
``vL p vR``, see :mod:`qtomo.states.mps`), so the right environment of every bond is the
identity and a shot needs only a left object.

What lives where (this module re-exports the public names, which the rest of qtomo imports
from here):

* :mod:`qtomo.povm.mps_sampler`: :func:`sample_mps`, the rank-1-piece sampler (numpy for
  complex MPS, torch for real ones) and the faster float32 basis-choice sampler of Pauli-4
  and Pauli-6; :func:`sample_sites`, the rank-1-piece sampler with its own POVM per site
  (a fixed setting's measurement axes, :mod:`qtomo.povm.axes`);
* :mod:`qtomo.povm.mps_logprob`: :func:`log_prob_mps`, exact log P from a mixed left
  environment per shot, and :func:`log_prob_sites`, which takes the POVM elements of every
  site;
* :mod:`qtomo.povm.decompositions`: :func:`rank1_pieces` and :func:`basis_form` of a frame's
  elements (state-independent);
* :mod:`qtomo.povm.mps_batches`: the right-canonical site tensors, the backend choice and the
  batched run. Torch kernels run whole batches side by side in worker threads (one per
  torch thread, torch single-threaded inside each), which uses the cores better than
  torch's own splitting of these small operations.

Random numbers: one uniform per (shot, site) drawn as ``rng.random((batch, N))`` in shot
order, so a seeded run gives the same shots for any ``batch_size``.
"""

from __future__ import annotations

from qtomo.povm.decompositions import BasisForm, basis_form, rank1_pieces
from qtomo.povm.mps_batches import ProgressFn, prepare_tensors
from qtomo.povm.mps_logprob import DEFAULT_LOGP_BATCH, log_prob_mps, log_prob_sites
from qtomo.povm.mps_sampler import DEFAULT_SAMPLE_BATCH, sample_mps, sample_sites

__all__ = [
    "DEFAULT_LOGP_BATCH",
    "DEFAULT_SAMPLE_BATCH",
    "BasisForm",
    "ProgressFn",
    "basis_form",
    "log_prob_mps",
    "log_prob_sites",
    "prepare_tensors",
    "rank1_pieces",
    "sample_mps",
    "sample_sites",
]
