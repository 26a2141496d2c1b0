"""Error bars from bootstrap members: the interval rule, and the report of a run trained with
--bootstrap (headline figures get stderr and ci95; without members the label stays)."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.reconstruction.bootstrap import BIAS_THRESHOLD, interval
from qtomo.reconstruction.run import ReconstructConfig, reconstruct
from qtomo.reconstruction.source import Source
from qtomo.training import TrainConfig, run_training


def test_interval_contains_the_point_and_corrects_bias():
    rng = np.random.default_rng(1)
    for _ in range(200):
        point = rng.normal()
        members = point + rng.normal(rng.normal(0, 2), rng.uniform(0.1, 2), size=10)
        r = interval(point, members)
        lo, hi = r["ci95"]
        assert lo <= point <= hi
        assert r["stderr"] == pytest.approx(np.std(members, ddof=1))
    # unbiased members: a percentile/t interval about the point
    m = np.linspace(-1, 1, 11)
    r = interval(0.0, m)
    assert not r["bias_corrected"] and r["ci95"][0] < 0 < r["ci95"][1]
    # members below the point (a fit to resamples is worse than the fit to the data): the
    # bias-corrected interval moves up, beyond the point
    r = interval(0.9, 0.8 + 0.01 * np.linspace(-1, 1, 10), hi=1.0)
    assert r["bias_corrected"] and r["bias"] < -BIAS_THRESHOLD * r["stderr"]
    assert r["ci95"][1] == pytest.approx(1.0)  # 2 * 0.9 - 0.8 = 1.0, clipped to the range
    assert r["ci95"][0] <= 0.9
    # arrays elementwise; too few members give no interval
    r = interval(np.zeros(3), np.random.default_rng(2).normal(size=(8, 3)))
    assert np.all(r["ci95"][0] <= 0) and np.all(r["ci95"][1] >= 0) and r["stderr"].shape == (3,)
    assert interval(0.5, [0.4])["ci95"] is None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("boot_rec")
    h5 = d / "ghz.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=3, povm="pauli6", shots=2000, eval_shots=300,
                            noise=0.05, seed=11), h5)
    cfg = TrainConfig(hparams={"hidden": 16, "layers": 1}, epochs=3, batch_size=100,
                      device="cpu", precision="fp32")
    run_training(h5, d / "plain", cfg, progress=False)
    run_training(h5, d / "boot", cfg.replace(bootstrap=4, learning_curve=True), progress=False)
    return h5, d


def test_report_headline_gets_error_bars(runs):
    h5, d = runs
    rc = ReconstructConfig(samples=5000, member_samples=3000, precision=0.005)
    plain = reconstruct(h5, d / "plain", rc).report
    assert "bootstrap" not in plain
    if Source(plain["headline"]["quantum_fidelity"]["estimator"]).from_model:
        assert "point estimate, no error bar" in plain["headline"]["quantum_fidelity"]["source"]
    rep = reconstruct(h5, d / "boot", rc).report
    h = rep["headline"]
    qf = h["quantum_fidelity"]
    if Source(qf["estimator"]).from_model:  # (the check may fall back to the shots)
        assert "no error bar" not in qf["source"] and "4 bootstrap members" in qf["source"]
        assert 0 <= qf["ci95"][0] <= qf["value"] <= qf["ci95"][1] <= 1 and qf["stderr"] > 0
        assert h["purity"]["ci95"][0] <= h["purity"]["value"] <= h["purity"]["ci95"][1]
    for key in ("classical_fidelity", "kl_divergence"):
        e = h[key]
        assert e["stderr"] > 0 and e["ci95"][0] <= e["value"] <= e["ci95"][1], key
    mle = rep["quantum"]["model"]["mle"]
    lo, hi = mle["fidelity_ci95"]
    assert 0 <= lo <= mle["fidelity"] <= hi <= 1
    f = rep["bootstrap"]["figures"]
    assert f["quantum_fidelity_stderr"] == rep["quantum"]["model"]["mle"]["fidelity_stderr"]
    assert "purity_ci95" in f
    assert any(k.startswith("renyi2.") and k.endswith("_ci95") for k in f)
    x = rep["observables"]["single_site"]["X"]["model"]
    assert len(x["bootstrap_stderr"]) == 3
    lc = rep["bootstrap"]["learning_curve"]
    assert [p["fraction"] for p in lc["points"]] == [0.125, 0.25, 0.5, 1.0]
    assert lc["shots_needed"] >= lc["train_shots_needed"] > 0


def test_no_stage_edits_what_it_was_handed(runs, monkeypatch):
    """Every stage of ``qtomo reconstruct`` returns its own record: each is called on a run
    with bootstrap members (the blend, the noise check, the members' error bars) and with
    ``--estimator raw-mle`` (the raw-frequency MLE's bootstrap), and leaves every dict,
    list, array and dataclass it was handed as it found them (the quantum stage's section,
    the observables, the classical and subsystem sections, the stages' records handed to
    the assembly). The members' error bars still reach the report."""
    from qtomo.reconstruction import quantum
    from qtomo.reconstruction import run as run_module
    from tests.reconstruction.helpers import spy_unchanged

    calls: dict[str, int] = {}
    spy_unchanged(run_module, [
        "check_model", "raw_mle_stage", "with_raw_mle", "classical_metrics",
        "subsystem_sections", "member_errors", "fidelity_candidates", "readout_stage",
        "range_stage", "device_checks_stage", "choose_headline", "lab_scale_stage",
        "report_sections"], monkeypatch, calls)
    spy_unchanged(quantum, ["noise_from_shots", "blend_model_state"], monkeypatch, calls)
    h5, d = runs
    rep = reconstruct(h5, d / "boot", ReconstructConfig(samples=3000, member_samples=2000,
                                                        estimator="raw-mle")).report
    for name in ("check_model", "raw_mle_stage", "member_errors", "blend_model_state",
                 "noise_from_shots", "report_sections", "choose_headline"):
        assert calls.get(name) == 1, name
    kind = "mle" if rep["quantum"]["model"].get("mle") else "projected"
    state = rep["quantum"]["model"][kind]
    assert state["fidelity_stderr"] == rep["bootstrap"]["figures"]["quantum_fidelity_stderr"]
    assert len(rep["observables"]["single_site"]["Z"]["model"]["bootstrap_stderr"]) == 3
    assert rep["classical"]["classical_fidelity"]["bootstrap_stderr"] > 0
    assert "bootstrap" in rep["quantum"]["data"]["mle"]
    assert rep["headline"]["quantum_fidelity"]["estimator"] == Source.RAW_MLE.value
