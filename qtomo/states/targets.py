"""The target state of a dataset: one builder for ``qtomo simulate`` and ``qtomo import``.

A :class:`Target` is the pure state a dataset's shots were drawn from (simulation) or that the lab
meant to prepare (import), with its exact reference observables and the attributes stored in the
file's ``/target`` group (see :mod:`qtomo.data.schema`). Conventions as everywhere in qtomo
(docs/conventions.md, "Qubits and bit order"): qubit j is site j of an MPS and bit ``N-1-j`` of a
big-endian state vector (qubit 0 most significant); ``|0>`` is the +1 eigenstate of Z.

Representation, and why
-----------------------
A known target is always kept, so that every dataset's fidelity can be computed:

* ``N <= MAX_PSI_QUBITS`` (16): the dense state vector ``psi`` (as before).
* ``N > MAX_PSI_QUBITS``: an MPS, never ``psi``.

  - GHZ: its exact bond-2 MPS (:func:`qtomo.states.ghz.ghz_mps`), at any N.
  - W, cluster, random product and random MPS: their exact MPS
    (:mod:`qtomo.states.family_mps`; bond 2, 2, 1 and 2), at any N, built from the same random
    draws as the dense vectors of N <= 16; ``x_exact`` and ``zz_exact`` from the MPS.
    A Haar-random state has no small MPS and is refused above 12 qubits.
  - Exact diagonalization (TFIM, N <= 20) and imported state vectors: the vector's MPS by an
    SVD sweep that drops, per bond, only a Schmidt tail of relative weight at most
    ``ROUNDOFF_CUTOFF = 1e-28``, i.e. amplitudes below ~1e-14 of the norm. The MPS then
    reproduces the vector to round-off, below the accuracy of the Lanczos vector itself,
    usually at a bond dimension well below that of an untruncated sweep.
  - DMRG: its own MPS.

  Storing the MPS rather than a larger ``psi`` was chosen because (1) the sampler already
  needs an MPS there (``K^N`` exceeds any Born table for N > 12), so the stored target is
  exactly the state the shots were drawn from; (2) every consumer of a large-N target (exact
  observables, reduced states, the direct fidelity estimate) works on MPS, whereas code that
  meets a dense ``psi`` may build ``2^N x 2^N`` matrices (the noisy target state); (3) the
  schema stays as it was: ``/target/psi`` for N <= 16, ``/target/mps`` above.

``x_exact`` and ``zz_exact`` describe the *measured* state: with local depolarizing noise p,
``<X_i>`` is scaled by ``1 - p`` and ``<Z_i Z_j>`` (i != j) by ``(1 - p)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.states.dmrg import dmrg_tfim
from qtomo.states.exact import tfim_x_expectations, tfim_zz_matrix
from qtomo.states.families import (
    FAMILY_BOUNDARY,
    FAMILY_SYMMETRY,
    HAAR,
    check_family_qubits,
    family_statevector,
)
from qtomo.states.family_mps import family_mps
from qtomo.states.ghz import ghz_mps, ghz_statevector
from qtomo.states.mps import MPS
from qtomo.states.statevector import MAX_PSI_QUBITS, n_qubits_of, x_and_zz
from qtomo.states.tfim import BOUNDARIES, ED_MAX_QUBITS, check_tfim_params, tfim_ground_state
from qtomo.typing import ComplexArray, FloatArray

#: Target states by name (``qtomo simulate --state``).
STATES = ("tfim", "ghz", "w", "cluster", "product", "random-mps", HAAR)
#: Family states: dense vectors of :mod:`qtomo.states.families` up to MAX_PSI_QUBITS, exact MPS
#: of :mod:`qtomo.states.family_mps` above (``haar``: dense only, at most 12 qubits).
FAMILY_STATES = ("w", "cluster", "product", "random-mps", HAAR)
#: Ground-state methods of the TFIM (``auto``: exact diagonalization up to AUTO_ED_MAX qubits).
METHODS = ("auto", "ed", "dmrg")
AUTO_ED_MAX = 14
#: Relative Schmidt weight an SVD sweep may drop per bond when a dense vector becomes an MPS.
ROUNDOFF_CUTOFF = 1e-28


@dataclass
class Target:
    """A pure target state with its exact references.

    Attributes
    ----------
    attrs : dict
        The ``/target`` attributes: state, n_qubits, J, h, boundary, method, noise, seed,
        energy (NaN: none), truncation_error, symmetry, ...
    psi : ndarray (2^N,), float64 or complex128, or None
        Big-endian state vector; set exactly when ``N <= MAX_PSI_QUBITS``.
    mps : MPS or None
        Set exactly when ``N > MAX_PSI_QUBITS`` (legs ``vL p vR``, see :mod:`qtomo.states.mps`).
    x_exact : ndarray (N,) or None
        ``<X_i>`` of the measured (noisy) state.
    zz_exact : ndarray (N, N) or None
        ``<Z_i Z_j>`` of the measured state, ones on the diagonal.
    """

    attrs: dict[str, Any]
    psi: np.ndarray | None = None
    mps: MPS | None = None
    x_exact: FloatArray | None = None
    zz_exact: FloatArray | None = None

    @property
    def n_qubits(self) -> int:
        return int(self.attrs["n_qubits"])

    @property
    def energy(self) -> float:
        """Ground energy of the Hamiltonian (NaN when the target is no ground state)."""
        return float(self.attrs.get("energy", float("nan")))

    def arrays(self) -> dict[str, np.ndarray | None]:
        """The dense arrays stored beside the attributes (``None``: not stored)."""
        return {"psi": self.psi, "x_exact": self.x_exact, "zz_exact": self.zz_exact}

    def __repr__(self) -> str:
        kind = "psi" if self.psi is not None else repr(self.mps) if self.mps is not None else "-"
        return (f"Target(state={self.attrs.get('state')!r}, n_qubits={self.n_qubits}, "
                f"method={self.attrs.get('method')!r}, {kind})")


def statevector_to_mps(psi: ComplexArray) -> MPS:
    """MPS of a dense vector, exact up to round-off (see the module docstring), right-canonical."""
    return MPS.from_statevector(psi, cutoff=ROUNDOFF_CUTOFF)


def resolved_method(state: str, n_qubits: int, method: str = "auto") -> str:
    """The method actually used: ``ed``, ``dmrg`` or ``exact`` (GHZ and the families)."""
    if state == "ghz" or state in FAMILY_STATES:
        return "exact"
    if method == "auto":
        return "ed" if n_qubits <= AUTO_ED_MAX else "dmrg"
    return method


def check_target(state: str, n_qubits: int, *, J: float = 1.0, h: float = 1.0,
                 boundary: str = "open", method: str = "auto", noise: float = 0.0,
                 chi: int = 64, cutoff: float = 1e-10) -> None:
    """Raise :class:`InputValueError` (one line, naming the CLI option) for any bad value."""
    if state not in STATES:
        raise InputValueError(f"unknown state {state!r}; expected one of {STATES}")
    if n_qubits < 1:
        raise InputValueError(f"--n-qubits must be >= 1, got {n_qubits}")
    for name, v in (("J", J), ("h", h), ("noise", noise)):
        if not np.isfinite(v):
            raise InputValueError(f"--{name} must be a finite number, got {v}")
    if not 0.0 <= noise <= 1.0:
        raise InputValueError(f"--noise must lie in [0, 1], got {noise}")
    if boundary not in BOUNDARIES:
        raise InputValueError(f"--boundary must be open or periodic, got {boundary!r}")
    if method not in METHODS:
        raise InputValueError(f"--method must be one of {METHODS}, got {method!r}")
    if chi < 1:
        raise InputValueError(f"--chi must be >= 1, got {chi}")
    if not (np.isfinite(cutoff) and 0.0 <= cutoff < 1.0):
        raise InputValueError(f"--cutoff must lie in [0, 1), got {cutoff}")
    _check_state_size(state, n_qubits, J=J, h=h, boundary=boundary, method=method)


def _check_state_size(state: str, n_qubits: int, *, J: float, h: float, boundary: str,
                      method: str) -> None:
    """The limits of one state: the TFIM's parameters and ED size, the Haar state's N <= 12."""
    if state == HAAR:
        check_family_qubits(n_qubits, HAAR)
    if state == "tfim":
        check_tfim_params(n_qubits, J, h, boundary)
        if method == "ed" and n_qubits > ED_MAX_QUBITS:
            raise InputValueError(
                f"exact diagonalization handles at most {ED_MAX_QUBITS} qubits, got "
                f"{n_qubits}; use --method dmrg (or auto)"
            )


def _base_attrs(state: str, n: int, J: float, h: float, boundary: str,
                method: str, noise: float, seed: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "state": state, "n_qubits": n, "J": J, "h": h, "boundary": boundary,
        "method": method, "noise": noise, "seed": seed, "energy": float("nan"),
        "truncation_error": float("nan"),
        "observables_include_noise": True,
        # qubit permutations that leave the state (and so, with the same POVM and noise on
        # every qubit, the outcome distribution) invariant; used to augment training shots
        "symmetry": "permutation" if state == "ghz" else (
            "translation" if boundary == "periodic" else "reflection"),
    }
    if state in FAMILY_STATES:
        attrs["symmetry"] = FAMILY_SYMMETRY[state]
        attrs["boundary"] = FAMILY_BOUNDARY[state]
    if state != "tfim":
        attrs["J"] = attrs["h"] = float("nan")
    if state == "ghz":
        attrs["boundary"] = "none"
    return attrs


def _set_dense(t: Target, psi: np.ndarray) -> Target:
    """Store a dense pure state: its references, then ``psi`` or its round-off MPS."""
    t.x_exact, t.zz_exact = x_and_zz(psi)
    if n_qubits_of(psi) <= MAX_PSI_QUBITS:
        t.psi = psi
    else:
        t.mps = statevector_to_mps(psi)
    return t


def build_target(
    state: str = "tfim", n_qubits: int = 10, *, J: float = 1.0, h: float = 1.0,
    boundary: str = "open", method: str = "auto", noise: float = 0.0, seed: int = 1234,
    chi: int = 64, cutoff: float = 1e-10,
) -> Target:
    """Construct a pure target state and its exact reference observables.

    Parameters
    ----------
    state : {"tfim", "ghz", "w", "cluster", "product", "random-mps", "haar"}
    n_qubits : int
        N >= 1 (exact diagonalization: N <= 20; haar: N <= 12).
    J, h, boundary :
        TFIM couplings of H = -J sum Z_i Z_{i+1} - h sum X_i and its boundary.
    method : {"auto", "ed", "dmrg"}
        TFIM ground-state method (``auto``: ED up to 14 qubits).
    noise : float
        Local depolarizing strength p; scales the stored references only (the state stays pure).
    seed : int
        Seed of the random families and of DMRG's initial state.
    chi, cutoff :
        DMRG bond cap and discarded Schmidt weight per bond.

    Returns
    -------
    Target
        ``psi`` for N <= 16, an MPS above (see the module docstring).
    """
    check_target(state, n_qubits, J=J, h=h, boundary=boundary, method=method, noise=noise,
                 chi=chi, cutoff=cutoff)
    n = int(n_qubits)
    how = resolved_method(state, n, method)
    t = Target(attrs=_base_attrs(state, n, J, h, boundary, how, noise, seed))
    if state == "ghz":
        if n <= MAX_PSI_QUBITS:
            t.psi = ghz_statevector(n)
        else:
            t.mps = ghz_mps(n)
        t.x_exact = np.full(n, 1.0 if n == 1 else 0.0)
        t.zz_exact = np.ones((n, n))
    elif state in FAMILY_STATES:
        # product / random-mps / haar draw from their own stream of the seed (not the shots')
        if n <= MAX_PSI_QUBITS:
            _set_dense(t, family_statevector(state, n, seed))
        else:
            _set_mps(t, family_mps(state, n, seed))
    elif how == "ed":
        gs = tfim_ground_state(n, J, h, boundary)
        t.attrs["energy"] = gs.energy
        _set_dense(t, gs.psi)
    else:
        _set_dmrg(t, n, J, h, boundary, chi, cutoff, seed)
    return _with_noise(t, noise)


def _set_mps(t: Target, mps: MPS) -> Target:
    """Store an exact MPS target with its references ``<X_i>`` and ``<Z_i Z_j>`` from the MPS."""
    t.mps = mps
    t.x_exact = np.asarray(mps.x_expectations())
    zz = np.asarray(mps.zz_matrix())
    np.fill_diagonal(zz, 1.0)  # Z_i^2 = 1 (the sweep gives 1 up to round-off)
    t.zz_exact = zz
    return t


def _set_dmrg(t: Target, n: int, J: float, h: float, boundary: str,
              chi: int, cutoff: float, seed: int) -> None:
    res = dmrg_tfim(n, J, h, boundary=boundary, chi_max=chi, cutoff=cutoff, seed=seed)
    t.mps = res.mps
    t.attrs["energy"] = float(res.energy)
    t.attrs["truncation_error"] = float(res.truncation_error)
    t.attrs["dmrg_sweeps"] = int(res.sweeps)
    if boundary == "open":
        t.x_exact = tfim_x_expectations(n, J, h)
        t.zz_exact = tfim_zz_matrix(n, J, h)
        t.attrs["exact_observables_source"] = "free fermions"
    else:
        t.x_exact = np.asarray(res.mps.x_expectations())
        t.zz_exact = np.asarray(res.mps.zz_matrix())
        t.attrs["exact_observables_source"] = "dmrg"


def _with_noise(t: Target, p: float) -> Target:
    """Scale the references to the measured state E_p(|psi><psi|) (see the module docstring)."""
    if p > 0 and t.x_exact is not None and t.zz_exact is not None:
        n = t.n_qubits
        t.x_exact = t.x_exact * (1 - p)
        off = ~np.eye(n, dtype=bool)
        t.zz_exact = np.where(off, t.zz_exact * (1 - p) ** 2, 1.0)
    return t


def target_from_statevector(psi: ComplexArray, attrs: dict[str, Any]) -> Target:
    """A target from a given state vector (e.g. a lab's ``.npy`` file), noise-free.

    ``psi`` (big-endian, normalised here) is kept for N <= 16 and becomes its round-off MPS
    above; ``attrs`` are stored as given, with ``n_qubits`` set from ``psi``.
    """
    v = np.asarray(psi)
    v = v / np.linalg.norm(v)
    t = Target(attrs={**attrs, "n_qubits": n_qubits_of(v)})
    return _set_dense(t, v)


__all__ = [
    "AUTO_ED_MAX",
    "FAMILY_STATES",
    "METHODS",
    "ROUNDOFF_CUTOFF",
    "STATES",
    "Target",
    "build_target",
    "check_target",
    "resolved_method",
    "statevector_to_mps",
    "target_from_statevector",
]
