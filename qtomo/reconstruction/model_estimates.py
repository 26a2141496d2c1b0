"""The model's side of ``qtomo reconstruct``: strings sampled from the trained model, the
observables they give, and the classical metrics (classical fidelity, KL divergence) of the
model against the target.

What lives here: :func:`sample_model`, :func:`model_estimates` (giving
:class:`ModelEstimates`) and :func:`classical_metrics`; the bootstrap members
(:mod:`qtomo.reconstruction.bootstrap`) use the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.reconstruction import density as dm
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.config import SAMPLE_BLOCK, ReconstructConfig, Stage
from qtomo.reconstruction.conventions import CONVENTIONS
from qtomo.reconstruction.inputs import DatasetInputs
from qtomo.reconstruction.observables import ObservableSet, PauliAccumulator


def sample_model(model: Any, n: int, seed: int) -> np.ndarray:
    """``n`` strings sampled from ``model`` (uint8, (n, N)), in blocks of ``SAMPLE_BLOCK``.

    Parameters
    ----------
    model : DensityEstimator
    n : int
        Strings to draw.
    seed : int
        Seed of the sampler's generator.
    """
    import torch  # heavy: only with a model

    g = torch.Generator(device=model.device).manual_seed(int(seed))
    model.eval()
    parts = [model.sample(min(SAMPLE_BLOCK, n - s), g).cpu().numpy()
             for s in range(0, n, SAMPLE_BLOCK)]
    return np.concatenate(parts).astype(np.uint8)


@dataclass(frozen=True)
class ModelEstimates:
    """The model's samples and the observables they give (both None without a model)."""

    samples: np.ndarray | None = None
    observables: ObservableSet | None = None


def model_estimates(model: Any, inp: DatasetInputs, cfg: ReconstructConfig,
                    vector_terms: list[dict[int, str]] | None, stage: Stage) -> ModelEstimates:
    """Sample ``cfg.samples`` strings from the model and estimate the observables from them.

    Parameters
    ----------
    model : DensityEstimator or None
        None gives an empty :class:`ModelEstimates`.
    inp : DatasetInputs
    cfg : ReconstructConfig
        ``samples`` and ``seed``.
    vector_terms : list of {site: letter} or None
        Pauli strings of the consistency vector.
    stage : Stage

    Returns
    -------
    ModelEstimates
    """
    if model is None:
        return ModelEstimates()
    stage(f"sampling {cfg.samples} strings from the model")
    samples = sample_model(model, cfg.samples, cfg.seed)
    stage("observables from the model")
    macc = PauliAccumulator(inp.frame, inp.n, strings=inp.strings, tfim=inp.tfim,
                            vector=vector_terms)
    macc.update(samples)
    return ModelEstimates(samples=samples, observables=macc.result("model"))


def classical_metrics(model: Any, ds: Any, psi: Any, noise: float, frame: Any,
                      model_table: np.ndarray | None,
                      samples: np.ndarray | None) -> dict[str, Any] | None:
    """The model's classical fidelity and KL divergence to the target's outcome distribution.

    Exact sums over all K^N strings when the target is a small state vector (the model's
    table, or a histogram of ``samples`` for a model without likelihood); else Monte Carlo over
    the dataset's evaluation shots with exact log P; else None.

    Parameters
    ----------
    model : DensityEstimator
    ds : Dataset
    psi : ndarray or None
        The target's state vector.
    noise : float
        Its depolarizing noise.
    frame : Frame
    model_table : ndarray or None
        The model's outcome table when already computed.
    samples : ndarray or None
        The model's samples (for a histogram).

    Returns
    -------
    dict or None
        ``classical_fidelity`` and ``kl_divergence`` entries (value, stderr, method,
        convention).
    """
    n, K = ds.n_qubits, ds.K
    conv = {"classical_fidelity": CONVENTIONS["classical_fidelity"],
            "kl_divergence": CONVENTIONS["kl_divergence"]}
    small = (psi is not None and n <= dm.MAX_RHO_QUBITS
             and K**n <= (dm.MAX_TABLE_ENTRIES if model_table is not None
                          else dm.model_table_limit(model)))
    if small:
        p_table = mt.target_born_table(psi, frame, noise)
        if model_table is None:
            if model.has_likelihood:
                model_table, _ = dm.probability_table(model)
            else:
                model_table = mt.histogram_table(samples, K)
        r = mt.classical_exact(model_table, p_table)
        method = ("exact sums over all K^N strings" if model.has_likelihood else
                  f"exact sums over all K^N strings against a histogram of {len(samples)} model "
                  "samples (no likelihood; biased)")
        if model.has_likelihood and not model.exact_log_prob:
            method += " (the model's log_prob is an estimate, renormalised)"
        return _classical_entries(r, method, conv)
    lp = ds.eval_log_p()
    if lp is not None and model.has_likelihood:
        from qtomo.training.metrics import log_prob_numpy  # torch: only with a model

        lq = log_prob_numpy(model, ds.eval_outcomes())
        r = mt.classical_from_samples(lq, lp)
        method = (f"Monte Carlo over the dataset's {len(lp)} evaluation shots with exact log P "
                  "(never trained on)")
        if not model.exact_log_prob:
            method += "; the model's log_prob is an estimate"
        return _classical_entries(r, method, conv)
    return None


def _classical_entries(r: dict[str, float], method: str, conv: dict[str, str]) -> dict[str, Any]:
    return {
        "classical_fidelity": {"value": r["classical_fidelity"],
                               "stderr": r["classical_fidelity_stderr"], "method": method,
                               "convention": conv["classical_fidelity"]},
        "kl_divergence": {"value": r["kl_divergence"], "stderr": r["kl_divergence_stderr"],
                          "method": method, "convention": conv["kl_divergence"]},
    }


__all__ = ["ModelEstimates", "classical_metrics", "model_estimates", "sample_model"]
