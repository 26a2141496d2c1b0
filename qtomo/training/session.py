"""The library entries of ``qtomo train``: a new run, or the resumption of one.

:func:`run_training` checks inputs, prepares the run directory, builds the model and runs the
:class:`~qtomo.training.trainer.Trainer`; :func:`resume_training` continues or extends a run
from its ``last.pt``. Both then train the bootstrap / learning-curve members the config asks
for (:mod:`qtomo.training.members`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from qtomo.data.design import pauli_part_note
from qtomo.data.hdf5 import Dataset, open_dataset
from qtomo.models.registry import build_model
from qtomo.training.checkpoint import model_from_checkpoint, write_json
from qtomo.training.config import TrainConfig
from qtomo.training.distributed import DistInfo, barrier, init_distributed
from qtomo.training.members import MEMBERS_FILE, check_members_model, train_members
from qtomo.training.rundir import check_fresh_dir, checked_resume, clear_run_files
from qtomo.training.trainer import Trainer

Callback = Callable[[Trainer, dict[str, Any]], None]


def run_training(
    data: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    config: TrainConfig,
    *,
    overwrite: bool = False,
    progress: bool | None = None,
    callbacks: Iterable[Callback] = (),
) -> dict[str, Any]:
    """Train ``config.model`` on the dataset ``data`` into the new run directory ``run_dir``.

    Every input is checked before anything is written: an invalid dataset, an existing
    non-empty run directory without ``overwrite``, an unknown model, option or device raise a
    :class:`QtomoError` and leave ``run_dir`` as it was. Returns the summary of
    :meth:`Trainer.fit`.
    """
    config = config.validate()
    check_members_model(config)
    ds = open_dataset(data)
    try:
        note = pauli_part_note(ds.design, "qtomo train", "trains on")
        dist_info = init_distributed(config.device)
        out = Path(run_dir)
        check_fresh_dir(out, overwrite)
        torch.manual_seed(config.seed)
        model = build_model(config.model, ds.n_qubits, ds.K, **config.hparams)
        model.init_from_povm(ds.frame.elements)
        trainer = Trainer(model, ds, config, out, progress=progress, callbacks=callbacks)
        if dist_info.is_main:
            clear_run_files(out)
        summary = _run(trainer, out, dist_info)
        if note:
            summary["note"] = note
        return _with_members(trainer, ds, out, summary, progress, keep_existing=False)
    finally:
        ds.close()


def resume_training(
    data: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    *,
    settings: dict[str, Any] | None = None,
    progress: bool | None = None,
    callbacks: Iterable[Callback] = (),
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its ``last.pt``, or extend it.

    ``settings`` are the settings the user gave explicitly (TrainConfig fields; ``hparams``
    may be partial): ``device`` and ``max_minutes`` (total wall time, earlier runs
    included) replace the stored ones, every other one but ``epochs`` must equal the
    checkpoint's. A checkpoint that is missing, corrupt, or from another dataset or model
    raises a :class:`QtomoError` before anything is written.

    Without a larger ``epochs`` a run stopped by its time budget continues where it stopped
    (bit for bit on CPU) and one that finished returns its summary again (``stopped`` as
    before; ``resumed`` is ``"finished"``). With ``epochs`` above the stored cap the run
    (finished or not) is extended to that many epochs: the cosine schedule is re-stretched
    to the new length from the current step (the rate of a run planned for ``epochs`` from
    the start), the plateau schedule keeps its current rate and restarts its patience
    counter, and early stopping counts afresh; bootstrap / learning-curve members are
    retrained from the extended model. ``epochs`` below the cap is refused.
    """
    settings = dict(settings or {})
    ds = open_dataset(data)
    try:
        out = Path(run_dir)
        ck = checked_resume(out, ds, settings)
        config = _resumed_config(ck, settings)
        extend = config.epochs > int(ck["config"]["epochs"])
        dist_info = init_distributed(config.device)
        model = model_from_checkpoint(ck, out / "last.pt")
        trainer = Trainer(model, ds, config, out, progress=progress, callbacks=callbacks)
        trainer.restore(ck)
        finished = trainer.stopped not in (None, "time_budget")
        if extend:
            trainer.extend()
        elif trainer.stopped == "time_budget":
            trainer.stopped = None
        summary = _run(trainer, out, dist_info)
        summary = _with_members(trainer, ds, out, summary, progress,
                                keep_existing=finished and not extend)
        summary["resumed"] = "extended" if extend else "finished" if finished else "continued"
        note = pauli_part_note(ds.design, "qtomo train", "trains on")
        if note:
            summary["note"] = note
        return summary
    finally:
        ds.close()


def _resumed_config(ck: dict[str, Any], settings: dict[str, Any]) -> TrainConfig:
    """The stored config with the settings a resumption may change."""
    stored = {k: v for k, v in ck["config"].items() if k in TrainConfig.__dataclass_fields__}
    stored.setdefault("symmetry", "none")  # runs from before augmentation trained without
    for key in ("device", "max_minutes", "epochs"):
        if settings.get(key) is not None:
            stored[key] = settings[key]
    return TrainConfig.from_dict(stored)


def _with_members(trainer: Trainer, ds: Dataset, out: Path, summary: dict[str, Any],
                  progress: bool | None, *, keep_existing: bool) -> dict[str, Any]:
    """Train the bootstrap / learning-curve members the config asks for (after the main
    model, see :mod:`qtomo.training.members`); with ``keep_existing`` (a finished run
    resumed) an existing members.json is kept."""
    cfg = trainer.cfg
    if not (cfg.bootstrap or cfg.learning_curve):
        return summary

    if (out / MEMBERS_FILE).exists() and trainer.stopped is not None and keep_existing:
        info = json.loads((out / MEMBERS_FILE).read_text())
    else:
        info = train_members(ds, out, cfg, trainer.scored_model, summary, progress=progress)
    summary["members"] = {k: v for k, v in info.items() if k != "phases"}
    return summary


def _run(trainer: Trainer, out: Path, dist_info: DistInfo) -> dict[str, Any]:
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", trainer.run_config())
    barrier(dist_info)
    summary = trainer.fit()
    barrier(dist_info)
    return summary


__all__ = ["resume_training", "run_training"]
