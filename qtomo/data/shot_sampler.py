"""Exact sampler of POVM shots drawn per shot (``qtomo simulate`` without ``--design``, and the
evaluation shots of every simulated dataset).

The target is pure (``psi`` or an MPS); noise and readout errors enter through the frame
(``frame.depolarized(p)``, :func:`qtomo.povm.frames.with_readout`), so the log-probabilities
are those of the recorded outcomes.
"""

from __future__ import annotations

import numpy as np

from qtomo.povm.born import born_probabilities, outcome_index, sample_from_table
from qtomo.povm.frames import Frame
from qtomo.states.mps import MPS
from qtomo.states.targets import Target
from qtomo.typing import FloatArray, Outcomes

#: Full Born tables are used for sampling up to this many entries (K^N).
TABLE_MAX_ENTRIES = 1 << 24


class ShotSampler:
    """Exact sampler of a pure target measured with a (possibly noisy) frame.

    Uses the full Born table when ``K^N`` is small, the batched MPS sampler otherwise.
    """

    def __init__(self, target: Target, frame: Frame) -> None:
        # N <= 16: psi (Born table when K^N is small, else its untruncated MPS, as always);
        # N > 16: the target's own MPS
        self.frame = frame
        self.n = int(target.attrs["n_qubits"])
        K = frame.K
        self._table: FloatArray | None = None
        self._log_table: FloatArray | None = None
        self._mps = target.mps
        if target.psi is not None and K**self.n <= TABLE_MAX_ENTRIES:
            p = np.clip(born_probabilities(target.psi, frame), 0.0, None)
            self._table = p / p.sum()
            with np.errstate(divide="ignore"):
                self._log_table = np.log(self._table)
        elif self._mps is None:
            self._mps = MPS.from_statevector(target.psi)

    def sample(self, n_shots: int, rng: np.random.Generator) -> Outcomes:
        if self._table is not None:
            return sample_from_table(self._table, n_shots, rng, self.n, self.frame.K)
        from qtomo.povm.sampling import sample_mps

        return sample_mps(self._mps, self.frame, n_shots, rng)

    def log_prob(self, outcomes: Outcomes) -> FloatArray:
        if self._log_table is not None:
            return self._log_table[outcome_index(outcomes, self.frame.K)]
        from qtomo.povm.sampling import log_prob_mps

        return log_prob_mps(self._mps, self.frame, outcomes)


__all__ = ["TABLE_MAX_ENTRIES", "ShotSampler"]
