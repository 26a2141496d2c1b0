"""``qtomo plan``'s designs: their structure, the variance models against exact variances, the
planned precision on simulated shots, and every refused input."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.design_file import read_design_file, write_design_file
from qtomo.errors import InputValueError
from qtomo.reconstruction.lab_scale import plan_models as pm
from qtomo.reconstruction.lab_scale.energy import energy_layout, energy_values
from qtomo.reconstruction.lab_scale.plan import plan_design
from qtomo.reconstruction.lab_scale.shots import ideal_table
from qtomo.reconstruction.lab_scale.stabilizer import stabilizer_fidelity
from qtomo.states.families import cluster_statevector
from qtomo.states.noise import depolarize
from qtomo.states.tfim import tfim_hamiltonian
from tests.reconstruction.lab_helpers import all_bits, sample_design, setting_probabilities


def test_parity_design_is_the_all_z_setting_and_2n_plus_2_phases():
    n = 6
    spec = plan_design("ghz", n, "parity", precision=0.005)
    assert spec.target == {"state": "ghz", "n_qubits": n} and spec.protocol == "parity"
    assert spec.n_settings == 2 * n + 3 and spec.labels[0] == "Z" * n
    phases = spec.angles[1:, 0, 1]
    np.testing.assert_allclose(phases, np.arange(2 * n + 2) * np.pi / (n + 1))
    np.testing.assert_allclose(spec.angles[1:, :, 0], np.pi / 2)
    np.testing.assert_allclose(spec.angles[1:, :, 1], np.repeat(phases[:, None], n, axis=1))
    assert spec.plan["predicted_stderr"] <= 0.005 and spec.precision == 0.005
    assert spec.plan["shots_total"] == sum(spec.shots)


def test_stabilizer_setting_count_does_not_grow_with_n():
    counts, shots = set(), set()
    for n in (8, 20, 50, 120):
        spec = plan_design("cluster", n, "stabilizer", precision=0.01, noise=0.01)
        counts.add(spec.plan["n_settings"])
        shots.add(spec.shots[0])
        assert spec.plan["predicted_stderr"] <= 0.01
    assert counts == {pm.MIN_SETTINGS}
    assert max(shots) <= 1.1 * min(shots)  # without a readout the shots stay put too


def test_stabilizer_enumerates_a_small_group_and_repeats_with_the_seed():
    assert plan_design("ghz", 4, "stabilizer", precision=0.01).plan["sampled"] is False
    a = plan_design("ghz", 20, "stabilizer", precision=0.01, seed=7)
    b = plan_design("ghz", 20, "stabilizer", precision=0.01, seed=7)
    c = plan_design("ghz", 20, "stabilizer", precision=0.01, seed=8)
    assert a.observables == b.observables != c.observables
    assert np.array_equal(a.angles, b.angles) and a.shots == b.shots


@pytest.mark.parametrize(("n", "h", "p"), [(5, 2.0, 0.0), (5, 1.0, 0.05), (6, 1.5, 0.02)])
def test_energy_variance_model_is_exact_without_readout(n, h, p):
    H = tfim_hamiltonian(n, 1.0, h).toarray()
    _, v = np.linalg.eigh(H)
    rho = depolarize(np.outer(v[:, 0], v[:, 0]), p)
    spec = plan_design("tfim", n, "energy", precision=0.01, h=h)
    axes = spec.angles
    zs, _ = energy_layout(axes, 1.0, h)
    exact = {}
    for s, a in enumerate(axes):
        kind = "Z" if s in zs else "X"
        probs = setting_probabilities(rho, a)
        e = energy_values(kind, 1.0, h, all_bits(n), ideal_table(n)[None])[:, 0]
        exact[kind] = probs @ e**2 - (probs @ e) ** 2
    var_z, var_x = pm.energy_variances(n, 1.0, h, p, pm.ReadoutModel.of(n, None))
    assert abs(var_z - exact["Z"]) < 1e-9 and abs(var_x - exact["X"]) < 1e-9


def test_planned_precision_holds_on_simulated_designs():
    """40 datasets of a stabilizer plan (fresh elements and shots): their spread matches the
    plan's standard error (40 values estimate a std to ~11%; bounds at about 3 of those)."""
    n, p, eps = 4, 0.1, 0.05
    psi = cluster_statevector(n)
    rho = depolarize(np.outer(psi, psi), p)
    values, predicted = [], []
    for seed in range(40):
        spec = plan_design("cluster", n, "stabilizer", precision=eps, noise=p, settings=12,
                           seed=seed)
        predicted.append(spec.plan["predicted_stderr"])
        axes = spec.angles
        idx, bits = sample_design(rho, axes, list(spec.shots),
                                  np.random.default_rng(500 + seed))
        values.append(stabilizer_fidelity(axes, idx, bits,
                                          spec.observables,
                                          n_boot=0).value)
    ratio = np.std(values, ddof=1) / np.mean(predicted)
    assert max(predicted) <= eps and 0.6 < ratio < 1.35


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (("tfim", 10, "parity"), {"precision": 0.01}, "certifies ghz targets, not 'tfim'"),
    (("ghz", 10, "energy"), {"precision": 0.01}, "certifies tfim targets"),
    (("w", 10, "stabilizer"), {"precision": 0.01}, "no lab-scale protocol"),
    (("ghz", 10, "tomography"), {"precision": 0.01}, "unknown protocol"),
    (("ghz", 1, "parity"), {"precision": 0.01}, "integer >= 2"),
    (("ghz", 10, "parity"), {"precision": 0.0}, r"in \(0, 1\)"),
    (("ghz", 10, "parity"), {"precision": -0.1}, r"in \(0, 1\)"),
    (("ghz", 10, "parity"), {"precision": float("nan")}, r"in \(0, 1\)"),
    (("ghz", 10, "parity"), {}, "one of --precision"),
    (("ghz", 10, "parity"), {"precision": 0.01, "shots": 100}, "one of --precision"),
    (("ghz", 10, "parity"), {"shots": 0}, "--shots"),
    (("ghz", 10, "parity"), {"precision": 0.01, "noise": 1.5}, "--noise"),
    (("ghz", 10, "parity"), {"precision": 0.01, "readout_error": (0.6, 0.0)}, "readout"),
    (("ghz", 10, "parity"), {"precision": 0.01, "settings": 20}, "stabilizer only"),
    (("cluster", 30, "stabilizer"), {"precision": 0.01, "settings": 0}, "--settings"),
    (("tfim", 50, "energy"), {"precision": 0.01, "h": 0.5}, "degenerate"),
    (("tfim", 10, "energy"), {"precision": 0.01, "boundary": "periodic"}, "open chain"),
])
def test_bad_requests_are_refused_in_one_line(args, kwargs, match):
    with pytest.raises(InputValueError, match=match) as e:
        plan_design(*args, **kwargs)
    assert "\n" not in str(e.value)


def test_design_file_round_trips_through_the_design_file_reader(tmp_path):
    """What qtomo plan writes, qtomo.data.design_file reads back unchanged: settings, shots,
    observables, target, protocol, precision and the plan block."""
    for spec in (plan_design("ghz", 5, "parity", precision=0.01),
                 plan_design("ghz", 5, "stabilizer", precision=0.05, settings=20),
                 plan_design("tfim", 5, "energy", shots=1000, h=2.0)):
        back = read_design_file(write_design_file(tmp_path / f"{spec.protocol}.json", spec))
        assert back.labels == spec.labels and back.shots == spec.shots
        np.testing.assert_allclose(back.vectors(), spec.vectors(), atol=1e-12)
        for key in ("target", "protocol", "precision", "plan", "observables"):
            assert getattr(back, key) == getattr(spec, key), key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["energy.json", "parity.json",
                                                          "stabilizer.json"]
