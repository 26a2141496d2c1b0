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
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import platform
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qtomo._version import __version__
from qtomo.errors import InputValueError
from qtomo.povm.born import Estimate, outcome_index, rho_from_probabilities
from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction import density as dm
from qtomo.reconstruction import likelihood_ratio as lrt
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.observables import (
    LETTERS,
    ObservableSet,
    PauliAccumulator,
    exact_observables,
    parse_observables,
    tfim_spec_from_target,
)

#: Shots read from the dataset per block.
READ_BLOCK = 1 << 18
#: Strings sampled from the model per call.
SAMPLE_BLOCK = 1 << 17
#: Without a model, maximum-likelihood tomography of the raw frequencies runs up to this N.
DATA_MLE_MAX_QUBITS = 10
#: With a model, the raw-frequency MLE (a second baseline) also runs up to this N.
DATA_MLE_WITH_MODEL_MAX_QUBITS = 6
#: At most this many training shots score the ranks of the model's MLE state.
SCORE_SHOTS = 200_000
#: The density-matrix cityscape is drawn up to this N.
CITYSCAPE_MAX_QUBITS = 5

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


@dataclass(frozen=True)
class ReconstructConfig:
    """Settings of a reconstruction (recorded in the report).

    Attributes
    ----------
    samples : int
        Strings drawn from the model for observables and subsystem entropies.
    observables : tuple of str
        User Pauli strings such as ``"Z0 Z5"``.
    seed : int
        Seed of the model's sampler.
    max_rho_qubits : int
        Dense density matrices (inversion, projection, MLE) up to this N (at most 10).
    mle : bool
        Fit maximum-likelihood physical states (to the model's table and, for small N or
        without a model, to the raw frequencies).
    mle_rank : int or None
        Fixed rank of the MLE fit; None chooses it on measured shots (see fit_mle_auto).
    subsystems : tuple of tuples or None
        Subsystems (<= 4 qubits each) for Renyi-2 entropies; None: leading blocks 0..k-1.
    precision : float or None
        Target error bar of the headline fidelity for shots planning (runs trained with
        ``--learning-curve``; see :mod:`qtomo.reconstruction.bootstrap`).
    member_samples : int
        Strings sampled from each bootstrap member (observables, entropies).
    """

    samples: int = 100_000
    observables: tuple[str, ...] = ()
    seed: int = 1234
    max_rho_qubits: int = dm.MAX_RHO_QUBITS
    mle: bool = True
    mle_rank: int | None = None
    subsystems: tuple[tuple[int, ...], ...] | None = None
    precision: float | None = None
    member_samples: int = 20_000

    def validate(self) -> ReconstructConfig:
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 2:
            raise InputValueError(f"--samples must be an integer >= 2, got {self.samples!r}")
        if not 0 <= self.max_rho_qubits <= dm.MAX_RHO_QUBITS:
            raise InputValueError(
                f"--max-rho-qubits must lie in 0..{dm.MAX_RHO_QUBITS}, got {self.max_rho_qubits}"
            )
        if self.mle_rank is not None and self.mle_rank < 1:
            raise InputValueError(f"--mle-rank must be >= 1, got {self.mle_rank}")
        if self.precision is not None and not (
                isinstance(self.precision, (int, float)) and 0 < self.precision < 1):
            raise InputValueError(
                f"--precision must be a number in (0, 1), e.g. 0.005, got {self.precision!r}")
        if isinstance(self.member_samples, bool) or not isinstance(self.member_samples, int) \
                or self.member_samples < 2:
            raise InputValueError(
                f"member_samples must be an integer >= 2, got {self.member_samples!r}")
        return self


@dataclass
class Reconstruction:
    """Everything :func:`reconstruct` found.

    Attributes
    ----------
    report : dict
        JSON-able report (numbers, conventions, provenance).
    rhos : dict name -> complex128 ndarray
        Density matrices (``model_inversion``, ``model_projected``, ``model_mle``,
        ``data_inversion``, ``data_projected``, ``data_mle``, ``target``, reduced ones
        ``rdm_model_q0-1``, ...); qubit 0 is the leftmost factor.
    figures : dict
        Data for the report's figures.
    """

    report: dict[str, Any]
    rhos: dict[str, np.ndarray] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def qobjs(self) -> dict[str, Any]:
        """Every density matrix as a ``qutip.Qobj`` with qubit dims."""
        return {k: dm.to_qobj(v) for k, v in self.rhos.items()}


# --- helpers -----------------------------------------------------------------------------------
def _est(e: Estimate | None) -> dict[str, Any] | None:
    if e is None:
        return None
    v, s = float(e.value), float(e.stderr)
    out: dict[str, Any] = {"value": v, "stderr": s, "n": int(e.n)}
    if math.isfinite(s) and e.n > 0:
        out["ci95"] = [v - 1.96 * s, v + 1.96 * s]
    return out


def _lst(a: np.ndarray) -> list[Any]:
    return np.asarray(a, dtype=float).tolist()


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


def _model_samples(model: Any, n: int, seed: int) -> np.ndarray:
    import torch

    g = torch.Generator(device=model.device).manual_seed(int(seed))
    model.eval()
    parts = [model.sample(min(SAMPLE_BLOCK, n - s), g).cpu().numpy()
             for s in range(0, n, SAMPLE_BLOCK)]
    return np.concatenate(parts).astype(np.uint8)


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


class _Stage:
    def __init__(self, fn: Callable[[str], None] | None) -> None:
        self.fn = fn or (lambda s: None)

    def __call__(self, text: str) -> None:
        self.fn(text)


# --- main entry -----------------------------------------------------------------------------------
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
    stage = _Stage(on_stage)
    ds = open_dataset(data)
    try:
        return _reconstruct(ds, run_dir, cfg, stage, model)
    finally:
        ds.close()


def _reconstruct(ds: Any, run_dir: str | Path | None, cfg: ReconstructConfig,
                 stage: _Stage, model: Any = None) -> Reconstruction:
    n, K, frame = ds.n_qubits, ds.K, ds.frame  # noqa: N806
    target = dict(ds.target)
    noise = float(target.get("noise", 0.0) or 0.0)
    noise = 0.0 if not math.isfinite(noise) else noise
    psi = ds.target_array("psi")
    strings = parse_observables(cfg.observables, n)
    tfim = tfim_spec_from_target(target)
    subsystems = [list(s) for s in cfg.subsystems] if cfg.subsystems else mt.default_subsystems(n)
    for s in subsystems:
        mt._check_sites(s, n)  # noqa: SLF001 - same package
    rhos: dict[str, np.ndarray] = {}
    figures: dict[str, Any] = {"n_qubits": n}
    notes: list[str] = []

    # -- model -----------------------------------------------------------------------------------
    model_info: dict[str, Any] | None = None
    if model is not None:
        model_info = _model_info(model, ds, run_dir, {})
    elif run_dir is not None:
        stage("loading model")
        model, model_info = _load_model(run_dir, ds)
    if model_info is not None and run_dir is not None:
        if model_info["dataset_hash_matches"] is False:
            msg = (f"the model in {run_dir} was trained on another dataset "
                   f"({model_info['train_config'].get('dataset_path', '?')}); comparing it with "
                   f"{ds.path}")
            warnings.warn(msg, stacklevel=2)
            notes.append(msg)
        figures["training_curves"] = _read_metrics_csv(Path(run_dir) / "metrics.csv")

    # -- exact references ------------------------------------------------------------------------
    stage("exact references")
    mps = ds.target_mps() if psi is None else None
    exact = exact_observables(
        n, target=target, psi=psi, mps=mps, x_exact=ds.target_array("x_exact"),
        zz_exact=ds.target_array("zz_exact"), strings=strings, tfim=tfim,
    )

    # -- observables -----------------------------------------------------------------------------
    stage("observables from the shots")
    # with a model: the per-shot vector of one- and two-point Q values with its covariance,
    # for the model-vs-data consistency check
    vec_terms, vec_selection = cs.consistency_terms(n, strings) if model is not None else (None, "")
    acc = PauliAccumulator(frame, n, strings=strings, tfim=tfim, vector=vec_terms)
    sub_counts = {tuple(s): np.zeros(K ** len(s)) for s in subsystems}
    rdm_sites = tuple(range(min(2, n)))
    sub_counts.setdefault(rdm_sites, np.zeros(K ** len(rdm_sites)))
    for s0 in range(0, ds.shots, READ_BLOCK):
        a = ds.outcomes(s0, s0 + READ_BLOCK)
        acc.update(a)
        for s in sub_counts:
            sub_counts[s] += mt.marginal_counts(a, K, list(s))
    direct = acc.result("direct")
    samples = None
    model_obs = None
    if model is not None:
        stage(f"sampling {cfg.samples} strings from the model")
        samples = _model_samples(model, cfg.samples, cfg.seed)
        stage("observables from the model")
        macc = PauliAccumulator(frame, n, strings=strings, tfim=tfim, vector=vec_terms)
        macc.update(samples)
        model_obs = macc.result("model")

    observables = _observables_section(n, exact, direct, model_obs, strings)
    figures["observables"] = {
        "exact": exact, "direct": direct, "model": model_obs,
    }

    # -- quantum state ---------------------------------------------------------------------------
    quantum: dict[str, Any] = {"target": _target_label(target, noise), "noise": noise,
                               "convention": CONVENTIONS["quantum_fidelity"]}
    # every fidelity is taken to the ideal target |psi> (what the lab meant to prepare); with
    # simulated noise the state the shots came from is sigma = E_p(|psi><psi|), whose own
    # fidelity <psi|sigma|psi> is the exact value of the headline, and each reconstructed
    # state's Uhlmann fidelity to sigma is reported beside it
    ideal = mt.target_state(psi) if psi is not None else None
    sigma = mt.target_state(psi, noise) if psi is not None and noise > 0 else None
    if ideal is not None and n <= dm.MAX_RHO_QUBITS:
        rhos["target"] = np.outer(ideal, ideal.conj())
        if sigma is not None:
            rhos["target_noisy"] = sigma
    if ideal is not None:
        quantum["exact_fidelity"] = (
            1.0 if sigma is None else mt.physical_fidelity(sigma, ideal) if n <= dm.MAX_RHO_QUBITS
            else None)
        quantum["exact_fidelity_note"] = (
            "<psi|sigma|psi> of the state the shots were drawn from" if sigma is not None
            else "the shots were drawn from the target itself")
    elif mps is not None:  # N > 16: the target is stored as an MPS
        quantum["exact_fidelity"] = 1.0 if noise == 0 else None
        quantum["exact_fidelity_note"] = (
            "the shots were drawn from the target itself" if noise == 0 else
            "<psi|sigma|psi> is not computed for an MPS target with noise")
    dense_ok = n <= cfg.max_rho_qubits and K**n <= dm.MAX_TABLE_ENTRIES
    model_table = None
    freq = None
    if not dense_ok:
        quantum["dense"] = (f"no dense density matrix: N = {n} > {cfg.max_rho_qubits} or "
                            f"K^N = {K}^{n} > {dm.MAX_TABLE_ENTRIES}")
    if dense_ok and model is not None:
        stage("model density matrix")
        if getattr(model, "has_likelihood", False):
            model_table, tinfo = dm.probability_table(model)
        else:
            model_table = mt.histogram_table(samples, K)
            tinfo = {"source": f"histogram of {cfg.samples} model samples (no likelihood)"}
        # the rank of the model's MLE state is chosen by AIC on the measured shots (the
        # evaluation shots are too few to tell ranks apart reliably)
        quantum["model"] = _dense_states(
            "model", model_table, frame, n, (ideal, sigma), rhos, cfg, ds.shots, stage, tinfo,
            do_mle=cfg.mle, score_shots=ds.outcomes(0, SCORE_SHOTS),
        )
        if "mle_fit" in quantum["model"]:
            quantum["model"]["mle_fit"]["rank_selection"] = (
                f"AIC of the fitted states on {min(ds.shots, SCORE_SHOTS)} measured shots")
    if dense_ok:
        stage("density matrix from the raw frequencies")
        freq = np.zeros(K**n)
        for s0 in range(0, ds.shots, READ_BLOCK):
            freq += np.bincount(
                outcome_index(ds.outcomes(s0, s0 + READ_BLOCK), K), minlength=K**n
            )
        freq /= freq.sum()
        data_mle = cfg.mle and (
            n <= (DATA_MLE_WITH_MODEL_MAX_QUBITS if model is not None else DATA_MLE_MAX_QUBITS)
        )
        quantum["data"] = _dense_states(
            "data", freq, frame, n, (ideal, sigma), rhos, cfg, ds.shots, stage,
            {"source": f"relative frequencies of the {ds.shots} measured shots"},
            do_mle=data_mle,
        )
        if "mle_fit" in quantum["data"]:
            quantum["data"]["mle_fit"]["rank_selection"] = f"AIC on the {ds.shots} shots"
    direct_fid = _direct_fidelity(ds, psi, mps, quantum, stage)
    headline_fid = _headline_fidelity(quantum, direct_fid)

    # -- model-vs-data consistency ---------------------------------------------------------------
    consistency = None
    if model_obs is not None:
        stage("model-vs-data consistency")
        pairs = [
            cs.fidelity_pair(
                headline_fid, direct_value=direct_fid.value if direct_fid else None,
                direct_stderr=direct_fid.stderr if direct_fid else None, direct_n=ds.shots,
                model_samples=cfg.samples, model_has_likelihood=bool(model.has_likelihood),
            ),
            cs.estimate_pair("energy", "TFIM energy <H>", observables["scalars"].get("energy")),
        ]
        lr = None
        if "model_mle" in rhos and "data_mle" in rhos:
            stage("likelihood ratio of the model's state")
            lr = lrt.likelihood_ratio_test(freq, ds.shots, rhos["model_mle"], rhos["data_mle"],
                                           quantum["data"]["mle_fit"]["rank"], frame, n)
            if lr.rejected and ideal is not None:  # is the difference material?
                boot = _raw_mle_bootstrap(quantum, rhos, freq, ds.shots, frame, n, ideal,
                                          cfg.seed, stage)
                mf = (quantum.get("model", {}).get("mle") or {}).get("fidelity")
                if mf is not None and boot["stderr"] > 0:
                    z = (mf - quantum["data"]["mle"]["fidelity"]) / boot["stderr"]
                    lr = dataclasses.replace(lr, fidelity_z=float(z))
        consistency = cs.check_consistency(model_obs.vector, direct.vector,
                                           [x for x in pairs if x is not None],
                                           selection=vec_selection, likelihood_ratio=lr)
        if not consistency.consistent:
            headline_fid = cs.fallback(
                headline_fid, _fallback_fidelity(quantum, direct_fid, rhos, freq, ds.shots,
                                                 frame, n, ideal, cfg.seed, stage),
                consistency)

    # -- classical metrics -----------------------------------------------------------------------
    classical = None
    if model is not None:
        stage("classical fidelity and KL")
        classical = _classical(model, ds, psi, noise, frame, model_table, samples)

    # -- subsystems ------------------------------------------------------------------------------
    stage("subsystems")
    subs = []
    for s in subsystems:
        entry: dict[str, Any] = {"sites": s}
        entry["direct"] = mt.renyi2_from_counts(sub_counts[tuple(s)], frame)
        if samples is not None:
            entry["model"] = mt.renyi2_from_shots(samples, frame, s)
        ex = mt.exact_reduced_state(s, psi=psi, mps=mps, noise=noise)
        entry["exact"] = mt.renyi2_exact(ex) if ex is not None else None
        if "model_mle" in rhos:
            entry["model_mle"] = mt.renyi2_exact(dm.partial_trace(rhos["model_mle"], s))
        subs.append(entry)
    rdm = _rdm_section(list(rdm_sites), sub_counts[rdm_sites], samples, frame, psi, mps, noise,
                       rhos)

    # -- headline and report ---------------------------------------------------------------------
    energy = observables["scalars"].get("energy")
    headline_energy = _headline_energy(energy)
    if consistency is not None and energy is not None:
        headline_energy = cs.fallback(
            headline_energy, _headline_energy({k: v for k, v in energy.items() if k != "model"}),
            consistency)
    headline = {
        "quantum_fidelity": headline_fid,
        "energy": headline_energy,
        "classical_fidelity": (classical or {}).get("classical_fidelity"),
        "kl_divergence": (classical or {}).get("kl_divergence"),
    }
    figures["headline_rho"] = _headline_rho_name(
        rhos if consistency is None or consistency.consistent
        else {k: v for k, v in rhos.items() if not k.startswith("model")})
    report = {
        "format": "qtomo-report",
        "format_version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "model" if model is not None else "direct (no model)",
        "consistent": consistency.consistent if consistency is not None else None,
        "headline": headline,
        "consistency": consistency.as_dict() if consistency is not None else cs.no_model_block(),
        "quantum": quantum,
        "classical": classical,
        "observables": observables,
        "subsystems": subs,
        "reduced_density_matrix": rdm,
        "notes": notes,
        "conventions": CONVENTIONS,
        "provenance": {
            "dataset": {
                "path": str(Path(ds.path).resolve()), "hash": ds.dataset_hash,
                "n_qubits": n, "shots": ds.shots, "eval_shots": ds.eval_shots,
                "povm": frame.name, "K": K, "target": target, "config": ds.config,
                "created": ds.attrs.get("created"), "qtomo_version": ds.attrs.get("qtomo_version"),
            },
            "model": model_info,
            "reconstruct_config": asdict(cfg),
            "versions": _versions(),
        },
    }
    if model is not None and run_dir is not None:  # error bars from bootstrap members
        from qtomo.reconstruction.bootstrap import attach_bootstrap

        attach_bootstrap(report, figures, ds, run_dir, {
            "psi": psi, "noise": noise, "ideal": ideal, "frame": frame, "strings": strings,
            "tfim": tfim, "subsystems": subsystems, "dense": dense_ok,
            "mle_rank": ((quantum.get("model") or {}).get("mle_fit") or {}).get("rank"),
            "mle_init": rhos.get("model_mle"),
            "val_fraction": (model_info or {}).get("train_config", {}).get("val_fraction"),
        }, samples=cfg.member_samples, seed=cfg.seed, precision=cfg.precision, stage=stage)
    return Reconstruction(report=report, rhos=rhos, figures=figures)


def _direct_fidelity(ds: Any, psi: Any, mps: Any, quantum: dict[str, Any],
                     stage: _Stage) -> Estimate | None:
    """The direct estimate of <psi|rho_lab|psi> from the shots, into ``quantum``; None when
    there is no target or it is out of reach (N or the MPS bond too large; a note says so)."""
    n, frame = ds.n_qubits, ds.frame
    if psi is not None and n <= mt.MAX_DIRECT_FIDELITY_QUBITS:
        def values(a: np.ndarray) -> np.ndarray:
            return mt.direct_fidelity_values(a, frame, psi)
        how = None
    elif (psi is not None or mps is not None) and n <= mt.MAX_DIRECT_FIDELITY_MPS_QUBITS:
        from qtomo.states.targets import statevector_to_mps

        m = mps if mps is not None else statevector_to_mps(psi)
        if m.max_bond > mt.MAX_DIRECT_FIDELITY_BOND:
            quantum["direct_estimate_note"] = (
                f"not computed: the target's MPS has bond dimension {m.max_bond} > "
                f"{mt.MAX_DIRECT_FIDELITY_BOND}")
            return None

        def values(a: np.ndarray) -> np.ndarray:
            return mt.direct_fidelity_values_mps(a, frame, m)
        how = f"MPS of the target (bond dimension {m.max_bond})"
    else:
        if psi is not None or mps is not None:
            quantum["direct_estimate_note"] = (
                f"not computed: N = {n} > {mt.MAX_DIRECT_FIDELITY_MPS_QUBITS} (its variance "
                "grows exponentially with N)")
        return None
    stage("direct fidelity estimate")
    vals = np.concatenate([values(ds.outcomes(s0, s0 + READ_BLOCK))
                           for s0 in range(0, ds.shots, READ_BLOCK)])
    from qtomo.povm.born import estimate

    direct_fid = estimate(vals)
    quantum["direct_estimate"] = {
        **_est(direct_fid),
        "quantity": "squared fidelity <psi|rho_lab|psi> to the ideal target",
        "convention": CONVENTIONS["direct_fidelity"],
    }
    if how:
        quantum["direct_estimate"]["contraction"] = how
    return direct_fid


def _load_model(run_dir: str | Path, ds: Any) -> tuple[Any, dict[str, Any]]:
    from qtomo.training.checkpoint import load_run

    model, run_cfg = load_run(run_dir)
    return model, _model_info(model, ds, run_dir, run_cfg)


def _model_info(model: Any, ds: Any, run_dir: str | Path | None,
                run_cfg: dict[str, Any]) -> dict[str, Any]:
    import json

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
    import csv

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


def _target_label(target: dict[str, Any], noise: float) -> str:
    state = str(target.get("state", "unknown"))
    if state == "tfim":
        label = (f"TFIM ground state (J={target.get('J')}, h={target.get('h')}, "
                 f"{target.get('boundary')} boundary)")
    elif state == "ghz":
        label = "GHZ state (|0...0> + |1...1>)/sqrt(2)"
    elif state == "custom":
        label = f"custom state vector ({target.get('target_file', 'file')})"
    elif state in ("w", "cluster", "product", "random-mps"):
        label = {"w": "W state (|10..0> + ... + |0..01>)/sqrt(N)", "cluster": "1-D open cluster state (CZ chain on |+>^N)", "product": f"random product state (seed {target.get('seed')})", "random-mps": f"random MPS, bond dimension 2 (seed {target.get('seed')})"}[state]  # noqa: E501
    else:
        label = "unknown (no target stored)"
    if noise > 0:
        label += f" with local depolarizing noise p={noise:g} (mixed target)"
    return label


def _dense_states(prefix: str, table: np.ndarray, frame: Any, n: int,
                  targets: tuple[Any, Any],
                  rhos: dict[str, np.ndarray], cfg: ReconstructConfig, n_shots: int,
                  stage: _Stage, table_info: dict[str, Any], *, do_mle: bool,
                  score_shots: np.ndarray | None = None,
                  held_out: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"table": table_info}
    rho_inv = rho_from_probabilities(table, frame, n)
    rho_proj = dm.project_to_physical(rho_inv)
    rhos[f"{prefix}_inversion"] = rho_inv
    rhos[f"{prefix}_projected"] = rho_proj
    states = {"inversion": rho_inv, "projected": rho_proj}
    if do_mle:
        stage(f"maximum-likelihood state ({prefix})")
        if cfg.mle_rank is None:
            res = dm.fit_mle_auto(table, frame, n, n_shots=n_shots, init=rho_proj,
                                  score_outcomes=score_shots, held_out=held_out)
        else:
            res = dm.fit_mle(table, frame, n, rank=cfg.mle_rank, init=rho_proj)
        rhos[f"{prefix}_mle"] = res.rho
        states["mle"] = res.rho
        out["mle_fit"] = res.info()
    for name, rho in states.items():
        entry: dict[str, Any] = dm.summarize(rho).as_dict()
        ideal, sigma = targets
        if ideal is not None:
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
        out[name] = entry
    return out


def _headline_fidelity(quantum: dict[str, Any], direct: Estimate | None) -> dict[str, Any]:
    """The model's MLE state; else the direct estimate from the shots; else the MLE (or
    projected) state of the raw frequencies. Every one is the squared fidelity to the ideal
    target |psi>; ``exact`` is <psi|sigma|psi> of the state the shots came from, when known."""
    conv = CONVENTIONS["quantum_fidelity"]
    exact = {"exact": quantum["exact_fidelity"]} if "exact_fidelity" in quantum else {}
    for src, label in (("model", "model"), ("data", "raw shot frequencies")):
        sec = quantum.get(src, {})
        if src == "data" and direct is not None:
            return {**_est(direct), **exact, "source": "direct estimate from the measured "
                    "shots (unbiased)", "convention": CONVENTIONS["direct_fidelity"]}
        for kind, what in (("mle", "maximum-likelihood physical state fitted to the"),
                           ("projected", "inversion, projected to a physical state, of the")):
            e = sec.get(kind)
            if e and e.get("fidelity") is not None:
                table = "model's outcome table" if src == "model" else label
                return {"value": e["fidelity"], "stderr": None, **exact,
                        "source": f"{src}: {what} {table} (point estimate, no error bar)",
                        "convention": conv}
    return {"value": None, "stderr": None, "source": "not computable (no target state vector "
            "stored, or N too large)", "convention": conv}


def _raw_mle_bootstrap(quantum: dict[str, Any], rhos: dict[str, np.ndarray], freq: np.ndarray,
                       n_shots: int, frame: Any, n: int, ideal: Any, seed: int,
                       stage: _Stage) -> dict[str, Any]:
    """The raw-frequency MLE's bootstrap (computed once, kept in the report)."""
    entry = quantum["data"]["mle"]
    if "bootstrap" not in entry:
        stage("bootstrap of the raw-frequency MLE")
        entry["bootstrap"] = lrt.raw_mle_bootstrap(
            freq, n_shots, rhos["data_mle"], quantum["data"]["mle_fit"]["rank"], frame, n,
            ideal, seed=seed)
    return entry["bootstrap"]


def _fallback_fidelity(quantum: dict[str, Any], direct: Estimate | None,
                       rhos: dict[str, np.ndarray], freq: np.ndarray | None, n_shots: int,
                       frame: Any, n: int, ideal: Any, seed: int,
                       stage: _Stage) -> dict[str, Any]:
    """The best-supported fidelity from the shots alone, for a model the check rejects: the
    raw-frequency MLE with its bootstrap error bar where it was fitted (small N), or the
    direct estimate, whichever has the smaller standard error; else the raw-frequency states.
    """
    no_model = {k: v for k, v in quantum.items() if k != "model"}
    out = _headline_fidelity(no_model, direct)
    if "data_mle" not in rhos or freq is None or ideal is None:
        return out
    boot = _raw_mle_bootstrap(quantum, rhos, freq, n_shots, frame, n, ideal, seed, stage)
    value = quantum["data"]["mle"]["fidelity"]
    if direct is not None and not boot["stderr"] < direct.stderr:
        return out
    exact = {"exact": quantum["exact_fidelity"]} if "exact_fidelity" in quantum else {}
    return {"value": value, "stderr": boot["stderr"], "ci95": boot["ci95"], **exact,
            "source": ("raw shot frequencies: maximum-likelihood physical state (standard "
                       f"tomography), error bar from {boot['b']} bootstrap refits"),
            "convention": CONVENTIONS["quantum_fidelity"]}


def _headline_energy(energy: dict[str, Any] | None) -> dict[str, Any] | None:
    if energy is None:
        return None
    src = "model" if energy.get("model") else "direct"
    e = energy[src]
    return {**e, "source": f"{src} estimate", "exact": energy.get("exact"),
            "convention": CONVENTIONS["energy"]}


def _headline_rho_name(rhos: dict[str, np.ndarray]) -> str | None:
    for name in ("model_mle", "model_projected", "data_mle", "data_projected"):
        if name in rhos:
            return name
    return None


def _observables_section(n: int, exact: ObservableSet, direct: ObservableSet,
                         model: ObservableSet | None,
                         strings: dict[str, dict[int, str]]) -> dict[str, Any]:
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
        entry = {k: _est(v.scalars[name]) for k, v in srcs.items()}
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


def _classical(model: Any, ds: Any, psi: Any, noise: float, frame: Any,
               model_table: np.ndarray | None, samples: np.ndarray | None) -> dict[str, Any] | None:
    n, K = ds.n_qubits, ds.K  # noqa: N806
    conv = {"classical_fidelity": CONVENTIONS["classical_fidelity"],
            "kl_divergence": CONVENTIONS["kl_divergence"]}
    small = psi is not None and K**n <= dm.MAX_TABLE_ENTRIES and n <= dm.MAX_RHO_QUBITS
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
        from qtomo.training.metrics import log_prob_numpy

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


def _rdm_section(sites: list[int], counts: np.ndarray, samples: np.ndarray | None, frame: Any,
                 psi: Any, mps: Any, noise: float, rhos: dict[str, np.ndarray]) -> dict[str, Any]:
    label = "q" + "-".join(str(s) for s in sites)
    exact = mt.exact_reduced_state(sites, psi=psi, mps=mps, noise=noise)
    out: dict[str, Any] = {"sites": sites, "convention": "linear inversion of the marginal "
                           "frequencies of these qubits (unbiased, may be unphysical); "
                           "'projected' is its closest physical state"}
    srcs = {"direct": mt.rdm_from_counts(counts, frame)}
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


__all__ = ["CONVENTIONS", "ReconstructConfig", "Reconstruction", "reconstruct"]
