"""The lab report: ``report.json`` (every number with its convention and provenance) and
``report.html`` (one self-contained page: figures embedded as PNG ``data:`` URIs, no external
resources), written into a report directory.

Files written by :func:`write_report`::

    report.json      the reconstruction's report dict (its layout: qtomo.reconstruction.schema)
    report.html      the same numbers as tables, with the figures
    rho_<name>.npy   with save_rho: every density matrix, complex128 (2^k, 2^k),
                     qubit 0 the leftmost factor (load with numpy.load)

The directory is filled from a temporary sibling and the files are moved in only when all of
them are written; an existing report is refused unless ``overwrite`` is given.

Where it lives: this module writes the files; the page is rendered by
:mod:`qtomo.reports.html` (section by section; the consistency and bootstrap blocks in
:mod:`qtomo.reports.html_checks`, cell formatting and :func:`jsonable` in
:mod:`qtomo.reports.formatting`), the figures chosen by :mod:`qtomo.reports.plots` and drawn
by :mod:`qtomo.reports.figures`. ``jsonable``, ``make_figures`` and ``render_html`` are
importable from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qtomo.errors import OutputExistsError
from qtomo.reports.formatting import jsonable
from qtomo.reports.html import render_html
from qtomo.reports.plots import make_figures

REPORT_FILES = ("report.json", "report.html")


# --- writing --------------------------------------------------------------------------------------
def check_report_dir(out: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse an existing non-empty report directory unless ``overwrite``."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise OutputExistsError(f"{p} exists and is not a directory; choose another --out")
    if p.is_dir() and any(p.iterdir()) and not overwrite:
        raise OutputExistsError(f"{p} already exists and is not empty; pass --overwrite to "
                                "replace the report")
    return p


def write_report(out: str | os.PathLike[str], rec: Any, *, save_rho: bool = False,
                 overwrite: bool = False) -> dict[str, str]:
    """Write report.json, report.html (and rho_*.npy) into ``out``; returns their paths."""
    target = check_report_dir(out, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    files: dict[str, str] = {}
    try:
        pngs = make_figures(rec)
        report = dict(rec.report)
        if save_rho:
            saved = {}
            for name, rho in rec.rhos.items():
                fn = f"rho_{name}.npy"
                np.save(tmp / fn, np.asarray(rho, dtype=np.complex128))
                saved[name] = fn
            report["saved_density_matrices"] = {
                "files": saved, "format": "numpy .npy, complex128 (2^k, 2^k), qubit 0 the "
                "leftmost tensor factor (most significant bit)",
            }
        (tmp / "report.json").write_text(json.dumps(jsonable(report), indent=1) + "\n")
        (tmp / "report.html").write_text(render_html(report, pngs), encoding="utf-8")
        target.mkdir(parents=True, exist_ok=True)
        for old in list(target.glob("rho_*.npy")) + [target / f for f in REPORT_FILES]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        for f in sorted(tmp.iterdir()):
            os.replace(f, target / f.name)
            files[f.name] = str(target / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rec.report = report
    return files


__all__ = ["REPORT_FILES", "check_report_dir", "jsonable", "make_figures", "render_html",
           "write_report"]
