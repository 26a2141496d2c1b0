"""Settings and result of a reconstruction (``qtomo reconstruct``), and the pipeline's limits.

What lives here: the block sizes and size limits every stage of the pipeline shares, the tuned
constants of the headline policy (:class:`Tuning`, one frozen record :data:`TUNING`), the
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
#: The estimators ``qtomo reconstruct --estimator`` names (``auto``: the headline policy picks).
ESTIMATORS = ("auto", "model", "blend", "raw-mle", "direct")


@dataclass(frozen=True)
class Tuning:
    """The tuned constants behind the headline: every number the policy was tuned on, with
    where it comes from (design notes in docs/methods.md). The modules that use one keep its
    old name as an alias of the field (``blend_rule.REJECT_STDERRS`` is
    ``TUNING.reject_stderrs``)."""

    #: Blend weights of the training frequencies (0: the model's table alone): quarters, the
    #: grid tuned on the cells of ``scripts/bench_blend.py``.
    blend_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    #: Blend: a weight is ruled out beyond this many standard errors of the paired validation
    #: NLL difference (tuned on ``scripts/bench_blend.py``: 1 rules out needed weights, 2 keeps
    #: bad ones).
    reject_stderrs: float = 1.5
    #: Blend anchor: the model state's infidelity is at least this (the GRU's coherence bias
    #: on the many-shot GHZ Pauli-6 cells of ``scripts/bench_blend.py``).
    model_infidelity_floor: float = 3e-3
    #: Blend: at least this many validation shots to choose the weight on.
    min_validation_shots: int = 200
    #: Consistency: level of the chi-square and of the Bonferroni largest-|z| test (a
    #: family-wise false-alarm rate below 1%, which ``scripts/bench_consistency.py`` checks on
    #: well-trained models).
    alpha: float = 1e-3
    #: Consistency: |z| gate of a scalar (fidelity, energy): 3 standard errors.
    z_scalar: float = 3.0
    #: Physical checks: one-sided z gate of the variational bound and the held-out NLL.
    z_physical: float = 3.0
    #: Physical checks: family-wise level of the range check of the Pauli expectations.
    alpha_physical: float = 1e-3
    #: Likelihood ratio: level of the test (the chi-square's level).
    lr_alpha: float = 1e-3
    #: Likelihood ratio: a rejected model state is replaced only when its fidelity lies this
    #: many raw-MLE standard errors off (docs/design-notes.md, "The likelihood-ratio test's
    #: fidelity gate").
    z_fidelity: float = 3.0
    #: Raw-frequency MLE: multinomial resamples behind its bootstrap error bar.
    raw_mle_bootstrap: int = 10
    #: Warm-started refits (raw-MLE resamples, bootstrap members): L-BFGS iteration cap.
    refit_iterations: int = 150
    #: Bootstrap members: strings sampled from each for observables and entropies.
    member_samples: int = 20_000
    #: Bootstrap members: bias-corrected interval when |mean - point| exceeds this many s.e.
    bias_threshold: float = 0.25
    #: Readout: calibration draws behind the calibration standard error.
    calibration_draws: int = 40
    #: Fidelity range: simultaneous confidence level of the Pauli bands.
    range_level: float = 0.95
    #: Fidelity range: called undetermined when wider than this (a quarter of [0, 1]).
    undetermined_width: float = 0.25
    #: Headline: a direct estimate with a larger standard error is not headlined (its 95%
    #: interval is wider than the whole range [0, 1] of a fidelity).
    direct_max_stderr: float = 0.25


#: The one instance every module reads.
TUNING = Tuning()


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
    estimator : str
        The estimator that heads the report (:data:`ESTIMATORS`): ``auto`` lets the headline
        policy choose (:func:`qtomo.reconstruction.headline.choose_headline`); ``model`` the
        model's own MLE state (no blend), ``blend`` the model's state blended with the shots'
        frequencies, ``raw-mle`` the raw-frequency MLE with its bootstrap error bar,
        ``direct`` the direct estimate from the shots.
    """

    samples: int = 100_000
    observables: tuple[str, ...] = ()
    seed: int = 1234
    max_rho_qubits: int = dm.MAX_RHO_QUBITS
    mle: bool = True
    mle_rank: int | None = None
    subsystems: tuple[tuple[int, ...], ...] | None = None
    precision: float | None = None
    member_samples: int = TUNING.member_samples
    readout_correction: bool = True
    estimator: str = "auto"

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
        if self.estimator not in ESTIMATORS:
            raise InputValueError(f"--estimator must be one of {', '.join(ESTIMATORS)}, got "
                                  f"{self.estimator!r}")
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
    "ESTIMATORS",
    "READ_BLOCK",
    "SAMPLE_BLOCK",
    "SCORE_SHOTS",
    "ReconstructConfig",
    "Reconstruction",
    "TUNING",
    "Stage",
    "Tuning",
]
