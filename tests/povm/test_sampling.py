"""Exact MPS POVM sampler and log-probabilities against Born probabilities from state vectors."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from qtomo.errors import InputValueError
from qtomo.povm.frames import get_frame
from qtomo.povm.sampling import log_prob_mps, rank1_pieces, sample_mps
from qtomo.states.ghz import ghz_mps
from qtomo.states.mps import MPS
from tests.conftest import chi_square_pvalue

FRAMES = [("pauli4", 0.0), ("tetra", 0.0), ("pauli6", 0.0), ("pauli4", 0.2), ("tetra", 0.1)]


def frame_of(name: str, p: float):
    f = get_frame(name)
    return f.depolarized(p) if p > 0 else f


def exact_born(psi: np.ndarray, frame) -> np.ndarray:
    """P(a) = Tr[M(a_1) (x) ... (x) M(a_N) |psi><psi|] for all K^N strings (lexicographic,
    qubit 0 slowest), by contracting |psi><psi| with one qubit's elements at a time."""
    n = int(np.log2(psi.size))
    t = np.multiply.outer(psi, psi.conj()).reshape([2] * (2 * n))  # kets 0..n-1, bras n..2n-1
    for j in range(n):
        # ket of qubit j is axis 0, its bra is axis n - j; M[k, p', p] pairs p with the ket
        t = np.tensordot(t, frame.elements, axes=([0, n - j], [2, 1]))
    return t.real.reshape(-1)


def kron_born(psi: np.ndarray, frame, a: np.ndarray) -> float:
    op = functools.reduce(np.kron, [frame.elements[k] for k in a])
    return float(np.vdot(psi, op @ psi).real)


def all_strings(n: int, K: int) -> np.ndarray:  # noqa: N803
    idx = np.arange(K**n)
    return ((idx[:, None] // K ** np.arange(n - 1, -1, -1)[None, :]) % K).astype(np.uint8)


def index_of(a: np.ndarray, K: int) -> np.ndarray:  # noqa: N803
    return a.astype(np.int64) @ (K ** np.arange(a.shape[1] - 1, -1, -1))


@pytest.fixture(scope="module")
def states():
    rng = np.random.default_rng(7)
    n = 6
    cplx = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    real = np.abs(rng.normal(size=2**n))  # like a TFIM ground state: real, non-negative
    return {
        "complex": cplx / np.linalg.norm(cplx),
        "real": real / np.linalg.norm(real),
    }


def test_exact_born_helper_matches_kronecker_products(states):
    f = get_frame("pauli4").depolarized(0.2)
    p = exact_born(states["complex"], f)
    assert p.sum() == pytest.approx(1.0)
    for idx in (0, 1, 77, 4095):
        a = [(idx // 4 ** (5 - j)) % 4 for j in range(6)]
        assert p[idx] == pytest.approx(kron_born(states["complex"], f, a), abs=1e-15)


def test_rank1_pieces_rebuild_the_elements():
    for name, p in FRAMES:
        f = frame_of(name, p)
        phi, out = rank1_pieces(f)
        rebuilt = np.zeros_like(f.elements)
        for v, a in zip(phi, out, strict=True):
            rebuilt[a] += np.outer(v, v.conj())
        np.testing.assert_allclose(rebuilt, f.elements, atol=1e-14)
    # Pauli-4: three rank-1 elements and a rank-2 fourth one
    assert np.bincount(rank1_pieces(get_frame("pauli4"))[1]).tolist() == [1, 1, 1, 2]


@pytest.mark.parametrize("kind", ["complex", "real"])
@pytest.mark.parametrize("name,p", FRAMES)
def test_log_prob_equals_exact_born(states, kind, name, p):
    psi = states[kind]
    f = frame_of(name, p)
    m = MPS.from_statevector(psi)
    a = all_strings(6, f.K)
    lp = log_prob_mps(m, f, a, batch_size=4096 if f.K == 6 else 333)
    np.testing.assert_allclose(np.exp(lp), exact_born(psi, f), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("kind", ["complex", "real"])
@pytest.mark.parametrize("name,p", FRAMES)
def test_sampler_histogram_passes_chi_square(states, kind, name, p):
    psi = states[kind]
    f = frame_of(name, p)
    probs = exact_born(psi, f)
    shots = sample_mps(MPS.from_statevector(psi), f, 100_000, np.random.default_rng(11))
    assert shots.dtype == np.uint8 and shots.shape == (100_000, 6)
    counts = np.bincount(index_of(shots, f.K), minlength=f.K**6)
    assert chi_square_pvalue(counts, probs) > 1e-4


def test_seeded_runs_repeat_and_do_not_depend_on_batch_size(states):
    m = MPS.from_statevector(states["complex"])
    f = get_frame("pauli4")
    a = sample_mps(m, f, 5000, np.random.default_rng(3), batch_size=5000)
    b = sample_mps(m, f, 5000, np.random.default_rng(3), batch_size=777)
    c = sample_mps(m, f, 5000, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, sample_mps(m, f, 5000, 4))
    np.testing.assert_array_equal(
        log_prob_mps(m, f, a, batch_size=5000), log_prob_mps(m, f, a, batch_size=5000)
    )


def test_progress_reports_every_shot(states):
    m = MPS.from_statevector(states["real"])
    seen: list[int] = []
    sample_mps(m, get_frame("tetra"), 1000, 0, batch_size=300, progress=seen.append)
    assert seen == [300, 300, 300, 100]
    seen.clear()
    log_prob_mps(
        m, get_frame("tetra"), np.zeros((50, 6), np.uint8), batch_size=20, progress=seen.append
    )
    assert seen == [20, 20, 10]


def test_ghz_statistics_are_analytic():
    """Pauli-6 on GHZ(N): given the bases drawn, Z-only strings give all-equal signs; the
    parity of X-only strings is even; every single-qubit marginal is uniform over 6."""
    n = 40
    g = ghz_mps(n)
    f = get_frame("pauli6")  # outcome order (+x, -x, +y, -y, +z, -z)
    a = sample_mps(g, f, 60_000, np.random.default_rng(5))
    basis, sign = a.astype(int) // 2, a.astype(int) % 2
    # single-qubit marginals: uniform 1/6
    marg = np.bincount(a[:, 17], minlength=6) / a.shape[0]
    np.testing.assert_allclose(marg, 1 / 6, atol=0.01)
    # qubits measured in Z within one shot all agree
    z = basis == 2
    for s, zz in zip(sign[:2000], z[:2000], strict=True):
        assert len(set(s[zz])) <= 1
    # two-qubit statistics: <Z_i Z_j> = 1 (both Z), <X_i X_j> = 0 for N > 2
    both_z = z[:, 3] & z[:, 30]
    assert np.all(sign[both_z, 3] == sign[both_z, 30])
    both_x = (basis[:, 3] == 0) & (basis[:, 30] == 0)
    xx = (1 - 2 * sign[both_x, 3]) * (1 - 2 * sign[both_x, 30])
    assert abs(xx.mean()) < 4 / np.sqrt(both_x.sum())
    # exact GHZ probability of a sampled string: log P is known analytically for Z-only
    lp = log_prob_mps(g, f, np.full((1, n), 4, np.uint8))
    assert lp[0] == pytest.approx(np.log(0.5) + n * np.log(1 / 3))


def test_log_prob_of_impossible_string_is_minus_inf():
    g = ghz_mps(5)
    f = get_frame("pauli6")
    a = np.array([[4, 5, 4, 4, 4]], dtype=np.uint8)  # +z, -z: impossible for GHZ
    assert log_prob_mps(g, f, a)[0] == -np.inf


def test_bad_input_is_rejected(states):
    m = MPS.from_statevector(states["real"])
    f = get_frame("pauli4")
    with pytest.raises(InputValueError, match="shape"):
        log_prob_mps(m, f, np.zeros((3, 5), np.uint8))
    with pytest.raises(InputValueError, match="0..3"):
        log_prob_mps(m, f, np.full((3, 6), 4, np.uint8))
    with pytest.raises(InputValueError, match="batch_size"):
        sample_mps(m, f, 10, 0, batch_size=0)
    with pytest.raises(InputValueError, match="n_shots"):
        sample_mps(m, f, -1, 0)
    assert sample_mps(m, f, 0, 0).shape == (0, 6)


def test_basis_form_of_frames():
    """Pauli-4 and Pauli-6 (also with unequal basis weights) are a basis choice followed by a
    projective measurement; the tetrahedral and depolarized frames are not."""
    from qtomo.povm.frames import pauli6
    from qtomo.povm.sampling import basis_form

    p4 = basis_form(get_frame("pauli4"))
    assert p4 is not None
    np.testing.assert_allclose(p4.weight, [1 / 3] * 3)
    assert sorted(p4.label[:, 1].tolist()) == [3, 3, 3]  # every basis' "down" is outcome 3
    w6 = basis_form(pauli6((0.5, 0.3, 0.2)))
    assert w6 is not None and sorted(w6.weight.round(12).tolist()) == [0.2, 0.3, 0.5]
    assert basis_form(get_frame("tetra")) is None
    assert basis_form(get_frame("pauli4").depolarized(0.1)) is None


def test_basis_path_matches_exact_born_with_unequal_weights(states):
    from qtomo.povm.frames import pauli6

    f = pauli6((0.5, 0.3, 0.2))
    psi = states["complex"]
    shots = sample_mps(MPS.from_statevector(psi), f, 100_000, np.random.default_rng(2))
    counts = np.bincount(index_of(shots, f.K), minlength=f.K**6)
    assert chi_square_pvalue(counts, exact_born(psi, f)) > 1e-4
