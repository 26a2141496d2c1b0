"""Pauli observables with standard errors from outcome strings, and their exact values.

Estimator (docs/conventions.md, "Observables"): for a Pauli string O the per-shot value is
``Q_O(a) = prod_j Tr[O_j D(a_j)]`` with the frame's duals D, and ``<O> ~ mean_a Q_O(a)``, an
unbiased estimate whose standard error is ``std(Q_O) / sqrt(n)``. Over the measured shots this
is the *direct* estimator (a classical shadow); over strings sampled from a trained model it is
the *model* estimate. The same code serves both: :class:`PauliAccumulator` takes the strings in
chunks (so any number of shots fits in memory) and keeps the sums it needs.

What is estimated, for N qubits (qubit j = column j of the outcome array):

* ``<X_i>, <Y_i>, <Z_i>`` for every site;
* every two-point function ``<P_i P_j>``, i != j, for P in X, Y, Z (symmetric N x N matrices,
  ones on the diagonal);
* the TFIM energy ``E = -J sum_<ij> Z_i Z_j - h sum_i X_i`` (open or periodic bonds) with its
  standard error from the per-shot values of the whole sum (correlations included);
* magnetizations ``m_x = (1/N) sum <X_i>``, ``m_z = (1/N) sum <Z_i>`` and
  ``m_z^2 = (1/N^2) sum_ij <Z_i Z_j>``;
* any user Pauli string (``"Z0 Z5"``);
* optionally (``vector=``), the mean and the full covariance matrix of the per-shot vector
  ``(Q_O1(a), Q_O2(a), ...)`` of a list of Pauli strings (:class:`VectorMoments`), which the
  model-vs-data consistency check (:mod:`qtomo.reconstruction.consistency`) needs: estimates
  from the same shots are correlated.

Exact values come from the dataset's target (state vector, MPS, or the stored ``x_exact`` /
``zz_exact``); with local depolarizing noise p a Pauli string of weight w is scaled by
``(1 - p)^w``, which is the convention of the stored references.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qtomo.errors import InputValueError
from qtomo.povm.born import Estimate, parse_pauli_string
from qtomo.povm.frames import AnyFrame
from qtomo.states.paulis import PAULI
from qtomo.states.statevector import apply_pauli_string as apply_pauli_string
from qtomo.states.statevector import (
    one_site_expectations,
    statevector_expectation,
    two_point_matrix,
)
from qtomo.typing import ComplexArray, FloatArray, Outcomes

LETTERS = ("X", "Y", "Z")
_ROW = {"I": 0, "X": 1, "Y": 2, "Z": 3}
#: Shots processed per chunk.
CHUNK_SHOTS = 1 << 16
#: Shots per block of the covariance accumulation (bounds the (shots, terms) matrix in memory).
VECTOR_CHUNK_SHOTS = 1 << 13


def pauli_name(paulis: Mapping[int, str]) -> str:
    """Canonical name of a Pauli string, factors by site: ``{5: "Z", 0: "Z"}`` -> ``"Z0 Z5"``."""
    return " ".join(f"{paulis[s]}{s}" for s in sorted(paulis))


@dataclass(frozen=True)
class TFIMSpec:
    """Couplings of H = -J sum_<ij> Z_i Z_j - h sum_i X_i."""

    J: float
    h: float
    boundary: str = "open"

    def bonds(self, n: int) -> list[tuple[int, int]]:
        b = [(i, i + 1) for i in range(n - 1)]
        if self.boundary == "periodic" and n > 2:
            b.append((n - 1, 0))
        return b

    def energy_from(self, x: FloatArray, zz: FloatArray) -> float:
        """E from <X_i> and the <Z_i Z_j> matrix."""
        n = len(x)
        return float(-self.J * sum(zz[i, j] for i, j in self.bonds(n)) - self.h * np.sum(x))


def tfim_spec_from_target(target: dict[str, Any]) -> TFIMSpec | None:
    """The TFIM couplings stored with a dataset's target, or None for other targets."""
    if str(target.get("state", "")) != "tfim":
        return None
    J, h = target.get("J"), target.get("h")
    if J is None or h is None or not (np.isfinite(J) and np.isfinite(h)):
        return None
    b = str(target.get("boundary", "open"))
    return TFIMSpec(float(J), float(h), b if b in ("open", "periodic") else "open")


@dataclass
class ObservableSet:
    """Estimates (or exact values) of the standard observables of one source.

    ``single[P]`` is ``(mean (N,), stderr (N,))``, ``two_point[P]`` is
    ``(mean (N, N), stderr (N, N))``; ``scalars`` maps names (``energy``,
    ``magnetization_x``, ``magnetization_z``, ``magnetization_z2``, user strings) to
    :class:`qtomo.povm.born.Estimate`. Exact sets carry stderr 0 and ``n = 0``; missing exact
    values are NaN.
    """

    source: str
    n_samples: int
    single: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    two_point: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    scalars: dict[str, Estimate] = field(default_factory=dict)
    vector: VectorMoments | None = None


@dataclass(frozen=True)
class VectorMoments:
    """Mean and covariance of the per-string vector ``v(a) = (Q_O1(a), ..., Q_Od(a))``.

    Attributes
    ----------
    names : tuple of str
        Canonical names of the d Pauli strings (``"X3"``, ``"Z0 Z2"``), in vector order.
    mean : ndarray, float64, (d,)
        ``mean_a v(a)``: the estimates of ``<O_k>``.
    cov : ndarray, float64, (d, d)
        Sample covariance of ``v(a)`` over the strings (ddof = 1); the covariance of the mean
        is ``cov / n``.
    n : int
        Number of strings.
    """

    names: tuple[str, ...]
    mean: FloatArray
    cov: FloatArray
    n: int

    @property
    def stderr(self) -> FloatArray:
        """Standard errors of the means, ``sqrt(diag(cov) / n)``."""
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None) / self.n)


class PauliAccumulator:
    """Moments of the per-shot Q values of the standard observables, fed chunk by chunk.

    Parameters
    ----------
    frame : Frame or LocalFrames
        The POVM the strings were measured (or sampled) in, one for all qubits or one per
        qubit; its ``pauli_table`` gives ``Tr[P D(a)]``.
    n : int
        Number of qubits.
    strings : dict name -> {site: letter}
        User Pauli strings.
    tfim : TFIMSpec or None
        Couplings for the energy (None: no energy).
    two_point : bool
        Accumulate all two-point functions (N x N per letter).
    vector : sequence of {site: letter}, optional
        Pauli strings whose per-shot vector ``v(a) = (Q_O1(a), ...)`` is accumulated with its
        full covariance (d^2 numbers, O(d^2) work per shot); :meth:`result` returns it as
        ``ObservableSet.vector``.
    """

    def __init__(self, frame: AnyFrame, n: int, *, strings: dict[str, dict[int, str]] | None = None,
                 tfim: TFIMSpec | None = None, two_point: bool = True,
                 vector: Sequence[Mapping[int, str]] | None = None) -> None:
        self.frame, self.n = frame, int(n)
        if not frame.uniform:
            self._tables = np.stack([frame.at(j).pauli_table for j in range(self.n)])
        self.strings = dict(strings or {})
        self.tfim = tfim
        self.with_two = bool(two_point)
        self.count = 0
        self._vec_terms = [dict(t) for t in vector] if vector is not None else None
        if self._vec_terms is not None:
            for t in self._vec_terms:
                if not t or any(not 0 <= s < n or c not in LETTERS for s, c in t.items()):
                    raise InputValueError(
                        f"vector term {t!r}: expected a non-empty {{site: letter}} with sites "
                        f"0..{n - 1} and letters X, Y, Z"
                    )
            d = len(self._vec_terms)
            self._vshift: np.ndarray | None = None  # first block's mean (numerical stability)
            self._v1 = np.zeros(d)
            self._v2 = np.zeros((d, d))
        self._s1 = {p: np.zeros(n) for p in LETTERS}
        self._s2 = {p: np.zeros(n) for p in LETTERS}
        self._c1 = {p: np.zeros((n, n)) for p in LETTERS} if two_point else {}
        self._c2 = {p: np.zeros((n, n)) for p in LETTERS} if two_point else {}
        names = list(self.strings) + ["magnetization_x", "magnetization_z", "magnetization_z2"]
        if tfim is not None:
            names.append("energy")
        self._sc1 = dict.fromkeys(names, 0.0)
        self._sc2 = dict.fromkeys(names, 0.0)

    def update(self, outcomes: Outcomes) -> None:
        """Add a chunk of strings ``(shots, N)`` (any integer dtype, values 0..K-1)."""
        a = np.asarray(outcomes)
        if a.ndim != 2 or a.shape[1] != self.n:
            raise InputValueError(f"outcomes must have shape (shots, {self.n}), got {a.shape}")
        for s in range(0, len(a), CHUNK_SHOTS):
            self._update(a[s : s + CHUNK_SHOTS])

    def _update(self, a: np.ndarray) -> None:
        if self.frame.uniform:
            tab = self.frame.pauli_table
            q = {p: tab[_ROW[p]][a] for p in LETTERS}  # (shots, N) float64 each
        else:  # per-qubit frames: Tr[P D_j(a_j)] from qubit j's own table
            sites = np.arange(self.n)[None, :]
            q = {p: self._tables[sites, _ROW[p], a] for p in LETTERS}
        self.count += len(a)
        for p in LETTERS:
            self._s1[p] += q[p].sum(0)
            self._s2[p] += (q[p] ** 2).sum(0)
            if self.with_two:
                self._c1[p] += q[p].T @ q[p]
                q2 = q[p] ** 2
                self._c2[p] += q2.T @ q2
        per_shot: dict[str, np.ndarray] = {}
        for name, paulis in self.strings.items():
            v = np.ones(len(a))
            for site, letter in paulis.items():
                v = v * q[letter][:, site]
            per_shot[name] = v
        n = self.n
        per_shot["magnetization_x"] = q["X"].mean(1)
        per_shot["magnetization_z"] = q["Z"].mean(1)
        zsum = q["Z"].sum(1)
        # (1/N^2) sum_ij Z_i Z_j with Z_i^2 = 1 on the diagonal: the i = j terms are exactly 1
        per_shot["magnetization_z2"] = (n + zsum**2 - (q["Z"] ** 2).sum(1)) / n**2
        if self.tfim is not None:
            e = -self.tfim.h * q["X"].sum(1)
            for i, j in self.tfim.bonds(n):
                e = e - self.tfim.J * q["Z"][:, i] * q["Z"][:, j]
            per_shot["energy"] = e
        for name, v in per_shot.items():
            self._sc1[name] += float(v.sum())
            self._sc2[name] += float((v**2).sum())
        if self._vec_terms is not None:
            self._update_vector(q)

    def _update_vector(self, q: dict[str, np.ndarray]) -> None:
        terms = self._vec_terms or []
        m = len(q["X"])
        for s in range(0, m, VECTOR_CHUNK_SHOTS):
            e = min(m, s + VECTOR_CHUNK_SHOTS)
            v = np.ones((e - s, len(terms)))
            for k, t in enumerate(terms):
                for site, letter in t.items():
                    v[:, k] *= q[letter][s:e, site]
            if self._vshift is None:
                self._vshift = v.mean(0)
            v -= self._vshift
            self._v1 += v.sum(0)
            self._v2 += v.T @ v

    def result(self, source: str) -> ObservableSet:
        """Means and standard errors (std with ddof=1, over sqrt(n))."""
        m = self.count
        if m < 2:
            raise InputValueError(f"need at least 2 strings to estimate observables, got {m}")
        out = ObservableSet(source=source, n_samples=m)

        def mean_se(s1: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mu = s1 / m
            var = np.maximum(s2 / m - mu**2, 0.0) * m / (m - 1)
            return mu, np.sqrt(var / m)

        for p in LETTERS:
            out.single[p] = mean_se(self._s1[p], self._s2[p])
            if self.with_two:
                mu, se = mean_se(self._c1[p], self._c2[p])
                np.fill_diagonal(mu, 1.0)
                np.fill_diagonal(se, 0.0)
                out.two_point[p] = (mu, se)
        for name in self._sc1:
            mu, se = mean_se(np.array(self._sc1[name]), np.array(self._sc2[name]))
            out.scalars[name] = Estimate(float(mu), float(se), m)
        if self._vec_terms is not None:
            shift = self._vshift if self._vshift is not None else np.zeros(len(self._v1))
            c = self._v1 / m
            cov = (self._v2 - m * np.outer(c, c)) / (m - 1)
            out.vector = VectorMoments(
                names=tuple(pauli_name(t) for t in self._vec_terms), mean=c + shift,
                cov=0.5 * (cov + cov.T), n=m,
            )
        return out


def estimate_observables(
    chunks: Iterable[Outcomes], frame: AnyFrame, n: int, *, source: str,
    strings: dict[str, dict[int, str]] | None = None, tfim: TFIMSpec | None = None,
    two_point: bool = True, vector: Sequence[Mapping[int, str]] | None = None,
) -> ObservableSet:
    """Run a :class:`PauliAccumulator` over ``chunks`` of strings and return the estimates."""
    acc = PauliAccumulator(frame, n, strings=strings, tfim=tfim, two_point=two_point,
                           vector=vector)
    for a in chunks:
        acc.update(a)
    return acc.result(source)


def parse_observables(texts: Iterable[str], n: int) -> dict[str, dict[int, str]]:
    """User strings such as ``"Z0 Z5"`` -> ``{canonical name: {site: letter}}``.

    The canonical name lists the non-identity factors by site (``"Z0 Z5"``); an all-identity
    string is rejected (its expectation is 1 by definition).
    """
    out: dict[str, dict[int, str]] = {}
    for text in texts:
        paulis = parse_pauli_string(text, n)
        if not paulis:
            raise InputValueError(
                f"observable {text!r} is the identity (expectation 1); name at least one of "
                "X, Y, Z on a qubit"
            )
        out[pauli_name(paulis)] = dict(sorted(paulis.items()))
    return out


# --- exact values (state-vector expectations: qtomo.states.statevector) ------------------------
def exact_observables(
    n: int, *, target: dict[str, Any], psi: ComplexArray | None = None, mps: Any = None,
    x_exact: FloatArray | None = None, zz_exact: FloatArray | None = None,
    strings: dict[str, dict[int, str]] | None = None, tfim: TFIMSpec | None = None,
) -> ObservableSet:
    """Exact values of the standard observables for a dataset's target (NaN where unknown).

    Sources, in order of preference: the stored ``x_exact`` / ``zz_exact`` (they include the
    noise already), the state vector ``psi``, the MPS. Values computed from ``psi`` or the MPS
    are multiplied by ``(1 - p)^weight`` for the target's depolarizing noise p.
    """
    strings = dict(strings or {})
    damp = _noise_damping(target)
    out = ObservableSet(source="exact", n_samples=0)
    zero1, zero2 = np.zeros(n), np.zeros((n, n))
    for letter in LETTERS:
        if letter == "X" and x_exact is not None:
            vals = np.asarray(x_exact, dtype=np.float64)
        else:
            vals = _exact_one_site(letter, n, damp, psi, mps)
        out.single[letter] = (vals, zero1)
        if letter == "Z" and zz_exact is not None:
            mat = np.asarray(zz_exact, dtype=np.float64)
        elif psi is not None or mps is not None:
            mat = _exact_pair(letter, n, damp, psi, mps)
        else:
            mat = np.full((n, n), np.nan)
        out.two_point[letter] = (mat, zero2)

    for name, paulis in strings.items():
        v = _exact_string(paulis, damp, psi, mps, x_exact, zz_exact)
        out.scalars[name] = Estimate(v, 0.0, 0)
    x = out.single["X"][0]
    z = out.single["Z"][0]
    zz = out.two_point["Z"][0]
    out.scalars["magnetization_x"] = Estimate(float(np.mean(x)), 0.0, 0)
    out.scalars["magnetization_z"] = Estimate(float(np.mean(z)), 0.0, 0)
    out.scalars["magnetization_z2"] = Estimate(float(np.mean(zz)), 0.0, 0)
    if tfim is not None:
        out.scalars["energy"] = Estimate(tfim.energy_from(x, zz), 0.0, 0)
    return out



def _noise_damping(target: dict[str, Any]) -> float:
    """``1 - p``, the factor a weight-1 Pauli expectation takes from the target's local
    depolarizing noise p (none where the target stores no finite ``noise``)."""
    p = float(target.get("noise", 0.0) or 0.0)
    p = 0.0 if not np.isfinite(p) else p
    return 1.0 - p


def _exact_one_site(letter: str, n: int, damp: float, psi: ComplexArray | None,
                    mps: Any) -> FloatArray:
    """<P_i> of every qubit for the Pauli ``letter``, from ``psi`` or else the MPS, times
    ``damp``; NaN without either."""
    if psi is not None:
        return one_site_expectations(psi, letter) * damp
    if mps is not None:
        return np.asarray(mps.local_expectations(PAULI[letter]).real) * damp
    return np.full(n, np.nan)


def _exact_pair(letter: str, n: int, damp: float, psi: ComplexArray | None,
                mps: Any) -> FloatArray:
    """<P_i P_j> (n, n) for the Pauli ``letter``, from ``psi`` or else the MPS (one of them is
    given), times ``damp^2`` off the diagonal; 1 on it."""
    if psi is not None:
        m = two_point_matrix(psi, letter)
    else:
        m = np.asarray(mps.correlation_matrix(PAULI[letter]).real)
    off = ~np.eye(n, dtype=bool)
    return np.where(off, m * damp**2, 1.0)


def _exact_string(paulis: dict[int, str], damp: float, psi: ComplexArray | None, mps: Any,
                  x_exact: FloatArray | None, zz_exact: FloatArray | None) -> float:
    """The exact value of one Pauli string: from ``psi`` or the MPS times ``damp^weight``,
    else a stored single X or ZZ value, else NaN."""
    if psi is not None:
        return statevector_expectation(psi, paulis) * damp ** len(paulis)
    if mps is not None:
        return float(mps.expectation_pauli(paulis)) * damp ** len(paulis)
    if len(paulis) == 1 and next(iter(paulis.values())) == "X" and x_exact is not None:
        return float(x_exact[next(iter(paulis))])
    if len(paulis) == 2 and set(paulis.values()) == {"Z"} and zz_exact is not None:
        i, j = sorted(paulis)
        return float(zz_exact[i, j])
    return float("nan")


__all__ = [
    "LETTERS",
    "ObservableSet",
    "PauliAccumulator",
    "TFIMSpec",
    "VectorMoments",
    "apply_pauli_string",
    "estimate_observables",
    "exact_observables",
    "parse_observables",
    "pauli_name",
    "statevector_expectation",
    "tfim_spec_from_target",
]
