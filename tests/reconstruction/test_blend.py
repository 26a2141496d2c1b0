"""The model's MLE state shrunk toward its training shots (qtomo.reconstruction.blend): the
weight the validation shots choose, the run's split rebuilt, and the members' resamples."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.povm.born import born_probabilities, outcome_index, sample_from_table
from qtomo.povm.frames import get_frame
from qtomo.reconstruction import blend, run_shots
from qtomo.reconstruction import metrics as mt
from qtomo.reconstruction.config import Stage
from qtomo.reconstruction.run import ReconstructConfig, reconstruct
from qtomo.states.ghz import ghz_statevector
from qtomo.training import TrainConfig, run_training
from qtomo.training.data import ShotSplit
from qtomo.training.members import MemberSpec, member_weights

N = 3


def _synthetic_shots(table: np.ndarray, n_train: int, n_val: int, seed: int) -> run_shots.RunShots:
    rng = np.random.default_rng(seed)
    shots = sample_from_table(table, n_train + n_val, rng, N, 6)
    rows = np.arange(n_train + n_val)
    return run_shots.RunShots(index=outcome_index(shots, 6), train_rows=rows[:n_train],
                          val_rows=rows[n_train:], size=table.size)


def _ghz_and_mixture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = get_frame("pauli6")
    psi = ghz_statevector(N)
    rho = np.outer(psi, psi.conj())
    mix = np.zeros((8, 8))
    mix[0, 0] = mix[7, 7] = 0.5
    return psi, born_probabilities(rho, frame), born_probabilities(mix, frame)


def test_validation_shots_choose_the_exact_table_and_reject_a_wrong_one():
    """With an exact model table every weight gives nearly the exact state (the choice
    costs nothing); a model without GHZ's coherence (the classical mixture) is outvoted by
    the shots, w = 1, and the blended state recovers the fidelity the table alone misses."""
    frame = get_frame("pauli6")
    psi, exact, mixture = _ghz_and_mixture()
    stage = Stage(None)
    rho_exact = np.outer(psi, psi.conj())
    for seed in range(3):
        shots = _synthetic_shots(exact, 4000, 4000, seed)
        got = blend.choose_weight(exact, shots, rho_exact, {"rank": 1}, frame, N, stage)
        nll = [c["validation_nll_per_shot"] for c in got["candidates"]]
        assert [c["weight"] for c in got["candidates"]] == list(blend.BLEND_WEIGHTS)
        assert got["best_weight"] == blend.BLEND_WEIGHTS[int(np.argmin(nll))]
        _weight_rule(got)
        assert max(nll) - min(nll) < 2e-3  # 8 x 27 outcomes, 4,000 shots: KL ~ 1e-3 at most
        # the rank-1 MLE of 4,000 shots alone has infidelity ~ 26 / (2 * 4000) ~ 3e-3
        assert mt.physical_fidelity(got["rho"], psi) > 0.99
    rho_mix = np.zeros((8, 8), dtype=complex)
    rho_mix[0, 0] = rho_mix[7, 7] = 0.5
    shots = _synthetic_shots(exact, 4000, 4000, 7)
    got = blend.choose_weight(mixture, shots, rho_mix, {"rank": 1}, frame, N, stage)
    assert got["weight"] == 1.0
    nll = [c["validation_nll_per_shot"] for c in got["candidates"]]
    assert nll[0] - nll[-1] > 0.1  # the coherence is worth > 0.1 nats a shot
    # 4,000 training shots of 8 x 27 outcomes: the rank-1 MLE infidelity is ~1e-3
    assert mt.physical_fidelity(got["rho"], psi) > 0.99
    # at w = 1 the reported state is the MLE of all 8,000 shots (the validation shots folded
    # back in once the weight is chosen), not of the 4,000 it was chosen with
    every = blend.mle.refit_like(shots.frequencies(every=True), frame, N, {"rank": 1},
                                 init=got["rho_train"]).rho
    assert mt.physical_fidelity(got["rho"], every) > 1 - 1e-6
    assert mt.physical_fidelity(got["rho"], got["rho_train"]) < 1 - 1e-5


def _weight_rule(got):
    """A weight is ruled out when its validation NLL (per shot) exceeds the best one's by more
    than REJECT_STDERRS standard errors of the paired difference; the chosen weight is the one
    nearest the anchor among the rest."""
    c = got["candidates"]
    for x in c:
        assert x["ruled_out"] == (x["excess_over_best"]
                                  > blend.REJECT_STDERRS * x["excess_stderr"])
    kept = [x["weight"] for x in c if not x["ruled_out"]]
    assert got["best_weight"] in kept
    a = got["anchor"]
    nearest = min(kept, key=lambda w: (abs(w - a), -w))
    around = {max(w for w in blend.BLEND_WEIGHTS if w <= a), min(w for w in blend.BLEND_WEIGHTS
                                                                 if w >= a)}
    # the anchor itself between two kept grid weights, else the nearest kept one
    assert got["weight"] == (a if around <= set(kept) else nearest)
    best = [x for x in c if x["weight"] == got["best_weight"]][0]
    assert best["excess_over_best"] == 0 and best["excess_stderr"] == 0


def test_rule_weight_takes_the_kept_weight_nearest_the_anchor():
    """Equal likelihoods: the grid point nearest the anchor (the larger of two equally near);
    weights more than REJECT_STDERRS standard errors worse are passed over however near the
    anchor; the anchor is e_m / (e_m + e_f), or 1 where the model's table alone is ruled
    out, and the family's parameter count
    P = 2 d r - r^2 - 1 (+1 with noise) is what the report gives beside it."""
    zero, se = np.zeros(5), np.full(5, 1e-3)
    assert blend.rule_weight(zero, se, 0.3) == 1
    assert blend.rule_weight(zero, se, 0.375) == 2
    assert blend.rule_weight(zero, se, 1.0) == 4
    excess = np.array([0.0, 0.5, 0.9, 1.1, 5.0]) * blend.REJECT_STDERRS * 1e-3
    assert blend.rule_weight(excess, se, 1.0) == 2  # 3/4 and 1 are ruled out
    assert blend.rule_weight(excess, se, 0.0) == 0
    excess = np.array([9e-3, 9e-3, 9e-3, 0.0, 1e-3])
    assert blend.rule_weight(excess, se, 0.0) == 3  # the best is always kept
    assert blend.family_parameters(3, {"rank": 1}) == 2 * 8 - 2
    assert blend.family_parameters(3, {"rank": 2, "depolarizing": 0.05}) == 2 * 8 * 2 - 4 - 1 + 1
    # the model's table alone ruled out: the anchor is 1, the largest weight kept is taken
    excess = np.array([2.0, 0.5, 0.0, 0.2, 1.6]) * blend.REJECT_STDERRS * 1e-3
    assert blend.weight_anchor(excess, se, 0.2) == 1.0
    assert blend.rule_weight(excess, se, blend.weight_anchor(excess, se, 0.2)) == 3
    # the weight used: the anchor between two kept grid weights, else the nearest kept one
    assert blend.settle_weight(excess, se, 0.6) == 0.6  # 1/2 and 3/4 kept
    assert blend.settle_weight(excess, se, 0.1) == 0.25  # 0 is ruled out
    assert blend.settle_weight(excess, se, 0.9) == 0.75  # 1 is ruled out
    kept = np.array([1.0, 0.5, 0.0, 0.2, 1.6]) * blend.REJECT_STDERRS * 1e-3
    assert blend.weight_anchor(kept, se, 0.2) == 0.2
    assert blend.anchor_weight(3e-3, 3e-3) == pytest.approx(0.5)
    assert blend.anchor_weight(3e-3, 1e-3) == pytest.approx(0.75)
    assert blend.anchor_weight(3e-3, 0.0) == 1.0


@pytest.mark.parametrize("a, b, d", [(3e-3, 1e-3, 4e-3), (3e-3, 1e-3, 3e-3), (1e-3, 3e-3, 3e-3),
                                     (3e-3, 1e-3, 5e-4), (1e-3, 3e-3, 5e-4), (2e-3, 2e-3, 0.0),
                                     (3e-3, 1e-3, 0.1)])
def test_anchor_minimises_the_mixtures_expected_infidelity(a, b, d):
    """The anchor is the weight minimising (1 - w)^2 A + w^2 B + 2 w (1 - w) C, C the errors'
    overlap read from the distance d = A + B - 2 C, kept within [0, sqrt(A B)] (a distance
    larger than A + B means no overlap; a smaller one than (sqrt A - sqrt B)^2 is the most
    overlap two errors of those sizes can have). Checked against a fine grid of w."""
    c = min(max((a + b - d) / 2, 0.0), np.sqrt(a * b))
    w = np.linspace(0, 1, 100001)
    risk = (1 - w) ** 2 * a + w**2 * b + 2 * w * (1 - w) * c
    best = w[np.isclose(risk, risk.min(), rtol=0, atol=1e-15)]
    assert best.min() - 1e-5 <= blend.anchor_weight(a, b, d) <= best.max() + 1e-5
    if d >= a + b:  # no overlap: the independent estimators' weight A / (A + B)
        assert blend.anchor_weight(a, b, d) == pytest.approx(blend.anchor_weight(a, b))


def test_members_scatter_measures_the_error_of_a_model_that_follows_its_shots():
    """A model that follows its training shots (its table is their frequencies) and members
    that are refits to multinomial resamples of them: by the bootstrap principle the members'
    mean infidelity to the model's state is that state's infidelity to the true one. GHZ-3,
    Pauli-6, rank 1, 8 datasets of 1,500 shots, 10 members each: the means agree within a
    factor 1.6 (the relative spread of a mean of 8 such infidelities is ~0.13)."""
    from qtomo.reconstruction.model_spread import table_spread

    frame = get_frame("pauli6")
    psi, exact, _ = _ghz_and_mixture()
    spread, true = [], []
    for seed in range(8):
        shots = _synthetic_shots(exact, 1500, 0, 200 + seed)
        rho0 = blend.mle.fit_mle(shots.frequencies(), frame, N, rank=1).rho
        c = np.rint(shots.counts()).astype(int)
        rng = np.random.default_rng(seed)
        tables = [(None, rng.multinomial(c.sum(), c / c.sum()) / c.sum()) for _ in range(10)]
        got = table_spread(tables, {"rank": 1}, frame, N, shots, rho0)
        assert got["members"] == 10
        spread.append(got["spread"])
        true.append(1.0 - mt.physical_fidelity(rho0, psi))
    assert 1 / 1.6 < np.mean(spread) / np.mean(true) < 1.6
    assert blend.model_infidelity(None) == blend.MODEL_INFIDELITY_FLOOR
    assert blend.model_infidelity(got) == pytest.approx(blend.MODEL_INFIDELITY_FLOOR
                                                        + got["spread"])


@pytest.mark.parametrize("n_train", [1500, 6000])
def test_split_halves_measure_the_mle_infidelity(n_train):
    """The anchor's e_f, a quarter of the infidelity between the rank-1 MLEs of two random
    halves of the shots, against the true infidelity of the MLE of all of them: GHZ-3,
    Pauli-6, 8 datasets. Each infidelity is a sum over the 14 tangent directions of the
    rank-1 family (relative spread ~ sqrt(2 / 14) ~ 0.4 per dataset, ~0.13 on a mean of 8),
    so the two means agree within a factor 1.6 (> 3 standard deviations of their ratio);
    both fall as 1 / n."""
    frame = get_frame("pauli6")
    psi, exact, _ = _ghz_and_mixture()
    est, true = [], []
    for seed in range(8):
        shots = _synthetic_shots(exact, n_train, 0, 100 + seed)
        rho = blend.mle.fit_mle(shots.frequencies(), frame, N, rank=1).rho
        true.append(1.0 - mt.physical_fidelity(rho, psi))
        est.append(blend.split_half_infidelity(shots, frame, N, {"rank": 1}, rho, seed=seed))
    ratio = np.mean(est) / np.mean(true)
    assert 1 / 1.6 < ratio < 1.6, (np.mean(est), np.mean(true))
    # the scale: kappa P / n with kappa of order 0.1-1 for Pauli-6 (P = 14)
    assert 0.05 * 14 / n_train < np.mean(true) < 1.0 * 14 / n_train


def test_partly_coherent_model_is_outvoted_by_plenty_of_shots():
    """A model with half of GHZ's coherence (its table and state are the exact ones mixed half
    and half with the classical mixture's: fidelity 0.75) against 20,000 training and 4,000
    validation shots of the exact state: every step toward the shots predicts the validation
    shots better (the model alone by ~0.04 nats a shot, 20 standard errors) and rules it out,
    the anchor (the split halves' e_f, ~1e-4 for 20,000 shots of 216 outcomes, against
    e_m = 0.003: above 0.9) takes w = 1, and the state is the shots' rank-1 MLE."""
    frame = get_frame("pauli6")
    psi, exact, mixture = _ghz_and_mixture()
    half = 0.5 * exact + 0.5 * mixture
    rho_half = 0.5 * np.outer(psi, psi.conj()) + 0.5 * np.diag([0.5, 0, 0, 0, 0, 0, 0, 0.5])
    assert mt.physical_fidelity(rho_half, psi) == pytest.approx(0.75)
    got = blend.choose_weight(half, _synthetic_shots(exact, 20000, 4000, 5), rho_half,
                              {"rank": 1}, frame, N, Stage(None))
    _weight_rule(got)
    assert got["anchor"] > 0.9
    assert got["weight"] == 1.0
    assert got["candidates"][0]["ruled_out"] and not got["candidates"][-1]["ruled_out"]
    nll = [c["validation_nll_per_shot"] for c in got["candidates"]]
    assert all(np.diff(nll) < 0)
    assert nll[0] - nll[-1] > 5 * got["candidates"][0]["excess_stderr"]
    assert mt.physical_fidelity(got["rho"], psi) > 0.997


def test_scarce_shots_keep_the_model_and_plenty_give_the_exact_state():
    """Exact model table, training frequencies of 300 shots of the 3-qubit GHZ state: the
    frequencies miss most of the 216 outcomes, so w = 1 predicts 4,000 held-out shots clearly
    worse (ruled out) and w < 1; against 40,000 training shots, whose raw MLE is
    nearly exact, every weight gives nearly the exact state. (The classical-mixture table of
    the first test is the case where the shots take over, w = 1.)"""
    frame = get_frame("pauli6")
    psi, exact, _ = _ghz_and_mixture()
    rho = np.outer(psi, psi.conj())
    stage = Stage(None)
    scarce = blend.choose_weight(exact, _synthetic_shots(exact, 300, 4000, 11), rho, {"rank": 1},
                                 frame, N, stage)
    _weight_rule(scarce)
    assert scarce["weight"] < 1.0 and scarce["candidates"][-1]["ruled_out"]
    last = scarce["candidates"][-1]
    assert last["excess_over_best"] > 3 * last["excess_stderr"]
    plenty = blend.choose_weight(exact, _synthetic_shots(exact, 40000, 4000, 12), rho, {"rank": 1},
                                 frame, N, stage)
    _weight_rule(plenty)
    # whichever weight: 40,000 shots of 216 outcomes fix the rank-1 state to ~3e-4
    assert mt.physical_fidelity(plenty["rho"], psi) > 0.998


def test_frequencies_of_a_member_resample():
    psi, exact, _ = _ghz_and_mixture()
    shots = _synthetic_shots(exact, 3000, 500, 3)
    spec = MemberSpec(name="m01", kind="bootstrap", fraction=1.0, effective_shots=3000,
                      seed=5, init_seed=6)
    counts = member_weights(spec, shots.train_rows, shots.index.size)
    f = shots.frequencies(counts)
    assert counts[shots.val_rows].sum() == 0 and counts.sum() == 3000
    direct = np.bincount(np.repeat(shots.index, counts.astype(int)), minlength=exact.size)
    np.testing.assert_allclose(f, direct / 3000)
    assert not np.allclose(f, shots.frequencies())  # a resample, not the shots themselves
    # the chosen blend folds the validation shots back in: all 3,500 shots
    every = shots.frequencies(every=True)
    np.testing.assert_allclose(every, np.bincount(shots.index, minlength=exact.size) / 3500)
    np.testing.assert_allclose(run_shots.blend_table(exact, 0.25, shots),
                               0.75 * exact + 0.25 * every)
    # a member's blend: its training resample, and a resample of as many validation shots
    from qtomo.reconstruction.members import member_counts

    member = {f: getattr(spec, f) for f in ("name", "kind", "fraction", "effective_shots",
                                             "seed", "init_seed")}
    mc = member_counts(shots, member)
    np.testing.assert_array_equal(mc[shots.train_rows], counts[shots.train_rows])
    assert mc[shots.val_rows].sum() == 500 and np.any(mc[shots.val_rows] != 1)
    np.testing.assert_array_equal(mc, member_counts(shots, member))  # seeded: repeats


@pytest.fixture(scope="module")
def ghz_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("blend")
    h5 = d / "ghz.h5"
    simulate(SimulateConfig(state="ghz", n_qubits=N, povm="pauli6", shots=6000, eval_shots=0,
                            noise=0.05, seed=21), h5)
    cfg = TrainConfig(hparams={"hidden": 16, "layers": 1}, epochs=2, batch_size=200,
                      device="cpu", precision="fp32", bootstrap=3)
    run_training(h5, d / "run", cfg, progress=False)
    return h5, d / "run"


def test_run_split_is_the_trainers(ghz_run):
    h5, run = ghz_run
    from qtomo.training.checkpoint import load_run

    _, info = load_run(run)
    with open_dataset(h5) as ds:
        shots = run_shots.run_shots(ds, {"train_config": info}, 6)
        split = ShotSplit(ds, val_fraction=info["val_fraction"], seed=info["seed"])
        assert shots is not None
        np.testing.assert_array_equal(shots.train_rows, split.train_indices())
        val = outcome_index(split.val_rows(), 6)
        np.testing.assert_array_equal(np.sort(shots.index[shots.val_rows]), np.sort(val))
        assert run_shots.run_shots(ds, {"train_config": {**info, "val_fraction": 0.0}}, 6) is None


def test_reconstruct_reports_the_weight_and_the_members_use_it(ghz_run, monkeypatch):
    h5, run = ghz_run
    from qtomo.data.hdf5 import Dataset

    rows_read = []
    outcomes = Dataset.outcomes

    def counting(self, start, stop):
        a = outcomes(self, start, stop)
        rows_read.append(len(a))
        return a

    monkeypatch.setattr(Dataset, "outcomes", counting)
    rep = reconstruct(h5, run, ReconstructConfig(samples=4000, member_samples=2000)).report
    # the shots are read once: the tallies, the split and the members' frequencies share it
    assert sum(rows_read) == 6000
    m = rep["quantum"]["model"]
    b = m["blend"]
    nll = [c["validation_nll_per_shot"] for c in b["candidates"]]
    assert b["best_weight"] == b["candidates"][int(np.argmin(nll))]["weight"]
    _weight_rule(b)
    assert b["validation_shots"] == 600
    # the run's 3 bootstrap members size the model's error: e_m = floor + their scatter
    assert b["model_spread"]["members"] == 3 and b["model_spread"]["spread"] > 0
    assert b["model_infidelity"] == pytest.approx(blend.MODEL_INFIDELITY_FLOOR
                                                  + b["model_spread"]["spread"])
    assert b["distance"] >= 0
    if b["weight"] > 0:  # the headline (or the model figure it replaced) names the blend
        qf = rep["headline"]["quantum_fidelity"]
        words = qf["source"] + qf.get("model_source", "")
        assert "mle_table_only" in m
        assert ("raw-frequency MLE: " in words if b["weight"] == 1
                else "frequencies of all its shots" in words)
    lo, hi = m["mle"]["fidelity_ci95"]
    assert lo <= m["mle"]["fidelity"] <= hi and m["mle"]["fidelity_stderr"] > 0
    # an under-trained model (2 epochs on 5,400 shots) with exact fidelity 0.8591 (p = 0.05):
    # the blended state is within its error bar of it, or of the raw MLE's
    exact = rep["quantum"]["exact_fidelity"]
    assert abs(m["mle"]["fidelity"] - exact) < 4 * m["mle"]["fidelity_stderr"] + 0.02


def test_a_stuck_table_fit_is_started_again_from_its_neighbour():
    """The table's own MLE state handed in is a poor start (|000><000| for the exact GHZ
    table, KL ~ 0.5 nats): the blended fits leave it, the table refitted from the w = 1/4 state
    reaches the exact state's KL (~0) and replaces it; handed the exact state, nothing is
    replaced (its KL cannot be beaten by more than the optimiser's tolerance)."""
    frame = get_frame("pauli6")
    psi, exact, _ = _ghz_and_mixture()
    shots = _synthetic_shots(exact, 4000, 4000, 3)
    stuck = np.zeros((8, 8), dtype=complex)
    stuck[0, 0] = 1.0
    assert blend.table_kl(stuck, exact, frame) > 0.3
    got = blend.choose_weight(exact, shots, stuck, {"rank": 1}, frame, N, Stage(None))
    assert got["restarted"]
    assert got["table_kl"] < 1e-4
    assert mt.physical_fidelity(got["table_rho"], psi) > 0.999
    rho = np.outer(psi, psi.conj())
    got = blend.choose_weight(exact, shots, rho, {"rank": 1}, frame, N, Stage(None))
    assert not got["restarted"]


def test_frequencies_are_averaged_over_the_runs_symmetry():
    """A run trained under the permutation group blends frequencies averaged over it (the
    distribution its augmented training shots estimate): for GHZ-3 at 1,500 Pauli-6 shots the
    averaged frequencies' rank-1 MLE is closer to the state than the raw ones' (8 datasets;
    each string's orbit holds up to 6 strings, so the averaged table is less noisy), and the
    split halves, averaged the same way, measure that smaller error."""
    from qtomo.training.symmetry import symmetrize_table

    frame = get_frame("pauli6")
    psi, exact, _ = _ghz_and_mixture()
    raw_err, sym_err, sym_est = [], [], []
    for seed in range(8):
        s = _synthetic_shots(exact, 1500, 0, 200 + seed)
        sym = run_shots.RunShots(s.index, s.train_rows, s.val_rows, s.size, K=6, n=N,
                             symmetry="permutation")
        f_raw = s.frequencies()
        np.testing.assert_allclose(sym.frequencies(), symmetrize_table(f_raw, 6, N, "permutation"))
        rho_raw = blend.mle.fit_mle(f_raw, frame, N, rank=1).rho
        rho_sym = blend.mle.fit_mle(sym.frequencies(), frame, N, rank=1).rho
        raw_err.append(1 - mt.physical_fidelity(rho_raw, psi))
        sym_err.append(1 - mt.physical_fidelity(rho_sym, psi))
        sym_est.append(blend.split_half_infidelity(sym, frame, N, {"rank": 1}, rho_sym, seed=seed))
    assert np.mean(sym_err) < 0.7 * np.mean(raw_err), (np.mean(sym_err), np.mean(raw_err))
    assert 1 / 1.6 < np.mean(sym_est) / np.mean(sym_err) < 1.6, (np.mean(sym_est), np.mean(sym_err))
