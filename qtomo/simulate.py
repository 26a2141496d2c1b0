"""Build a target state and sample POVM shots into a dataset file (library side of
``qtomo simulate``).

The sampled state is always pure (``psi`` or an MPS); local depolarizing noise enters through the
Heisenberg-picture POVM ``frame.depolarized(noise)``, so the stored exact log-probabilities are
those of the noisy state measured with the ideal POVM. Stored reference observables
(``x_exact``, ``zz_exact``) are those of the measured, noisy state: <X_i> scales by (1-p) and
<Z_i Z_j> (i != j) by (1-p)^2. ``energy`` is the ground energy of the Hamiltonian (pure target).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.data.hdf5 import DatasetWriter, check_output_path, iter_blocks
from qtomo.errors import InputValueError
from qtomo.povm.born import born_probabilities, outcome_index, sample_from_table
from qtomo.povm.frames import POVM_NAMES, Frame, get_frame
from qtomo.states.tfim import BOUNDARIES, ED_MAX_QUBITS, check_tfim_params
from qtomo.typing import FloatArray, Outcomes

STATES = ("tfim", "ghz", "w", "cluster", "product", "random-mps")
#: States built as dense state vectors by :mod:`qtomo.states.families` (N <= 16).
FAMILY_STATES = ("w", "cluster", "product", "random-mps")
METHODS = ("auto", "ed", "dmrg")
#: ``--method auto`` uses exact diagonalization up to this many qubits, DMRG above.
AUTO_ED_MAX = 14
#: Full Born tables are used for sampling up to this many entries (K^N).
TABLE_MAX_ENTRIES = 1 << 24
#: Shots sampled per block (bounds memory; one progress-bar step each).
BLOCK_SHOTS = 50_000


@dataclass(frozen=True)
class SimulateConfig:
    """Everything that defines a simulated dataset (stored as JSON in the file)."""

    state: str = "tfim"
    n_qubits: int = 10
    J: float = 1.0  # noqa: N815
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

    def validate(self) -> None:
        """Raise :class:`InputValueError` with one line for any bad value."""
        if self.state not in STATES:
            raise InputValueError(f"unknown state {self.state!r}; expected one of {STATES}")
        if self.povm not in POVM_NAMES:
            raise InputValueError(
                f"unknown POVM {self.povm!r}; expected one of {', '.join(POVM_NAMES)}"
            )
        if self.n_qubits < 1:
            raise InputValueError(f"--n-qubits must be >= 1, got {self.n_qubits}")
        if self.shots < 1:
            raise InputValueError(f"--shots must be >= 1, got {self.shots}")
        if self.eval_shots < 0:
            raise InputValueError(f"--eval-shots must be >= 0, got {self.eval_shots}")
        for name, v in (("J", self.J), ("h", self.h), ("noise", self.noise)):
            if not math.isfinite(v):
                raise InputValueError(f"--{name} must be a finite number, got {v}")
        if not 0.0 <= self.noise <= 1.0:
            raise InputValueError(f"--noise must lie in [0, 1], got {self.noise}")
        if self.boundary not in BOUNDARIES:
            raise InputValueError(f"--boundary must be open or periodic, got {self.boundary!r}")
        if self.method not in METHODS:
            raise InputValueError(f"--method must be one of {METHODS}, got {self.method!r}")
        if self.chi < 1:
            raise InputValueError(f"--chi must be >= 1, got {self.chi}")
        if not (math.isfinite(self.cutoff) and 0.0 <= self.cutoff < 1.0):
            raise InputValueError(f"--cutoff must lie in [0, 1), got {self.cutoff}")
        if self.log_p not in ("all", "none"):
            raise InputValueError(f"--log-p must be all or none, got {self.log_p!r}")
        if self.state in FAMILY_STATES:
            from qtomo.states.families import check_family_qubits

            check_family_qubits(self.n_qubits, self.state)
        if self.state == "tfim":
            check_tfim_params(self.n_qubits, self.J, self.h, self.boundary)
            if self.method == "ed" and self.n_qubits > ED_MAX_QUBITS:
                raise InputValueError(
                    f"exact diagonalization handles at most {ED_MAX_QUBITS} qubits, got "
                    f"{self.n_qubits}; use --method dmrg (or auto)"
                )

    def resolved_method(self) -> str:
        """The method actually used: ``ed``, ``dmrg`` or ``exact`` (GHZ and the families)."""
        if self.state == "ghz" or self.state in FAMILY_STATES:
            return "exact"
        if self.method == "auto":
            return "ed" if self.n_qubits <= AUTO_ED_MAX else "dmrg"
        return self.method


@dataclass
class Target:
    """A pure target state with its exact references.

    ``psi`` (big-endian state vector) is set for small N, ``mps`` for large N (or both).
    ``x_exact`` and ``zz_exact`` describe the *measured* state (noise included).
    """

    attrs: dict[str, Any]
    psi: np.ndarray | None = None
    mps: Any = None
    x_exact: FloatArray | None = None
    zz_exact: FloatArray | None = None

    @property
    def energy(self) -> float:
        return float(self.attrs.get("energy", float("nan")))


def _observables_from_psi(psi: np.ndarray) -> tuple[FloatArray, FloatArray]:
    """<X_i> and <Z_i Z_j> of a state vector by bit operations (N <= 20)."""
    n = int(round(np.log2(psi.size)))
    idx = np.arange(psi.size)
    prob = np.abs(psi) ** 2
    z = 1 - 2 * ((idx[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1)
    zz = (z.T * prob) @ z
    x = np.array([np.real(np.vdot(psi, psi[idx ^ (1 << (n - 1 - i))])) for i in range(n)])
    return x, zz


def build_target(cfg: SimulateConfig, progress: Callable[[str], None] | None = None) -> Target:
    """Construct the (pure) target state and its exact reference observables."""
    cfg.validate()
    n = cfg.n_qubits
    method = cfg.resolved_method()
    attrs: dict[str, Any] = {
        "state": cfg.state, "n_qubits": n, "J": cfg.J, "h": cfg.h, "boundary": cfg.boundary,
        "method": method, "noise": cfg.noise, "seed": cfg.seed, "energy": float("nan"),
        "truncation_error": float("nan"),
        "observables_include_noise": True,
        # qubit permutations that leave the state (and so, with the same POVM and noise on
        # every qubit, the outcome distribution) invariant; used to augment training shots
        "symmetry": "permutation" if cfg.state == "ghz" else (
            "translation" if cfg.boundary == "periodic" else "reflection"),
    }
    if cfg.state in FAMILY_STATES:
        from qtomo.states.families import FAMILY_BOUNDARY, FAMILY_SYMMETRY

        attrs["symmetry"] = FAMILY_SYMMETRY[cfg.state]
        attrs["boundary"] = FAMILY_BOUNDARY[cfg.state]
        attrs["J"] = attrs["h"] = float("nan")
    t = Target(attrs=attrs)
    if cfg.state == "ghz":
        from qtomo.states.ghz import ghz_mps, ghz_statevector

        if n <= ED_MAX_QUBITS:
            t.psi = ghz_statevector(n)
        else:
            t.mps = ghz_mps(n)
        t.x_exact = np.full(n, 1.0 if n == 1 else 0.0)
        t.zz_exact = np.ones((n, n))
        attrs["boundary"] = "none"
        attrs["J"] = attrs["h"] = float("nan")
    elif cfg.state in FAMILY_STATES:
        from qtomo.states.families import family_statevector

        # product / random-mps draw from their own stream of cfg.seed (not the shots' stream)
        t.psi = family_statevector(cfg.state, n, cfg.seed)
        t.x_exact, t.zz_exact = _observables_from_psi(t.psi)
    elif method == "ed":
        from qtomo.states.tfim import tfim_ground_state

        gs = tfim_ground_state(n, cfg.J, cfg.h, cfg.boundary)
        t.psi = gs.psi
        attrs["energy"] = gs.energy
        t.x_exact, t.zz_exact = _observables_from_psi(gs.psi)
    else:
        from qtomo.states.dmrg import dmrg_tfim

        res = dmrg_tfim(n, cfg.J, cfg.h, boundary=cfg.boundary, chi_max=cfg.chi,
                         cutoff=cfg.cutoff, seed=cfg.seed)
        t.mps = res.mps
        attrs["energy"] = float(res.energy)
        attrs["truncation_error"] = float(res.truncation_error)
        attrs["dmrg_sweeps"] = int(res.sweeps)
        if cfg.boundary == "open":
            from qtomo.states.exact import tfim_x_expectations, tfim_zz_matrix

            t.x_exact = tfim_x_expectations(n, cfg.J, cfg.h)
            t.zz_exact = tfim_zz_matrix(n, cfg.J, cfg.h)
            attrs["exact_observables_source"] = "free fermions"
        else:
            t.x_exact = np.asarray(res.mps.x_expectations())
            t.zz_exact = np.asarray(res.mps.zz_matrix())
            attrs["exact_observables_source"] = "dmrg"
    if cfg.noise > 0:
        p = cfg.noise
        t.x_exact = t.x_exact * (1 - p)
        off = ~np.eye(n, dtype=bool)
        t.zz_exact = np.where(off, t.zz_exact * (1 - p) ** 2, 1.0)
    return t


class ShotSampler:
    """Exact sampler of a pure target measured with a (possibly noisy) frame.

    Uses the full Born table when ``K^N`` is small, the batched MPS sampler otherwise.
    """

    def __init__(self, target: Target, frame: Frame) -> None:
        self.frame = frame
        self.n = int(target.attrs["n_qubits"])
        K = frame.K  # noqa: N806
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
    target = build_target(cfg)
    ideal = get_frame(cfg.povm)
    frame = ideal.depolarized(cfg.noise) if cfg.noise > 0 else ideal
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
        for is_eval, total, seed in ((False, cfg.shots, seeds[0]), (True, cfg.eval_shots, seeds[1])):
            rng = np.random.default_rng(seed)
            for start, stop in iter_blocks(total, BLOCK_SHOTS):
                a = sampler.sample(stop - start, rng)
                lp = sampler.log_prob(a) if with_log_p else None
                w.write_block(start, a, lp, eval=is_eval)
                if progress:
                    progress(stop - start)
        w.set_target(
            target.attrs,
            {"psi": target.psi, "x_exact": target.x_exact, "zz_exact": target.zz_exact},
        )
        if target.mps is not None:
            target.mps.save_to_group(w.target_group().create_group("mps"))
    return {
        "n_qubits": cfg.n_qubits,
        "shots": cfg.shots,
        "eval_shots": cfg.eval_shots,
        "povm": cfg.povm,
        "state": cfg.state,
        "method": target.attrs["method"],
        "noise": cfg.noise,
        "energy": target.energy,
        "truncation_error": target.attrs["truncation_error"],
        "log_p_true": with_log_p,
        "out": str(out),
    }
