"""Single-qubit Pauli matrices and Pauli strings: the one definition every layer uses.

Conventions (docs/conventions.md, "Qubits and bit order"): operators act on the basis
``(|0>, |1>)`` with ``|0>`` the +1 eigenstate of Z. A Pauli string on N qubits is a mapping
``{site: letter}`` with letters ``X``, ``Y``, ``Z`` (identity sites left out); site j is qubit j
(column j of every outcome array, site j of every MPS).

This module sits in the lowest physics layer (:mod:`qtomo.states`) so that states, POVM frames
and the reconstruction all share it.
"""

from __future__ import annotations

import re

import numpy as np

from qtomo.errors import InputValueError

I2 = np.eye(2, dtype=np.complex128)
X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)
#: Single-qubit Pauli matrices (complex128, 2 x 2) indexed by letter.
PAULI = {"I": I2, "X": X, "Y": Y, "Z": Z}

_TERM = re.compile(r"^([IXYZ])(\d+)$")


def parse_pauli_string(text: str, n_qubits: int) -> dict[int, str]:
    """Parse ``"Z0 Z5"`` (or ``"X3"``, ``"Z0*Z1"``) into ``{site: letter}``.

    Identity factors (``I2``) are accepted and left out of the result. Raises
    :class:`~qtomo.errors.InputValueError` naming the bad term.
    """
    terms = [t for t in re.split(r"[\s*,]+", text.strip().upper()) if t]
    if not terms:
        raise InputValueError(f"empty observable {text!r}; expected e.g. 'Z0 Z5'")
    out: dict[int, str] = {}
    for term in terms:
        m = _TERM.match(term)
        if not m:
            raise InputValueError(
                f"observable term {term!r} in {text!r} is not a Pauli letter X, Y, Z or I "
                "followed by a qubit index, e.g. 'Z0 Z5'"
            )
        site = int(m.group(2))
        if site >= n_qubits:
            raise InputValueError(
                f"observable {text!r} names qubit {site}, but the data has {n_qubits} qubits "
                f"(0..{n_qubits - 1})"
            )
        if site in out:
            raise InputValueError(f"observable {text!r} names qubit {site} twice")
        if m.group(1) != "I":
            out[site] = m.group(1)
    return out


__all__ = ["I2", "PAULI", "X", "Y", "Z", "parse_pauli_string"]
