"""The model-vs-data consistency check: its null distribution on exact data, its power against
wrong models, and its effect on reconstruct()'s report and headline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.povm.born import born_probabilities, sample_from_table
from qtomo.povm.frames import get_frame
from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction.metrics import direct_fidelity_values, target_born_table
from qtomo.reconstruction.observables import PauliAccumulator, TFIMSpec
from qtomo.reconstruction.run import ReconstructConfig, reconstruct
from qtomo.reconstruction.source import Source
from qtomo.reports.report import render_html
from qtomo.states.ghz import ghz_statevector
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_ground_state
from tests.reconstruction.helpers import TableModel

N = 4
SHOTS = 3000
SEEDS = 60


def _moments(a, frame, terms, tfim=None):
    acc = PauliAccumulator(frame, a.shape[1], vector=terms, tfim=tfim)
    acc.update(a)
    return acc.result("x")


def _experiments(frame, p_data, p_model, psi=None, tfim=None):
    """For each seed: an independent dataset (the 'shots') from p_data and samples of an exact
    model of p_model, both SHOTS strings; the check's p-value and scalar z's."""
    terms, _ = cs.consistency_terms(N)
    out = {"p": [], "z_energy": [], "z_fid": [], "consistent": []}
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        shots = sample_from_table(p_data, SHOTS, rng, N, frame.K)
        samples = sample_from_table(p_model, SHOTS, rng, N, frame.K)
        d, m = _moments(shots, frame, terms, tfim), _moments(samples, frame, terms, tfim)
        pairs = []
        if tfim is not None:
            pairs.append(cs.ScalarPair("energy", "E", m.scalars["energy"].value,
                                       m.scalars["energy"].stderr, d.scalars["energy"].value,
                                       d.scalars["energy"].stderr))
        if psi is not None:
            # an exact model's state is the lab's: its fidelity (no error bar) is the exact one
            q = direct_fidelity_values(shots, frame, psi)
            pairs.append(cs.ScalarPair("quantum_fidelity", "F", 1.0, None, float(q.mean()),
                                       float(q.std(ddof=1) / np.sqrt(SHOTS))))
        r = cs.check_consistency(m.vector, d.vector, pairs)
        assert r.dof == len(terms) and r.dropped == 0
        out["p"].append(r.p_value)
        out["consistent"].append(r.consistent)
        for sc in r.scalars:
            out["z_energy" if sc["name"] == "energy" else "z_fid"].append(sc["z"])
    return out


@pytest.fixture(scope="module")
def tfim_tables():
    psi = tfim_ground_state(N, 1.0, 1.0).psi
    psi_far = tfim_ground_state(N, 1.0, 2.0).psi
    return psi, psi_far


@pytest.mark.parametrize("povm", ["pauli4", "pauli6"])
def test_null_distribution_is_uniform_on_exact_data(povm, tfim_tables):
    """An exact model of the lab's distribution: p-values ~ U(0, 1), scalar z ~ N(0, 1)."""
    psi, _ = tfim_tables
    frame = get_frame(povm)
    p = target_born_table(psi, frame)
    r = _experiments(frame, p, p, psi=psi, tfim=TFIMSpec(1.0, 1.0))
    assert stats.kstest(r["p"], "uniform").pvalue > 0.01
    assert stats.kstest(r["z_energy"], "norm").pvalue > 0.01
    assert stats.kstest(r["z_fid"], "norm").pvalue > 0.01
    # family-wise false alarms: at most ~0.0074 per dataset
    assert sum(not c for c in r["consistent"]) <= 2


def test_null_distribution_on_noisy_ghz_in_pauli6():
    """Noisy GHZ-3 in Pauli-6 (a mixed state, an over-complete frame): still uniform."""
    n, frame = 3, get_frame("pauli6")
    p = target_born_table(ghz_statevector(n), frame, 0.05)
    terms, _ = cs.consistency_terms(n)
    ps = []
    for seed in range(SEEDS):
        rng = np.random.default_rng(100 + seed)
        d = _moments(sample_from_table(p, SHOTS, rng, n, 6), frame, terms).vector
        m = _moments(sample_from_table(p, SHOTS, rng, n, 6), frame, terms).vector
        ps.append(cs.check_consistency(m, d).p_value)
    assert stats.kstest(ps, "uniform").pvalue > 0.01


def test_biased_model_gives_small_p_values(tfim_tables):
    """The exact table of a different field (h = 2 instead of 1): the check rejects."""
    psi, psi_far = tfim_tables
    frame = get_frame("pauli4")
    r = _experiments(frame, target_born_table(psi, frame), target_born_table(psi_far, frame),
                     tfim=TFIMSpec(1.0, 1.0))
    assert stats.kstest(r["p"], "uniform").pvalue < 1e-6
    assert np.median(r["p"]) < 1e-3
    assert sum(not c for c in r["consistent"]) >= 0.6 * SEEDS


def test_chi_square_with_known_covariance():
    """Gaussian differences with a known correlated covariance follow chi2(rank), where the
    plain sum of z^2 (correlations ignored) does not; a duplicated (exactly dependent)
    observable is dropped and said so."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T + 0.1 * np.eye(6)
    cov = np.block([[cov, cov[:, :1]], [cov[:1, :], cov[:1, :1]]])  # 7th = copy of the 1st
    chol = np.linalg.cholesky(cov[:6, :6])
    vals, naive = [], []
    for _ in range(600):
        x = chol @ rng.normal(size=6)
        stat, rank, dropped = cs.chi_square(np.append(x, x[0]), cov)
        assert (rank, dropped) == (6, 1)
        vals.append(stat)
        naive.append(float(np.sum(x**2 / np.diag(cov)[:6])))
    assert stats.kstest(vals, "chi2", args=(6,)).pvalue > 0.01
    assert stats.kstest(naive, "chi2", args=(6,)).pvalue < 1e-3
    # diagonal covariance: the plain sum of squares
    stat, rank, _ = cs.chi_square(np.array([1.0, 2.0]), np.diag([1.0, 4.0]))
    assert stat == pytest.approx(2.0) and rank == 2
    p, p_chi2 = cs.chi_square_p_values(30.0, 30, 10_000)
    assert p_chi2 == pytest.approx(stats.chi2.sf(30.0, 30))
    assert p_chi2 < p < p_chi2 * 1.02  # Hotelling: slightly conservative, -> chi2 for large n


def test_vector_moments_match_numpy():
    frame = get_frame("pauli6")
    a = np.random.default_rng(1).integers(0, 6, size=(9000, 3)).astype(np.uint8)
    terms = [{0: "X"}, {1: "Z"}, {0: "Z", 2: "Z"}, {0: "X", 1: "Y", 2: "Z"}]
    acc = PauliAccumulator(frame, 3, vector=terms)
    for s in range(0, 9000, 2500):  # in uneven chunks
        acc.update(a[s : s + 2500])
    v = acc.result("x").vector
    tab = frame.pauli_table  # rows I, X, Y, Z
    cols = np.stack([tab[1][a[:, 0]], tab[3][a[:, 1]], tab[3][a[:, 0]] * tab[3][a[:, 2]],
                     tab[1][a[:, 0]] * tab[2][a[:, 1]] * tab[3][a[:, 2]]], 1)
    np.testing.assert_allclose(v.mean, cols.mean(0), atol=1e-12)
    np.testing.assert_allclose(v.cov, np.cov(cols.T), atol=1e-10)
    assert v.names == ("X0", "Z1", "Z0 Z2", "X0 Y1 Z2") and v.n == 9000


def test_consistency_terms():
    terms, what = cs.consistency_terms(10)
    assert len(terms) == 3 * 10 + 3 * 45 and "all" in what
    terms, _ = cs.consistency_terms(10, {"Z0 Z5": {0: "Z", 5: "Z"}, "X0 X1 X2": {0: "X", 1: "X",
                                                                                 2: "X"}})
    assert len(terms) == 166 and terms[-1] == {0: "X", 1: "X", 2: "X"}  # only the new one
    terms, what = cs.consistency_terms(50)
    assert len(terms) == 150 + 147 and "nearest-neighbour" in what
    terms, what = cs.consistency_terms(100)
    assert len(terms) <= cs.MAX_TERMS and "evenly spaced" in what
    sites = {s for t in terms for s in t}
    assert 0 in sites and 99 in sites


# --- reconstruct() ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ghz4_noisy(tmp_path_factory):
    path = tmp_path_factory.mktemp("cons") / "ghz4.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=4, povm="pauli6", noise=0.05, shots=20_000,
                            eval_shots=0, seed=7), path)
    return path


def test_wrong_model_is_flagged_and_the_headline_falls_back(ghz4_noisy):
    """A classical mixture of |0000> and |1111> has every one- and two-point function of GHZ
    but not its coherence: the fidelity test catches it, and the headline falls back."""
    frame = get_frame("pauli6")
    noisy = frame.depolarized(0.05)
    rho = np.zeros((16, 16))
    rho[0, 0] = rho[15, 15] = 0.5
    model = TableModel(born_probabilities(rho, noisy), N, 6)
    rec = reconstruct(ghz4_noisy, None, ReconstructConfig(samples=20_000, seed=1), model=model)
    r = rec.report
    c = r["consistency"]
    assert r["consistent"] is False and c["consistent"] is False
    assert "quantum_fidelity" in c["failed"]
    assert c["p_value"] > 1e-3  # its one- and two-point functions are right
    sc = {s["name"]: s for s in c["scalars"]}["quantum_fidelity"]
    ghz = ghz_statevector(N)
    exact_mix = float(np.real(ghz.conj() @ depolarize(rho, 0.05) @ ghz))  # what the model says
    hf = r["headline"]["quantum_fidelity"]
    # the model's MLE state is its table's best approximation in the family the shots choose
    # (here rank 1 behind the depolarizing strength the true GHZ shots measure, 0.05, where the
    # table alone asks for 0.10 to hide the missing coherence): it need not be the mixture
    # itself, but it lacks a good part of the coherence, far beyond the 3 s.e. of the flag
    assert sc["z"] < -6 and exact_mix - 0.01 < sc["model"] < hf["exact"] - 0.1
    d = r["quantum"]["direct_estimate"]
    # the state is also rejected against the raw-frequency MLE (N <= 6), and the fallback is
    # that MLE with its bootstrap error bar, which is smaller than the direct estimate's
    assert "likelihood_ratio" in c["failed"] and c["likelihood_ratio"]["p_value"] < 1e-6
    mle = r["quantum"]["data"]["mle"]
    assert hf["source"].startswith("fallback") and "maximum-likelihood" in hf["source"]
    assert hf["value"] == mle["fidelity"] and hf["stderr"] == mle["bootstrap"]["stderr"]
    assert hf["stderr"] < d["stderr"]
    assert hf["ci95"][0] <= hf["value"] <= hf["ci95"][1]
    assert hf["model_value"] == pytest.approx(sc["model"])
    assert "disagrees with its data" in hf["fallback_reason"]
    assert abs(hf["value"] - hf["exact"]) < 4 * hf["stderr"]
    page = render_html(r, {})
    top = page.index('id="consistency-warning"')
    assert top < page.index("<h2>Headline</h2>")
    assert "standard errors" in page[top:page.index("<h2>Headline</h2>")]


def test_rejected_model_above_the_with_model_mle_size_falls_back_to_the_raw_mle(
        ghz4_noisy, monkeypatch):
    """Where a model's reconstruction skips the raw-frequency MLE (N above
    DATA_MLE_WITH_MODEL_MAX_QUBITS, lowered here to 3), a rejected model still falls back to
    that MLE with its bootstrap error, fitted then, and not to the noisier direct estimate."""
    from qtomo.reconstruction import quantum

    monkeypatch.setattr(quantum, "DATA_MLE_WITH_MODEL_MAX_QUBITS", 3)
    rho = np.zeros((16, 16))
    rho[0, 0] = rho[15, 15] = 0.5
    model = TableModel(born_probabilities(rho, get_frame("pauli6").depolarized(0.05)), N, 6)
    r = reconstruct(ghz4_noisy, None, ReconstructConfig(samples=20_000, seed=1),
                    model=model).report
    c = r["consistency"]
    assert r["consistent"] is False and "quantum_fidelity" in c["failed"]
    assert "likelihood_ratio" not in c["failed"]  # no raw MLE when the check ran
    hf = r["headline"]["quantum_fidelity"]
    mle = r["quantum"]["data"]["mle"]
    assert "rejected" in r["quantum"]["data"]["mle_fit"]["rank_selection"]
    assert hf["source"].startswith("fallback") and "maximum-likelihood" in hf["source"]
    assert hf["value"] == mle["fidelity"] and hf["stderr"] == mle["bootstrap"]["stderr"]
    assert hf["stderr"] < r["quantum"]["direct_estimate"]["stderr"]
    # exact 0.8591; the raw MLE's own error at 20,000 shots is ~0.006
    assert abs(hf["value"] - hf["exact"]) < 4 * hf["stderr"]


def test_exact_model_is_not_flagged(ghz4_noisy):
    frame = get_frame("pauli6")
    model = TableModel(target_born_table(ghz_statevector(N), frame, 0.05), N, 6)
    rec = reconstruct(ghz4_noisy, None, ReconstructConfig(samples=20_000, seed=1), model=model)
    r = rec.report
    assert r["consistent"] is True and r["consistency"]["failed"] == []
    assert Source(r["headline"]["quantum_fidelity"]["estimator"]).from_model
    assert "model_value" not in r["headline"]["quantum_fidelity"]
    assert r["consistency"]["dof"] == r["consistency"]["n_observables"] == 30
    page = render_html(r, {})
    assert "consistency-warning" not in page and "Model-vs-data consistency" in page


def test_wrong_field_is_flagged_and_the_energy_falls_back(tmp_path):
    """The exact state of h = 1.5 on h = 1 data: its correlators are off (chi-square); the
    energy headline (variational, so only second order off) falls back with the rest."""
    path = tmp_path / "tfim4.h5"
    simulate(SimulateConfig(n_qubits=4, shots=20_000, eval_shots=0, seed=3), path)
    frame = get_frame("pauli4")
    model = TableModel(target_born_table(tfim_ground_state(N, 1.0, 1.5).psi, frame), N, 4)
    r = reconstruct(path, None, ReconstructConfig(samples=20_000, mle=False), model=model).report
    c = r["consistency"]
    assert r["consistent"] is False and "chi2" in c["failed"]
    assert c["p_value"] < 1e-10 and len(c["worst"]) == cs.N_WORST
    e = r["headline"]["energy"]
    assert e["source"].startswith("fallback") and "direct" in e["source"]
    assert e["value"] == r["observables"]["scalars"]["energy"]["direct"]["value"]
    assert e["model_value"] == r["observables"]["scalars"]["energy"]["model"]["value"]


def test_no_model_has_no_verdict(ghz4_noisy):
    r = reconstruct(ghz4_noisy, None, ReconstructConfig(mle=False)).report
    assert r["consistent"] is None and r["consistency"]["consistent"] is None
    assert "Model-vs-data consistency" in render_html(r, {})
