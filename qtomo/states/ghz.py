"""GHZ state (|0...0> + |1...1>)/sqrt(2): dense vector and exact bond-2 MPS."""

from __future__ import annotations

import numpy as np

from qtomo.errors import InputValueError
from qtomo.states.mps import MAX_STATEVECTOR_QUBITS, MPS
from qtomo.typing import FloatArray


def _check_n(n: int) -> None:
    if int(n) != n or n < 1:
        raise InputValueError(f"number of qubits must be an integer >= 1, got {n}")


def ghz_statevector(n: int) -> FloatArray:
    """Big-endian GHZ state vector (2^n,), float64: amplitude 1/sqrt2 on |0..0> and |1..1>."""
    _check_n(n)
    if n > MAX_STATEVECTOR_QUBITS:
        raise InputValueError(
            f"a dense GHZ vector of {n} qubits does not fit in memory "
            f"(limit {MAX_STATEVECTOR_QUBITS}); use ghz_mps({n})"
        )
    v = np.zeros(2**n)
    v[0] = v[-1] = 1 / np.sqrt(2)
    return v


def ghz_mps(n: int) -> MPS:
    """Exact right-canonical MPS of the n-qubit GHZ state, bond dimension 2 (1 for n = 1).

    Site 0: ``B[0, p, p] = 1/sqrt2``; other sites: ``B[l, p, r] = delta(l, p) delta(p, r)``
    (legs ``vL p vR``), the last one with ``vR`` of size 1.
    """
    _check_n(n)
    if n == 1:
        return MPS([np.full((1, 2, 1), 1 / np.sqrt(2))], form="right")
    first = np.zeros((1, 2, 2))  # vL p vR
    first[0, 0, 0] = first[0, 1, 1] = 1 / np.sqrt(2)
    mid = np.zeros((2, 2, 2))  # vL p vR
    mid[0, 0, 0] = mid[1, 1, 1] = 1.0
    last = np.zeros((2, 2, 1))  # vL p vR
    last[0, 0, 0] = last[1, 1, 0] = 1.0
    tensors = [first] + [mid.copy() for _ in range(n - 2)] + [last]
    sv = [np.full(2, 1 / np.sqrt(2)) for _ in range(n - 1)]
    return MPS(tensors, form="right", singular_values=sv)
