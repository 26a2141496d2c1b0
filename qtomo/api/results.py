"""What the public API returns: :class:`Dataset`, :class:`Run`, :class:`Reconstruction` and
the :class:`ObservableTable` of a reconstruction.

Each is a small handle on files that ``qtomo simulate`` / ``import`` / ``train`` /
``reconstruct`` write (a dataset ``.h5``, a run directory, a report directory) plus the plain
summary the CLI prints as JSON. Heavy objects (the open HDF5 file, the torch model, QuTiP
states) are built only when asked for. Conventions as everywhere in qtomo: qubit j is column
j of every outcome array; density matrices have qubit 0 as the leftmost tensor factor;
quantum fidelities use the squared convention ``F = <psi|rho|psi>`` (QuTiP's ``fidelity`` is
its square root).
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from qtomo.reconstruction.source import Source


def _from_model(estimator: str | None) -> bool:
    """Whether a headline's estimator (``report["headline"]["quantum_fidelity"]["estimator"]``)
    is the model's state."""
    return estimator is not None and Source(estimator).from_model


def _fmt(v: Any, spec: str = ".6g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def _html_table(rows: list[tuple[str, Any]], title: str) -> str:
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                   f"<td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f"<b>{html.escape(title)}</b><table>{body}</table>"


@dataclass
class Dataset:
    """A qtomo dataset file (written by :func:`qtomo.simulate` or :func:`qtomo.import_shots`,
    or opened by :func:`qtomo.load`).

    Attributes
    ----------
    path : Path
        The ``.h5`` file (schema: :mod:`qtomo.data.schema`).
    summary : dict or None
        What the command that wrote the file returned (the JSON of ``qtomo simulate --json``
        or ``qtomo import --json``); None for a file opened with :func:`qtomo.load`.
    """

    path: Path
    summary: dict[str, Any] | None = None

    @cached_property
    def info(self) -> dict[str, Any]:
        """The validated file's summary (``qtomo info --json``): n_qubits, shots, eval_shots,
        povm, K, has_log_p_true, target attributes, design and readout summaries,
        schema_version, created, qtomo_version."""
        from qtomo.data.hdf5 import open_dataset

        with open_dataset(self.path) as ds:
            return ds.summary()

    @contextmanager
    def open(self) -> Iterator[Any]:
        """The open, validated file (:class:`qtomo.data.hdf5.Dataset`), closed on exit:
        ``outcomes()`` uint8 ``(shots, N)``, ``frame``, ``target_array(name)``, ..."""
        from qtomo.data.hdf5 import open_dataset

        ds = open_dataset(self.path)
        try:
            yield ds
        finally:
            ds.close()

    def outcomes(self, start: int = 0, stop: int | None = None) -> Any:
        """Training shots ``start:stop``: uint8 ``(rows, N)``, column j = qubit j."""
        with self.open() as ds:
            return ds.outcomes(start, stop)

    def setting_shots(self) -> tuple[Any, Any]:
        """A fixed design's shots: every shot's setting index into ``design.settings`` and its
        bits, ``(int64 (M,), uint8 (M, N))``, axis settings included
        (:meth:`qtomo.data.hdf5.Dataset.setting_shots`)."""
        with self.open() as ds:
            return ds.setting_shots()

    @property
    def n_qubits(self) -> int:
        return int(self.info["n_qubits"])

    @property
    def shots(self) -> int:
        return int(self.info["shots"])

    @property
    def povm(self) -> str:
        return str(self.info["povm"])

    @property
    def target(self) -> dict[str, Any]:
        """The ``/target`` attributes (state, J, h, boundary, method, noise, energy, ...)."""
        return dict(self.info["target"])

    @cached_property
    def design(self) -> Any:
        """How the bases were chosen (:class:`qtomo.data.design.Design`): ``kind`` "random"
        (drawn per shot) or "fixed" (``settings``, qubit 0 first, and ``shots_per_setting``)."""
        with self.open() as ds:
            return ds.design

    @cached_property
    def readout(self) -> Any:
        """Readout confusion matrices (:class:`qtomo.data.design.Readout`: ``confusion[q, b,
        b'] = P(read b | prepared b')``, ``stderr``, ``source``), or None."""
        with self.open() as ds:
            return ds.readout

    def _rows(self) -> list[tuple[str, Any]]:
        t = self.target
        r = self.readout
        return [("path", str(self.path)), ("qubits", self.n_qubits), ("shots", self.shots),
                ("eval shots", self.info["eval_shots"]),
                ("POVM", f"{self.povm} (K={self.info['K']})"),
                ("design", self.design.describe()),
                ("readout", "none" if r is None else r.describe()),
                ("target", t.get("state", "none")), ("method", t.get("method")),
                ("noise", t.get("noise")), ("energy", t.get("energy"))]

    def __repr__(self) -> str:
        try:
            t = self.target
            d = self.design
            design = "random" if d.kind == "random" else f"fixed ({d.n_settings} settings)"
            readout = "" if self.readout is None else f", readout {self.readout.source}"
            return (f"Dataset({str(self.path)!r}: {self.n_qubits} qubits, {self.shots} shots, "
                    f"POVM {self.povm}, target {t.get('state', 'none')}, design {design}"
                    f"{readout})")
        except Exception as e:  # a repr never raises
            return f"Dataset({str(self.path)!r}: unreadable: {e})"

    def _repr_html_(self) -> str:
        return _html_table(self._rows(), "qtomo Dataset")


@dataclass
class Run:
    """A training run directory (written by :func:`qtomo.train` / ``qtomo train``).

    Attributes
    ----------
    path : Path
        The run directory: ``config.json``, ``best.pt``, ``last.pt``, ``metrics.csv``,
        ``model_card.json`` (and ``members/`` with bootstrap members).
    summary : dict
        The training summary (the JSON of ``qtomo train --json``): model, hparams,
        n_parameters, epochs, best_epoch, stopped, val_nll, classical_fidelity(_se),
        kl_divergence(_se) on the evaluation shots, train_seconds, device, precision, ...
    """

    path: Path
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoints(self) -> dict[str, Path]:
        """``{"best": best.pt, "last": last.pt}`` (the model kept and scored is ``best``)."""
        return {k: self.path / f"{k}.pt" for k in ("best", "last")}

    @property
    def metrics(self) -> dict[str, Any]:
        """The headline training metrics (nats for NLL and KL)."""
        keys = ("val_nll", "classical_fidelity", "classical_fidelity_se", "kl_divergence",
                "kl_divergence_se", "epochs", "best_epoch", "stopped", "train_seconds")
        return {k: self.summary.get(k) for k in keys}

    def history(self) -> dict[str, list[float]]:
        """Per-epoch columns of ``metrics.csv`` (empty dict when missing)."""
        p = self.path / "metrics.csv"
        if not p.exists():
            return {}
        with open(p, newline="") as f:
            rows = list(csv.DictReader(f))
        return {k: [float(r[k]) if r[k] not in ("", None) else math.nan for r in rows]
                for k in (rows[0] if rows else {})}

    def model(self, which: str = "best", device: str = "cpu") -> Any:
        """The trained model (:class:`qtomo.models.base.DensityEstimator`, eval mode):
        ``log_prob(a) -> (batch,)`` log Q(a), ``sample(n, generator) -> (n, N) uint8``."""
        from qtomo.training.checkpoint import load_run

        return load_run(self.path, which=which, device=device)[0]

    def __repr__(self) -> str:
        s = self.summary
        return (f"Run({str(self.path)!r}: {s.get('model', '?')}, {s.get('epochs', '?')} epochs, "
                f"val NLL {_fmt(s.get('val_nll'), '.5f')}, F_c "
                f"{_fmt(s.get('classical_fidelity'), '.5f')})")

    def _repr_html_(self) -> str:
        rows = [("path", str(self.path)), ("model", self.summary.get("model")),
                ("parameters", self.summary.get("n_parameters")), *self.metrics.items()]
        return _html_table(rows, "qtomo Run")


class ObservableTable:
    """Observables of a reconstruction as rows: one per site (``X3``), pair (``Z0 Z5``) and
    scalar (energy, magnetizations, user Pauli strings).

    Columns: ``observable``, ``kind``, ``exact``, ``direct``, ``direct_stderr``, ``model``,
    ``model_stderr`` (None where a source is absent). ``rows`` is a list of dicts;
    :meth:`to_pandas` gives a DataFrame when pandas is installed.
    """

    COLUMNS = ("observable", "kind", "exact", "direct", "direct_stderr", "model", "model_stderr")

    def __init__(self, observables: dict[str, Any], n_qubits: int) -> None:
        self.rows: list[dict[str, Any]] = []
        for letter, src in observables["single_site"].items():
            for i in range(n_qubits):
                self._add(f"{letter}{i}", "single site", src, lambda v, i=i: v[i])
        for pair, src in observables["two_point"].items():
            for i in range(n_qubits):
                for j in range(i + 1, n_qubits):
                    self._add(f"{pair[0]}{i} {pair[1]}{j}", "two point", src,
                              lambda v, i=i, j=j: v[i][j])
        for name, e in observables["scalars"].items():
            self.rows.append({
                "observable": name, "kind": e.get("kind", name), "exact": e.get("exact"),
                **{f"{k}{suffix}": (e.get(k) or {}).get(key)
                   for k in ("direct", "model") for suffix, key in (("", "value"),
                                                                    ("_stderr", "stderr"))}})

    def _add(self, name: str, kind: str, src: dict[str, Any], pick: Any) -> None:
        row: dict[str, Any] = {"observable": name, "kind": kind, "exact": pick(src["exact"])}
        for k in ("direct", "model"):
            row[k] = pick(src[k]["value"]) if k in src else None
            row[f"{k}_stderr"] = pick(src[k]["stderr"]) if k in src else None
        if isinstance(row["exact"], float) and math.isnan(row["exact"]):
            row["exact"] = None
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> dict[str, Any]:
        for r in self.rows:
            if r["observable"] == name:
                return r
        raise KeyError(name)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(self.COLUMNS))

    def _lines(self, limit: int) -> list[list[str]]:
        return [[_fmt(r[c], ".5f") if c not in ("observable", "kind") else str(r[c])
                 for c in self.COLUMNS] for r in self.rows[:limit]]

    def __repr__(self) -> str:
        lines = [list(self.COLUMNS), *self._lines(20)]
        w = [max(len(x[k]) for x in lines) for k in range(len(self.COLUMNS))]
        out = ["  ".join(x[k].ljust(w[k]) for k in range(len(w))) for x in lines]
        if len(self.rows) > 20:
            out.append(f"... {len(self.rows) - 20} more rows")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>"
                       for r in self._lines(200))
        more = f"<p>... {len(self.rows) - 200} more rows</p>" if len(self.rows) > 200 else ""
        return f"<table><tr>{head}</tr>{body}</table>{more}"


class Reconstruction:
    """The reconstruction of one dataset (returned by :func:`qtomo.reconstruct`).

    Attributes
    ----------
    report : dict
        Everything the lab report shows, JSON-able (``report.json``): headline, quantum
        (density matrices' summaries, fidelities), classical, observables, subsystems,
        consistency, conventions, provenance.
    rhos : dict name -> ndarray complex128 (2^k, 2^k)
        Density matrices (``model_mle``, ``data_projected``, ``target``, ``rdm_model_q0-1``,
        ...), qubit 0 the leftmost tensor factor.
    files : dict
        Paths written by :meth:`write_report` (empty until then).
    """

    def __init__(self, result: Any, dataset: Path, run: Path | None) -> None:
        self.result = result  # qtomo.reconstruction.run.Reconstruction
        self.dataset, self.run = Path(dataset), run
        self.files: dict[str, str] = {}

    @property
    def report(self) -> dict[str, Any]:
        return self.result.report

    @property
    def rhos(self) -> dict[str, Any]:
        return self.result.rhos

    def qobjs(self) -> dict[str, Any]:
        """Every density matrix as a ``qutip.Qobj`` with qubit dims ``[[2]*k, [2]*k]``."""
        return self.result.qobjs()

    @property
    def rho(self) -> Any:
        """The headline density matrix as a ``qutip.Qobj`` (the model's MLE state, else the
        raw-frequency one; None when no dense state was built, e.g. N > 10)."""
        name = self.result.figures.get("headline_rho")
        if name is None:
            return None
        from qtomo.reconstruction.density import to_qobj

        return to_qobj(self.rhos[name])

    @property
    def fidelity(self) -> dict[str, Any]:
        """The headline quantum fidelity (squared convention): value, stderr, source, exact."""
        return dict(self.report["headline"]["quantum_fidelity"])

    @property
    def fidelities(self) -> dict[str, float | None]:
        """Flat view: headline, direct estimate, exact, and every dense state's fidelity to
        the ideal target (``model_mle``, ``data_projected``, ...); classical F_c and KL."""
        q = self.report["quantum"]
        h = self.report["headline"]
        out: dict[str, float | None] = {
            "headline": h["quantum_fidelity"].get("value"),
            "headline_stderr": h["quantum_fidelity"].get("stderr"),
            "direct": (q.get("direct_estimate") or {}).get("value"),
            "direct_stderr": (q.get("direct_estimate") or {}).get("stderr"),
            "exact": q.get("exact_fidelity"),
        }
        for src in ("model", "data"):
            for kind, e in (q.get(src) or {}).items():
                if isinstance(e, dict) and "fidelity" in e:
                    out[f"{src}_{kind}"] = e["fidelity"]
        out["classical_fidelity"] = (h.get("classical_fidelity") or {}).get("value")
        out["kl_divergence"] = (h.get("kl_divergence") or {}).get("value")
        return out

    @cached_property
    def observables(self) -> ObservableTable:
        """Every observable with its exact, direct and model values (:class:`ObservableTable`)."""
        n = self.report["provenance"]["dataset"]["n_qubits"]
        return ObservableTable(self.report["observables"], n)

    def write_report(self, out: str | Path, *, save_rho: bool = False,
                     overwrite: bool = False) -> dict[str, str]:
        """Write ``report.json`` and ``report.html`` (and ``rho_<name>.npy`` with ``save_rho``)
        into the directory ``out`` atomically; returns ``{file name: path}``."""
        from qtomo.reports.report import write_report

        self.files = write_report(out, self.result, save_rho=save_rho, overwrite=overwrite)
        return self.files

    @property
    def summary(self) -> dict[str, Any]:
        """The headline numbers (the JSON of ``qtomo reconstruct --json``); ``reference`` names
        the stored target's values: "exact" (simulated shots) or "target" (lab data)."""
        from qtomo.reports.formatting import reference_label
        from qtomo.reports.html_lab import lab_scale_summary

        report, files = self.report, self.files
        h = report["headline"]
        qf = h["quantum_fidelity"]
        en = h.get("energy") or {}
        cf = h.get("classical_fidelity") or {}
        kl = h.get("kl_divergence") or {}
        cons = report.get("consistency") or {}
        boot = report.get("bootstrap") or {}
        direct = report["quantum"].get("direct_estimate") or {}
        ro = report.get("readout") or {}
        rng = report["quantum"].get("data_range") or {}
        return {
            "consistent": report.get("consistent"),
            "consistency_p_value": cons.get("p_value"),
            "consistency_failed": cons.get("failed") or [],
            "quantum_fidelity": qf.get("value"),
            "quantum_fidelity_stderr": qf.get("stderr"),
            "quantum_fidelity_source": qf.get("source"),
            "quantum_fidelity_estimator": qf.get("estimator"),
            "quantum_fidelity_why": qf.get("why"),
            "quantum_fidelity_ci95": qf.get("ci95"),
            "bootstrap_members": boot.get("bootstrap_members"),
            "shots_needed": (boot.get("learning_curve") or {}).get("shots_needed"),
            "quantum_fidelity_model": qf.get("model_value", qf.get("value")
                                             if _from_model(qf.get("estimator")) else None),
            "fallback_reason": qf.get("fallback_reason") or en.get("fallback_reason"),
            "direct_fidelity": direct.get("value"),
            "direct_fidelity_stderr": direct.get("stderr"),
            "fidelity_range": [rng["low"], rng["high"]] if rng else None,
            "fidelity_determined": rng.get("determined") if rng else None,
            "classical_fidelity": cf.get("value"),
            "classical_fidelity_stderr": cf.get("stderr"),
            "kl_divergence": kl.get("value"),
            "kl_divergence_stderr": kl.get("stderr"),
            "readout_corrected": ro.get("applied"),
            "quantum_fidelity_uncorrected": ro.get("quantum_fidelity_uncorrected"),
            "direct_fidelity_uncorrected": ro.get("quantum_fidelity_uncorrected_direct"),
            "calibration_stderr": ro.get("calibration_stderr"),
            "lab_scale": lab_scale_summary(report.get("lab_scale")),
            "energy": en.get("value"),
            "energy_stderr": en.get("stderr"),
            "energy_exact": en.get("exact"),
            "reference": reference_label(report),
            "mode": report["mode"],
            "n_qubits": report["provenance"]["dataset"]["n_qubits"],
            "report": files.get("report.html"),
            "report_json": files.get("report.json"),
            "files": sorted(files),
        }

    def _rows(self) -> list[tuple[str, Any]]:
        s = self.summary
        return [("dataset", str(self.dataset)), ("mode", s["mode"]),
                ("quantum fidelity", s["quantum_fidelity"]),
                ("+- (stderr)", s["quantum_fidelity_stderr"]),
                ("source", s["quantum_fidelity_source"]),
                ("direct estimate", s["direct_fidelity"]),
                ("classical fidelity", s["classical_fidelity"]),
                ("KL (nats)", s["kl_divergence"]), ("energy", s["energy"]),
                ("energy (exact)", s["energy_exact"]), ("consistent", s["consistent"])]

    def __repr__(self) -> str:
        s = self.summary
        return (f"Reconstruction({str(self.dataset)!r}, N={s['n_qubits']}, {s['mode']}: "
                f"quantum fidelity {_fmt(s['quantum_fidelity'], '.5f')} +- "
                f"{_fmt(s['quantum_fidelity_stderr'], '.2g')}, energy "
                f"{_fmt(s['energy'], '.5f')}, consistent={s['consistent']})")

    def _repr_html_(self) -> str:
        return _html_table(self._rows(), "qtomo Reconstruction")


__all__ = ["Dataset", "ObservableTable", "Reconstruction", "Run"]
