"""A small dense simulator of a device that measures Pauli settings, optionally drifting.

Independent of the code it tests: every setting's POVM is built as full 2^N x 2^N Kronecker
products and its Born probabilities as traces. A drifting device rotates each qubit's
measurement axis, in every setting, by a fresh random angle of standard deviation ``sigma``
about a random axis perpendicular to it; a device whose readout drifts misreads the bits with
flip probabilities redrawn per setting (:func:`misread`). Used by the device-check tests and by
``scripts/bench_device_errorbars.py``.
"""

from __future__ import annotations

import itertools
from functools import reduce

import numpy as np

_SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=np.complex128)
_AXIS = {"X": (1.0, 0.0, 0.0), "Y": (0.0, 1.0, 0.0), "Z": (0.0, 0.0, 1.0)}


def pauli_settings(n: int) -> list[str]:
    """All 3^N Pauli settings, qubit 0 first, in lexicographic order X < Y < Z."""
    return ["".join(s) for s in itertools.product("XYZ", repeat=n)]


def ghz(n: int) -> np.ndarray:
    v = np.zeros(2**n, dtype=np.complex128)
    v[0] = v[-1] = 2**-0.5
    return v


def w_state(n: int) -> np.ndarray:
    v = np.zeros(2**n, dtype=np.complex128)
    v[[1 << (n - 1 - q) for q in range(n)]] = n**-0.5
    return v


def haar(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return v / np.linalg.norm(v)


def depolarized(psi: np.ndarray, p: float) -> np.ndarray:
    """E_p^{(x) N}(|psi><psi|), local depolarizing p on every qubit."""
    n = int(np.log2(psi.size))
    rho = np.outer(psi, psi.conj()).reshape((2,) * (2 * n))
    for q in range(n):
        traced = np.trace(rho, axis1=q, axis2=n + q)  # the other qubits
        mixed = np.multiply.outer(traced, np.eye(2) / 2)  # qubit q's legs last
        mixed = np.moveaxis(mixed, (2 * n - 2, 2 * n - 1), (q, n + q))
        rho = (1 - p) * rho + p * mixed
    return rho.reshape(2**n, 2**n)


def axes(settings: list[str], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Unit measurement axes (S, N, 3): each letter's axis rotated by an angle ~ N(0, sigma)
    about a uniformly random axis perpendicular to it (sigma = 0: the ideal axes)."""
    a = np.array([[_AXIS[c] for c in s] for s in settings])
    if sigma == 0:
        return a
    r = rng.normal(size=a.shape)
    perp = r - (r * a).sum(-1, keepdims=True) * a
    perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
    theta = sigma * rng.normal(size=a.shape[:2])[..., None]
    return np.cos(theta) * a + np.sin(theta) * perp


def projectors(ax: np.ndarray) -> np.ndarray:
    """Elements (S, N, 2, 2, 2) of bit 0 / 1 along the axes: (I +- n.sigma) / 2."""
    ns = np.einsum("sqk,kij->sqij", ax, _SIGMA)
    eye = np.eye(2)
    return np.stack([(eye + ns) / 2, (eye - ns) / 2], axis=2)


def misread(proj: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """Elements (S, N, 2, 2, 2) of bits misread with per-setting flips (S, N, 2) =
    (P(1|0), P(0|1)): E'(0) = (1 - f0) E(0) + f1 E(1), E'(1) = f0 E(0) + (1 - f1) E(1)."""
    f0, f1 = flips[..., 0, None, None], flips[..., 1, None, None]
    e0, e1 = proj[:, :, 0], proj[:, :, 1]
    return np.stack([(1 - f0) * e0 + f1 * e1, f0 * e0 + (1 - f1) * e1], axis=2)


def probabilities(rho: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """p(s, b) = Tr[rho E(s, b_0) (x) ... (x) E(s, b_{N-1})] by dense Kronecker products,
    (S, 2^N), qubit 0 the most significant bit of b."""
    s_count, n = proj.shape[:2]
    out = np.empty((s_count, 2**n))
    for s in range(s_count):
        for k, bits in enumerate(itertools.product((0, 1), repeat=n)):
            e = reduce(np.kron, [proj[s, q, b] for q, b in enumerate(bits)])
            out[s, k] = np.real(np.trace(rho @ e))
    return out


def sample_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial counts (S, 2^N) with ``shots`` per setting."""
    p = np.clip(probs, 0, None)
    return np.stack([rng.multinomial(shots, row / row.sum()) for row in p])


def pauli6_outcomes(settings: list[str], counts: np.ndarray) -> np.ndarray:
    """Pauli-6 outcome rows (shots, N) uint8 of per-setting counts (a = 2 basis + bit)."""
    n = len(settings[0])
    bits = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.uint8)
    rows = []
    for s, row in zip(settings, counts, strict=True):
        basis = np.array(["XYZ".index(c) for c in s], dtype=np.uint8)
        rows.append(np.repeat(2 * basis[None, :] + bits, row, axis=0))
    return np.concatenate(rows).astype(np.uint8)


def fidelity(psi: np.ndarray, rho: np.ndarray) -> float:
    return float(np.real(psi.conj() @ rho @ psi))


__all__ = ["axes", "depolarized", "fidelity", "ghz", "haar", "misread", "pauli6_outcomes",
           "pauli_settings", "probabilities", "projectors", "sample_counts", "w_state"]
