"""The report schema of ``qtomo reconstruct``: the conventions and the JSON structure of
``report.json``, and the functions that write its sections.

What lives here: :data:`CONVENTIONS` (the sentence behind every kind of number), the entry
formats every section shares (:func:`estimate_entry`: ``value``, ``stderr``, ``n``, ``ci95``),
the observables section, the headline, and :func:`report_dict`, which lays out the top-level
keys (format, mode, headline, consistency, quantum, classical, observables, subsystems,
reduced density matrix, notes, conventions, provenance). The stages that compute the numbers
are in :mod:`qtomo.reconstruction.run` and the modules it lists.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from qtomo._version import __version__
from qtomo.povm.born import Estimate
from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction.observables import LETTERS, ObservableSet

CONVENTIONS = {
    "quantum_fidelity": "squared convention (as Qiskit): F = <psi|rho|psi> to the ideal "
    "target |psi> (what the lab meant to prepare); with simulated depolarizing noise p the "
    "shots come from sigma = E_p(|psi><psi|), whose <psi|sigma|psi> is the exact value, and "
    "fidelity_to_noisy_state is Uhlmann's (Tr sqrt(sqrt(sigma) rho sqrt(sigma)))^2; QuTiP's "
    "fidelity() is the square root of this",
    "direct_fidelity": "mean over the measured shots of Q(a) = <psi|D(a_0) x ... x "
    "D(a_N-1)|psi> (D the dual frame): an unbiased estimate of the squared fidelity "
    "<psi|rho_lab|psi> to the ideal target; stderr = std(Q)/sqrt(shots). Being a linear "
    "estimate, it may exceed 1 (or fall below 0) by its statistical noise",
    "classical_fidelity": "Bhattacharyya coefficient F_c = sum_a sqrt(P(a) Q(a)); P the "
    "target's outcome distribution with its noise, Q the model",
    "kl_divergence": "KL(P||Q) = sum_a P(a) log(P(a)/Q(a)) in nats",
    "observables": "<O> = mean of Q_O(a) = prod_j Tr[O_j D(a_j)] over strings: the model's "
    "samples ('model') or the measured shots ('direct'); stderr = std/sqrt(n); exact values "
    "from the stored target include its noise (<P> of weight w scaled by (1-p)^w)",
    "energy": "TFIM energy <H>, H = -J sum_<ij> Z_i Z_j - h sum_i X_i with the dataset's J, h "
    "and boundary; stderr from the per-string values of the whole sum",
    "magnetization": "m_x = (1/N) sum <X_i>, m_z = (1/N) sum <Z_i>, m_z2 = (1/N^2) sum_ij "
    "<Z_i Z_j>",
    "renyi2": "S_2(A) = -log2 Tr[rho_A^2] in bits; from strings by the unbiased U-statistic of "
    "the purity, from a density matrix by its partial trace; the U-statistic is unbiased, so "
    "its purity (with purity_stderr) may leave [0, 1] by its noise",
    "density_matrix": "qubit 0 is the leftmost tensor factor (most significant bit); "
    "'inversion' = Born-rule inversion of the outcome table (may be unphysical), 'projected' = "
    "closest physical state in Frobenius norm (eigenvalues projected onto the simplex), 'mle' = "
    "maximum-likelihood physical state fitted to the table, rank chosen by how well it "
    "predicts the measured shots (AIC). Fidelity and purity fields of physical states lie in "
    "[0, 1] and their trace is 1 within 1e-12; an unphysical matrix (inversion) reports "
    "tr_rho_squared and overlaps instead (purity and fidelity null)",
    "error_bars": "stderr is one standard error; ci95 = value +- 1.96 stderr",
}


# --- entries -------------------------------------------------------------------------------------
def estimate_entry(e: Estimate | None) -> dict[str, Any] | None:
    """An estimate as a report entry: ``value``, ``stderr``, ``n`` and, with a finite error
    bar, ``ci95`` (value +- 1.96 stderr); None for None."""
    if e is None:
        return None
    v, s = float(e.value), float(e.stderr)
    out: dict[str, Any] = {"value": v, "stderr": s, "n": int(e.n)}
    if math.isfinite(s) and e.n > 0:
        out["ci95"] = [v - 1.96 * s, v + 1.96 * s]
    return out


def _lst(a: np.ndarray) -> list[Any]:
    return np.asarray(a, dtype=float).tolist()


# --- observables ---------------------------------------------------------------------------------
def observables_section(n: int, exact: ObservableSet, direct: ObservableSet,
                        model: ObservableSet | None,
                        strings: dict[str, dict[int, str]]) -> dict[str, Any]:
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
    return {
        "n_samples": {k: v.n_samples for k, v in srcs.items()},
        "single_site": single, "two_point": two, "scalars": scalars,
        "agreement_with_exact": agreement,
        "convention": CONVENTIONS["observables"],
    }


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


# --- headline ------------------------------------------------------------------------------------
def _headline_energy(energy: dict[str, Any] | None) -> dict[str, Any] | None:
    if energy is None:
        return None
    src = "model" if energy.get("model") else "direct"
    e = energy[src]
    return {**e, "source": f"{src} estimate", "exact": energy.get("exact"),
            "convention": CONVENTIONS["energy"]}


def headline_section(fidelity: dict[str, Any], energy: dict[str, Any] | None,
                     consistency: cs.ConsistencyResult | None,
                     classical: dict[str, Any] | None) -> dict[str, Any]:
    """``report["headline"]``: quantum fidelity, energy, classical fidelity and KL.

    Parameters
    ----------
    fidelity : dict
        The headline quantum fidelity (after the consistency check's fallback).
    energy : dict or None
        ``report["observables"]["scalars"]["energy"]``: the model's estimate heads, unless the
        consistency check rejects the model (then the direct one, the model's kept beside it).
    consistency : ConsistencyResult or None
        None without a model.
    classical : dict or None
        The classical fidelity and KL entries of the model.
    """
    headline_energy = _headline_energy(energy)
    if consistency is not None and energy is not None:
        headline_energy = cs.fallback(
            headline_energy, _headline_energy({k: v for k, v in energy.items() if k != "model"}),
            consistency)
    return {
        "quantum_fidelity": fidelity,
        "energy": headline_energy,
        "classical_fidelity": (classical or {}).get("classical_fidelity"),
        "kl_divergence": (classical or {}).get("kl_divergence"),
    }


# --- the whole report ----------------------------------------------------------------------------
def report_dict(ds: Any, target: dict[str, Any], cfg: Any, *, with_model: bool,
                model_info: dict[str, Any] | None,
                consistency: cs.ConsistencyResult | None, headline: dict[str, Any],
                quantum: dict[str, Any], classical: dict[str, Any] | None,
                observables: dict[str, Any], subsystems: list[dict[str, Any]],
                rdm: dict[str, Any], notes: list[str]) -> dict[str, Any]:
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
    """
    return {
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
        "conventions": CONVENTIONS,
        "provenance": {
            "dataset": _dataset_provenance(ds, target),
            "model": model_info,
            "reconstruct_config": asdict(cfg),
            "versions": _versions(),
        },
    }


def _dataset_provenance(ds: Any, target: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": str(Path(ds.path).resolve()), "hash": ds.dataset_hash,
        "n_qubits": ds.n_qubits, "shots": ds.shots, "eval_shots": ds.eval_shots,
        "povm": ds.frame.name, "K": ds.K, "target": target, "config": ds.config,
        "created": ds.attrs.get("created"), "qtomo_version": ds.attrs.get("qtomo_version"),
    }


def _versions() -> dict[str, str]:
    import h5py
    import scipy

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


__all__ = ["CONVENTIONS", "estimate_entry", "headline_section", "observables_section",
           "report_dict"]
