"""Normalizing-flow parts shared by the flow models (zuko-style: a named flow is a
constructor that composes these transforms with a base distribution).

Every transform maps data x to latent z (``forward(x, context) -> (z, log|det dz/dx|)``,
the log-determinant of shape ``(batch,)``) and back (``inverse(z, context) -> x``), exactly.
"""

from qtomo.models.flows.dequantization import ArgmaxDequantizer
from qtomo.models.flows.transforms import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    DiagonalScale,
    Flow,
    InvertibleLinear,
    Permutation,
    Transform,
)

__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "ArgmaxDequantizer",
    "DiagonalScale",
    "Flow",
    "InvertibleLinear",
    "Permutation",
    "Transform",
]
