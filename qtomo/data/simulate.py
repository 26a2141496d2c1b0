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
state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.design import Readout, confusion_from_flips, confusion_problem
from qtomo.data.hdf5 import DatasetWriter, check_output_path, iter_blocks
from qtomo.errors import InputValueError
from qtomo.povm.born import born_probabilities, outcome_index, sample_from_table
from qtomo.povm.frames import POVM_NAMES, Frame, get_frame, with_readout
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
from qtomo.typing import FloatArray, Outcomes

#: Full Born tables are used for sampling up to this many entries (K^N).
TABLE_MAX_ENTRIES = 1 << 24
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

    def validate(self) -> None:
        """Raise :class:`InputValueError` with one line for any bad value."""
        if self.povm not in POVM_NAMES:
            raise InputValueError(
                f"unknown POVM {self.povm!r}; expected one of {', '.join(POVM_NAMES)}"
            )
        if self.shots < 1:
            raise InputValueError(f"--shots must be >= 1, got {self.shots}")
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

    def confusion(self) -> np.ndarray:
        """Per-qubit confusion matrices (N, 2, 2) of ``readout_error``, C[b, b'] = P(b | b')."""
        flips = np.broadcast_to(self.readout_error or (0.0, 0.0), (self.n_qubits, 2))
        return confusion_from_flips(flips)

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


class ShotSampler:
    """Exact sampler of a pure target measured with a (possibly noisy) frame.

    Uses the full Born table when ``K^N`` is small, the batched MPS sampler otherwise.
    """

    def __init__(self, target: Target, frame: Frame) -> None:
        # N <= 16: psi (Born table when K^N is small, else its untruncated MPS, as always);
        # N > 16: the target's own MPS
        self.frame = frame
        self.n = int(target.attrs["n_qubits"])
        K = frame.K
        self._table: FloatArray | None = None
        self._log_table: FloatArray | None = None
        self._mps = target.mps
        if target.psi is not None and K**self.n <= TABLE_MAX_ENTRIES:
            p = np.clip(born_probabilities(target.psi, frame), 0.0, None)
            self._table = p / p.sum()
            with np.errstate(divide="ignore"):
                self._log_table = np.log(self._table)
        elif self._mps is None:
            from qtomo.states.mps import MPS

            self._mps = MPS.from_statevector(target.psi)

    def sample(self, n_shots: int, rng: np.random.Generator) -> Outcomes:
        if self._table is not None:
            return sample_from_table(self._table, n_shots, rng, self.n, self.frame.K)
        from qtomo.povm.sampling import sample_mps

        return sample_mps(self._mps, self.frame, n_shots, rng)

    def log_prob(self, outcomes: Outcomes) -> FloatArray:
        if self._log_table is not None:
            return self._log_table[outcome_index(outcomes, self.frame.K)]
        from qtomo.povm.sampling import log_prob_mps

        return log_prob_mps(self._mps, self.frame, outcomes)


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
    ``on_stage(text)`` announces the stages (target, sampling).
    """
    cfg.validate()
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
    seeds = np.random.SeedSequence(cfg.seed).spawn(2)
    stage("sampling shots")
    with DatasetWriter(
        out, n_qubits=cfg.n_qubits, shots=cfg.shots, frame=ideal, with_log_p=with_log_p,
        eval_shots=cfg.eval_shots, config={"command": "simulate", **asdict(cfg)},
        overwrite=overwrite,
    ) as w:
        parts = ((False, cfg.shots, seeds[0]), (True, cfg.eval_shots, seeds[1]))
        for is_eval, total, seed in parts:
            rng = np.random.default_rng(seed)
            for start, stop in iter_blocks(total, BLOCK_SHOTS):
                a = sampler.sample(stop - start, rng)
                lp = sampler.log_prob(a) if with_log_p else None
                w.write_block(start, a, lp, eval=is_eval)
                if progress:
                    progress(stop - start)
        w.write_target(target)
        if cfg.readout_error is not None:
            c = cfg.confusion()
            w.write_readout(Readout(c, np.zeros_like(c), "simulate", "", None))
    return {
        "n_qubits": cfg.n_qubits,
        "shots": cfg.shots,
        "eval_shots": cfg.eval_shots,
        "povm": cfg.povm,
        "state": cfg.state,
        "method": target.attrs["method"],
        "noise": cfg.noise,
        "readout_error": None if cfg.readout_error is None else list(cfg.readout_error),
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
