"""Benchmark records: every figure a ``scripts/bench_*.py`` prints is also appended, as one JSON
line, to ``benchmarks/results/<benchmark>.jsonl``; ``scripts/render_benchmarks.py`` renders
``docs/benchmarks.md`` and the README's headline figures from those files.

One record per line (the schema; ``docs/benchmarks-howto.md`` explains it)::

    {"benchmark": "train", "case": "tfim10", "metric": "classical_fidelity_exact",
     "value": 0.9993, "stderr": null, "unit": "", "qtomo_version": "0.1.0",
     "git_commit": "1d20050+dirty",
     "machine": {"cpu_model": "...", "cores": 2, "torch_threads": 2, "gpu": null},
     "date": "2026-12-07T12:00:00+00:00",
     "command": "python scripts/bench_train.py --only tfim10", "extra": {...}}

``benchmark`` is the script's name without ``bench_`` (``bench_train.py`` -> ``train``).
A record is written only from a real run: the scripts call :func:`record` (or
:func:`write_records`) where they print their final figures, with the same numbers.

Set ``QTOMO_BENCH_RESULTS`` to write the files into another folder (the tests do).

    import benchlib                      # scripts/ is on sys.path when a script runs
    benchlib.record("simulate", "tfim10-pauli4-100k", "wall_s_best", 0.93, unit="s")
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Where the JSONL files live (``QTOMO_BENCH_RESULTS`` overrides it).
RESULTS_DIR = ROOT / "benchmarks" / "results"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def results_dir() -> Path:
    """The folder of the JSONL files: ``$QTOMO_BENCH_RESULTS`` or ``benchmarks/results``."""
    env = os.environ.get("QTOMO_BENCH_RESULTS")
    return Path(env) if env else RESULTS_DIR


def qtomo_version() -> str:
    """``__version__`` from ``qtomo/_version.py``, read as text (no import of qtomo)."""
    text = (ROOT / "qtomo" / "_version.py").read_text()
    m = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    return m.group(1) if m else "unknown"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """``git rev-parse --short HEAD``, with ``+dirty`` when tracked files have uncommitted
    changes; None outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    """The machine a figure was measured on: CPU model, cores, torch's threads, GPU name."""
    threads: int | None = None
    gpu: str | None = None
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    if torch is not None:
        threads = int(torch.get_num_threads())
        if torch.cuda.is_available():
            gpu = str(torch.cuda.get_device_name(torch.cuda.current_device()))
    return {"cpu_model": _cpu_model(), "cores": os.cpu_count(), "torch_threads": threads,
            "gpu": gpu}


def command(argv: list[str] | None = None) -> str:
    """The command as run, ``python scripts/<name>.py ARGS`` (the script's path relative to
    the repository root when it lies inside it)."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]) if argv and argv[0] else Path("-")
    try:
        script = script.resolve().relative_to(ROOT)
    except (OSError, ValueError):
        pass
    return " ".join(["python", shlex.quote(script.as_posix()), *map(shlex.quote, argv[1:])])


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    v = float(value)
    return v if math.isfinite(v) else None


def make_record(benchmark: str, case: str, metric: str, value: Any, *, stderr: Any = None,
                unit: str = "", extra: Mapping[str, Any] | None = None,
                machine_info: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The record dict (not written); None when ``value`` is None or not finite.
    ``machine_info`` stands in for :func:`machine` (one look-up for many records)."""
    if not _NAME.match(benchmark):
        raise ValueError(f"benchmark name {benchmark!r}: expected lower-case letters, digits, "
                         "'-' or '_' (the script's name without 'bench_')")
    if not case or not metric:
        raise ValueError(f"{benchmark}: case and metric must be non-empty strings")
    v = _number(value)
    if v is None:
        return None
    rec: dict[str, Any] = {
        "benchmark": benchmark, "case": str(case), "metric": str(metric), "value": v,
        "stderr": _number(stderr), "unit": unit, "qtomo_version": qtomo_version(),
        "git_commit": git_commit(), "machine": machine_info or machine(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command(),
    }
    if extra:
        rec["extra"] = json.loads(json.dumps(dict(extra), default=str))
    return rec


def _append(benchmark: str, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with open(folder / f"{benchmark}.jsonl", "a", encoding="utf-8") as f:
        f.write(lines)


def record(benchmark: str, case: str, metric: str, value: Any, *, stderr: Any = None,
           unit: str = "", extra: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Append one figure to ``benchmarks/results/<benchmark>.jsonl`` and return its record.

    Parameters
    ----------
    benchmark : str
        The script's name without ``bench_`` (``"train"`` for ``bench_train.py``).
    case : str
        What was measured (``"tfim10"``, ``"ghz4/seed1"``).
    metric : str
        Which figure of the case (``"classical_fidelity_exact"``, ``"wall_s"``).
    value : number
        The figure as the script prints it. None or a non-finite value writes nothing (the
        script had no figure) and returns None.
    stderr : number, optional
        Its standard error, where the script has one.
    unit : str
        ``"s"``, ``"shots/s"``, ... (empty for a pure number).
    extra : dict, optional
        Anything else worth keeping with the figure (settings, a target, a verdict).
    """
    rec = make_record(benchmark, case, metric, value, stderr=stderr, unit=unit, extra=extra)
    if rec is None:
        print(f"benchlib: no record of {benchmark} / {case} / {metric}: value {value!r}",
              file=sys.stderr)
        return None
    _append(benchmark, [rec])
    return rec


def write_records(benchmark: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Append several figures of one benchmark at once (one machine and commit look-up).

    Each row is a mapping with ``case``, ``metric``, ``value`` and optionally ``stderr``,
    ``unit``, ``extra`` (the arguments of :func:`record`). Rows whose value is None or not
    finite are left out. Returns the records written.
    """
    mach = machine()
    out = []
    for row in rows:
        rec = make_record(benchmark, row["case"], row["metric"], row.get("value"),
                          stderr=row.get("stderr"), unit=row.get("unit", ""),
                          extra=row.get("extra"), machine_info=mach)
        if rec is not None:
            out.append(rec)
    _append(benchmark, out)
    return out


__all__ = ["RESULTS_DIR", "command", "git_commit", "machine", "make_record", "qtomo_version",
           "record", "results_dir", "write_records"]
