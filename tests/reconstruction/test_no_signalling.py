"""The no-signalling (drift and crosstalk) check of qtomo.reconstruction.no_signalling, on
shots of the dense simulator of tests/reconstruction/device_sim.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qtomo.povm.frames import pauli6
from qtomo.reconstruction import no_signalling as ns
from qtomo.reconstruction.setting_counts import SettingCounts, pauli_projectors
from tests.reconstruction import device_sim as sim


def _counts(settings: list[str], counts: np.ndarray) -> SettingCounts:
    n = len(settings[0])
    return SettingCounts(tuple(settings), counts, pauli_projectors(settings, pauli6(), n),
                         np.array([list(s) for s in settings]))


def test_homogeneity_is_pearsons_contingency_chi_square(rng):
    t = rng.integers(5, 60, size=(7, 4))
    t[:, 2] = 0  # an outcome nobody saw: left out of the dof
    chi2, dof, z = ns.homogeneity(t)
    ref = stats.chi2_contingency(t[:, [0, 1, 3]], correction=False)
    assert chi2 == pytest.approx(ref.statistic) and dof == ref.dof == 12
    assert np.all(z[:, 2] == 0)
    # the adjusted residuals of a 2-column table are equal and opposite
    _, _, z2 = ns.homogeneity(t[:, :2])
    np.testing.assert_allclose(z2[:, 0], -z2[:, 1])


def test_holm_adjusted_p_values():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(ns.holm(p), [0.04, 0.09, 0.09, 0.5])


def test_null_distribution_for_a_random_state_with_ideal_measurements(rng):
    """100 datasets of a Haar-random 3-qubit state, 27 settings x 1000 shots: the test of
    qubit 0 in Z (9 settings, dof 8) and of qubits (0, 1) in (X, Y) (3 settings, dof 6) have
    uniform p-values (KS at 1%); Holm's check raises at most one false alarm."""
    n, settings = 3, sim.pauli_settings(3)
    psi = sim.haar(n, rng)
    probs = sim.probabilities(np.outer(psi, psi.conj()),
                              sim.projectors(sim.axes(settings, 0.0, rng)))
    single, pair, alarms = [], [], 0
    for _ in range(100):
        check = ns.no_signalling(_counts(settings, sim.sample_counts(probs, 1000, rng)))
        by = {(t.qubits, t.bases): t for t in check.singles + check.pairs}
        single.append(by[(0,), "Z"].p_value)
        pair.append(by[(0, 1), "XY"].p_value)
        assert by[(0,), "Z"].dof == 8 and by[(0, 1), "XY"].dof == 6
        assert len(check.singles) == 9 and len(check.pairs) == 27
        alarms += check.rejected
    assert stats.kstest(single, "uniform").pvalue > 0.01
    assert stats.kstest(pair, "uniform").pvalue > 0.01
    assert alarms <= 1


def test_detects_one_setting_whose_qubit_axis_is_rotated(rng):
    """Qubit 1's axis in setting XZY tilted by 0.2 rad, 8000 shots per setting: the check
    fails, names qubit 1, and XZY is the worst setting of the worst test and of the heat
    map's column 1."""
    n, settings = 3, sim.pauli_settings(3)
    rho = sim.depolarized(sim.haar(n, np.random.default_rng(7)), 0.05)
    ax = sim.axes(settings, 0.0, rng)
    s = settings.index("XZY")
    ax[s, 1] = [np.sin(0.2), 0.0, np.cos(0.2)]  # Z tilted towards X
    sc = _counts(settings, sim.sample_counts(sim.probabilities(rho, sim.projectors(ax)), 8000,
                                             rng))
    check = ns.no_signalling(sc)
    out = check.as_dict(sc.labels)
    assert check.rejected and out["drifting_qubits"][0] == 1
    assert out["worst"][0]["worst_settings"][0]["setting"] == "XZY"
    assert 1 in out["worst"][0]["qubits"]
    assert int(np.argmax(check.deviations[:, 1])) == s


def test_calibration_range_check(rng):
    """All-Z marginals outside [P(1|0), 1 - P(0|1)] contradict the calibration; inside, the
    check has nothing to say; without an all-Z setting or standard errors it is skipped."""
    settings = ["ZZ", "XZ"]
    flips, se = np.array([[0.02, 0.05]] * 2), np.full((2, 2), 0.001)
    counts = np.zeros((2, 4), dtype=np.int64)
    counts[0] = [7600, 200, 200, 0]  # each qubit reads 1 in 2.5% of 8000 shots: allowed
    counts[1] = [2000, 2000, 2000, 2000]
    sc = _counts(settings, counts)
    assert ns.calibration_check(sc, flips, se)["consistent"] is True
    counts[0] = [7960, 20, 20, 0]  # 0.25%: fewer flips than P(1|0) = 2% allows
    out = ns.calibration_check(_counts(settings, counts), flips, se)
    assert out["consistent"] is False and out["worst"]["setting"] == "ZZ"
    assert "skipped" in ns.calibration_check(_counts(["XZ", "ZX"], counts), flips, se)
    assert "skipped" in ns.calibration_check(sc, flips, np.full((2, 2), np.nan))
