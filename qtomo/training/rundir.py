"""The run directory of ``qtomo train``: config, metrics, model card, and checks before
anything is written (a fresh directory, a checkpoint that may be resumed).

Files (rank 0 writes them, see :data:`qtomo.training.checkpoint.RUN_FILES`): ``config.json``
(:meth:`RunRecords.run_config`), ``metrics.csv`` (:func:`write_metrics_csv`, one row per
epoch), ``last.pt`` and ``best.pt`` (checkpoints, :meth:`RunRecords.checkpoint`) and
``model_card.json`` (:meth:`RunRecords.model_card`, the run's summary with its provenance).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from qtomo._version import __version__
from qtomo.data.atomic import atomic_path
from qtomo.data.hdf5 import Dataset
from qtomo.errors import DataFileError, InputValueError, OutputExistsError
from qtomo.training.checkpoint import RUN_FILES, read_checkpoint
from qtomo.training.config import TrainConfig

METRIC_COLUMNS = (
    "epoch", "step", "lr", "train_loss", "val_nll", "eval_nll", "classical_fidelity",
    "classical_fidelity_se", "kl_divergence", "kl_divergence_se", "epoch_seconds",
    "elapsed_seconds", "shots_per_second",
)

#: Settings a resumed run may change: the device, the total wall-time budget, and the
#: model name (checked against the checkpoint's separately). ``epochs`` may grow (extension).
RESUME_FREE_SETTINGS = ("device", "max_minutes", "model", "epochs")

METRICS_NOTE = (
    "classical_fidelity = sum_a sqrt(P Q) and kl_divergence = KL(P||Q) in nats, Monte-Carlo "
    "estimates over the dataset's evaluation shots with exact log P (never trained on); "
    "val_nll in nats per string on held-out training shots"
)


def write_metrics_csv(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    """Write the per-epoch metrics atomically (empty cells for unavailable values)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(METRIC_COLUMNS)
    for r in rows:
        w.writerow(["" if (v := r.get(c)) is None or (isinstance(v, float) and math.isnan(v))
                    else (f"{v:.10g}" if isinstance(v, float) else v) for c in METRIC_COLUMNS])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


class RunRecords:
    """What a :class:`~qtomo.training.trainer.Trainer` records of its run: config.json, the
    summary and model card, and the checkpoint dicts it writes and resumes from. A mixin of
    the trainer (its attributes: ``dataset``, ``cfg``, ``model``, ``split``, the optimizer,
    schedule, EMA and loop state), kept here with the run directory's other files."""

    def run_config(self) -> dict[str, Any]:
        """The training config plus what identifies model and dataset (config.json)."""
        ds = self.dataset
        return {
            **self.cfg.as_dict(),
            "hparams": self.model.hparams,
            "model": self.model.name,
            "n_qubits": ds.n_qubits,
            "K": ds.K,
            "povm": ds.frame.name,
            "dataset_path": str(Path(ds.path).resolve()),
            "dataset_hash": ds.dataset_hash,
            "shots": ds.shots,
            "train_shots": self.split.n_train,
            "val_shots": self.split.n_val,
            "symmetry_used": self.symmetry,
            "qtomo_version": __version__,
        }


    def run_summary(self, scores: dict[str, float],
                        gap: dict[str, float] | None = None) -> dict[str, Any]:
        """The summary of a finished :meth:`Trainer.fit` (``scores``: the kept model's).

        ``kept_epoch`` is the epoch of the model in ``best.pt``; ``best_epoch`` and ``val_nll``
        are those of the lowest validation NLL; ``best_epoch_scores`` holds that epoch's row of
        the history (its F_c and KL where the dataset stores exact log P) and
        ``best_classical_fidelity_epoch`` the epoch with the highest F_c on the evaluation shots
        (an oracle, for benchmarks); ``heldout_gap`` compares the kept model with the lowest-NLL
        one per validation shot (None when they are the same model).
        """
        t = self
        kept_epoch = t.epoch if t.cfg.keep == "last" else t.best_epoch
        by_epoch = {int(r["epoch"]): r for r in t.history}
        best_row = by_epoch.get(t.best_epoch, {})
        fc = [(r.get("classical_fidelity", math.nan), int(r["epoch"])) for r in t.history]
        fc = [x for x in fc if x[0] == x[0]]
        return {
            "classical_fidelity": scores["classical_fidelity"],
            "kl_divergence": scores["kl_divergence"],
            "val_nll": t.best_val,
            "epochs": t.epoch,
            "train_seconds": t.elapsed,
            "shots_per_second": t.shots_seen / t.step_seconds if t.step_seconds else None,
            "classical_fidelity_se": scores["classical_fidelity_se"],
            "kl_divergence_se": scores["kl_divergence_se"],
            "eval_nll": scores["eval_nll"],
            "best_epoch": t.best_epoch,
            "kept_epoch": kept_epoch,
            "keep": t.cfg.keep,
            "best_epoch_scores": {k: best_row.get(k) for k in
                                  ("val_nll", "classical_fidelity", "kl_divergence")},
            "best_classical_fidelity": max(fc)[0] if fc else None,
            "best_classical_fidelity_epoch": max(fc)[1] if fc else None,
            "heldout_gap": gap,
            "steps": t.step,
            "stopped": t.stopped,
            "symmetry": t.symmetry,
            "model": t.model.name,
            "hparams": t.model.hparams,
            "n_parameters": t.model.num_parameters(),
            "n_qubits": t.dataset.n_qubits,
            "train_shots": t.split.n_train,
            "val_shots": t.n_val_total,
            "eval_shots": 0 if t.eval_a is None else t.dataset.eval_shots,
            "device": str(t.device),
            "precision": t.precision,
            "processes": t.dist.world,
            "run_dir": str(t.run_dir) if t.run_dir is not None else None,
        }


    def model_card(self, summary: dict[str, Any]) -> dict[str, Any]:
        """model_card.json: the model, the dataset it was trained on, the summary and config."""
        ds, model = self.dataset, self.model
        return {
            "model": model.name,
            "hparams": model.hparams,
            "n_parameters": model.num_parameters(),
            "exact_log_prob": model.exact_log_prob,
            "has_likelihood": model.has_likelihood,
            "n_qubits": ds.n_qubits,
            "K": ds.K,
            "povm": ds.frame.name,
            "dataset_path": str(Path(ds.path).resolve()),
            "dataset_hash": ds.dataset_hash,
            "target": ds.target,
            "qtomo_version": __version__,
            "torch_version": torch.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "checkpoint": "best.pt",
            "metrics_note": METRICS_NOTE,
            "results": summary,
            "config": self.run_config(),
        }


    def checkpoint(self, model_state: dict[str, Any] | None = None) -> dict[str, Any]:
        """The full training state as a checkpoint dict (last.pt, best.pt)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "dataset_hash": self.dataset.dataset_hash,
            "config": self.run_config(),
            "model": model_state if model_state is not None else self.model.state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "best_model": self.best_state,
            "rng": rng,
            "trainer": {
                "epoch": self.epoch, "step": self.step, "best_val_nll": self.best_val,
                "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "lr_reductions": self.lr_reductions,
                "elapsed_seconds": self.elapsed, "step_seconds": self.step_seconds,
                "shots_seen": self.shots_seen, "stopped": self.stopped,
                "history": self.history, "world": self.dist.world,
            },
        }


    def restore(self, ck: dict[str, Any]) -> None:
        """Continue from a checkpoint dict (:meth:`checkpoint`): its state back into the self."""
        self.model.load_state_dict(ck["model"]["state_dict"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        if self.ema is not None:
            if ck.get("ema") is None:
                raise DataFileError("checkpoint has no EMA state but the config uses ema_decay")
            self.ema.load_state_dict(ck["ema"])
        t = ck["trainer"]
        self.epoch, self.step = int(t["epoch"]), int(t["step"])
        self.best_val, self.best_epoch = float(t["best_val_nll"]), int(t["best_epoch"])
        self.bad_epochs = int(t["bad_epochs"])
        self.lr_reductions = int(t.get("lr_reductions", 0))
        self.elapsed = float(t["elapsed_seconds"])
        self.step_seconds = float(t["step_seconds"])
        self.shots_seen, self.stopped = int(t["shots_seen"]), t["stopped"]
        self.history = list(t["history"])
        self.best_state = ck.get("best_model")
        torch.set_rng_state(ck["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in ck["rng"]:
            torch.cuda.set_rng_state(ck["rng"]["cuda"], self.device)


def check_fresh_dir(out: Path, overwrite: bool) -> None:
    """Refuse an existing non-empty ``out`` unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{out} already exists and is not empty; pass --overwrite to replace the run or "
            "--resume to continue it"
        )


def clear_run_files(out: Path) -> None:
    """Remove the files of an earlier run from ``out`` (``--overwrite``)."""
    for name in RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


def checked_resume(out: Path, ds: Dataset, settings: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint ``out/last.pt``, checked against the dataset and the ``settings`` the
    user gave: every setting but :data:`RESUME_FREE_SETTINGS` must equal the stored one, and
    ``epochs`` may not fall below the stored cap."""
    path = out / "last.pt"
    if not path.exists():
        raise DataFileError(f"{path}: no checkpoint to resume from; train without --resume first")
    ck = read_checkpoint(path)
    if ck["dataset_hash"] != ds.dataset_hash:
        raise DataFileError(
            f"{path} was trained on another dataset ({ck['config'].get('dataset_path', '?')}); "
            f"resume with that dataset or train {ds.path} into a new --out"
        )
    name = ck["model"].get("name")
    if "model" in settings and settings["model"] != name:
        raise DataFileError(
            f"{path} holds a {name!r} model but --model is {settings['model']!r}; pass --model "
            f"{name} or train into a new --out"
        )
    stored = ck["config"]
    _check_epochs(settings.get("epochs"), stored.get("epochs"))
    for key, have in settings.items():
        if key in RESUME_FREE_SETTINGS:
            continue
        if key not in TrainConfig.__dataclass_fields__:
            raise InputValueError(f"unknown training setting {key!r}")
        want = stored.get(key)
        if key == "hparams":
            want = {k: (want or {}).get(k) for k in have}
        if have != want:
            raise InputValueError(
                f"{key} = {have!r} differs from the checkpoint's {want!r}; a resumed run keeps "
                "its settings (drop the option or train into a new --out)"
            )
    return ck


def _check_epochs(have: int | None, stored: int | None) -> None:
    if have is not None and stored is not None and have < stored:
        raise InputValueError(
            f"epochs = {have} is below the checkpoint's cap of {stored}; a resumed run can be "
            f"extended (--epochs above {stored}) but not shortened (drop --epochs)"
        )


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """One epoch's metrics row as the line printed under the progress bar."""
    s = (f"epoch {row['epoch']}/{epochs}  train {_fmt(row['train_loss'], '.4f')}  "
         f"val {_fmt(row['val_nll'], '.4f')}")
    if not math.isnan(row.get("classical_fidelity", math.nan)):
        s += (f"  F_c {row['classical_fidelity']:.5f}  KL {row['kl_divergence']:.5f}")
    return s + f"  ({row['epoch_seconds']:.1f} s)"


__all__ = ["METRIC_COLUMNS", "RunRecords", "check_fresh_dir", "checked_resume",
           "clear_run_files", "epoch_line", "write_metrics_csv"]
