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
main model: a resample holds only about 63% distinct shots, and the members come out
systematically worse than the main model (TFIM N = 6, Pauli-4, 18,000 training shots: the
main state 0.9936, the members' mean 0.9856), a shift of the resampling, not an error of the
main model; their mean infidelity to it (``to_main``, 0.0121 there) doubles the pairwise
scatter (0.0060) and the model's true infidelity (0.0064). The network's own bias (what it
cannot represent or does not reach, which no resample shows) is what
``MODEL_INFIDELITY_FLOOR`` stands for, and the two add: e_m = floor + s.

Why it matters: with few shots per outcome string a model trained on them follows their noise
as the frequencies do, and the two states lie close together while both are far from the
state measured (a Haar-random 4-qubit state, 4,500 training shots in Pauli-6: the model's state
0.9918 and the frequencies' MLE 0.9980 lie only 0.0048 apart). Their distance cannot tell which
is better; the members can: s = 0.0048 there, above the frequencies' split-half e_f = 0.0044,
and with the two errors' overlap read from their distance the anchor moves from 0.41 to 0.86.
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
