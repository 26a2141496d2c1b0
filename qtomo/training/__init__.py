"""Training: the one loop for every model (:class:`Trainer`), its config, checkpoints, metrics.

Load a trained run with :func:`load_run`.
"""

from qtomo.training.checkpoint import load_run, read_checkpoint
from qtomo.training.config import TrainConfig, default_config
from qtomo.training.session import resume_training, run_training
from qtomo.training.trainer import Trainer

__all__ = [
    "TrainConfig",
    "Trainer",
    "default_config",
    "load_run",
    "read_checkpoint",
    "resume_training",
    "run_training",
]
