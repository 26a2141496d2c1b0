"""The report's assembly (:mod:`qtomo.reconstruction.assemble`): the stages' records are
combined into new sections, never edited."""

from __future__ import annotations

import copy

from qtomo.reconstruction.assemble import lab_scale_sections, with_member_bars
from qtomo.reconstruction.bootstrap import MemberErrors
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
    return {"protocol": protocol, "assumptions": ["ideal local measurements"],
            "n_settings": 10, "n_shots": 5000, "value": 0.91, "stderr": 0.01,
            "ci95": [0.89, 0.93], "lower_bound95": None, "other_side": 0.87}


def test_a_planned_design_heads_only_where_no_dense_state_is_built():
    head = {"quantum_fidelity": {"value": 0.5, "exact": 0.95, "source": "direct"},
            "energy": None}
    readout = {"applied": True, "quantum_fidelity_uncorrected": 0.4,
               "quantum_fidelity_uncorrected_source": "direct", "calibration_stderr": 0.0}
    lab = _lab()
    before = copy.deepcopy((head, readout, lab))
    assert lab_scale_sections(lab, head, readout, dense=True) == (head, readout)
    assert lab_scale_sections(None, head, readout, dense=False) == (head, readout)
    new_head, new_readout = lab_scale_sections(lab, head, readout, dense=False)
    assert (head, readout, lab) == before  # the stages' records are untouched
    qf = new_head["quantum_fidelity"]
    assert qf["value"] == 0.91 and qf["stderr"] == 0.01 and qf["ci95"] == [0.89, 0.93]
    assert qf["estimator"] == Source.LAB_SCALE.value and qf["exact"] == 0.95
    assert new_head["energy"] is None
    # the same protocol on the other side of the readout correction, named by its source
    assert new_readout["quantum_fidelity_uncorrected"] == 0.87
    assert new_readout["quantum_fidelity_uncorrected_source"] == qf["source"]
    assert list(new_readout) == list(readout)
    _, no_correction = lab_scale_sections(lab, head, {"applied": False}, dense=False)
    assert no_correction["quantum_fidelity_corrected"] == 0.87
