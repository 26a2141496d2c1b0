"""How far the model's MLE state scatters over the run's bootstrap members: the model's own
error in the blend's anchor (:mod:`qtomo.reconstruction.blend`). Each member's share of the
run's shots (its resample, its blend, its depolarizing strength) is in
:mod:`qtomo.reconstruction.members`.

Each bootstrap member (``qtomo train --bootstrap B``, on by default for N <= 6) is the same
network trained on a multinomial resample of the training shots. Its outcome table, fitted in
the main model's family (rank, depolarizing noise) as the main table is, gives a state rho_b.
Two independent draws of an estimator whose infidelity to its mean is s lie 2 s apart, so

    s = mean_{b < c} (1 - F(rho_b, rho_c)) / 2

is the part of the model state's infidelity that comes from the finite shots it was trained
on, by the bootstrap principle. It is measured about the members' own mean, not about the
main model: a resample holds only about 1 - 1/e = 63% distinct shots, so the members come
out systematically worse than the main model, a shift of the resampling, not an error of the
main model, and their mean infidelity to it (``to_main``, reported beside s) overstates the
model's error. The network's own bias (what it cannot represent or does not reach, which no
resample shows) is what ``MODEL_INFIDELITY_FLOOR`` stands for, and the two add:
e_m = floor + s.

Why it matters: with few shots per outcome string a model trained on them follows their noise
as the frequencies do, and the two states lie close together while both are off. Their
distance cannot tell which is better; the members can, and with the two errors' overlap read
from their distance the anchor moves toward the estimator with the smaller error.
How this was measured: docs/design-notes.md, section "The model's error from its bootstrap
members".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.reconstruction import density as dm
from qtomo.reconstruction import mle
from qtomo.reconstruction.members import (
    MEMBER_MLE_ITERATIONS,
    load_members,
    member_family,
    read_members,
)
from qtomo.reconstruction.metrics import physical_fidelity


def member_spread(run_dir: str | Path | None, fit: dict[str, Any], frame: Any, n: int,
                  shots: Any, rho0: np.ndarray, stage: Any = None) -> dict[str, Any] | None:
    """The scatter s of the MLE states of the run's bootstrap members (module doc;
    :func:`table_spread` of the members' outcome tables, fitted from the main model's
    ``rho0``).

    Returns ``{"spread": s, "to_main": ..., "members": B}``, or None for a run with fewer
    than 2 bootstrap members (or none on disk).
    """
    info = read_members(run_dir)
    if info is None:
        return None
    boot = load_members(Path(run_dir), info, "bootstrap")  # type: ignore[arg-type]
    if len(boot) < 2:
        return None
    if stage is not None:
        stage(f"model's MLE state: its scatter over {len(boot)} bootstrap members")
    return table_spread(((e, dm.probability_table(m)[0]) for e, m in boot), fit, frame, n,
                        shots, rho0)


def table_spread(tables: Iterable[tuple[dict[str, Any] | None, np.ndarray]],
                 fit: dict[str, Any], frame: Any, n: int, shots: Any, rho0: np.ndarray
                 ) -> dict[str, Any]:
    """The scatter of the states of ``tables`` ((member entry, outcome table) pairs), each
    fitted in the family of ``fit`` from ``rho0``: ``spread``, half their mean pairwise
    infidelity (module doc), ``to_main``, their mean infidelity to ``rho0``, and ``members``.
    ``shots`` is the run's
    :class:`~qtomo.reconstruction.run_shots.RunShots` (where the shots set the depolarizing
    strength, a member's comes from its own resample; an entry of None keeps ``fit``'s)."""
    ctx = {"mle_fit": fit, "run_shots": shots, "frame": frame}
    rhos = [mle.refit_like(table, frame, n, member_family(ctx, entry, rho0), init=rho0,
                           max_iter=MEMBER_MLE_ITERATIONS).rho for entry, table in tables]
    pairs = [max(0.0, 1.0 - physical_fidelity(rhos[i], rhos[j]))
             for i in range(len(rhos)) for j in range(i)]
    to_main = [max(0.0, 1.0 - physical_fidelity(r, rho0)) for r in rhos]
    return {"spread": 0.5 * float(np.mean(pairs)) if pairs else float("nan"),
            "to_main": float(np.mean(to_main)), "members": len(rhos)}


__all__ = ["member_spread", "table_spread"]
