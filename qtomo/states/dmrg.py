"""Two-site DMRG ("DMRG-lite") for the transverse-field Ising chain, numpy + scipy only.

H = -J sum_i Z_i Z_{i+1} - h sum_i X_i (open chain; ``boundary="periodic"`` adds
-J Z_{N-1} Z_0 through a longer MPO). Conventions follow :mod:`qtomo.states.mps`: MPS tensors
have legs ``vL p vR``; MPO tensors have legs ``wL wR p p*`` (``p`` the output/bra side,
``p*`` the input/ket side); left environments ``LP`` and right environments ``RP`` have legs
``(bra bond, MPO bond, ket bond)``.

Algorithm: the MPS is kept in mixed canonical form with the orthogonality centre on the two
sites being optimised. At each bond the effective Hamiltonian is applied as two GEMMs,
``(LP W_i) . theta . (W_{i+1} RP)``, inside a Lanczos solver (full re-orthogonalisation,
warm-started from the current two-site wave function). The optimised ``theta`` is split by an
SVD and truncated to at most ``chi_max`` states, discarding a tail of squared weight at most
``cutoff``. Sweeps (left to right, then back) repeat until the energy changes by less than
``tol * max(1, |E|)`` between sweeps. The first three sweeps are a warm-up from a random
MPS (bond caps 16, 24, 32; Lanczos residuals 1e-4, 1e-6, 1e-8); convergence is only declared
on a full-precision sweep at ``chi_max``.

What lives where: this module holds the driver :func:`dmrg_tfim` and its steps (input and
memory checks, the initial state, the sweep schedule, one bond's local solve, SVD truncation
and move of the centre, a half-sweep in either direction, the convergence check) and the
SVD truncation. The MPO (:func:`tfim_mpo`, :func:`mpo_expectation`, re-exported here), the
environments, the effective two-site Hamiltonian and its Lanczos solver are in
:mod:`qtomo.states.dmrg_env`.

Performance notes: the TFIM MPO is applied term by term (identity environments skipped:
four chi^3 GEMMs per Lanczos step instead of a dense MPO contraction), and only numpy's
LAPACK is used inside the sweeps: interleaving numpy GEMMs with scipy LAPACK calls makes
the two OpenBLAS thread pools compete, and the SVDs slow down many times over on a small CPU
(``scripts/bench_dmrg.py`` times the sweeps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from qtomo.errors import ComputationError, InputValueError
from qtomo.states import dmrg_env as env
from qtomo.states.dmrg_env import mpo_expectation, tfim_mpo
from qtomo.states.mps import MPS, truncation_rank
from qtomo.typing import FloatArray

__all__ = [
    "DEFAULT_CUTOFF",
    "DEFAULT_LANCZOS_TOL",
    "DEFAULT_TOL",
    "MAX_DMRG_BYTES",
    "DMRGError",
    "DMRGInputError",
    "DMRGResult",
    "dmrg_tfim",
    "mpo_expectation",
    "tfim_mpo",
]

#: Defaults of :func:`dmrg_tfim`: discarded Schmidt weight per truncation, relative energy
#: change that ends the sweeps, and residual of the local Lanczos solver.
DEFAULT_CUTOFF = 1e-14
DEFAULT_TOL = 1e-12
DEFAULT_LANCZOS_TOL = 1e-10

#: Warm-up schedule: Lanczos residual tolerance and bond cap of the first sweeps.
_WARMUP_LTOL = (1e-4, 1e-6, 1e-8)
_WARMUP_CHI = (16, 24, 32)

#: Full-precision sweeps kept after the warm-up (convergence compares two of them).
_FULL_SWEEPS = 2

#: Bond dimension cap of the random initial MPS.
_INITIAL_CHI = 8

#: DMRG refuses runs whose estimated working memory exceeds this many bytes.
MAX_DMRG_BYTES = 8 * 2**30


class DMRGError(ComputationError, ValueError):
    """DMRG did not converge within its sweeps, or the problem does not fit in memory."""


class DMRGInputError(InputValueError, DMRGError):
    """A DMRG parameter is invalid (chi_max < 1, negative tolerance, ...)."""


@dataclass
class DMRGResult:
    """Outcome of :func:`dmrg_tfim`.

    Attributes
    ----------
    energy : float
        Ground-state energy of the final MPS (Lanczos value at the last bond).
    truncation_error : float
        Largest discarded squared Schmidt weight of any bond during the final sweep.
    mps : MPS
        Normalised, right-canonical ground state (legs ``vL p vR``), sign fixed so that its
        overlap with ``|+>^N`` is non-negative.
    sweeps : int
        Number of full sweeps (left-right-left) done.
    converged : bool
        Whether the energy change dropped below the tolerance.
    energies : list of float
        Energy after each sweep.
    """

    energy: float
    truncation_error: float
    mps: MPS
    sweeps: int
    converged: bool
    energies: list[float] = field(default_factory=list)


# --- one bond: local solve, SVD truncation, move of the centre ------------------------------


@dataclass
class _Chain:
    """The MPS being optimised (``ts``, legs ``vL p vR``), its MPO and its environments
    (``lp[i]`` left of site ``i``, ``rp[i]`` right of it; see :mod:`qtomo.states.dmrg_env`)."""

    ts: list[np.ndarray]
    mpo: list[FloatArray]
    lp: list[np.ndarray | None]
    rp: list[np.ndarray | None]

    @property
    def d_w(self) -> int:
        return self.mpo[0].shape[0]


@dataclass(frozen=True)
class _SweepSettings:
    """Bond cap, truncation cutoff and local-solver settings of one sweep."""

    chi: int
    cutoff: float
    lanczos_tol: float
    lanczos_max_iter: int


def _solve_bond(chain: _Chain, i: int, st: _SweepSettings) -> tuple[float, np.ndarray]:
    """Lowest eigenpair of the effective Hamiltonian of bond ``(i, i+1)``, warm-started from
    the current two-site wave function; the vector has shape ``(chi_L, 4, chi_R)``."""
    ts = chain.ts
    chi_l = ts[i].shape[0]
    chi_r = ts[i + 1].shape[2]
    terms = env.bond_terms(chain.lp[i], chain.mpo[i], chain.mpo[i + 1], chain.rp[i + 1])
    # theta (b, i, j, c) = M_i (b, i, k) . M_{i+1} (k, j, c)   # b i [k], [k] j c
    theta = np.tensordot(ts[i], ts[i + 1], axes=(2, 0))

    def matvec(v: np.ndarray) -> np.ndarray:
        return env.apply_terms(terms, v.reshape(chi_l, 4, chi_r)).reshape(-1)

    energy, vec = env.lanczos_ground(
        matvec, theta.reshape(-1), st.lanczos_max_iter, st.lanczos_tol
    )
    return energy, vec.reshape(chi_l, 4, chi_r)


def _truncated_svd(theta: np.ndarray, chi_max: int, cutoff: float):
    """SVD of a matrix with truncation; returns U, S (normalised), V and discarded weight."""
    # numpy's LAPACK, not scipy's: alternating numpy GEMMs with scipy LAPACK calls makes the
    # two OpenBLAS thread pools fight over the cores (module doc)
    try:
        u, s, vh = np.linalg.svd(theta, full_matrices=False)
    except np.linalg.LinAlgError:  # pragma: no cover - rare gesdd failure
        u, s, vh = sla.svd(theta, full_matrices=False, lapack_driver="gesvd")
    keep, discarded = truncation_rank(s, chi_max, cutoff)
    s = s[:keep]
    s = s / np.linalg.norm(s)
    return u[:, :keep], s, vh[:keep], discarded


def _move_centre(
    chain: _Chain, i: int, u: np.ndarray, s: np.ndarray, vh: np.ndarray, direction: str
) -> None:
    """Store the split two-site state of bond ``(i, i+1)`` and update the environment behind
    the centre: moving ``"right"``, site ``i`` becomes left-canonical and ``lp[i+1]`` is
    rebuilt; moving ``"left"``, site ``i+1`` becomes right-canonical and ``rp[i]`` is."""
    ts, k = chain.ts, s.size
    chi_l, chi_r = ts[i].shape[0], ts[i + 1].shape[2]
    if direction == "right":
        a_i = u.reshape(chi_l, 2, k)  # vL p vR (left-canonical)
        ts[i], ts[i + 1] = a_i, (s[:, None] * vh).reshape(k, 2, chi_r)  # centre, vL p vR
        chain.lp[i + 1] = env.update_lp(env.lw_matrix(chain.lp[i], chain.mpo[i]), a_i, chain.d_w)
    else:
        b_next = vh.reshape(k, 2, chi_r)  # vL p vR (right-canonical)
        ts[i], ts[i + 1] = (u * s[None, :]).reshape(chi_l, 2, k), b_next  # centre, vL p vR
        wr = env.wr_matrix(chain.mpo[i + 1], chain.rp[i + 1])
        chain.rp[i] = env.update_rp(wr, b_next, chain.d_w)


def _optimize_bond(
    chain: _Chain, i: int, st: _SweepSettings, direction: str
) -> tuple[float, float]:
    """Optimise bond ``(i, i+1)`` and move the centre one site in ``direction``; returns the
    local energy and the discarded weight."""
    energy, theta = _solve_bond(chain, i, st)
    chi_l, _, chi_r = theta.shape
    u, s, vh, disc = _truncated_svd(theta.reshape(chi_l * 2, 2 * chi_r), st.chi, st.cutoff)
    _move_centre(chain, i, u, s, vh, direction)
    return energy, disc


def _half_sweep(chain: _Chain, st: _SweepSettings, direction: str) -> tuple[float, float]:
    """Optimise every bond once, left to right (``"right"``) or right to left (``"left"``).

    Returns the energy at the last bond and the largest discarded weight.
    """
    n = len(chain.ts)
    bonds = range(n - 1) if direction == "right" else range(n - 2, -1, -1)
    energy, trunc = np.inf, 0.0
    for i in bonds:
        energy, disc = _optimize_bond(chain, i, st, direction)
        trunc = max(trunc, disc)
    return energy, trunc


# --- driver steps ---------------------------------------------------------------------------


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise DMRGInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_floats(J: float, h: float, **tolerances: float) -> None:
    for name, v in (("J", J), ("h", h)):
        if not np.isfinite(v):
            raise DMRGInputError(f"{name} must be a finite number, got {v}")
    for name, v in tolerances.items():
        if not (np.isfinite(v) and v >= 0):
            raise DMRGInputError(f"{name} must be a finite number >= 0, got {v}")


def _check_boundary(boundary: str, n: int) -> None:
    if boundary not in ("open", "periodic"):
        raise DMRGInputError(f"boundary must be 'open' or 'periodic', got {boundary!r}")
    if boundary == "periodic" and n < 3:
        raise DMRGInputError("a periodic chain needs at least 3 qubits")


def _check_memory(n: int, chi_max: int, d_w: int, lanczos_max_iter: int) -> None:
    """Raise :class:`DMRGError` when the estimated working memory exceeds the limit."""
    chi_eff = min(chi_max, 2 ** min(n // 2, 40))
    est = 8.0 * chi_eff**2 * (2 * n + 2 * d_w * n + 24 * d_w + 4 * lanczos_max_iter)
    if est > MAX_DMRG_BYTES:
        raise DMRGError(
            f"DMRG with chi_max={chi_max} on {n} qubits needs about {est / 2**30:.1f} GiB "
            f"(limit {MAX_DMRG_BYTES / 2**30:.0f} GiB); lower chi_max"
        )


def _random_mps(n: int, chi: int, rng: np.random.Generator) -> MPS:
    dims = [1] + [min(chi, 2 ** min(j, n - j)) for j in range(1, n)] + [1]
    ts = [rng.normal(size=(dims[j], 2, dims[j + 1])) for j in range(n)]
    return MPS(ts).right_canonical()


def _initial_chain(mpo: list[FloatArray], chi_max: int, seed: int) -> _Chain:
    """Random right-canonical start with its right environments built."""
    rng = np.random.default_rng(seed)
    ts = list(_random_mps(len(mpo), min(chi_max, _INITIAL_CHI), rng).tensors)
    lp, rp = env.initial_environments(ts, mpo)
    return _Chain(ts, mpo, lp, rp)


@dataclass(frozen=True)
class _Schedule:
    """Validated sweep plan of one run: bond cap, tolerances and bounds on the sweeps."""

    chi_max: int
    cutoff: float
    tol: float
    lanczos_tol: float
    lanczos_max_iter: int
    max_sweeps: int
    min_sweeps: int

    @property
    def n_warm(self) -> int:
        """Warm-up sweeps, fewer when max_sweeps leaves no room for the full sweeps after."""
        return max(0, min(len(_WARMUP_LTOL), self.max_sweeps - _FULL_SWEEPS))

    def settings(self, k: int) -> tuple[bool, _SweepSettings]:
        """Whether sweep ``k`` (from 0) is a warm-up, and its settings.

        The first sweeps (random start) only need rough local solutions and moderate bonds;
        then every sweep runs at full precision and ``chi_max``.
        """
        warm = k < self.n_warm
        ltol = max(self.lanczos_tol, _WARMUP_LTOL[k]) if warm else self.lanczos_tol
        chi = min(self.chi_max, _WARMUP_CHI[k]) if warm else self.chi_max
        return warm, _SweepSettings(chi, self.cutoff, ltol, self.lanczos_max_iter)


def _validated(
    n, J, h, boundary: str, *, chi_max, cutoff, tol, max_sweeps, min_sweeps,
    lanczos_tol, lanczos_max_iter,
) -> tuple[int, _Schedule]:
    """Check the arguments of :func:`dmrg_tfim`, in the order the errors are reported;
    returns the number of qubits and the sweep plan."""
    n = _check_int("the number of qubits", n, 2)
    chi_max = _check_int("chi_max", chi_max, 1)
    max_sweeps = _check_int("max_sweeps", max_sweeps, 1)
    min_sweeps = min(_check_int("min_sweeps", min_sweeps, 1), max_sweeps)
    lanczos_max_iter = _check_int("lanczos_max_iter", lanczos_max_iter, 2)
    _check_floats(J, h, cutoff=cutoff, tol=tol, lanczos_tol=lanczos_tol)
    _check_boundary(boundary, n)
    return n, _Schedule(chi_max, cutoff, tol, lanczos_tol, lanczos_max_iter, max_sweeps, min_sweeps)


def _energy_converged(energies: list[float], tol: float) -> bool:
    """The last two sweep energies differ by at most ``tol * max(1, |E|)``."""
    if len(energies) < 2:
        return False
    return abs(energies[-1] - energies[-2]) <= tol * max(1.0, abs(energies[-1]))


def _not_converged(
    energies: list[float], max_sweeps: int, tol: float, chi_max: int
) -> DMRGError:
    """The error raised when the sweeps end without convergence."""
    change = abs(energies[-1] - energies[-2]) if len(energies) > 1 else float("nan")
    return DMRGError(
        f"DMRG did not converge in {max_sweeps} sweeps: the energy still changed by "
        f"{change:.3g} (tolerance {tol:g} x max(1, |E|)); raise max_sweeps, loosen tol, "
        f"or raise chi_max (now {chi_max})"
    )


def _sweep_until_converged(
    chain: _Chain, plan: _Schedule, progress: Callable[[int], object] | None
) -> tuple[list[float], float]:
    """Full sweeps (left to right, then back) until the energy converges.

    Returns the energy after each sweep and the largest discarded weight of the last sweep;
    raises :class:`DMRGError` when ``plan.max_sweeps`` sweeps do not converge.
    """
    energies: list[float] = []
    for sweep in range(1, plan.max_sweeps + 1):
        warm, st = plan.settings(sweep - 1)
        # right: ts[i] becomes left-canonical A; left: ts[i + 1] becomes right-canonical B
        _, trunc_right = _half_sweep(chain, st, "right")
        energy, trunc_left = _half_sweep(chain, st, "left")
        energies.append(float(energy))
        if progress is not None:
            progress(1)
        if sweep >= plan.min_sweeps and not warm and _energy_converged(energies, plan.tol):
            return energies, max(trunc_right, trunc_left)
    raise _not_converged(energies, plan.max_sweeps, plan.tol, plan.chi_max)


def _final_mps(ts: list[np.ndarray]) -> MPS:
    """Normalised right-canonical MPS with the global sign fixed: <+...+|psi> >= 0
    (non-negative amplitudes for J, h > 0)."""
    ts[0] = ts[0] / np.linalg.norm(ts[0])
    mps = MPS(ts, form="right")
    plus = MPS.product_state([np.array([1.0, 1.0])] * len(ts))
    if plus.overlap(mps).real < 0:
        mps.tensors[0] = -mps.tensors[0]
    return mps


# --- driver ---------------------------------------------------------------------------------


def dmrg_tfim(
    n: int,
    J: float,
    h: float,
    *,
    boundary: str = "open",
    chi_max: int = 128,
    cutoff: float = DEFAULT_CUTOFF,
    tol: float = DEFAULT_TOL,
    max_sweeps: int = 30,
    min_sweeps: int = 2,
    lanczos_tol: float = DEFAULT_LANCZOS_TOL,
    lanczos_max_iter: int = 40,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
) -> DMRGResult:
    """Ground state of the TFIM chain by two-site DMRG.

    Parameters
    ----------
    n : int
        Number of qubits (>= 2).
    J, h : float
        Couplings of H = -J sum Z_i Z_{i+1} - h sum X_i.
    boundary : {"open", "periodic"}
        Periodic chains are handled with an open MPS and a longer MPO (needs larger chi).
    chi_max : int
        Largest bond dimension kept (>= 1).
    cutoff : float
        Largest discarded squared Schmidt weight per truncation (relative to the total).
    tol : float
        Sweeps stop when the energy changes by less than ``tol * max(1, |E|)``.
    max_sweeps, min_sweeps : int
        Bounds on the number of sweeps, warm-up included (a converged run takes at least 4
        when ``max_sweeps >= 5``); not converging within ``max_sweeps`` raises.
    lanczos_tol, lanczos_max_iter : float, int
        Residual tolerance (relative to ``max(1, |E|)``) and Krylov size of the local solver.
    seed : int
        Seed of the random initial MPS.
    progress : callable, optional
        Called as ``progress(1)`` after every sweep.

    Returns
    -------
    DMRGResult

    Raises
    ------
    DMRGInputError
        Invalid parameters (also an ``InputValueError``/``ValueError``).
    DMRGError
        No convergence within ``max_sweeps`` or too much memory (also a ``ValueError``).
    """
    n, plan = _validated(
        n, J, h, boundary, chi_max=chi_max, cutoff=cutoff, tol=tol, max_sweeps=max_sweeps,
        min_sweeps=min_sweeps, lanczos_tol=lanczos_tol, lanczos_max_iter=lanczos_max_iter,
    )
    mpo = tfim_mpo(n, float(J), float(h), boundary)
    _check_memory(n, plan.chi_max, mpo[0].shape[0], plan.lanczos_max_iter)
    chain = _initial_chain(mpo, plan.chi_max, seed)
    energies, trunc = _sweep_until_converged(chain, plan, progress)
    return DMRGResult(
        energy=energies[-1],
        truncation_error=float(trunc),
        mps=_final_mps(chain.ts),
        sweeps=len(energies),
        converged=True,
        energies=energies,
    )
