"""Observables: the per-shot estimator against exact sums, standard errors, exact references."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.povm.born import (
    all_outcomes,
    born_probabilities,
    pauli_operator,
    pauli_q_values,
    sample_from_table,
)
from qtomo.povm.frames import get_frame
from qtomo.reconstruction.observables import (
    PauliAccumulator,
    TFIMSpec,
    exact_observables,
    parse_observables,
    statevector_expectation,
    tfim_spec_from_target,
)
from qtomo.states.exact import tfim_x_expectations, tfim_zz_matrix
from qtomo.states.ghz import ghz_statevector
from qtomo.states.mps import MPS
from qtomo.states.tfim import tfim_ground_state, tfim_hamiltonian
from tests.conftest import random_density_matrix


def _weighted_outcomes(p: np.ndarray, n: int, K: int, scale: int = 10**6):  # noqa: N803
    """All strings repeated round(P * scale) times: sample means become exact weighted sums."""
    counts = np.rint(p * scale).astype(int)
    return np.repeat(all_outcomes(n, K), counts, axis=0), counts


def test_accumulator_matches_direct_computation(rng):
    f = get_frame("tetra")
    n = 4
    a = rng.integers(0, 4, size=(5000, n)).astype(np.uint8)
    acc = PauliAccumulator(f, n, strings={"Z0 X2": {0: "Z", 2: "X"}},
                           tfim=TFIMSpec(1.0, 0.5, "periodic"))
    acc.update(a[:1234])
    acc.update(a[1234:])  # chunking does not matter
    res = acc.result("direct")
    for p in "XYZ":
        for i in range(n):
            q = pauli_q_values(a, f, {i: p})
            assert res.single[p][0][i] == pytest.approx(q.mean(), abs=1e-12)
            assert res.single[p][1][i] == pytest.approx(q.std(ddof=1) / np.sqrt(5000), rel=1e-9)
        q = pauli_q_values(a, f, {0: p, 3: p})
        assert res.two_point[p][0][0, 3] == pytest.approx(q.mean(), abs=1e-12)
        assert res.two_point[p][1][3, 0] == pytest.approx(q.std(ddof=1) / np.sqrt(5000), rel=1e-9)
    q = pauli_q_values(a, f, {0: "Z", 2: "X"})
    assert res.scalars["Z0 X2"].value == pytest.approx(q.mean(), abs=1e-12)
    e = -0.5 * sum(pauli_q_values(a, f, {i: "X"}) for i in range(n))
    e -= sum(pauli_q_values(a, f, {i: "Z", (i + 1) % n: "Z"}) for i in range(n))
    assert res.scalars["energy"].value == pytest.approx(e.mean(), abs=1e-10)
    assert res.scalars["energy"].stderr == pytest.approx(e.std(ddof=1) / np.sqrt(5000), rel=1e-9)
    mz2 = np.mean([pauli_q_values(a, f, {i: "Z", j: "Z"}) if i != j else np.ones(5000)
                   for i in range(n) for j in range(n)], axis=0)
    assert res.scalars["magnetization_z2"].value == pytest.approx(mz2.mean(), abs=1e-12)


@pytest.mark.parametrize("name", ["pauli4", "tetra", "pauli6"])
def test_estimator_is_exact_on_the_full_distribution(name, rng):
    # with every string weighted by P(a), the means are the exact expectation values
    f = get_frame(name)
    n = 3
    rho = random_density_matrix(n, rng)
    p = born_probabilities(rho, f)
    a, counts = _weighted_outcomes(p, n, f.K, 10**7)
    w = counts / counts.sum()  # the rounded weights actually used
    acc = PauliAccumulator(f, n, tfim=TFIMSpec(1.0, 0.8))
    acc.update(a)
    res = acc.result("direct")
    from qtomo.reconstruction.density import weighted_operator

    rho_w = weighted_operator(w, f.duals, n)  # the state these weights describe
    for p_ in "XYZ":
        for i in range(n):
            want = np.real(np.trace(rho_w @ pauli_operator({i: p_}, n)))
            assert res.single[p_][0][i] == pytest.approx(want, abs=1e-9)
        want = np.real(np.trace(rho_w @ pauli_operator({0: p_, 2: p_}, n)))
        assert res.two_point[p_][0][0, 2] == pytest.approx(want, abs=1e-9)
    h = tfim_hamiltonian(n, 1.0, 0.8).toarray()
    assert res.scalars["energy"].value == pytest.approx(np.real(np.trace(rho_w @ h)), abs=1e-8)


def test_model_style_estimates_cover_exact_values(rng):
    # shots drawn from the exact Born distribution: z-scores of all observables are O(1)
    f = get_frame("pauli4")
    n = 5
    psi = tfim_ground_state(n, 1.0, 1.0).psi
    a = sample_from_table(born_probabilities(psi, f), 40_000, rng, n, 4)
    acc = PauliAccumulator(f, n, tfim=TFIMSpec(1.0, 1.0))
    acc.update(a)
    res = acc.result("direct")
    ex = exact_observables(n, target={"noise": 0.0}, psi=psi, tfim=TFIMSpec(1.0, 1.0))
    z = []
    for p in "XYZ":
        z += list((res.single[p][0] - ex.single[p][0]) / res.single[p][1])
        iu = np.triu_indices(n, 1)
        z += list((res.two_point[p][0][iu] - ex.two_point[p][0][iu]) / res.two_point[p][1][iu])
    e = res.scalars["energy"]
    z.append((e.value - ex.scalars["energy"].value) / e.stderr)
    z = np.asarray(z)
    assert np.abs(z).max() < 4.5
    assert 0.5 < np.sqrt(np.mean(z**2)) < 1.5  # standard errors are the right size
    assert ex.scalars["energy"].value == pytest.approx(tfim_ground_state(n, 1, 1).energy)


def test_exact_observables_agree_between_sources():
    n = 6
    gs = tfim_ground_state(n, 1.0, 0.9)
    tgt = {"noise": 0.0, "state": "tfim", "J": 1.0, "h": 0.9, "boundary": "open"}
    strings = parse_observables(["Z0 Z5", "X1 Y2 Y3"], n)
    tf = tfim_spec_from_target(tgt)
    a = exact_observables(n, target=tgt, psi=gs.psi, strings=strings, tfim=tf)
    b = exact_observables(n, target=tgt, mps=MPS.from_statevector(gs.psi), strings=strings,
                          tfim=tf)
    c = exact_observables(n, target=tgt, x_exact=tfim_x_expectations(n, 1.0, 0.9),
                          zz_exact=tfim_zz_matrix(n, 1.0, 0.9), strings=strings, tfim=tf)
    for p in "XYZ":
        np.testing.assert_allclose(a.single[p][0], b.single[p][0], atol=1e-10)
        np.testing.assert_allclose(a.two_point[p][0], b.two_point[p][0], atol=1e-10)
    np.testing.assert_allclose(a.single["X"][0], c.single["X"][0], atol=1e-10)
    np.testing.assert_allclose(a.two_point["Z"][0], c.two_point["Z"][0], atol=1e-10)
    assert np.isnan(c.single["Y"][0]).all()  # unknown from the stored arrays alone
    for name in strings:
        assert a.scalars[name].value == pytest.approx(b.scalars[name].value, abs=1e-10)
    assert c.scalars["Z0 Z5"].value == pytest.approx(a.scalars["Z0 Z5"].value, abs=1e-10)
    assert np.isnan(c.scalars["X1 Y2 Y3"].value)
    for s in (a, b, c):
        assert s.scalars["energy"].value == pytest.approx(gs.energy, abs=1e-9)


def test_exact_observables_with_noise():
    n = 3
    psi = ghz_statevector(n)
    ex = exact_observables(n, target={"noise": 0.1}, psi=psi,
                           strings=parse_observables(["X0 X1 X2", "Z0 Z2"], n))
    assert ex.scalars["X0 X1 X2"].value == pytest.approx(0.9**3)
    assert ex.scalars["Z0 Z2"].value == pytest.approx(0.9**2)
    assert ex.two_point["Z"][0][1, 1] == 1.0
    assert statevector_expectation(psi, {0: "Y", 1: "Y", 2: "X"}) == pytest.approx(-1.0)


def test_parse_observables():
    got = parse_observables(["Z5 Z0", "x3"], 6)
    assert got == {"Z0 Z5": {0: "Z", 5: "Z"}, "X3": {3: "X"}}
    with pytest.raises(InputValueError, match="identity"):
        parse_observables(["I0 I1"], 6)
    with pytest.raises(InputValueError, match="names qubit 9"):
        parse_observables(["Z9"], 6)
    with pytest.raises(InputValueError, match="not a Pauli letter"):
        parse_observables(["Q1"], 6)


def test_tfim_spec_from_target():
    assert tfim_spec_from_target({"state": "ghz", "J": 1.0, "h": 1.0}) is None
    assert tfim_spec_from_target({"state": "tfim", "J": float("nan"), "h": 1.0}) is None
    s = tfim_spec_from_target({"state": "tfim", "J": 2.0, "h": 0.5, "boundary": "periodic"})
    assert s == TFIMSpec(2.0, 0.5, "periodic") and s.bonds(3) == [(0, 1), (1, 2), (2, 0)]
