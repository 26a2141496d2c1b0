"""Quantum and classical metrics of a reconstruction against the dataset's target.

Conventions (docs/conventions.md, "Fidelities and metrics"):

* **Quantum fidelity, squared convention** (as Qiskit): pure target ``|psi>``:
  ``F = <psi|rho|psi>``; mixed target ``sigma``: ``F = (Tr sqrt(sqrt(sigma) rho sqrt(sigma)))^2``.
  QuTiP's ``fidelity`` is the square root of this (:func:`fidelity_from_qutip` converts).
  A noisy target is ``sigma = E_p(|psi><psi|)`` with the local depolarizing channel of the
  stored noise p.
* **Direct fidelity estimate** from raw shots: ``Q(a) = Tr[sigma D(a_0) (x) ... (x) D(a_{N-1})]``
  averaged over the shots, an unbiased estimate of the overlap ``Tr[sigma rho_lab]`` with
  standard error ``std(Q)/sqrt(n)``. It equals the squared fidelity when sigma is pure.
* **Classical fidelity** ``F_c = sum_a sqrt(P(a) Q(a))`` and ``KL(P||Q)`` in nats, P the
  target's outcome distribution (noise included), Q the model: exact sums over all K^N strings
  for small N, Monte Carlo over evaluation shots with exact log P beyond.
* **Renyi-2 entropy** ``S_2(A) = -log2 Tr[rho_A^2]`` in bits, for subsystems of <= 4 qubits.
  From shots it uses the unbiased U-statistic of the purity,
  ``Tr[rho_A^2] ~ 1/(n(n-1)) sum_{s != t} Tr[X_s X_t]`` with ``X_s = (x)_{j in A} D(a_j^s)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qtomo.errors import ComputationError, InputValueError
from qtomo.povm.born import Estimate, estimate, outcome_index
from qtomo.povm.frames import AnyFrame, site_operators
from qtomo.reconstruction.density import (
    MAX_RHO_QUBITS,
    MAX_TABLE_ENTRIES,
    born_table,
    hermitian_part,
    partial_trace,
    to_qobj,
    weighted_operator,
)
from qtomo.states.noise import depolarize
from qtomo.typing import ComplexArray, FloatArray, Outcomes

#: Largest N for which the direct fidelity estimate is computed from a dense state vector
#: (one contraction of 2^N amplitudes per shot).
MAX_DIRECT_FIDELITY_QUBITS = 12
#: Largest N for which it is computed from an MPS target. Beyond, the estimate is no longer
#: informative: for a pure target the variance of Q(a) grows by a factor ~1.5 (Pauli-6), ~1.7
#: (tetrahedral) or ~2.9 (Pauli-4) per qubit (at N = 20 with Pauli-4 and 10^5 shots its
#: standard error exceeds 1). 20 is also the largest exact-diagonalization target.
MAX_DIRECT_FIDELITY_MPS_QUBITS = 20
#: Largest MPS bond dimension for it (cost ~ 4 N chi^3 per shot).
MAX_DIRECT_FIDELITY_BOND = 64
#: Largest subsystem for reduced density matrices and Renyi-2 entropies from shots.
MAX_SUBSYSTEM_QUBITS = 4


# --- quantum fidelity
def target_state(psi: ComplexArray, noise: float = 0.0) -> ComplexArray:
    """The target as a state vector (noise 0) or the density matrix ``E_p(|psi><psi|)``."""
    v = np.asarray(psi, dtype=np.complex128)
    v = v / np.linalg.norm(v)
    if noise and noise > 0:
        return depolarize(np.outer(v, v.conj()), float(noise))
    return v


def _sqrtm_psd(m: ComplexArray) -> ComplexArray:
    w, v = np.linalg.eigh(hermitian_part(m))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.conj().T


def quantum_fidelity(rho: ComplexArray, target: ComplexArray) -> float:
    """Squared-convention fidelity of ``rho`` to ``target`` (state vector or density matrix).

    Pure target: ``<psi|rho|psi>`` (defined for any Hermitian rho). Mixed target: Uhlmann's
    ``(Tr sqrt(sqrt(sigma) rho sqrt(sigma)))^2``, which needs rho positive (negative
    eigenvalues of ``sqrt(sigma) rho sqrt(sigma)`` are clipped).
    """
    r = np.asarray(rho, dtype=np.complex128)
    t = np.asarray(target, dtype=np.complex128)
    if t.ndim == 1:
        if t.size != r.shape[0]:
            raise InputValueError(f"target has dimension {t.size}, rho {r.shape[0]}")
        t = t / np.linalg.norm(t)
        return float(np.real(np.vdot(t, r @ t)))
    if t.shape != r.shape:
        raise InputValueError(f"target has shape {t.shape}, rho {r.shape}")
    s = _sqrtm_psd(t)
    w = np.linalg.eigvalsh(hermitian_part(s @ r @ s))
    # round-off eigenvalues (~1e-17) of rank-deficient products would add ~1e-8 each under
    # the square root: drop those below 1e-14 of the largest
    w = np.where(w > 1e-14 * max(float(w.max()), 0.0), w, 0.0)
    return float(np.sum(np.sqrt(w)) ** 2)


def physical_fidelity(rho: ComplexArray, target: ComplexArray) -> float:
    """:func:`quantum_fidelity` of a physical state (positive, trace 1), in [0, 1].

    For such a ``rho`` the fidelity lies in [0, 1] exactly; float64 round-off can move it by
    ~1e-15, which is clipped. A larger excursion means ``rho`` is not physical and raises
    :class:`ComputationError` rather than being hidden.
    """
    f = quantum_fidelity(rho, target)
    if not -1e-9 <= f <= 1.0 + 1e-9:
        raise ComputationError(
            f"fidelity {f!r} of a state that should be physical lies outside [0, 1]; the "
            "density matrix is not positive or not normalised"
        )
    return float(min(max(f, 0.0), 1.0))


def fidelity_from_qutip(rho: ComplexArray, target: ComplexArray) -> float:
    """QuTiP's fidelity (square-root convention) squared, for cross-checks."""
    import qutip  # heavy: only for this cross-check

    t = np.asarray(target, dtype=np.complex128)
    n = int(round(np.log2(t.shape[0])))
    tq = qutip.Qobj(t / np.linalg.norm(t), dims=[[2] * n, [1] * n]) if t.ndim == 1 else to_qobj(t)
    return float(qutip.fidelity(to_qobj(rho), tq)) ** 2


def direct_fidelity_values(outcomes: Outcomes, frame: AnyFrame, psi: ComplexArray,
                           noise: float = 0.0, *, chunk: int = 2048) -> FloatArray:
    """Per-shot ``Q(a) = Tr[sigma D(a_0) (x) ... (x) D(a_{N-1})]``, sigma the (noisy) target.

    Uses a table of Q over all K^N strings when it is small, otherwise one contraction of
    the pure target with the (depolarized) duals per shot; the local depolarizing channel is
    self-adjoint, so ``Tr[E_p(psi psi^+) D] = <psi| E_p(D) |psi>``.
    """
    a = np.asarray(outcomes)
    n = a.shape[1]
    K = frame.K
    if n > MAX_DIRECT_FIDELITY_QUBITS:
        raise InputValueError(
            f"the direct fidelity estimate handles at most {MAX_DIRECT_FIDELITY_QUBITS} "
            f"qubits, the data has {n}"
        )
    v = np.asarray(psi, dtype=np.complex128)
    v = v / np.linalg.norm(v)
    duals = _noisy_site_duals(frame, n, noise)
    if K**n <= MAX_TABLE_ENTRIES and n <= MAX_RHO_QUBITS:
        table = born_table(np.outer(v, v.conj()), duals)
        return table[outcome_index(a, K)]
    out = np.empty(len(a))
    for s in range(0, len(a), chunk):
        b = a[s : s + chunk]
        t = np.broadcast_to(v, (len(b), v.size)).copy()
        for j in range(n):
            t = t.reshape(len(b), 2**j, 2, -1)
            # D(a_j) acting on qubit j   # b i k, b l k r -> b l i r
            t = np.einsum("bik,blkr->blir", duals[j][b[:, j]], t, optimize=True)
        out[s : s + chunk] = np.real(t.reshape(len(b), -1) @ v.conj())
    return out


def direct_fidelity_values_mps(outcomes: Outcomes, frame: AnyFrame, mps: Any,
                               noise: float = 0.0, *, chunk: int = 2048) -> FloatArray:
    """Per-shot ``Q(a) = <psi| D(a_0) (x) ... (x) D(a_{N-1}) |psi> / <psi|psi>`` of an MPS target.

    The same quantity as :func:`direct_fidelity_values` (noise through the depolarized duals),
    by a left-to-right transfer sweep per shot: the environment ``E[bra, ket]`` (chi x chi)
    absorbs site j as ``E <- sum conj(B)[u, p', r*] D(a_j)[p', p] B[v, p, r] E[u, v]``; the
    shots of a chunk advance together, both bond contractions as one matrix product each
    (cost ~ 4 chi^3 per shot and site).
    """
    a = np.asarray(outcomes)
    n = mps.n_qubits
    if a.ndim != 2 or a.shape[1] != n:
        raise InputValueError(f"outcomes must have shape (shots, {n}), got {a.shape}")
    duals = _noisy_site_duals(frame, n, noise)
    norm2 = mps.norm() ** 2
    out = np.empty(len(a))
    for s in range(0, len(a), chunk):
        b = a[s : s + chunk]
        nb = len(b)
        env = np.ones((nb, 1, 1))  # shot, bra u*, ket v
        for j, t in enumerate(mps.tensors):
            cl, _, cr = t.shape
            # E (s u*, v) . B (v, p r)   # (s u*) [v], [v] (p r) -> s u* p r
            x = (env.reshape(nb * cl, cl) @ t.reshape(cl, 2 * cr)).reshape(nb, cl, 2, cr)
            # D(a_j) (s, p', p) on p   # s p' [p], s u* [p] r -> s r u* p'
            y = np.einsum("sqp,supr->sruq", duals[j][b[:, j]], x)
            # y (s r, u* p') . conj(B) (u* p', r*)   # (s r) [u p'], [u p'] r* -> s r r*
            env = (y.reshape(nb * cr, 2 * cl) @ t.conj().reshape(2 * cl, cr)).reshape(nb, cr, cr)
            env = env.transpose(0, 2, 1)  # s r* r
        out[s : s + chunk] = np.real(env[:, 0, 0]) / norm2
    return out


def _noisy_site_duals(frame: AnyFrame, n: int, noise: float) -> ComplexArray:
    """Per-qubit duals (n, K, 2, 2), depolarized by ``noise`` (E_p is self-adjoint)."""
    duals = site_operators(frame, n, "duals")
    if noise and noise > 0:
        tr = np.einsum("jaii->ja", duals)
        duals = (1 - noise) * duals + noise * tr[..., None, None] * np.eye(2) / 2
    return duals


def direct_fidelity(outcomes: Outcomes, frame: AnyFrame, psi: ComplexArray,
                    noise: float = 0.0) -> Estimate:
    """Mean and standard error of :func:`direct_fidelity_values` (see the module docstring)."""
    return estimate(direct_fidelity_values(outcomes, frame, psi, noise))


# --- classical metrics
def target_born_table(psi: ComplexArray, frame: AnyFrame, noise: float = 0.0) -> FloatArray:
    """P(a) of the (noisy) target for all K^N strings (noise through the depolarized POVM)."""
    f = frame.depolarized(noise) if noise and noise > 0 else frame
    v = np.asarray(psi, dtype=np.complex128)
    n = int(round(np.log2(v.size)))
    p = np.clip(born_table(np.outer(v, v.conj()), site_operators(f, n)), 0.0, None)
    return p / p.sum()


def classical_exact(q_table: FloatArray, p_table: FloatArray) -> dict[str, float]:
    """Exact F_c and KL(P||Q) from full tables (same order); stderr 0."""
    p = np.clip(np.asarray(p_table, dtype=np.float64), 0.0, None)
    q = np.clip(np.asarray(q_table, dtype=np.float64), 0.0, None)
    fid = float(np.sum(np.sqrt(p * q)))
    pos = p > 0
    with np.errstate(divide="ignore"):
        kl = float(np.sum(p[pos] * (np.log(p[pos]) - np.log(q[pos]))))
    return {"classical_fidelity": fid, "classical_fidelity_stderr": 0.0,
            "kl_divergence": kl, "kl_divergence_stderr": 0.0}


def classical_from_samples(log_q: FloatArray, log_p: FloatArray) -> dict[str, float]:
    """Monte-Carlo F_c ~ mean exp((log Q - log P)/2) and KL ~ mean(log P - log Q), a ~ P."""
    lq = np.asarray(log_q, dtype=np.float64)
    lp = np.asarray(log_p, dtype=np.float64)
    if lq.shape != lp.shape or lq.ndim != 1 or lq.size < 2:
        raise InputValueError(
            f"need equal 1-d log-probabilities (>= 2), got {lq.shape}, {lp.shape}"
        )
    d = lq - lp
    r = np.exp(0.5 * d)
    n = d.size
    return {"classical_fidelity": float(r.mean()),
            "classical_fidelity_stderr": float(r.std(ddof=1) / np.sqrt(n)),
            "kl_divergence": float(-d.mean()),
            "kl_divergence_stderr": float(d.std(ddof=1) / np.sqrt(n))}


# --- subsystems
def check_sites(sites: Any, n: int) -> list[int]:
    """The qubits of a subsystem as a list, checked: 1..``MAX_SUBSYSTEM_QUBITS`` distinct
    qubits in 0..n-1 (else InputValueError)."""
    s = [int(x) for x in sites]
    if not 1 <= len(s) <= MAX_SUBSYSTEM_QUBITS:
        raise InputValueError(
            f"a subsystem has 1..{MAX_SUBSYSTEM_QUBITS} qubits, got {len(s)} ({s})"
        )
    if len(set(s)) != len(s) or min(s) < 0 or max(s) >= n:
        raise InputValueError(f"subsystem {s} must list distinct qubits in 0..{n - 1}")
    return s


def marginal_counts(outcomes: Outcomes, K: int, sites: list[int]) -> FloatArray:
    """Counts of the outcome patterns on ``sites`` (K^|A| entries, all_outcomes order)."""
    a = np.asarray(outcomes)[:, sites]
    return np.bincount(outcome_index(a, K), minlength=K ** len(sites)).astype(np.float64)


def reduced_density_matrix(outcomes: Outcomes, frame: AnyFrame, sites: Any) -> ComplexArray:
    """Unbiased estimate of the reduced density matrix of ``sites`` (<= 4 qubits) from shots.

    ``rho_A = mean_s (x)_{j in A} D(a_j^s)``: the linear inversion of the marginal frequencies.
    Qubits appear in the order given (first = most significant).
    """
    a = np.asarray(outcomes)
    s = check_sites(sites, a.shape[1])
    return rdm_from_counts(marginal_counts(a, frame.K, s), frame.restrict(s))


def rdm_from_counts(counts: FloatArray, frame: AnyFrame) -> ComplexArray:
    """Linear inversion of marginal counts (K^|A| entries) into a reduced density matrix.

    ``frame`` is the subsystem's POVM (per-qubit frames: ``frame.restrict(sites)``).
    """
    c = np.asarray(counts, dtype=np.float64)
    k = int(round(np.log(c.size) / np.log(frame.K)))
    return weighted_operator(c / c.sum(), site_operators(frame, k, "duals"), k)


def renyi2_from_shots(outcomes: Outcomes, frame: AnyFrame, sites: Any) -> dict[str, float]:
    """Purity ``Tr[rho_A^2]`` (unbiased U-statistic) and ``S_2 = -log2`` of it, with errors.

    See :func:`renyi2_from_counts`.
    """
    a = np.asarray(outcomes)
    s = check_sites(sites, a.shape[1])
    return renyi2_from_counts(marginal_counts(a, frame.K, s), frame.restrict(s))


def renyi2_from_counts(counts: FloatArray, frame: AnyFrame) -> dict[str, float]:
    """Renyi-2 entropy of a subsystem from the counts of its outcome patterns.

    Purity ``1/(n(n-1)) sum_{s != t} prod_j G[a_j^s, a_j^t]`` with ``G[a, b] = Tr[D(a) D(b)]``
    (an unbiased U-statistic); its standard error is the first-order Hoeffding one,
    ``2 std_s(h1(a_s)) / sqrt(n)`` with ``h1(a_s)`` the mean kernel of shot s against the
    others; the entropy's follows by the delta method. S_2 is NaN when the estimated purity is
    <= 0.
    """
    c = np.asarray(counts, dtype=np.float64)
    n = float(c.sum())
    if n < 3:
        raise InputValueError(f"need at least 3 shots for a Renyi-2 estimate, got {int(n)}")
    K = frame.K
    k = int(round(np.log(c.size) / np.log(K)))
    duals = site_operators(frame, k, "duals")
    gk = np.ones((1, 1))
    for j in range(k):
        g = np.einsum("aij,bji->ab", duals[j], duals[j]).real  # Tr[D_j(a) D_j(b)]
        gk = np.kron(gk, g)
    gc = gk @ c
    diag = np.diag(gk)
    purity = float((c @ gc - c @ diag) / (n * (n - 1)))
    h1 = (gc - diag) / (n - 1)  # per pattern
    mean_h1 = float((c @ h1) / n)
    var_h1 = float((c @ (h1 - mean_h1) ** 2) / (n - 1))
    se_p = 2.0 * np.sqrt(max(var_h1, 0.0) / n)
    if purity > 0:
        s2 = float(-np.log2(purity))
        se_s2 = float(se_p / (purity * np.log(2)))
    else:
        s2 = se_s2 = float("nan")
    return {"purity": purity, "purity_stderr": float(se_p), "renyi2": s2, "renyi2_stderr": se_s2,
            "n": int(n)}


def renyi2_exact(rho_a: ComplexArray) -> dict[str, float]:
    """Purity and S_2 (bits) of a reduced density matrix."""
    r = hermitian_part(rho_a)
    pur = float(np.real(np.vdot(r, r)))
    return {"purity": pur, "renyi2": float(-np.log2(pur)) if pur > 0 else float("nan")}


def exact_reduced_state(sites: list[int], *, psi: ComplexArray | None = None, mps: Any = None,
                        noise: float = 0.0) -> ComplexArray | None:
    """Exact reduced density matrix of the (noisy) target on ``sites``, or None if unknown.

    From a state vector: partial trace of ``|psi><psi|``. From an MPS: only for a leading
    block ``0..l-1`` (right-canonical form: the right environment is the identity). Local
    depolarizing noise commutes with the partial trace and is applied to ``rho_A``.
    """
    sites = [int(x) for x in sites]
    rho_a = None
    if psi is not None:
        v = np.asarray(psi, dtype=np.complex128)
        n = int(round(np.log2(v.size)))
        t = np.moveaxis(v.reshape([2] * n), sites, list(range(len(sites))))
        m = t.reshape(2 ** len(sites), -1)
        rho_a = m @ m.conj().T
    elif mps is not None and sites == list(range(len(sites))):
        m = mps if (mps.form == "right" and mps.is_right_canonical()) else mps.right_canonical()
        t = np.ones((1, 1))  # (physical so far, vR)
        for j in range(len(sites)):
            b = m.tensors[j]
            # t (P, v) . B (v, p, r)   # P [v], [v] p r -> P p r
            t = np.tensordot(t, b, axes=(1, 0)).reshape(-1, b.shape[2])
        rho_a = t @ t.conj().T
        rho_a = rho_a / np.trace(rho_a).real
    if rho_a is None:
        return None
    return depolarize(rho_a, noise) if noise and noise > 0 else rho_a


def default_subsystems(n: int) -> list[list[int]]:
    """Leading blocks ``[0]``, ``[0, 1]``, ... up to ``min(4, N - 1)`` qubits (one if N = 1)."""
    top = max(1, min(MAX_SUBSYSTEM_QUBITS, n - 1))
    return [list(range(k)) for k in range(1, top + 1)]


def reduced_from_rho(rho: ComplexArray, sites: list[int]) -> ComplexArray:
    """Partial trace of a dense density matrix (thin wrapper, for symmetry with the above)."""
    return partial_trace(rho, sites)


def histogram_table(outcomes: Outcomes, K: int) -> FloatArray:
    """Relative frequencies over all K^N strings (for models without a likelihood)."""
    a = np.asarray(outcomes)
    n = a.shape[1]
    if K**n > MAX_TABLE_ENTRIES:
        raise InputValueError(f"a histogram over {K}^{n} strings is too large")
    c = np.bincount(outcome_index(a, K), minlength=K**n).astype(np.float64)
    return c / c.sum()


__all__ = [
    "MAX_DIRECT_FIDELITY_BOND",
    "MAX_DIRECT_FIDELITY_MPS_QUBITS",
    "MAX_DIRECT_FIDELITY_QUBITS",
    "MAX_SUBSYSTEM_QUBITS",
    "check_sites",
    "classical_exact",
    "classical_from_samples",
    "default_subsystems",
    "direct_fidelity",
    "direct_fidelity_values",
    "direct_fidelity_values_mps",
    "exact_reduced_state",
    "fidelity_from_qutip",
    "physical_fidelity",
    "histogram_table",
    "marginal_counts",
    "quantum_fidelity",
    "reduced_density_matrix",
    "reduced_from_rho",
    "rdm_from_counts",
    "renyi2_exact",
    "renyi2_from_counts",
    "renyi2_from_shots",
    "target_born_table",
    "target_state",
]
