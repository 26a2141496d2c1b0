"""Sample POVM shots of a target state into a dataset file (library side of ``qtomo simulate``).

The target comes from :mod:`qtomo.states.targets` (the one builder ``qtomo import`` uses too);
this module is the simulated counterpart of :mod:`qtomo.data.lab` and sits beside it in the
data layer. The sampled state is always pure (``psi`` or an MPS); local depolarizing noise
enters through the Heisenberg-picture POVM ``frame.depolarized(noise)``, so the stored exact
log-probabilities are those of the noisy state measured with the ideal POVM. Stored reference
observables (``x_exact``, ``zz_exact``) are those of the measured, noisy state: <X_i> scales by
(1-p) and <Z_i Z_j> (i != j) by (1-p)^2. ``energy`` is the ground energy of the Hamiltonian
(pure target). Readout errors (``readout_error``, Pauli-6) misread the bits after the
measurement: the sampler uses the effective POVM M'(s, b) = sum_b' C[b|b'] M(s, b'), so the
stored log-probabilities are those of the bits as read, and the dataset stores the confusion
matrices with the per-qubit POVM (:mod:`qtomo.data.schema`); the target stays the prepared
state. With ``calibration_shots`` the stored matrices are those a lab would estimate from
simulated calibration counts (:mod:`qtomo.data.drift`).

A ``design`` (``"all-pauli"`` or a design file, :mod:`qtomo.data.design_file`) measures every
setting of a fixed design exactly ``shots_per_setting`` times instead, optionally on a device
that drifts between settings (``drift``, ``readout_drift``): :mod:`qtomo.data.simulate_design`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.design import confusion_from_flips, confusion_problem
from qtomo.data.hdf5 import DatasetWriter, check_output_path, iter_blocks
from qtomo.data.shot_sampler import TABLE_MAX_ENTRIES, ShotSampler
from qtomo.data.simulate_design import (
    STREAM_EVAL,
    STREAM_SHOTS,
    simulate_fixed,
    stored_readout,
    streams,
)
from qtomo.errors import InputValueError
from qtomo.povm.frames import POVM_NAMES, get_frame, with_readout
from qtomo.states.targets import (
    AUTO_ED_MAX,
    FAMILY_STATES,
    METHODS,
    STATES,
    Target,
    build_target,
    check_target,
    resolved_method,
)

#: Shots sampled per block (bounds memory; one progress-bar step each).
BLOCK_SHOTS = 50_000


@dataclass(frozen=True)
class SimulateConfig:
    """Everything that defines a simulated dataset (stored as JSON in the file)."""

    state: str = "tfim"
    n_qubits: int = 10
    J: float = 1.0
    h: float = 1.0
    boundary: str = "open"
    povm: str = "pauli4"
    shots: int = 100_000
    eval_shots: int = 10_000
    noise: float = 0.0
    seed: int = 1234
    method: str = "auto"
    chi: int = 64
    cutoff: float = 1e-10
    log_p: str = "all"
    #: (P(read 1 | 0), P(read 0 | 1)) on every qubit, Pauli-6 only; None: bits read perfectly.
    readout_error: tuple[float, float] | None = None
    #: A fixed design: ``"all-pauli"`` or the path of a design file (None: bases per shot).
    design: str | None = None
    #: Shots of every setting of ``design`` (None: the design file's own).
    shots_per_setting: int | None = None
    #: SIGMA (radians) of the random rotation of every axis in every setting (fixed designs).
    drift: float = 0.0
    #: SPREAD of the flip probabilities redrawn per setting and qubit (fixed designs).
    readout_drift: float = 0.0
    #: Simulated calibration shots per prepared |0...0> and |1...1> (0: the exact readout).
    calibration_shots: int = 0

    def validate(self) -> None:
        """Raise :class:`InputValueError` with one line for any bad value."""
        if self.povm not in POVM_NAMES:
            raise InputValueError(
                f"unknown POVM {self.povm!r}; expected one of {', '.join(POVM_NAMES)}"
            )
        if self.shots < 1:
            raise InputValueError(f"--shots must be >= 1, got {self.shots}")
        self._validate_device()
        if self.eval_shots < 0:
            raise InputValueError(f"--eval-shots must be >= 0, got {self.eval_shots}")
        if self.log_p not in ("all", "none"):
            raise InputValueError(f"--log-p must be all or none, got {self.log_p!r}")
        check_target(self.state, self.n_qubits, **self.target_kwargs(with_seed=False))
        if self.readout_error is not None:
            if self.povm != "pauli6":
                raise InputValueError("--readout-error flips the bits of Pauli measurements; it "
                                      f"needs --povm pauli6, not {self.povm}")
            problem = confusion_problem(self.confusion())
            if problem:
                raise InputValueError(f"--readout-error {self.readout_error[0]:g},"
                                      f"{self.readout_error[1]:g}: {problem.split(': ', 1)[-1]}")

    def _validate_device(self) -> None:
        """The options of fixed designs, drift and calibration."""
        for name, v in (("drift", self.drift), ("readout-drift", self.readout_drift)):
            if not (np.isfinite(v) and v >= 0):
                raise InputValueError(f"--{name} must be a finite number >= 0, got {v}")
        if self.calibration_shots < 0:
            raise InputValueError(f"--calibration-shots must be >= 0, got "
                                  f"{self.calibration_shots}")
        if (self.calibration_shots or self.readout_drift) and self.readout_error is None:
            what = "--calibration-shots" if self.calibration_shots else "--readout-drift"
            raise InputValueError(f"{what} needs --readout-error P10,P01 (the nominal readout)")
        if self.design is None:
            for name, v in (("drift", self.drift), ("readout-drift", self.readout_drift),
                            ("shots-per-setting", self.shots_per_setting)):
                if v:
                    raise InputValueError(f"--{name} applies to fixed designs; give --design "
                                          "FILE or --design all-pauli")
        elif self.povm != "pauli6":
            raise InputValueError(f"a fixed design is stored as Pauli-6 outcomes (and axis "
                                  f"settings' bits); --povm must be pauli6, not {self.povm}")

    def flips(self) -> np.ndarray:
        """Flip probabilities (N, 2) = (P(1|0), P(0|1)) of ``readout_error`` (zeros: none)."""
        return np.broadcast_to(np.asarray(self.readout_error or (0.0, 0.0), dtype=np.float64),
                               (self.n_qubits, 2)).copy()

    def confusion(self) -> np.ndarray:
        """Per-qubit confusion matrices (N, 2, 2) of ``readout_error``, C[b, b'] = P(b | b')."""
        return confusion_from_flips(self.flips())

    def target_kwargs(self, *, with_seed: bool = True) -> dict[str, Any]:
        """The keyword arguments of :func:`qtomo.states.targets.build_target` (N, state apart)."""
        out: dict[str, Any] = {
            "J": self.J, "h": self.h, "boundary": self.boundary, "method": self.method,
            "noise": self.noise, "chi": self.chi, "cutoff": self.cutoff,
        }
        if with_seed:
            out["seed"] = self.seed
        return out

    def resolved_method(self) -> str:
        """The method actually used: ``ed``, ``dmrg`` or ``exact`` (GHZ and the families)."""
        return resolved_method(self.state, self.n_qubits, self.method)

    def build_target(self) -> Target:
        """The target state of this configuration (:func:`qtomo.states.targets.build_target`)."""
        return build_target(self.state, self.n_qubits, **self.target_kwargs())


def simulate(
    cfg: SimulateConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Simulate ``cfg`` and write the dataset to ``out`` atomically; return a summary.

    ``progress(k)`` is called after each block of ``k`` shots (training and evaluation);
    ``on_stage(text)`` announces the stages (target, sampling). A ``cfg.design`` makes a
    fixed-design dataset (:func:`qtomo.data.simulate_design.simulate_fixed`).
    """
    cfg.validate()
    if cfg.design is not None:
        return simulate_fixed(cfg, out, overwrite=overwrite, progress=progress,
                              on_stage=on_stage)
    out = check_output_path(out, overwrite)
    stage = on_stage or (lambda s: None)
    stage("building target state")
    target = cfg.build_target()
    ideal = get_frame(cfg.povm)
    frame = ideal.depolarized(cfg.noise) if cfg.noise > 0 else ideal
    if cfg.readout_error is not None:  # the bits are misread after the (noisy) measurement
        frame = with_readout(frame, cfg.confusion()[0])
    stage("preparing sampler")
    sampler = ShotSampler(target, frame)
    with_log_p = cfg.log_p == "all"
    rngs = streams(cfg.seed)
    readout = stored_readout(cfg, rngs)
    stage("sampling shots")
    with DatasetWriter(
        out, n_qubits=cfg.n_qubits, shots=cfg.shots, frame=ideal, with_log_p=with_log_p,
        eval_shots=cfg.eval_shots, config={"command": "simulate", **asdict(cfg)},
        overwrite=overwrite,
    ) as w:
        parts = ((False, cfg.shots, rngs[STREAM_SHOTS]), (True, cfg.eval_shots, rngs[STREAM_EVAL]))
        for is_eval, total, rng in parts:
            for start, stop in iter_blocks(total, BLOCK_SHOTS):
                a = sampler.sample(stop - start, rng)
                lp = sampler.log_prob(a) if with_log_p else None
                w.write_block(start, a, lp, eval=is_eval)
                if progress:
                    progress(stop - start)
        w.write_target(target)
        if readout is not None:
            w.write_readout(readout)
    return {
        "n_qubits": cfg.n_qubits,
        "shots": cfg.shots,
        "eval_shots": cfg.eval_shots,
        "povm": cfg.povm,
        "state": cfg.state,
        "method": target.attrs["method"],
        "noise": cfg.noise,
        "readout_error": None if cfg.readout_error is None else list(cfg.readout_error),
        **({"calibration_shots": cfg.calibration_shots} if cfg.calibration_shots else {}),
        "energy": target.energy,
        "truncation_error": target.attrs["truncation_error"],
        "log_p_true": with_log_p,
        "out": str(out),
    }


__all__ = [
    "AUTO_ED_MAX",
    "BLOCK_SHOTS",
    "FAMILY_STATES",
    "METHODS",
    "STATES",
    "TABLE_MAX_ENTRIES",
    "ShotSampler",
    "SimulateConfig",
    "Target",
    "simulate",
]
