"""Which observables enter the model-vs-data consistency vector
(:mod:`qtomo.reconstruction.consistency`).

Up to ``ALL_PAIRS_MAX_QUBITS`` = 12 qubits every ``<X_i>, <Y_i>, <Z_i>`` and every two-point
``<P_i P_j>`` (P in X, Y, Z, i < j): 3N + 3N(N-1)/2 terms (165 at N = 10). Beyond, to keep the
O(d^2) work per string bounded, the one-site terms of every site and the nearest-neighbour
``<P_i P_i+1>`` of every bond, thinned to evenly spaced sites when that exceeds ``MAX_TERMS`` =
300. User ``--observable`` strings that are not already in the list are appended.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qtomo.reconstruction.observables import LETTERS, pauli_name

#: Up to this N every pair i < j enters the vector.
ALL_PAIRS_MAX_QUBITS = 12
#: At most this many Pauli strings in the vector beyond ALL_PAIRS_MAX_QUBITS (O(d^2) per string).
MAX_TERMS = 300


def consistency_terms(
    n: int, strings: Mapping[str, Mapping[int, str]] | None = None, *,
    max_terms: int = MAX_TERMS, all_pairs_max_qubits: int = ALL_PAIRS_MAX_QUBITS,
) -> tuple[list[dict[int, str]], str]:
    """The Pauli strings of the consistency vector and a sentence saying how they were chosen.

    Parameters
    ----------
    n : int
        Number of qubits.
    strings : dict name -> {site: letter}, optional
        User strings, appended when not already present.
    max_terms, all_pairs_max_qubits : int
        See the module docstring.

    Returns
    -------
    terms : list of {site: letter}
        One-site terms first (site-major, letters X, Y, Z), then two-point terms.
    selection : str
    """
    if n <= all_pairs_max_qubits:
        sites = list(range(n))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        what = (f"all <X_i>, <Y_i>, <Z_i> and all <P_i P_j> (P = X, Y, Z; i < j) for N = {n} "
                f"<= {all_pairs_max_qubits}")
    else:
        m = n
        while 6 * m - 3 > max_terms and m > 1:
            m -= 1
        sites = sorted({int(round(x)) for x in np.linspace(0, n - 1, m)}) if m < n else \
            list(range(n))
        pairs = [(i, i + 1) for i in sites if i + 1 < n]
        what = (f"N = {n} > {all_pairs_max_qubits}: <X_i>, <Y_i>, <Z_i> and nearest-neighbour "
                f"<P_i P_i+1> (P = X, Y, Z) " + ("at every site" if m == n else
                f"at {len(sites)} evenly spaced sites (at most {max_terms} terms)"))
    terms: list[dict[int, str]] = [{i: p} for i in sites for p in LETTERS]
    terms += [{i: p, j: p} for i, j in pairs for p in LETTERS]
    have = {pauli_name(t) for t in terms}
    extra = 0
    for paulis in (strings or {}).values():
        name = pauli_name(paulis)
        if name not in have:
            terms.append(dict(paulis))
            have.add(name)
            extra += 1
    if extra:
        what += f", and {extra} --observable string(s)"
    return terms, what + f": {len(terms)} observables"


__all__ = ["ALL_PAIRS_MAX_QUBITS", "MAX_TERMS", "consistency_terms"]
