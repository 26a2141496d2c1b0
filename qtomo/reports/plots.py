"""The report's figures from a reconstruction: which data each plot of ``report.html`` shows
(drawn by :mod:`qtomo.reports.figures`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qtomo.reconstruction.config import CITYSCAPE_MAX_QUBITS
from qtomo.reports import figures as figs
from qtomo.reports.formatting import reference_label


def make_figures(rec: Any) -> dict[str, bytes | None]:
    """All report figures as PNG bytes (keys: training, zz, x, learning_curve, no_signalling,
    rho).

    Parameters
    ----------
    rec : Reconstruction
        Its ``figures`` data and density matrices.

    Returns
    -------
    dict name -> PNG bytes or None
    """
    fd = rec.figures
    out: dict[str, bytes | None] = {}
    out["training"] = figs.training_curves(fd.get("training_curves"))
    obs = fd.get("observables") or {}
    n = int(fd.get("n_qubits", 0))
    ref = reference_label(rec.report)
    if n > 1 and obs:
        out["zz"] = figs.correlation_vs_distance(_zz_series(obs, ref), "Z")
    if obs:
        out["x"] = figs.site_expectations(_x_series(obs, ref), "X")
    out["learning_curve"] = figs.learning_curve(fd.get("learning_curve"))
    out["no_signalling"] = figs.deviation_heatmap(fd.get("no_signalling"))
    name = fd.get("headline_rho")
    if name and name in rec.rhos:
        rho = rec.rhos[name]
        k = int(round(np.log2(rho.shape[0])))
        title = f"density matrix '{name}' ({k} qubits)"

        if k <= CITYSCAPE_MAX_QUBITS:
            out["rho"] = figs.cityscape(rho, title)
        elif k <= 8:
            out["rho"] = figs.matrix_heatmap(rho, title)
    return out


def _zz_series(obs: dict[str, Any], ref: str) -> dict[str, Any]:
    """<Z_0 Z_r> of the model, the shots (value, stderr) and the exact (lab data: target)
    values, under the name ``ref``."""
    series: dict[str, Any] = {}
    for name in ("model", "direct"):
        s = obs.get(name)
        if s is not None:
            v, e = s.two_point["Z"]
            series[name] = (v[0, 1:], e[0, 1:])
    ex = obs.get("exact")
    if ex is not None:
        series[ref] = ex.two_point["Z"][0][0, 1:]
    return series


def _x_series(obs: dict[str, Any], ref: str) -> dict[str, Any]:
    """<X_i> of the model, the shots (value, stderr) and the exact (lab data: target) values,
    under the name ``ref``."""
    series: dict[str, Any] = {}
    for name in ("model", "direct"):
        s = obs.get(name)
        if s is not None:
            series[name] = s.single["X"]
    ex = obs.get("exact")
    if ex is not None:
        series[ref] = ex.single["X"][0]
    return series


__all__ = ["make_figures"]
