"""The report schema of ``qtomo reconstruct``: the conventions and the JSON structure of
``report.json``, and the functions that write its sections.

What lives here: the observables section and :func:`report_dict`, which lays out the top-level
keys (format, mode, headline, consistency, quantum, classical, observables, subsystems,
reduced density matrix, notes, conventions, provenance, and the bootstrap and readout blocks
where there are). The conventions and the entry format every section shares are in
:mod:`qtomo.reconstruction.conventions`; the headline section is built by
:mod:`qtomo.reconstruction.assemble`, which calls :func:`report_dict` once, at the end.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy

from qtomo._version import __version__
from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction.conventions import CONVENTIONS, estimate_entry
from qtomo.reconstruction.observables import LETTERS, ObservableSet


def _lst(a: np.ndarray) -> list[Any]:
    return np.asarray(a, dtype=float).tolist()


# --- observables ---------------------------------------------------------------------------------
def observables_section(n: int, exact: ObservableSet, direct: ObservableSet,
                        model: ObservableSet | None,
                        strings: dict[str, dict[int, str]], *,
                        exact_note: str | None = None) -> dict[str, Any]:
    """``report["observables"]``: one- and two-point functions and the scalars (user strings,
    magnetizations, energy) of the model's samples (when there is a model) and the shots,
    beside their exact values, and how many lie within 3 standard errors of them.

    Parameters
    ----------
    n : int
        Number of qubits.
    exact, direct : ObservableSet
        The exact references and the estimates from the measured shots.
    model : ObservableSet or None
        The estimates from the model's samples.
    strings : dict name -> {site: letter}
        The user's Pauli strings.
    exact_note : str, optional
        What the exact values are, where they are not the measured state's (lab data).
    """
    srcs = {"direct": direct} if model is None else {"model": model, "direct": direct}
    single = {}
    for p in LETTERS:
        single[p] = {k: {"value": _lst(v.single[p][0]), "stderr": _lst(v.single[p][1])}
                     for k, v in srcs.items()}
        single[p]["exact"] = _lst(exact.single[p][0])
    two = {}
    for p in LETTERS:
        two[p + p] = {k: {"value": _lst(v.two_point[p][0]), "stderr": _lst(v.two_point[p][1])}
                      for k, v in srcs.items()}
        two[p + p]["exact"] = _lst(exact.two_point[p][0])
    scalars: dict[str, Any] = {}
    for name in [*strings, "magnetization_x", "magnetization_z", "magnetization_z2", "energy"]:
        if name not in direct.scalars:
            continue
        e = exact.scalars.get(name)
        entry = {k: estimate_entry(v.scalars[name]) for k, v in srcs.items()}
        entry["exact"] = float(e.value) if e is not None and math.isfinite(e.value) else None
        entry["kind"] = "user Pauli string" if name in strings else name
        scalars[name] = entry
    agreement = {k: _agreement(v, exact, n) for k, v in srcs.items()}
    out = {
        "n_samples": {k: v.n_samples for k, v in srcs.items()},
        "single_site": single, "two_point": two, "scalars": scalars,
        "agreement_with_exact": agreement,
        "convention": CONVENTIONS["observables"],
    }
    if exact_note is not None:
        out["exact_note"] = exact_note
    return out


def _agreement(est: ObservableSet, exact: ObservableSet, n: int) -> dict[str, Any]:
    """How many model/direct values lie within 3 standard errors of the exact ones."""
    out: dict[str, Any] = {}
    iu = np.triu_indices(n, 1)
    zz_e = exact.two_point["Z"][0][iu]
    zz_v, zz_s = (x[iu] for x in est.two_point["Z"])
    x_e = exact.single["X"][0]
    x_v, x_s = est.single["X"]
    vals = np.concatenate([zz_v, x_v])
    ses = np.concatenate([zz_s, x_s])
    ex = np.concatenate([zz_e, x_e])
    ok = np.isfinite(ex)
    if ok.any():
        within = np.abs(vals[ok] - ex[ok]) <= 3 * ses[ok]
        out["within_3se_fraction"] = float(within.mean())
        out["within_3se_count"] = [int(within.sum()), int(ok.sum())]
        out["within_3se_note"] = "all <Z_i Z_j> (i < j) and <X_i> with an exact value"
    r0_e = exact.two_point["Z"][0][0, 1:]
    if n > 1 and np.all(np.isfinite(r0_e)):
        d = est.two_point["Z"][0][0, 1:] - r0_e
        out["zz0r_rmse"] = float(np.sqrt(np.mean(d**2)))
    return out


# --- the whole report ----------------------------------------------------------------------------
def report_dict(ds: Any, target: dict[str, Any], cfg: Any, *, with_model: bool,
                model_info: dict[str, Any] | None,
                consistency: cs.ConsistencyResult | None, headline: dict[str, Any],
                quantum: dict[str, Any], classical: dict[str, Any] | None,
                observables: dict[str, Any], subsystems: list[dict[str, Any]],
                rdm: dict[str, Any], notes: list[str], warnings: list[str] | None = None,
                bootstrap: dict[str, Any] | None = None,
                readout: dict[str, Any] | None = None,
                device_checks: dict[str, Any] | None = None,
                lab_scale: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report (``report.json`` before :func:`qtomo.reports.report.jsonable`): the
    top-level keys in their order, with the provenance of the dataset, model and settings.

    Parameters
    ----------
    ds : Dataset
        The dataset (its path, hash, sizes, POVM and creation are recorded).
    target : dict
        The dataset's target attributes (recorded).
    cfg : ReconstructConfig
        The settings (recorded as ``reconstruct_config``).
    with_model : bool
        Whether a model was reconstructed (``mode``).
    model_info : dict or None
        Provenance of the model.
    consistency : ConsistencyResult or None
        The model-vs-data check (None without a model).
    headline, quantum, classical, observables, subsystems, rdm : the sections.
    notes : list of str
        Warnings for people (shown at the top of the HTML page).
    warnings : list of str or None
        The notes that ``qtomo reconstruct`` also repeats on stderr (their texts, unchanged).
    bootstrap, readout : dict or None
        The bootstrap members' block and the readout block (left out when None).
    device_checks : dict or None
        The ``goodness_of_fit`` and ``no_signalling`` blocks (added as top-level keys).
    lab_scale : dict or None
        The protocol of a planned design (``lab_scale``, last; left out when None).
    """
    report = {
        "format": "qtomo-report",
        "format_version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "model" if with_model else "direct (no model)",
        "consistent": consistency.consistent if consistency is not None else None,
        "headline": headline,
        "consistency": consistency.as_dict() if consistency is not None else cs.no_model_block(),
        "quantum": quantum,
        "classical": classical,
        "observables": observables,
        "subsystems": subsystems,
        "reduced_density_matrix": rdm,
        "notes": notes,
        "warnings": list(warnings or []),
        "conventions": CONVENTIONS,
        "provenance": {
            "dataset": _dataset_provenance(ds, target),
            "model": model_info,
            "reconstruct_config": asdict(cfg),
            "versions": _versions(),
        },
    }
    if bootstrap is not None:
        report["bootstrap"] = bootstrap
    if readout is not None:
        report["readout"] = readout
    report.update(device_checks or {})
    if lab_scale is not None:
        report["lab_scale"] = lab_scale
    return report


def _dataset_provenance(ds: Any, target: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": str(Path(ds.path).resolve()), "hash": ds.dataset_hash,
        "n_qubits": ds.n_qubits, "shots": ds.shots, "eval_shots": ds.eval_shots,
        "povm": ds.frame.name, "K": ds.K, "target": target, "config": ds.config,
        "created": ds.attrs.get("created"), "qtomo_version": ds.attrs.get("qtomo_version"),
    }


def _versions() -> dict[str, str]:
    out = {"qtomo": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
           "h5py": h5py.__version__, "python": platform.python_version()}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        import qutip

        out["qutip"] = qutip.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


__all__ = ["observables_section", "report_dict"]
