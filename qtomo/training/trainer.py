"""The one training loop for every qtomo model.

:class:`Trainer` minimises the mean per-shot loss ``model(a)`` (negative log-likelihood for
likelihood models) with AdamW, gradient clipping, linear warm-up then a cosine (or constant)
learning rate, an optional exponential moving average (EMA) of the weights, and early stopping
on the validation NLL. Each epoch it logs the training loss, the validation NLL and, when the
dataset stores exact log-probabilities, the classical fidelity and KL(P||Q) estimated on the
dataset's evaluation shots (never trained on), to ``metrics.csv``; checkpoints ``last.pt`` and
``best.pt`` are written atomically (see :mod:`qtomo.training.checkpoint`).

Reproducibility: the split and the batch order are functions of the seed and the epoch, the
dropout RNG is reseeded from (seed, epoch, rank) at each epoch start, and the checkpoint holds
model, optimizer, scheduler, EMA and RNG states, so a resumed run repeats an uninterrupted one
bit for bit on CPU.

Data parallelism: when ``torch.distributed`` is initialised (``torchrun``), the model is wrapped
in DistributedDataParallel, each rank trains on its share of every global batch, validation and
scores are summed over ranks, and only rank 0 writes files.

:func:`run_training` is the library entry the CLI calls: it checks inputs, prepares the run
directory, builds or restores the model and runs the Trainer.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
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

from qtomo._version import __version__
from qtomo.data.atomic import atomic_path
from qtomo.data.hdf5 import Dataset, open_dataset
from qtomo.errors import ComputationError, DataFileError, InputValueError, OutputExistsError
from qtomo.models.base import DensityEstimator
from qtomo.models.registry import build_model
from qtomo.training.checkpoint import (
    RUN_FILES,
    model_from_checkpoint,
    read_checkpoint,
    save_checkpoint,
    write_json,
)
from qtomo.training.config import TrainConfig, resolve_device, resolve_precision
from qtomo.training.data import ShotSplit
from qtomo.training.symmetry import augment, augmentation_rng, resolve_symmetry

METRIC_COLUMNS = (
    "epoch", "step", "lr", "train_loss", "val_nll", "eval_nll", "classical_fidelity",
    "classical_fidelity_se", "kl_divergence", "kl_divergence_se", "epoch_seconds",
    "elapsed_seconds", "shots_per_second",
)


# -- distributed ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank (1 process: 0, 1, 0)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls) -> DistInfo:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(),
                       int(os.environ.get("LOCAL_RANK", dist.get_rank())))
        return cls()


def init_distributed(device: str) -> DistInfo:
    """Initialise ``torch.distributed`` when launched by torchrun (WORLD_SIZE > 1).

    gloo on CPU, nccl on CUDA. On CPU each process gets an equal share of the cores.
    """
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return DistInfo.current()
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    dev = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    dist.init_process_group(backend=backend)
    return DistInfo.current()


def _all_reduce(values: list[float], device: torch.device, dist_info: DistInfo) -> list[float]:
    if dist_info.world == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


# -- weight averaging ----------------------------------------------------------------------------
class EMA:
    """Exponential moving average of a model's parameters (buffers are copied).

    The effective decay ramps up as min(decay, (1 + t) / (10 + t)) so early averages are not
    dominated by the random initialisation.
    """

    def __init__(self, model: DensityEstimator, decay: float) -> None:
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_p = list(self.model.parameters())
        src = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_p, src, 1.0 - d)
        for b_ema, b in zip(self.model.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.decay = float(sd["decay"])
        self.updates = int(sd["updates"])
        self.model.load_state_dict(sd["model"])


#: ``plateau`` schedule: an epoch must lower the validation NLL by this fraction of its best
#: value to count as progress; otherwise the learning rate is halved.
PLATEAU_MIN_DELTA = 2e-5


def _lr_lambda(cfg: TrainConfig, total_steps: int,
               time_progress: Callable[[], float] = lambda: 0.0,
               plateau_scale: Callable[[], float] = lambda: 1.0) -> Callable[[int], float]:
    """Learning-rate factor at a step: linear warm-up, then cosine decay over the steps of
    the run or, under a time budget that ends the run sooner, over the budget
    (``time_progress()`` is the fraction of the budget used); ``plateau``: the peak rate
    times ``plateau_scale()`` (halved after every epoch without progress)."""
    warm = max(0, min(cfg.warmup_steps, total_steps // 4))
    floor = cfg.min_lr_fraction

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.lr_schedule == "constant":
            return 1.0
        if cfg.lr_schedule == "plateau":
            return plateau_scale()
        t = min(1.0, max((step - warm) / max(1, total_steps - warm), time_progress()))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return f


# -- the loop ------------------------------------------------------------------------------------
class Trainer:
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
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _lr_lambda(config, self.total_steps, lambda: self._time_progress,
                                       lambda: 0.5 ** self.lr_reductions)
        )
        self.ema = EMA(model, config.ema_decay) if config.ema_decay > 0 else None
        # validation and evaluation shots: this rank's share
        val = self.split.val_rows(config.val_max_shots)
        self.val = val[self.dist.rank :: self.dist.world]
        self.n_val_total = len(val)
        ev, lp = dataset.eval_outcomes(), dataset.eval_log_p()
        if ev is not None and lp is not None and model.has_likelihood:
            self.eval_a = ev[self.dist.rank :: self.dist.world]
            self.eval_lp = lp[self.dist.rank :: self.dist.world]
        else:
            self.eval_a = self.eval_lp = None
        # loop state (restored on resume)
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

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint(self, model_state: dict[str, Any] | None = None) -> dict[str, Any]:
        """The full training state as a checkpoint dict."""
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

    def restore(self, ck: dict[str, Any]) -> None:
        """Continue from a checkpoint dict (see :meth:`checkpoint`)."""
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
        self.elapsed, self.step_seconds = float(t["elapsed_seconds"]), float(t["step_seconds"])
        self.shots_seen, self.stopped = int(t["shots_seen"]), t["stopped"]
        self.history = list(t["history"])
        self.best_state = ck.get("best_model")
        torch.set_rng_state(ck["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in ck["rng"]:
            torch.cuda.set_rng_state(ck["rng"]["cuda"], self.device)

    # -- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def _sum_nll(self, model: DensityEstimator, a: np.ndarray) -> float:
        total = 0.0
        for s in range(0, len(a), 1 << 15):
            x = torch.from_numpy(np.ascontiguousarray(a[s : s + (1 << 15)])).to(self.device).long()
            total += float(model(x).double().sum())
        return total

    def validate(self, model: DensityEstimator | None = None) -> float:
        """Mean validation NLL (nats per string), summed over ranks; NaN without validation."""
        m = model if model is not None else self.scored_model
        m.eval()
        s, n = _all_reduce([self._sum_nll(m, self.val), float(len(self.val))], self.device,
                           self.dist)
        return s / n if n else math.nan

    @torch.no_grad()
    def score(self, model: DensityEstimator | None = None) -> dict[str, float]:
        """NLL, classical fidelity and KL on the evaluation shots (NaN without log P)."""
        nan = {"eval_nll": math.nan, "classical_fidelity": math.nan,
               "classical_fidelity_se": math.nan, "kl_divergence": math.nan,
               "kl_divergence_se": math.nan}
        if self.eval_a is None:
            return nan
        m = model if model is not None else self.scored_model
        m.eval()
        lq = []
        for s in range(0, len(self.eval_a), 1 << 15):
            x = torch.from_numpy(np.ascontiguousarray(self.eval_a[s : s + (1 << 15)]))
            lq.append(m.log_prob(x.to(self.device)).cpu().numpy())
        lq_a = np.concatenate(lq) if lq else np.zeros(0)
        d = lq_a - self.eval_lp
        r = np.exp(0.5 * d)
        sums = _all_reduce(
            [float(len(d)), float(r.sum()), float((r * r).sum()), float(d.sum()),
             float((d * d).sum()), float(-lq_a.sum())], self.device, self.dist,
        )
        n = sums[0]
        if n < 1:
            return nan

        def mean_se(s1: float, s2: float) -> tuple[float, float]:
            mu = s1 / n
            var = max(0.0, (s2 - n * mu * mu) / (n - 1)) if n > 1 else math.nan
            return mu, math.sqrt(var / n)

        f, fse = mean_se(sums[1], sums[2])
        dm, dse = mean_se(sums[3], sums[4])
        return {"eval_nll": sums[5] / n, "classical_fidelity": f, "classical_fidelity_se": fse,
                "kl_divergence": -dm, "kl_divergence_se": dse}

    # -- training ------------------------------------------------------------------------------
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
        """Update the best model and the patience counter after an epoch; True if improved."""
        # progress: a lower validation NLL (plateau schedule: lower by PLATEAU_MIN_DELTA of it)
        plateau = self.cfg.lr_schedule == "plateau"
        margin = PLATEAU_MIN_DELTA * abs(self.best_val) if plateau and math.isfinite(
            self.best_val) else 0.0
        progress = val_nll < self.best_val - margin
        improved = val_nll < self.best_val or (math.isnan(val_nll) and self.epoch == 1)
        if math.isnan(val_nll) or self.cfg.keep == "last":  # the latest model is kept
            improved = True
        if improved:
            self.best_val, self.best_epoch = val_nll, self.epoch
            self.best_state = {k: v.detach().cpu().clone()
                               for k, v in self.scored_model.state_dict().items()}
        if progress or (improved and not plateau):
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if plateau:
                self.lr_reductions += 1
        return improved

    def _show(self) -> bool:
        if not self.dist.is_main:
            return False
        if self.progress is None:
            return sys.stderr.isatty()
        return bool(self.progress)

    def fit(self) -> dict[str, Any]:
        """Train until the epochs, the patience or the time budget run out; return the summary.

        The summary holds the scores of the best model (lowest validation NLL) on the
        evaluation shots: ``classical_fidelity``, ``kl_divergence`` (None/NaN without exact
        log P), ``val_nll``, ``epochs``, ``train_seconds``, ``shots_per_second`` and more.
        """
        from tqdm import tqdm

        cfg = self.cfg
        net: nn.Module = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            net = DDP(self.model, device_ids=[self.device.index] if self.device.type == "cuda"
                      else None)
        show = self._show()
        budget = cfg.max_minutes * 60 if cfg.max_minutes is not None else math.inf
        while self.stopped is None and self.epoch < cfg.epochs:
            if self.elapsed + 2.0 * self._last_step_seconds + 1.3 * self._eval_seconds > budget:
                self.stopped = "time_budget"  # no room for one more step and its validation
                break
            e = self.epoch
            t0 = time.perf_counter()
            torch.manual_seed(int(np.random.default_rng([cfg.seed, 0xD0, e, self.dist.rank])
                                  .integers(2**62)))
            self.model.train()
            bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {e + 1}/{cfg.epochs}",
                       unit="step", leave=False, file=sys.stderr, disable=not show,
                       dynamic_ncols=True)
            loss_sum, loss_n, step_time, shots = 0.0, 0, 0.0, 0
            over_budget = False
            for a, extra in self._batches(e):
                ts = time.perf_counter()
                with self._autocast():
                    loss = self._loss(net, a, extra)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    self._clip_gradients()
                self.optimizer.step()
                if math.isfinite(budget):
                    used = self.elapsed + time.perf_counter() - t0 + 1.3 * self._eval_seconds
                    self._time_progress = min(1.0, used / budget)
                self.scheduler.step()
                if self.ema is not None:
                    self.ema.update(self.model)
                lv = float(loss.detach())
                step_time += time.perf_counter() - ts
                if not math.isfinite(lv):
                    raise ComputationError(
                        f"training diverged: loss is {lv} at epoch {e + 1}, step {self.step + 1}; "
                        "lower --lr or use --precision fp32"
                    )
                loss_sum += lv
                loss_n += 1
                shots += len(a) * self.dist.world
                self.step += 1
                bar.update(1)
                if loss_n % 20 == 0:
                    bar.set_postfix(loss=f"{loss_sum / loss_n:.4f}")
                # stop before a step (timed on this one) and the epoch's validation and
                # scoring (timed on the previous epoch, with a margin) would end past the budget
                now = self.elapsed + time.perf_counter() - t0
                self._last_step_seconds = time.perf_counter() - ts
                if now + 2.0 * self._last_step_seconds + 1.3 * self._eval_seconds > budget:
                    over_budget = True
                    break
            bar.close()
            self.epoch = e + 1
            te = time.perf_counter()
            val_nll = self.validate()
            scores = self.score()
            self._eval_seconds = time.perf_counter() - te
            improved = self._track_best(val_nll)
            self.step_seconds += step_time
            self.shots_seen += shots
            epoch_seconds = time.perf_counter() - t0
            self.elapsed += epoch_seconds
            if over_budget:
                self.stopped = "time_budget"
            elif cfg.patience and self.bad_epochs >= cfg.patience:
                self.stopped = "early_stopping"
            elif self.epoch >= cfg.epochs:
                self.stopped = "epochs"
            row = {
                "epoch": self.epoch, "step": self.step,
                "lr": self.optimizer.param_groups[0]["lr"],
                "train_loss": loss_sum / max(1, loss_n), "val_nll": val_nll, **scores,
                "epoch_seconds": epoch_seconds, "elapsed_seconds": self.elapsed,
                "shots_per_second": shots / step_time if step_time > 0 else math.nan,
            }
            self.history.append(row)
            self._write_epoch(improved)
            if show:
                tqdm.write(_epoch_line(row, cfg.epochs), file=sys.stderr)
            for cb in self.callbacks:
                cb(self, row)
        return self.finish()

    def _write_epoch(self, improved: bool) -> None:
        if self.run_dir is None or not self.dist.is_main:
            return
        ck = self.checkpoint()
        if improved:
            best = dict(ck)
            best["model"] = {**self.scored_model.state(), "state_dict": self.best_state}
            save_checkpoint(self.run_dir / "best.pt", best)
        save_checkpoint(self.run_dir / "last.pt", ck)
        write_metrics_csv(self.run_dir / "metrics.csv", self.history)

    def finish(self) -> dict[str, Any]:
        """Load the best weights into the scored model, score them, write the model card."""
        m = self.scored_model
        if self.best_state is not None:
            m.load_state_dict(self.best_state)
        scores = self.score(m)
        summary: dict[str, Any] = {
            "classical_fidelity": scores["classical_fidelity"],
            "kl_divergence": scores["kl_divergence"],
            "val_nll": self.best_val,
            "epochs": self.epoch,
            "train_seconds": self.elapsed,
            "shots_per_second": self.shots_seen / self.step_seconds if self.step_seconds else None,
            "classical_fidelity_se": scores["classical_fidelity_se"],
            "kl_divergence_se": scores["kl_divergence_se"],
            "eval_nll": scores["eval_nll"],
            "best_epoch": self.best_epoch,
            "steps": self.step,
            "stopped": self.stopped,
            "symmetry": self.symmetry,
            "model": self.model.name,
            "hparams": self.model.hparams,
            "n_parameters": self.model.num_parameters(),
            "n_qubits": self.dataset.n_qubits,
            "train_shots": self.split.n_train,
            "val_shots": self.n_val_total,
            "eval_shots": 0 if self.eval_a is None else self.dataset.eval_shots,
            "device": str(self.device),
            "precision": self.precision,
            "processes": self.dist.world,
            "run_dir": str(self.run_dir) if self.run_dir is not None else None,
        }
        if self.run_dir is not None and self.dist.is_main:
            write_json(self.run_dir / "model_card.json", self.model_card(summary))
        return summary

    def model_card(self, summary: dict[str, Any]) -> dict[str, Any]:
        ds = self.dataset
        return {
            "model": self.model.name,
            "hparams": self.model.hparams,
            "n_parameters": self.model.num_parameters(),
            "exact_log_prob": self.model.exact_log_prob,
            "has_likelihood": self.model.has_likelihood,
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
            "metrics_note": "classical_fidelity = sum_a sqrt(P Q) and kl_divergence = KL(P||Q) "
            "in nats, Monte-Carlo estimates over the dataset's evaluation shots with exact "
            "log P (never trained on); val_nll in nats per string on held-out training shots",
            "results": summary,
            "config": self.run_config(),
        }


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    s = (f"epoch {row['epoch']}/{epochs}  train {_fmt(row['train_loss'], '.4f')}  "
         f"val {_fmt(row['val_nll'], '.4f')}")
    if not math.isnan(row.get("classical_fidelity", math.nan)):
        s += (f"  F_c {row['classical_fidelity']:.5f}  KL {row['kl_divergence']:.5f}")
    return s + f"  ({row['epoch_seconds']:.1f} s)"


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


# -- the library entries of `qtomo train` ---------------------------------------------------------
def run_training(
    data: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    config: TrainConfig,
    *,
    overwrite: bool = False,
    progress: bool | None = None,
    callbacks: Iterable[Callable[[Trainer, dict[str, Any]], None]] = (),
) -> dict[str, Any]:
    """Train ``config.model`` on the dataset ``data`` into the new run directory ``run_dir``.

    Every input is checked before anything is written: an invalid dataset, an existing
    non-empty run directory without ``overwrite``, an unknown model, option or device raise a
    :class:`QtomoError` and leave ``run_dir`` as it was. Returns the summary of
    :meth:`Trainer.fit`.
    """
    from qtomo.training.members import check_members_model

    config = config.validate()
    check_members_model(config)
    ds = open_dataset(data)
    try:
        dist_info = init_distributed(config.device)
        out = Path(run_dir)
        _check_fresh_dir(out, overwrite)
        torch.manual_seed(config.seed)
        model = build_model(config.model, ds.n_qubits, ds.K, **config.hparams)
        model.init_from_povm(ds.frame.elements)
        trainer = Trainer(model, ds, config, out, progress=progress, callbacks=callbacks)
        if dist_info.is_main:
            _clear_run_files(out)
        return _with_members(trainer, ds, out, _run(trainer, out, dist_info), progress)
    finally:
        ds.close()


def _with_members(trainer: Trainer, ds: Dataset, out: Path, summary: dict[str, Any],
                  progress: bool | None) -> dict[str, Any]:
    """Train the bootstrap / learning-curve members the config asks for (after the main
    model, see :mod:`qtomo.training.members`); a resumed run whose members.json exists
    keeps it."""
    cfg = trainer.cfg
    if not (cfg.bootstrap or cfg.learning_curve):
        return summary
    import json

    from qtomo.training.members import MEMBERS_FILE, train_members

    if (out / MEMBERS_FILE).exists() and trainer.stopped is not None and summary.get(
            "resumed_finished"):
        info = json.loads((out / MEMBERS_FILE).read_text())
    else:
        info = train_members(ds, out, cfg, trainer.scored_model, summary, progress=progress)
    summary["members"] = {k: v for k, v in info.items() if k != "phases"}
    return summary


def resume_training(
    data: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    *,
    settings: dict[str, Any] | None = None,
    progress: bool | None = None,
    callbacks: Iterable[Callable[[Trainer, dict[str, Any]], None]] = (),
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its ``last.pt``, exactly where it stopped.

    ``settings`` are the settings the user gave explicitly (TrainConfig fields; ``hparams``
    may be partial): ``device`` and ``max_minutes`` (total wall time, earlier sessions
    included) replace the stored ones, every other one must equal the checkpoint's. A
    checkpoint that is missing, corrupt, or from another dataset or model raises a
    :class:`QtomoError` before anything is written. A run stopped by its time budget
    continues; one that finished returns its summary again.
    """
    settings = dict(settings or {})
    ds = open_dataset(data)
    try:
        out = Path(run_dir)
        ck = _checked_resume(out, ds, settings)
        stored = {k: v for k, v in ck["config"].items() if k in TrainConfig.__dataclass_fields__}
        stored.setdefault("symmetry", "none")  # runs from before augmentation trained without
        for key in ("device", "max_minutes"):
            if key in settings:
                stored[key] = settings[key]
        config = TrainConfig.from_dict(stored)
        dist_info = init_distributed(config.device)
        model = model_from_checkpoint(ck, out / "last.pt")
        trainer = Trainer(model, ds, config, out, progress=progress, callbacks=callbacks)
        trainer.restore(ck)
        finished = trainer.stopped not in (None, "time_budget")
        if trainer.stopped == "time_budget":
            trainer.stopped = None
        summary = _run(trainer, out, dist_info)
        summary["resumed_finished"] = finished
        summary = _with_members(trainer, ds, out, summary, progress)
        summary.pop("resumed_finished")
        return summary
    finally:
        ds.close()


def _run(trainer: Trainer, out: Path, dist_info: DistInfo) -> dict[str, Any]:
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", trainer.run_config())
    if dist_info.world > 1:
        import torch.distributed as dist

        dist.barrier()
    summary = trainer.fit()
    if dist_info.world > 1:
        import torch.distributed as dist

        dist.barrier()
    return summary


def shutdown_distributed() -> None:
    """Tear down the process group that :func:`init_distributed` created, if any."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _check_fresh_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{out} already exists and is not empty; pass --overwrite to replace the run or "
            "--resume to continue it"
        )


def _clear_run_files(out: Path) -> None:
    for name in RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


def _checked_resume(out: Path, ds: Dataset, settings: dict[str, Any]) -> dict[str, Any]:
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
    for key, have in settings.items():
        if key in ("device", "max_minutes", "model"):
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


__all__ = [
    "METRIC_COLUMNS",
    "DistInfo",
    "EMA",
    "Trainer",
    "init_distributed",
    "resume_training",
    "run_training",
    "shutdown_distributed",
    "write_metrics_csv",
]
