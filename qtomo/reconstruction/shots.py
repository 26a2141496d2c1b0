"""The single pass of ``qtomo reconstruct`` over the measured shots, and the direct estimates
it gives.

The training shots are read once, in blocks of ``READ_BLOCK``; every block feeds at once:

* the Pauli accumulator (one- and two-point functions, user strings, the TFIM energy and,
  with a model, the per-string consistency vector with its covariance);
* the marginal counts of the Renyi-2 subsystems and of the reduced density matrix;
* the relative frequencies of all K^N strings (dense reconstructions, N <= 10);
* the per-shot values of the direct fidelity estimate (:func:`direct_fidelity_plan` says how
  they are computed, or why not);
* the first ``SCORE_SHOTS`` shots, which score the ranks of the model's MLE state.

:func:`read_shots` gives them as :class:`ShotTallies`; :func:`direct_fidelity` turns the
per-shot values into the estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.povm.born import Estimate, estimate, outcome_index
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.config import READ_BLOCK, SCORE_SHOTS, Stage
from qtomo.reconstruction.design_weights import (
    MAX_STRATIFIED_QUBITS,
    DesignCoverage,
    coverage,
    stratified_mean,
)
from qtomo.reconstruction.inputs import DatasetInputs
from qtomo.reconstruction.observables import ObservableSet, PauliAccumulator
from qtomo.states.targets import statevector_to_mps


@dataclass(frozen=True)
class DirectFidelityPlan:
    """How the direct estimate of <psi|rho_lab|psi> is computed from the shots.

    Attributes
    ----------
    values : callable or None
        Outcomes (rows, N) -> per-shot values Q(a); None: not computed.
    contraction : str or None
        How the target enters when it is not a state vector (its MPS).
    note : str or None
        Why it is not computed (None: no target, or it is computed).
    """

    values: Callable[[np.ndarray], np.ndarray] | None = None
    contraction: str | None = None
    note: str | None = None


def direct_fidelity_plan(n: int, frame: Any, psi: Any, mps: Any) -> DirectFidelityPlan:
    """The direct fidelity estimator for this target, or why there is none.

    Parameters
    ----------
    n : int
        Number of qubits.
    frame : Frame
        The dataset's POVM.
    psi, mps : target state vector or MPS (either may be None)

    Returns
    -------
    DirectFidelityPlan
        Without values when there is no target or it is out of reach (N or the MPS bond too
        large; ``note`` says so).
    """
    if psi is not None and n <= mt.MAX_DIRECT_FIDELITY_QUBITS:
        def values(a: np.ndarray) -> np.ndarray:
            return mt.direct_fidelity_values(a, frame, psi)
        return DirectFidelityPlan(values)
    if (psi is not None or mps is not None) and n <= mt.MAX_DIRECT_FIDELITY_MPS_QUBITS:
        m = mps if mps is not None else statevector_to_mps(psi)
        if m.max_bond > mt.MAX_DIRECT_FIDELITY_BOND:
            return DirectFidelityPlan(note=(
                f"not computed: the target's MPS has bond dimension {m.max_bond} > "
                f"{mt.MAX_DIRECT_FIDELITY_BOND}"))

        def values_mps(a: np.ndarray) -> np.ndarray:
            return mt.direct_fidelity_values_mps(a, frame, m)
        return DirectFidelityPlan(values_mps, f"MPS of the target (bond dimension {m.max_bond})")
    if psi is not None or mps is not None:
        return DirectFidelityPlan(note=(
            f"not computed: N = {n} > {mt.MAX_DIRECT_FIDELITY_MPS_QUBITS} (its variance "
            "grows exponentially with N)"))
    return DirectFidelityPlan()


@dataclass(frozen=True)
class ShotTallies:
    """Everything the pipeline keeps of the measured shots.

    Attributes
    ----------
    direct : ObservableSet
        The direct estimates of the observables (and the consistency vector's moments).
    sub_counts : dict sites -> ndarray
        Marginal counts (K^k) of every subsystem and of ``rdm_sites``.
    rdm_sites : tuple of int
        Qubits of the reduced density matrix (the first two).
    freq : ndarray or None
        Relative frequencies of the K^N strings (only for dense reconstructions).
    fidelity_values : ndarray or None
        Per-shot values of the direct fidelity estimate (None: not computed).
    score_shots : ndarray or None
        The first ``SCORE_SHOTS`` shots (only when asked for).
    coverage : DesignCoverage or None
        Each shot's setting, for a fixed design (:mod:`qtomo.reconstruction.design_weights`).
    index : ndarray (shots,) or None
        Flat outcome index of every shot, in file order (only for dense reconstructions):
        what the blended model state (:mod:`qtomo.reconstruction.blend`) splits into the
        run's training and validation shots without reading them again.
    fixed_design : bool
        The shots follow a fixed design of Pauli settings (a plain average of the per-shot
        values is then biased unless the design is stratified).
    """

    direct: ObservableSet
    sub_counts: dict[tuple[int, ...], np.ndarray]
    rdm_sites: tuple[int, ...]
    freq: np.ndarray | None
    fidelity_values: np.ndarray | None
    score_shots: np.ndarray | None
    coverage: DesignCoverage | None = None
    index: np.ndarray | None = None
    fixed_design: bool = False


def read_shots(ds: Any, inp: DatasetInputs, *, vector_terms: list[dict[int, str]] | None,
               dense: bool, fidelity: DirectFidelityPlan, keep_score_shots: bool,
               stage: Stage) -> ShotTallies:
    """Read the training shots once and tally everything the report needs from them.

    Parameters
    ----------
    ds : Dataset
    inp : DatasetInputs
    vector_terms : list of {site: letter} or None
        Pauli strings of the consistency vector (None: no model to check).
    dense : bool
        Tally the frequencies of all K^N strings.
    fidelity : DirectFidelityPlan
        The direct fidelity estimator (its per-shot values are kept).
    keep_score_shots : bool
        Keep the first ``SCORE_SHOTS`` shots.
    stage : Stage

    Returns
    -------
    ShotTallies
    """
    n, K = inp.n, inp.K
    stage("observables from the shots")
    acc = PauliAccumulator(inp.frame, n, strings=inp.strings, tfim=inp.tfim, vector=vector_terms)
    sub_counts = {tuple(s): np.zeros(K ** len(s)) for s in inp.subsystems}
    rdm_sites = tuple(range(min(2, n)))
    sub_counts.setdefault(rdm_sites, np.zeros(K ** len(rdm_sites)))
    index_parts: list[np.ndarray] = []
    fid_parts: list[np.ndarray] = []
    score_parts: list[np.ndarray] = []
    fixed = getattr(inp.design, "kind", "random") == "fixed" and K == 6
    setting_parts: list[DesignCoverage] = []
    for s0 in range(0, ds.shots, READ_BLOCK):
        a = ds.outcomes(s0, s0 + READ_BLOCK)
        acc.update(a)
        for s in sub_counts:
            sub_counts[s] += mt.marginal_counts(a, K, list(s))
        if dense:  # K^N <= MAX_TABLE_ENTRIES: int32 indices
            index_parts.append(outcome_index(a, K).astype(np.int32))
        if fidelity.values is not None:
            fid_parts.append(fidelity.values(a))
        if fixed and (cov := coverage(a)) is not None:
            setting_parts.append(cov)
        if keep_score_shots and s0 < SCORE_SHOTS:
            score_parts.append(a[:SCORE_SHOTS - s0])
    index = freq = None
    if dense:
        index = np.concatenate(index_parts) if index_parts else np.zeros(0, np.int32)
        freq = np.bincount(index, minlength=K**n).astype(np.float64)
        freq /= freq.sum()
    score = None
    if keep_score_shots:
        score = np.concatenate(score_parts) if score_parts else ds.outcomes(0, SCORE_SHOTS)
    return ShotTallies(
        direct=acc.result("direct"), sub_counts=sub_counts, rdm_sites=rdm_sites, freq=freq,
        fidelity_values=np.concatenate(fid_parts) if fidelity.values is not None else None,
        score_shots=score, coverage=_merge(setting_parts), index=index, fixed_design=fixed)


def _merge(parts: list[DesignCoverage]) -> DesignCoverage | None:
    if not parts:
        return None
    return DesignCoverage(np.concatenate([p.setting_index for p in parts]),
                          np.sum([p.counts for p in parts], axis=0))


def direct_fidelity(tallies: ShotTallies, stage: Stage) -> Estimate | None:
    """The direct estimate of <psi|rho_lab|psi> from the per-shot values (None: none).

    Parameters
    ----------
    tallies : ShotTallies
    stage : Stage

    Returns
    -------
    Estimate or None
        Mean of the per-shot values with its standard error.
    """
    if tallies.fidelity_values is None:
        return None
    stage("direct fidelity estimate")
    q = tallies.fidelity_values
    if tallies.coverage is not None:  # a fixed design: the stratified mean, or none at all
        st = stratified_mean(q, tallies.coverage)
        return None if st is None else Estimate(st[0], st[1], int(q.size))
    if tallies.fixed_design:  # too many qubits to stratify: no unbiased average
        return None
    return estimate(q)


def design_note(tallies: ShotTallies) -> str | None:
    """Why a fixed design has no direct fidelity estimate (None: it has one, or no design)."""
    cov = tallies.coverage
    if tallies.fidelity_values is None:
        return None
    if cov is None and tallies.fixed_design:
        return (f"not computed: a fixed design of more than {MAX_STRATIFIED_QUBITS} qubits "
                "cannot be stratified over its 3^N settings, and the plain average of its "
                "shots is biased for a figure that involves unmeasured settings")
    if cov is None or cov.complete:
        return None
    return (f"not computed: the fixed design has {cov.describe()} (at least 2 shots in every "
            "one are needed); an average over the measured settings alone is biased for a "
            "figure that involves the others, so only the model (its likelihood conditions "
            "on the settings) and the maximum-likelihood states estimate the fidelity")


__all__ = ["DirectFidelityPlan", "ShotTallies", "design_note", "direct_fidelity",
           "direct_fidelity_plan", "read_shots"]
