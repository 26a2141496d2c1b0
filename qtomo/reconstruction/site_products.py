"""The qubit-by-qubit product every outcome-table contraction of :mod:`.density` is built from,
and the reuse of its intermediate tables across the evaluations of one fit.

A Born table of Pauli-6 shots at N = 10 has 6^10 entries (484 MB in float64), and the steps
before the last hold about twice as much again. Handed out afresh at every step, those arrays
cost more in the kernel (mapping and clearing pages) than in arithmetic: a maximum-likelihood
fit evaluates them hundreds of times. Inside :func:`reused_buffers` the intermediate steps
write into two buffers kept for the duration, and a caller may pass the last step's array.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class _Buffers(threading.local):
    """Per-thread: None outside :func:`reused_buffers`, else flat arrays by (dtype, slot)."""

    active: dict[tuple[str, int], np.ndarray] | None = None


_BUFFERS = _Buffers()


@contextmanager
def reused_buffers() -> Iterator[None]:
    """Within this block (one thread), the intermediate tables of :func:`site_products` reuse
    two buffers per dtype, grown to the largest step seen; they are released on exit."""
    outer = _BUFFERS.active
    if outer is None:
        _BUFFERS.active = {}
    try:
        yield
    finally:
        if outer is None:
            _BUFFERS.active = None


def _buffer(slot: int, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray | None:
    pool = _BUFFERS.active
    if pool is None:
        return None
    size = shape[0] * shape[1]
    key = (dtype.str, slot)
    buf = pool.get(key)
    if buf is None or buf.size < size:
        pool[key] = buf = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def site_products(mats: np.ndarray, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``(mats[0] (x) ... (x) mats[n-1]) x`` for per-qubit matrices (n, out, in) and a vector
    of in^n entries (qubit 0 slowest), one qubit at a time: each step maps the leading axis
    and rolls it to the back.

    ``out`` (flat, out^n entries, the result's dtype) receives the result if given. Each step
    is ``t^T M^T``, not ``(M t)^T``: BLAS reads the transposed view in place and the product
    comes out contiguous, so rolling the axis costs no copy.
    """
    n, _, d_in = mats.shape
    dtype = np.result_type(mats, x)
    t = x.reshape(d_in, -1)
    for j in range(n):
        a, b = t.T, mats[j].T
        shape = (a.shape[0], b.shape[1])
        if j == n - 1:
            dst = None if out is None else out.reshape(shape)
        else:
            dst = _buffer(j % 2, shape, dtype)
        t = a @ b if dst is None else np.matmul(a, b, out=dst)
        if j < n - 1:
            t = t.reshape(d_in, -1)
    return t.reshape(-1)


def interleaved(rho: np.ndarray, n: int) -> np.ndarray:
    """``rho`` (2^N, 2^N) as a vector, ket and bra legs interleaved: (i_0 j_0)(i_1 j_1)..."""
    perm = [leg for j in range(n) for leg in (j, n + j)]
    return rho.reshape([2] * (2 * n)).transpose(perm).reshape(-1)


def from_interleaved(t: np.ndarray, n: int) -> np.ndarray:
    """The inverse of :func:`interleaved`."""
    perm = [2 * j for j in range(n)] + [2 * j + 1 for j in range(n)]
    return t.reshape([2] * (2 * n)).transpose(perm).reshape(2**n, 2**n)


__all__ = ["from_interleaved", "interleaved", "reused_buffers", "site_products"]
