"""The conventions behind every number of a reconstruction report (``report["conventions"]``)
and the entry format the report's sections share.

What lives here: :data:`CONVENTIONS` (the sentence behind every kind of number) and
:func:`estimate_entry` (``value``, ``stderr``, ``n``, ``ci95`` of an estimate with its
standard error).
"""

from __future__ import annotations

import math
from typing import Any

from qtomo.povm.born import Estimate

CONVENTIONS = {
    "quantum_fidelity": "squared convention (as Qiskit): F = <psi|rho|psi> to the ideal "
    "target |psi> (what the lab meant to prepare); with simulated depolarizing noise p the "
    "shots come from sigma = E_p(|psi><psi|), whose <psi|sigma|psi> is the exact value, and "
    "fidelity_to_noisy_state is Uhlmann's (Tr sqrt(sqrt(sigma) rho sqrt(sigma)))^2; QuTiP's "
    "fidelity() is the square root of this",
    "direct_fidelity": "mean over the measured shots of Q(a) = <psi|D(a_0) x ... x "
    "D(a_N-1)|psi> (D the dual frame): an unbiased estimate of the squared fidelity "
    "<psi|rho_lab|psi> to the ideal target; stderr = std(Q)/sqrt(shots). Being a linear "
    "estimate, it may exceed 1 (or fall below 0) by its statistical noise",
    "classical_fidelity": "Bhattacharyya coefficient F_c = sum_a sqrt(P(a) Q(a)); P the "
    "target's outcome distribution with its noise, Q the model",
    "kl_divergence": "KL(P||Q) = sum_a P(a) log(P(a)/Q(a)) in nats",
    "observables": "<O> = mean of Q_O(a) = prod_j Tr[O_j D(a_j)] over strings: the model's "
    "samples ('model') or the measured shots ('direct'); stderr = std/sqrt(n); exact values "
    "from the stored target include its noise (<P> of weight w scaled by (1-p)^w)",
    "energy": "TFIM energy <H>, H = -J sum_<ij> Z_i Z_j - h sum_i X_i with the dataset's J, h "
    "and boundary; stderr from the per-string values of the whole sum",
    "magnetization": "m_x = (1/N) sum <X_i>, m_z = (1/N) sum <Z_i>, m_z2 = (1/N^2) sum_ij "
    "<Z_i Z_j>",
    "renyi2": "S_2(A) = -log2 Tr[rho_A^2] in bits; from strings by the unbiased U-statistic of "
    "the purity, from a density matrix by its partial trace; the U-statistic is unbiased, so "
    "its purity (with purity_stderr) may leave [0, 1] by its noise",
    "density_matrix": "qubit 0 is the leftmost tensor factor (most significant bit); "
    "'inversion' = Born-rule inversion of the outcome table (may be unphysical), 'projected' = "
    "closest physical state in Frobenius norm (eigenvalues projected onto the simplex), 'mle' = "
    "maximum-likelihood physical state fitted to the table, rank chosen by how well it "
    "predicts the measured shots (AIC). Fidelity and purity fields of physical states lie in "
    "[0, 1] and their trace is 1 within 1e-12; an unphysical matrix (inversion) reports "
    "tr_rho_squared and overlaps instead (purity and fidelity null)",
    "error_bars": "stderr is one standard error; ci95 = value +- 1.96 stderr",
}


# --- entries -------------------------------------------------------------------------------------
def estimate_entry(e: Estimate | None) -> dict[str, Any] | None:
    """An estimate as a report entry: ``value``, ``stderr``, ``n`` and, with a finite error
    bar, ``ci95`` (value +- 1.96 stderr); None for None."""
    if e is None:
        return None
    v, s = float(e.value), float(e.stderr)
    out: dict[str, Any] = {"value": v, "stderr": s, "n": int(e.n)}
    if math.isfinite(s) and e.n > 0:
        out["ci95"] = [v - 1.96 * s, v + 1.96 * s]
    return out


__all__ = ["CONVENTIONS", "estimate_entry"]
