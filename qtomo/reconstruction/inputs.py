"""The first stages of ``qtomo reconstruct``: reading the dataset, the run (the trained model
and its provenance) and the exact references.

What lives here: :func:`read_dataset` (target, noise, user strings, subsystems, checked before
anything is computed) giving :class:`DatasetInputs`; :func:`read_model` (the model of a run
directory or one given as an object, with its provenance and training curves) giving
:class:`ModelRun`; :func:`exact_references` (the target's exact observables) giving
:class:`ExactReferences`.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtomo.errors import InputValueError
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.config import ReconstructConfig, Stage
from qtomo.reconstruction.observables import (
    ObservableSet,
    exact_observables,
    parse_observables,
    tfim_spec_from_target,
)


@dataclass(frozen=True)
class DatasetInputs:
    """What the reconstruction takes from the dataset and the settings.

    Attributes
    ----------
    n, K : int
        Qubits and outcomes per qubit.
    frame : Frame
        The dataset's POVM.
    target : dict
        The stored target's attributes; ``noise`` its depolarizing strength (0 when absent).
    psi : ndarray or None
        The target's state vector, when stored.
    strings : dict name -> {site: letter}
        The user's Pauli strings.
    tfim : TFIM spec or None
        The Hamiltonian of a TFIM target (for its energy).
    subsystems : list of list of int
        Subsystems of the Renyi-2 entropies.
    ideal_frame : Frame
        The ideal POVM (``frame`` is the effective one when readout is corrected).
    design : Design or None
        How the settings were chosen (fixed designs change the direct estimators).
    """

    n: int
    K: int
    frame: Any
    target: dict[str, Any]
    noise: float
    psi: Any
    strings: dict[str, dict[int, str]]
    tfim: Any
    subsystems: list[list[int]]
    ideal_frame: Any = None
    design: Any = None

    @property
    def lab(self) -> bool:
        """Lab data (``qtomo import``): the shots come from the state the lab measured, not
        from the stored target, which is only the state it meant to prepare."""
        return self.target.get("origin") == "lab"


def read_dataset(ds: Any, cfg: ReconstructConfig) -> DatasetInputs:
    """The dataset's target and the user's strings and subsystems, checked.

    Parameters
    ----------
    ds : Dataset
        The open dataset.
    cfg : ReconstructConfig
        The settings (observables, subsystems).

    Returns
    -------
    DatasetInputs
    """
    n = ds.n_qubits
    target = dict(ds.target)
    noise = float(target.get("noise", 0.0) or 0.0)
    noise = 0.0 if not math.isfinite(noise) else noise
    psi = ds.target_array("psi")
    strings = parse_observables(cfg.observables, n)
    tfim = tfim_spec_from_target(target)
    subsystems = [list(s) for s in cfg.subsystems] if cfg.subsystems else mt.default_subsystems(n)
    for s in subsystems:
        mt.check_sites(s, n)
    return DatasetInputs(
        n=n, K=ds.K, frame=ds.frame_for(readout_correction=cfg.readout_correction),
        ideal_frame=ds.frame, design=ds.design, target=target, noise=noise, psi=psi,
        strings=strings, tfim=tfim, subsystems=subsystems)


@dataclass(frozen=True)
class ModelRun:
    """The model and what the report says about it.

    Attributes
    ----------
    model : DensityEstimator or None
        None: the reconstruction comes from the shots alone.
    info : dict or None
        Provenance (``report["provenance"]["model"]``).
    notes : list of str
        Warnings for the report (a model trained on another dataset).
    figures : dict
        ``training_curves`` (metrics.csv) when there is a run directory.
    """

    model: Any = None
    info: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def read_model(ds: Any, run_dir: str | Path | None, model: Any, stage: Stage) -> ModelRun:
    """The model of ``run_dir`` (or ``model`` when given), checked against the dataset.

    Parameters
    ----------
    ds : Dataset
    run_dir : path or None
        Run directory of ``qtomo train`` (with ``model``: only where metrics.csv is).
    model : DensityEstimator or None
        A model object to use instead of loading ``run_dir``.
    stage : Stage

    Returns
    -------
    ModelRun
        A model trained on another dataset gives a warning and a note.
    """
    info: dict[str, Any] | None = None
    if model is not None:
        info = _model_info(model, ds, run_dir, {})
    elif run_dir is not None:
        stage("loading model")
        model, info = _load_model(run_dir, ds)
    notes: list[str] = []
    figures: dict[str, Any] = {}
    if info is not None and run_dir is not None:
        if info["dataset_hash_matches"] is False:
            msg = (f"the model in {run_dir} was trained on another dataset "
                   f"({info['train_config'].get('dataset_path', '?')}); comparing it with "
                   f"{ds.path}")
            warnings.warn(msg, stacklevel=3)  # points into run.reconstruct
            notes.append(msg)
        figures["training_curves"] = _read_metrics_csv(Path(run_dir) / "metrics.csv")
    return ModelRun(model=model, info=info, notes=notes, figures=figures)


def _load_model(run_dir: str | Path, ds: Any) -> tuple[Any, dict[str, Any]]:
    from qtomo.training.checkpoint import load_run  # torch: only with a model

    model, run_cfg = load_run(run_dir)
    return model, _model_info(model, ds, run_dir, run_cfg)


def _model_info(model: Any, ds: Any, run_dir: str | Path | None,
                run_cfg: dict[str, Any]) -> dict[str, Any]:
    if model.n_qubits != ds.n_qubits or model.K != ds.K:
        raise InputValueError(
            f"the model{' in ' + str(run_dir) if run_dir else ''} describes N={model.n_qubits} "
            f"qubits with K={model.K} outcomes, but {ds.path} has N={ds.n_qubits}, K={ds.K}; "
            "reconstruct with the dataset it was trained on"
        )
    card = None
    card_path = Path(run_dir) / "model_card.json" if run_dir is not None else None
    if card_path is not None and card_path.exists():
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError):
            card = None
    return {
        "run_dir": str(Path(run_dir).resolve()) if run_dir is not None else None,
        "name": model.name,
        "hparams": model.hparams,
        "n_parameters": model.num_parameters(),
        "exact_log_prob": bool(model.exact_log_prob),
        "has_likelihood": bool(model.has_likelihood),
        "checkpoint": run_cfg.get("checkpoint"),
        "epoch": run_cfg.get("epoch"),
        "dataset_hash": run_cfg.get("dataset_hash"),
        "dataset_hash_matches": (run_cfg.get("dataset_hash") == ds.dataset_hash
                                 if run_cfg.get("dataset_hash") else None),
        "train_config": run_cfg,
        "model_card_results": (card or {}).get("results"),
    }


def _read_metrics_csv(path: Path) -> dict[str, list[float]] | None:
    if not path.exists():
        return None
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error):
        return None
    if not rows:
        return None
    out: dict[str, list[float]] = {}
    for key in rows[0]:
        col = []
        for r in rows:
            try:
                col.append(float(r[key]) if r[key] not in ("", None) else float("nan"))
            except ValueError:
                col.append(float("nan"))
        out[key] = col
    return out


@dataclass(frozen=True)
class ExactReferences:
    """The target's exact values.

    Attributes
    ----------
    mps : MPS or None
        The target as an MPS, when it is stored as one (no state vector: N > 16).
    observables : ObservableSet
        Exact one- and two-point functions and scalars (NaN where unknown).
    """

    mps: Any
    observables: ObservableSet


def exact_references(ds: Any, inp: DatasetInputs, stage: Stage) -> ExactReferences:
    """The exact observables of the stored target (its noise included).

    Parameters
    ----------
    ds : Dataset
    inp : DatasetInputs
    stage : Stage

    Returns
    -------
    ExactReferences
    """
    stage("exact references")
    mps = ds.target_mps() if inp.psi is None else None
    exact = exact_observables(
        inp.n, target=inp.target, psi=inp.psi, mps=mps, x_exact=ds.target_array("x_exact"),
        zz_exact=ds.target_array("zz_exact"), strings=inp.strings, tfim=inp.tfim,
    )
    return ExactReferences(mps=mps, observables=exact)


_STATE_LABELS = {
    "w": "W state (|10..0> + ... + |0..01>)/sqrt(N)",
    "cluster": "1-D open cluster state (CZ chain on |+>^N)",
}


def target_label(target: dict[str, Any], noise: float) -> str:
    """A sentence naming the stored target (``report["quantum"]["target"]``)."""
    state = str(target.get("state", "unknown"))
    if state == "tfim":
        label = (f"TFIM ground state (J={target.get('J')}, h={target.get('h')}, "
                 f"{target.get('boundary')} boundary)")
    elif state == "ghz":
        label = "GHZ state (|0...0> + |1...1>)/sqrt(2)"
    elif state == "custom":
        label = f"custom state vector ({target.get('target_file', 'file')})"
    elif state in _STATE_LABELS:
        label = _STATE_LABELS[state]
    elif state == "product":
        label = f"random product state (seed {target.get('seed')})"
    elif state == "random-mps":
        label = f"random MPS, bond dimension 2 (seed {target.get('seed')})"
    elif state == "haar":
        label = f"Haar-random pure state (seed {target.get('seed')})"
    else:
        label = "unknown (no target stored)"
    if noise > 0:
        label += f" with local depolarizing noise p={noise:g} (mixed target)"
    return label


__all__ = ["DatasetInputs", "ExactReferences", "ModelRun", "exact_references", "read_dataset",
           "read_model", "target_label"]
