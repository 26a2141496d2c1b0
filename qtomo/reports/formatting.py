"""Formatting shared by the report's pages: plain JSON values (:func:`jsonable`) and the cells,
tables and figures of ``report.html`` (numbers with their standard errors, intervals, escaped
text, embedded PNGs).
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

import numpy as np

# the one JSON converter (checkpoints, run files and reports alike), re-exported for the pages
from qtomo.training.checkpoint import jsonable


def num(v: Any, digits: int = 5) -> str:
    """A number with ``digits`` decimals (scientific when tiny or huge); a dash for none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "&mdash;"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(v)
    x = float(v)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{max(digits - 2, 2)}e}"
    return f"{x:.{digits}f}"


def pm(e: dict[str, Any] | None, digits: int = 5) -> str:
    """``value +- stderr`` of an entry (the value alone without a finite error bar)."""
    if not e or e.get("value") is None:
        return "&mdash;"
    s = e.get("stderr")
    if s is None or (isinstance(s, float) and not math.isfinite(s)) or e.get("n", 1) == 0:
        return num(e["value"], digits)
    return f"{num(e['value'], digits)} &plusmn; {num(s, 2 if s < 1e-3 else digits)}"


def ci(e: dict[str, Any] | None) -> str:
    """The entry's 95% interval ``[low, high]``, or a dash."""
    c = (e or {}).get("ci95")
    return f"[{num(c[0])}, {num(c[1])}]" if c and None not in c else "&mdash;"


def purity(e: dict[str, Any]) -> str:
    """Purity of a physical state; Tr rho^2 of an unphysical matrix, marked as such."""
    if e.get("purity") is not None:
        return num(e["purity"])
    if e.get("tr_rho_squared") is not None:
        return f"({num(e['tr_rho_squared'])}, unphysical)"
    return "&mdash;"


def esc(x: Any) -> str:
    """``str(x)`` escaped for HTML."""
    return html.escape(str(x))


def reference_label(r: dict[str, Any]) -> str:
    """What the report calls the stored target's values: "exact" where the shots were drawn
    from it (``qtomo simulate``), "target" for lab data (``qtomo import``), whose stored target
    is the state the lab meant to prepare, not the state it measured."""
    t = ((r.get("provenance") or {}).get("dataset") or {}).get("target") or {}
    return "target" if t.get("origin") == "lab" else "exact"


def deviation(e: dict[str, Any] | None, exact: Any) -> str:
    """Deviation from the exact value in standard errors."""
    if not e or exact is None or e.get("value") is None:
        return "&mdash;"
    s = e.get("stderr")
    if not s or not math.isfinite(s):
        return "&mdash;"
    return f"{(e['value'] - exact) / s:+.1f}"


def z_score(v: Any) -> str:
    """A z value with one decimal and its sign."""
    return "&mdash;" if v is None else f"{float(v):+.1f}"


def p_value(v: Any) -> str:
    """A p-value with two significant digits."""
    return "&mdash;" if v is None else f"{float(v):.2g}"


def figure(png: bytes | None, alt: str) -> str:
    """A PNG as an embedded ``data:`` image with its caption (nothing for None)."""
    if png is None:
        return ""
    b64 = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{b64}"/>' \
           f"<figcaption>{esc(alt)}</figcaption></figure>"


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """An HTML table of already formatted cells."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


__all__ = ["ci", "deviation", "esc", "figure", "jsonable", "num", "p_value", "pm", "purity",
           "reference_label", "table", "z_score"]
