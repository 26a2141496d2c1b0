"""The one training loop for every qtomo model.

:class:`Trainer` minimises the mean per-shot loss ``model(a)`` (negative log-likelihood for
likelihood models) with AdamW, gradient clipping, linear warm-up then a cosine (or constant,
or plateau) learning rate (:mod:`~qtomo.training.schedule`), an optional exponential moving
average of the weights (:mod:`~qtomo.training.averaging`), and early stopping on the
validation NLL. Each epoch it logs the training loss, the validation NLL and, when the
dataset stores exact log-probabilities, the classical fidelity and KL(P||Q) estimated on the
dataset's evaluation shots (never trained on, :mod:`~qtomo.training.scoring`), to
``metrics.csv``; checkpoints ``last.pt`` and ``best.pt`` are written atomically (see
:mod:`qtomo.training.checkpoint` and :mod:`qtomo.training.rundir`).

Reproducibility: the split and the batch order are functions of the seed and the epoch, the
dropout RNG is reseeded from (seed, epoch, rank) at each epoch start, and the checkpoint holds
model, optimizer, scheduler, EMA and RNG states, so a resumed run repeats an uninterrupted one
bit for bit on CPU. An extended run (:meth:`Trainer.extend`) continues with the schedule of
its new length (see :mod:`qtomo.training.schedule`).

Data parallelism (:mod:`~qtomo.training.distributed`): under ``torchrun`` the model is
wrapped in DistributedDataParallel, each rank trains on its share of every global batch,
validation and scores are summed over ranks, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from qtomo.data.hdf5 import Dataset
from qtomo.errors import ComputationError, InputValueError
from qtomo.models.base import DensityEstimator
from qtomo.training import rundir
from qtomo.training.averaging import EMA
from qtomo.training.checkpoint import save_checkpoint, write_json
from qtomo.training.config import TrainConfig, resolve_device, resolve_precision
from qtomo.training.data import ShotSplit
from qtomo.training.distributed import (
    DistInfo,
    init_distributed,
    shutdown_distributed,
    wrap_ddp,
)
from qtomo.training.rundir import METRIC_COLUMNS, RunRecords, write_metrics_csv
from qtomo.training.schedule import (
    PLATEAU_MIN_DELTA,
    budget_used,
    lr_lambda,
    no_room_for_step,
)
from qtomo.training.scoring import eval_scores, heldout_gap, mean_nll, nan_scores
from qtomo.training.symmetry import augment, augmentation_rng, resolve_symmetry


@dataclass
class _EpochTally:
    """Running sums of one epoch's steps."""

    loss_sum: float = 0.0
    loss_n: int = 0
    step_time: float = 0.0
    shots: int = 0
    over_budget: bool = False


class Trainer(RunRecords):
    """Train any :class:`DensityEstimator` on the shots of a dataset.

    Parameters
    ----------
    model : DensityEstimator
        The model (its parameters are trained in place).
    dataset : Dataset
        An open, validated dataset.
    config : TrainConfig
        All settings.
    run_dir : path, optional
        Where checkpoints, metrics and the model card go (rank 0 only); None writes nothing.
    progress : bool or None
        Progress bar and per-epoch lines on stderr (None: only when stderr is a terminal).
    callbacks : iterable of callables
        Each is called as ``cb(trainer, row)`` after every epoch's checkpoint is written;
        ``row`` is that epoch's metrics dict. Raising stops training (the checkpoint stays).
    """

    def __init__(
        self,
        model: DensityEstimator,
        dataset: Dataset,
        config: TrainConfig,
        run_dir: str | os.PathLike[str] | None = None,
        *,
        progress: bool | None = None,
        callbacks: Iterable[Callable[[Trainer, dict[str, Any]], None]] = (),
    ) -> None:
        self.cfg = config.validate()
        if model.n_qubits != dataset.n_qubits or model.K != dataset.K:
            raise InputValueError(
                f"model is for N={model.n_qubits}, K={model.K} but the dataset has "
                f"N={dataset.n_qubits}, K={dataset.K}"
            )
        self.dist = DistInfo.current()
        self.device = resolve_device(config.device, self.dist.local_rank)
        self.precision = resolve_precision(config.precision, self.device)
        self.model = model.to(self.device)
        self.dataset = dataset
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.callbacks = list(callbacks)
        self.split = ShotSplit(
            dataset, val_fraction=config.val_fraction, seed=config.seed,
            block_rows=config.block_rows, cache_bytes=config.cache_mb << 20,
        )
        self.symmetry = resolve_symmetry(config.symmetry, dataset.target)
        self.steps_per_epoch = self.split.steps_per_epoch(config.batch_size, self.dist.world)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self._init_loop_state()  # the schedule reads the loop state when it is built
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(config, self.total_steps, lambda: self._time_progress,
                                      lambda: 0.5 ** self.lr_reductions)
        )
        self.ema = EMA(model, config.ema_decay) if config.ema_decay > 0 else None
        self._init_eval_shots(config.val_max_shots)

    def _init_eval_shots(self, val_max_shots: int) -> None:
        """This rank's share of the validation and evaluation shots."""
        val = self.split.val_rows(val_max_shots)
        self.val = val[self.dist.rank :: self.dist.world]
        self.n_val_total = len(val)
        ev, lp = self.dataset.eval_outcomes(), self.dataset.eval_log_p()
        if ev is not None and lp is not None and self.model.has_likelihood:
            self.eval_a = ev[self.dist.rank :: self.dist.world]
            self.eval_lp = lp[self.dist.rank :: self.dist.world]
        else:
            self.eval_a = self.eval_lp = None

    def _init_loop_state(self) -> None:
        """The loop state (restored on resume)."""
        self.epoch = 0
        self.step = 0
        self.best_val = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.lr_reductions = 0  # epochs without progress (plateau schedule)
        self.elapsed = 0.0
        self._eval_seconds = 0.0  # wall time of the last validation and scoring
        self._last_step_seconds = 0.0
        self._time_progress = 0.0  # fraction of the time budget used (learning-rate schedule)
        self.step_seconds = 0.0
        self.shots_seen = 0
        self.stopped: str | None = None
        self.history: list[dict[str, Any]] = []
        self.best_state: dict[str, torch.Tensor] | None = None

    # -- properties ----------------------------------------------------------------------------
    @property
    def scored_model(self) -> DensityEstimator:
        """The model that is validated and kept as best (the EMA copy when enabled)."""
        return self.ema.model if self.ema is not None else self.model

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- checkpoints (config, checkpoint and restore: :class:`rundir.RunRecords`) ------------
    def extend(self) -> None:
        """Make a restored run go on to ``cfg.epochs`` (larger than its stored cap).

        The scheduler was built for the new length, so the cosine is re-stretched: the rate
        is set now to the new schedule's value at the current step. ``plateau`` keeps its
        halvings (its rate) and restarts the patience counter; early stopping counts afresh.
        """
        self.stopped = None
        self.bad_epochs = 0
        factor = self.scheduler.lr_lambdas[0](self.step)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs,
                               strict=True):
            group["lr"] = base * factor

    # -- evaluation ----------------------------------------------------------------------------
    def validate(self, model: DensityEstimator | None = None) -> float:
        """Mean validation NLL (nats per string), summed over ranks; NaN without validation."""
        m = model if model is not None else self.scored_model
        return mean_nll(m, self.val, self.device, self.dist)

    def score(self, model: DensityEstimator | None = None) -> dict[str, float]:
        """NLL, classical fidelity and KL on the evaluation shots (NaN without log P)."""
        if self.eval_a is None:
            return nan_scores()
        m = model if model is not None else self.scored_model
        return eval_scores(m, self.eval_a, self.eval_lp, self.device, self.dist)

    # -- the loop's hooks (overridden by qtomo.training.members) --------------------------------
    def _batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, Any]]:
        """(shots on the device, extra) per step; ``extra`` is None here (a subclass that
        weights shots passes their weights, see :mod:`qtomo.training.members`)."""
        rng = augmentation_rng(self.cfg.seed, epoch)  # the same on every rank

        def transform(a: np.ndarray) -> np.ndarray:
            return augment(a, self.symmetry, rng)

        for b in self.split.train_batches(epoch, self.cfg.batch_size, self.dist.rank,
                                          self.dist.world, transform=transform):
            yield (torch.from_numpy(np.ascontiguousarray(b)).to(self.device, non_blocking=True),
                   None)

    def _loss(self, net: nn.Module, a: torch.Tensor, extra: Any) -> torch.Tensor:
        """The scalar minimised at one step (the mean per-shot loss)."""
        del extra
        return net(a.long()).mean()

    def _clip_gradients(self) -> None:
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)

    def _track_best(self, val_nll: float) -> bool:
        """Update the lowest-validation-NLL model and the patience counter after an epoch;
        True when the kept model changed (``best.pt`` is rewritten).

        Progress is always judged against the lowest validation NLL so far (the plateau
        schedule asks it to be lower by ``PLATEAU_MIN_DELTA`` of it), whatever is kept: the
        schedule anneals, but only the held-out data decide when the run stops. The kept model
        is the lowest-NLL one (``keep=best``) or the latest (``keep=last``, the user's choice).
        """
        plateau = self.cfg.lr_schedule == "plateau"
        margin = PLATEAU_MIN_DELTA * abs(self.best_val) if plateau and math.isfinite(
            self.best_val) else 0.0
        progress = val_nll < self.best_val - margin
        lower = val_nll < self.best_val or math.isnan(val_nll)  # NaN: no validation shots
        if lower:
            self.best_val, self.best_epoch = val_nll, self.epoch
            self.best_state = {k: v.detach().cpu().clone()
                               for k, v in self.scored_model.state_dict().items()}
        if progress or (lower and not plateau):
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if plateau:
                self.lr_reductions += 1
        return lower or self.cfg.keep == "last"

    def _kept_state(self) -> dict[str, torch.Tensor] | None:
        """The weights ``best.pt`` holds: the lowest validation NLL, or the latest."""
        if self.cfg.keep == "last":
            return {k: v.detach().cpu().clone() for k, v in self.scored_model.state_dict().items()}
        return self.best_state

    def _show(self) -> bool:
        if not self.dist.is_main:
            return False
        if self.progress is None:
            return sys.stderr.isatty()
        return bool(self.progress)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train until the epochs, the patience or the time budget run out; return the summary.

        The summary holds the scores of the best model (lowest validation NLL) on the
        evaluation shots: ``classical_fidelity``, ``kl_divergence`` (None/NaN without exact
        log P), ``val_nll``, ``epochs``, ``train_seconds``, ``shots_per_second`` and more.
        """
        net = wrap_ddp(self.model, self.device, self.dist)
        show = self._show()
        budget = self.cfg.max_minutes * 60 if self.cfg.max_minutes is not None else math.inf
        while self.stopped is None and self.epoch < self.cfg.epochs:
            if no_room_for_step(self.elapsed, self._last_step_seconds, self._eval_seconds,
                                budget):
                self.stopped = "time_budget"  # no room for one more step and its validation
                break
            row = self._train_epoch(net, budget, show)
            for cb in self.callbacks:
                cb(self, row)
        return self.finish()

    def _train_epoch(self, net: nn.Module, budget: float, show: bool) -> dict[str, Any]:
        """One epoch: its steps (until the budget runs out), validation, scores, files."""
        e = self.epoch
        t0 = time.perf_counter()
        torch.manual_seed(int(np.random.default_rng([self.cfg.seed, 0xD0, e, self.dist.rank])
                              .integers(2**62)))
        self.model.train()
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {e + 1}/{self.cfg.epochs}",
                   unit="step", leave=False, file=sys.stderr, disable=not show,
                   dynamic_ncols=True)
        tally = _EpochTally()
        for a, extra in self._batches(e):
            ts = time.perf_counter()
            lv = self._train_step(net, a, extra, t0, budget)
            tally.step_time += time.perf_counter() - ts
            if not math.isfinite(lv):
                raise ComputationError(
                    f"training diverged: loss is {lv} at epoch {e + 1}, step {self.step + 1}; "
                    "lower --lr or use --precision fp32"
                )
            tally.loss_sum += lv
            tally.loss_n += 1
            tally.shots += len(a) * self.dist.world
            self.step += 1
            bar.update(1)
            if tally.loss_n % 20 == 0:
                bar.set_postfix(loss=f"{tally.loss_sum / tally.loss_n:.4f}")
            # stop before a step (timed on this one) and the epoch's validation and
            # scoring (timed on the previous epoch, with a margin) would end past the budget
            now = self.elapsed + time.perf_counter() - t0
            self._last_step_seconds = time.perf_counter() - ts
            if no_room_for_step(now, self._last_step_seconds, self._eval_seconds, budget):
                tally.over_budget = True
                break
        bar.close()
        row = self._end_epoch(e, t0, tally)
        if show:
            tqdm.write(rundir.epoch_line(row, self.cfg.epochs), file=sys.stderr)
        return row

    def _train_step(self, net: nn.Module, a: torch.Tensor, extra: Any, t0: float,
                    budget: float) -> float:
        """One optimizer step (and the schedule's and the average's); returns the loss."""
        with self._autocast():
            loss = self._loss(net, a, extra)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            self._clip_gradients()
        self.optimizer.step()
        if math.isfinite(budget):
            now = self.elapsed + time.perf_counter() - t0
            self._time_progress = budget_used(now, self._eval_seconds, budget)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return float(loss.detach())

    def _end_epoch(self, e: int, t0: float, tally: _EpochTally) -> dict[str, Any]:
        """Validate and score after epoch ``e``, decide whether to stop, write the files;
        returns the epoch's metrics row."""
        self.epoch = e + 1
        te = time.perf_counter()
        with self._autocast():  # per-epoch checks at the training precision; the kept
            val_nll = self.validate()  # model's final scores (finish) run in float32
            scores = self.score()
        self._eval_seconds = time.perf_counter() - te
        improved = self._track_best(val_nll)
        self.step_seconds += tally.step_time
        self.shots_seen += tally.shots
        epoch_seconds = time.perf_counter() - t0
        self.elapsed += epoch_seconds
        if tally.over_budget:
            self.stopped = "time_budget"
        elif self.cfg.patience and self.bad_epochs >= self.cfg.patience:
            self.stopped = "early_stopping"
        elif self.epoch >= self.cfg.epochs:
            self.stopped = "epochs"
        row = {
            "epoch": self.epoch, "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": tally.loss_sum / max(1, tally.loss_n), "val_nll": val_nll, **scores,
            "epoch_seconds": epoch_seconds, "elapsed_seconds": self.elapsed,
            "shots_per_second": tally.shots / tally.step_time if tally.step_time > 0
            else math.nan,
        }
        self.history.append(row)
        self._write_epoch(improved)
        return row

    def _write_epoch(self, improved: bool) -> None:
        if self.run_dir is None or not self.dist.is_main:
            return
        ck = self.checkpoint()
        if improved:
            best = dict(ck)
            best["model"] = {**self.scored_model.state(), "state_dict": self._kept_state()}
            save_checkpoint(self.run_dir / "best.pt", best)
        save_checkpoint(self.run_dir / "last.pt", ck)
        write_metrics_csv(self.run_dir / "metrics.csv", self.history)

    # -- results -------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Load the kept weights into the scored model, score them, write the model card.

        With ``keep=last`` the kept (latest) model is also compared with the lowest-NLL one
        on the validation shots, per shot (``heldout_gap``, see :func:`heldout_gap`).
        """
        m = self.scored_model
        gap = None
        if self.cfg.keep == "last" and self.best_state is not None:
            gap = self._heldout_gap(m)
        elif self.best_state is not None:
            m.load_state_dict(self.best_state)
        summary = self.run_summary(self.score(m), gap)
        if self.run_dir is not None and self.dist.is_main:
            write_json(self.run_dir / "model_card.json", self.model_card(summary))
        return summary

    def _heldout_gap(self, kept: DensityEstimator) -> dict[str, float]:
        """Mean and standard error of the per-shot validation NLL of ``kept`` minus that of
        the lowest-NLL model (whose weights are loaded into a copy)."""
        best = copy.deepcopy(kept)
        best.load_state_dict(self.best_state)
        return heldout_gap(kept, best, self.val, self.device, self.dist)



__all__ = [
    "METRIC_COLUMNS",
    "DistInfo",
    "EMA",
    "Trainer",
    "init_distributed",
    "shutdown_distributed",
    "write_metrics_csv",
]
