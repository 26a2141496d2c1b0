"""The dense states of a reconstruction and the record the quantum-state stage fills.

What lives here: :class:`QuantumStates` (the states, tables and direct fidelity that the
quantum stage, :mod:`qtomo.reconstruction.quantum`, builds, with the model's MLE state as the
depolarizing check of :mod:`~qtomo.reconstruction.shots_noise` and the blend of
:mod:`~qtomo.reconstruction.blend` found it), :func:`dense_states` (the linear inversion of
an outcome table, its physical projection and its maximum-likelihood state,
:func:`fit_mle_state`) and :func:`state_entry` (a state's report entry: summary and
fidelities to the targets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.povm.born import Estimate, rho_from_probabilities
from qtomo.reconstruction import density as dm
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import ReconstructConfig, Stage


@dataclass
class QuantumStates:
    """What the quantum-state stage found.

    Attributes
    ----------
    section : dict
        ``report["quantum"]``.
    rhos : dict name -> ndarray
        ``target``, ``target_noisy``, ``model_*`` and ``data_*`` density matrices.
    ideal, sigma : ndarray or None
        The target vector and, with noise, the state the shots came from.
    dense : bool
        Whether dense density matrices were built.
    model_dense : bool
        Whether the model's were (its full table is computed: ``density.model_table_limit``).
    model_table, freq : ndarray or None
        The model's outcome table and the raw frequencies (dense only).
    run_shots : RunShots or None
        The run's training and validation shots (:mod:`~qtomo.reconstruction.blend`).
    blend_weight : float
        Weight of the shots' frequencies in the table of the model's MLE state.
    direct_fidelity : Estimate or None
        The direct estimate from the shots.
    """

    section: dict[str, Any]
    rhos: dict[str, np.ndarray] = field(default_factory=dict)
    ideal: Any = None
    sigma: Any = None
    dense: bool = False
    model_dense: bool = False
    model_table: np.ndarray | None = None
    model_fit_table: np.ndarray | None = None
    design_coverage: Any = None
    freq: np.ndarray | None = None
    run_shots: Any = None
    blend_weight: float = 0.0
    direct_fidelity: Estimate | None = None


def dense_states(prefix: str, table: np.ndarray, frame: Any, n: int,
                 targets: tuple[Any, Any],
                 rhos: dict[str, np.ndarray], cfg: ReconstructConfig, n_shots: int,
                 stage: Stage, table_info: dict[str, Any], *, do_mle: bool,
                 score_shots: np.ndarray | None = None,
                 held_out: bool = False) -> dict[str, Any]:
    """The linear inversion of an outcome table, its physical projection and (``do_mle``) its
    maximum-likelihood state, each summarized with its fidelities to the targets.

    Parameters
    ----------
    prefix : str
        ``"model"`` or ``"data"``: the states go into ``rhos`` as ``{prefix}_inversion``,
        ``{prefix}_projected`` and ``{prefix}_mle``.
    table : ndarray (K^N,)
        The outcome probabilities.
    frame : Frame
    n : int
    targets : (ideal, sigma)
        The target vector and the noisy state the shots came from (either may be None).
    rhos : dict
        Filled with the states.
    cfg : ReconstructConfig
        ``mle_rank`` (None: chosen by AIC, :func:`qtomo.reconstruction.mle.fit_mle_auto`).
    n_shots : int
        Shots behind the table (for the AIC).
    stage : Stage
    table_info : dict
        Where the table comes from (``"table"`` entry).
    do_mle : bool
    score_shots : ndarray, optional
        Shots that score the ranks instead of the table.
    held_out : bool
        Passed to ``fit_mle_auto``.

    Returns
    -------
    dict
        ``table``, ``mle_fit`` (with ``do_mle``), ``inversion``, ``projected``, ``mle``.
    """
    out: dict[str, Any] = {"table": table_info}
    rho_inv = rho_from_probabilities(table, frame, n)
    rho_proj = dm.project_to_physical(rho_inv)
    rhos[f"{prefix}_inversion"] = rho_inv
    rhos[f"{prefix}_projected"] = rho_proj
    states = {"inversion": rho_inv, "projected": rho_proj}
    for name, rho in states.items():
        out[name] = state_entry(name, rho, *targets)
    if do_mle:
        fit_mle_state(prefix, table, frame, n, targets, rhos, cfg, n_shots, stage, out,
                       score_shots=score_shots, held_out=held_out)
    return out


def fit_mle_state(prefix: str, table: np.ndarray, frame: Any, n: int,
                   targets: tuple[Any, Any], rhos: dict[str, np.ndarray],
                   cfg: ReconstructConfig, n_shots: int, stage: Stage, out: dict[str, Any],
                   *, score_shots: np.ndarray | None = None, held_out: bool = False) -> None:
    """The maximum-likelihood state of an outcome table, into ``rhos[f"{prefix}_mle"]`` and
    ``out`` (``mle_fit``, ``mle``); the parameters are those of :func:`dense_states`."""
    stage(f"maximum-likelihood state ({prefix})")
    init = rhos[f"{prefix}_projected"]
    if cfg.mle_rank is None:
        res = mle.fit_mle_auto(table, frame, n, n_shots=n_shots, init=init,
                              score_outcomes=score_shots, held_out=held_out)
    else:
        res = mle.fit_mle(table, frame, n, rank=cfg.mle_rank, init=init)
    rhos[f"{prefix}_mle"] = res.rho
    out["mle_fit"] = res.info()
    out["mle"] = state_entry("mle", res.rho, *targets)


def state_entry(name: str, rho: np.ndarray, ideal: Any, sigma: Any) -> dict[str, Any]:
    entry: dict[str, Any] = dm.summarize(rho).as_dict()
    if ideal is None:
        return entry
    if name == "inversion":
        # a linear inversion is unphysical in general: its overlap with the target is
        # an unbiased linear estimate that may leave [0, 1], not a fidelity
        entry["fidelity"] = None
        entry["fidelity_note"] = ("unphysical matrix: <psi|rho|psi> is a linear "
                                  "estimate that may leave [0, 1]")
        entry["overlap_psi_rho"] = mt.quantum_fidelity(rho, ideal)
        if sigma is not None:
            entry["overlap_tr_sigma_rho"] = float(np.real(np.vdot(sigma, rho)))
    else:
        entry["fidelity"] = mt.physical_fidelity(rho, ideal)
        if sigma is not None:
            entry["fidelity_to_noisy_state"] = mt.physical_fidelity(rho, sigma)
    return entry


__all__ = ["QuantumStates", "dense_states", "fit_mle_state", "state_entry"]
