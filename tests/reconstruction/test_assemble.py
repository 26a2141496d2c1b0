"""The report's assembly (:mod:`qtomo.reconstruction.assemble`): the stages' records are
combined into new sections, never edited."""

from __future__ import annotations

import copy

from qtomo.reconstruction.assemble import headline_section, lab_scale_readout, with_member_bars
from qtomo.reconstruction.bootstrap import MemberErrors
from qtomo.reconstruction.estimates import FigureEstimate
from qtomo.reconstruction.headline import HeadlineChecks, choose_headline
from qtomo.reconstruction.lab_scale.report import lab_scale_estimate
from qtomo.reconstruction.source import Source


def _sections() -> dict:
    return {
        "quantum": {"model": {"mle": {"fidelity": 0.9, "purity": 0.8}, "projected": {}}},
        "classical": {"classical_fidelity": {"value": 0.97}},
        "observables": {"scalars": {"energy": {"model": {"value": -4.5}, "direct": {}}},
                        "single_site": {"X": {"model": {"value": [0.1, 0.2]}}}},
        "subsystems": [{"sites": [0], "model": {"renyi2": 0.3}},
                       {"sites": [0, 1], "model": {"renyi2": 0.5}}],
    }


def test_member_bars_go_beside_their_figures_in_new_sections():
    sections = _sections()
    before = copy.deepcopy(sections)
    members = MemberErrors({}, beside={
        ("quantum", "model", "mle"): {"fidelity_stderr": 0.01, "fidelity_ci95": [0.88, 0.92]},
        ("observables", "scalars", "energy", "model"): {"bootstrap_stderr": 0.2},
        ("observables", "single_site", "X", "model"): {"bootstrap_stderr": [0.01, 0.02]},
        ("subsystems", 1, "model"): {"renyi2_bootstrap_stderr": 0.04},
    })
    got = with_member_bars(sections, members)
    assert sections == before  # the stages' records are untouched
    mle = got["quantum"]["model"]["mle"]
    assert mle == {"fidelity": 0.9, "purity": 0.8, "fidelity_stderr": 0.01,
                   "fidelity_ci95": [0.88, 0.92]}
    assert list(mle) == ["fidelity", "purity", "fidelity_stderr", "fidelity_ci95"]
    assert got["observables"]["scalars"]["energy"]["model"] == {"value": -4.5,
                                                                "bootstrap_stderr": 0.2}
    assert got["observables"]["single_site"]["X"]["model"]["bootstrap_stderr"] == [0.01, 0.02]
    assert got["subsystems"][1]["model"]["renyi2_bootstrap_stderr"] == 0.04
    assert "renyi2_bootstrap_stderr" not in got["subsystems"][0]["model"]
    # what gets no bar is shared, not copied; without members the sections are as they were
    assert got["classical"] is sections["classical"]
    assert got["subsystems"][0] is sections["subsystems"][0]
    assert with_member_bars(sections, None) == before


def _lab(protocol: str = "parity") -> dict:
    if protocol == "energy":
        return {"protocol": "energy", "assumptions": ["the target is the ground state of H"],
                "n_settings": 2, "n_shots": 4000, "value": 0.85, "stderr": 0.03,
                "ci95": [0.8, 1.0], "lower_bound95": 0.8, "other_side": 0.7,
                "details": {"energy": -42.4, "energy_stderr": 0.14}}
    return {"protocol": protocol, "assumptions": ["ideal local measurements"],
            "n_settings": 10, "n_shots": 5000, "value": 0.91, "stderr": 0.01,
            "ci95": [0.89, 0.93], "lower_bound95": None, "other_side": 0.87, "details": {}}


DIRECT = FigureEstimate(Source.DIRECT, 0.5, stderr=0.2, ci95=[0.1, 0.9], n=100,
                        method="direct")
PROJECTED = FigureEstimate(Source.RAW_PROJECTED, 0.6, method="projected",
                           state="data_projected")


def test_a_headlined_protocol_takes_the_other_side_of_the_readout_correction():
    readout = {"applied": True, "quantum_fidelity_uncorrected": 0.4,
               "quantum_fidelity_uncorrected_source": "direct", "calibration_stderr": 0.0}
    lab = _lab()
    before = copy.deepcopy((readout, lab))
    head = choose_headline([DIRECT, lab_scale_estimate(lab)], HeadlineChecks())
    new = lab_scale_readout(lab, readout, head)
    assert (readout, lab) == before  # the stages' records are untouched
    assert new["quantum_fidelity_uncorrected"] == 0.87
    assert new["quantum_fidelity_uncorrected_source"] == head.entry["source"]
    assert list(new) == list(readout)
    no_correction = lab_scale_readout(lab, {"applied": False}, head)
    assert no_correction["quantum_fidelity_corrected"] == 0.87
    # a dense state was built: the policy's pick keeps its own other side
    dense = choose_headline([DIRECT, PROJECTED, lab_scale_estimate(lab)], HeadlineChecks())
    assert dense.source is Source.DIRECT
    assert lab_scale_readout(lab, readout, dense) is readout
    assert lab_scale_readout(None, readout, head) is readout


def test_the_energy_protocol_heads_the_energy_keeping_its_exact_value():
    lab = _lab("energy")
    head = choose_headline([DIRECT, lab_scale_estimate(lab)], HeadlineChecks(exact=(0.95,)))
    energy = {"direct": {"value": -40.0, "stderr": 1.0}, "exact": -42.36}
    sec = headline_section(head, energy, HeadlineChecks(), None, None)
    qf, e = sec["quantum_fidelity"], sec["energy"]
    assert qf["value"] == 0.8 and qf["ci95"] == [0.8, 1.0] and qf["exact"] == 0.95
    assert qf["estimator"] == Source.LAB_SCALE.value and qf["kind"] == "lower bound"
    assert e["value"] == -42.4 and e["stderr"] == 0.14 and e["exact"] == -42.36
    assert e["source"] == "lab-scale energy protocol (2 settings)"
    parity = choose_headline([DIRECT, lab_scale_estimate(_lab())], HeadlineChecks())
    assert headline_section(parity, energy, HeadlineChecks(), None, None)["energy"]["value"] \
        == -40.0
