"""The maximum-likelihood state among permutation-symmetric states behind local noise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.povm.frames import get_frame, site_operators
from qtomo.reconstruction.density import born_table
from qtomo.reconstruction.metrics import physical_fidelity
from qtomo.reconstruction.symmetric_mle import dicke_basis, fit_symmetric_mle, is_symmetric
from qtomo.states.families import w_statevector
from qtomo.states.ghz import ghz_statevector
from qtomo.states.noise import depolarize


def _permute(v: np.ndarray, n: int, perm: tuple[int, ...]) -> np.ndarray:
    return np.transpose(v.reshape([2] * n), perm).reshape(-1)


def test_dicke_states_are_orthonormal_and_invariant_under_every_permutation():
    n = 4
    b = dicke_basis(n)
    np.testing.assert_allclose(b.T @ b, np.eye(n + 1), atol=1e-14)
    for perm in itertools.permutations(range(n)):
        for k in range(n + 1):
            np.testing.assert_allclose(_permute(b[:, k], n, perm), b[:, k], atol=1e-14)
    assert is_symmetric(ghz_statevector(5)) and is_symmetric(w_statevector(5))
    assert not is_symmetric(np.kron([1.0, 0.0], [0.0, 1.0]))  # |01>
    with pytest.raises(InputValueError):
        dicke_basis(0)


@pytest.mark.parametrize("povm,state,p", [("pauli4", "ghz", 0.05), ("tetra", "w", 0.1),
                                          ("pauli6", "ghz", 0.0)])
def test_exact_table_of_a_noisy_symmetric_state_gives_it_back(povm, state, p):
    n = 4
    psi = ghz_statevector(n) if state == "ghz" else w_statevector(n)
    rho_true = depolarize(np.outer(psi, psi.conj()), p) if p else np.outer(psi, psi.conj())
    frame = get_frame(povm)
    table = born_table(rho_true, site_operators(frame, n))
    res = fit_symmetric_mle(table, frame, n)
    assert res.kl < 1e-9
    assert abs(res.depolarizing - p) < 1e-4
    assert physical_fidelity(res.rho, rho_true) > 1 - 1e-6
    assert res.kl == min(c["kl_to_table"] for c in res.candidates)


def test_on_shots_the_fit_is_at_least_as_likely_as_the_state_they_came_from():
    # the family holds the true state, so its maximum likelihood cannot fall below the
    # truth's; and with 20,000 shots it lands near it (4 qubits, 18 parameters)
    n, p = 4, 0.05
    psi = ghz_statevector(n)
    rho_true = depolarize(np.outer(psi, psi.conj()), p)
    frame = get_frame("pauli4")
    ops = site_operators(frame, n)
    exact = born_table(rho_true, ops)
    rng = np.random.default_rng(7)
    freq = rng.multinomial(20_000, exact / exact.sum()) / 20_000
    res = fit_symmetric_mle(freq, frame, n)
    pos = freq > 0

    def loglik(q: np.ndarray) -> float:
        return float(np.sum(freq[pos] * np.log(q[pos])))

    assert loglik(born_table(res.rho, ops)) >= loglik(exact) - 1e-9
    f_exact = physical_fidelity(rho_true, psi)
    # over 20 datasets of these shots the fit's fidelity scattered by 0.017 (sd) about the
    # exact value: allow 4 of those
    assert abs(physical_fidelity(res.rho, psi) - f_exact) < 0.07


def test_a_bad_table_is_refused():
    with pytest.raises(InputValueError):
        fit_symmetric_mle(np.ones(10), get_frame("pauli4"), 2)
    with pytest.raises(InputValueError, match="no probability"):
        fit_symmetric_mle(np.zeros(16), get_frame("pauli4"), 2)
