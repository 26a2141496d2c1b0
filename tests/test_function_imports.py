"""No import inside a function in qtomo/ unless it keeps an optional heavy dependency off a path
that does not need it.

A function-level import is allowed only when the imported module's top-level import closure
reaches one of :data:`HEAVY` (torch, TeNPy, matplotlib, QuTiP, pandas) that the importing
module's own closure does not. For the modules that ``import qtomo`` and ``qtomo --help`` load
(the closure of :data:`LIGHT_ROOTS`), NumPy, SciPy and h5py count as heavy as well:
``tests/api/test_api.py`` holds ``import qtomo`` free of them. Anything else (the standard
library, NumPy in a module that already has it, a qtomo module that would form an import
cycle) belongs at the top of the module; a cycle is fixed by moving code to the module that
owns its concern.

The closures are computed statically from qtomo's own module-level imports (skipping the
bodies of functions and of ``if TYPE_CHECKING:``), with importing ``a.b.c`` also running the
packages ``a`` and ``a.b``; a third-party import counts by its top-level name.
:func:`test_static_closures_match_a_real_import` checks that model against real imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = frozenset({"torch", "tenpy", "matplotlib", "qutip", "pandas"})
LIGHT_ROOTS = ("qtomo", "qtomo.cli.main")
LIGHT_EXTRA = frozenset({"numpy", "scipy", "h5py"})

#: module name -> (source, is a package)
Sources = Mapping[str, tuple[str, bool]]


def package_sources(root: Path, package: str = "qtomo") -> dict[str, tuple[str, bool]]:
    """Every module of ``package`` under ``root``, by dotted name."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path.read_text(), is_pkg)
    return out


def parents(name: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b, a.b.c]``: the modules that importing ``name`` runs."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def targets(node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool,
            sources: Sources) -> Iterator[str]:
    """The modules an import statement loads: qtomo modules by full name, others by root."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = module.split(".") if is_pkg else module.split(".")[:-1]
            pkg = pkg[: len(pkg) - node.level + 1]
            base = ".".join(pkg + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in sources else base
                 for a in node.names]
    own = {m.split(".")[0] for m in sources}
    for name in names:
        yield name if name.split(".")[0] in own else name.split(".")[0]


def is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module is imported (class bodies included)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif is_type_checking(child):
            for other in child.orelse:
                yield from module_level_imports(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from module_level_imports(child)


def function_level_imports(tree: ast.AST) -> Iterator[tuple[str, ast.Import | ast.ImportFrom]]:
    """(function name, import statement) for each import inside a function body."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for stmt in fn.body:
                for node in ast.walk(stmt):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        yield fn.name, node


class ImportGraph:
    """Top-level import closures of the modules in ``sources``."""

    def __init__(self, sources: Sources, light_roots: tuple[str, ...] = LIGHT_ROOTS):
        self.sources = sources
        self.trees = {m: ast.parse(src) for m, (src, _) in sources.items()}
        self.edges = {
            m: {t for node in module_level_imports(self.trees[m])
                for t in targets(node, m, sources[m][1], sources)}
            for m in sources}
        self.light = set().union(*(self.closure(r) for r in light_roots if r in sources))

    def closure(self, name: str) -> set[str]:
        """Every module (third-party ones by root) that importing ``name`` loads."""
        seen: set[str] = set()
        todo = parents(name) if name in self.sources else [name]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            for t in self.edges.get(m, ()):
                todo.extend(parents(t) if t in self.sources else [t])
        return seen

    def needless_lazy_imports(self) -> list[str]:
        """``module:line function imports target`` for each lazy import the rule forbids."""
        bad = []
        for m, tree in self.trees.items():
            own = self.closure(m)
            heavy = HEAVY | LIGHT_EXTRA if m in self.light else HEAVY
            for fn, node in function_level_imports(tree):
                for t in dict.fromkeys(targets(node, m, self.sources[m][1], self.sources)):
                    if not (self.closure(t) - own) & heavy:
                        bad.append(f"{m}:{node.lineno} {fn} imports {t}")
        return sorted(bad)


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph(package_sources(ROOT))


def test_no_needless_import_inside_a_function(graph):
    bad = graph.needless_lazy_imports()
    assert not bad, ("imports inside functions that belong at the top of the module (fix a "
                     "cycle by moving code to the module that owns it):\n" + "\n".join(bad))


def test_the_light_entry_points_stay_light(graph):
    assert not graph.light & (HEAVY | LIGHT_EXTRA), sorted(graph.light & (HEAVY | LIGHT_EXTRA))


SYNTHETIC = {
    "pkg": ("", True),
    "pkg.light": ("import json\nimport numpy as np\n", False),
    "pkg.heavy": ("import torch\n", False),
    "pkg.viaheavy": ("from pkg import heavy\n", False),
    "pkg.user": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def needless():\n    from pkg import light\n    import json\n"
        "def fine():\n    from . import viaheavy\n    import matplotlib.pyplot as plt\n", False),
    "pkg.torchy": ("import torch\n\n\nclass A:\n    def f(self):\n"
                   "        import torch.distributed\n        from pkg.heavy import x\n", False),
    "pkg.entry": ("def f():\n    import numpy\n    from pkg import light\n", False),
}


def test_the_check_catches_a_needless_lazy_import():
    bad = ImportGraph(SYNTHETIC, light_roots=("pkg.entry",)).needless_lazy_imports()
    assert bad == ["pkg.torchy:6 f imports torch", "pkg.torchy:7 f imports pkg.heavy",
                   "pkg.user:5 needless imports pkg.light", "pkg.user:6 needless imports json"]
    # outside the light entry point the same numpy import is needless
    bad = ImportGraph(SYNTHETIC, light_roots=()).needless_lazy_imports()
    assert "pkg.entry:2 f imports numpy" in bad and "pkg.entry:3 f imports pkg.light" in bad


@pytest.mark.parametrize("module", [*LIGHT_ROOTS, "qtomo.data", "qtomo.states", "qtomo.povm",
                                    "qtomo.reconstruction.density", "qtomo.models.registry"])
def test_static_closures_match_a_real_import(graph, module):
    """The static model finds the same heavy dependencies as importing the module does."""
    watched = sorted(HEAVY | LIGHT_EXTRA)
    code = f"import sys, {module}; print(*[m for m in {watched!r} if m in sys.modules])"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, check=True)
    assert set(r.stdout.split()) & HEAVY == graph.closure(module) & HEAVY
    assert graph.closure(module) & LIGHT_EXTRA <= set(r.stdout.split())
