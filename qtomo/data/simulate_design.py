"""Simulated fixed designs (``qtomo simulate --design FILE | all-pauli``): the layout of a lab's
tomography run, every setting measured exactly ``shots`` times.

The dataset is stored as ``qtomo import`` stores counts per setting
(:mod:`qtomo.data.counts`): the Pauli settings' shots as shuffled Pauli-6 outcomes
``2 * basis + bit`` in ``/outcomes`` with the design ``kind="fixed"``, so ``qtomo train`` and
``qtomo reconstruct`` read them unchanged; the shots of axis settings (any axis other than
+x, +y, +z on some qubit) in ``/axis_shots`` as (setting index, bits)
(:meth:`qtomo.data.hdf5.Dataset.setting_shots` reads both). ``/log_p_true`` of a fixed design
holds log P(bits | setting) under the nominal measurement (:mod:`qtomo.data.design_sampler`);
the evaluation shots stay random Pauli-6 draws of the nominal device with their joint log P.

Drift (``--drift``, ``--readout-drift``) changes what the device measures, never the stored
design, readout or target (:mod:`qtomo.data.drift`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qtomo.data.design import Readout, confusion_from_flips
from qtomo.data.design_file import DesignSpec, all_pauli_design, read_design_file
from qtomo.data.design_sampler import DesignDevice, DesignSampler
from qtomo.data.drift import (
    drift_flips,
    drift_vectors,
    nominal_readout,
    simulated_calibration,
)
from qtomo.data.hdf5 import DatasetWriter, check_output_path, iter_blocks
from qtomo.data.shot_sampler import ShotSampler
from qtomo.errors import InputValueError
from qtomo.povm.axes import bit_channel
from qtomo.povm.frames import get_frame, with_readout
from qtomo.states.targets import Target

if TYPE_CHECKING:
    from qtomo.data.simulate import SimulateConfig

#: ``--design`` value that measures all 3^N Pauli settings.
ALL_PAULI = "all-pauli"
#: Random streams spawned from the seed, by purpose (0 and 1 are those of random designs).
STREAM_SHOTS, STREAM_EVAL, STREAM_DRIFT, STREAM_READOUT_DRIFT, STREAM_CALIBRATION, \
    STREAM_SHUFFLE = range(6)
#: Evaluation shots sampled per block.
EVAL_BLOCK = 50_000
#: The TFIM parameters simulated when neither the user nor the design's target gives them.
TARGET_DEFAULTS = {"state": None, "J": 1.0, "h": 1.0, "boundary": "open"}


def streams(seed: int) -> list[np.random.Generator]:
    """One generator per purpose (the ``STREAM_*`` indices)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]


def resolve_design(design: str, shots_per_setting: int | None) -> DesignSpec | int:
    """The design file's spec (its own shots), or, for ``all-pauli``, the shots per setting
    it needs (its N comes from ``--n-qubits``)."""
    if shots_per_setting is not None and shots_per_setting < 1:
        raise InputValueError(f"--shots-per-setting must be >= 1, got {shots_per_setting}")
    if design == ALL_PAULI:
        if shots_per_setting is None:
            raise InputValueError("--design all-pauli needs --shots-per-setting M (the shots "
                                  "of each of the 3^N settings)")
        return shots_per_setting
    return read_design_file(design)


def _same(key: str, given: Any, planned: Any) -> bool:
    if key == "boundary":
        return str(given) == str(planned)
    return math.isclose(float(given), float(planned), rel_tol=1e-12, abs_tol=1e-12)


def design_target(design: str | None, given: dict[str, Any]) -> dict[str, Any]:
    """The target to simulate, ``state``, ``J``, ``h`` and ``boundary`` (None in ``given``:
    not given): the user's, else the design file's target (``qtomo plan`` names it), else
    ``tfim`` with J = h = 1 on an open chain. A state or parameter that contradicts the
    design's target is refused in one line."""
    target = None
    if design is not None and design != ALL_PAULI:
        target = read_design_file(design).target
    state = given["state"]
    out = {k: (TARGET_DEFAULTS[k] if v is None else v) for k, v in given.items()}
    if not target or "state" not in target:
        return {**out, "state": state or "tfim"}
    want = str(target["state"])
    if state is not None and state != want:
        raise InputValueError(f"--state {state} contradicts the design's target {want} "
                              f"({design}); leave --state out to simulate the design's target")
    for k, v in given.items():
        if k not in target or k == "state" or want != "tfim":
            continue
        if v is not None and not _same(k, v, target[k]):
            raise InputValueError(f"--{k} {v} contradicts the design's target {want} with "
                                  f"{k} = {target[k]} ({design}); leave --{k} out")
        out[k] = target[k]
    return {**out, "state": want}


def resolved_defaults(design: str | None, n_qubits: int | None, povm: str | None,
                      shots: int | None) -> tuple[int, str, int]:
    """``qtomo simulate``'s defaults: N from the design file (else 10), the POVM pauli6 with a
    design (else pauli4), 100,000 shots in random bases (``shots`` refused with a design)."""
    if design is None:
        n = 10 if n_qubits is None else n_qubits
        return n, povm or "pauli4", 100_000 if shots is None else shots
    if shots is not None:
        raise InputValueError("--shots does not apply to a fixed design: its settings' shots "
                              "come from the design file or --shots-per-setting")
    if n_qubits is None:
        n_qubits = 10 if design == ALL_PAULI else read_design_file(design).n_qubits
    return n_qubits, povm or "pauli6", 100_000


def design_spec(cfg: SimulateConfig) -> tuple[DesignSpec, DesignSpec | None]:
    """The checked design of ``cfg`` (its qubit count must be ``cfg.n_qubits``) with the
    shots to measure (``cfg.shots_per_setting`` each when given), and the planned design it
    follows (the file's own, when it names a protocol; else None)."""
    assert cfg.design is not None
    got = resolve_design(cfg.design, cfg.shots_per_setting)
    if isinstance(got, int):
        return all_pauli_design(cfg.n_qubits, got), None
    if got.n_qubits != cfg.n_qubits:
        raise InputValueError(f"the design {cfg.design} measures {got.n_qubits} qubits, but "
                              f"--n-qubits is {cfg.n_qubits}")
    measured = got if cfg.shots_per_setting is None else got.with_shots(cfg.shots_per_setting)
    return measured, (got if got.protocol is not None else None)


def stored_readout(cfg: SimulateConfig, rngs: list[np.random.Generator]) -> Readout | None:
    """What the dataset stores as its readout: the nominal matrices, or the estimate of
    ``cfg.calibration_shots`` simulated calibration shots (None without a readout error)."""
    if cfg.readout_error is None:
        return None
    if cfg.calibration_shots:
        return simulated_calibration(cfg.flips(), cfg.calibration_shots,
                                     rngs[STREAM_CALIBRATION])
    return nominal_readout(cfg.flips())


def simulated_device(spec: DesignSpec, cfg: SimulateConfig,
                     rngs: list[np.random.Generator]) -> DesignDevice:
    """The nominal and the drifted measurement of every setting (:mod:`qtomo.data.drift`)."""
    nominal = spec.vectors()
    s = spec.n_settings
    flips = cfg.flips()
    base = np.broadcast_to(bit_channel(cfg.noise, cfg.confusion()),
                           (s, cfg.n_qubits, 2, 2))
    true_vectors = drift_vectors(nominal, cfg.drift, rngs[STREAM_DRIFT])  # SIGMA 0: unchanged
    true_channels = base
    if cfg.readout_drift:
        drawn = drift_flips(flips, cfg.readout_drift, s, rngs[STREAM_READOUT_DRIFT])
        true_channels = bit_channel(cfg.noise, confusion_from_flips(drawn).reshape(
            s, cfg.n_qubits, 2, 2))
    return DesignDevice(nominal, true_vectors, base, true_channels)


def sample_design(sampler: DesignSampler, spec: DesignSpec, rng: np.random.Generator,
                  with_log_p: bool, progress: Callable[[int], None] | None
                  ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """The bits (shots_s, N) of every setting in order, and their nominal log P (or None)."""
    bits, logp = [], []
    for s, m in enumerate(spec.shots):
        b = sampler.sample(s, m, rng)
        bits.append(b)
        logp.append(sampler.log_prob(s, b) if with_log_p else None)
        if progress:
            progress(m)
    return bits, logp


def _part(rows: list[int], bits: list[np.ndarray], logp: list[np.ndarray | None],
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Setting index, bits and log P of the settings ``rows``, shuffled by one permutation
    (so that any prefix of the shots is a fair sample, as for imported counts)."""
    n = bits[0].shape[1]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, n), np.uint8), np.zeros(0)
    idx = np.concatenate([np.full(len(bits[r]), r, dtype=np.int64) for r in rows])
    b = np.concatenate([bits[r] for r in rows])
    lp = None if logp[0] is None else np.concatenate([logp[r] for r in rows])
    perm = rng.permutation(len(idx))
    return idx[perm], b[perm], None if lp is None else lp[perm]


def _eval_shots(w: DatasetWriter, target: Target, cfg: SimulateConfig,
                rng: np.random.Generator, progress: Callable[[int], None] | None) -> None:
    """Random Pauli-6 evaluation shots of the nominal device (noise, nominal readout)."""
    ideal = get_frame("pauli6")
    frame = ideal.depolarized(cfg.noise) if cfg.noise > 0 else ideal
    if cfg.readout_error is not None:
        frame = with_readout(frame, cfg.confusion()[0])
    sampler = ShotSampler(target, frame)
    for start, stop in iter_blocks(cfg.eval_shots, EVAL_BLOCK):
        a = sampler.sample(stop - start, rng)
        w.write_block(start, a, sampler.log_prob(a) if w.with_log_p else None, eval=True)
        if progress:
            progress(stop - start)


def stored_config(cfg: SimulateConfig, spec: DesignSpec) -> dict[str, Any]:
    """The config JSON of a fixed-design dataset: the options, the design's size and, for a
    design file, its SHA-256."""
    out: dict[str, Any] = {"command": "simulate", **asdict(replace(cfg, shots=sum(spec.shots)))}
    out.update(design_settings=spec.n_settings, design_protocol=spec.protocol)
    if cfg.design is not None and cfg.design != ALL_PAULI:
        out["design_sha256"] = hashlib.sha256(Path(cfg.design).read_bytes()).hexdigest()
    return out


def simulate_fixed(cfg: SimulateConfig, out: str | Path, *, overwrite: bool = False,
                   progress: Callable[[int], None] | None = None,
                   on_stage: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Simulate the fixed design of ``cfg`` (validated) into ``out`` atomically; the summary."""
    out = check_output_path(out, overwrite)
    stage = on_stage or (lambda s: None)
    spec, planned = design_spec(cfg)
    rngs = streams(cfg.seed)
    readout = stored_readout(cfg, rngs)
    stage("building target state")
    target = cfg.build_target()
    stage("preparing sampler")
    sampler = DesignSampler(target, simulated_device(spec, cfg, rngs))
    with_log_p = cfg.log_p == "all"
    stage("sampling settings")
    bits, logp = sample_design(sampler, spec, rngs[STREAM_SHOTS], with_log_p, progress)
    design = spec.to_design(planned)
    axis = design.axis_mask
    p_idx, p_bits, p_lp = _part(list(np.flatnonzero(~axis)), bits, logp, rngs[STREAM_SHUFFLE])
    a_idx, a_bits, a_lp = _part(list(np.flatnonzero(axis)), bits, logp, rngs[STREAM_SHUFFLE])
    codes = np.array([["XYZ".index(c) for c in s] if not m else [0] * cfg.n_qubits
                      for s, m in zip(design.settings or (), axis, strict=True)], dtype=np.uint8)
    outcomes = (2 * codes[p_idx] + p_bits).astype(np.uint8)
    with DatasetWriter(out, n_qubits=cfg.n_qubits, shots=len(outcomes),
                       frame=get_frame("pauli6"), with_log_p=with_log_p,
                       eval_shots=cfg.eval_shots, config=stored_config(cfg, spec),
                       overwrite=overwrite, axis_shots=len(a_idx)) as w:
        if len(outcomes):
            w.write_block(0, outcomes, p_lp)
        if len(a_idx):
            w.write_axis_block(0, a_idx, a_bits, a_lp)
        _eval_shots(w, target, cfg, rngs[STREAM_EVAL], progress)
        w.write_target(target)
        w.write_design(design)
        if readout is not None:
            w.write_readout(readout)
    return {
        "n_qubits": cfg.n_qubits, "shots": sum(spec.shots), "eval_shots": cfg.eval_shots,
        "povm": "pauli6", "state": cfg.state, "method": target.attrs["method"],
        "noise": cfg.noise,
        "readout_error": None if cfg.readout_error is None else list(cfg.readout_error),
        "energy": target.energy, "truncation_error": target.attrs["truncation_error"],
        "log_p_true": with_log_p, "out": str(out), "design": design.summary(),
        "drift": cfg.drift, "readout_drift": cfg.readout_drift,
        "calibration_shots": cfg.calibration_shots,
        "protocol": None if planned is None else planned.protocol,
        "sampler": "state vector" if sampler.dense else "MPS",
    }


__all__ = [
    "ALL_PAULI",
    "TARGET_DEFAULTS",
    "design_spec",
    "design_target",
    "resolve_design",
    "resolved_defaults",
    "sample_design",
    "simulate_fixed",
    "simulated_device",
    "stored_config",
    "stored_readout",
    "streams",
]
