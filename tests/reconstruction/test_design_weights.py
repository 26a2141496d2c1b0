"""Direct estimates under fixed designs: the stratified mean is unbiased where the plain mean
is not, and incomplete designs are recognised."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qtomo.povm.born import pauli_q_values
from qtomo.povm.frames import pauli6
from qtomo.reconstruction.design_weights import balanced, coverage, stratified_mean

SIGN = {0: 1, 1: -1}


def shots_for(design: dict[str, int], p_plus: dict[str, float], rng) -> np.ndarray:
    """Pauli-6 outcomes of 2 qubits in the product state with P(+ | letter) = p_plus."""
    rows = []
    for setting, k in design.items():
        for _ in range(k):
            row = []
            for letter in setting:
                s = "XYZ".index(letter)
                row.append(2 * s + int(rng.random() > p_plus[letter]))
            rows.append(row)
    return np.array(rows, dtype=np.uint8)


def test_stratified_mean_corrects_an_unbalanced_design():
    """<X_0> of a product state with <X> = 0.6, measured mostly in X settings: the plain mean
    of Q is biased (the X settings are over-represented), the stratified one is not."""
    rng = np.random.default_rng(0)
    p_plus = {"X": 0.8, "Y": 0.5, "Z": 0.5}
    design = {"".join(s): (900 if s[0] == "X" else 100)
              for s in itertools.product("XYZ", repeat=2)}
    est, raw, ses = [], [], []
    for _ in range(20):
        a = shots_for(design, p_plus, rng)
        q = pauli_q_values(a, pauli6(), {0: "X"})
        cov = coverage(a)
        assert cov.complete and not balanced(cov)
        m, se = stratified_mean(q, cov)
        est.append(m)
        ses.append(se)
        raw.append(q.mean())
    se_mean = np.std(est, ddof=1) / np.sqrt(len(est))
    assert abs(np.mean(est) - 0.6) < 4 * se_mean
    assert np.mean(raw) > 0.6 + 10 * se_mean  # 3 x 0.6 x (2700/3600) = 1.35
    # the stated standard error matches the scatter over datasets
    assert 0.6 < np.std(est, ddof=1) / np.mean(ses) < 1.5


def test_incomplete_designs_give_no_estimate():
    rng = np.random.default_rng(1)
    a = shots_for({"XX": 50, "ZZ": 50}, {"X": 0.5, "Y": 0.5, "Z": 1.0}, rng)
    cov = coverage(a)
    assert not cov.complete and cov.measured == 2 and "2 of 9" in cov.describe()
    assert stratified_mean(np.ones(len(a)), cov) is None


def test_unmeasured_fidelity_weight_of_ghz_designs():
    """GHZ-3: every setting measured leaves nothing out; only Z settings leave out exactly the
    coherence terms, half the fidelity's weight (the 4 even-Y XY strings, |c_P| = 1 each, out of
    2^3 = 8)."""
    from qtomo.reconstruction.design_weights import unmeasured_fidelity_weight

    psi = np.zeros(8)
    psi[0] = psi[-1] = 2**-0.5
    rng = np.random.default_rng(2)
    full = {"".join(s): 2 for s in itertools.product("XYZ", repeat=3)}
    a = shots_for(full, {"X": 0.5, "Y": 0.5, "Z": 0.5}, rng)
    assert unmeasured_fidelity_weight(psi, coverage(a), 3) == pytest.approx(0.0)
    a = shots_for({"ZZZ": 10}, {"X": 0.5, "Y": 0.5, "Z": 0.5}, rng)
    assert unmeasured_fidelity_weight(psi, coverage(a), 3) == pytest.approx(0.5)
