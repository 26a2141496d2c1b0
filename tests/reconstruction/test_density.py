"""Density matrices: contractions against the Born rule, projection, maximum likelihood,
QuTiP interop -- all against exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import qutip
import torch

from qtomo.errors import InputValueError
from qtomo.povm.born import born_probabilities, rho_from_probabilities
from qtomo.povm.frames import get_frame, pauli6
from qtomo.reconstruction.density import (
    born_table,
    frequency_table,
    hermitian_weighted_operator,
    partial_trace,
    probability_table,
    product_table,
    project_simplex,
    project_to_physical,
    summarize,
    to_qobj,
    weighted_operator,
)
from qtomo.reconstruction.config import Stage
from qtomo.reconstruction.mle import fit_mle, fit_mle_auto, mle_parameter_count
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_ground_state
from tests.conftest import random_density_matrix
from tests.reconstruction.helpers import HistogramOnlyModel, TableModel

FRAMES = ["pauli4", "tetra", "pauli6"]


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("n", [1, 2, 4])
def test_product_table_is_the_born_rule(name, n, rng):
    f = get_frame(name)
    rho = random_density_matrix(n, rng)
    np.testing.assert_allclose(product_table(rho, f.elements).real, born_probabilities(rho, f),
                               atol=1e-14)
    assert np.abs(product_table(rho, f.elements).imag).max() < 1e-14


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("n", [1, 3])
def test_weighted_operator_with_duals_inverts_born(name, n, rng):
    f = get_frame(name)
    rho = random_density_matrix(n, rng)
    p = born_probabilities(rho, f)
    np.testing.assert_allclose(weighted_operator(p, f.duals, n), rho, atol=1e-13)
    np.testing.assert_allclose(weighted_operator(p, f.duals, n), rho_from_probabilities(p, f, n),
                               atol=1e-13)


def test_weighted_operator_of_elements_is_the_explicit_sum(rng):
    # R = sum_a w(a) M(a_0) x M(a_1) for N=2, built by brute force
    f = get_frame("pauli4")
    w = rng.random(16)
    want = sum(w[4 * i + j] * np.kron(f.elements[i], f.elements[j])
               for i in range(4) for j in range(4))
    np.testing.assert_allclose(weighted_operator(w, f.elements, 2), want, atol=1e-14)
    with pytest.raises(InputValueError, match="expected K\\^N"):
        weighted_operator(w[:15], f.elements, 2)


def test_project_simplex():
    np.testing.assert_allclose(project_simplex(np.array([0.2, 0.3, 0.5])), [0.2, 0.3, 0.5])
    np.testing.assert_allclose(project_simplex(np.array([1.2, -0.1, -0.1])), [1.0, 0, 0])
    # shift by a constant: (0.5, 0.5, 0) -> theta = 0.25
    np.testing.assert_allclose(project_simplex(np.array([0.75, 0.75, 0.1])), [0.5, 0.5, 0.0])


def test_projection_is_closest_physical_state(rng):
    f = get_frame("pauli4")
    psi = tfim_ground_state(3, 1.0, 1.0).psi
    p = born_probabilities(psi, f) * np.exp(0.3 * rng.normal(size=64))
    rho = rho_from_probabilities(p / p.sum(), f, 3)
    assert summarize(rho).min_eigenvalue < -1e-3  # unphysical input
    proj = project_to_physical(rho)
    s = summarize(proj)
    assert s.min_eigenvalue > -1e-12 and abs(s.trace - 1) < 1e-12
    d0 = np.linalg.norm(proj - rho)
    for _ in range(50):  # no random physical state is closer
        assert np.linalg.norm(random_density_matrix(3, rng, rank=2) - rho) >= d0 - 1e-12
    # a physical state is its own projection
    sigma = random_density_matrix(3, rng)
    np.testing.assert_allclose(project_to_physical(sigma), sigma, atol=1e-12)


def test_summarize_known_states():
    psi = np.zeros(4)
    psi[0] = 1
    s = summarize(np.outer(psi, psi))
    assert s.purity == pytest.approx(1) and s.trace == pytest.approx(1)
    np.testing.assert_allclose(s.eigenvalues, [1, 0, 0, 0], atol=1e-15)
    s = summarize(np.eye(4) / 4)
    assert s.purity == pytest.approx(0.25) and s.min_eigenvalue == pytest.approx(0.25)
    s = summarize(np.diag([0.7, 0.5, -0.2, 0.0]))
    assert s.negativity == pytest.approx(0.2) and s.min_eigenvalue == pytest.approx(-0.2)


def test_qobj_dims_and_partial_trace_match_qutip(rng):
    rho = random_density_matrix(3, rng)
    q = to_qobj(rho)
    assert q.dims == [[2, 2, 2], [2, 2, 2]]
    np.testing.assert_allclose(q.full(), rho)
    for keep in ([0], [1], [0, 2], [2, 0]):
        np.testing.assert_allclose(partial_trace(rho, keep), q.ptrace(keep).full()
                                   if keep == sorted(keep) else
                                   q.permute([2, 0, 1]).ptrace([0, 1]).full(), atol=1e-14)


def test_mle_recovers_pure_state_from_exact_table():
    f = get_frame("pauli4")
    psi = tfim_ground_state(4, 1.0, 0.7).psi
    res = fit_mle(born_probabilities(psi, f), f, 4, rank=1)
    assert res.rank == 1 and res.kl < 1e-9
    assert np.real(psi @ res.rho @ psi) > 1 - 1e-8
    assert abs(np.trace(res.rho) - 1) < 1e-12


def test_mle_full_rank_recovers_mixed_state(rng):
    f = pauli6()
    rho = random_density_matrix(2, rng)
    res = fit_mle(born_probabilities(rho, f), f, 2, rank=None, max_iter=2000, tol=1e-14)
    assert np.abs(res.rho - rho).max() < 1e-4
    assert summarize(res.rho).min_eigenvalue > -1e-12


def test_mle_beats_projection_on_a_perturbed_table(rng):
    # a pure target seen through a noisy table: the rank-1 ML state is far closer than the
    # eigenvalue projection (the reason reconstruct fits by maximum likelihood)
    f = get_frame("pauli4")
    n = 5
    psi = tfim_ground_state(n, 1.0, 1.0).psi
    p = born_probabilities(psi, f) * np.exp(0.1 * rng.normal(size=4**n))
    p /= p.sum()
    f_proj = np.real(psi @ project_to_physical(rho_from_probabilities(p, f, n)) @ psi)
    res = fit_mle_auto(p, f, n, n_shots=100_000)
    assert res.rank == 1
    assert [c["rank"] for c in res.candidates][:2] == [1, 2]
    f_mle = np.real(psi @ res.rho @ psi)
    assert f_mle > 0.99 > f_proj + 0.05


def test_mle_auto_climbs_for_a_mixed_state(rng):
    f = pauli6()
    rho = random_density_matrix(2, rng)  # full rank 4
    res = fit_mle_auto(born_probabilities(rho, f), f, 2, n_shots=10**6, max_iter=2000)
    assert res.rank == 4 and np.abs(res.rho - rho).max() < 1e-3
    assert mle_parameter_count(2, 4) == 15 and mle_parameter_count(3, 1) == 14  # 2d - 2


def test_probability_table_of_an_exact_model():
    f = get_frame("pauli4")
    p = born_probabilities(tfim_ground_state(3, 1.0, 1.0).psi, f)
    table, info = probability_table(TableModel(p, 3, 4))
    np.testing.assert_allclose(table, p / p.sum(), atol=1e-14)
    assert info["sum_before_normalisation"] == pytest.approx(1.0)
    with pytest.raises(InputValueError, match="no likelihood"):
        probability_table(HistogramOnlyModel(p, 3, 4))


def test_probability_table_of_a_gru_sums_to_one():
    from qtomo.models.registry import build_model

    torch.manual_seed(0)
    table, info = probability_table(build_model("gru", 3, 4, hidden=8, layers=1))
    assert info["sum_before_normalisation"] == pytest.approx(1.0, abs=1e-6)
    assert table.shape == (64,)


def test_frequency_table():
    a = np.array([[0, 1], [0, 1], [3, 3], [1, 0]], dtype=np.uint8)
    t = frequency_table(a, 4)
    assert t[1] == 0.5 and t[15] == 0.25 and t[4] == 0.25 and t.sum() == 1


def test_table_size_limit():
    from qtomo.reconstruction.density import check_table_size

    with pytest.raises(InputValueError, match="up to 10 qubits"):
        check_table_size(11, 4)
    from qtomo.models.registry import build_model
    from qtomo.reconstruction.density import MAX_STRINGWISE_TABLE_ENTRIES, model_table_limit

    check_table_size(10, 6)  # Pauli-6 at N = 10 is the largest dense table
    with pytest.raises(InputValueError, match="K\\^N"):
        check_table_size(10, 6, limit=MAX_STRINGWISE_TABLE_ENTRIES)
    check_table_size(10, 4)
    # a model evaluated string by string keeps the smaller limit; the GRU walks its prefixes
    assert model_table_limit(build_model("gru", 3, 4, hidden=8, layers=1)) >= 6**10
    assert model_table_limit(TableModel(np.full(64, 1 / 64), 3, 4)) == MAX_STRINGWISE_TABLE_ENTRIES
    # qutip fidelity convention is the square root: sanity of the interop
    assert qutip.fidelity(qutip.basis(2, 0), qutip.basis(2, 0)) == pytest.approx(1.0)


def _ghz4_tables(name: str, p: float) -> tuple[np.ndarray, np.ndarray, float]:
    psi = np.zeros(16, dtype=complex)
    psi[0] = psi[-1] = 2**-0.5
    rho = depolarize(np.outer(psi, psi.conj()), p)
    table = np.clip(born_probabilities(rho, get_frame(name)).real, 0.0, None)
    return psi, table / table.sum(), float(np.real(psi.conj() @ rho @ psi))


@pytest.mark.parametrize("name", ["pauli4", "tetra"])
def test_mle_auto_fits_local_noise_in_one_parameter(name):
    """A noisy GHZ-4 state is full rank, but rank 1 behind local depolarizing noise: the exact
    table gives back p = 0.05 and the fidelity; 20,000 shots give the fidelity within its
    scatter (about 0.03 a dataset for Pauli-4, 0.01 for tetra: 3 s.e. of the mean of 8 is
    0.03), where a rank-only fit holds a pure state (fidelity near 1, exact 0.859)."""
    psi, table, exact = _ghz4_tables(name, 0.05)
    res = fit_mle_auto(table, get_frame(name), 4, n_shots=20_000)
    assert res.rank == 1 and res.depolarizing == pytest.approx(0.05, abs=2e-3)
    assert np.real(psi.conj() @ res.rho @ psi) == pytest.approx(exact, abs=2e-3)
    assert res.info()["depolarizing"] == res.depolarizing
    errs = []
    for seed in range(8):
        counts = np.random.default_rng(seed).multinomial(20_000, table)
        got = fit_mle_auto(counts / 20_000, get_frame(name), 4, n_shots=20_000)
        errs.append(float(np.real(psi.conj() @ got.rho @ psi)) - exact)
    assert abs(np.mean(errs)) < 0.03 and max(abs(e) for e in errs) < 0.1


@pytest.mark.parametrize("name", ["pauli4", "tetra"])
def test_mle_auto_keeps_pure_states_noiseless(name):
    """Shots of pure states (GHZ-4, TFIM-4) do not take the noise: its likelihood-ratio margin
    (chi-square_1 at 0.001) is passed by chance once in a thousand fits."""
    f = get_frame(name)
    psi_ghz, ghz, _ = _ghz4_tables(name, 0.0)
    psi_tfim = tfim_ground_state(4, 1.0, 1.0).psi
    tfim = born_probabilities(psi_tfim, f)
    for psi, table in ((psi_ghz, ghz), (psi_tfim, tfim / tfim.sum())):
        for seed in range(6):
            counts = np.random.default_rng(seed).multinomial(20_000, table)
            res = fit_mle_auto(counts / 20_000, f, 4, n_shots=20_000)
            assert res.rank == 1 and res.depolarizing < 1e-3
            assert np.real(psi.conj() @ res.rho @ psi) > 0.99


def test_noise_gradient_matches_finite_differences(rng):
    """The analytic derivative of the MLE objective in the depolarizing strength p (the
    Delta_j identity of ``likelihood_objective``) and in A agree with central differences."""
    from qtomo.reconstruction.mle_objective import likelihood_objective

    n, r = 3, 2
    f = get_frame("tetra")
    table = born_probabilities(random_density_matrix(n, rng), f).real
    fun = likelihood_objective(table / table.sum(), f, n, r, [], fit_noise=True)
    x = np.concatenate([rng.normal(size=2 * 2**n * r), [0.13]])
    _, g = fun(x)
    eps = 1e-6
    num = np.array([(fun(x + eps * e)[0] - fun(x - eps * e)[0]) / (2 * eps)
                    for e in np.eye(x.size)])
    np.testing.assert_allclose(g, num, atol=1e-7)
    assert abs(g[-1]) > 1e-3  # p enters the objective


@pytest.mark.parametrize("start", [0.0, 0.3])
def test_joint_noise_fit_finds_the_strength_from_far_away(start):
    """One joint descent over (A, p) from the pure GHZ start lands at p = 0.05 and the exact
    fidelity of an exact noisy GHZ-6 table, whether it starts below or far above p."""
    from qtomo.reconstruction.mle import fit_mle_noisy

    n = 6
    psi = np.zeros(2**n, dtype=np.complex128)
    psi[0] = psi[-1] = 2**-0.5
    rho = depolarize(np.outer(psi, psi.conj()), 0.05)
    f = get_frame("pauli4")
    table = np.clip(born_probabilities(rho, f).real, 0.0, None)
    res = fit_mle_noisy(table / table.sum(), f, n, rank=1, init=np.outer(psi, psi.conj()),
                        p_start=start)
    assert res.depolarizing == pytest.approx(0.05, abs=1e-3)
    assert np.real(psi.conj() @ res.rho @ psi) == pytest.approx(
        np.real(psi.conj() @ rho @ psi), abs=2e-3)


@pytest.mark.parametrize("symmetry", ["none", "permutation"])
@pytest.mark.parametrize(("p_shots", "p_table"), [(0.0, 0.03), (0.05, 0.045), (0.05, 0.01)])
def test_the_shots_decide_the_model_states_noise(p_shots, p_table, symmetry):
    """A model's table can take depolarizing noise that the shots do not ask for (its smoothing
    looks like noise); the model's MLE state keeps the noise only where the shots' own fit at
    the same rank takes it, and at the table's strength only where the shots do not reject
    it. The model here is GHZ-4 behind p_table (Pauli-4). Against 20,000 shots of the pure
    state the shots' fits gain less than the chi-square_1 margin, and the state is refitted to
    the same table without noise (the pure GHZ-4 within 0.01). Against shots of GHZ-4 behind
    p = 0.05 (a gain of about 100; the strength's error about 0.005) the noise stays: at the
    table's 0.045, which the shots do not reject (the state is the table's own), and at the
    shots' strength (0.05 +- 0.01) where the table says 0.01, about 8 errors off: the state is
    the table's refitted behind it, E_0.05(|GHZ><GHZ|) within 0.01 in fidelity. All of it holds
    when the shots are first averaged over the permutations (a run trained under them): the
    averaged table is less noisy, and the test must not take noise from pure shots for it."""
    import copy
    from types import SimpleNamespace

    from qtomo.reconstruction import mle
    from qtomo.reconstruction.shots_noise import noise_from_shots

    f = get_frame("pauli4")
    psi, model_table, _ = _ghz4_tables("pauli4", p_table)
    _, shots_table, _ = _ghz4_tables("pauli4", p_shots)
    freq = np.random.default_rng(3).multinomial(20_000, shots_table) / 20_000
    rho_model = depolarize(np.outer(psi, psi.conj()), p_table)
    fit = {"rank": 1, "depolarizing": p_table, "rank_candidates": [], "rank_selection": "test"}
    handed = copy.deepcopy(fit), rho_model.copy(), model_table.copy()
    res = noise_from_shots(fit, model_table, rho_model, SimpleNamespace(frame=f, n=4, K=f.K),
                           freq, 20_000, Stage(None), symmetry)
    # the check returns its record and leaves the quantum stage's fit and state as they were
    assert fit == handed[0] and "noise_from_shots" not in fit
    assert np.array_equal(rho_model, handed[1]) and np.array_equal(model_table, handed[2])
    got = res.fit
    check = got["noise_from_shots"]
    assert check["symmetry"] == symmetry
    rho = rho_model if res.rho is None else res.rho
    fid = float(np.real(psi.conj() @ rho @ psi))
    if p_shots == 0:
        assert not check["takes_noise"] and check["gain"] < mle.NOISE_PENALTY
        assert got["depolarizing"] == 0 and got["rank"] == 1
        assert res.rho is not None and fid > 0.99
        return
    assert check["takes_noise"] and check["gain"] > 5 * mle.NOISE_PENALTY
    assert check["depolarizing"] == pytest.approx(0.05, abs=0.01)
    if p_table == 0.045:
        assert check["strength_lr"] < mle.NOISE_PENALTY and not check["strength_from_shots"]
        assert got["depolarizing"] == p_table and res.rho is None
        assert not mle.noise_fixed(got)
        return
    assert check["strength_lr"] > 3 * mle.NOISE_PENALTY and check["strength_from_shots"]
    assert got["depolarizing"] == check["depolarizing"] and mle.noise_fixed(got)
    exact = float(np.real(psi.conj() @ depolarize(np.outer(psi, psi.conj()), 0.05) @ psi))
    table_fid = float(np.real(psi.conj() @ rho_model @ psi))
    assert fid == pytest.approx(exact, abs=0.01) and abs(fid - exact) < table_fid - exact
    # a fit without noise has nothing to check
    assert noise_from_shots({**fit, "depolarizing": 0.0}, model_table, rho_model,
                            SimpleNamespace(frame=f, n=4, K=f.K), freq, 20_000,
                            Stage(None)) is None


def test_the_shots_strength_is_held_in_refits_and_measured_per_member():
    """A fit whose depolarizing strength the shots measured (``depolarizing_from: shots``) is
    refitted at that strength: the exact table of GHZ-4 behind p = 0.03 refitted in the family
    'rank 1 behind 0.05' stays at 0.05, where the searched family goes back to 0.03. A member
    takes the strength of its own frequencies: 20,000 shots of GHZ-4 behind p = 0.05 give
    0.05 +- 0.01 (the strength's scatter at 20,000 Pauli-6 shots is about 0.002); a fit
    without the shots' strength is passed through unchanged."""
    from qtomo.reconstruction import mle
    from qtomo.reconstruction.shots_noise import member_depolarizing

    f = get_frame("pauli6")
    psi, table, _ = _ghz4_tables("pauli6", 0.03)
    rho0 = np.outer(psi, psi.conj())
    fixed = {"rank": 1, "depolarizing": 0.05, "depolarizing_from": mle.NOISE_FROM_SHOTS}
    assert mle.refit_like(table, f, 4, fixed, init=rho0).depolarizing == 0.05
    searched = {"rank": 1, "depolarizing": 0.05}
    assert mle.refit_like(table, f, 4, searched, init=rho0).depolarizing == pytest.approx(
        0.03, abs=2e-3)
    _, shots_table, _ = _ghz4_tables("pauli6", 0.05)
    freq = np.random.default_rng(5).multinomial(20_000, shots_table) / 20_000
    got = member_depolarizing(freq, f, 4, {**fixed, "depolarizing": 0.02}, rho0, 150)
    assert got["depolarizing"] == pytest.approx(0.05, abs=0.01) and got["rank"] == 1
    assert member_depolarizing(freq, f, 4, searched, rho0, 150) is searched


@pytest.mark.parametrize("frame_name", ["pauli4", "tetra", "pauli6"])
def test_real_pauli_basis_contractions_equal_the_complex_ones(frame_name):
    """born_table is the real part of product_table, and hermitian_weighted_operator is
    weighted_operator, for POVM elements, depolarized elements and duals; a non-Hermitian
    operator is refused."""
    from qtomo.povm.frames import site_operators

    rng = np.random.default_rng(7)
    f = get_frame(frame_name)
    n = 4
    a = rng.normal(size=(2**n, 3)) + 1j * rng.normal(size=(2**n, 3))
    rho = a @ a.conj().T
    w = rng.normal(size=f.K**n)
    for ops in (f.elements, site_operators(f.depolarized(0.1), n),
                site_operators(f, n, "duals")):
        assert np.allclose(born_table(rho, ops), product_table(rho, ops).real, atol=1e-11)
        assert np.allclose(hermitian_weighted_operator(w, ops, n),
                           weighted_operator(w, ops, n), atol=1e-11)
    with pytest.raises(InputValueError, match="Hermitian"):
        born_table(rho, np.array([[[0, 1], [0, 0]], [[1, 0], [0, 1]]], dtype=complex))


def test_reused_buffers_change_no_result_and_leave_no_alias():
    """Inside reused_buffers the contractions give the same tables and operators as outside,
    for tables of different sizes and dtypes in turn (the buffers grow), a result handed back
    is never overwritten by the next call, and ``out`` receives the table."""
    from qtomo.povm.frames import site_operators
    from qtomo.reconstruction.site_products import reused_buffers

    rng = np.random.default_rng(11)
    cases = []
    for name, n in (("pauli4", 3), ("pauli6", 4), ("tetra", 2)):
        a = rng.normal(size=(2**n, 2)) + 1j * rng.normal(size=(2**n, 2))
        ops = site_operators(get_frame(name), n)
        w = rng.normal(size=get_frame(name).K ** n)
        cases.append((a @ a.conj().T, ops, w, n))
    plain = [(born_table(r, o), hermitian_weighted_operator(w, o, n), product_table(r, o))
             for r, o, w, n in cases]
    with reused_buffers():
        kept = [(born_table(r, o), hermitian_weighted_operator(w, o, n), product_table(r, o))
                for r, o, w, n in cases]
        out = np.full(cases[1][2].size, np.nan)
        assert born_table(cases[1][0], cases[1][1], out=out) is not None
    for got, want in zip(kept, plain):
        for g, x in zip(got, want):
            assert np.array_equal(g, x)
    assert np.array_equal(out, plain[1][0])
