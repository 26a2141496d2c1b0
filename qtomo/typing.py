"""Shared type aliases for qtomo's public API."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Outcome strings, shape ``(shots, N)``, dtype ``uint8``, values ``0..K-1``.
Outcomes = npt.NDArray[np.uint8]
#: Real float64 array.
FloatArray = npt.NDArray[np.float64]
#: Complex128 array (state vectors, density matrices, POVM elements).
ComplexArray = npt.NDArray[np.complex128]
#: Seed or generator accepted by the samplers.
SeedLike = int | np.random.Generator | None

__all__ = ["Outcomes", "FloatArray", "ComplexArray", "SeedLike"]
