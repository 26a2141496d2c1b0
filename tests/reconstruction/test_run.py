"""reconstruct(): the whole pipeline on small datasets with an exact model and without one."""

from __future__ import annotations

import numpy as np
import pytest
import qutip

from qtomo.data.hdf5 import open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.errors import InputValueError
from qtomo.reconstruction.metrics import target_born_table
from qtomo.reconstruction.run import ReconstructConfig, reconstruct
from tests.reconstruction.helpers import HistogramOnlyModel, TableModel


@pytest.fixture(scope="module")
def tfim4(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "tfim4.h5"
    simulate(SimulateConfig(n_qubits=4, shots=20_000, eval_shots=2000, seed=11), path)
    return path


@pytest.fixture(scope="module")
def ghz3_noisy(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "ghz3.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=3, povm="pauli6", noise=0.1, shots=20_000,
                            eval_shots=1000, seed=5), path)
    return path


def _exact_model(path):
    with open_dataset(path) as ds:
        p = target_born_table(ds.target_array("psi"), ds.frame, ds.target.get("noise", 0.0))
        return TableModel(p, ds.n_qubits, ds.K)


def test_exact_model_reconstructs_the_target(tfim4):
    model = _exact_model(tfim4)
    cfg = ReconstructConfig(samples=20_000, observables=("Z0 Z3", "X1 X2"), seed=3)
    rec = reconstruct(tfim4, None, cfg, model=model)
    r = rec.report
    h = r["headline"]
    # a perfect model: its table inverts to the target exactly
    assert h["quantum_fidelity"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert h["quantum_fidelity"]["estimator"] == "model MLE"
    assert rec.figures["headline_rho"] == "model_mle"  # the state drawn is the headline's
    assert r["quantum"]["model"]["inversion"]["fidelity"] is None  # unphysical in general
    assert r["quantum"]["model"]["inversion"]["overlap_psi_rho"] == pytest.approx(1.0, abs=1e-10)
    assert r["quantum"]["model"]["mle_fit"]["rank"] == 1
    assert h["classical_fidelity"]["value"] == pytest.approx(1.0, abs=1e-10)
    assert h["kl_divergence"]["value"] == pytest.approx(0.0, abs=1e-10)
    assert "exact sums" in h["classical_fidelity"]["method"]
    e = h["energy"]
    assert e["exact"] == pytest.approx(open_dataset(tfim4).target["energy"], abs=1e-9)
    assert abs(e["value"] - e["exact"]) < 4.5 * e["stderr"]
    sc = r["observables"]["scalars"]
    for name in ("Z0 Z3", "X1 X2", "magnetization_x", "magnetization_z2"):
        for src in ("model", "direct"):
            est = sc[name][src]
            assert abs(est["value"] - sc[name]["exact"]) < 4.5 * est["stderr"], (name, src)
    # direct fidelity estimate from the shots agrees with the truth (pure target: F = 1)
    d = r["quantum"]["direct_estimate"]
    assert abs(d["value"] - 1.0) < 4.5 * d["stderr"]
    # density matrices come out as complex128 and as Qobj with qubit dims
    assert rec.rhos["model_mle"].dtype == np.complex128
    q = rec.qobjs()["model_mle"]
    assert isinstance(q, qutip.Qobj) and q.dims == [[2] * 4, [2] * 4]
    # qutip agrees (<psi|rho|psi> with the target as a ket: qutip's operator-operator fidelity
    # takes sqrtm of a rank-1 matrix, whose round-off eigenvalues add ~1e-6 on some BLAS)
    with open_dataset(tfim4) as ds:
        psi = qutip.Qobj(ds.target_array("psi"), dims=[[2] * 4, [1] * 4])
    assert qutip.expect(q, psi) == pytest.approx(h["quantum_fidelity"]["value"], abs=1e-12)
    assert 0.0 <= h["quantum_fidelity"]["value"] <= 1.0
    # Renyi-2 of the leading blocks: model samples, data, MLE state and exact agree
    for s in r["subsystems"]:
        ex = s["exact"]["renyi2"]
        assert s["model_mle"]["renyi2"] == pytest.approx(ex, abs=1e-4)
        for src in ("model", "direct"):
            assert abs(s[src]["renyi2"] - ex) < 4.5 * s[src]["renyi2_stderr"]
    ag = r["observables"]["agreement_with_exact"]["model"]
    assert ag["within_3se_fraction"] >= 0.9
    assert r["provenance"]["dataset"]["hash"] == open_dataset(tfim4).dataset_hash
    assert r["provenance"]["model"]["name"] == "table"
    assert set(r["provenance"]["versions"]) >= {"qtomo", "numpy", "torch", "qutip"}


def test_noisy_target_uses_the_mixed_state(ghz3_noisy):
    rec = reconstruct(ghz3_noisy, None, ReconstructConfig(samples=5000),
                      model=_exact_model(ghz3_noisy))
    q = rec.report["quantum"]
    assert "mixed target" in q["target"]
    # fidelities are to the ideal GHZ state; the exact value is <psi|sigma|psi> of the noisy
    # state E_p(|GHZ><GHZ|) the shots came from
    sigma, psi = rec.rhos["target_noisy"], rec.rhos["target"]
    want = float(np.real(np.trace(sigma @ psi)))
    assert 0.5 < want < 0.95
    assert q["exact_fidelity"] == pytest.approx(want, abs=1e-12)
    # the exact model of the noisy data reproduces the noisy state: fidelity 1 to sigma
    assert q["model"]["mle"]["fidelity_to_noisy_state"] == pytest.approx(1.0, abs=1e-4)
    assert q["model"]["mle"]["fidelity"] == pytest.approx(want, abs=1e-4)
    assert q["model"]["inversion"]["fidelity"] is None  # unphysical matrix in general
    assert q["model"]["inversion"]["overlap_psi_rho"] == pytest.approx(want, abs=1e-10)
    h = rec.report["headline"]["quantum_fidelity"]
    assert h["exact"] == pytest.approx(want, abs=1e-12)
    d = q["direct_estimate"]
    assert abs(d["value"] - want) < 4.5 * d["stderr"]
    np.testing.assert_allclose(rec.rhos["model_inversion"], sigma, atol=1e-12)


def test_direct_mode_without_model(ghz3_noisy):
    rec = reconstruct(ghz3_noisy, None, ReconstructConfig())
    r = rec.report
    assert r["mode"].startswith("direct")
    assert r["classical"] is None and r["headline"]["classical_fidelity"] is None
    assert "model" not in r["quantum"] and "data" in r["quantum"]
    # without a model the headline is the direct estimate, with its error bar
    h = r["headline"]["quantum_fidelity"]
    assert h["source"].startswith("direct estimate") and h["stderr"] > 0
    assert abs(h["value"] - h["exact"]) < 4.5 * h["stderr"]
    assert r["headline"]["energy"] is None  # GHZ: no Hamiltonian
    assert "model" not in r["observables"]["n_samples"]


def test_model_without_likelihood_uses_histograms(tfim4):
    with open_dataset(tfim4) as ds:
        p = target_born_table(ds.target_array("psi"), ds.frame)
    rec = reconstruct(tfim4, None, ReconstructConfig(samples=50_000),
                      model=HistogramOnlyModel(p, 4, 4))
    r = rec.report
    assert "histogram" in r["quantum"]["model"]["table"]["source"]
    assert "histogram" in r["classical"]["classical_fidelity"]["method"]
    assert r["classical"]["classical_fidelity"]["value"] > 0.97


def test_large_n_has_no_dense_state(tmp_path):
    path = tmp_path / "ghz6.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=6, shots=3000, eval_shots=0, seed=1,
                            povm="pauli6"), path)
    rec = reconstruct(path, None, ReconstructConfig(max_rho_qubits=4))
    r = rec.report
    assert "no dense density matrix" in r["quantum"]["dense"]
    d = r["quantum"]["direct_estimate"]
    assert r["headline"]["quantum_fidelity"]["value"] == d["value"]
    assert abs(d["value"] - 1.0) < 4.5 * d["stderr"]
    assert not rec.rhos.get("data_mle")


def test_a_direct_estimate_wider_than_the_fidelity_range_heads_nothing(tmp_path):
    """GHZ-6 from 3,000 Pauli-4 shots: the direct estimate's standard error (about 0.27)
    spans [0, 1]; the headline says the shots do not determine the fidelity."""
    path = tmp_path / "ghz6p4.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=6, shots=3000, eval_shots=0, seed=1), path)
    r = reconstruct(path, None, ReconstructConfig(max_rho_qubits=4)).report
    d, h = r["quantum"]["direct_estimate"], r["headline"]["quantum_fidelity"]
    assert d["stderr"] > 0.25 and h["value"] is None
    assert h["uninformative"]["value"] == d["value"] and "qtomo plan" in h["why"]


def test_bad_inputs(tfim4, ghz3_noisy):
    with pytest.raises(InputValueError, match="--samples"):
        ReconstructConfig(samples=1).validate()
    with pytest.raises(InputValueError, match="N=3 qubits"):
        reconstruct(tfim4, None, ReconstructConfig(), model=_exact_model(ghz3_noisy))
    with pytest.raises(InputValueError, match="names qubit 7"):
        reconstruct(tfim4, None, ReconstructConfig(observables=("Z7",)))
    with pytest.raises(InputValueError, match="--samples"):
        ReconstructConfig(samples=True).validate()  # a bool is not a sample count
    with pytest.raises(InputValueError, match="--mle-rank"):
        ReconstructConfig(mle_rank=0).validate()
    assert ReconstructConfig().validate().samples == 100_000  # the CLI's documented default


def test_a_model_evaluated_string_by_string_keeps_its_table_limit(tfim4, monkeypatch):
    """Above the string-by-string limit a model without a prefix-tree table builds no dense
    states (the report says why) while the raw frequencies still do; the headline is then
    not the model's."""
    from qtomo.reconstruction import density as dm

    monkeypatch.setattr(dm, "MAX_STRINGWISE_TABLE_ENTRIES", 4**4 - 1)
    rec = reconstruct(tfim4, None, ReconstructConfig(samples=2000, seed=3),
                      model=_exact_model(tfim4))
    q = rec.report["quantum"]
    assert "model" not in q and "data" in q
    assert "string by string" in q["model_dense"] and "4^4" in q["model_dense"]
    assert rec.report["headline"]["quantum_fidelity"]["estimator"] == "direct"
    from qtomo.reports.html import render_html

    assert "string by string" in render_html(rec.report, {})


@pytest.mark.parametrize(("estimator", "name", "state"), [
    ("model", "model MLE", "model_mle"), ("raw-mle", "raw-frequency MLE", "data_mle"),
    ("direct", "direct", "model_mle")])
def test_estimator_puts_that_estimate_at_the_head(tfim4, estimator, name, state):
    """--estimator heads the report with that estimate whatever the checks say (no fallback)
    and draws its state (the direct estimate has none: the model's is drawn): the model's own
    MLE state, the raw-frequency MLE with its bootstrap error bar, or the direct estimate."""
    rec = reconstruct(tfim4, None, ReconstructConfig(samples=2000, seed=3, estimator=estimator),
                      model=_exact_model(tfim4))
    qf, q = rec.report["headline"]["quantum_fidelity"], rec.report["quantum"]
    assert qf["estimator"] == name and f"--estimator {estimator}" in qf["why"]
    assert "fallback_reason" not in qf and rec.figures["headline_rho"] == state
    if estimator == "model":
        assert qf["value"] == q["model"]["mle"]["fidelity"] == pytest.approx(1.0, abs=1e-6)
    elif estimator == "raw-mle":  # 20,000 shots of a pure state: within a few error bars
        assert qf["value"] == q["data"]["mle"]["fidelity"]
        assert qf["stderr"] == q["data"]["mle"]["bootstrap"]["stderr"] > 0
        assert abs(qf["value"] - 1.0) < 5 * qf["stderr"] + 0.01
    else:
        assert qf["value"] == q["direct_estimate"]["value"]


def test_an_estimator_the_data_cannot_have_is_refused_before_any_work(tfim4):
    with pytest.raises(InputValueError, match="--estimator blend needs a trained model"):
        reconstruct(tfim4, None, ReconstructConfig(estimator="blend"))
    with pytest.raises(InputValueError, match="--estimator must be one of"):
        reconstruct(tfim4, None, ReconstructConfig(estimator="best"))
