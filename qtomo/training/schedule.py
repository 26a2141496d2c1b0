"""Learning-rate schedule and wall-time budget of the training loop.

Schedules (``TrainConfig.lr_schedule``), all after a linear warm-up of
``min(warmup_steps, total_steps // 4)`` steps:

* ``cosine``: decay from the peak rate to ``min_lr_fraction`` of it at the last step of the
  run or, under a time budget that ends the run sooner, at the end of the budget;
* ``constant``: the peak rate;
* ``plateau``: the peak rate halved after every epoch without progress (an epoch must lower
  the validation NLL by :data:`PLATEAU_MIN_DELTA` of its best value).

Extending a run (``qtomo train --resume --epochs N`` with N above the stored cap, see
:func:`qtomo.training.session.resume_training`): the cosine is re-stretched to the new length,
i.e. from the current step on the rate is that of a run planned for N epochs from the start
(for a finished run it rises again from its floor, a warm restart); ``plateau`` continues
with its current rate (the halvings so far are kept) and its patience counter reset;
``constant`` is unchanged.

Time budget: a step is budgeted at :data:`STEP_MARGIN` times the last one's wall time, the
validation and scoring that end an epoch at :data:`EVAL_MARGIN` times the previous epoch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from qtomo.training.config import TrainConfig

#: ``plateau`` schedule: an epoch must lower the validation NLL by this fraction of its best
#: value to count as progress; otherwise the learning rate is halved.
PLATEAU_MIN_DELTA = 2e-5

#: Time budget: one more step is assumed to take this many times the last step's wall time.
STEP_MARGIN = 2.0

#: Time budget: an epoch's validation and scoring are assumed to take this many times the
#: previous epoch's.
EVAL_MARGIN = 1.3


def lr_lambda(cfg: TrainConfig, total_steps: int,
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


def no_room_for_step(now: float, step_seconds: float, eval_seconds: float,
                     budget: float) -> bool:
    """True when one more step and the epoch's validation and scoring (with their margins)
    would end past ``budget`` seconds (``now``: seconds used so far)."""
    return now + STEP_MARGIN * step_seconds + EVAL_MARGIN * eval_seconds > budget


def budget_used(now: float, eval_seconds: float, budget: float) -> float:
    """Fraction of the time budget used, counting the epoch's validation and scoring to come
    (the cosine schedule's clock under a budget)."""
    return min(1.0, (now + EVAL_MARGIN * eval_seconds) / budget)


__all__ = ["EVAL_MARGIN", "PLATEAU_MIN_DELTA", "STEP_MARGIN", "budget_used", "lr_lambda",
           "no_room_for_step"]
