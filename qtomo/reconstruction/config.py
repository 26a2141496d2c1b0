"""Settings and result of a reconstruction (``qtomo reconstruct``), and the pipeline's limits.

What lives here: the block sizes and size limits every stage of the pipeline shares, the
settings :class:`ReconstructConfig` (recorded in the report), the result
:class:`Reconstruction`, and :class:`Stage`, the progress callback the stages report to.
The pipeline itself is in :mod:`qtomo.reconstruction.run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.reconstruction import density as dm

#: Shots read from the dataset per block.
READ_BLOCK = 1 << 18
#: Strings sampled from the model per call.
SAMPLE_BLOCK = 1 << 17
#: Without a model, maximum-likelihood tomography of the raw frequencies runs up to this N.
DATA_MLE_MAX_QUBITS = 10
#: With a model, the raw-frequency MLE (a second baseline) also runs up to this N.
DATA_MLE_WITH_MODEL_MAX_QUBITS = 6
#: At most this many training shots score the ranks of the model's MLE state.
SCORE_SHOTS = 200_000
#: The density-matrix cityscape is drawn up to this N.
CITYSCAPE_MAX_QUBITS = 5


@dataclass(frozen=True)
class ReconstructConfig:
    """Settings of a reconstruction (recorded in the report).

    Attributes
    ----------
    samples : int
        Strings drawn from the model for observables and subsystem entropies.
    observables : tuple of str
        User Pauli strings such as ``"Z0 Z5"``.
    seed : int
        Seed of the model's sampler.
    max_rho_qubits : int
        Dense density matrices (inversion, projection, MLE) up to this N (at most 10).
    mle : bool
        Fit maximum-likelihood physical states (to the model's table and, for small N or
        without a model, to the raw frequencies).
    mle_rank : int or None
        Fixed rank of the MLE fit; None chooses it on measured shots (see fit_mle_auto).
    subsystems : tuple of tuples or None
        Subsystems (<= 4 qubits each) for Renyi-2 entropies; None: leading blocks 0..k-1.
    precision : float or None
        Target error bar of the headline fidelity for shots planning (runs trained with
        ``--learning-curve``; see :mod:`qtomo.reconstruction.bootstrap`).
    member_samples : int
        Strings sampled from each bootstrap member (observables, entropies).
    readout_correction : bool
        Invert the Born rule with the dataset's effective per-qubit POVM, which removes the
        readout errors of its stored calibration (no effect without one); False uses the ideal
        POVM. The report gives the headline figures on the other side too.
    """

    samples: int = 100_000
    observables: tuple[str, ...] = ()
    seed: int = 1234
    max_rho_qubits: int = dm.MAX_RHO_QUBITS
    mle: bool = True
    mle_rank: int | None = None
    subsystems: tuple[tuple[int, ...], ...] | None = None
    precision: float | None = None
    member_samples: int = 20_000
    readout_correction: bool = True

    def validate(self) -> ReconstructConfig:
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 2:
            raise InputValueError(f"--samples must be an integer >= 2, got {self.samples!r}")
        if not 0 <= self.max_rho_qubits <= dm.MAX_RHO_QUBITS:
            raise InputValueError(
                f"--max-rho-qubits must lie in 0..{dm.MAX_RHO_QUBITS}, got {self.max_rho_qubits}"
            )
        if self.mle_rank is not None and self.mle_rank < 1:
            raise InputValueError(f"--mle-rank must be >= 1, got {self.mle_rank}")
        if self.precision is not None and not (
                isinstance(self.precision, (int, float)) and 0 < self.precision < 1):
            raise InputValueError(
                f"--precision must be a number in (0, 1), e.g. 0.005, got {self.precision!r}")
        if isinstance(self.member_samples, bool) or not isinstance(self.member_samples, int) \
                or self.member_samples < 2:
            raise InputValueError(
                f"member_samples must be an integer >= 2, got {self.member_samples!r}")
        return self


@dataclass
class Reconstruction:
    """Everything :func:`qtomo.reconstruction.run.reconstruct` found.

    Attributes
    ----------
    report : dict
        JSON-able report (numbers, conventions, provenance).
    rhos : dict name -> complex128 ndarray
        Density matrices (``model_inversion``, ``model_projected``, ``model_mle``,
        ``data_inversion``, ``data_projected``, ``data_mle``, ``target``, reduced ones
        ``rdm_model_q0-1``, ...); qubit 0 is the leftmost factor.
    figures : dict
        Data for the report's figures.
    """

    report: dict[str, Any]
    rhos: dict[str, np.ndarray] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def qobjs(self) -> dict[str, Any]:
        """Every density matrix as a ``qutip.Qobj`` with qubit dims."""
        return {k: dm.to_qobj(v) for k, v in self.rhos.items()}


class Stage:
    """The progress callback of the pipeline: called with a short text as each stage starts
    (a no-op without one)."""

    def __init__(self, fn: Callable[[str], None] | None) -> None:
        self.fn = fn or (lambda s: None)

    def __call__(self, text: str) -> None:
        self.fn(text)


__all__ = [
    "CITYSCAPE_MAX_QUBITS",
    "DATA_MLE_MAX_QUBITS",
    "DATA_MLE_WITH_MODEL_MAX_QUBITS",
    "READ_BLOCK",
    "SAMPLE_BLOCK",
    "SCORE_SHOTS",
    "ReconstructConfig",
    "Reconstruction",
    "Stage",
]
