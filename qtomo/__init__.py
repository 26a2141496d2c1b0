"""qtomo: quantum state tomography with generative models.

Conventions (qubit order, POVM outcome order, fidelity convention) are fixed in the
project's physics reference and repeated in each module's docstrings.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
