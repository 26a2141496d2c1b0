"""Figures of the lab report, rendered with matplotlib (Agg) to PNG bytes.

Every function takes plain arrays and returns PNG bytes (or None when there is nothing to
draw), so the HTML page can embed them as ``data:`` URIs and stay one self-contained file.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

DPI = 110


def _plt():  # pyplot module
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def training_curves(metrics: dict[str, list[float]] | None) -> bytes | None:
    """Training loss and validation NLL per epoch; F_c and KL on a second panel when logged."""
    if not metrics or "epoch" not in metrics or not metrics["epoch"]:
        return None
    plt = _plt()
    ep = np.asarray(metrics["epoch"], dtype=float)
    has_cf = "classical_fidelity" in metrics and np.isfinite(metrics["classical_fidelity"]).any()
    fig, axes = plt.subplots(1, 2 if has_cf else 1, figsize=(10 if has_cf else 5.5, 3.6))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    for key, label in (("train_loss", "training loss"), ("val_nll", "validation NLL")):
        if key in metrics:
            ax.plot(ep, metrics[key], marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per string")
    ax.set_title("training curves")
    ax.legend()
    ax.grid(alpha=0.3)
    if has_cf:
        ax = axes[1]
        cf = np.asarray(metrics["classical_fidelity"], dtype=float)
        ax.plot(ep, 1 - cf, marker="o", ms=3, label="1 - classical fidelity")
        if "kl_divergence" in metrics:
            ax.plot(ep, metrics["kl_divergence"], marker="s", ms=3, label="KL(P||Q)")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("scores on evaluation shots")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
    return _png(fig)


def correlation_vs_distance(series: dict[str, tuple[np.ndarray, np.ndarray] | np.ndarray],
                            letter: str = "Z") -> bytes | None:
    """<P_0 P_r> against r: estimates with error bars (value, stderr) and exact values (array)."""
    if not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    shift = {"model": -0.08, "direct": 0.08}
    markers = {"model": "o", "direct": "s"}
    for name, s in series.items():
        if isinstance(s, tuple):
            v, e = (np.asarray(x, dtype=float) for x in s)
            r = np.arange(1, len(v) + 1)
            ax.errorbar(r + shift.get(name, 0), v, yerr=e, fmt=markers.get(name, "^"), ms=4,
                        capsize=2, label=f"{name} (+- 1 s.e.)")
    for name, s in series.items():
        if not isinstance(s, tuple):
            v = np.asarray(s, dtype=float)
            if np.isfinite(v).any():
                ax.plot(np.arange(1, len(v) + 1), v, "k-", lw=1.2, label=name)
    ax.set_xlabel("distance r")
    ax.set_ylabel(f"<{letter}_0 {letter}_r>")
    ax.set_title(f"two-point correlation <{letter}_0 {letter}_r>")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def site_expectations(series: dict[str, tuple[np.ndarray, np.ndarray] | np.ndarray],
                      letter: str = "X") -> bytes | None:
    """<P_i> against the site i: estimates with error bars and exact values."""
    if not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    shift = {"model": -0.12, "direct": 0.12}
    markers = {"model": "o", "direct": "s"}
    for name, s in series.items():
        if isinstance(s, tuple):
            v, e = (np.asarray(x, dtype=float) for x in s)
            i = np.arange(len(v))
            ax.errorbar(i + shift.get(name, 0), v, yerr=e, fmt=markers.get(name, "^"), ms=4,
                        capsize=2, label=f"{name} (+- 1 s.e.)")
    for name, s in series.items():
        if not isinstance(s, tuple):
            v = np.asarray(s, dtype=float)
            if np.isfinite(v).any():
                ax.plot(np.arange(len(v)), v, "k_", ms=14, mew=2, label=name)
    ax.set_xlabel("site i")
    ax.set_ylabel(f"<{letter}_i>")
    ax.set_title(f"per-site <{letter}_i>")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def cityscape(rho: np.ndarray, title: str) -> bytes | None:
    """3-D bar chart of the real and imaginary parts of a density matrix (up to 32 x 32)."""
    r = np.asarray(rho, dtype=np.complex128)
    d = r.shape[0]
    if d > 32:
        return None
    plt = _plt()
    n = int(round(np.log2(d)))
    fig = plt.figure(figsize=(11, 4.6))
    xs, ys = np.meshgrid(np.arange(d), np.arange(d), indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    lim = max(float(np.abs(r.real).max()), float(np.abs(r.imag).max()), 1e-3)
    for k, (part, name) in enumerate(((r.real, "Re"), (r.imag, "Im"))):
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        z = part.ravel()
        colors = plt.cm.RdBu_r((z / lim + 1) / 2)
        ax.bar3d(xs - 0.4, ys - 0.4, np.zeros_like(z), 0.8, 0.8, z, color=colors, shade=True)
        ax.set_zlim(-lim, lim)
        ax.set_title(f"{name} rho")
        if d <= 16:
            labels = [format(i, f"0{n}b") for i in range(d)]
            ax.set_xticks(range(d))
            ax.set_xticklabels(labels, fontsize=6, rotation=90)
            ax.set_yticks(range(d))
            ax.set_yticklabels(labels, fontsize=6)
    fig.suptitle(title)
    return _png(fig)


def matrix_heatmap(rho: np.ndarray, title: str) -> bytes:
    """Heat maps of the real and imaginary parts (for matrices too large for a cityscape)."""
    plt = _plt()
    r = np.asarray(rho, dtype=np.complex128)
    lim = max(float(np.abs(r).max()), 1e-3)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, part, name in ((axes[0], r.real, "Re"), (axes[1], r.imag, "Im")):
        im = ax.imshow(part, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"{name} rho")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    return _png(fig)


def learning_curve(curve: dict | None) -> bytes | None:
    """Headline fidelity +- 1 s.e. (over members) against training shots, log x, with the
    fitted c / sqrt(shots) error bar and the shots needed for the target precision."""
    pts = [p for p in (curve or {}).get("points", []) if p.get("value") is not None]
    if not pts:
        return None
    plt = _plt()
    m = np.array([p["shots"] for p in pts], dtype=float)
    v = np.array([p["value"] for p in pts])
    e = np.array([p["stderr"] if p.get("stderr") is not None else np.nan for p in pts])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax = axes[0]
    ax.errorbar(m, v, yerr=e, marker="o", capsize=3, label="members: mean +- 1 s.e.")
    ax.set_xscale("log")
    ax.set_xlabel("training shots")
    ax.set_ylabel(str(curve.get("quantity", "fidelity")).replace("_", " "))
    ax.set_title("learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    ax = axes[1]
    ax.loglog(m, e, "o", label="spread over members")
    c = curve.get("c")
    need = curve.get("train_shots_needed")
    hi = max(float(m.max()), float(need or 0)) * 1.5
    if c:
        xs = np.geomspace(float(m.min()) / 1.5, hi, 50)
        ax.loglog(xs, c / np.sqrt(xs), "-", label=f"fit {c:.3g}/sqrt(shots)")
    if need and curve.get("precision"):
        ax.axhline(curve["precision"], color="gray", ls="--", lw=1)
        ax.axvline(need, color="gray", ls=":", lw=1,
                   label=f"{need:,} training shots for +-{curve['precision']:g}")
    ax.set_xlabel("training shots")
    ax.set_ylabel("error bar (1 s.e.)")
    ax.set_title("shots planning")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)


#: The heat map shows at most this many settings (those with the largest deviations).
HEATMAP_SETTINGS = 81


def deviation_heatmap(data: dict[str, Any] | None) -> bytes | None:
    """Settings x qubits heat map of per-setting marginal deviations |z| in standard errors
    (``{"settings": labels, "z": (S, N)}``); above :data:`HEATMAP_SETTINGS` settings only
    those with the largest deviation are drawn, in their order."""
    if not data or len(data.get("settings") or []) == 0:
        return None
    plt = _plt()
    z = np.asarray(data["z"], dtype=float)
    labels = list(data["settings"])
    if len(labels) > HEATMAP_SETTINGS:
        keep = np.sort(np.argsort(z.max(axis=1))[::-1][:HEATMAP_SETTINGS])
        z, labels = z[keep], [labels[i] for i in keep]
    fig, ax = plt.subplots(figsize=(2.5 + 0.45 * z.shape[1], 1.2 + 0.13 * len(labels)))
    im = ax.imshow(z, cmap="magma_r", vmin=0.0, vmax=max(6.0, min(float(z.max()), 20.0)),
                   aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=6, family="monospace")
    ax.set_xticks(range(z.shape[1]))
    ax.set_xlabel("qubit")
    ax.set_title("no signalling: largest |deviation|")
    fig.colorbar(im, ax=ax, shrink=0.6, label="standard errors")
    return _png(fig)


__all__ = [
    "cityscape",
    "deviation_heatmap",
    "learning_curve",
    "correlation_vs_distance",
    "matrix_heatmap",
    "site_expectations",
    "training_curves",
]
