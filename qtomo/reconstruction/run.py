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

The headline quantum fidelity is the model's maximum-likelihood state when there is a model
and N <= 10 (no error bar: it is a point estimate), otherwise the direct estimate from the shots
with its standard error; ``headline.quantum_fidelity.source`` says which.

With a model, every model figure that has a direct estimate (fidelity, energy, the one- and
two-point observables) is compared with it (:mod:`qtomo.reconstruction.consistency`;
``report["consistency"]``, ``report["consistent"]``). When they disagree beyond their joint
error the headline falls back to the best-supported estimate from the shots (the direct
estimate of the same quantity with its standard error; without one, the raw-frequency states),
keeping the model's value as ``model_value`` with a ``fallback_reason``.

Where it lives: this module runs the stages in order (:func:`reconstruct`); each stage is a
function of its own module returning a small dataclass:

* :mod:`~qtomo.reconstruction.inputs` -- the dataset, the run (model) and exact references;
* :mod:`~qtomo.reconstruction.shots` -- the one pass over the measured shots (direct
  observables, marginal counts, raw frequencies, direct fidelity values);
* :mod:`~qtomo.reconstruction.model_estimates` -- the model's samples, observables and
  classical metrics;
* :mod:`~qtomo.reconstruction.quantum` -- dense and maximum-likelihood states, direct fidelity
  and the headline fidelity (chosen by :mod:`~qtomo.reconstruction.headline`);
* :mod:`~qtomo.reconstruction.model_vs_data` -- the consistency check and its fallback;
* :mod:`~qtomo.reconstruction.subsystems` -- Renyi-2 entropies and the reduced density matrix;
* :mod:`~qtomo.reconstruction.bootstrap` -- error bars from bootstrap members;
* :mod:`~qtomo.reconstruction.device_checks` -- goodness of fit, no signalling, and the
  systematic part of the headline's error bar;
* :mod:`~qtomo.reconstruction.schema` -- the report's conventions and JSON structure;
* :mod:`~qtomo.reconstruction.config` -- settings, result and limits (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtomo.data.design import pauli_part_note
from qtomo.reconstruction import consistency as cs
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
from qtomo.reconstruction.device_checks import attach_device_checks
from qtomo.reconstruction.headline import headline_rho_name
from qtomo.reconstruction.inputs import (
    DatasetInputs,
    ModelRun,
    exact_references,
    read_dataset,
    read_model,
)
from qtomo.reconstruction.model_estimates import classical_metrics, model_estimates
from qtomo.reconstruction.model_vs_data import check_model
from qtomo.reconstruction.quantum import QuantumStates, dense_ok, quantum_states
from qtomo.reconstruction.readout import attach_readout
from qtomo.reconstruction.schema import (
    CONVENTIONS,
    headline_section,
    observables_section,
    report_dict,
)
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
    from qtomo.data.hdf5 import open_dataset

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
                                      inp.strings)
    if inp.lab:
        observables["exact_note"] = ("lab data: the 'exact' values are the stored target's, "
                                     "the state the lab meant to prepare, not the measured one")
    qs = quantum_states(ds, inp, cfg, model, est.samples, refs.mps, tallies, plan, stage,
                        run_info=run.info, run_dir=run_dir)
    check = check_model(ds, inp, cfg, model, est, tallies, qs, observables, selection, stage,
                        run_info=run.info)
    classical = None
    if model is not None:
        stage("classical fidelity and KL")
        classical = classical_metrics(model, ds, inp.psi, inp.noise, inp.frame, qs.model_table,
                                      est.samples)
    subs = subsystem_sections(inp, refs.mps, tallies, est.samples, qs.rhos.get("model_mle"),
                              stage)
    consistency = check.result
    report = report_dict(
        ds, inp.target, cfg, with_model=model is not None, model_info=run.info,
        consistency=consistency,
        headline=headline_section(check.headline_fidelity, observables["scalars"].get("energy"),
                                  consistency, classical),
        quantum=qs.section, classical=classical, observables=observables,
        subsystems=subs.entropies, rdm=subs.rdm, notes=run.notes + _design_notes(tallies, inp))
    rhos = {**qs.rhos, **subs.rhos}
    figures: dict[str, Any] = {
        "n_qubits": inp.n, **run.figures,
        "observables": {"exact": refs.observables, "direct": tallies.direct,
                        "model": est.observables},
        "headline_rho": headline_rho_name(
            rhos if consistency is None or consistency.consistent
            else {k: v for k, v in rhos.items() if not k.startswith("model")}),
    }
    if model is not None and run_dir is not None:  # error bars from bootstrap members
        _bootstrap_members(report, figures, ds, run_dir, inp, run, qs, cfg, stage)
    if ds.readout is not None:  # with and without the correction; the calibration's error
        attach_readout(report, ds, inp, cfg, qs, stage)
    attach_device_checks(report, figures, ds, inp, qs, rhos, stage)  # fit, drift, systematics
    if _unmeasured_weight(tallies, inp):  # the fidelities the shots allow (open designs)
        from qtomo.reconstruction.fidelity_range import attach_fidelity_range

        attach_fidelity_range(report, qs, inp, ds.shots, qs.rhos.get("data_mle"), stage)
    return Reconstruction(report=report, rhos=rhos, figures=figures)


def _design_fit(qs: QuantumStates, inp: DatasetInputs) -> Callable[[Any], Any] | None:
    """The main model's design reweighting, for its members (None: not reweighted)."""
    if qs.model_fit_table is None:
        return None
    from qtomo.reconstruction.design_weights import design_table

    cov = qs.design_coverage
    return None if cov is None else (lambda t: design_table(t, cov, inp.n))


def _unmeasured_weight(tallies: Any, inp: DatasetInputs) -> float | None:
    """The part of the target's fidelity a fixed design leaves unmeasured (None: not a fixed
    design with unmeasured settings, or not computable)."""
    from qtomo.reconstruction.design_weights import balanced, unmeasured_fidelity_weight

    cov = tallies.coverage
    if cov is None or balanced(cov) or inp.psi is None:
        return None
    return unmeasured_fidelity_weight(inp.psi, cov, inp.n) or None


def _design_notes(tallies: Any, inp: DatasetInputs) -> list[str]:
    """What an unbalanced fixed design means for the direct figures and the fidelity."""
    from qtomo.reconstruction.design_weights import UNMEASURED_NOTE, balanced

    axis = pauli_part_note(inp.design, "qtomo reconstruct", "reads")
    cov = tallies.coverage
    if cov is None or balanced(cov):
        return [axis] if axis else []
    notes = [axis] if axis else []
    notes += [f"fixed design with {cov.describe()}, unevenly: the direct observables and "
              "Renyi-2 entropies are plain shot averages and biased by the design (the direct "
              "fidelity is stratified by setting where every setting was measured); the "
              "model's figures are not, its likelihood conditions on the settings"]
    w = _unmeasured_weight(tallies, inp)
    if w is not None:
        notes.append(
            f"{UNMEASURED_NOTE}: for states "
            f"that agree on every measured string they could move the fidelity by up to "
            f"{w:.3f} (before positivity); there every fidelity figure, the error bars "
            "included, rests on positivity and the model's extrapolation, not on the shots")
    return notes


def _bootstrap_members(report: dict[str, Any], figures: dict[str, Any], ds: Any,
                       run_dir: str | Path, inp: DatasetInputs, run: ModelRun,
                       qs: QuantumStates, cfg: ReconstructConfig, stage: Stage) -> None:
    """Error bars of the model's figures from the run's bootstrap members, and the learning
    curve (into ``report`` and ``figures``; :mod:`qtomo.reconstruction.bootstrap`)."""
    from qtomo.reconstruction.bootstrap import attach_bootstrap

    attach_bootstrap(report, figures, ds, run_dir, {
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


# the limits are re-exported from config (their former home)
__all__ = [
    "CITYSCAPE_MAX_QUBITS",
    "CONVENTIONS",
    "DATA_MLE_MAX_QUBITS",
    "DATA_MLE_WITH_MODEL_MAX_QUBITS",
    "READ_BLOCK",
    "SAMPLE_BLOCK",
    "SCORE_SHOTS",
    "ReconstructConfig",
    "Reconstruction",
    "reconstruct",
]
