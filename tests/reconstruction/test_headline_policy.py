"""The headline policy, one row per branch of :func:`choose_headline`: synthetic estimates and
checks (no training, no shots), the chosen estimator, its figures, the state drawn and the
sentence that says why."""

from __future__ import annotations

import math

import pytest

from qtomo.errors import InputValueError
from qtomo.reconstruction.estimates import POINT, FigureEstimate, MembersInterval, model_estimate
from qtomo.reconstruction.headline import (
    FALLBACK_PREFIX,
    PLANNED_RULE,
    HeadlineChecks,
    SystematicError,
    choose_headline,
)
from qtomo.reconstruction.lab_scale.report import lab_scale_estimate
from qtomo.reconstruction.source import Source

Z95 = 1.959963984540054
Z95_ONE_SIDED = 1.6448536269514722
MEMBERS = MembersInterval(stderr=0.004, ci95=[0.89, 0.906], ci95_method="percentile",
                          bias=-0.001, bias_corrected=False,
                          label="error bar from 4 bootstrap members")
MODEL = FigureEstimate(Source.MODEL_MLE, 0.90, method="model: state", error_bar=POINT,
                       state="model_mle")
MODEL_BOOT = FigureEstimate(Source.BLEND, 0.90, method="model: blended state", error_bar=POINT,
                            state="model_mle", members=MEMBERS)
DIRECT = FigureEstimate(Source.DIRECT, 0.88, stderr=0.01, ci95=[0.8604, 0.8996], n=5000,
                        method="direct estimate from the measured shots (unbiased)")
#: Random Pauli shots of many qubits: an interval far wider than [0, 1].
DIRECT_WIDE = FigureEstimate(Source.DIRECT, 1.23, stderr=0.6, ci95=[0.05, 2.41], n=2000,
                             method="direct estimate from the measured shots (unbiased)")
RAW_BOOT = FigureEstimate(Source.RAW_MLE, 0.87, stderr=0.005, ci95=[0.86, 0.88],
                          method="raw MLE, error bar from 10 bootstrap refits", state="data_mle")
RAW_WIDE = FigureEstimate(Source.RAW_MLE, 0.87, stderr=0.02, ci95=[0.83, 0.91],
                          method="raw MLE, error bar from 10 bootstrap refits", state="data_mle")
RAW = FigureEstimate(Source.RAW_MLE, 0.87, method="data: raw MLE", error_bar=POINT,
                     state="data_mle")
PROJ = FigureEstimate(Source.RAW_PROJECTED, 0.86, method="data: projected", error_bar=POINT,
                      state="data_projected")
NO_TARGET = FigureEstimate(Source.MODEL_MLE, None, method="model: state", state="model_mle")
#: A planned design's blocks (report["lab_scale"]): a parity estimate and an energy bound
#: (point bound 0.85 +- 0.03, so the one-sided 95% bound is 0.85 - 1.645 x 0.03).
LAB_PARITY = {"protocol": "parity", "value": 0.91, "stderr": 0.01, "ci95": [0.8904, 0.9296],
              "lower_bound95": None, "n_settings": 42, "n_shots": 84000,
              "assumptions": ["the coherence read from the parity oscillation's amplitude"],
              "details": {}}
BOUND = 0.85 - Z95_ONE_SIDED * 0.03
LAB_ENERGY = {"protocol": "energy", "value": 0.85, "stderr": 0.03, "ci95": [BOUND, 1.0],
              "lower_bound95": BOUND, "n_settings": 2, "n_shots": 4000,
              "assumptions": ["the target is the non-degenerate ground state of H"],
              "details": {"energy": -42.4, "energy_stderr": 0.14}}
LAB = lab_scale_estimate(LAB_PARITY)
LAB_BOUND = lab_scale_estimate(LAB_ENERGY)
OK = HeadlineChecks(consistent=True, reason="agree", exact=(0.9,))
BAD = HeadlineChecks(consistent=False, reason="disagree.", exact=(0.9,))
NONE = HeadlineChecks()

# (id, candidates, checks, estimator, value, stderr, ci95, state, words in the sentence,
#  whether the model's value is kept beside a fallback)
ROWS = [
    ("asked-for", [MODEL, DIRECT], HeadlineChecks(consistent=True, requested="direct"),
     Source.DIRECT, 0.88, 0.01, [0.8604, 0.8996], "model_mle", "asked for", False),
    ("asked-for-rejected", [MODEL, DIRECT, RAW_BOOT],
     HeadlineChecks(consistent=False, requested="model"),
     Source.MODEL_MLE, 0.90, None, None, "model_mle", "although the model-vs-data", False),
    ("model-point", [MODEL, DIRECT, RAW], OK, Source.MODEL_MLE, 0.90, None, None, "model_mle",
     "consistent", False),
    ("model-members", [MODEL_BOOT, DIRECT], OK, Source.BLEND, 0.90, 0.004, [0.89, 0.906],
     "model_mle", "4 bootstrap members", False),
    ("model-unchecked", [MODEL], NONE, Source.MODEL_MLE, 0.90, None, None, "model_mle",
     "nothing checks", False),
    ("fallback-raw", [MODEL_BOOT, DIRECT, RAW_BOOT], BAD, Source.RAW_MLE, 0.87, 0.005,
     [0.86, 0.88], "data_mle", "rejects the model", True),
    ("fallback-direct", [MODEL, DIRECT, RAW_WIDE, PROJ], BAD, Source.DIRECT, 0.88, 0.01,
     [0.8604, 0.8996], "data_mle", "rejects the model", True),
    ("fallback-raw-no-direct", [MODEL, RAW_WIDE], BAD, Source.RAW_MLE, 0.87, 0.02,
     [0.83, 0.91], "data_mle", "no direct estimate", True),
    ("fallback-raw-point", [MODEL, PROJ], BAD, Source.RAW_PROJECTED, 0.86, None, None,
     "data_projected", "no direct estimate", True),
    ("rejected-nothing-else", [MODEL], BAD, Source.MODEL_MLE, 0.90, None, None, "model_mle",
     "no estimate of their own", False),
    ("no-model-direct", [NO_TARGET, DIRECT, RAW], NONE, Source.DIRECT, 0.88, 0.01,
     [0.8604, 0.8996], "model_mle", "no model state", False),
    ("no-model-raw", [RAW, PROJ], NONE, Source.RAW_MLE, 0.87, None, None, "data_mle",
     "no direct estimate", False),
    ("no-model-projected", [PROJ], NONE, Source.RAW_PROJECTED, 0.86, None, None,
     "data_projected", "no direct estimate", False),
    ("nothing", [NO_TARGET], NONE, None, None, None, None, "model_mle", "nothing estimates",
     False),
    ("direct-too-wide", [NO_TARGET, DIRECT_WIDE], NONE, None, None, None, None, "model_mle",
     "do not determine the fidelity", False),
    ("direct-too-wide-raw", [NO_TARGET, DIRECT_WIDE, RAW], NONE, Source.RAW_MLE, 0.87, None,
     None, "data_mle", "no direct estimate", False),
    # a planned design's protocol heads where no estimate comes from a dense state
    ("lab-estimate", [DIRECT, LAB], NONE, Source.LAB_SCALE, 0.91, 0.01, [0.8904, 0.9296],
     None, PLANNED_RULE, False),
    ("lab-estimate-beats-uninformative", [DIRECT_WIDE, LAB], NONE, Source.LAB_SCALE, 0.91,
     0.01, [0.8904, 0.9296], None, PLANNED_RULE, False),
    ("lab-bound", [DIRECT, LAB_BOUND], HeadlineChecks(exact=(0.88,)), Source.LAB_SCALE,
     BOUND, None, [BOUND, 1.0], None, "certified one-sided 95% lower bound", False),
    ("lab-beside-a-model", [MODEL, DIRECT, LAB, RAW], OK, Source.MODEL_MLE, 0.90, None, None,
     "model_mle", "consistent", False),
    ("lab-beside-raw-states", [NO_TARGET, DIRECT, RAW, LAB], NONE, Source.DIRECT, 0.88, 0.01,
     [0.8604, 0.8996], "model_mle", "no model state", False),
    ("lab-but-asked-for-direct", [DIRECT, LAB], HeadlineChecks(requested="direct"),
     Source.DIRECT, 0.88, 0.01, [0.8604, 0.8996], None, "asked for", False),
]


@pytest.mark.parametrize(("cands", "checks", "source", "value", "stderr", "ci95", "state",
                          "words", "kept"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_every_branch_of_the_pick(cands, checks, source, value, stderr, ci95, state, words,
                                  kept):
    h = choose_headline(cands, checks)
    e = h.as_dict()
    assert h.source is source and e["estimator"] == (source.value if source else None)
    assert e["value"] == value and e["stderr"] == stderr and e.get("ci95") == ci95
    assert h.state == state and words in h.sentence and e["why"] == h.sentence
    assert ("model_value" in e) is kept
    if kept:  # the model's figure beside the replacement, and why it was replaced
        assert e["model_value"] == 0.90 and e["source"].startswith(FALLBACK_PREFIX)
        assert e["fallback_reason"].startswith(checks.reason)
    if value is not None:
        assert e["exact"] == checks.exact[0] if checks.exact else "exact" not in e


def test_an_estimate_that_was_asked_for_and_is_missing_is_refused():
    with pytest.raises(InputValueError, match="--estimator blend"):
        choose_headline([MODEL, DIRECT], HeadlineChecks(consistent=True, requested="blend"))


def test_members_name_their_error_bar_only_on_a_model_headline():
    e = choose_headline([MODEL_BOOT, DIRECT], OK).entry
    assert e["error_bar"] == MEMBERS.label and e["bias"] == -0.001
    assert e["source"] == f"model: blended state ({MEMBERS.label})"
    fell = choose_headline([MODEL_BOOT, DIRECT, RAW_BOOT], BAD).entry
    assert "error_bar" not in fell and fell["model_stderr"] is None
    assert fell["model_source"] == f"model: blended state ({POINT})"


# -- the widening rows ------------------------------------------------------------------------
def test_calibration_error_widens_an_error_bar_in_quadrature():
    h = choose_headline([DIRECT], HeadlineChecks(calibration_stderr=0.0075))
    e = h.entry
    assert e["stderr"] == pytest.approx(math.hypot(0.01, 0.0075), rel=1e-12)
    assert e["stderr_statistical"] == 0.01 and e["calibration_stderr"] == 0.0075
    half = math.hypot(0.88 - 0.8604, Z95 * 0.0075)  # each side widened by the same rule
    assert e["ci95"] == pytest.approx([0.88 - half, 0.88 + half], rel=1e-12)
    assert "calibration" in h.sentence


def test_calibration_error_leaves_a_point_estimate_alone():
    e = choose_headline([MODEL], HeadlineChecks(consistent=True, calibration_stderr=0.01)).entry
    assert e["stderr"] is None and "calibration_stderr" not in e


def test_the_range_the_shots_allow_widens_the_interval():
    rng = {"low": 0.70, "high": 0.95, "level": 0.95}
    h = choose_headline([MODEL], HeadlineChecks(consistent=True, fidelity_range=rng))
    assert h.entry["ci95"] == [0.70, 0.95] and h.entry["ci95_before_range"] is None
    assert "widened to the range" in h.entry["ci95_method"] and "0.700 to 0.950" in h.sentence


def test_a_range_inside_the_interval_changes_nothing():
    rng = {"low": 0.87, "high": 0.89, "level": 0.95}
    e = choose_headline([DIRECT], HeadlineChecks(fidelity_range=rng)).entry
    assert e["ci95"] == [0.8604, 0.8996] and "ci95_before_range" not in e


@pytest.mark.parametrize("est", [DIRECT, LAB], ids=["direct", "lab-scale"])
def test_a_systematic_error_widens_the_interval_and_is_said(est):
    """Also a lab-scale estimate: the device checks' systematic error widens it like any
    other figure."""
    sys_err = SystematicError("goodness_of_fit", 0.02, "the fit is poor (G = 120, p = 1e-4)")
    h = choose_headline([est], HeadlineChecks(systematic=sys_err))
    e = h.entry
    assert e["stderr"] == pytest.approx(math.hypot(0.01, 0.02), rel=1e-12)
    assert e["stderr_without_systematic"] == 0.01
    assert e["systematic_error"]["check"] == "goodness_of_fit"
    half = [math.hypot(est.value - c, Z95 * 0.02) for c in est.ci95]
    assert e["ci95"] == pytest.approx([est.value - half[0], est.value + half[1]], rel=1e-12)
    assert "systematic error of 0.02" in h.sentence and "the fit is poor" in h.sentence
    assert h.sentence.startswith(f"The headline is {est.title}: ")


def test_a_systematic_error_gives_a_point_estimate_an_error_bar():
    sys_err = SystematicError("no_signalling", 0.01, "marginals depend on the settings")
    e = choose_headline([MODEL], HeadlineChecks(consistent=True, systematic=sys_err)).entry
    assert e["stderr"] == 0.01
    assert e["ci95"] == pytest.approx([0.90 - Z95 * 0.01, 0.90 + Z95 * 0.01], rel=1e-12)


# -- what the model's estimate is called ----------------------------------------------------
@pytest.mark.parametrize(("weight", "source", "words"), [
    (None, Source.MODEL_MLE, "model: maximum-likelihood physical state fitted to the model's "
                             "outcome table (point"),
    (0.25, Source.BLEND, "mixed with the frequencies of all its shots (weight 0.25"),
    (1.0, Source.BLEND, "raw-frequency MLE: maximum-likelihood physical state fitted to the "
                        "frequencies of all the shots, averaged over the run's permutation"),
])
def test_the_model_estimate_says_what_it_is(weight, source, words):
    sec = {"mle": {"fidelity": 0.9}, "mle_fit": {"rank": 1}}
    if weight is not None:
        sec["blend"] = {"weight": weight}
    est = model_estimate({"model": sec}, symmetry="permutation")
    assert est.source is source and words in est.words and est.state == "model_mle"
    assert ("raw-frequency MLE" in est.title) is (weight == 1.0)


def test_an_uninformative_direct_estimate_is_kept_beside_no_headline():
    h = choose_headline([NO_TARGET, DIRECT_WIDE], NONE)
    assert h.entry["value"] is None and h.entry["source"] == "not determined by the shots"
    assert h.entry["uninformative"] == {"estimator": Source.DIRECT.value, "value": 1.23,
                                        "stderr": 0.6}
    # asked for, it is still given
    asked = choose_headline([NO_TARGET, DIRECT_WIDE], HeadlineChecks(requested="direct"))
    assert asked.entry["value"] == 1.23


# -- a planned design's protocol ------------------------------------------------------------
def test_a_lab_scale_headline_keeps_every_field_of_its_protocol():
    est = choose_headline([DIRECT, LAB], NONE).as_dict()
    assert est["kind"] == "estimate" and est["protocol"] == "parity"
    assert (est["n_settings"], est["n_shots"]) == (42, 84000) and "bound" not in est
    assert est["assumptions"] == LAB_PARITY["assumptions"]
    assert est["source"] == ("lab-scale protocol: GHZ populations and parity oscillations "
                             "(planned design)")
    assert est["why"] == (f"The headline is the parity protocol of the planned design the "
                          f"shots follow: {PLANNED_RULE}.")
    h = choose_headline([DIRECT, LAB_BOUND], NONE)
    b = h.as_dict()
    assert b["kind"] == "lower bound" and b["bound"].startswith("one-sided 95% lower")
    assert b["point_bound"] == 0.85 and b["point_bound_stderr"] == 0.03
    assert b["source"].startswith("certified lower bound, lab-scale protocol")
    # the energy protocol brings the headline energy: <H> +- 1.96 se
    energy = h.figures["energy"]
    assert energy["value"] == -42.4 and energy["stderr"] == 0.14
    assert energy["ci95"] == pytest.approx([-42.4 - Z95 * 0.14, -42.4 + Z95 * 0.14], rel=1e-12)
    assert choose_headline([MODEL, DIRECT, LAB_BOUND], OK).figures == {}


@pytest.mark.parametrize(("bias", "shift"), [(0.0, 0.0), (-0.01, -0.01), (0.01, 0.0)])
def test_a_systematic_error_lowers_a_lab_scale_bound(bias, shift):
    """The bound is recomputed from its point bound with the widened error; a bias that puts
    the truth below the figure (negative) lowers it further, one that puts it above does not."""
    sys_err = SystematicError("goodness_of_fit", 0.02, "drift", bias=bias)
    e = choose_headline([LAB_BOUND], HeadlineChecks(systematic=sys_err)).entry
    s = math.hypot(0.03, 0.02)
    low = 0.85 + shift - Z95_ONE_SIDED * s
    assert e["value"] == pytest.approx(low, rel=1e-12) and e["ci95"] == [e["value"], 1.0]
    assert e["point_bound_stderr"] == pytest.approx(s, rel=1e-12)
    assert e["bound_without_systematic"] == BOUND and e["stderr"] is None
    assert e["point_bound"] == 0.85 and e["systematic_error"]["size"] == 0.02


def test_the_calibration_error_is_not_added_again_to_a_lab_scale_figure():
    """The protocol's bootstrap redraws the calibration in every replicate: its error holds
    the calibration's already; a direct estimate under the same checks is widened."""
    rng = {"low": 0.5, "high": 0.99, "level": 0.95}
    checks = HeadlineChecks(calibration_stderr=0.02, fidelity_range=rng)
    for lab, stderr, ci in ((LAB, 0.01, [0.8904, 0.9296]), (LAB_BOUND, None, [BOUND, 1.0])):
        h = choose_headline([DIRECT, lab], checks)
        assert h.entry["stderr"] == stderr and h.entry["ci95"] == ci
        assert "calibration_stderr" not in h.entry and "widened" not in h.sentence
    direct = choose_headline([DIRECT], checks).entry
    assert direct["calibration_stderr"] == 0.02 and direct["ci95"] == [0.5, 0.99]
