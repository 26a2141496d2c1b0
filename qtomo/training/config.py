"""Training configuration, its dataset-adapted defaults, and device/precision resolution.

:class:`TrainConfig` holds every setting of a training run as explicit fields; the CLI builds
it (rejecting unknown keys) and the run directory records it in full. :func:`default_config`
adapts the defaults to the dataset (size, N): a user passes no tuning flags.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

import torch

from qtomo.data.hdf5 import open_dataset
from qtomo.errors import InputValueError
from qtomo.models.gru import DEFAULT_PHASE_CHANNELS, phase_site_default, plateau_regime
from qtomo.models.registry import model_class, model_hparam_names
from qtomo.training.symmetry import SYMMETRIES

SCHEDULES = ("cosine", "constant", "plateau")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")
KEEPS = ("best", "last")
#: Bootstrap members trained by default (GRU, up to BOOTSTRAP_MAX_QUBITS qubits: the headline
#: fidelity is the model's dense maximum-likelihood state, and every member's state is fitted
#: again in ``qtomo reconstruct``, which costs minutes per member at N = 10).
DEFAULT_BOOTSTRAP = 10
BOOTSTRAP_MAX_QUBITS = 6
#: Up to this N the default GRU is narrower (SMALL_HIDDEN units, not 100): at most 6^4 = 1296
#: outcome strings need no more, and a step costs less at an unchanged headline fidelity
#: (docs/design-notes.md, "Training defaults").
SMALL_NETWORK_MAX_QUBITS = 4
SMALL_HIDDEN = 64


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run.

    Attributes
    ----------
    model : str
        Registry name of the model.
    hparams : dict
        Model keyword arguments (see ``qtomo.models.registry.model_hparam_names``).
    epochs : int
        Maximum number of passes over the training shots.
    batch_size : int
        Shots per optimizer step (the global batch under data parallelism).
    lr : float
        Peak learning rate of Adam(W).
    lr_schedule : str
        ``cosine`` (linear warm-up, then cosine decay to ``min_lr_fraction * lr`` at the last
        epoch), ``constant`` (warm-up, then flat) or ``plateau`` (warm-up, then the peak rate,
        halved after every epoch whose validation NLL is not lower than the best so far by
        a fraction ``PLATEAU_MIN_DELTA`` = 2e-5 of it; with ``patience``, training stops
        after that many such epochs in a row: convergence is judged on the validation NLL,
        not on a schedule length). On ``--resume --epochs N`` see
        :mod:`qtomo.training.schedule`.
    warmup_steps : int
        Optimizer steps of linear warm-up.
    min_lr_fraction : float
        Final learning rate of the cosine schedule, as a fraction of ``lr``.
    weight_decay : float
        Decoupled weight decay (AdamW); 0 is plain Adam.
    grad_clip : float
        Maximum global gradient norm (0 disables clipping).
    ema_decay : float
        Decay of an exponential moving average of the weights that is validated, kept as
        the best model and scored (0 disables it).
    val_fraction : float
        Fraction of the training shots held out for validation (early stopping).
    patience : int
        Stop after this many epochs without a lower validation NLL (0 disables).
    seed : int
        Seed of the initialisation, the split, the batch order and dropout.
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    precision : str
        ``auto`` (bf16 autocast on CPUs with bf16 matrix units and on CUDA, else fp32),
        ``fp32`` or ``bf16``. The per-epoch validation and scores run at this precision (its
        rounding shifts a mean NLL by about 1e-5 nats, far below the differences between
        epochs); the kept model's final scores run in float32.
    max_minutes : float or None
        Stop training after this much wall time (then score the best model).
    block_rows : int
        Shots per HDF5 read (and per unit of the train/validation split).
    cache_mb : int
        Keep the shots in memory when the outcome array is at most this large.
    val_max_shots : int
        At most this many validation shots are scored per epoch.
    symmetry : str
        Augment the training shots with a symmetry group of the state: ``auto`` (the group
        the dataset declares), ``none``, ``reflection``, ``translation`` or ``permutation``
        (see :mod:`qtomo.training.symmetry`).
    keep : str
        Which model is kept in ``best.pt`` and scored: ``best`` (lowest validation NLL) or
        ``last`` (the end of the run). Either way, progress (the plateau schedule and
        ``patience``) is judged against the lowest validation NLL so far; with ``last`` the
        summary compares the kept model with the lowest-NLL one per validation shot
        (``heldout_gap``), which ``qtomo reconstruct`` checks.
    bootstrap : int
        Also train this many bootstrap members (GRU only), each on a multinomial resample
        of the training shots, side by side in one stacked model (0: none; else >= 2); see
        :mod:`qtomo.training.members`.
    learning_curve : bool
        Also train members on 1/8, 1/4 and 1/2 of the training shots (shots planning).
    """

    model: str = "gru"
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: int = 40
    batch_size: int = 256
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    warmup_steps: int = 100
    min_lr_fraction: float = 0.02
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.0
    val_fraction: float = 0.1
    patience: int = 5
    seed: int = 1234
    device: str = "auto"
    precision: str = "auto"
    max_minutes: float | None = None
    block_rows: int = 1 << 18
    cache_mb: int = 1024
    val_max_shots: int = 100_000
    symmetry: str = "auto"
    keep: str = "best"
    bootstrap: int = 0
    learning_curve: bool = False

    def validate(self) -> TrainConfig:
        """Check ranges; raise :class:`InputValueError` naming the option."""
        self._check_numbers()
        self._check_choices()
        if self.max_minutes is not None and (
            not math.isfinite(self.max_minutes) or self.max_minutes <= 0
        ):
            raise InputValueError(f"--max-minutes must be a number > 0, got {self.max_minutes}")
        if not isinstance(self.hparams, dict):
            raise InputValueError("model hparams must be a dict")
        return self

    def _check_numbers(self) -> None:
        """The integer settings and the real ones, with their ranges."""
        ints = {"epochs": 1, "batch_size": 1, "warmup_steps": 0, "patience": 0,
                "block_rows": 1, "cache_mb": 0, "val_max_shots": 1}
        for name, lo in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputValueError(f"--{_opt(name)} must be an integer >= {lo}, got {v!r}")
        for name in ("lr", "min_lr_fraction", "weight_decay", "grad_clip", "ema_decay",
                     "val_fraction"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputValueError(f"--{_opt(name)} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0:
            raise InputValueError(f"--lr must be > 0, got {self.lr}")
        if self.min_lr_fraction > 1:
            raise InputValueError(f"min_lr_fraction must lie in [0, 1], got {self.min_lr_fraction}")
        if self.ema_decay >= 1:
            raise InputValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.val_fraction > 0.9:
            raise InputValueError(f"--val-fraction must lie in [0, 0.9], got {self.val_fraction}")

    def _check_choices(self) -> None:
        """The settings named from a list (schedule, symmetry, keep, precision, device) and the
        members' (bootstrap, learning curve)."""
        if self.lr_schedule not in SCHEDULES:
            raise InputValueError(
                f"unknown learning-rate schedule {self.lr_schedule!r}; expected one of "
                f"{', '.join(SCHEDULES)}"
            )
        if self.symmetry not in ("auto", *SYMMETRIES):
            raise InputValueError(
                f"unknown --symmetry {self.symmetry!r}; expected auto, {', '.join(SYMMETRIES)}"
            )
        b = self.bootstrap
        if isinstance(b, bool) or not isinstance(b, int) or b < 0 or b == 1 or b > 200:
            raise InputValueError(
                f"--bootstrap must be 0 (none) or an integer from 2 to 200, got {b!r}")
        if not isinstance(self.learning_curve, bool):
            raise InputValueError(f"learning_curve must be true or false, got "
                                  f"{self.learning_curve!r}")
        if self.keep not in KEEPS:
            raise InputValueError(f"--keep must be best or last, got {self.keep!r}")
        if self.precision not in PRECISIONS:
            raise InputValueError(
                f"unknown precision {self.precision!r}; expected one of {', '.join(PRECISIONS)}"
            )
        parse_device(self.device)

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`as_dict`; unknown keys raise :class:`InputValueError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputValueError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**d).validate()

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes).validate()


def _opt(name: str) -> str:
    return name.replace("_", "-")


def default_config(model: str, n_qubits: int, shots: int, K: int) -> dict[str, Any]:
    """Defaults adapted to the dataset, as a dict of :class:`TrainConfig` fields.

    The recipe (measured on TFIM and GHZ data, see ``scripts/bench_train.py``):
    small data gets a smaller batch and more epochs (a fixed budget of optimizer steps
    rather than of epochs), large data a larger batch; early stopping on the validation NLL
    ends the run when more steps stop helping.
    """
    if shots <= 20_000:
        batch, epochs = 100, 200
    elif shots <= 400_000:
        batch, epochs = 256, 30
    else:
        batch, epochs = 1000, 20
    hp: dict[str, Any] = {}
    if model == "gru":
        hidden = SMALL_HIDDEN if n_qubits <= SMALL_NETWORK_MAX_QUBITS else 100
        # product channels where the plateau schedule trains (few shots, or few qubits); on
        # many shots of more qubits the tuning cells of scripts/training_cells.py trained
        # better and faster without them (docs/design-notes.md, "Training defaults")
        phase = DEFAULT_PHASE_CHANNELS if plateau_regime(n_qubits, shots) else 0
        hp = {"hidden": hidden, "layers": 2, "phase": phase,
              "phase_site": phase_site_default(n_qubits, shots)}
    out: dict[str, Any] = {"hparams": hp, "batch_size": batch, "epochs": epochs}
    # a model class may adapt the training defaults to itself (classmethod
    # ``training_defaults(n_qubits, shots, K) -> dict`` of TrainConfig fields)
    try:
        hook = getattr(model_class(model), "training_defaults", None)
    except InputValueError:  # unknown model: reported when the model is built
        hook = None
    if hook is not None:
        out.update(hook(n_qubits, shots, K))
    if model == "gru" and n_qubits <= BOOTSTRAP_MAX_QUBITS:
        # the headline is the model's dense maximum-likelihood state: give it an error bar
        out["bootstrap"] = DEFAULT_BOOTSTRAP
    return out


def dataset_config(data: Any, model: str = "gru", *, symmetry: str | None = None,
                   hparams: dict[str, Any] | None = None, **settings: Any) -> TrainConfig:
    """The :class:`TrainConfig` that ``qtomo train DATA --model MODEL`` builds.

    The dataset-adapted defaults (:func:`default_config`), the model's own hparams filtered
    to those it takes, then ``hparams`` and the explicit ``settings`` (TrainConfig fields) on top.
    """
    with open_dataset(data) as ds:
        defaults = default_config(model, ds.n_qubits, ds.shots, ds.K)
        design = getattr(getattr(ds, "design", None), "kind", "random")
    allowed = model_hparam_names(model)
    hp = {k: v for k, v in defaults.pop("hparams").items() if k in allowed}
    hp.update(hparams or {})
    _resolve_likelihood(hp, model, design)
    if symmetry is not None:
        settings["symmetry"] = symmetry
    return TrainConfig(**{**defaults, **settings, "model": model, "hparams": hp})


#: Models with an exact autoregressive likelihood, which can be conditioned on the settings.
CONDITIONAL_MODELS = ("gru", "conv", "transformer")


def _resolve_likelihood(hp: dict[str, Any], model: str, design: str) -> None:
    """``--likelihood`` in place in the hparams: the default follows the dataset's design
    (bases fixed per setting: conditional; drawn per shot: joint, the hparam left out)."""
    lik = hp.pop("likelihood", None)
    if lik is None:
        lik = "conditional" if design == "fixed" else "joint"
    if lik not in ("joint", "conditional"):
        raise InputValueError(f"unknown --likelihood {lik!r}; expected joint or conditional")
    if lik == "conditional":
        if model not in CONDITIONAL_MODELS:
            why = ("the dataset's settings are fixed per setting (a measurement design), so "
                   if design == "fixed" else "")
            raise InputValueError(
                f"{why}training needs the likelihood of the bits given the settings, which "
                f"--model {model} does not have; use gru, conv or transformer")
        hp["likelihood"] = "conditional"


_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def parse_device(spec: str) -> str:
    """Check a ``--device`` value; returns it normalised (lower case)."""
    s = str(spec).strip().lower()
    if not _DEVICE_RE.match(s):
        raise InputValueError(
            f"unknown device {spec!r}; expected auto, cpu, cuda, cuda:N or mps"
        )
    return s


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``--device`` (``auto``: cuda, then mps, then cpu)."""
    s = parse_device(spec)
    if s == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if s.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputValueError(
                "--device cuda was requested but this torch build or machine has no CUDA "
                "device; use --device cpu or auto"
            )
        idx = int(s.split(":")[1]) if ":" in s else local_rank % torch.cuda.device_count()
        if idx >= torch.cuda.device_count():
            raise InputValueError(
                f"--device {s}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return torch.device("cuda", idx)
    if s == "mps" and not _mps_available():
        raise InputValueError("--device mps was requested but MPS is not available; use cpu")
    return torch.device(s)


def _mps_available() -> bool:
    b = getattr(torch.backends, "mps", None)
    return bool(b is not None and b.is_available())


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return ("amx_bf16" in flags or "avx512_bf16" in flags) and bool(
        torch.backends.mkldnn.is_available()
    )


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for this device (``auto`` picks bf16 where it is fast)."""
    if precision == "fp32":
        return "fp32"
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
    elif device.type == "cpu":
        ok = cpu_has_fast_bf16() if precision == "auto" else True
    else:
        ok = False
    if precision == "bf16" and not ok:
        raise InputValueError(f"--precision bf16 is not supported on {device}; use fp32")
    return "bf16" if ok else "fp32"


__all__ = [
    "DEVICES",
    "PRECISIONS",
    "SCHEDULES",
    "TrainConfig",
    "cpu_has_fast_bf16",
    "dataset_config",
    "default_config",
    "parse_device",
    "resolve_device",
    "resolve_precision",
]
