"""Noise is a property of the prepared state: the shots decide whether the model's MLE state
takes it.

The model's MLE state is fitted in a family chosen for the model's table (rank, and local
depolarizing noise of a fitted strength, :func:`qtomo.reconstruction.mle.fit_mle_auto`). A
model's table is a smoothed copy of the shots, and its smoothing looks like noise to that
choice; :func:`noise_from_shots` keeps the noise only where the shots' own fit at the same rank
takes it (:func:`shots_ask_for_noise`), by the margin ``NOISE_PENALTY`` of
:mod:`qtomo.reconstruction.mle` (chi-square_1 at 0.001).

The shots' test is in-sample (the likelihood of the very shots the two states are fitted to),
and it loses its power where the shots are sparse: with few shots per outcome string a pure
state of many parameters fits them as well as a noisy one, the noise is dropped and the
model's state comes out too pure. A run trained under a symmetry group (GHZ's permutations,
the open chain's reflection) is therefore checked on the frequencies averaged over that group,
the table its augmented training shots estimate
(:meth:`~qtomo.reconstruction.run_shots.RunShots.frequencies`), which keeps the test's power
without making pure states take noise.

**The shots test the strength too.** Where they take the noise, their fit at the same rank
with the strength held at the table's is compared with their own noisy fit; where twice the
log-likelihood difference exceeds the same margin, the model's state is refitted to its table
at that rank with the strength held at the shots' own, ``depolarizing_from: "shots"`` in the
fit; the blended fits (:mod:`~qtomo.reconstruction.blend`) keep it
(:func:`~qtomo.reconstruction.mle.refit_like`), and each bootstrap member takes the strength
of its own resample of the training shots (:func:`member_depolarizing`). Why: the strength
fitted to the table carries the table's smoothing, most where no symmetry group averages it;
where the two strengths agree within the shots' error the table's, free of the shots'
sampling error, is kept.

How this was measured: docs/design-notes.md, section "Noise in the maximum-likelihood family".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qtomo.povm.frames import AnyFrame
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import Stage
from qtomo.reconstruction.inputs import DatasetInputs
from qtomo.training.symmetry import symmetrize_table
from qtomo.typing import ComplexArray, FloatArray


def shots_ask_for_noise(freq: FloatArray, frame: AnyFrame, n: int, *, rank: int, n_shots: int,
                        init: ComplexArray | None = None, table_strength: float | None = None
                        ) -> dict[str, Any]:
    """Whether the shots themselves take the depolarizing noise at ``rank``: their frequency
    table fitted at that rank with and without it, the noise taken (as in
    :func:`~qtomo.reconstruction.mle.fit_mle_auto`) when twice the shots' log-likelihood gain
    exceeds ``NOISE_PENALTY``.

    A model's table is a smoothed copy of the shots, and its smoothing looks like noise: the
    pure state nearest the table in KL can predict the shots worse than the same state behind
    a little depolarization, which then hedges the model's own errors at the cost of the
    fidelity. Noise is a property of the prepared state, so the shots decide it.

    With ``table_strength`` (the strength fitted to the model's table) and the noise taken, the
    shots also test that strength: their fit at the same rank with the strength held there,
    against their own noisy fit; ``strength_from_shots`` when twice the log-likelihood
    difference, ``strength_lr``, exceeds the same ``NOISE_PENALTY`` (module doc).

    Returns ``takes_noise``, ``gain`` (2 x the log-likelihood gain, nats), ``depolarizing``
    (the strength the shots' noisy fit found) and ``penalty``; with ``table_strength`` also
    ``strength_lr`` and ``strength_from_shots``.
    """
    pure = mle.fit_mle(freq, frame, n, rank=rank, init=init)
    noisy = mle.fit_mle_noisy(freq, frame, n, rank=rank, init=pure.rho)
    gain = 2.0 * float(n_shots) * (pure.kl - noisy.kl)
    out = {"takes_noise": bool(gain > mle.NOISE_PENALTY), "gain": gain,
           "depolarizing": noisy.depolarizing, "penalty": mle.NOISE_PENALTY}
    if out["takes_noise"] and table_strength is not None:
        held = mle.fit_mle(freq, frame, n, rank=rank, init=noisy.rho,
                           depolarizing=float(table_strength))
        lr = max(0.0, 2.0 * float(n_shots) * (held.kl - noisy.kl))
        out.update(strength_lr=lr, strength_from_shots=bool(lr > mle.NOISE_PENALTY))
    return out


@dataclass(frozen=True)
class NoiseCheck:
    """What the shots say about the noise of the model's MLE state (:func:`noise_from_shots`).

    Attributes
    ----------
    fit : dict
        The model MLE's fit record (``report["quantum"]["model"]["mle_fit"]``) with the check
        in ``noise_from_shots``: the table's own fit where the shots take its noise at its
        strength, else the table's state refitted at the shots' strength or without noise.
    rho : ndarray (2^N, 2^N) or None
        That refitted state (None: the table's own state is kept).
    """

    fit: dict[str, Any]
    rho: ComplexArray | None = None


def noise_from_shots(fit: dict[str, Any] | None, table: FloatArray, rho: ComplexArray,
                     inp: DatasetInputs, freq: FloatArray, n_shots: int, stage: Stage,
                     symmetry: str = "none") -> NoiseCheck | None:
    """Keep the depolarizing noise of the model's MLE state only where the shots' own fit at
    the same rank takes it (:func:`shots_ask_for_noise`), at the table's strength unless the
    shots reject it, then at theirs; else the model's ``table`` is refitted at that rank with
    the strength held there, or without noise.

    ``fit`` and ``rho`` are the model MLE's fit record and state (the fit of ``table``); None
    is returned where that fit has no noise to check. ``symmetry``: the group the run was
    trained under (:func:`~qtomo.reconstruction.run_shots.run_symmetry`); the shots'
    frequencies are averaged over it first, as the model's augmented training shots were
    (module doc). Nothing handed in is changed: the record returned carries the new fit."""
    if fit is None or not mle.has_noise(fit):
        return None
    stage("depolarizing noise: do the shots take it?")
    rank = int(fit["rank"])
    if symmetry != "none":
        freq = symmetrize_table(freq, inp.K, inp.n, symmetry)
    check = {**shots_ask_for_noise(freq, inp.frame, inp.n, rank=rank, n_shots=n_shots,
                                   init=rho, table_strength=float(fit["depolarizing"])),
             "symmetry": symmetry}
    if check["takes_noise"] and not check["strength_from_shots"]:
        return NoiseCheck({**fit, "noise_from_shots": check})
    # the shots' strength (or none), the table's state refitted at it (module doc)
    res = mle.fit_mle(table, inp.frame, inp.n, rank=rank, init=rho,
                      depolarizing=float(check["depolarizing"]) if check["takes_noise"] else 0.0)
    new = {**res.info(), "rank_candidates": fit.get("rank_candidates", []),
           "rank_selection": fit.get("rank_selection"),
           "noise_from_shots": {**check, "model_depolarizing": fit["depolarizing"]}}
    if check["takes_noise"]:
        new["depolarizing_from"] = mle.NOISE_FROM_SHOTS
    return NoiseCheck(new, res.rho)


def member_depolarizing(freq: FloatArray, frame: AnyFrame, n: int, fit: dict[str, Any],
                        init: ComplexArray | None, max_iter: int) -> dict[str, Any]:
    """A bootstrap member's family: ``fit`` with the depolarizing strength of the member's own
    resample of the training shots (``freq``, averaged as the run's), their noisy fit at the
    fit's rank started from the main strength, where the main strength is the shots' (module
    doc); ``fit`` unchanged otherwise."""
    if not mle.noise_fixed(fit):
        return fit
    got = mle.fit_mle_noisy(freq, frame, n, rank=int(fit["rank"]), init=init,
                            max_iter=max_iter, p_start=float(fit["depolarizing"]))
    return {**fit, "depolarizing": float(got.depolarizing)}


__all__ = ["NoiseCheck", "member_depolarizing", "noise_from_shots", "shots_ask_for_noise"]
