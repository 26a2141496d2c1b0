"""What a lab-scale fidelity estimator returns: :class:`ProtocolResult`.

Error bars follow docs/conventions.md ("Error bars"): ``stderr`` is one standard error, here the
standard deviation of bootstrap replicates (shots resampled in every setting; settings
resampled where they were drawn at random; a fresh draw of the readout calibration per
replicate where it was estimated), ``stderr_analytic`` the propagated shot noise where it has a
closed form; ``ci95`` is ``value +- 1.96 stderr`` for a two-sided estimate, and
``[lower_bound95, 1]`` for a one-sided bound (the energy protocol).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Two-sided and one-sided 95% normal quantiles.
Z95 = 1.959963984540054
Z95_ONE_SIDED = 1.6448536269514722
#: The assumption a readout correction adds.
READOUT_ASSUMPTION = ("readout errors independent between qubits, as per-qubit confusion "
                      "matrices describe, corrected on every qubit's +-1 value")


@dataclass(frozen=True)
class ProtocolResult:
    """A fidelity (or a certified lower bound) from a planned lab-scale protocol.

    Attributes
    ----------
    protocol : ``"parity"``, ``"stabilizer"`` or ``"energy"``
    value : float
        The fidelity estimate ``<psi|rho|psi>`` (squared convention); for ``energy`` the bound
        ``(E1 - <H>) / (E1 - E0)`` at the measured energy.
    stderr : float
        Bootstrap standard error (NaN without bootstrap replicates).
    stderr_analytic : float or None
        Shot noise propagated in closed form, where simple.
    ci95 : (float, float)
        Two-sided 95% interval, or ``[lower_bound95, 1]`` for a one-sided bound.
    lower_bound95 : float or None
        One-sided 95% lower confidence bound (energy protocol).
    n_settings, n_shots : int
    assumptions : tuple of str
        What the figure takes for granted, in words.
    details : dict
        Protocol-specific figures (populations and coherence; energy, E0, E1; ...).
    """

    protocol: str
    value: float
    stderr: float
    stderr_analytic: float | None
    ci95: tuple[float, float]
    lower_bound95: float | None
    n_settings: int
    n_shots: int
    assumptions: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def one_sided(self) -> bool:
        return self.lower_bound95 is not None

    def to_json(self) -> dict[str, Any]:
        """The JSON block (plain floats and lists)."""
        return {
            "protocol": self.protocol, "value": float(self.value),
            "stderr": _num(self.stderr), "stderr_analytic": _num(self.stderr_analytic),
            "ci95": [float(self.ci95[0]), float(self.ci95[1])],
            "ci95_kind": "one-sided lower bound, [bound, 1]" if self.one_sided
            else "value +- 1.96 stderr (bootstrap)",
            "lower_bound95": _num(self.lower_bound95),
            "n_settings": int(self.n_settings), "n_shots": int(self.n_shots),
            "assumptions": list(self.assumptions), "details": _plain(self.details),
        }


def with_readout(words: tuple[str, ...], readout: Any) -> tuple[str, ...]:
    """``words`` plus :data:`READOUT_ASSUMPTION` when a readout is corrected."""
    return words if readout is None else (*words, READOUT_ASSUMPTION)


def normal_interval(value: float, stderr: float) -> tuple[float, float]:
    """``value +- 1.96 stderr``."""
    return float(value - Z95 * stderr), float(value + Z95 * stderr)


def bootstrap_stderr(replicates: np.ndarray | None) -> float:
    """Standard deviation (ddof 1) of finite replicate values; NaN with fewer than two."""
    if replicates is None:
        return float("nan")
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    return float(r.std(ddof=1)) if r.size > 1 else float("nan")


def stderr_or_analytic(boot: float, analytic: float | None) -> float:
    """The bootstrap standard error, or the analytic one where there are no replicates."""
    if np.isfinite(boot) or analytic is None:
        return boot
    return float(analytic)


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _plain(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    if isinstance(o, np.ndarray):
        return _plain(o.tolist())
    if isinstance(o, np.generic):
        return o.item()
    return o


__all__ = ["READOUT_ASSUMPTION", "Z95", "Z95_ONE_SIDED", "ProtocolResult", "bootstrap_stderr",
           "normal_interval", "stderr_or_analytic", "with_readout"]
