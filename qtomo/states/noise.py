"""Local depolarizing noise: E_p(rho) = (1 - p) rho + p Tr_j[rho] (x) I/2 on every qubit j.

For sampling, the equivalent Heisenberg-picture POVM is ``Frame.depolarized(p)``.
"""

from __future__ import annotations

import numpy as np

from qtomo.errors import InputValueError
from qtomo.typing import ComplexArray


def depolarize(rho: ComplexArray, p: float) -> ComplexArray:
    """Apply the local depolarizing channel of strength ``p`` to every qubit of ``rho``."""
    if not 0.0 <= p <= 1.0:
        raise InputValueError(f"noise must lie in [0, 1], got {p}")
    rho = np.asarray(rho, dtype=np.complex128)
    dim = rho.shape[0]
    n = int(round(np.log2(dim)))
    t = rho.reshape([2] * (2 * n))
    for j in range(n):
        # partial trace over qubit j, then put I/2 back   # legs: ket j at j, bra j at n+j
        tr = np.trace(t, axis1=j, axis2=n + j)
        mixed = np.expand_dims(np.expand_dims(tr, j), n + j) * (np.eye(2) / 2).reshape(
            [2 if k in (j, n + j) else 1 for k in range(2 * n)]
        )
        t = (1 - p) * t + p * mixed
    return t.reshape(dim, dim)
