"""Target states: psi up to 16 qubits, an exact MPS above, and exact references throughout."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.states.exact import tfim_ground_energy, tfim_x_expectations, tfim_zz_matrix
from qtomo.states.ghz import ghz_statevector
from qtomo.states.statevector import MAX_PSI_QUBITS, x_and_zz
from qtomo.states.targets import (
    build_target,
    check_target,
    resolved_method,
    statevector_to_mps,
    target_from_statevector,
)
from qtomo.states.tfim import tfim_ground_state


@pytest.mark.parametrize("n", [3, MAX_PSI_QUBITS, 17, 20])
def test_ghz_is_psi_up_to_16_and_its_bond_2_mps_above(n):
    t = build_target("ghz", n)
    assert t.attrs["state"] == "ghz" and t.attrs["method"] == "exact"
    assert t.attrs["symmetry"] == "permutation" and t.attrs["boundary"] == "none"
    if n <= MAX_PSI_QUBITS:
        assert t.mps is None
        np.testing.assert_array_equal(t.psi, ghz_statevector(n))
    else:
        assert t.psi is None and t.mps.max_bond == 2 and t.mps.n_qubits == n
        np.testing.assert_allclose(t.mps.to_statevector(), ghz_statevector(n), atol=1e-15)
    np.testing.assert_array_equal(t.x_exact, np.zeros(n))
    np.testing.assert_array_equal(t.zz_exact, np.ones((n, n)))


def test_ed_vector_above_16_becomes_an_mps_exact_to_round_off():
    n = 17
    gs = tfim_ground_state(n, 1.0, 1.0)
    t = target_from_statevector(gs.psi, {"state": "tfim", "method": "ed"})
    assert t.psi is None and t.n_qubits == n
    # ||psi - psi_MPS|| at round-off level, with far fewer than the 2^(N/2) states per bond
    assert np.linalg.norm(t.mps.to_statevector() - gs.psi) < 1e-12
    assert t.mps.max_bond < 2 ** (n // 2) // 4 and t.mps.is_right_canonical()
    # the references are the free-fermion ones (open chain, J = h = 1)
    np.testing.assert_allclose(t.x_exact, tfim_x_expectations(n, 1.0, 1.0), atol=1e-10)
    np.testing.assert_allclose(t.zz_exact, tfim_zz_matrix(n, 1.0, 1.0), atol=1e-10)
    np.testing.assert_allclose(t.mps.x_expectations(), t.x_exact, atol=1e-10)
    assert gs.energy == pytest.approx(tfim_ground_energy(n, 1.0, 1.0), abs=1e-9)


def test_generic_vectors_round_trip(rng):
    for n in (4, 17):
        v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
        t = target_from_statevector(3 * v, {"state": "custom"})
        v = v / np.linalg.norm(v)
        if n <= MAX_PSI_QUBITS:
            np.testing.assert_allclose(t.psi, v, atol=1e-15)
            assert t.mps is None
        else:
            assert t.psi is None
            assert np.linalg.norm(t.mps.to_statevector() - v) < 1e-12
        x, zz = x_and_zz(v)
        np.testing.assert_allclose(t.x_exact, x, atol=1e-14)
        np.testing.assert_allclose(t.zz_exact, zz, atol=1e-14)
    m = statevector_to_mps(ghz_statevector(6))
    assert m.bond_dims == [2] * 5


def test_tfim_methods_noise_and_attributes():
    t = build_target("tfim", 8, h=0.7, noise=0.1)
    assert t.attrs["method"] == "ed" and t.psi is not None and t.mps is None
    gs = tfim_ground_state(8, 1.0, 0.7)
    assert t.energy == pytest.approx(gs.energy)
    x, zz = x_and_zz(gs.psi)
    np.testing.assert_allclose(t.x_exact, 0.9 * x, atol=1e-12)
    off = ~np.eye(8, dtype=bool)
    np.testing.assert_allclose(t.zz_exact[off], 0.81 * zz[off], atol=1e-12)
    assert np.all(np.diag(t.zz_exact) == 1.0)
    d = build_target("tfim", 20, method="auto", chi=16)
    assert d.attrs["method"] == "dmrg" and d.psi is None and d.mps is not None
    assert d.attrs["exact_observables_source"] == "free fermions"
    assert d.energy == pytest.approx(tfim_ground_energy(20, 1.0, 1.0), rel=1e-8)
    assert resolved_method("tfim", 14) == "ed" and resolved_method("tfim", 15) == "dmrg"
    assert resolved_method("w", 5, "dmrg") == "exact"
    p = build_target("tfim", 5, boundary="periodic")
    assert p.attrs["symmetry"] == "translation"


@pytest.mark.parametrize("kwargs, match", [
    ({"state": "bell"}, "unknown state"),
    ({"n_qubits": 0}, "--n-qubits"),
    ({"noise": 1.5}, "--noise"),
    ({"J": float("nan")}, "--J"),
    ({"method": "ed", "n_qubits": 21}, "exact diagonalization"),
    ({"state": "w", "n_qubits": 0}, "--n-qubits"),
    ({"boundary": "twisted"}, "--boundary"),
])
def test_bad_values_name_the_option(kwargs, match):
    args = {"state": "tfim", "n_qubits": 4, **kwargs}
    with pytest.raises(InputValueError, match=match):
        check_target(args.pop("state"), args.pop("n_qubits"), **args)
