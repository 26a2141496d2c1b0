"""A newcomer can read every module: none over 450 lines, no function over 80 (the note in
docs/design-notes.md names any exception, and this list must then name it too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "qtomo"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
#: Functions kept whole on purpose (docs/design-notes.md, "Where things live"): none at present.
EXCEPTIONS: frozenset[str] = frozenset()


def test_modules_and_functions_stay_small():
    long_modules, long_functions = [], []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(ROOT.parent).as_posix()
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{rel}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and f"{rel}:{node.name}" not in EXCEPTIONS:
                    long_functions.append(f"{rel}:{node.name} {length} lines")
    assert not long_modules, long_modules
    assert not long_functions, long_functions

