"""The reconstruction of one dataset, with or without a trained model (library side of
``qtomo reconstruct``).

:func:`reconstruct` gathers everything a lab report shows, as plain numbers with their
conventions and provenance (:attr:`Reconstruction.report`, written as ``report.json``), plus the
density matrices (:attr:`Reconstruction.rhos`, complex128; :meth:`Reconstruction.qobjs` gives
them as ``qutip.Qobj``) and the data behind the figures.

Sources of every number:

* ``model``  -- strings sampled from the trained model (``--samples``), or for N <= 10 the
  model's full outcome table (density matrices, exact classical metrics);
* ``direct`` -- the dataset's shots themselves (the direct, classical-shadow estimator);
* ``exact``  -- the dataset's stored target (state vector, MPS, free-fermion references).

The headline quantum fidelity is chosen by one policy,
:func:`qtomo.reconstruction.headline.choose_headline`, from every estimate the stages made
(the model's state, the raw frequencies' states, the direct estimate, a planned design's
protocol; typed records of :mod:`qtomo.reconstruction.estimates`) and what the checks
found; ``--estimator`` overrides its choice. With a model, every model figure that has a
direct estimate (fidelity, energy, the one- and two-point observables) is compared with it
(:mod:`qtomo.reconstruction.consistency`; ``report["consistency"]``,
``report["consistent"]``); when they disagree the headline falls back to the best-supported
estimate from the shots, keeping the model's value as ``model_value`` with a
``fallback_reason``. ``headline.quantum_fidelity.estimator`` names the
estimator and ``why`` says why in one sentence.

Where it lives: this module runs the stages in order (:func:`reconstruct`); each stage is a
function of its own module returning a small dataclass:

* :mod:`~qtomo.reconstruction.inputs` -- the dataset, the run (model) and exact references;
* :mod:`~qtomo.reconstruction.shots` -- the one pass over the measured shots (direct
  observables, marginal counts, raw frequencies, direct fidelity values);
* :mod:`~qtomo.reconstruction.model_estimates` -- the model's samples, observables and
  classical metrics;
* :mod:`~qtomo.reconstruction.quantum` -- dense and maximum-likelihood states, direct fidelity;
* :mod:`~qtomo.reconstruction.model_vs_data` -- the consistency check;
* :mod:`~qtomo.reconstruction.subsystems` -- Renyi-2 entropies and the reduced density matrix;
* :mod:`~qtomo.reconstruction.bootstrap` -- error bars from bootstrap members;
* :mod:`~qtomo.reconstruction.readout` and :mod:`~qtomo.reconstruction.fidelity_range` --
  the readout calibration's error, the fidelities an open design allows;
* :mod:`~qtomo.reconstruction.device_checks` -- goodness of fit, no signalling, and the
  systematic part of the headline's error bar;
* :mod:`~qtomo.reconstruction.lab_scale.report` -- the protocol of a planned design
  (``report["lab_scale"]``) and the candidate it offers the headline policy, which heads the
  report where no dense state is built;
* :mod:`~qtomo.reconstruction.headline` -- the headline policy;
* :mod:`~qtomo.reconstruction.assemble` and :mod:`~qtomo.reconstruction.schema` -- the report,
  built once at the end from the stages' records;
* :mod:`~qtomo.reconstruction.config` -- settings, result and limits (re-exported here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtomo.data.design import pauli_part_note
from qtomo.data.hdf5 import open_dataset
from qtomo.errors import InputValueError
from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction.assemble import StageRecords, report_sections
from qtomo.reconstruction.bootstrap import MemberErrors, member_errors
from qtomo.reconstruction.config import (
    CITYSCAPE_MAX_QUBITS,
    DATA_MLE_MAX_QUBITS,
    DATA_MLE_WITH_MODEL_MAX_QUBITS,
    READ_BLOCK,
    SAMPLE_BLOCK,
    SCORE_SHOTS,
    ReconstructConfig,
    Reconstruction,
    Stage,
)
from qtomo.reconstruction.dense import QuantumStates
from qtomo.reconstruction.design_weights import (
    UNMEASURED_NOTE,
    balanced,
    design_table,
    unmeasured_fidelity_weight,
)
from qtomo.reconstruction.device_checks import DeviceChecks, device_checks_stage
from qtomo.reconstruction.estimates import FigureEstimate, fidelity_candidates, raw_mle_estimate
from qtomo.reconstruction.fidelity_range import range_notes, range_stage
from qtomo.reconstruction.headline import HeadlineChecks, choose_headline, pick_headline
from qtomo.reconstruction.inputs import (
    DatasetInputs,
    ModelRun,
    exact_references,
    read_dataset,
    read_model,
)
from qtomo.reconstruction.lab_scale.report import lab_scale_estimate, lab_scale_stage
from qtomo.reconstruction.model_estimates import classical_metrics, model_estimates
from qtomo.reconstruction.model_vs_data import ModelCheck, check_model
from qtomo.reconstruction.quantum import (
    RawMle,
    dense_ok,
    quantum_states,
    raw_mle_stage,
    with_raw_mle,
)
from qtomo.reconstruction.readout import readout_stage
from qtomo.reconstruction.schema import observables_section, report_dict
from qtomo.reconstruction.shots import direct_fidelity_plan, read_shots
from qtomo.reconstruction.subsystems import subsystem_sections


def reconstruct(
    data: str | Path,
    run_dir: str | Path | None,
    cfg: ReconstructConfig,
    *,
    model: Any = None,
    on_stage: Callable[[str], None] | None = None,
) -> Reconstruction:
    """Reconstruct the state behind ``data`` from the model in ``run_dir`` (or from the shots).

    Parameters
    ----------
    data : path
        Dataset file (``qtomo simulate`` or ``qtomo import``).
    run_dir : path or None
        Run directory of ``qtomo train``; None reconstructs from the shots alone (direct
        estimator, linear inversion and maximum likelihood of the raw frequencies).
    cfg : ReconstructConfig
    model : DensityEstimator, optional
        A model object to use instead of loading ``run_dir`` (``run_dir`` then only names
        where its metrics.csv is, and may be None).
    on_stage : callable, optional
        Called with a short text at the start of each stage.
    """
    cfg = cfg.validate()
    stage = Stage(on_stage)
    ds = open_dataset(data)
    try:
        pauli_part_note(ds.design, "qtomo reconstruct", "reads")  # nothing to read: refused
        return _reconstruct(ds, run_dir, cfg, stage, model)
    finally:
        ds.close()


def _reconstruct(ds: Any, run_dir: str | Path | None, cfg: ReconstructConfig,
                 stage: Stage, model: Any = None) -> Reconstruction:
    inp = read_dataset(ds, cfg)
    run = read_model(ds, run_dir, model, stage)
    model = run.model
    check_estimator(cfg, inp, model)
    refs = exact_references(ds, inp, stage)
    # with a model: the per-shot vector of one- and two-point Q values with its covariance,
    # for the model-vs-data consistency check
    terms, selection = (cs.consistency_terms(inp.n, inp.strings) if model is not None
                        else (None, ""))
    plan = direct_fidelity_plan(inp.n, inp.frame, inp.psi, refs.mps)
    dense = dense_ok(inp, cfg)
    tallies = read_shots(ds, inp, vector_terms=terms, dense=dense, fidelity=plan,
                         keep_score_shots=dense and model is not None, stage=stage)
    est = model_estimates(model, inp, cfg, terms, stage)
    observables = observables_section(inp.n, refs.observables, tallies.direct, est.observables,
                                      inp.strings, exact_note=LAB_EXACT_NOTE if inp.lab else None)
    qs = quantum_states(ds, inp, cfg, model, est.samples, refs.mps, tallies, plan, stage,
                        run_info=run.info, run_dir=run_dir)
    check = check_model(ds, inp, cfg, model, est, tallies, qs, observables, selection, stage,
                        run_info=run.info)
    # the raw-frequency MLE with its error bar: the fallback of a rejected model
    qs, raw = raw_fallback(qs, check, ds.shots, inp, cfg, stage)
    classical = None
    if model is not None:
        stage("classical fidelity and KL")
        classical = classical_metrics(model, ds, inp.psi, inp.noise, inp.frame, qs.model_table,
                                      est.samples)
    subs = subsystem_sections(inp, refs.mps, tallies, est.samples, qs.rhos.get("model_mle"),
                              stage)
    members = None
    if model is not None and run_dir is not None:  # error bars from bootstrap members
        members = _bootstrap_members(
            {"quantum": qs.section, "classical": classical, "observables": observables,
             "subsystems": subs.entropies}, ds, run_dir, inp, run, qs, cfg, stage)
    lab = lab_scale_stage(ds, readout_correction=cfg.readout_correction, seed=cfg.seed,
                          samples=est.samples, frame=inp.frame, stage=stage)
    candidates = fidelity_candidates(
        qs.section, qs.direct_fidelity, raw_with_error=raw,
        symmetry=qs.run_shots.symmetry if qs.run_shots is not None else "none",
        members=members.headline.get("quantum_fidelity") if members is not None else None)
    if lab is not None:
        candidates.append(lab_scale_estimate(lab))
    checks = HeadlineChecks(
        consistent=check.consistent, reason=check.reason, requested=cfg.estimator,
        exact=(qs.section["exact_fidelity"],) if "exact_fidelity" in qs.section else ())
    checks, readout, rng, device = _headline_checks(ds, inp, cfg, qs, tallies, candidates,
                                                    checks, stage)
    headline = choose_headline(candidates, checks)
    warn = range_notes(rng, headline.entry.get("value")) if rng is not None else []
    design_notes, design_warn = _design_notes(tallies, inp)
    report = report_dict(
        ds, inp.target, cfg, with_model=model is not None, model_info=run.info,
        notes=warn + run.notes + design_notes, warnings=warn + design_warn,
        **report_sections(StageRecords(
            quantum=qs.section, classical=classical, observables=observables,
            subsystems=subs.entropies, rdm=subs.rdm, consistency=check.result,
            headline=headline, checks=checks, members=members, fidelity_range=rng,
            readout=readout.to_json() if readout is not None else None,
            device_checks=device.sections, lab_scale=lab)))
    figures: dict[str, Any] = {
        "n_qubits": inp.n, **run.figures,
        "observables": {"exact": refs.observables, "direct": tallies.direct,
                        "model": est.observables},
        "headline_rho": headline.state,
    }
    if members is not None and members.learning_curve is not None:
        figures["learning_curve"] = members.learning_curve
    if device.heatmap is not None:
        figures["no_signalling"] = device.heatmap
    return Reconstruction(report=report, rhos={**qs.rhos, **subs.rhos}, figures=figures)


#: What the exact values of the observables are on lab data.
LAB_EXACT_NOTE = ("lab data: the 'exact' values are the stored target's, the state the lab "
                  "meant to prepare, not the measured one")


def _headline_checks(ds: Any, inp: DatasetInputs, cfg: ReconstructConfig, qs: QuantumStates,
                     tallies: Any, candidates: list[FigureEstimate], checks: HeadlineChecks,
                     stage: Stage) -> tuple[HeadlineChecks, Any, Any, DeviceChecks]:
    """The stages whose findings widen the headline's interval: the readout calibration's
    error, the fidelities an open design allows and the device checks' systematic error;
    returns the checks with them, and the three stages' records."""
    readout = None
    if ds.readout is not None:  # with and without the correction; the calibration's error
        readout = readout_stage(ds, inp, cfg, qs, pick_headline(candidates, checks).source,
                                stage)
    rng = None
    if _unmeasured_weight(tallies, inp):  # the fidelities the shots allow (open designs)
        rng = range_stage(qs, inp, ds.shots, qs.rhos.get("data_mle"), stage)
    checks = dataclasses.replace(
        checks, calibration_stderr=readout.headline_stderr if readout is not None else 0.0,
        fidelity_range=rng)
    device = device_checks_stage(ds, inp, qs, pick_headline(candidates, checks).state, stage,
                                 tallies.freq)
    return dataclasses.replace(checks, systematic=device.systematic), readout, rng, device


def check_estimator(cfg: ReconstructConfig, inp: DatasetInputs, model: Any) -> None:
    """Refuse an ``--estimator`` this reconstruction cannot have, before anything is computed
    (one line: what was asked, what is missing)."""
    need = {"model": model is not None, "blend": model is not None,
            "raw-mle": cfg.mle and inp.n <= min(DATA_MLE_MAX_QUBITS, cfg.max_rho_qubits),
            "direct": inp.psi is not None}
    why = {"model": "needs a trained model (a run directory)",
           "blend": "needs a trained model (a run directory)",
           "raw-mle": f"needs --mle and N <= {min(DATA_MLE_MAX_QUBITS, cfg.max_rho_qubits)} "
                      f"(dense states; N = {inp.n})",
           "direct": "needs a target state stored in the dataset"}
    if cfg.estimator != "auto" and not need[cfg.estimator]:
        raise InputValueError(f"--estimator {cfg.estimator} {why[cfg.estimator]}")


def _design_fit(qs: QuantumStates, inp: DatasetInputs) -> Callable[[Any], Any] | None:
    """The main model's design reweighting, for its members (None: not reweighted)."""
    if qs.model_fit_table is None:
        return None
    cov = qs.design_coverage
    return None if cov is None else (lambda t: design_table(t, cov, inp.n))


def _unmeasured_weight(tallies: Any, inp: DatasetInputs) -> float | None:
    """The part of the target's fidelity a fixed design leaves unmeasured (None: not a fixed
    design with unmeasured settings, or not computable)."""
    cov = tallies.coverage
    if cov is None or balanced(cov) or inp.psi is None:
        return None
    return unmeasured_fidelity_weight(inp.psi, cov, inp.n) or None


def _design_notes(tallies: Any, inp: DatasetInputs) -> tuple[list[str], list[str]]:
    """What an unbalanced fixed design means for the direct figures and the fidelity: the
    notes, and those of them that ``qtomo reconstruct`` repeats as warnings."""
    axis = pauli_part_note(inp.design, "qtomo reconstruct", "reads")
    cov = tallies.coverage
    if cov is None or balanced(cov):
        return ([axis] if axis else []), []
    notes = [axis] if axis else []
    notes += [f"fixed design with {cov.describe()}, unevenly: the direct observables and "
              "Renyi-2 entropies are plain shot averages and biased by the design (the direct "
              "fidelity is stratified by setting where every setting was measured); the "
              "model's figures are not, its likelihood conditions on the settings"]
    w = _unmeasured_weight(tallies, inp)
    if w is None:
        return notes, []
    warn = (f"{UNMEASURED_NOTE}: for states "
            f"that agree on every measured string they could move the fidelity by up to "
            f"{w:.3f} (before positivity); there every fidelity figure, the error bars "
            "included, rests on positivity and the model's extrapolation, not on the shots")
    return [*notes, warn], [warn]


def _bootstrap_members(sections: dict[str, Any], ds: Any, run_dir: str | Path,
                       inp: DatasetInputs, run: ModelRun, qs: QuantumStates,
                       cfg: ReconstructConfig, stage: Stage) -> MemberErrors | None:
    """Error bars of the model's figures from the run's bootstrap members, and the learning
    curve (:mod:`qtomo.reconstruction.bootstrap`; None for a run without members)."""
    return member_errors(sections, ds, run_dir, {
        "psi": inp.psi, "noise": inp.noise, "ideal": qs.ideal, "frame": inp.frame,
        "strings": inp.strings, "tfim": inp.tfim, "subsystems": inp.subsystems,
        "dense": qs.model_dense,
        "mle_fit": (qs.section.get("model") or {}).get("mle_fit"),
        "mle_init": qs.rhos.get("model_mle"),
        "design_fit": _design_fit(qs, inp),
        "blend": (qs.blend_weight, qs.run_shots) if qs.blend_weight > 0 else None,
        "run_shots": qs.run_shots,
        "val_fraction": (run.info or {}).get("train_config", {}).get("val_fraction"),
    }, samples=cfg.member_samples, seed=cfg.seed, precision=cfg.precision, stage=stage)


def raw_fallback(qs: QuantumStates, check: ModelCheck, n_shots: int, inp: DatasetInputs,
                 cfg: ReconstructConfig, stage: Stage
                 ) -> tuple[QuantumStates, FigureEstimate | None]:
    """The states with the raw-frequency MLE and its bootstrap (the model check's, or fitted
    here for a rejected model or ``--estimator raw-mle``), as a new record
    (:func:`~qtomo.reconstruction.quantum.with_raw_mle`), and that MLE as the fallback's
    estimate with its error bar (None: not wanted, no target, or no dense raw-frequency
    state)."""
    if check.consistent is not False and cfg.estimator != "raw-mle":
        made = RawMle(check.raw_bootstrap) if check.raw_bootstrap is not None else None
        return with_raw_mle(qs, made), None
    raw = raw_mle_stage(qs, n_shots, inp.frame, inp.n, cfg, stage, check.raw_bootstrap)
    if raw is None:
        return qs, None
    qs = with_raw_mle(qs, raw)
    return qs, raw_mle_estimate(qs.section, raw.bootstrap or {})


# the limits are re-exported from config (their former home)
__all__ = [
    "CITYSCAPE_MAX_QUBITS",
    "DATA_MLE_MAX_QUBITS",
    "DATA_MLE_WITH_MODEL_MAX_QUBITS",
    "READ_BLOCK",
    "SAMPLE_BLOCK",
    "SCORE_SHOTS",
    "ReconstructConfig",
    "Reconstruction",
    "check_estimator",
    "raw_fallback",
    "reconstruct",
]
