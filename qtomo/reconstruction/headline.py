"""Which figure heads a report: :func:`headline_fidelity` chooses the fidelity (the model's
MLE state, else the direct estimate, else the raw frequencies' states) and
:func:`headline_rho_name` the density matrix the report draws. The fallback for a model the
consistency check rejects is :func:`qtomo.reconstruction.quantum.fallback_fidelity`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qtomo.povm.born import Estimate
from qtomo.reconstruction.schema import CONVENTIONS, estimate_entry


def headline_fidelity(quantum: dict[str, Any], direct: Estimate | None) -> dict[str, Any]:
    """The model's MLE state; else the direct estimate from the shots; else the MLE (or
    projected) state of the raw frequencies. Every one is the squared fidelity to the ideal
    target |psi>; ``exact`` is <psi|sigma|psi> of the state the shots came from, when known.

    Parameters
    ----------
    quantum : dict
        ``report["quantum"]`` (its ``model`` and ``data`` states).
    direct : Estimate or None
        The direct estimate from the shots.
    """
    conv = CONVENTIONS["quantum_fidelity"]
    exact = {"exact": quantum["exact_fidelity"]} if "exact_fidelity" in quantum else {}
    for src, label in (("model", "model"), ("data", "raw shot frequencies")):
        sec = quantum.get(src, {})
        if src == "data" and direct is not None:
            return {**estimate_entry(direct), **exact, "source": "direct estimate from the "
                    "measured shots (unbiased)", "convention": CONVENTIONS["direct_fidelity"]}
        for kind, what in (("mle", "maximum-likelihood physical state fitted to the"),
                           ("projected", "inversion, projected to a physical state, of the")):
            e = sec.get(kind)
            if e and e.get("fidelity") is not None:
                table = "model's outcome table" if src == "model" else label
                w = (sec.get("blend") or {}).get("weight") if kind == "mle" else None
                if w:
                    table += (f" mixed with the frequencies of all its shots (weight {w:g}, "
                              "chosen by the validation shots and the two estimates' errors)")
                return {"value": e["fidelity"], "stderr": None, **exact,
                        "source": f"{src}: {what} {table} (point estimate, no error bar)",
                        "convention": conv}
    return {"value": None, "stderr": None, "source": "not computable (no target state vector "
            "stored, or N too large)", "convention": conv}


def headline_rho_name(rhos: dict[str, np.ndarray]) -> str | None:
    """The density matrix the report draws: the model's MLE or projected state, else the raw
    frequencies'."""
    for name in ("model_mle", "model_projected", "data_mle", "data_projected"):
        if name in rhos:
            return name
    return None


__all__ = ["headline_fidelity", "headline_rho_name"]
