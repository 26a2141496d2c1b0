"""Bootstrap and learning-curve members, trained side by side in one stacked GRU.

``qtomo train --bootstrap B`` trains, after the main model, B *bootstrap members*; with
``--learning-curve`` it also trains *learning-curve members*. Every member is a normal run
directory ``RUN/members/mXX`` (config.json, best.pt, model_card.json, loadable with
:func:`qtomo.training.checkpoint.load_run`), listed in ``RUN/members.json``.

Members as per-shot weights
    A member is the main training run with a weight on every training shot, a fixed function
    of the shot's global row number in ``/outcomes`` (seeded by the run seed and the member
    number, so resume and DDP see the same weights). A bootstrap member's weights are the
    counts of a multinomial resample of the n training shots, ``w ~ Multinomial(n, 1/n)``
    (mean 1, variance 1 - 1/n, sum n). A learning-curve member at fraction f draws
    ``Multinomial(round(f n), 1/n)``: an m-out-of-n bootstrap of m = f n shots, whose spread
    is that of an estimate from m shots (a 0/1 subset mask would understate it by the
    finite-population factor 1 - f). A member's loss on a batch is
    ``sum_i w_i nll(a_i) / (f * batch)``, which has the same expected scale as the main loss.
    All members see the same batches, so one :class:`~qtomo.models.stacked.StackedGRU`
    trains all of them in one loop of the one :class:`~qtomo.training.trainer.Trainer`
    (:class:`MemberTrainer` only overrides its loss, gradient clipping, validation and
    bookkeeping). Gradient clipping is per member; AdamW is elementwise, so the members are
    exactly independent.

Cost
    On CPU a stacked GRU is compute-bound (M members cost about M times one model per step),
    so stacking alone cannot make B = 10 cheap. Bootstrap members are therefore *warm
    started* from the main model's kept weights and retrained on their resample for
    ``BOOTSTRAP_EPOCH_FRACTION`` of the main run's epochs (a fresh AdamW, warm-up and cosine
    schedule at the main learning rate): B = 10 costs about 1 + 10 * 1.2 * 0.2 = 3.4 main
    runs. The warm start assumes the retrained member reaches its resample's optimum near
    the main one (it understates the spread that training from scratch would add from the
    initialisation). Learning-curve members must not know the other shots, so they train
    from scratch, with the main run's schedule: 12 members (1/8, 1/4, 1/2 and all of the
    shots, 3 each), about 12 to 15 main runs, documented as slow.

Early stopping
    Each member keeps its own best state (lowest validation NLL on the shared validation
    shots, or the last with ``keep=last``); the phase stops when every member has run out
    of patience.

Only the GRU has a stacked implementation; other models stop with a one-line error.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qtomo._version import __version__
from qtomo.data.hdf5 import Dataset
from qtomo.errors import InputValueError
from qtomo.models.gru import GRUModel
from qtomo.models.stacked import StackedGRU
from qtomo.training.checkpoint import save_checkpoint, write_json
from qtomo.training.config import TrainConfig
from qtomo.training.data import ShotSplit
from qtomo.training.distributed import DistInfo, all_reduce
from qtomo.training.rundir import write_metrics_csv
from qtomo.training.symmetry import augment, augmentation_rng
from qtomo.training.trainer import Trainer

#: Bootstrap members retrain for this fraction of the main run's epochs (at least 2).
BOOTSTRAP_EPOCH_FRACTION = 0.2
#: Learning-curve fractions of the training shots and members per fraction.
LEARNING_CURVE_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
LEARNING_CURVE_REPEATS = 3
#: Seed-stream tags of the members' weights and initialisations.
_WEIGHTS, _INIT = 0xB007, 0x1417
MEMBERS_FILE = "members.json"


@dataclass(frozen=True)
class MemberSpec:
    """One member: ``kind`` bootstrap or learning_curve, the fraction f of the training
    shots it resamples (``effective_shots`` = round(f n)), its weight and init seeds."""

    name: str
    kind: str
    fraction: float
    effective_shots: int
    seed: int
    init_seed: int


def check_members_model(config: TrainConfig) -> None:
    """Members need the stacked GRU: a one-line error for any other model."""
    if (config.bootstrap or config.learning_curve) and config.model != "gru":
        raise InputValueError(
            f"--bootstrap and --learning-curve train members side by side only for --model "
            f"gru, not --model {config.model}; drop them or use --model gru")


def member_plan(n_train: int, seed: int, bootstrap: int, learning_curve: bool
                ) -> list[MemberSpec]:
    """The members of a run: ``bootstrap`` resamples, then the learning-curve members."""
    kinds = [("bootstrap", 1.0)] * bootstrap
    if learning_curve:
        kinds += [("learning_curve", f) for f in LEARNING_CURVE_FRACTIONS
                  for _ in range(LEARNING_CURVE_REPEATS)]
    out = []
    for i, (kind, f) in enumerate(kinds, start=1):
        rng = np.random.default_rng([seed, _INIT, i])
        out.append(MemberSpec(
            name=f"m{i:02d}", kind=kind, fraction=f, effective_shots=max(1, round(f * n_train)),
            seed=int(np.random.default_rng([seed, _WEIGHTS, i]).integers(2**31)),
            init_seed=int(rng.integers(2**31)),
        ))
    return out


def member_weights(spec: MemberSpec, train_index: np.ndarray, n_rows: int) -> np.ndarray:
    """Counts (uint16, ``n_rows``) of a multinomial resample of ``spec.effective_shots`` of
    the training shots (rows ``train_index``); every other row has weight 0."""
    n = len(train_index)
    counts = np.random.default_rng(spec.seed).multinomial(
        spec.effective_shots, np.full(n, 1.0 / n))
    if counts.max(initial=0) > np.iinfo(np.uint16).max:  # pragma: no cover - absurd sizes
        raise InputValueError("resample counts overflow; too few training shots")
    w = np.zeros(n_rows, dtype=np.uint16)
    w[train_index] = counts
    return w


class MemberTrainer(Trainer):
    """The Trainer with a :class:`StackedGRU` and per-shot member weights.

    Parameters
    ----------
    stack : StackedGRU
        The members' initial weights.
    dataset, config : as for :class:`Trainer` (``config`` is the member phase's).
    specs : list of MemberSpec
        One per stacked member.
    phase : str
        Name of the phase (``bootstrap`` or ``learning_curve``): metrics go to
        ``run_dir/members/metrics_<phase>.csv``.
    """

    def __init__(self, stack: StackedGRU, dataset: Dataset, config: TrainConfig,
                 specs: list[MemberSpec], run_dir: Path, phase: str, *,
                 progress: bool | None = None) -> None:
        super().__init__(stack, dataset, config, None, progress=progress)  # type: ignore[arg-type]
        if len(specs) != stack.n_members:
            raise InputValueError("one member spec per stacked member is needed")
        self.specs = specs
        self.phase = phase
        self.out = Path(run_dir)
        idx = self.split.train_indices()
        self.weights = np.stack([member_weights(s, idx, dataset.shots) for s in specs])
        self._frac = torch.tensor([s.effective_shots / len(idx) for s in specs],
                                  dtype=torch.float32, device=self.device)
        M = stack.n_members
        self.member_val = np.full(M, math.nan)
        self.member_best_val = np.full(M, math.inf)
        self.member_best_epoch = np.zeros(M, dtype=int)
        self.member_bad = np.zeros(M, dtype=int)

    # -- the loop's hooks --------------------------------------------------------------------
    def _batches(self, epoch: int):  # iterator of (shots, weights)
        rng = augmentation_rng(self.cfg.seed, epoch)

        def transform(a: np.ndarray) -> np.ndarray:
            return augment(a, self.symmetry, rng)

        for b, i in self.split.train_batches(epoch, self.cfg.batch_size, self.dist.rank,
                                             self.dist.world, transform=transform,
                                             with_index=True):
            a = torch.from_numpy(np.ascontiguousarray(b)).to(self.device, non_blocking=True)
            w = torch.from_numpy(self.weights[:, i].astype(np.float32)).to(self.device)
            yield a, w

    def _loss(self, net: nn.Module, a: torch.Tensor, extra: Any) -> torch.Tensor:
        nll = net(a.long())  # M batch
        return ((nll * extra).mean(1) / self._frac).sum()

    def _clip_gradients(self) -> None:
        """Clip each member's gradient norm separately (members share no parameters)."""
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return
        sq = sum(g.detach().float().pow(2).flatten(1).sum(1) for g in grads)
        scale = (self.cfg.grad_clip / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.ndim - 1))).to(g.dtype))

    @torch.no_grad()
    def validate(self, model: Any = None) -> float:
        """Per-member mean validation NLL (kept in ``member_val``); returns their mean."""
        m = model if model is not None else self.scored_model
        m.eval()
        tot = np.zeros(m.n_members)
        for s in range(0, len(self.val), 2048):
            x = torch.from_numpy(np.ascontiguousarray(self.val[s : s + 2048]))
            tot += m(x.to(self.device).long()).double().sum(1).cpu().numpy()
        red = all_reduce([*tot.tolist(), float(len(self.val))], self.device, self.dist)
        n = red[-1]
        self.member_val = np.asarray(red[:-1]) / n if n else np.full(m.n_members, math.nan)
        return float(np.mean(self.member_val))

    def score(self, model: Any = None) -> dict[str, float]:
        """Scores of one exported member; the stack itself is not scored per epoch."""
        if model is None or isinstance(model, StackedGRU):
            return {k: math.nan for k in ("eval_nll", "classical_fidelity",
                                          "classical_fidelity_se", "kl_divergence",
                                          "kl_divergence_se")}
        return super().score(model)

    def _track_best(self, val_nll: float) -> bool:
        v = self.member_val
        keep_last = self.cfg.keep == "last" or not np.isfinite(v).all()
        better = np.ones_like(v, dtype=bool) if keep_last else v < self.member_best_val
        sd = self.scored_model.state_dict()
        if self.best_state is None:
            self.best_state = {k: t.detach().cpu().clone() for k, t in sd.items()}
        idx = torch.from_numpy(np.flatnonzero(better))
        if len(idx):
            for k, t in sd.items():
                self.best_state[k][idx] = t.detach().cpu()[idx]
        self.member_best_val = np.where(better, v, self.member_best_val)
        self.member_best_epoch = np.where(better, self.epoch, self.member_best_epoch)
        self.member_bad = np.where(better, 0, self.member_bad + 1)
        # the phase stops when every member has run out of patience
        self.bad_epochs = int(self.member_bad.min())
        self.best_val = float(np.mean(self.member_best_val))
        self.best_epoch = int(self.member_best_epoch.max())
        return bool(better.any())

    def _write_epoch(self, improved: bool) -> None:
        del improved
        if self.dist.is_main:
            write_metrics_csv(self.out / "members" / f"metrics_{self.phase}.csv", self.history)

    # -- results -------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Write every member's run directory; return one entry per member."""
        stack = self.scored_model
        if self.best_state is not None:
            stack.load_state_dict(self.best_state)
        base_cfg = self.run_config()
        entries = []
        for m, spec in enumerate(self.specs):
            g = stack.member(m).to(self.device)
            scores = self.score(g)
            d = self.out / "members" / spec.name
            entry = {
                **asdict(spec), "dir": str(Path("members") / spec.name),
                "phase": self.phase, "best_epoch": int(self.member_best_epoch[m]),
                "val_nll": float(self.member_best_val[m]),
                "classical_fidelity": scores["classical_fidelity"],
                "kl_divergence": scores["kl_divergence"],
            }
            if self.dist.is_main:
                cfg = {**base_cfg, "member": {**asdict(spec), "phase": self.phase,
                                              "main_run": str(self.out.resolve())}}
                ck = {
                    "dataset_hash": self.dataset.dataset_hash, "config": cfg,
                    "model": g.state(), "optimizer": None, "scheduler": None, "ema": None,
                    "best_model": None, "rng": {"torch": torch.get_rng_state()},
                    "trainer": {"epoch": int(self.member_best_epoch[m]),
                                "best_val_nll": float(self.member_best_val[m]),
                                "stopped": self.stopped, "member": spec.name},
                }
                save_checkpoint(d / "best.pt", ck)
                write_json(d / "config.json", cfg)
                write_json(d / "model_card.json", {
                    "model": g.name, "hparams": g.hparams, "n_parameters": g.num_parameters(),
                    "exact_log_prob": True, "has_likelihood": True,
                    "n_qubits": self.dataset.n_qubits, "K": self.dataset.K,
                    "povm": self.dataset.frame.name, "dataset_hash": self.dataset.dataset_hash,
                    "target": self.dataset.target, "qtomo_version": __version__,
                    "checkpoint": "best.pt", "member": cfg["member"], "results": entry,
                    "config": cfg,
                })
            entries.append(entry)
        return {"members": entries, "epochs": self.epoch, "stopped": self.stopped,
                "train_seconds": self.elapsed, "steps": self.step}


def train_members(dataset: Dataset, run_dir: str | Path, config: TrainConfig,
                  main_model: GRUModel, main_summary: dict[str, Any], *,
                  progress: bool | None = None) -> dict[str, Any]:
    """Train the members ``config`` asks for after the main run; write ``members.json``.

    Returns the ``members`` entry of the training summary: members, phases, seconds and the
    measured cost ratio (main + bootstrap seconds over the main run's seconds).
    """
    check_members_model(config)
    out = Path(run_dir)
    t0 = time.perf_counter()

    n_train = ShotSplit(dataset, val_fraction=config.val_fraction, seed=config.seed,
                        block_rows=config.block_rows, cache_bytes=0).n_train
    specs = member_plan(n_train, config.seed, config.bootstrap, config.learning_curve)
    phases: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    main_seconds = float(main_summary.get("train_seconds") or math.nan)
    plain = config.replace(bootstrap=0, learning_curve=False)
    boot = [s for s in specs if s.kind == "bootstrap"]
    if boot:
        epochs = max(2, math.ceil(BOOTSTRAP_EPOCH_FRACTION * int(main_summary["epochs"])))
        # a short cosine schedule run to its end, whatever the main run's schedule was
        cfg = plain.replace(epochs=epochs, lr_schedule="cosine",
                            patience=min(plain.patience, epochs) if plain.patience else 0)
        base = copy.deepcopy(main_model).cpu().float()
        stack = StackedGRU([base] * len(boot))
        t = time.perf_counter()
        res = MemberTrainer(stack, dataset, cfg, boot, out, "bootstrap",
                            progress=progress).fit()
        res["wall_seconds"] = time.perf_counter() - t
        res["warm_start"] = "main model's kept weights"
        entries += res.pop("members")
        phases["bootstrap"] = res
    lc = [s for s in specs if s.kind == "learning_curve"]
    if lc:
        models = []
        for s in lc:
            torch.manual_seed(s.init_seed)
            fresh = GRUModel(dataset.n_qubits, dataset.K, **main_model.hparams)
            fresh.init_from_povm(dataset.frame.elements)
            models.append(fresh)
        t = time.perf_counter()
        res = MemberTrainer(StackedGRU(models), dataset, plain, lc, out, "learning_curve",
                            progress=progress).fit()
        res["wall_seconds"] = time.perf_counter() - t
        res["warm_start"] = None
        entries += res.pop("members")
        phases["learning_curve"] = res
    boot_s = phases.get("bootstrap", {}).get("wall_seconds", 0.0)
    info = {
        "format": "qtomo-members", "format_version": 1,
        "count": len(entries),
        "bootstrap": len(boot), "learning_curve": len(lc),
        "members": entries, "phases": phases,
        "main_train_seconds": main_seconds,
        "members_seconds": time.perf_counter() - t0,
        "bootstrap_cost_ratio": (main_seconds + boot_s) / main_seconds
        if boot and main_seconds > 0 else None,
        "cost_note": "bootstrap_cost_ratio = (main run + bootstrap phase) seconds / main run "
        "seconds; the main run is one member trained alone",
        "method": "bootstrap: Multinomial(n, 1/n) shot weights, warm started from the main "
        f"model, retrained {BOOTSTRAP_EPOCH_FRACTION:g} x the main epochs; learning curve: "
        "Multinomial(f n, 1/n) shot weights, trained from scratch",
    }

    if DistInfo.current().is_main:
        write_json(out / MEMBERS_FILE, info)
    return info


__all__ = [
    "BOOTSTRAP_EPOCH_FRACTION",
    "LEARNING_CURVE_FRACTIONS",
    "LEARNING_CURVE_REPEATS",
    "MEMBERS_FILE",
    "MemberSpec",
    "MemberTrainer",
    "check_members_model",
    "member_plan",
    "member_weights",
    "train_members",
]
