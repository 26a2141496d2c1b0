"""Exact sampling of a fixed design: every setting's bits, from every state qtomo builds.

A setting measures qubit q projectively along the unit vector n_q, and its bit then passes the
column-stochastic channel T_q (local depolarizing noise, readout confusion; see
:mod:`qtomo.povm.axes`). :class:`DesignDevice` holds what the device does in every setting
(``true_*``: the drifted axes and readout of :mod:`qtomo.data.drift`) beside what the lab thinks
it did (``nominal_*``: the stored design and readout). :class:`DesignSampler` draws the bits of
each setting exactly from the true measurement:

* a state vector (N <= 16): the table of the 2^N bit strings of the setting
  (:func:`~qtomo.povm.axes.setting_probabilities`, O(N 2^N), no density matrix);
* an MPS (above): the rank-1-piece sampler with the setting's elements on every site
  (:func:`~qtomo.povm.sampling.sample_sites`).

:meth:`DesignSampler.log_prob` is the exact log P(bits | setting) under the *nominal*
measurement (the ideal axes, the nominal readout, the noise of the state): with no drift it is
the log-probability the shot was drawn with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtomo.povm.axes import setting_elements, setting_probabilities
from qtomo.povm.born import outcome_index, sample_from_table
from qtomo.states.targets import Target
from qtomo.typing import FloatArray


@dataclass(frozen=True, eq=False)
class DesignDevice:
    """The measurement of every setting, nominal and as performed.

    Attributes
    ----------
    nominal_vectors, true_vectors : float64 (S, N, 3)
        Unit axis of every qubit in every setting.
    nominal_channels, true_channels : float64 (S, N, 2, 2)
        Column-stochastic T[b, b'] = P(recorded b | measured b') of every qubit's bit.
    """

    nominal_vectors: FloatArray
    true_vectors: FloatArray
    nominal_channels: FloatArray
    true_channels: FloatArray

    @property
    def drifts(self) -> bool:
        """Whether the true measurement differs from the nominal one anywhere."""
        return not (np.array_equal(self.true_vectors, self.nominal_vectors)
                    and np.array_equal(self.true_channels, self.nominal_channels))


class DesignSampler:
    """Exact sampler of the bits of each setting (see the module docstring).

    Parameters
    ----------
    target : Target
        A pure state: its ``psi`` (dense path) or its ``mps``.
    device : DesignDevice
    """

    def __init__(self, target: Target, device: DesignDevice) -> None:
        self.device = device
        self.n = target.n_qubits
        self.psi = target.psi
        self._ts = None
        if self.psi is None:
            from qtomo.povm.sampling import prepare_tensors  # torch: heavy, MPS path only

            self._ts = prepare_tensors(target.mps)

    @property
    def dense(self) -> bool:
        return self.psi is not None

    def probabilities(self, s: int, *, nominal: bool = False) -> FloatArray:
        """The 2^N probabilities of setting ``s`` (big-endian bit strings; dense path only)."""
        d = self.device
        vec, ch = ((d.nominal_vectors, d.nominal_channels) if nominal
                   else (d.true_vectors, d.true_channels))
        return setting_probabilities(self.psi, vec[s], ch[s])

    def sample(self, s: int, shots: int, rng: np.random.Generator) -> np.ndarray:
        """``shots`` bit strings uint8 (shots, N) of setting ``s``, drawn exactly."""
        d = self.device
        if self.dense:
            p = np.clip(self.probabilities(s), 0.0, None)
            return sample_from_table(p / p.sum(), shots, rng, self.n, 2)
        from qtomo.povm.sampling import sample_sites

        return sample_sites(self._ts, setting_elements(d.true_vectors[s], d.true_channels[s]),
                            shots, rng)

    def log_prob(self, s: int, bits: np.ndarray) -> FloatArray:
        """Exact log P(bits | setting ``s``) under the nominal measurement, (rows,)."""
        d = self.device
        if self.dense:
            p = np.clip(self.probabilities(s, nominal=True), 0.0, None)
            with np.errstate(divide="ignore"):
                return np.log(p / p.sum())[outcome_index(bits, 2)]
        from qtomo.povm.sampling import log_prob_sites

        return log_prob_sites(self._ts, setting_elements(d.nominal_vectors[s],
                                                         d.nominal_channels[s]), bits)


__all__ = ["DesignDevice", "DesignSampler"]
