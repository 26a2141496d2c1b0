"""Lab-scale estimators against exact answers: exact per-setting probabilities of a planned design
(dense states, local depolarizing noise, readout errors) give the exact fidelity for every
protocol, and the estimators are unbiased on sampled shots."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.design import Readout, confusion_from_flips
from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale.energy import (
    energy_bound,
    energy_from_means,
    energy_layout,
    energy_values,
    fidelity_bound,
    target_levels,
)
from qtomo.reconstruction.lab_scale.parity import (
    parity_fidelity,
    parity_from_means,
    parity_layout,
    parity_values,
)
from qtomo.reconstruction.lab_scale.plan import plan_design
from qtomo.reconstruction.lab_scale.shots import (
    corrected_values,
    ideal_table,
    product_values,
)
from qtomo.reconstruction.lab_scale.stabilizer import (
    parse_observables,
    stabilizer_fidelity,
    stabilizer_from_means,
    stabilizer_values,
)
from qtomo.states.families import cluster_statevector
from qtomo.states.ghz import ghz_statevector
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_hamiltonian
from tests.conftest import random_density_matrix
from tests.reconstruction.lab_helpers import (
    all_bits,
    apply_readout,
    exact_means,
    sample_design,
    setting_probabilities,
)

FLIPS = np.array([[0.01, 0.02], [0.03, 0.01], [0.02, 0.05], [0.0, 0.04], [0.02, 0.02],
                  [0.01, 0.03]])


def noisy(psi: np.ndarray, p: float) -> np.ndarray:
    return depolarize(np.outer(psi, psi.conj()), p)


def setting_probs(rho, axes, confusion):
    probs = [setting_probabilities(rho, a) for a in axes]
    return probs if confusion is None else [apply_readout(q, confusion) for q in probs]


def table_of(confusion, n):
    return ideal_table(n) if confusion is None else corrected_values(confusion)


def test_readout_correction_restores_products_and_projectors(rng):
    n = 3
    rho = random_density_matrix(n, rng)
    axes = np.column_stack([rng.uniform(0, np.pi, n), rng.uniform(0, 2 * np.pi, n)])
    c = confusion_from_flips(FLIPS[:n])
    p_true = setting_probabilities(rho, axes)
    p_read = apply_readout(p_true, c)
    bits = all_bits(n)
    z = 1.0 - 2.0 * bits
    y = corrected_values(c)[None]
    for support in ([True, False, True], [True, True, True], [False, True, False]):
        s = np.array(support)
        exact = p_true @ np.prod(np.where(s, z, 1.0), axis=1)
        assert abs(p_read @ product_values(bits, y, s)[:, 0] - exact) < 1e-12
        # without the correction the bits as read are biased
        assert abs(p_read @ product_values(bits, ideal_table(n)[None], s)[:, 0] - exact) > 1e-4
    every = np.ones(n, dtype=bool)
    for sign, target in ((1, 0), (-1, -1)):
        got = p_read @ product_values(bits, (1.0 + sign * y) / 2, every)[:, 0]
        assert abs(got - p_true[target]) < 1e-12


@pytest.mark.parametrize("n", [3, 4, 5])
@pytest.mark.parametrize(("p", "readout"), [(0.0, False), (0.04, False), (0.04, True)])
def test_parity_exact_probabilities_give_the_exact_fidelity(n, p, readout):
    psi = ghz_statevector(n)
    rho = noisy(psi, p)
    exact = float(np.real(psi @ rho @ psi))
    closed = ((1 - p / 2) ** n + (p / 2) ** n + (1 - p) ** n) / 2
    assert abs(exact - closed) < 1e-12
    axes = plan_design("ghz", n, "parity", precision=0.01).angles
    assert axes.shape[0] == 2 * n + 3
    c = confusion_from_flips(FLIPS[:n]) if readout else None
    layout = parity_layout(axes)
    means = exact_means(lambda s, b, t: parity_values(layout, s, b, t),
                        setting_probs(rho, axes, c), table_of(c, n))
    est = parity_from_means(layout, means, np.ones(axes.shape[0]))
    assert abs(est["fidelity"] - exact) < 1e-9
    assert abs(abs(est["coherence"]) - (1 - p) ** n / 2) < 1e-9


@pytest.mark.parametrize("state", ["ghz", "cluster"])
@pytest.mark.parametrize("n", [3, 4])
def test_stabilizer_whole_group_gives_the_exact_fidelity(state, n):
    psi = {"ghz": ghz_statevector, "cluster": cluster_statevector}[state](n)
    rho = noisy(psi, 0.05)
    exact = float(np.real(psi @ rho @ psi))
    spec = plan_design(state, n, "stabilizer", precision=0.01, settings=2**n)
    assert spec.plan["sampled"] is False and spec.n_settings == 2**n
    axes = spec.angles
    signs, letters = parse_observables(spec.observables, n)
    c = confusion_from_flips(FLIPS[:n])
    means = exact_means(lambda s, b, t: stabilizer_values(signs, letters, s, b, t),
                        setting_probs(rho, axes, c), corrected_values(c))
    assert abs(stabilizer_from_means(means) - exact) < 1e-9


def energy_means(rho, spec, confusion, parity_weight=0.0):
    n, t = spec.n_qubits, spec.target
    axes = spec.angles
    zs, xs = energy_layout(axes, t["J"], t["h"])
    means = exact_means(lambda s, b, tab: energy_values("Z" if s in zs else "X", t["J"], t["h"],
                                                        b, tab, parity_weight),
                        setting_probs(rho, axes, confusion), table_of(confusion, n))
    return float(energy_from_means(zs, xs, means, np.ones(len(axes))))


def sector_bound(rho, spec, confusion=None):
    """The parity-sector bound of ``rho`` from exact probabilities of the design."""
    t = spec.target
    lv = target_levels(spec.n_qubits, t["J"], t["h"])
    return lv.bound(energy_means(rho, spec, confusion, lv.parity_weight))


def parity_of(v, n):
    """<v| prod X |v> (prod X flips every bit of the basis index)."""
    return float(np.real(np.vdot(v, v[(2**n - 1) ^ np.arange(2**n)])))


@pytest.mark.parametrize(("n", "h", "p"), [(4, 2.0, 0.02), (5, 1.0, 0.0), (5, 1.5, 0.05)])
def test_energy_exact_probabilities_give_the_exact_energy(n, h, p):
    H = tfim_hamiltonian(n, 1.0, h).toarray()
    _, v = np.linalg.eigh(H)
    rho = noisy(v[:, 0], p)
    spec = plan_design("tfim", n, "energy", precision=0.01, h=h)
    e = energy_means(rho, spec, confusion_from_flips(FLIPS[:n]))
    assert abs(e - float(np.real(np.trace(rho @ H)))) < 1e-9


@pytest.mark.parametrize(("n", "h", "f"), [(4, 2.0, 0.9), (5, 1.3, 0.6), (6, 3.0, 0.99)])
def test_energy_bound_is_the_fidelity_of_a_ground_and_first_excited_mixture(n, h, f):
    H = tfim_hamiltonian(n, 1.0, h).toarray()
    w, v = np.linalg.eigh(H)
    assert w[1] - w[0] > 1e-6 and w[2] - w[1] > 1e-6  # non-degenerate levels
    rho = f * np.outer(v[:, 0], v[:, 0]) + (1 - f) * np.outer(v[:, 1], v[:, 1])
    spec = plan_design("tfim", n, "energy", precision=0.01, h=h)
    e = energy_means(rho, spec, None)
    bound = fidelity_bound(e, spec.plan["E0"], spec.plan["E1"])
    assert abs(bound - f) < 1e-9


@pytest.mark.parametrize(("n", "J", "h", "f"), [(4, 1.0, 2.0, 0.9), (5, 1.0, 1.3, 0.6),
                                              (5, -1.0, -1.5, 0.8), (4, 0.5, -0.8, 0.95)])
def test_sector_bound_is_the_fidelity_of_a_mixture_with_either_next_level(n, J, h, f):
    """The bound is exact for the ground state mixed with the other sector's lowest level
    (E1) and with the first excited level of its own sector (E1s)."""
    H = tfim_hamiltonian(n, J, h).toarray()
    w, v = np.linalg.eigh(H)
    lv = target_levels(n, J, h)
    par = np.array([parity_of(v[:, k], n) for k in range(len(w))])
    assert round(par[0]) == lv.parity and abs(lv.e0 - w[0]) < 1e-9
    same = [k for k in range(1, len(w)) if round(par[k]) == lv.parity]
    other = [k for k in range(1, len(w)) if round(par[k]) != lv.parity]
    assert abs(w[same[0]] - lv.e1_same) < 1e-9 and abs(w[other[0]] - lv.e1) < 1e-9
    spec = plan_design("tfim", n, "energy", precision=0.01, J=J, h=h)
    for k in (same[0], other[0]):
        rho = f * np.outer(v[:, 0], v[:, 0]) + (1 - f) * np.outer(v[:, k], v[:, k])
        assert abs(sector_bound(rho, spec, confusion_from_flips(FLIPS[:n])) - f) < 1e-9


@pytest.mark.parametrize(("n", "h"), [(3, 2.0), (4, 1.0), (4, -0.7)])
def test_sector_bound_holds_for_every_state_and_beats_the_plain_bound(n, h):
    """Over random mixed states the bound never exceeds the fidelity; for noisy ground states
    it is tighter than (E1 - <H>) / (E1 - E0)."""
    H = tfim_hamiltonian(n, 1.0, h).toarray()
    w, v = np.linalg.eigh(H)
    spec = plan_design("tfim", n, "energy", precision=0.01, h=h)
    lv = target_levels(n, 1.0, h)
    rng = np.random.default_rng(7)
    for rank in (1, 2, 2**n):
        for _ in range(4):
            rho = random_density_matrix(n, rng, rank)
            f = float(np.real(v[:, 0] @ rho @ v[:, 0]))
            assert sector_bound(rho, spec) <= f + 1e-12
    for p in (0.01, 0.05, 0.2):
        rho = noisy(v[:, 0], p)
        f = float(np.real(v[:, 0] @ rho @ v[:, 0]))
        plain = fidelity_bound(energy_means(rho, spec, None), lv.e0, lv.e1)
        assert plain < sector_bound(rho, spec) <= f + 1e-12


def test_stabilizer_estimator_is_unbiased_over_seeds():
    """Mean over 50 datasets (fresh elements and shots each) within 3 standard errors."""
    n, p = 4, 0.15
    psi = cluster_statevector(n)
    rho = noisy(psi, p)
    exact = float(np.real(psi @ rho @ psi))
    c = confusion_from_flips(FLIPS[:n])
    values = []
    for seed in range(50):
        spec = plan_design("cluster", n, "stabilizer", shots=200, settings=10, seed=seed)
        assert spec.plan["sampled"]
        axes = spec.angles
        idx, bits = sample_design(rho, axes, list(spec.shots),
                                  np.random.default_rng(1000 + seed), c)
        r = stabilizer_fidelity(axes, idx, bits, spec.observables,
                                readout=c, n_boot=0)
        values.append(r.value)
    v = np.array(values)
    se = v.std(ddof=1) / np.sqrt(v.size)
    assert abs(v.mean() - exact) < 3 * se
    assert v.std(ddof=1) > 0.01  # the settings' draw does vary the estimate


def test_parity_bootstrap_matches_shot_noise_and_carries_the_calibration():
    n = 4
    psi = ghz_statevector(n)
    rho = noisy(psi, 0.05)
    exact = float(np.real(psi @ rho @ psi))
    spec = plan_design("ghz", n, "parity", precision=0.01)
    axes = spec.angles
    c = confusion_from_flips(FLIPS[:n])
    idx, bits = sample_design(rho, axes, list(spec.shots),
                              np.random.default_rng(3), c)
    exact_readout = parity_fidelity(axes, idx, bits, readout=c, n_boot=400, seed=1)
    # 400 replicates: the bootstrap s.e. is within ~4% of the truth; 20% is 5 of its errors
    assert abs(exact_readout.stderr / exact_readout.stderr_analytic - 1) < 0.2
    assert abs(exact_readout.value - exact) < 4 * exact_readout.stderr
    shots = np.full((n, 2), 200)  # a small calibration: its error is comparable to the shots'
    cal = Readout(c, np.full_like(c, np.nan), "calibration", "test", shots)
    with_cal = parity_fidelity(axes, idx, bits, readout=cal, n_boot=400, seed=1)
    assert with_cal.value == exact_readout.value
    assert with_cal.details["calibration_resampled"]
    assert with_cal.stderr > 1.1 * exact_readout.stderr


def test_energy_bound_on_sampled_shots_lies_below_the_fidelity():
    n, h = 5, 2.0
    H = tfim_hamiltonian(n, 1.0, h).toarray()
    _, v = np.linalg.eigh(H)
    rho = noisy(v[:, 0], 0.02)
    fid = float(v[:, 0] @ rho.real @ v[:, 0])
    spec = plan_design("tfim", n, "energy", shots=4000, h=h)
    axes = spec.angles
    idx, bits = sample_design(rho, axes, list(spec.shots),
                              np.random.default_rng(5))
    r = energy_bound(axes, idx, bits, J=1.0, h=h, n_boot=200)
    assert r.lower_bound95 < r.value <= fid + 4 * r.stderr
    assert r.lower_bound95 < fid and r.ci95 == (r.lower_bound95, 1.0)
    e = float(np.real(np.trace(rho @ H)))
    assert abs(r.details["energy"] - e) < 4 * r.details["energy_stderr"]
    assert abs(r.details["energy_stderr"] / r.details["energy_stderr_analytic"] - 1) < 0.25


def test_layouts_refuse_settings_the_protocol_cannot_use():
    n = 3
    axes = plan_design("ghz", n, "parity", precision=0.01).angles
    with pytest.raises(InputValueError, match="equally spaced"):
        parity_layout(np.delete(axes, 3, axis=0))
    with pytest.raises(InputValueError, match="all-Z"):
        parity_layout(axes[1:])
    odd = axes.copy()
    odd[2, 0] = [0.3, 0.0]
    with pytest.raises(InputValueError, match="setting 2"):
        parity_layout(odd)
    with pytest.raises(InputValueError, match="neither all-Z nor all-X"):
        energy_layout(axes, 1.0, 1.0)
    spec = plan_design("cluster", n, "stabilizer", precision=0.05, settings=5, seed=2)
    obs = list(spec.observables)
    obs[3] = "+YYY"  # no cluster element, and measured along no setting's axes
    with pytest.raises(InputValueError, match="setting 3 does not measure"):
        stabilizer_fidelity(spec.angles, np.arange(5), np.zeros((5, n), dtype=np.uint8),
                            obs)


def test_product_values_match_a_direct_product(rng):
    """Signs, zeros and tables whose sign patterns differ between rows (the slow path)."""
    n, shots = 5, 50
    tables = rng.normal(size=(3, n, 2))
    tables[0, 1, 0] = 0.0  # a zero in one table only
    tables[2, 3, 1] = -abs(tables[1, 3, 1])
    bits = rng.integers(0, 2, size=(shots, n)).astype(np.uint8)
    support = np.array([True, True, False, True, True])
    got = product_values(bits, tables, support)
    q = np.flatnonzero(support)
    want = np.stack([np.prod(t[q, bits[:, q]], axis=1) for t in tables], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    same = np.stack([tables[1]] * 3)  # one pattern: the fast path
    np.testing.assert_allclose(product_values(bits, same, support)[:, 2], want[:, 1], rtol=1e-12)
