"""The likelihood-ratio test of a model's state against the raw-frequency MLE, and the raw-MLE
bootstrap error bar: null behaviour on exact states, power against a smoothed state."""

from __future__ import annotations

import numpy as np
from scipy import stats

from qtomo.povm.frames import get_frame
from qtomo.reconstruction import density as dm
from qtomo.reconstruction import mle
from qtomo.reconstruction import likelihood_ratio as lrt
from qtomo.reconstruction import metrics as mt
from qtomo.states.ghz import ghz_statevector
from qtomo.states.noise import depolarize


def _fit(freq, frame, n, shots):
    from qtomo.povm.born import rho_from_probabilities

    init = dm.project_to_physical(rho_from_probabilities(freq, frame, n))
    return mle.fit_mle_auto(freq, frame, n, n_shots=shots, init=init)


def _freq(rho, frame, shots, rng):
    p = np.maximum(dm.product_table(rho, frame.elements).real, 0)
    return rng.multinomial(shots, p / p.sum()) / shots


def _ghz_fit(n, shots, frame, seed):
    """GHZ-n pure state, frequencies of ``shots`` shots of it and their MLE fit."""
    psi = ghz_statevector(n)
    rho = np.outer(psi, psi.conj())
    f = _freq(rho, frame, shots, np.random.default_rng(seed))
    return rho, f, _fit(f, frame, n, shots)


def test_true_state_is_not_rejected_and_p_values_are_not_small_too_often():
    """Null: the 'model state' is the state the shots came from. LR is at most chi-square with
    k_r dof (conservative near pure states), so P(p < 0.1) <= 0.1 up to sampling: with 40
    datasets, at most 9 such p-values (binomial(40, 0.1) exceeds 9 with probability 0.008)."""
    n, shots, frame = 2, 4000, get_frame("pauli4")
    psi = ghz_statevector(n)
    rho = np.outer(psi, psi.conj())
    ps = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        f = _freq(rho, frame, shots, rng)
        res = _fit(f, frame, n, shots)
        t = lrt.likelihood_ratio_test(f, shots, rho, res.rho, res.rank, frame, n)
        assert t.dof == mle.mle_parameter_count(n, res.rank)
        assert t.statistic >= 0
        ps.append(t.p_value)
    ps = np.asarray(ps)
    assert (ps < 1e-3).sum() == 0
    assert (ps < 0.1).sum() <= 9


def test_lr_equals_twice_the_log_likelihood_gap():
    n, shots, frame = 2, 2000, get_frame("pauli6")
    rho, f, res = _ghz_fit(n, shots, frame, 3)
    wrong = depolarize(rho, 0.2)
    t = lrt.likelihood_ratio_test(f, shots, wrong, res.rho, res.rank, frame, n)
    pw = dm.product_table(wrong, frame.elements).real
    pd = dm.product_table(res.rho, frame.elements).real
    m = f > 0
    expect = 2 * shots * float(np.dot(f[m], np.log(pd[m] / pw[m])))
    assert abs(t.statistic - expect) < 1e-8 * max(1.0, expect)
    assert abs(t.p_value - stats.chi2.sf(expect, t.dof)) < 1e-12


def test_smoothed_state_is_rejected():
    """A model state with 5% white noise mixed in, on 20,000 GHZ-3 shots (infidelity 0.044):
    the LR (about 50 for this seed) is far in the tail of chi-square(14)."""
    n, shots, frame = 3, 20000, get_frame("pauli4")
    rho, f, res = _ghz_fit(n, shots, frame, 7)
    smooth = 0.95 * rho + 0.05 * np.eye(2**n) / 2**n
    t = lrt.likelihood_ratio_test(f, shots, smooth, res.rho, res.rank, frame, n)
    assert t.rejected and t.p_value < 1e-4


def test_raw_mle_bootstrap_interval_contains_estimate_and_exact():
    n, shots, frame = 3, 20000, get_frame("pauli6")
    rng = np.random.default_rng(11)
    psi = ghz_statevector(n)
    sigma = 0.9 * np.outer(psi, psi.conj()) + 0.1 * np.eye(2**n) / 2**n
    exact = float((psi.conj() @ sigma @ psi).real)
    f = _freq(sigma, frame, shots, rng)
    res = _fit(f, frame, n, shots)
    ideal = mt.target_state(psi)
    boot = lrt.raw_mle_bootstrap(f, shots, res.rho, res.info(), frame, n, ideal, b=10, seed=1)
    value = float(mt.physical_fidelity(res.rho, ideal))
    lo, hi = boot["ci95"]
    assert lo <= value <= hi
    assert len(set(boot["members"])) == 10  # the resamples differ
    # the standard error of a fidelity from 20,000 shots is of order 1/sqrt(shots) ~ 0.007
    assert 1e-4 < boot["stderr"] < 0.03
    assert abs(value - exact) < 4 * boot["stderr"] + 0.01


def test_rejection_needs_a_material_fidelity_difference():
    """With many shots any imperfect state is rejected; the model is replaced only when its
    fidelity is more than Z_FIDELITY raw-MLE standard errors away."""
    base = lrt.LikelihoodRatio(statistic=200.0, dof=30, p_value=1e-20, n_shots=81000, rank=4)
    assert base.rejected  # the LR alone
    import dataclasses

    assert not dataclasses.replace(base, fidelity_z=-0.5).rejected
    assert "the model is kept" in dataclasses.replace(base, fidelity_z=-0.5).sentence()
    assert dataclasses.replace(base, fidelity_z=-3.5).rejected
    assert not dataclasses.replace(base, p_value=0.2, fidelity_z=-9.0).rejected
