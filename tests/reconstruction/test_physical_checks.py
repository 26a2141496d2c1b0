"""Physical checks of a model: the variational bound, the range of Pauli expectations and the
held-out NLL of the kept checkpoint, against exact states and deliberately unphysical tables."""

from __future__ import annotations

import numpy as np
from scipy import stats

from qtomo.povm.born import sample_from_table
from qtomo.povm.frames import get_frame, site_operators
from qtomo.reconstruction import consistency as cs
from qtomo.reconstruction import physical_checks as pc
from qtomo.reconstruction.density import born_table
from qtomo.reconstruction.observables import PauliAccumulator, TFIMSpec
from qtomo.states.ghz import ghz_statevector
from qtomo.states.tfim import tfim_ground_state, tfim_hamiltonian

N = 4
SHOTS = 20_000


def _energy_entry(a, frame):
    acc = PauliAccumulator(frame, N, tfim=TFIMSpec(1.0, 1.0))
    acc.update(a)
    e = acc.result("model").scalars["energy"]
    return {"model": {"value": e.value, "stderr": e.stderr}}


def test_ground_state_samples_pass_the_variational_bound():
    """Samples of the exact ground state: flagged at most at the one-sided 3-sigma rate."""
    frame = get_frame("tetra")
    gs = tfim_ground_state(N, 1.0, 1.0)
    p = born_table(np.outer(gs.psi, gs.psi.conj()), site_operators(frame, N))
    flags = []
    for seed in range(30):
        a = sample_from_table(np.clip(p, 0, None), SHOTS, np.random.default_rng(seed), N, 4)
        flags.append(pc.variational_check(_energy_entry(a, frame), gs.energy).flagged)
    # P(flag) = Phi(-3) = 0.00135 per dataset; 2 or more of 30 has probability < 1e-3
    assert sum(flags) <= 1


def test_unphysical_table_below_the_ground_energy_is_flagged():
    """A valid distribution over the tetrahedral outcomes is the Born table of a unique
    Hermitian, trace-1 operator, not always of a state. Moving weight t onto the string a* with
    the lowest energy estimator e(a) = Tr[H D(a)] gives energy (1 - t) E0 + t e(a*) < E0: the
    table of no state, which the check must catch (and the ground state's own table passes)."""
    frame = get_frame("tetra")
    gs = tfim_ground_state(N, 1.0, 1.0)
    p = np.clip(born_table(np.outer(gs.psi, gs.psi.conj()), site_operators(frame, N)), 0, None)
    e = born_table(tfim_hamiltonian(N, 1.0, 1.0).toarray(), site_operators(frame, N, "duals"))
    assert abs(p @ e - gs.energy) < 1e-9  # the estimator is unbiased
    t = 0.05
    q = (1 - t) * p
    q[np.argmin(e)] += t
    expected = q @ e
    assert expected < gs.energy - 0.3
    a = sample_from_table(q, SHOTS, np.random.default_rng(5), N, 4)
    entry = _energy_entry(a, frame)
    assert abs(entry["model"]["value"] - expected) < 5 * entry["model"]["stderr"]
    check = pc.variational_check(entry, gs.energy)
    assert check.flagged and "below" in check.sentence
    assert check.figures["z_below"] > 3


def test_pauli_range_of_ghz_samples_and_of_an_inflated_table():
    """GHZ-4 shots have ZZ = 1 exactly on every pair: estimates scatter around 1 and must not
    be flagged; a 'state' with <Z0 Z1> = 1.2 must."""
    frame = get_frame("pauli6")
    psi = ghz_statevector(N)
    p = born_table(np.outer(psi, psi.conj()), site_operators(frame, N))
    flags = []
    for seed in range(20):
        a = sample_from_table(np.clip(p, 0, None), SHOTS, np.random.default_rng(seed), N, 6)
        acc = PauliAccumulator(frame, N)
        acc.update(a)
        flags.append(pc.pauli_range_check(acc.result("model")).flagged)
    assert sum(flags) <= 1  # family-wise level 1e-3 per dataset
    m = acc.result("model")
    zz, se = m.two_point["Z"]
    zz = zz.copy()
    zz[0, 1] = zz[1, 0] = 1.2
    m.two_point["Z"] = (zz, se)
    check = pc.pauli_range_check(m)
    assert check.flagged and check.figures["worst"] == "Z0 Z1"


def test_heldout_check_reads_the_run_summary():
    ok = {"heldout_gap": {"gap": 0.001, "gap_se": 0.002}, "kept_epoch": 9, "best_epoch": 7}
    bad = {"heldout_gap": {"gap": 0.05, "gap_se": 0.01}, "kept_epoch": 60, "best_epoch": 8}
    assert not pc.heldout_check(ok).flagged
    check = pc.heldout_check(bad)
    assert check.flagged and "over-fitted" in check.sentence and check.figures["z"] == 5.0
    assert pc.heldout_check({"heldout_gap": None}) is None


def test_a_flagged_check_rejects_the_model_and_names_it():
    e0 = tfim_ground_state(N, 1.0, 1.0).energy
    check = pc.variational_check({"model": {"value": e0 - 1.0, "stderr": 0.1}}, e0)
    r = cs.check_consistency(None, None, [], physical=[check])
    assert not r.consistent and r.failed == ["variational_bound"]
    assert "below" in r.reason
    d = r.as_dict()
    assert d["physical"][0]["flagged"] and d["false_alarm_bound"] > stats.norm.sf(3) * 0.99
