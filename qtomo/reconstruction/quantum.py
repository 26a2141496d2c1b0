"""The quantum-state section of ``qtomo reconstruct`` (``report["quantum"]``): the target,
the dense density matrices of the model's outcome table and of the raw frequencies (linear
inversion, its physical projection, the maximum-likelihood state) and the direct fidelity
estimate.

What lives here: :func:`quantum_states` (the stage, giving
:class:`~qtomo.reconstruction.dense.QuantumStates`; the three states of one outcome table are
made by :func:`~qtomo.reconstruction.dense.dense_states`; the model's MLE state is refined by
the noise check and the blend, whose records it combines) and, for a model the consistency
check rejects or ``--estimator raw-mle``, the raw-frequency MLE fitted where the
reconstruction left it out, with its bootstrap (:func:`raw_mle_stage`, giving
:class:`RawMle`; :func:`with_raw_mle` returns the states with it, leaving the stage's record
as it was). Which estimate heads the report is decided by
:func:`qtomo.reconstruction.headline.choose_headline`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qtomo.reconstruction import density as dm
from qtomo.reconstruction import likelihood_ratio as lrt
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.blend import RESTARTED_FROM, ModelBlend, blend_model_state
from qtomo.reconstruction.config import (
    DATA_MLE_MAX_QUBITS,
    DATA_MLE_WITH_MODEL_MAX_QUBITS,
    SCORE_SHOTS,
    ReconstructConfig,
    Stage,
)
from qtomo.reconstruction.conventions import CONVENTIONS, estimate_entry
from qtomo.reconstruction.dense import QuantumStates, dense_states, fit_mle_state, state_entry
from qtomo.reconstruction.design_weights import balanced, design_table
from qtomo.reconstruction.inputs import DatasetInputs, target_label
from qtomo.reconstruction.run_shots import run_symmetry
from qtomo.reconstruction.shots import DirectFidelityPlan, ShotTallies, design_note, direct_fidelity
from qtomo.reconstruction.shots_noise import NoiseCheck, noise_from_shots


def dense_ok(inp: DatasetInputs, cfg: ReconstructConfig) -> bool:
    """Whether dense density matrices are built (N and K^N small enough)."""
    return inp.n <= cfg.max_rho_qubits and inp.K**inp.n <= dm.MAX_TABLE_ENTRIES


def quantum_states(ds: Any, inp: DatasetInputs, cfg: ReconstructConfig, model: Any,
                   samples: np.ndarray | None, mps: Any, tallies: ShotTallies,
                   plan: DirectFidelityPlan, stage: Stage,
                   run_info: dict[str, Any] | None = None, run_dir: Any = None
                   ) -> QuantumStates:
    """The quantum-state stage: target, dense states, direct estimate and headline.

    Parameters
    ----------
    ds : Dataset
    inp : DatasetInputs
    cfg : ReconstructConfig
    model : DensityEstimator or None
    samples : ndarray or None
        The model's samples (its table for a model without likelihood).
    mps : MPS or None
        The target as an MPS.
    tallies : ShotTallies
        The raw frequencies, score shots and direct fidelity values.
    plan : DirectFidelityPlan
        How the direct estimate was computed (or why not).
    stage : Stage
    run_info : dict, optional
        The run's record (its train/validation split for the blended MLE state).
    run_dir : path, optional
        The run's directory (its bootstrap members size the model's error in the blend).

    Returns
    -------
    QuantumStates
    """
    # every fidelity is taken to the ideal target |psi> (what the lab meant to prepare); with
    # simulated noise the state the shots came from is sigma = E_p(|psi><psi|), whose own
    # fidelity <psi|sigma|psi> is the exact value of the headline, and each reconstructed
    # state's Uhlmann fidelity to sigma is reported beside it
    qs = QuantumStates(section={"target": target_label(inp.target, inp.noise),
                                "noise": inp.noise,
                                "convention": CONVENTIONS["quantum_fidelity"]},
                       dense=dense_ok(inp, cfg))
    _target_states(qs, inp, mps)
    n, K = inp.n, inp.K
    if not qs.dense:
        qs.section["dense"] = "no dense density matrix: " + (
            f"N = {n} > {cfg.max_rho_qubits}" if n > cfg.max_rho_qubits
            else f"K^N = {K}^{n} outcome strings > {dm.MAX_TABLE_ENTRIES}")
    why = dm.model_table_note(model, n, K) if qs.dense and model is not None else None
    if why is not None:
        qs.section["model_dense"] = why
    qs.model_dense = qs.dense and model is not None and why is None
    if qs.model_dense:
        _model_states(qs, ds, inp, cfg, model, samples, tallies.score_shots, stage,
                      tallies.coverage)
        _refine_model_state(qs, ds, inp, cfg, tallies, stage, run_info, run_dir)
    if qs.dense:
        _data_states(qs, ds, inp, cfg, model is not None, tallies.freq, stage)
    qs.direct_fidelity = direct_fidelity(tallies, stage)
    if plan.note is not None:
        qs.section["direct_estimate_note"] = plan.note
    elif (why := design_note(tallies)) is not None:
        qs.section["direct_estimate_note"] = why
    elif qs.direct_fidelity is not None:
        entry = {
            **estimate_entry(qs.direct_fidelity),
            "quantity": "squared fidelity <psi|rho_lab|psi> to the ideal target",
            "convention": CONVENTIONS["direct_fidelity"],
        }
        if plan.contraction:
            entry["contraction"] = plan.contraction
        qs.section["direct_estimate"] = entry
    return qs


#: Why a report on lab data has no exact fidelity.
LAB_TARGET_NOTE = ("none: lab data (qtomo import); the target is the state the lab meant to "
                   "prepare, not the state it measured; the headline and the direct estimate "
                   "are estimates of <psi|rho_lab|psi> for the measured state")


def _target_states(qs: QuantumStates, inp: DatasetInputs, mps: Any) -> None:
    """The target's density matrices and the exact value of the headline fidelity."""
    psi, noise, n = inp.psi, inp.noise, inp.n
    qs.ideal = ideal = mt.target_state(psi) if psi is not None else None
    qs.sigma = sigma = mt.target_state(psi, noise) if psi is not None and noise > 0 else None
    if ideal is not None and n <= dm.MAX_RHO_QUBITS:
        qs.rhos["target"] = np.outer(ideal, ideal.conj())
        if sigma is not None:
            qs.rhos["target_noisy"] = sigma
    if inp.lab:  # shots of the lab's state, not of the target
        if ideal is not None or mps is not None:
            qs.section["exact_fidelity_note"] = LAB_TARGET_NOTE
        return
    if ideal is not None:
        qs.section["exact_fidelity"] = (
            1.0 if sigma is None else mt.physical_fidelity(sigma, ideal) if n <= dm.MAX_RHO_QUBITS
            else None)
        qs.section["exact_fidelity_note"] = (
            "<psi|sigma|psi> of the state the shots were drawn from" if sigma is not None
            else "the shots were drawn from the target itself")
    elif mps is not None:  # N > 16: the target is stored as an MPS
        qs.section["exact_fidelity"] = 1.0 if noise == 0 else None
        qs.section["exact_fidelity_note"] = (
            "the shots were drawn from the target itself" if noise == 0 else
            "<psi|sigma|psi> is not computed for an MPS target with noise")


def _model_states(qs: QuantumStates, ds: Any, inp: DatasetInputs, cfg: ReconstructConfig,
                  model: Any, samples: np.ndarray | None, score_shots: np.ndarray | None,
                  stage: Stage, coverage: Any = None) -> None:
    """The dense states of the model's outcome table (``section["model"]``); a conditional
    model on an unbalanced fixed design is fitted on the design's settings
    (:func:`qtomo.reconstruction.design_weights.design_table`)."""
    stage("model density matrix")
    if getattr(model, "has_likelihood", False):
        qs.model_table, tinfo = dm.probability_table(model)
    else:
        qs.model_table = mt.histogram_table(samples, inp.K)
        tinfo = {"source": f"histogram of {cfg.samples} model samples (no likelihood)"}
    # the rank of the model's MLE state is chosen by AIC on the measured shots (the
    # evaluation shots are too few to tell ranks apart reliably)
    fit_table = qs.model_table
    if coverage is not None and getattr(model, "conditional", False) and not balanced(coverage):
        fit_table = qs.model_fit_table = design_table(qs.model_table, coverage, inp.n)
        qs.design_coverage = coverage
        tinfo = {**tinfo, "design_weighted": (
            f"settings reweighted to the fixed design ({coverage.describe()}): the states are "
            "fitted to the model where the data support it")}
    sec = dense_states("model", fit_table, inp.frame, inp.n, (qs.ideal, qs.sigma),
                       qs.rhos, cfg, ds.shots, stage, tinfo, do_mle=cfg.mle,
                       score_shots=score_shots)
    if "mle_fit" in sec:
        sec["mle_fit"]["rank_selection"] = (
            f"AIC of the fitted states on {min(ds.shots, SCORE_SHOTS)} measured shots")
    qs.section["model"] = sec


def _refine_model_state(qs: QuantumStates, ds: Any, inp: DatasetInputs,
                        cfg: ReconstructConfig, tallies: ShotTallies, stage: Stage,
                        run_info: dict[str, Any] | None, run_dir: Any) -> None:
    """The model's MLE state as the shots refine it: the noise check
    (:func:`~qtomo.reconstruction.shots_noise.noise_from_shots`), then the blend with the
    shots' frequencies (:func:`~qtomo.reconstruction.blend.blend_model_state`; not for
    ``--estimator model``). Each returns its own record; the model's section and state are
    then rebuilt from them here (:func:`_model_section`)."""
    sec = qs.section["model"]
    if "mle" not in sec or qs.model_fit_table is not None:
        return  # no MLE state, or a conditional model fitted on an unbalanced design
    fit, rho = sec["mle_fit"], qs.rhos["model_mle"]
    noise = noise_from_shots(fit, qs.model_table, rho, inp, tallies.freq, ds.shots, stage,
                             run_symmetry(run_info))
    if noise is not None:
        fit, rho = noise.fit, rho if noise.rho is None else noise.rho
    blend = None
    if cfg.estimator != "model":  # the model's own state: no blend with the shots
        blend = blend_model_state(qs.model_table, fit, rho, ds, inp, run_info, stage,
                                  tallies.index, run_dir)
    qs.section["model"] = _model_section(sec, noise, blend, qs.ideal, qs.sigma)
    if blend is not None:
        rho, qs.run_shots, qs.blend_weight = blend.rho, blend.run_shots, blend.weight
    qs.rhos["model_mle"] = rho


def _model_section(sec: dict[str, Any], noise: NoiseCheck | None, blend: ModelBlend | None,
                   ideal: Any, sigma: Any) -> dict[str, Any]:
    """``report["quantum"]["model"]``: the table's states (``sec``) with the noise check's
    fit and state, then the blend's record and state (``mle_table_only`` keeps the table's
    own where the blend moved it); a new dict."""
    out = dict(sec)
    if noise is not None:
        out["mle_fit"] = noise.fit
        if noise.rho is not None:
            out["mle"] = state_entry("mle", noise.rho, ideal, sigma)
    if blend is None:
        return out
    out["blend"] = blend.section
    if blend.table_rho is not None:  # the table's own state, from a better start
        out["mle_fit"] = {**out["mle_fit"], "kl_to_table": blend.table_kl,
                          "restarted_from": RESTARTED_FROM}
        out["mle"] = state_entry("mle", blend.table_rho, ideal, sigma)
    if blend.weight > 0:
        out["mle_table_only"] = out["mle"]
        out["mle"] = state_entry("mle", blend.rho, ideal, sigma)
    return out


def _data_states(qs: QuantumStates, ds: Any, inp: DatasetInputs, cfg: ReconstructConfig,
                 with_model: bool, freq: np.ndarray, stage: Stage) -> None:
    """The dense states of the raw frequencies (``section["data"]``)."""
    stage("density matrix from the raw frequencies")
    qs.freq = freq
    data_mle = cfg.mle and (
        inp.n <= (DATA_MLE_WITH_MODEL_MAX_QUBITS if with_model else DATA_MLE_MAX_QUBITS)
    )
    sec = dense_states(
        "data", freq, inp.frame, inp.n, (qs.ideal, qs.sigma), qs.rhos, cfg, ds.shots, stage,
        {"source": f"relative frequencies of the {ds.shots} measured shots"},
        do_mle=data_mle,
    )
    if "mle_fit" in sec:
        sec["mle_fit"]["rank_selection"] = f"AIC on the {ds.shots} shots"
    qs.section["data"] = sec


@dataclass(frozen=True)
class RawMle:
    """The raw-frequency MLE as a rejected model's fallback (or ``--estimator raw-mle``)
    needs it, beside what the quantum stage built.

    Attributes
    ----------
    bootstrap : dict or None
        Its bootstrap (:func:`raw_mle_bootstrap`; ``report["quantum"]["data"]["mle"]
        ["bootstrap"]``).
    rho : ndarray or None
        The state, where it was fitted here (None: the quantum stage's ``data_mle``).
    section : dict or None
        Its ``mle_fit`` and ``mle`` entries of ``report["quantum"]["data"]``, where fitted
        here.
    """

    bootstrap: dict[str, Any] | None = None
    rho: np.ndarray | None = None
    section: dict[str, Any] | None = None


def raw_mle_bootstrap(qs: QuantumStates, n_shots: int, frame: Any, n: int, seed: int,
                      stage: Stage) -> dict[str, Any]:
    """The bootstrap of the raw-frequency MLE state of ``qs`` (``rhos["data_mle"]``, its fit
    in ``section["data"]["mle_fit"]``) to the target: ``stderr``, ``ci95``, ``b``, ...
    (:func:`qtomo.reconstruction.likelihood_ratio.raw_mle_bootstrap`). ``qs`` is not
    changed: :func:`with_raw_mle` puts the result in the report's section."""
    stage("bootstrap of the raw-frequency MLE")
    return lrt.raw_mle_bootstrap(qs.freq, n_shots, qs.rhos["data_mle"],
                                 qs.section["data"]["mle_fit"], frame, n, qs.ideal, seed=seed)


def raw_mle_stage(qs: QuantumStates, n_shots: int, frame: Any, n: int,
                  cfg: ReconstructConfig, stage: Stage,
                  bootstrap: dict[str, Any] | None = None) -> RawMle | None:
    """The raw-frequency MLE with its bootstrap error bar, fitted here if the quantum stage
    left it out (with a model it runs up to ``DATA_MLE_WITH_MODEL_MAX_QUBITS``; a rejected
    model needs it up to ``DATA_MLE_MAX_QUBITS``); ``bootstrap``: the one the model check
    made, reused. None: no target, or no dense raw-frequency state."""
    if qs.ideal is None:
        return None
    if "data_mle" in qs.rhos:
        got = RawMle()
    else:
        fitted = _fit_raw_mle(qs, n_shots, frame, n, cfg, stage)
        if fitted is None:
            return None
        got = fitted
    if bootstrap is None:
        bootstrap = raw_mle_bootstrap(with_raw_mle(qs, got), n_shots, frame, n, cfg.seed,
                                      stage)
    return replace(got, bootstrap=bootstrap)


def _fit_raw_mle(qs: QuantumStates, n_shots: int, frame: Any, n: int, cfg: ReconstructConfig,
                 stage: Stage) -> RawMle | None:
    """The raw-frequency MLE state and its entries (None where it cannot be fitted)."""
    data = qs.section.get("data")
    if (not cfg.mle or not qs.dense or qs.freq is None or data is None
            or n > DATA_MLE_MAX_QUBITS):
        return None
    rhos = {"data_projected": qs.rhos["data_projected"]}
    section: dict[str, Any] = {}
    fit_mle_state("data", qs.freq, frame, n, (qs.ideal, qs.sigma), rhos, cfg, n_shots,
                   stage, section)
    section["mle_fit"]["rank_selection"] = (
        f"AIC on the {n_shots} shots (fitted because the model was rejected, or asked for with "
        "--estimator raw-mle)")
    return RawMle(rho=rhos["data_mle"], section=section)


def with_raw_mle(qs: QuantumStates, raw: RawMle | None) -> QuantumStates:
    """The quantum stage's record with the raw-frequency MLE fitted after it and its
    bootstrap (a new record with new ``section`` and ``rhos``; ``qs`` stays as it was)."""
    if raw is None:
        return qs
    data = {**qs.section["data"], **(raw.section or {})}
    if raw.bootstrap is not None:
        data["mle"] = {**data["mle"], "bootstrap": raw.bootstrap}
    rhos = qs.rhos if raw.rho is None else {**qs.rhos, "data_mle": raw.rho}
    return replace(qs, section={**qs.section, "data": data}, rhos=rhos)


__all__ = ["LAB_TARGET_NOTE", "RawMle", "dense_ok", "quantum_states", "raw_mle_bootstrap",
           "raw_mle_stage", "with_raw_mle"]
