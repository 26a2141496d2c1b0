"""qtomo's public Python API: the calls behind the ``qtomo`` commands.

>>> import qtomo
>>> ds = qtomo.simulate("tfim6.h5", n_qubits=6, shots=20_000)           # qtomo simulate
>>> run = qtomo.train(ds, "runs/tfim6", model="gru", epochs=5)          # qtomo train
>>> rec = qtomo.reconstruct(ds, run, samples=20_000)                    # qtomo reconstruct
>>> rec.fidelity["value"], rec.rho, rec.observables["Z0 Z1"]
>>> rec.write_report("report6")

:func:`load` opens an existing dataset, :func:`import_shots` imports lab shots
(``qtomo import``), :func:`plan` writes the design of a lab-scale fidelity protocol
(``qtomo plan``). Each command of the CLI calls exactly one of these functions, so the
numbers are the same either way. Options are explicit keyword arguments with the CLI's
defaults; bad values raise :class:`qtomo.errors.QtomoError` subclasses with a one-line message
(the CLI maps them to its exit codes).

Conventions (docs/conventions.md): outcome strings are uint8 ``(shots, N)`` with column j = qubit j;
state vectors are big-endian (qubit 0 most significant) and density matrices have qubit 0 as
the leftmost tensor factor; quantum fidelities use the squared convention
``F = <psi|rho|psi>`` (QuTiP's ``fidelity`` returns its square root); KL divergences and
negative log-likelihoods are in nats.

Heavy modules (torch, the samplers, QuTiP) are imported inside the calls, so that
``import qtomo`` stays light.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtomo.api.results import Dataset, ObservableTable, Reconstruction, Run
from qtomo.errors import InputValueError

if TYPE_CHECKING:
    from qtomo.data.design_file import DesignSpec

PathLike = str | os.PathLike[str]


def _path(x: Dataset | Run | PathLike) -> Path:
    return x.path if isinstance(x, (Dataset, Run)) else Path(x)


def simulate(
    out: PathLike, *, state: str | None = None, n_qubits: int | None = None,
    J: float | None = None, h: float | None = None, boundary: str | None = None,
    povm: str | None = None, shots: int | None = None, eval_shots: int = 10_000,
    noise: float = 0.0, seed: int = 1234,
    method: str = "auto", chi: int = 64, cutoff: float = 1e-10, log_p: str = "all",
    readout_error: tuple[float, float] | None = None, design: PathLike | None = None,
    shots_per_setting: int | None = None, drift: float = 0.0, readout_drift: float = 0.0,
    calibration_shots: int = 0, overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Dataset:
    """Build a target state and sample POVM shots of it into the dataset file ``out``.

    Parameters
    ----------
    out : path
        The ``.h5`` file to write (atomically; refused if it exists unless ``overwrite``).
    state : {"tfim", "ghz", "w", "cluster", "product", "random-mps", "haar"}, optional
        TFIM ground state of H = -J sum Z_i Z_{i+1} - h sum X_i, GHZ state, a family state
        (any N: a state vector up to 16 qubits, an exact MPS above) or a Haar-random state
        (N <= 12), see :mod:`qtomo.states.targets`. Default: the ``design``'s target, else tfim.
    n_qubits, J, h, boundary, method, chi, cutoff :
        Size (default: the design file's, else 10), couplings (default: the design's target's,
        else J = h = 1, open) and ground-state method (``auto``: ED up to 14 qubits, DMRG
        above, with at most ``chi`` states per bond and discarded weight ``cutoff``).
    povm : {"pauli4", "tetra", "pauli6"}, optional
        Single-qubit POVM measured on every qubit (outcome order in :mod:`qtomo.povm.frames`);
        default pauli4, and pauli6 (the only one allowed) with a ``design``.
    shots, eval_shots : int
        Training shots (default 100,000; not with a ``design``) and fresh evaluation shots
        (stored apart, never trained on; random Pauli-6 draws with a ``design``).
    noise : float
        Local depolarizing strength p in [0, 1].
    seed : int
        The same seed gives the same file contents.
    log_p : {"all", "none"}
        Store the exact natural log P(a) of every shot (with a ``design``: log P(bits |
        setting) of the nominal measurement).
    readout_error : (P10, P01), optional
        Misread every qubit's bit with P(read 1 | 0) = P10 and P(read 0 | 1) = P01 (Pauli-6
        only); stored as the dataset's readout, which :func:`reconstruct` corrects.
    design : path or "all-pauli", optional
        A fixed design (:mod:`qtomo.data.design_file`: Pauli settings or any axes), every
        setting measured exactly its shots; ``"all-pauli"``: the 3^N Pauli settings (N <= 8).
    shots_per_setting : int, optional
        Shots of every setting (required for ``"all-pauli"``; else overrides the file's).
    drift, readout_drift : float
        A device that drifts between settings (fixed designs, :mod:`qtomo.data.drift`): every
        axis turned by an angle ~ N(0, drift) radians in every setting; flip probabilities
        redrawn per setting and qubit with standard deviation ``readout_drift`` (needs
        ``readout_error``). The stored design, readout and target stay the nominal ones.
    calibration_shots : int
        Store the readout a lab would estimate from this many simulated calibration shots of
        each of |0...0> and |1...1> (needs ``readout_error``; 0: the exact matrices).
    progress, on_stage : callable, optional
        ``progress(k)`` after each block of k shots; ``on_stage(text)`` at each stage.

    Returns
    -------
    Dataset
        ``summary`` holds the JSON of ``qtomo simulate --json`` (n_qubits, shots, povm,
        state, method, noise, energy, truncation_error, log_p_true, out, and with a design
        its summary, drift, readout_drift, calibration_shots, sampler, protocol).
    """
    from qtomo.data.simulate import SimulateConfig
    from qtomo.data.simulate import simulate as _simulate
    from qtomo.data.simulate_design import design_target, resolved_defaults

    design_str = None if design is None else str(design)
    n_qubits, povm, shots = resolved_defaults(design_str, n_qubits, povm, shots)
    cfg = SimulateConfig(
        **design_target(design_str, {"state": state, "J": J, "h": h, "boundary": boundary}),
        n_qubits=n_qubits, povm=povm, shots=shots, eval_shots=eval_shots, noise=noise,
        seed=seed, method=method, chi=chi, cutoff=cutoff, log_p=log_p,
        readout_error=None if readout_error is None else tuple(map(float, readout_error)),
        design=design_str, shots_per_setting=shots_per_setting, drift=float(drift),
        readout_drift=float(readout_drift), calibration_shots=int(calibration_shots))
    summary = _simulate(cfg, out, overwrite=overwrite, progress=progress, on_stage=on_stage)
    return Dataset(Path(out), summary)


def load(path: PathLike) -> Dataset:
    """Open and validate an existing dataset file; raises ``DataFileError`` naming what is
    wrong (missing, not HDF5, wrong schema, incomplete, out-of-range outcomes)."""
    ds = Dataset(Path(path))
    _ = ds.info  # validate now
    return ds


def import_shots(
    source: PathLike, out: PathLike, *, format: str = "auto",
    povm: str | None = None, bit_order: str = "q0-first", target: str = "none",
    J: float = 1.0, h: float = 1.0, boundary: str = "open",
    basis_alpha: float = 0.01, seed: int = 1234, calibration: PathLike | None = None,
    readout: PathLike | None = None, design: PathLike | None = None, overwrite: bool = False,
) -> Dataset:
    """Import lab data into the dataset file ``out`` (``qtomo import``).

    Parameters
    ----------
    source : path
        ``pauli-basis``: one basis letter (X, Y, Z) and one bit per qubit and shot (CSV,
        ``.npy``); ``outcomes``: POVM outcome indices; ``counts``: counts per fixed setting
        (JSON or CSV ``setting,outcome,count``); ``shadow``: ``.npz`` with ``bits`` and
        ``recipes``. Layouts in :mod:`qtomo.data.lab_files` and :mod:`qtomo.data.counts`.
    format : {"auto", "pauli-basis", "outcomes", "counts", "shadow"}
        ``auto``: from the extension and the header (``outcomes`` is never guessed).
    povm : str, optional
        ``pauli-basis`` and ``shadow``: ``pauli6`` (default) or ``pauli4`` (coarse-grained);
        ``counts``: ``pauli6``; ``outcomes``: the POVM of the indices (required).
    bit_order : {"q0-first", "q0-last"}
        Whether the first or the last character is qubit 0 (Qiskit: ``q0-last``).
    seed : int
        Seed of the shuffle that turns counts into per-shot rows (any prefix is a fair sample).
    calibration, readout : path, optional
        Calibration counts of prepared |0...0> and |1...1> (JSON), or per-qubit confusion
        matrices (JSON); layouts in :mod:`qtomo.data.readout`. The matrices and the effective
        per-qubit POVM they make are stored in the dataset (``Dataset.readout``);
        :func:`reconstruct` corrects the readout with them unless told not to.
    target : str
        ``none``, ``ghz``, ``tfim`` (with J, h, boundary) or a ``.npy`` state vector
        (big-endian); stored so that :func:`reconstruct` reports the fidelity to it.
    basis_alpha : float
        Level of the chi-square test of uniform basis frequencies; when it fails a
        ``LabImportWarning`` is issued and the POVM is built from the measured frequencies.
    design : path, optional
        The design file of ``qtomo plan`` the counts follow: the counts must hold its
        settings, and the dataset stores the plan and its target, so that :func:`reconstruct`
        reports the plan's lab-scale fidelity (:mod:`qtomo.data.lab_plan`).

    Returns
    -------
    Dataset
        ``summary`` holds the JSON of ``qtomo import --json`` (with the basis check's
        warnings, the design and the readout); ``design`` and ``readout`` read them back.
    """
    from qtomo.data.lab import LabImportConfig, import_lab_shots

    if povm is None:
        if format == "outcomes":
            raise InputValueError("--format outcomes needs --povm (pauli4, tetra or pauli6): "
                                  "the POVM whose outcome indices the file holds")
        povm = "pauli6"
    cfg = LabImportConfig(format=format, povm=povm.lower(), bit_order=bit_order, target=target,
                          J=J, h=h, boundary=boundary, basis_alpha=basis_alpha, seed=seed,
                          calibration=None if calibration is None else str(calibration),
                          readout=None if readout is None else str(readout),
                          design=None if design is None else str(design)).validate()
    summary = import_lab_shots(source, out, cfg, overwrite=overwrite)
    return Dataset(Path(out), summary)


def train(
    dataset: Dataset | PathLike, out: PathLike = "qtomo_run", *, model: str | None = "gru",
    epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
    hparams: dict[str, Any] | None = None, val_fraction: float | None = None,
    patience: int | None = None, weight_decay: float | None = None,
    symmetry: str | None = None, keep: str | None = None, bootstrap: int | None = None,
    learning_curve: bool | None = None, seed: int | None = None, device: str = "auto",
    precision: str | None = None, max_minutes: float | None = None, resume: bool = False,
    overwrite: bool = False, progress: bool | None = None,
) -> Run:
    """Fit a generative model to the shots of ``dataset`` into the run directory ``out``.

    Options left as None take the defaults adapted to the dataset (``qtomo train``'s; see
    :func:`qtomo.training.config.dataset_config`). ``hparams`` are model options (``hidden``,
    ``layers``, ``flow``, ...). With ``resume`` the run in ``out`` continues from its
    ``last.pt``; the options given must then match the stored ones (``device`` and
    ``max_minutes`` may change), and ``model`` / ``seed`` left as None mean the stored ones.

    Returns
    -------
    Run
        ``summary`` holds the JSON of ``qtomo train --json`` (val_nll in nats per string;
        classical_fidelity and kl_divergence in nats on the evaluation shots, with ``_se``).
    """
    from qtomo.training.config import dataset_config, parse_device
    from qtomo.training.session import resume_training, run_training

    data = _path(dataset)
    device = parse_device(device)
    given = {k: v for k, v in {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "val_fraction": val_fraction,
        "patience": patience, "weight_decay": weight_decay, "precision": precision,
        "symmetry": symmetry, "keep": keep, "bootstrap": bootstrap,
        "learning_curve": True if learning_curve else None,
    }.items() if v is not None}
    if resume:
        settings = dict(given, device=device)
        if max_minutes is not None:
            settings["max_minutes"] = max_minutes
        if hparams:
            settings["hparams"] = dict(hparams)
        if seed is not None:
            settings["seed"] = seed
        if model is not None:
            settings["model"] = model
        summary = resume_training(data, out, settings=settings, progress=progress)
    else:
        sym = given.pop("symmetry", None)
        cfg = dataset_config(data, model or "gru", symmetry=sym, hparams=dict(hparams or {}),
                             **given, seed=1234 if seed is None else seed, device=device,
                             max_minutes=max_minutes)
        summary = run_training(data, out, cfg, overwrite=overwrite, progress=progress)
    return Run(Path(out), summary)


def reconstruct(
    dataset: Dataset | PathLike, run: Run | PathLike | None = None, *, samples: int = 100_000,
    observables: Sequence[str] = (), seed: int = 1234, max_rho_qubits: int = 10,
    mle: bool = True, mle_rank: int | None = None,
    subsystems: Sequence[Sequence[int]] | None = None, precision: float | None = None,
    readout_correction: bool = True, estimator: str = "auto",
    report: PathLike | None = None, save_rho: bool = False, overwrite: bool = False,
    model: Any = None, on_stage: Callable[[str], None] | None = None,
) -> Reconstruction:
    """Reconstruct the state behind ``dataset`` from the model of ``run`` (or from the shots).

    Parameters
    ----------
    dataset : Dataset or path
    run : Run, path or None
        A run directory of :func:`train`; None: from the shots alone (direct estimator, and
        for small N linear inversion and maximum likelihood of the raw frequencies).
    samples : int
        Strings sampled from the model for observables and subsystem entropies.
    observables : sequence of str
        Extra Pauli strings such as ``"Z0 Z5"``.
    max_rho_qubits, mle, mle_rank :
        Dense density matrices up to this N (<= 10); maximum-likelihood fits and their rank
        (None: chosen by AIC on the measured shots).
    subsystems : sequence of qubit lists, optional
        For Renyi-2 entropies (<= 4 qubits each); default the leading blocks 0..k-1.
    precision : float, optional
        Target error bar of the headline fidelity (shots planning, runs with learning curves).
    readout_correction : bool
        Remove the readout errors of the dataset's calibration through its effective
        per-qubit POVM (no effect without one); ``report["readout"]`` gives the headline
        figures without it, and the calibration's own error.
    report : path, optional
        Report directory: checked before anything is computed (refused if not empty unless
        ``overwrite``), written at the end (:meth:`Reconstruction.write_report`).
    estimator : str
        The estimate that heads the report: ``auto`` (the headline policy,
        :func:`qtomo.reconstruction.headline.choose_headline`), ``model``, ``blend``,
        ``raw-mle`` or ``direct`` (``qtomo reconstruct --estimator``).
    model : DensityEstimator, optional
        A model object to use instead of loading ``run``.
    on_stage : callable, optional
        Called with a short text at the start of each stage.

    Returns
    -------
    Reconstruction
        ``fidelity`` (headline, squared convention), ``rho`` (``qutip.Qobj``),
        ``observables`` (table), ``report`` (dict), ``summary`` (``qtomo reconstruct --json``).
    """
    from qtomo.reconstruction.run import ReconstructConfig
    from qtomo.reconstruction.run import reconstruct as _reconstruct
    from qtomo.reports.report import check_report_dir

    cfg = ReconstructConfig(
        samples=samples, observables=tuple(observables), seed=seed,
        max_rho_qubits=max_rho_qubits, mle=mle, mle_rank=mle_rank,
        subsystems=tuple(tuple(s) for s in subsystems) if subsystems else None,
        precision=precision, readout_correction=bool(readout_correction), estimator=estimator,
    ).validate()
    if report is not None:
        check_report_dir(report, overwrite)
    run_dir = _path(run) if run is not None else None
    res = _reconstruct(_path(dataset), run_dir, cfg, model=model, on_stage=on_stage)
    rec = Reconstruction(res, _path(dataset), run_dir)
    if report is not None:
        rec.write_report(report, save_rho=save_rho, overwrite=overwrite)
    return rec


def plan(
    out: PathLike | None, *, state: str, n_qubits: int, protocol: str,
    precision: float | None = None, shots: int | None = None, J: float = 1.0, h: float = 1.0,
    boundary: str = "open", noise: float = 0.0, readout_error: tuple[float, float] | None = None,
    settings: int | None = None, seed: int = 1234, overwrite: bool = False,
) -> DesignSpec:
    """The fixed design that certifies a target's fidelity at lab scale (``qtomo plan``).

    Returns the design (a :class:`qtomo.data.design_file.DesignSpec`: settings, shots, target,
    protocol, precision, the plan block and, for stabilizer designs, each setting's group
    element) and writes its design file (:mod:`qtomo.data.design_file`) to ``out``
    atomically unless ``out`` is None; an existing file is replaced only with ``overwrite``.
    Parameters as :func:`qtomo.reconstruction.lab_scale.plan.plan_design`: the target
    (``ghz``, ``cluster`` or ``tfim`` with ``J``, ``h``, ``boundary``), the protocol
    (``parity``, ``stabilizer`` or ``energy``), one of ``precision`` (a standard error) and
    ``shots`` (a total), and the noise and readout flips the shot counts budget for.
    """
    from qtomo.data.design_file import write_design_file
    from qtomo.data.writer import check_output_path
    from qtomo.reconstruction.lab_scale.plan import plan_design

    if out is not None:
        check_output_path(out, overwrite, suffix=".json")
    spec = plan_design(state, n_qubits, protocol, precision=precision, shots=shots, J=J, h=h,
                       boundary=boundary, noise=noise, readout_error=readout_error,
                       settings=settings, seed=seed)
    if out is not None:
        write_design_file(out, spec)
    return spec


__all__ = [
    "Dataset",
    "ObservableTable",
    "Reconstruction",
    "Run",
    "import_shots",
    "load",
    "plan",
    "reconstruct",
    "simulate",
    "train",
]
