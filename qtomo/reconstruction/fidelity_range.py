"""The range of fidelities the shots allow, for designs that do not determine the fidelity.

A fixed design that leaves some of the 3^N Pauli-6 settings unmeasured may leave part of the
target's fidelity F = <psi|rho|psi> unmeasured too (the GHZ coherence is seen only in all-X/Y
settings with an even number of Y). Every estimate then rests on positivity and on the prior of
its fit (the model's extrapolation, the MLE's rank), and a bootstrap interval only shows how
that fit scatters, not how far the shots leave F open.

:func:`fidelity_range` bounds F over every density matrix that agrees with the shots:

* each Pauli string P measured by the design (some measured setting carries P's letters on P's
  support) gets an unbiased estimate of <P> from the bits of every setting that covers it
  (readout errors inverted qubit by qubit: each qubit's two elements of a letter are
  alpha_b I + beta_b sigma, so the bits' distribution is a 2 x 2 map per qubit of the
  string expectations), pooled over those settings by their shots, with its standard error;
* a simultaneous band |Tr[rho P] - <P>_hat| <= z se_P for all M measured strings, z from
  Bonferroni (z = Phi^-1(1 - 0.025 / M)): the state the shots came from lies inside every band
  with probability >= 95% (normal approximation);
* the lowest and highest F over the density matrices inside all bands: a convex problem
  (F linear, the bands and positivity convex), solved with rho = A A^+ / Tr at full rank and
  the bands as quadratic penalties of growing weight.

So the range is valid for any state and conservative (a simultaneous band, not one tailored to
F). Why not a profile likelihood with Wilks' chi-square reference: on a sparse design the
full-rank maximum of the likelihood over-fits the outcome cells, Wilks' asymptotics fail, and
the range can exclude the true fidelity (docs/design-notes.md, section "The fidelity range of
open designs"). Where the design measures the fidelity's Pauli terms the range is a few
standard errors wide; where it does not, positivity alone bounds it.

:func:`range_stage` computes it for the report (``quantum.data_range``); the headline policy
(:func:`qtomo.reconstruction.headline.choose_headline`) widens the headline's interval to
contain it, and :func:`range_notes` says so when the design leaves the fidelity open or the
headline outside the range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from qtomo.errors import InputValueError
from qtomo.povm.born import rho_from_probabilities
from qtomo.povm.frames import site_operators
from qtomo.reconstruction import mle
from qtomo.reconstruction.config import TUNING
from qtomo.reconstruction.density import product_table, project_to_physical, weighted_operator
from qtomo.reconstruction.notes import OUTSIDE_NOTE, UNDETERMINED_NOTE
from qtomo.states.paulis import I2, X, Y, Z

#: Largest N for the range (full-rank fits of 2^N x 2^N matrices, 4^N Pauli strings).
RANGE_MAX_QUBITS = 6
#: Simultaneous confidence level of the bands.
LEVEL = TUNING.range_level
#: The range is reported as undetermined by the design when wider than this: a quarter of
#: the unit interval tells a lab little about its state.
UNDETERMINED_WIDTH = TUNING.undetermined_width
#: Penalty weights (per squared standard error of violation) of the successive fits.
PENALTIES = (1.0, 30.0, 1000.0)
#: Weight of the maximally mixed state in the start of the fits.
START_MIXING = 0.3
#: L-BFGS iterations per penalty stage.
STAGE_ITERATIONS = 300


def _letter_maps(frame: Any, n: int) -> np.ndarray:
    """Per qubit and letter l (X, Y, Z) the 2 x 2 map G[b, k] from (<I>, <sigma_l>) to the
    bits' probabilities given the setting: M(2 l + b) = (G[b, 0] I + G[b, 1] sigma_l) / 3."""
    m = np.asarray(site_operators(frame, n))
    m = np.broadcast_to(m, (n, *m.shape)) if m.ndim == 3 else m
    if m.shape[1] != 6:
        raise InputValueError("the fidelity range needs a Pauli-6 design")
    g = np.zeros((n, 3, 2, 2))
    for j in range(n):
        for ell, sigma in enumerate((X, Y, Z)):
            for b in range(2):
                e = m[j, 2 * ell + b]
                a0, a1 = np.trace(e).real / 2, np.trace(e @ sigma).real / 2
                if np.abs(e - a0 * I2 - a1 * sigma).max() > 1e-9:
                    raise InputValueError(
                        f"qubit {j}: POVM element {2 * ell + b} is not a combination of I and "
                        "its Pauli; not a Pauli-6 POVM with readout errors")
                g[j, ell, b] = 3 * a0, 3 * a1
    return g


def measured_paulis(freq: np.ndarray, n_shots: int, frame: Any, n: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates of every Pauli string the design measures.

    Parameters
    ----------
    freq : (6^N,) float64, the raw shot frequencies
    n_shots : int
    frame : Pauli-6 Frame or LocalFrames (readout errors inverted)
    n : int

    Returns
    -------
    index : int64 (M,)
        The strings as base-4 numbers (I = 0, X = 1, Y = 2, Z = 3; qubit 0 most significant),
        the identity left out.
    mean, stderr : float64 (M,)
    """
    g = _letter_maps(frame, n)
    ginv = np.linalg.inv(g)  # (N, 3, 2, 2): bits' probabilities -> (<I>, <sigma>)
    counts = np.asarray(freq, dtype=np.float64) / np.sum(freq) * n_shots
    place6 = 6 ** np.arange(n - 1, -1, -1)
    digits = (np.arange(counts.size)[:, None] // place6[None, :]) % 6
    setting = (digits // 2) @ (3 ** np.arange(n - 1, -1, -1))
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1
    place4 = 4 ** np.arange(n - 1, -1, -1)
    num, den, var_num = np.zeros(4**n), np.zeros(4**n), np.zeros(4**n)
    for s in np.unique(setting[counts > 0]):
        letters = (s // 3 ** np.arange(n - 1, -1, -1)) % 3
        c = counts[(2 * letters[None, :] + bits) @ place6]  # (2^N,) bits in index order
        n_s = c.sum()
        w = np.ones((1, 1))
        for j in range(n):  # W = (x)_j G_j^-1 maps bit frequencies to sub-string expectations
            w = np.kron(w, ginv[j, letters[j]])
        f = c / n_s
        t = w @ f
        var = np.maximum((w * w) @ f - t * t, 0.0) / n_s
        idx = (bits * (letters[None, :] + 1)) @ place4  # the sub-string of each mask
        num[idx] += n_s * t
        den[idx] += n_s
        var_num[idx] += n_s * n_s * var
    keep = den > 0
    keep[0] = False  # the identity
    index = np.flatnonzero(keep)
    d = den[index]
    mean = num[index] / d
    # a string seen with one sign in every shot has a sample variance of 0: floor the error at
    # what a single opposite shot would give
    se = np.sqrt(np.maximum(var_num[index] / d**2, 4.0 / d**2))
    return index, mean, se


def _objective(op: np.ndarray, paulis: np.ndarray, index: np.ndarray, mean: np.ndarray,
               half: np.ndarray, se: np.ndarray, sign: float, lam: float, n: int, r: int
               ) -> Any:
    """-sign F(rho) + lam/2 sum_P (violation_P / se_P)^2 and its gradient in [Re A, Im A]."""
    d = 2**n

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        a = (x[: d * r] + 1j * x[d * r:]).reshape(d, r)
        t = float(np.vdot(a, a).real)
        if not t > 0:
            return 1e300, np.zeros_like(x)
        rho = a @ a.conj().T / t
        dev = product_table(rho, paulis).real[index] - mean
        over = np.maximum(np.abs(dev) - half, 0.0) / se
        wts = np.zeros(4**n)
        wts[index] = lam * over * np.sign(dev) / se  # d penalty / d <P>
        oa = op @ a
        f_val = float(np.vdot(a, oa).real) / t
        ra = weighted_operator(wts, paulis, n) @ a
        pen_lin = float(np.dot(wts[index], dev + mean))  # sum_P w_P <P>_rho
        g = -sign * (oa - f_val * a) / t + (ra - pen_lin * a) / t
        value = -sign * f_val + 0.5 * lam * float(np.sum(over**2))
        return value, 2.0 * np.concatenate([g.real.ravel(), g.imag.ravel()])

    return fun


def _extreme(sign: float, init: np.ndarray, op: np.ndarray, bands: tuple[np.ndarray, ...],
             n: int) -> tuple[float, float]:
    """The extreme F (sign +1: highest) inside the bands: (F, largest violation in s.e.)."""
    paulis = np.stack([I2, X, Y, Z])
    index, mean, half, se = bands
    rho = init
    for lam in PENALTIES:
        fun = _objective(op, paulis, index, mean, half, se, sign, lam, n, 2**n)
        rho, _, _ = mle.minimize_factor(fun, mle.start_factor(rho, 2**n),
                                        max_iter=STAGE_ITERATIONS, tol=1e-12)
    dev = product_table(rho, paulis).real[index] - mean
    worst = float(np.max(np.maximum(np.abs(dev) - half, 0.0) / se)) if index.size else 0.0
    return float(np.real(np.vdot(op, rho))), worst


def fidelity_range(freq: np.ndarray, n_shots: int, frame: Any, n: int, psi: np.ndarray, *,
                   level: float = LEVEL, init: np.ndarray | None = None) -> dict[str, Any]:
    """Lowest and highest F = <psi|rho|psi> over the density matrices inside the simultaneous
    bands of every measured Pauli string (module docstring).

    Parameters
    ----------
    freq : (6^N,) float64
        The raw shot frequencies (zero at unmeasured settings).
    n_shots : int
        Shots behind ``freq``.
    frame : Frame or LocalFrames
        The Pauli-6 POVM the shots were measured with (readout-effective elements).
    n : int
    psi : complex (2^N,)
        The target.
    level : float
        Simultaneous confidence level of the bands.
    init : density matrix to start the fits from (default: the projected inversion).

    Returns
    -------
    dict with ``low``, ``high``, ``level``, ``z`` (the band half-width in standard errors),
    ``strings`` (measured Pauli strings), ``violation`` (the largest band violation of the two
    extreme states, in standard errors) and ``method``.
    """
    v = np.asarray(psi, dtype=np.complex128)
    v = v / np.linalg.norm(v)
    op = np.outer(v, v.conj())
    index, mean, se = measured_paulis(freq, n_shots, frame, n)
    z = float(stats.norm.ppf(1.0 - (1.0 - level) / 2.0 / max(index.size, 1)))
    bands = (index, mean, z * se, se)
    if init is None:
        init = project_to_physical(rho_from_probabilities(freq, frame, n))
    # every direction alive at the start: from a nearly pure state the factor's small columns
    # get gradients as small as themselves and the search stays by its start, which leaves the
    # range of an open design far too narrow
    d = 2**n
    init = (1.0 - START_MIXING) * np.asarray(init) + START_MIXING * np.eye(d) / d
    high, v_hi = _extreme(+1.0, init, op, bands, n)
    low, v_lo = _extreme(-1.0, init, op, bands, n)
    return {
        "low": max(0.0, min(low, high)), "high": min(1.0, max(low, high)), "level": level,
        "z": z, "strings": int(index.size), "violation": max(v_hi, v_lo),
        "method": (f"lowest and highest <psi|rho|psi> over all density matrices whose every "
                   f"measured Pauli expectation lies within z = {z:.2f} standard errors of "
                   f"its estimate ({index.size} strings, a simultaneous {level:g} band by "
                   "Bonferroni); the calibration's error not included"),
    }


def range_stage(qs: Any, inp: Any, n_shots: int, seed_rho: np.ndarray | None,
                stage: Any) -> dict[str, Any] | None:
    """``report["quantum"]["data_range"]``: the range of fidelities the shots allow, for a
    fixed design that leaves Pauli terms of the fidelity unmeasured (N <=
    :data:`RANGE_MAX_QUBITS`, target known, raw frequencies built; None otherwise). The
    headline's interval is widened to contain it by
    :func:`qtomo.reconstruction.headline.choose_headline`."""
    if qs.freq is None or qs.ideal is None or inp.n > RANGE_MAX_QUBITS:
        return None
    stage("range of fidelities the shots allow")
    rng = fidelity_range(qs.freq, n_shots, inp.frame, inp.n, qs.ideal, init=seed_rho)
    rng["determined"] = bool(rng["high"] - rng["low"] <= UNDETERMINED_WIDTH)
    return rng


def range_notes(rng: dict[str, Any], value: float | None) -> list[str]:
    """The report's notes on the range and the headline ``value``: an undetermined fidelity
    first, then a headline outside the range (none when the value is None)."""
    if value is None:
        return []
    notes = []
    span = f"{rng['low']:.3f} to {rng['high']:.3f}"
    if not rng["determined"]:
        notes.append(
            f"{UNDETERMINED_NOTE}: states consistent with the shots ({level_text(rng)}) have "
            f"fidelities from {span}; the headline {value:.3f} is chosen by the fit's "
            "prior (positivity, rank, the model's extrapolation), not by the data; more "
            "settings (those of the Pauli terms the note on unmeasured terms counts) would "
            "pin it down")
    if not rng["low"] <= value <= rng["high"]:
        notes.append(
            f"{OUTSIDE_NOTE}: {value:.3f} against {span} ({level_text(rng)}, all states "
            "within the bands of the measured Pauli strings); the fit behind it (the model's "
            "extrapolation to unmeasured settings, or its rank) is not supported by the shots")
    return notes


def level_text(rng: dict[str, Any]) -> str:
    return f"{100 * rng['level']:g}%"


__all__ = ["OUTSIDE_NOTE", "RANGE_MAX_QUBITS", "UNDETERMINED_NOTE", "UNDETERMINED_WIDTH",
           "fidelity_range", "level_text", "measured_paulis", "range_notes", "range_stage"]
