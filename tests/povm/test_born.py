"""Born rule and inversion: round trips, observables, sampled estimators, sampler statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtomo.errors import InputValueError
from qtomo.povm.born import (
    all_outcomes,
    born_probabilities,
    estimate,
    outcome_index,
    parse_pauli_string,
    pauli_operator,
    pauli_q_table,
    pauli_q_values,
    rho_from_probabilities,
    sample_from_table,
)
from qtomo.povm.frames import get_frame
from tests.conftest import chi_square_pvalue, random_density_matrix

NAMES = ["pauli4", "tetra", "pauli6"]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), seed=st.integers(0, 2**31), name=st.sampled_from(NAMES),
       rank=st.integers(1, 8))
def test_rho_p_rho_round_trip(n, seed, name, rank):
    rng = np.random.default_rng(seed)
    rho = random_density_matrix(n, rng, rank=min(rank, 2**n))
    f = get_frame(name)
    p = born_probabilities(rho, f)
    assert p.min() >= -1e-14 and abs(p.sum() - 1) < 1e-12
    assert np.allclose(rho_from_probabilities(p, f), rho, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_born_matches_brute_force(name, rng):
    f = get_frame(name)
    n = 3
    rho = random_density_matrix(n, rng)
    p = born_probabilities(rho, f)
    for idx, a in enumerate(all_outcomes(n, f.K)):
        m = np.kron(np.kron(f.elements[a[0]], f.elements[a[1]]), f.elements[a[2]])
        assert abs(np.trace(rho @ m).real - p[idx]) < 1e-14
    assert np.array_equal(outcome_index(all_outcomes(n, f.K), f.K), np.arange(f.K**n))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("obs", ["Z0", "X1", "Y2", "Z0 Z3", "X0 Y1 Z2", "Y1 Y3"])
def test_exact_observable_sum(name, obs, rng):
    n = 4
    f = get_frame(name)
    rho = random_density_matrix(n, rng)
    ps = parse_pauli_string(obs, n)
    p = born_probabilities(rho, f)
    exact = np.trace(rho @ pauli_operator(ps, n)).real
    assert abs(p @ pauli_q_table(f, ps, n) - exact) < 1e-12
    # per-string values agree with the table
    a = all_outcomes(n, f.K)
    assert np.allclose(pauli_q_values(a, f, ps), pauli_q_table(f, ps, n))


@pytest.mark.parametrize("name", NAMES)
def test_sampled_estimator_within_four_standard_errors(name, rng):
    n = 4
    f = get_frame(name)
    rho = random_density_matrix(n, rng, rank=2)
    p = born_probabilities(rho, f)
    shots = sample_from_table(p, 200_000, rng, n, f.K)
    for obs in ["Z0 Z1", "X2", "Y0 X3", "Z0 Z1 Z2 Z3"]:
        ps = parse_pauli_string(obs, n)
        est = estimate(pauli_q_values(shots, f, ps))
        exact = np.trace(rho @ pauli_operator(ps, n)).real
        assert abs(est.value - exact) < 4 * est.stderr, (obs, est, exact)


@pytest.mark.parametrize("name", NAMES)
def test_table_sampler_chi_square(name, rng):
    n = 3
    f = get_frame(name)
    p = born_probabilities(random_density_matrix(n, rng), f)
    shots = sample_from_table(p, 100_000, rng, n, f.K)
    counts = np.bincount(outcome_index(shots, f.K), minlength=p.size)
    assert chi_square_pvalue(counts, p) > 1e-3


def test_parse_pauli_string_errors():
    assert parse_pauli_string("Z0 Z5", 6) == {0: "Z", 5: "Z"}
    assert parse_pauli_string("x1*y2", 3) == {1: "X", 2: "Y"}
    for bad in ["", "Q1", "Z", "Z9", "Z1 X1"]:
        with pytest.raises(InputValueError):
            parse_pauli_string(bad, 6)
