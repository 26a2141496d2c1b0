"""The G-test of a state against per-setting counts (qtomo.reconstruction.goodness_of_fit) and
the per-setting counts it reads (qtomo.reconstruction.setting_counts), against the dense
simulator of tests/reconstruction/device_sim.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qtomo.povm.born import outcome_index
from qtomo.povm.frames import pauli6
from qtomo.reconstruction import goodness_of_fit as gf
from qtomo.reconstruction import mle
from qtomo.reconstruction.setting_counts import (
    SettingCounts,
    pauli6_setting_shots,
    pauli_labels,
    pauli_projectors,
    setting_counts,
)
from tests.conftest import random_density_matrix
from tests.reconstruction import device_sim as sim


def _pauli_counts(settings: list[str], counts: np.ndarray) -> SettingCounts:
    n = len(settings[0])
    return SettingCounts(tuple(settings), counts, pauli_projectors(settings, pauli6(), n),
                         np.array([list(s) for s in settings]))


def test_setting_probabilities_match_dense_kronecker_products(rng):
    """Any axes, any state: the Pauli-basis contraction equals traces of full products."""
    n = 3
    rho = random_density_matrix(n, rng)
    settings = sim.pauli_settings(n)
    proj = sim.projectors(sim.axes(settings, 0.4, rng))
    p = gf.setting_probabilities(rho, proj, block_entries=256)  # several blocks of settings
    np.testing.assert_allclose(p, sim.probabilities(rho, proj), atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)


def test_pauli_projectors_and_counts_from_pauli6_outcomes(rng):
    """Pauli-6 outcomes -> (setting, bits) -> counts per setting, qubit 0 the leading bit;
    the frame's elements per basis are the ideal projectors."""
    n = 3
    settings = sim.pauli_settings(n)
    np.testing.assert_allclose(pauli_projectors(settings, pauli6(), n),
                               sim.projectors(sim.axes(settings, 0.0, rng)), atol=1e-12)
    counts = rng.integers(0, 5, size=(len(settings), 2**n))
    a = rng.permutation(sim.pauli6_outcomes(settings, counts))
    key, bits = pauli6_setting_shots(a)
    keys, index = np.unique(key, return_inverse=True)
    assert pauli_labels(keys, n) == settings
    np.testing.assert_array_equal(setting_counts(index, bits, len(keys)), counts)
    sc = _pauli_counts(settings, counts)
    np.testing.assert_array_equal(sc.marginal((2, 0)).reshape(-1, 2, 2),
                                  counts.reshape(-1, 2, 2, 2).sum(axis=2).transpose(0, 2, 1))


def test_g_of_the_true_state_is_chi_square_with_all_outcome_dofs(rng):
    """100 datasets of a full-rank 2-qubit state, 9 settings x 400 shots, tested against the
    state itself (k = 0): G ~ chi-square(9 x 3); the p-values pass Kolmogorov-Smirnov at 1%."""
    n, settings = 2, sim.pauli_settings(2)
    rho = random_density_matrix(n, rng)
    probs = sim.probabilities(rho, sim.projectors(sim.axes(settings, 0.0, rng)))
    pv = []
    for _ in range(100):
        counts = sim.sample_counts(probs, 400, rng)
        t = gf.g_test(counts, probs, 0)
        assert t.dof == 27 and t.clipped_cells == 0
        pv.append(t.p_value)
    assert stats.kstest(pv, "uniform").pvalue > 0.01


def test_g_of_the_fitted_state_subtracts_its_parameters(rng):
    """The full-rank MLE of each of 60 datasets (2 qubits, 9 settings x 1000 shots): G ~
    chi-square(9 x 3 - 15) = chi-square(12); uniform p-values (KS at 1%), mean G near 12."""
    n, settings = 2, sim.pauli_settings(2)
    rho = 0.7 * random_density_matrix(n, rng) + 0.3 * np.eye(2**n) / 2**n  # inside the body
    sc = _pauli_counts(settings, np.zeros((9, 4), dtype=np.int64))
    probs = sim.probabilities(rho, sc.projectors)
    idx = outcome_index(sim.pauli6_outcomes(settings, np.ones((9, 4), dtype=np.int64)), 6)
    pv, gs = [], []
    for _ in range(60):
        counts = sim.sample_counts(probs, 1000, rng)
        freq = np.bincount(idx, weights=counts.ravel(), minlength=6**n)
        fit = mle.fit_mle(freq / freq.sum(), pauli6(), n, rank=None)
        k, why = gf.fitted_parameters("other", None, n)
        t = gf.g_test(counts, gf.setting_probabilities(fit.rho, sc.projectors), k)
        assert k == 15 and t.dof == 12 and "full density matrix" in why
        pv.append(t.p_value)
        gs.append(t.statistic)
    assert stats.kstest(pv, "uniform").pvalue > 0.01
    assert abs(np.mean(gs) - 12) < 4 * np.sqrt(2 * 12 / 60)


def test_parameter_counts_of_the_report_states():
    assert gf.fitted_parameters("target", None, 4)[0] == 0
    assert gf.fitted_parameters("data_mle", {"rank": 1, "depolarizing": 0.05}, 4)[0] == 31
    assert gf.fitted_parameters("data_mle", {"rank": 16, "depolarizing": 0.0}, 4)[0] == 255
    assert gf.fitted_parameters("model_mle", {"rank": 1}, 4)[0] == 255


def test_forbidden_outcomes_are_clipped_and_counted(rng):
    """A pure GHZ state forbids odd parities in ZZ: observed ones give a finite G, each adding
    about 2 log(f / floor) (about 28 for one count in a thousand); five of them reject."""
    settings = sim.pauli_settings(2)
    probs = sim.probabilities(np.outer(sim.ghz(2), sim.ghz(2)),
                              sim.projectors(sim.axes(settings, 0.0, rng)))
    counts = np.round(probs * 1000).astype(np.int64)
    zz = settings.index("ZZ")
    assert gf.g_test(counts, probs, 0).statistic < 1e-3  # the counts are the probabilities
    for extra, rejected in ((1, False), (5, True)):
        c = counts.copy()
        c[zz, 1] += extra  # bits 01: p = 0
        t = gf.g_test(c, probs, 0)
        f = extra / c[zz].sum()
        assert t.clipped_cells == 1 and np.isfinite(t.statistic) and t.rejected is rejected
        assert t.per_setting[zz] == pytest.approx(t.statistic, rel=1e-5)
        assert t.statistic == pytest.approx(2 * extra * np.log(f / gf.PROBABILITY_FLOOR),
                                            rel=0.1)


def test_drifting_axes_reject_every_state_and_few_shots_are_refused(rng):
    """Rotated measurement axes (s.d. 0.15 rad) at 4000 shots: the true state no longer fits;
    settings with too few shots for their outcomes are refused with a reason."""
    n, settings = 3, sim.pauli_settings(3)
    rho = sim.depolarized(sim.haar(n, rng), 0.05)
    proj = sim.projectors(sim.axes(settings, 0.15, rng))
    counts = sim.sample_counts(sim.probabilities(rho, proj), 4000, rng)
    sc = _pauli_counts(settings, counts)
    t = gf.g_test(counts, gf.setting_probabilities(rho, sc.projectors), 0)
    assert t.rejected and t.ratio > 3
    entry = gf.gof_entry(t, sc, "target", "not fitted")
    assert entry["worst_settings"][0]["g"] == pytest.approx(t.per_setting.max())
    few = _pauli_counts(settings, sim.sample_counts(sim.probabilities(rho, proj), 20, rng))
    keep, why = gf.usable_settings(few)
    assert not keep.any() and "too few shots per setting" in why
