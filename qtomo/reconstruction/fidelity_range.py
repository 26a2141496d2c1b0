"""The range of fidelities the shots allow, for designs that do not determine the fidelity.

A fixed design that leaves some of the 3^N Pauli-6 settings unmeasured may leave part of the
target's fidelity F = <psi|rho|psi> unmeasured too (the GHZ coherence is seen only in all-X/Y
settings with an even number of Y). Every estimate then rests on positivity and on the prior of
its fit (the model's extrapolation, the MLE's rank), and a bootstrap interval only shows how
that estimate scatters, not how far the shots leave F open.

:func:`fidelity_range` gives the profile-likelihood interval of F over *all* density matrices:

    { f : max_{rho : F(rho) = f} log L(rho) >= log L_max - chi2_{1, level} / 2 },

with log L(rho) = sum over shots of log Tr[rho M(a)] (the measured, readout-effective POVM;
unmeasured settings carry no shots and no weight). log L is concave in rho and F linear, so
the profile is concave and its upper branch is traced by the Lagrangian maximisers
rho_mu = argmax log L + mu n F (mu > 0; mu < 0 for the lower branch): ``mu`` is bracketed and
bisected until log L_max - log L(rho_mu) = chi2 / 2. Where the shots pin F the interval is the
usual likelihood interval (about +- 1.96 standard errors); where positivity leaves it open, the
interval says how open. Wilks' chi-square reference is asymptotic and approximate on the
boundary of positivity, and the calibration's own error is not included.

:func:`attach_fidelity_range` puts it into the report (``quantum.data_range``) and widens the
headline's interval to contain it, saying so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qtomo.reconstruction import mle

#: Largest N for the profile (full-rank fits of 2^N x 2^N matrices).
RANGE_MAX_QUBITS = 6
#: Confidence level of the range.
LEVEL = 0.95
#: The range is reported as undetermined by the design when wider than this.
UNDETERMINED_WIDTH = 0.2
#: How the report's note on an undetermined fidelity begins (the CLI repeats it).
UNDETERMINED_NOTE = "the fidelity is not determined by this design"
#: How the note on a headline outside the range begins (the CLI repeats it).
OUTSIDE_NOTE = "the headline fidelity lies outside the range the shots allow"
#: Fits per branch (bracketing plus bisection).
MAX_FITS = 12
#: Bisection stops when the branch's fidelity is known to within this.
F_TOLERANCE = 0.003
#: L-BFGS iterations of the unconstrained fit and of each warm-started Lagrangian fit.
BASE_ITERATIONS, BRANCH_ITERATIONS = 400, 150


class DesignLikelihood:
    """log L(rho) per shot from the measured settings of a Pauli-6 fixed design only.

    Tr[rho M(a)] is needed only where shots fell (the trace term normalises the rest). At each
    qubit the two elements of a setting's letter commute (the Pauli's projectors, mixed by the
    readout's confusion matrix): M_j(2 l + b) = V diag(lam_b) V^+. So with rho = A A^+ every
    measured setting s needs only the factor rotated into its basis, B_s = V_s^+ A, the
    populations |B_s|^2 summed over the rank, and the per-qubit 2 x 2 maps lam; the gradient
    rotates back. All settings go at once, qubit by qubit: with a few dozen settings this is
    far cheaper than the K^N table.

    Parameters
    ----------
    freq : (6^N,) float64, the raw shot frequencies
    frame : Pauli-6 Frame or LocalFrames
    n : int
    """

    def __init__(self, freq: np.ndarray, frame: Any, n: int) -> None:
        from qtomo.errors import InputValueError
        from qtomo.povm.frames import site_operators

        m = np.asarray(site_operators(frame, n))
        m = np.broadcast_to(m, (n, *m.shape)) if m.ndim == 3 else m
        if m.shape[1] != 6:
            raise InputValueError("the fidelity range needs a Pauli-6 design")
        p = np.asarray(freq, dtype=np.float64) / np.sum(freq)
        place = 6 ** np.arange(n - 1, -1, -1)
        digits = (np.arange(p.size)[:, None] // place[None, :]) % 6
        setting = (digits // 2) @ (3 ** np.arange(n - 1, -1, -1))
        measured = np.unique(setting[p > 0])
        letters = (measured[:, None] // 3 ** np.arange(n - 1, -1, -1)[None, :]) % 3  # (S, N)
        bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1
        self.n = n
        self.p = p[(2 * letters[:, None, :] + bits[None, :, :]) @ place]  # (S, 2^N)
        v = np.zeros((n, 3, 2, 2), dtype=np.complex128)
        lam = np.zeros((n, 3, 2, 2))  # [b, b']: <v_b'| M(2 l + b) |v_b'>
        for j in range(n):
            for ell in range(3):
                pair = m[j, 2 * ell:2 * ell + 2]
                _, v[j, ell] = np.linalg.eigh(pair[0] - pair[1])
                rot = v[j, ell].conj().T @ pair @ v[j, ell]  # (2, 2, 2), diagonal
                if np.abs(rot - rot * np.eye(2)).max() > 1e-9 * max(np.abs(rot).max(), 1e-300):
                    raise InputValueError(f"qubit {j}: the two elements of a setting do not "
                                          "commute; not a Pauli-6 POVM with readout errors")
                lam[j, ell] = np.real(np.diagonal(rot, axis1=1, axis2=2))
        self.v = v[np.arange(n)[:, None], letters.T]  # (N, S, 2, 2)
        self.vh = self.v.conj().swapaxes(-1, -2)
        self.lam = lam[np.arange(n)[:, None], letters.T]  # (N, S, 2, 2)

    def _apply(self, mats: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Per-setting 2 x 2 maps at every qubit: x (S, 2^N, r) -> (S, 2^N, r)."""
        s, d, r = x.shape
        for j in range(self.n):
            x = mats[j][:, None] @ x.reshape(s, 2**j, 2, -1)
        return x.reshape(s, d, r)

    def rotated(self, a: np.ndarray) -> np.ndarray:
        """B_s = V_s^+ A for every measured setting, (S, 2^N, r)."""
        s = self.v.shape[1]
        return self._apply(self.vh, np.broadcast_to(a, (s, *a.shape)).astype(np.complex128))

    def probabilities_of(self, b: np.ndarray, t: float) -> np.ndarray:
        """Tr[rho M(s, b)] from the rotated factors (rho = A A^+ / t), float64 (S, 2^N)."""
        pops = (b.real**2 + b.imag**2).sum(-1)[..., None] / t
        return self._apply(self.lam, pops)[..., 0]

    def probabilities(self, rho: np.ndarray) -> np.ndarray:
        """Tr[rho M(s, b)] for every measured setting s and bits b, float64 (S, 2^N)."""
        w, u = np.linalg.eigh(rho)
        a = u * np.sqrt(np.clip(w, 0.0, None))[None, :]
        return self.probabilities_of(self.rotated(a), 1.0)

    def objective(self, r: int, op: np.ndarray, w: float) -> Any:
        """-(log L / n_shots) - w Tr[op rho] and its gradient in [Re A, Im A] (A: d x r)."""
        d, pos = 2**self.n, self.p > 0
        lam_t = self.lam.swapaxes(-1, -2)

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            a = (x[: d * r] + 1j * x[d * r:]).reshape(d, r)
            t = float(np.vdot(a, a).real)
            if not t > 0:
                return 1e300, np.zeros_like(x)
            b = self.rotated(a)
            q = np.maximum(self.probabilities_of(b, t), 1e-300)
            f = -float(np.sum(self.p[pos] * np.log(q[pos])))
            c = self._apply(lam_t, np.where(pos, self.p / q, 0.0)[..., None])  # (S, d, 1)
            ra = self._apply(self.v, c * b).sum(0) / t  # R A, R = sum w / q M (per t)
            oa = op @ a
            val = float(np.vdot(a, oa).real) / t
            g = -ra + a / t - w * (oa - val * a) / t
            return f - w * val, 2.0 * np.concatenate([g.real.ravel(), g.imag.ravel()])

        return fun

    def nll(self, rho: np.ndarray) -> float:
        """-log L(rho) per shot."""
        pos = self.p > 0
        return -float(np.sum(self.p[pos] * np.log(np.maximum(self.probabilities(rho)[pos],
                                                                 1e-300))))

    def fit(self, init: np.ndarray, r: int, op: np.ndarray, w: float, max_iter: int
            ) -> tuple[float, float, np.ndarray]:
        """The Lagrangian maximiser from ``init``: (-log L per shot, Tr[op rho], rho)."""
        rho, _, _ = mle.minimize_factor(self.objective(r, op, w), mle.start_factor(init, r),
                                        max_iter=max_iter, tol=1e-11)
        return self.nll(rho), float(np.real(np.vdot(op, rho))), rho


def _branch(lik: DesignLikelihood, op: np.ndarray, base: tuple[float, float, np.ndarray],
            delta: float, sign: float, r: int) -> tuple[float, int]:
    """The end of one branch of the profile: F where the Lagrangian fits lose ``delta`` (per
    shot) of log-likelihood; and the number of fits used."""
    nll0, f0, rho0 = base
    lo = (0.0, 0.0, f0, rho0)  # (mu, loss, F, rho) with loss <= delta
    hi = None
    mu, fits = 1e-3, 0
    while fits < MAX_FITS:  # bracket: grow mu until the loss passes delta
        nll, f, rho = lik.fit(lo[3], r, op, sign * mu, BRANCH_ITERATIONS)
        fits += 1
        if nll - nll0 > delta:
            hi = (mu, nll - nll0, f, rho)
            break
        lo = (mu, max(nll - nll0, 0.0), f, rho)
        if mu > 1e3 or f <= 1e-6 or f >= 1 - 1e-6:  # F at its bound within the likelihood
            return lo[2], fits
        mu *= 8.0
    while hi is not None and fits < MAX_FITS and abs(hi[2] - lo[2]) > F_TOLERANCE:
        mu = float(np.sqrt(max(lo[0], hi[0] / 64.0) * hi[0]))
        nll, f, rho = lik.fit(lo[3], r, op, sign * mu, BRANCH_ITERATIONS)
        fits += 1
        if nll - nll0 > delta:
            hi = (mu, nll - nll0, f, rho)
        else:
            lo = (mu, max(nll - nll0, 0.0), f, rho)
    if hi is None:
        return lo[2], fits
    # the profile between the brackets, linear in the loss
    t = (delta - lo[1]) / max(hi[1] - lo[1], 1e-300)
    return float(lo[2] + min(max(t, 0.0), 1.0) * (hi[2] - lo[2])), fits


def fidelity_range(freq: np.ndarray, n_shots: int, frame: Any, n: int, psi: np.ndarray, *,
                   level: float = LEVEL, rank: int | None = None, init: np.ndarray | None = None,
                   max_iter: int = BASE_ITERATIONS) -> dict[str, Any]:
    """Profile-likelihood interval of F = <psi|rho|psi> over density matrices (module
    docstring).

    Parameters
    ----------
    freq : (K^N,) float64
        The raw shot frequencies (zero at unmeasured settings).
    n_shots : int
        Shots behind ``freq``.
    frame : Frame or LocalFrames
        The POVM the shots were measured with (readout-effective elements).
    n : int
    psi : complex (2^N,)
        The target.
    level : float
        Confidence level (chi-square with one degree of freedom).
    rank : int or None
        Rank of the states searched (None: all density matrices).
    init : density matrix to start the fits from (default: the projected inversion).

    Returns
    -------
    dict with ``low``, ``high``, ``mle_fidelity`` (F of the unconstrained fit), ``level``,
    ``fits``, ``rank`` and ``method``.
    """
    from scipy import stats

    v = np.asarray(psi, dtype=np.complex128)
    v = v / np.linalg.norm(v)
    op = np.outer(v, v.conj())
    lik = DesignLikelihood(freq, frame, n)
    r = 2**n if rank is None else int(rank)
    if init is None:
        from qtomo.povm.born import rho_from_probabilities
        from qtomo.reconstruction.density import project_to_physical

        init = project_to_physical(rho_from_probabilities(freq, frame, n))
    base = lik.fit(init, r, op, 0.0, max_iter)
    delta = float(stats.chi2.ppf(level, 1)) / 2.0 / float(n_shots)
    high, k_hi = _branch(lik, op, base, delta, +1.0, r)
    low, k_lo = _branch(lik, op, base, delta, -1.0, r)
    return {
        "low": max(0.0, min(low, high)), "high": min(1.0, max(low, high)),
        "mle_fidelity": base[1], "level": level,
        "fits": 1 + k_hi + k_lo, "rank": "full" if rank is None else int(rank),
        "method": ("profile likelihood of <psi|rho|psi> over all density matrices (Wilks: "
                   f"log L within chi2_1({level:g})/2 of its maximum), from the shots on the "
                   "measured settings; the calibration's error not included"),
    }


def attach_fidelity_range(report: dict[str, Any], qs: Any, inp: Any, n_shots: int,
                          seed_rho: np.ndarray | None, stage: Any) -> dict[str, Any] | None:
    """Add ``report["quantum"]["data_range"]`` and widen the headline's interval to contain it.

    Called for fixed designs that leave settings unmeasured (N <= :data:`RANGE_MAX_QUBITS`,
    target known, raw frequencies built). Returns the range (None when not computed).
    """
    if qs.freq is None or qs.ideal is None or inp.n > RANGE_MAX_QUBITS:
        return None
    stage("range of fidelities the shots allow (profile likelihood)")
    rng = fidelity_range(qs.freq, n_shots, inp.frame, inp.n, qs.ideal, init=seed_rho)
    width = rng["high"] - rng["low"]
    rng["determined"] = bool(width <= UNDETERMINED_WIDTH)
    report["quantum"]["data_range"] = rng
    head = report["headline"]["quantum_fidelity"]
    ci = head.get("ci95")
    if head.get("value") is None:
        return rng
    lo, hi = (ci if ci else (head["value"], head["value"]))
    if rng["low"] < lo or rng["high"] > hi:
        head["ci95_before_range"] = ci
        head["ci95"] = [min(lo, rng["low"]), max(hi, rng["high"])]
        head["ci95_method"] = (
            (head.get("ci95_method") or "") + ("; " if head.get("ci95_method") else "")
            + f"widened to the {level_text(rng)} range of fidelities the shots allow "
            "(profile likelihood over all states; the design leaves part of the fidelity "
            "unmeasured, which the bootstrap of one fit does not see)")
    inside = rng["low"] <= head["value"] <= rng["high"]
    if rng["determined"] and not inside:
        report.setdefault("notes", []).insert(0, (
            f"{OUTSIDE_NOTE}: {head['value']:.3f} against {rng['low']:.3f} to "
            f"{rng['high']:.3f} ({level_text(rng)}, profile likelihood over all states); the "
            "fit behind it (the model's extrapolation to unmeasured settings, or its rank) "
            "is not supported by the shots"))
    if not rng["determined"]:
        report.setdefault("notes", []).insert(0, (
            f"{UNDETERMINED_NOTE}: states consistent with the shots "
            f"({level_text(rng)}) have fidelities from {rng['low']:.3f} to {rng['high']:.3f}; "
            f"the headline {head['value']:.3f} "
            + ("" if inside else "lies outside that range and ")
            + "is chosen by the fit's prior (positivity, rank, the model's extrapolation), "
            "not by the data; more settings (those of the Pauli terms the note on unmeasured "
            "terms counts) would pin it down"))
    return rng


def level_text(rng: dict[str, Any]) -> str:
    return f"{100 * rng['level']:g}%"


__all__ = ["OUTSIDE_NOTE", "RANGE_MAX_QUBITS", "UNDETERMINED_NOTE", "UNDETERMINED_WIDTH", "DesignLikelihood",
           "attach_fidelity_range", "fidelity_range"]
