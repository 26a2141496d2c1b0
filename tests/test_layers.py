"""The layering of qtomo (``[tool.importlinter]`` in pyproject.toml) holds, checked by
``lint-imports``; and the check does catch an import from a lower layer into a higher one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the test extras (pip install -e '.[test]'), "
                    "which include import-linter")
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_layers_contract_is_kept():
    r = lint_imports(ROOT)
    assert r.returncode == 0 and "BROKEN" not in r.stdout, r.stdout + r.stderr
    assert "KEPT" in r.stdout


def test_a_violation_breaks_the_contract(tmp_path):
    # a copy of the package in which the lowest physics layer imports the CLI, lazily
    shutil.copytree(ROOT / "qtomo", tmp_path / "qtomo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "qtomo" / "states" / "bad.py").write_text(
        "def f():\n    from qtomo.cli.main import cli\n\n    return cli\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    r = lint_imports(tmp_path, env)
    assert r.returncode != 0 and "BROKEN" in r.stdout, r.stdout + r.stderr
    assert "qtomo.states.bad -> qtomo.cli.main" in r.stdout
