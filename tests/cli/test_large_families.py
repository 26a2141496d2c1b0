"""``qtomo simulate --state w|cluster|product|random-mps`` above 16 qubits: the target is the
family's exact MPS, and the shots and their stored exact log P are those of that state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from qtomo.cli.main import cli
from qtomo.data.hdf5 import open_dataset
from qtomo.states.families import FAMILIES, random_mps_tensors
from qtomo.states.family_mps import family_mps
from tests.conftest import chi_square_pvalue


def run(*args) -> dict:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def born(tensors: list[np.ndarray], ops: np.ndarray) -> np.ndarray:
    """``<psi| ops[s, 0] (x) ... (x) ops[s, N-1] |psi> / <psi|psi>`` for every row s.

    ``tensors``: any (unnormalised, non-canonical) MPS, legs ``vL p vR``; ``ops``: (S, N, 2, 2).
    One left-to-right pass for all rows at once, independent of qtomo's samplers.
    """
    env = np.ones((len(ops), 1, 1))  # s, bra bond, ket bond
    nrm = np.ones((1, 1))
    for j, a in enumerate(tensors):
        # s u* v, v p r, s q p, u* q r* -> s r* r
        env = np.einsum("suv,vpr,sqp,uqt->str", env, a, ops[:, j], a.conj())
        # u* v, v p r, u* p r* -> r* r
        nrm = np.einsum("uv,vpr,upt->tr", nrm, a, a.conj())
    return env[:, 0, 0].real / nrm[0, 0].real


def collision_probability(tensors: list[np.ndarray], elements: np.ndarray) -> float:
    """Exact ``sum_a P(a)^2`` of a normalised MPS: two copies, ``T = sum_k M(k) (x) M(k)``."""
    t_op = sum(np.kron(m, m) for m in elements)  # (p p') (q q')
    env = np.ones((1, 1))  # bra ket (two copies each)
    for b in tensors:
        cl, _, cr = b.shape
        # two copies   # vL p vR (x2) -> (vL vL) (p p) (vR vR)
        b2 = np.einsum("apb,cqd->acpqbd", b, b).reshape(cl**2, 4, cr**2)
        x = np.tensordot(env, b2, axes=(1, 0))  # u* [v], [v] p r -> u* p r
        x = np.einsum("qp,upr->uqr", t_op, x)  # T on p
        env = np.tensordot(b2.conj(), x, axes=([0, 1], [0, 1]))  # [u p] r*, [u p] r -> r* r
    return float(env[0, 0].real)


def test_random_mps_20_shots_and_exact_log_p(tmp_path):
    n, seed, shots = 20, 9, 2000
    out = tmp_path / "rmps20.h5"
    s = run("simulate", "--state", "random-mps", "-n", n, "--shots", shots, "--eval-shots", shots,
            "--seed", seed, "--out", out, "--json")
    assert s["state"] == "random-mps" and s["method"] == "exact" and s["n_qubits"] == n
    with open_dataset(out) as ds:
        assert ds.target_array("psi") is None and ds.target["symmetry"] == "none"
        m = ds.target_mps()
        elements = ds.frame.elements
        a, ea, elp = ds.outcomes(), ds.eval_outcomes(), ds.eval_log_p()
        x_exact = ds.target_array("x_exact")
    raw = random_mps_tensors(n, seed, 2)  # the draw, before normalisation and canonical form
    assert m.max_bond == 2 and abs(m.overlap(m)) == pytest.approx(1.0, abs=1e-12)
    # 1. the stored log P of every eval shot is the Born rule of the raw draw
    assert np.allclose(elp, np.log(born(raw, elements[ea])), rtol=0, atol=1e-9)
    # 2. they are the probabilities the shots were drawn with: E_{a~P}[P(a)] = sum_a P(a)^2.
    # P(a) is heavy-tailed (std ~ 4 means here), so the 2000-shot mean has a ~10% standard
    # error; 5 of them still separate it from a wrong sampler (uniform shots: 4^-20 ~ 1e-12).
    p = np.exp(elp)
    c = collision_probability(m.tensors, elements)
    assert abs(p.mean() - c) < 5 * p.std() / np.sqrt(shots)
    # 3. every qubit's outcome frequencies in the training shots against its exact marginal
    # P(a_i = k) = Tr[rho_i M(k)]; 20 tests at 1e-4 each: a family-wise false alarm <= 2e-3,
    # while a shift of 0.06 in one probability (~0.25) gives chi2 ~ 30 (p ~ 1e-6)
    k = len(elements)
    ops = np.broadcast_to(np.eye(2, dtype=complex), (n * k, n, 2, 2)).copy()
    for i in range(n):
        ops[i * k:(i + 1) * k, i] = elements
    marg = born(raw, ops).reshape(n, k)
    assert np.allclose(marg.sum(axis=1), 1.0, atol=1e-12)
    # the stored <X_i> is that of the same marginals (Pauli-4: P(a_i = 1) = (1 + <X_i>) / 6)
    assert np.allclose(marg[:, 1], (1 + x_exact) / 6, atol=1e-12)
    for i in range(n):
        counts = np.bincount(a[:, i], minlength=k)
        assert chi_square_pvalue(counts, marg[i]) > 1e-4, (i, counts, marg[i] * shots)


@pytest.mark.parametrize("state", FAMILIES)
def test_families_at_50_store_their_mps(tmp_path, state):
    out = tmp_path / f"{state}50.h5"
    s = run("simulate", "--state", state, "-n", 50, "--povm", "tetra", "--shots", 300,
            "--eval-shots", 100, "--noise", 0.1, "--seed", 5, "--out", out, "--json")
    assert s["n_qubits"] == 50 and s["method"] == "exact"
    with open_dataset(out) as ds:
        m = ds.target_mps()
        x, zz = ds.target_array("x_exact"), ds.target_array("zz_exact")
        assert ds.eval_log_p().shape == (100,) and np.all(np.isfinite(ds.eval_log_p()))
    assert abs(m.overlap(family_mps(state, 50, seed=5))) == pytest.approx(1.0, abs=1e-12)
    assert x.shape == (50,) and zz.shape == (50, 50)
    off = ~np.eye(50, dtype=bool)
    if state == "w":
        assert np.allclose(zz[off], (1 - 4 / 50) * 0.81, atol=1e-12)
    if state == "cluster":
        assert np.allclose(zz[off], 0.0, atol=1e-12) and np.allclose(x, 0.0, atol=1e-12)
    assert np.allclose(x, m.x_expectations() * 0.9, atol=1e-12)
