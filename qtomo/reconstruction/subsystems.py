"""The subsystem sections of ``qtomo reconstruct``: Renyi-2 entropies of small subsystems
(``report["subsystems"]``) and the reduced density matrix of the first two qubits
(``report["reduced_density_matrix"]``), from the shots' marginal counts, the model's samples,
the model's MLE state and the exact target.

What lives here: :func:`subsystem_sections`, giving :class:`SubsystemSections`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.reconstruction import density as dm
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.config import Stage
from qtomo.reconstruction.inputs import DatasetInputs
from qtomo.reconstruction.shots import ShotTallies


@dataclass(frozen=True)
class SubsystemSections:
    """The subsystem entries, the reduced-density-matrix section and its matrices.

    Attributes
    ----------
    entropies : list of dict
        ``report["subsystems"]``: per subsystem its ``sites`` and the Renyi-2 entropies
        ``direct``, ``model``, ``exact``, ``model_mle``.
    rdm : dict
        ``report["reduced_density_matrix"]``.
    rhos : dict name -> ndarray
        ``rdm_direct_q0-1``, ``rdm_model_q0-1``, ``rdm_exact_q0-1``.
    """

    entropies: list[dict[str, Any]]
    rdm: dict[str, Any]
    rhos: dict[str, np.ndarray] = field(default_factory=dict)


def subsystem_sections(inp: DatasetInputs, mps: Any, tallies: ShotTallies,
                       samples: np.ndarray | None, model_mle: np.ndarray | None,
                       stage: Stage) -> SubsystemSections:
    """Renyi-2 entropies of the subsystems and the reduced density matrix.

    Parameters
    ----------
    inp : DatasetInputs
        The subsystems, frame and target.
    mps : MPS or None
        The target as an MPS.
    tallies : ShotTallies
        The marginal counts of the shots.
    samples : ndarray or None
        The model's samples.
    model_mle : ndarray or None
        The model's MLE state.
    stage : Stage

    Returns
    -------
    SubsystemSections
    """
    stage("subsystems")
    frame, psi, noise = inp.frame, inp.psi, inp.noise
    subs = []
    for s in inp.subsystems:
        entry: dict[str, Any] = {"sites": s}
        entry["direct"] = mt.renyi2_from_counts(tallies.sub_counts[tuple(s)], frame.restrict(s))
        if samples is not None:
            entry["model"] = mt.renyi2_from_shots(samples, frame, s)
        ex = mt.exact_reduced_state(s, psi=psi, mps=mps, noise=noise)
        entry["exact"] = mt.renyi2_exact(ex) if ex is not None else None
        if model_mle is not None:
            entry["model_mle"] = mt.renyi2_exact(dm.partial_trace(model_mle, s))
        subs.append(entry)
    rhos: dict[str, np.ndarray] = {}
    sites = tallies.rdm_sites
    rdm = _rdm_section(list(sites), tallies.sub_counts[sites], samples, inp, mps, rhos)
    return SubsystemSections(subs, rdm, rhos)


def _rdm_section(sites: list[int], counts: np.ndarray, samples: np.ndarray | None,
                 inp: DatasetInputs, mps: Any, rhos: dict[str, np.ndarray]) -> dict[str, Any]:
    frame = inp.frame
    label = "q" + "-".join(str(s) for s in sites)
    exact = mt.exact_reduced_state(sites, psi=inp.psi, mps=mps, noise=inp.noise)
    out: dict[str, Any] = {"sites": sites, "convention": "linear inversion of the marginal "
                           "frequencies of these qubits (unbiased, may be unphysical); "
                           "'projected' is its closest physical state"}
    srcs = {"direct": mt.rdm_from_counts(counts, frame.restrict(sites))}
    if samples is not None:
        srcs["model"] = mt.reduced_density_matrix(samples, frame, sites)
    for k, r in srcs.items():
        proj = dm.project_to_physical(r)
        rhos[f"rdm_{k}_{label}"] = r
        entry = dm.summarize(r).as_dict()
        if exact is not None:
            entry["fidelity_projected_to_exact"] = mt.physical_fidelity(proj, exact)
        out[k] = entry
    if exact is not None:
        rhos[f"rdm_exact_{label}"] = exact
    return out


__all__ = ["SubsystemSections", "subsystem_sections"]
