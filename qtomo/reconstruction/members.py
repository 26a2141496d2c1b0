"""A run's members on disk (``qtomo train --bootstrap B``, ``--learning-curve``;
:mod:`qtomo.training.members`) and each member's share of the run's shots.

What lives here: :func:`read_members` and :func:`load_members` (the run's ``members.json`` and
the member models), and, for a bootstrap member, the counts of its resample of the shots
(:func:`member_counts`), its table mixed with them as the main model's state was
(:func:`member_blend`), and the family its maximum-likelihood state is fitted in
(:func:`member_family`). The error bars they give are in :mod:`qtomo.reconstruction.bootstrap`,
the members' scatter in :mod:`qtomo.reconstruction.model_spread`.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.errors import DataFileError
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.run_shots import RunShots, blend_table
from qtomo.reconstruction.shots_noise import member_depolarizing
from qtomo.training.checkpoint import load_run
from qtomo.training.members import MemberSpec, member_weights

MEMBERS_FILE = "members.json"
#: L-BFGS iterations of a member's MLE fit (warm started from the main model's MLE state).
MEMBER_MLE_ITERATIONS = TUNING.refit_iterations


def read_members(run_dir: str | Path | None) -> dict[str, Any] | None:
    """The run's members.json (None when the run has no members)."""
    if run_dir is None:
        return None
    p = Path(run_dir) / MEMBERS_FILE
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise DataFileError(f"{p}: unreadable members file ({e}); train again") from None


def load_members(run_dir: Path, info: dict[str, Any], kind: str) -> list[tuple[dict, Any]]:
    """The run's members of ``kind`` (bootstrap or learning_curve): (entry, model) pairs."""
    out = []
    for e in info.get("members", []):
        if e.get("kind") == kind:
            model, _ = load_run(run_dir / e["dir"])
            out.append((e, model))
    return out


def member_counts(shots: RunShots, member: dict[str, Any]) -> np.ndarray:
    """Counts per dataset row of the member's resample: on the training rows the one it was
    trained on; on the validation rows, which the blended state also uses
    (:func:`~qtomo.reconstruction.run_shots.blend_table`), a multinomial resample of the same
    fraction of them, seeded by the member."""
    spec = MemberSpec(**{f.name: member[f.name] for f in fields(MemberSpec)})
    counts = member_weights(spec, shots.train_rows, shots.index.size).astype(np.int64)
    val = shots.val_rows
    if val.size:
        m = int(round(spec.fraction * val.size))
        counts[val] = np.random.default_rng([spec.seed, 1]).multinomial(
            m, np.full(val.size, 1.0 / val.size))
    return counts


def member_blend(table: np.ndarray, blend: tuple[float, RunShots], member: dict[str, Any]
                 ) -> np.ndarray:
    """The member's table mixed with the frequencies of its own resample of the shots
    (:func:`member_counts`), at the main MLE state's weight
    (:mod:`qtomo.reconstruction.blend`)."""
    weight, shots = blend
    return blend_table(table, weight, shots, member_counts(shots, member))


def member_family(ctx: dict[str, Any], member: dict[str, Any] | None, init: Any
                  ) -> dict[str, Any]:
    """The main MLE fit's family for a member: where the shots set the depolarizing strength
    (:mod:`qtomo.reconstruction.shots_noise`), the strength of the member's own resample."""
    fit, shots = ctx["mle_fit"], ctx.get("run_shots")
    if shots is None or member is None or not mle.noise_fixed(fit):
        return fit
    freq = shots.frequencies(member_counts(shots, member))
    return member_depolarizing(freq, ctx["frame"], shots.n, fit, init, MEMBER_MLE_ITERATIONS)


__all__ = ["MEMBERS_FILE", "MEMBER_MLE_ITERATIONS", "load_members", "member_blend",
           "member_counts", "member_family", "read_members"]
