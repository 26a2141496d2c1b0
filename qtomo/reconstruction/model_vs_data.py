"""The model-vs-data stage of ``qtomo reconstruct``: the model's figures against their direct
estimates from the shots.

What lives here: :func:`check_model` (giving :class:`ModelCheck`), which collects the scalar
pairs (the model state's fidelity, TFIM energy), runs the likelihood-ratio test of the model's
MLE state where the raw frequencies have one, and hands everything to
:func:`qtomo.reconstruction.consistency.check_consistency`. The statistics are in
:mod:`qtomo.reconstruction.consistency`; what heads the report when the check rejects the
model is decided by :func:`qtomo.reconstruction.headline.choose_headline`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction import likelihood_ratio as lrt
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import ReconstructConfig, Stage
from qtomo.reconstruction.dense import QuantumStates
from qtomo.reconstruction.design_weights import balanced
from qtomo.reconstruction.estimates import model_estimate
from qtomo.reconstruction.inputs import DatasetInputs
from qtomo.reconstruction.model_estimates import ModelEstimates
from qtomo.reconstruction.physical_checks import physical_checks
from qtomo.reconstruction.quantum import raw_mle_bootstrap
from qtomo.reconstruction.shots import ShotTallies


@dataclass(frozen=True)
class ModelCheck:
    """Outcome of the model-vs-data stage.

    Attributes
    ----------
    result : ConsistencyResult or None
        None without a model.
    raw_bootstrap : dict or None
        The raw-frequency MLE's bootstrap, where the likelihood-ratio test needed it (its
        rejection is weighed against it); the fallback reuses it.
    """

    result: cs.ConsistencyResult | None
    raw_bootstrap: dict[str, Any] | None = None

    @property
    def consistent(self) -> bool | None:
        """The verdict (None: no model checked)."""
        return None if self.result is None else self.result.consistent

    @property
    def reason(self) -> str:
        return "" if self.result is None else self.result.reason


def check_model(ds: Any, inp: DatasetInputs, cfg: ReconstructConfig, model: Any,
                est: ModelEstimates, tallies: ShotTallies, qs: QuantumStates,
                observables: dict[str, Any], selection: str, stage: Stage,
                run_info: dict[str, Any] | None = None) -> ModelCheck:
    """Compare the model's figures with the direct estimates from the shots.

    Parameters
    ----------
    ds : Dataset
    inp : DatasetInputs
    cfg : ReconstructConfig
    model : DensityEstimator or None
    est : ModelEstimates
        The model's observables (None: no model, nothing is checked).
    tallies : ShotTallies
        The direct observables (the consistency vector's moments).
    qs : QuantumStates
        The states and the direct fidelity.
    observables : dict
        ``report["observables"]`` (its TFIM energy).
    selection : str
        How the consistency vector's observables were chosen.
    stage : Stage
    run_info : dict or None
        The model's run (its ``model_card_results``: the held-out comparison of the kept
        checkpoint with the run's best).

    Returns
    -------
    ModelCheck
    """
    if est.observables is None:
        return ModelCheck(None)
    stage("model-vs-data consistency")
    direct_fid = qs.direct_fidelity
    pairs = [
        cs.fidelity_pair(
            model_estimate(qs.section), direct_value=direct_fid.value if direct_fid else None,
            direct_stderr=direct_fid.stderr if direct_fid else None, direct_n=ds.shots,
            model_samples=cfg.samples, model_has_likelihood=bool(model.has_likelihood),
        ),
        cs.estimate_pair("energy", "TFIM energy <H>", observables["scalars"].get("energy")),
    ]
    # the chi-square reference of the likelihood ratio needs an informationally complete
    # design: with settings never measured the state is not identified from the shots, and the
    # raw-frequency MLE (the reference) extrapolates to them as arbitrarily as any model
    incomplete = tallies.coverage is not None and not tallies.coverage.complete
    lr, boot = (None, None) if incomplete else _likelihood_ratio(ds, inp, cfg, qs, stage)
    model_vec, direct_vec = est.observables.vector, tallies.direct.vector
    if tallies.coverage is not None and not balanced(tallies.coverage):
        # shot averages over an unbalanced fixed design are biased: no observable comparison
        model_vec = direct_vec = None
        selection = (f"{selection}; observables not compared: the fixed design is unbalanced "
                     f"({tallies.coverage.describe()}), so their shot averages are biased"
                     + ("; no likelihood-ratio test: the design is not informationally "
                        "complete" if incomplete else ""))
    physical = physical_checks(observables["scalars"].get("energy"), inp.target.get("energy"),
                               est.observables, (run_info or {}).get("model_card_results"))
    return ModelCheck(cs.check_consistency(model_vec, direct_vec,
                                           [x for x in pairs if x is not None],
                                           selection=selection, likelihood_ratio=lr,
                                           physical=physical), boot)


def _likelihood_ratio(ds: Any, inp: DatasetInputs, cfg: ReconstructConfig, qs: QuantumStates,
                      stage: Stage) -> tuple[lrt.LikelihoodRatio | None, dict[str, Any] | None]:
    """The model's MLE state against the raw-frequency MLE (None where either is missing);
    a rejection carries how far the model's fidelity lies from the raw MLE's, measured in
    the raw MLE's bootstrap error, which is returned beside it (None: not needed)."""
    rhos = qs.rhos
    if "model_mle" not in rhos or "data_mle" not in rhos:
        return None, None
    stage("likelihood ratio of the model's state")
    fit = qs.section["data"]["mle_fit"]
    lr = lrt.likelihood_ratio_test(qs.freq, ds.shots, rhos["model_mle"], rhos["data_mle"],
                                   fit["rank"], inp.frame, inp.n,
                                   depolarizing=mle.has_noise(fit))
    if not lr.rejected or qs.ideal is None:
        return lr, None
    boot = raw_mle_bootstrap(qs, ds.shots, inp.frame, inp.n, cfg.seed, stage)  # material?
    mf = (qs.section.get("model", {}).get("mle") or {}).get("fidelity")
    if mf is not None and boot["stderr"] > 0:
        z = (mf - qs.section["data"]["mle"]["fidelity"]) / boot["stderr"]
        lr = dataclasses.replace(lr, fidelity_z=float(z))
    return lr, boot


__all__ = ["ModelCheck", "check_model"]
