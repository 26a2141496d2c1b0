"""Exact per-setting bit probabilities of small dense states, and an in-process sampler of
fixed designs, for the tests of :mod:`qtomo.reconstruction.lab_scale`."""

from __future__ import annotations

import numpy as np

from qtomo.reconstruction.lab_scale.axes import bloch_vectors


def all_bits(n: int) -> np.ndarray:
    """Every bit string (2^N, N) uint8, qubit 0 most significant (big-endian order)."""
    idx = np.arange(2**n)
    return ((idx[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1).astype(np.uint8)


def _eigenbasis(v: np.ndarray) -> np.ndarray:
    """Rows: <+n| and <-n| of the axis with Bloch vector v (bit 0 = +1 outcome)."""
    x, y, z = v
    op = np.array([[z, x - 1j * y], [x + 1j * y, -z]])
    w, u = np.linalg.eigh(op)
    return u[:, ::-1].conj().T  # +1 eigenvector first


def setting_probabilities(rho: np.ndarray, axes_s: np.ndarray) -> np.ndarray:
    """P(b) of measuring qubit q along axes_s[q] (N, 2), over :func:`all_bits` (2^N,)."""
    u = np.ones((1, 1))
    for v in bloch_vectors(axes_s):
        u = np.kron(u, _eigenbasis(v))
    return np.real(np.einsum("ij,jk,ik->i", u, rho, u.conj()))


def apply_readout(probs: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Bit probabilities as read, ``sum_b' prod_q C_q[b_q, b'_q] P(b')``."""
    n = confusion.shape[0]
    t = probs.reshape([2] * n)
    for q in range(n):
        t = np.moveaxis(np.tensordot(confusion[q], t, axes=([1], [q])), 0, q)
    return t.reshape(-1)


def sample_design(rho: np.ndarray, axes: np.ndarray, shots: list[int], rng: np.random.Generator,
                  confusion: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shots of every setting drawn from exact probabilities: (setting_index, bits)."""
    n = axes.shape[1]
    bits_all = all_bits(n)
    idx, out = [], []
    for s, m in enumerate(shots):
        p = setting_probabilities(rho, axes[s])
        if confusion is not None:
            p = apply_readout(p, confusion)
        p = np.clip(p, 0, None)
        draw = rng.choice(p.size, size=m, p=p / p.sum())
        idx.append(np.full(m, s, dtype=np.int64))
        out.append(bits_all[draw])
    return np.concatenate(idx), np.concatenate(out)


def exact_means(values, probs_per_setting: list[np.ndarray], table: np.ndarray) -> np.ndarray:
    """Per-setting exact means ``sum_b P_s(b) v_s(b)`` of per-shot value functions."""
    n = table.shape[0]
    bits = all_bits(n)
    return np.array([p @ values(s, bits, table[None])[:, 0]
                     for s, p in enumerate(probs_per_setting)])
