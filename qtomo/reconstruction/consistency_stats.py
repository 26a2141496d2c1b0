"""The statistics of the model-vs-data consistency check
(:mod:`qtomo.reconstruction.consistency`): the chi-square of a difference vector under its
covariance, with a pseudo-inverse on the correlation scale, and its p-values (Hotelling T^2
small-sample correction beside the plain chi-square).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: Eigenvalues of the correlation matrix below this times the largest are dropped.
EIG_RTOL = 1e-9


def chi_square(diff: np.ndarray, cov: np.ndarray, *,
               rtol: float = EIG_RTOL) -> tuple[float, int, int]:
    """``d^T C^+ d`` with a relative eigenvalue cutoff, on the correlation scale.

    Parameters
    ----------
    diff : ndarray (d,)
        Differences of the estimates.
    cov : ndarray (d, d)
        Their covariance matrix (symmetric, positive semi-definite).
    rtol : float
        Eigenvalues of the correlation matrix ``D^-1/2 C D^-1/2`` (D its diagonal) below
        ``rtol`` times the largest are dropped; components with zero variance are left out.

    Returns
    -------
    statistic : float
    rank : int
        Directions kept (the degrees of freedom).
    dropped : int
        Directions dropped (zero variance or below the cutoff).
    """
    d = np.asarray(diff, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)
    var = np.diag(c).copy()
    keep = var > 0
    if not keep.any():
        return 0.0, 0, int(d.size)
    s = np.sqrt(var[keep])
    y = d[keep] / s
    r = c[np.ix_(keep, keep)] / np.outer(s, s)
    w, u = np.linalg.eigh(0.5 * (r + r.T))
    ok = w > rtol * max(float(w.max()), 0.0)
    proj = u[:, ok].T @ y  # components along the kept eigenvectors
    stat = float(np.sum(proj**2 / w[ok]))
    rank = int(ok.sum())
    return stat, rank, int(d.size) - rank


def chi_square_p_values(statistic: float, dof: int, nu: int | None) -> tuple[float, float]:
    """(Hotelling-corrected p, chi-square p) of a statistic with ``dof`` degrees of freedom.

    ``nu`` is the covariance's degrees of freedom (``min(n_D, n_M) - 1``); None or too small
    for the correction (``nu < dof``) gives the chi-square p twice.
    """
    if dof <= 0:
        return 1.0, 1.0
    p_chi2 = float(stats.chi2.sf(statistic, dof))
    if nu is None or nu < dof:
        return p_chi2, p_chi2
    f = statistic * (nu - dof + 1) / (dof * nu)
    return float(stats.f.sf(f, dof, nu - dof + 1)), p_chi2


__all__ = ["EIG_RTOL", "chi_square", "chi_square_p_values"]
