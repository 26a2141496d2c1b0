"""State-vector builders of further target families: W, cluster, random product, random MPS
and Haar-random states.

Conventions (as everywhere in qtomo, see docs/conventions.md, "Qubits and bit order"): a state
vector of ``N`` qubits has shape ``(2^N,)`` and is big-endian, qubit 0 being the most significant
bit (``np.kron(q0, np.kron(q1, ...))``); ``|0>`` is the +1 eigenstate of Z. Every builder returns a
normalised vector and refuses ``N > FAMILY_MAX_QUBITS`` (the largest state vector a dataset file
stores, :data:`qtomo.states.statevector.MAX_PSI_QUBITS`). Above that, the same states are built
as exact MPS by :mod:`qtomo.states.family_mps` (from the same random draws). The Haar-random
state is the exception: its entanglement follows a volume law (an MPS needs bond dimension
``2^(N/2)``), so it exists only as a dense vector of at most ``HAAR_MAX_QUBITS`` qubits.

The random families are reproducible: the same ``seed`` gives the same state. Their random
stream is ``np.random.default_rng([seed, tag])`` with a family tag, so it is independent of the
stream ``qtomo simulate`` draws its shots from with the same ``--seed``.
"""

from __future__ import annotations

import numpy as np

from qtomo.errors import InputValueError
from qtomo.states.statevector import MAX_PSI_QUBITS
from qtomo.typing import ComplexArray, FloatArray

#: Largest number of qubits of the dense state vectors here (2^N amplitudes); targets above
#: it are the MPS of :mod:`qtomo.states.family_mps`.
FAMILY_MAX_QUBITS = MAX_PSI_QUBITS
#: Largest N of a Haar-random state. Its MPS, which the shot sampler builds once the Born
#: table (K^N entries) is too large, has bond dimension 2^(N/2): 64 at N = 12.
HAAR_MAX_QUBITS = 12
#: Family names as ``qtomo simulate --state`` spells them, with an exact MPS at any N.
FAMILIES = ("w", "cluster", "product", "random-mps")
#: The Haar-random family (``qtomo simulate --state haar``): dense only, N <= HAAR_MAX_QUBITS.
HAAR = "haar"
#: Qubit permutations that leave each family's state invariant (the ``symmetry`` a dataset
#: declares for training augmentation; see :mod:`qtomo.training.symmetry`).
FAMILY_SYMMETRY = {"w": "permutation", "cluster": "reflection", "product": "none",
                   "random-mps": "none", HAAR: "none"}
#: Chain boundary stored with each family's target ("none": not a chain).
FAMILY_BOUNDARY = {"w": "none", "cluster": "open", "product": "none", "random-mps": "open",
                   HAAR: "none"}

_TAG_PRODUCT = 0x9D0C
_TAG_MPS = 0x3A95
_TAG_HAAR = 0x4AA2


def check_family_qubits(n: int, family: str = "this state") -> None:
    """Raise :class:`InputValueError` (one line) unless ``1 <= n <= FAMILY_MAX_QUBITS``
    (``HAAR_MAX_QUBITS`` for the Haar-random family)."""
    if int(n) != n or n < 1:
        raise InputValueError(f"the number of qubits must be an integer >= 1, got {n}")
    if family == HAAR and n > HAAR_MAX_QUBITS:
        raise InputValueError(
            f"a Haar-random state holds at most {HAAR_MAX_QUBITS} qubits, got {n}: it is "
            "highly entangled, so no small MPS describes it and its dense vector stays small"
        )
    if n > FAMILY_MAX_QUBITS:
        raise InputValueError(
            f"a dense {family} state vector holds at most {FAMILY_MAX_QUBITS} qubits, got {n}; "
            "build its MPS (qtomo.states.family_mps.family_mps) for more"
        )


def _bits(n: int) -> np.ndarray:
    """``bits[s, i]``: qubit i of basis state s (qubit 0 = most significant bit), int64."""
    idx = np.arange(2**n, dtype=np.int64)
    return (idx[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1


def w_statevector(n: int) -> FloatArray:
    """W state ``(|10..0> + |010..0> + ... + |0..01>)/sqrt(N)``.

    Parameters
    ----------
    n : int
        Number of qubits, ``1 <= n <= FAMILY_MAX_QUBITS``.

    Returns
    -------
    ndarray, float64, shape (2^n,)
        Big-endian: amplitude ``1/sqrt(n)`` on the ``n`` basis states with exactly one qubit in
        ``|1>`` (index ``2^(n-1-i)`` for qubit i), zero elsewhere. Exact moments:
        ``<Z_i> = 1 - 2/n`` and ``<X_i X_j> = <Y_i Y_j> = 2/n`` for ``i != j``.
    """
    check_family_qubits(n, "w")
    v = np.zeros(2**n)
    v[1 << (n - 1 - np.arange(n))] = 1.0 / np.sqrt(n)
    return v


def cluster_statevector(n: int) -> FloatArray:
    """1-D open-chain cluster state ``prod_{i=0}^{N-2} CZ_{i,i+1} |+>^N``.

    Parameters
    ----------
    n : int
        Number of qubits, ``1 <= n <= FAMILY_MAX_QUBITS``.

    Returns
    -------
    ndarray, float64, shape (2^n,)
        Big-endian amplitudes ``psi[b] = 2^(-n/2) (-1)^(sum_i b_i b_{i+1})``. The state is the
        +1 eigenstate of the stabilisers ``X_0 Z_1``, ``Z_{i-1} X_i Z_{i+1}`` (0 < i < n-1) and
        ``Z_{n-2} X_{n-1}`` (``X_0`` alone for n = 1). It is invariant under reflection of the
        chain.
    """
    check_family_qubits(n, "cluster")
    b = _bits(n)
    parity = np.sum(b[:, :-1] * b[:, 1:], axis=1) & 1
    return (1 - 2 * parity).astype(np.float64) / np.sqrt(2.0**n)


def haar_qubit_states(n: int, seed: int) -> ComplexArray:
    """``n`` independent Haar-random single-qubit states, shape ``(n, 2)`` complex128.

    Row ``j`` is ``(<0|q_j>, <1|q_j>)``: a normalised complex Gaussian 2-vector, which is
    Haar-distributed on the Bloch sphere. Reproducible from ``seed``.
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, _TAG_PRODUCT])
    q = rng.standard_normal((n, 2)) + 1j * rng.standard_normal((n, 2))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def product_statevector(n: int, seed: int) -> ComplexArray:
    """Seeded random product state ``|q_0> (x) |q_1> (x) ... (x) |q_{N-1}>``.

    Parameters
    ----------
    n : int
        Number of qubits, ``1 <= n <= FAMILY_MAX_QUBITS``.
    seed : int
        Seed of the random stream (independent of the shot stream with the same seed).

    Returns
    -------
    ndarray, complex128, shape (2^n,)
        Big-endian ``np.kron(q_0, np.kron(q_1, ...))`` with each ``q_j`` Haar-random
        (:func:`haar_qubit_states`). Every single-qubit reduced state is pure and all connected
        correlations vanish.
    """
    check_family_qubits(n, "product")
    psi = np.ones(1, dtype=np.complex128)
    for q in haar_qubit_states(n, seed):
        psi = np.kron(psi, q)
    return psi


def random_mps_tensors(n: int, seed: int, chi: int = 2) -> list[ComplexArray]:
    """Tensors of a seeded random open-boundary MPS (not normalised).

    Tensor ``j`` has legs ``vL p vR`` and shape ``(min(chi, 2^j), 2, min(chi, 2^(n-j-1)))``
    bounded by ``chi`` (so ``chi_0 = chi_N = 1``); entries are i.i.d. standard complex Gaussians.
    """
    if chi < 1:
        raise InputValueError(f"the bond dimension must be >= 1, got {chi}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, _TAG_MPS, int(chi)])
    dims = [min(chi, 2**min(j, n - j)) for j in range(n + 1)]  # bond j sits left of site j
    out = []
    for j in range(n):
        shape = (dims[j], 2, dims[j + 1])  # vL p vR
        out.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2))
    return out


def random_mps_statevector(n: int, seed: int, chi: int = 2) -> ComplexArray:
    """Seeded random MPS of bond dimension ``chi`` (default 2), open boundary, as a vector.

    Parameters
    ----------
    n : int
        Number of qubits, ``1 <= n <= FAMILY_MAX_QUBITS``.
    seed : int
        Seed of the random tensors (independent of the shot stream with the same seed).
    chi : int
        Bond dimension; the Schmidt rank across every cut is at most ``chi``.

    Returns
    -------
    ndarray, complex128, shape (2^n,)
        Normalised, big-endian amplitudes
        ``psi[p_0..p_{n-1}] = A_0[0, p_0, :] @ A_1[:, p_1, :] @ ... @ A_{n-1}[:, p_{n-1}, 0]``
        of the tensors of :func:`random_mps_tensors`.
    """
    check_family_qubits(n, "random-mps")
    tensors = random_mps_tensors(n, seed, chi)
    psi = tensors[0].reshape(2, -1)  # (p_0) vR
    for a in tensors[1:]:
        # (p_<j) vL , vL p vR -> (p_<j) p vR
        psi = np.tensordot(psi, a, axes=([1], [0])).reshape(-1, a.shape[2])
    psi = psi.reshape(-1)
    return psi / np.linalg.norm(psi)


def haar_statevector(n: int, seed: int) -> ComplexArray:
    """Seeded Haar-random pure state of ``n`` qubits.

    Parameters
    ----------
    n : int
        Number of qubits, ``1 <= n <= HAAR_MAX_QUBITS``.
    seed : int
        Seed of the random stream (independent of the shot stream with the same seed).

    Returns
    -------
    ndarray, complex128, shape (2^n,)
        A normalised vector of i.i.d. standard complex Gaussian amplitudes, which is distributed
        by the unitarily invariant (Haar) measure on pure states. Two independent draws have
        ``|<a|b>|^2 ~ Beta(1, 2^n - 1)``: mean ``2^-n``, second moment ``2 / (2^n (2^n + 1))``.
    """
    check_family_qubits(n, HAAR)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, _TAG_HAAR, int(n)])
    psi = rng.standard_normal(2**n) + 1j * rng.standard_normal(2**n)
    return psi / np.linalg.norm(psi)


def family_statevector(family: str, n: int, seed: int = 0) -> np.ndarray:
    """The state vector of ``family`` (one of :data:`FAMILIES` or :data:`HAAR`) on ``n``
    qubits."""
    if family == "w":
        return w_statevector(n)
    if family == "cluster":
        return cluster_statevector(n)
    if family == "product":
        return product_statevector(n, seed)
    if family == "random-mps":
        return random_mps_statevector(n, seed)
    if family == HAAR:
        return haar_statevector(n, seed)
    raise InputValueError(
        f"unknown state family {family!r}; expected one of {(*FAMILIES, HAAR)}")


__all__ = [
    "FAMILIES",
    "FAMILY_BOUNDARY",
    "FAMILY_MAX_QUBITS",
    "FAMILY_SYMMETRY",
    "HAAR",
    "HAAR_MAX_QUBITS",
    "check_family_qubits",
    "cluster_statevector",
    "family_statevector",
    "haar_qubit_states",
    "haar_statevector",
    "product_statevector",
    "random_mps_statevector",
    "random_mps_tensors",
    "w_statevector",
]
