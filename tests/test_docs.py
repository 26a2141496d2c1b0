"""The documentation: the site builds strictly, the README stays a short introduction, no page
reads like a run log, generated figures match their records, and the import guide's claims
about bit orders hold."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def _load_script(name: str):
    """A module of ``scripts/`` (not a package), imported from its path."""
    path = ROOT / "scripts" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"_qtomo_scripts_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


# --- the site -----------------------------------------------------------------------------------
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e .[docs]); the site is not built")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    for page in ("index.html", "conventions/index.html", "methods/index.html",
                 "reference/cli/index.html", "reference/api/index.html", "benchmarks/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    for command in ("qtomo simulate", "qtomo import", "qtomo train", "qtomo reconstruct"):
        assert command in cli, f"the CLI reference lacks {command}"


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in _pages():
        rel = page.relative_to(DOCS).as_posix()
        assert rel in nav, f"docs/{rel} is not in mkdocs.yml's nav"


# --- the README ---------------------------------------------------------------------------------
def test_readme_is_short_and_opens_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; at most 250 (the rest: docs/)"
    start = lines.index("```bash")
    assert lines[start + 1].startswith("bash scripts/demo.sh     # ")
    assert lines[start + 2].startswith("bash scripts/test.sh     # ")
    assert start < 5, "README.md must open with the two commands"


def test_no_run_logs_in_readme_or_docs() -> None:
    for path in [README, *_pages()]:
        text = path.read_text()
        assert not re.search("session", text, re.IGNORECASE), (
            f"{path.relative_to(ROOT)} mentions a 'session': the docs teach, run logs live in "
            "git and benchmarks/results")


def test_no_run_figures_in_docstrings_or_comments() -> None:
    """Docstrings and comments of qtomo/ say what and why; the figures a run measured live in
    benchmarks/results and the design notes. A number between 0 and 1 given to four or more
    decimals is how a run's fidelity or error reads (an analytic value is written as an
    expression or in scientific notation)."""
    figure = re.compile(r"\b0\.\d{4,}")
    found = []
    for path in sorted((ROOT / "qtomo").rglob("*.py")):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if tok.type in (tokenize.COMMENT, tokenize.STRING) and figure.search(tok.string):
                found.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: "
                             f"{figure.search(tok.string).group()}")
    assert not found, ("figures from runs in qtomo/ (move the evidence to "
                       "docs/design-notes.md):\n" + "\n".join(found))


def test_no_citation_of_files_outside_the_repository() -> None:
    outside = ("PHYSICS" + ".md", "../" + "shared")
    folders = [ROOT / d for d in ("qtomo", "scripts", "tests", "docs", "examples")]
    files = [p for d in folders for p in d.rglob("*") if p.suffix in (".py", ".md", ".sh")]
    files += [README, ROOT / "CHANGELOG.md", ROOT / "mkdocs.yml", ROOT / "setup.cfg"]
    for path in files:
        text = path.read_text()
        for word in outside:
            assert word not in text, f"{path.relative_to(ROOT)} cites {word!r}"


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## Unreleased" in text
    assert "CHANGELOG.md" in (DOCS / "changelog.md").read_text()


# --- generated figures --------------------------------------------------------------------------
def test_benchmarks_page_and_readme_figures_are_rendered_from_the_records() -> None:
    rb = _load_script("render_benchmarks")
    page, readme = rb.render_all()
    assert (DOCS / "benchmarks.md").read_text() == page, (
        "docs/benchmarks.md differs from its rendering: run python scripts/render_benchmarks.py "
        "(never edit it by hand)")
    assert README.read_text() == readme, (
        "the README's figures block differs from its rendering: run "
        "python scripts/render_benchmarks.py (never edit it by hand)")


def test_benchlib_records_and_the_renderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("QTOMO_BENCH_RESULTS", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(ROOT / "scripts" / "bench_train.py"), "--only",
                                      "tfim10"])
    bl = _load_script("benchlib")
    rec = bl.record("train", "tfim10", "classical_fidelity_exact", 0.999, extra={"epochs": 3})
    written = bl.write_records("train", [
        {"case": "tfim10", "metric": "kl_divergence", "value": 0.002, "stderr": 1e-4,
         "unit": "nats"},
        {"case": "tfim10", "metric": "missing", "value": None},
        {"case": "tfim10", "metric": "nan", "value": float("nan")},
    ])
    assert len(written) == 1
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == rec
    assert set(first) == {"benchmark", "case", "metric", "value", "stderr", "unit",
                          "qtomo_version", "git_commit", "machine", "date", "command", "extra"}
    assert first["command"] == "python scripts/bench_train.py --only tfim10"
    assert set(first["machine"]) == {"cpu_model", "cores", "torch_threads", "gpu"}
    assert first["date"].endswith("+00:00")
    assert first["extra"] == {"epochs": 3}
    version = re.search(r'__version__ = "(.+)"', (ROOT / "qtomo" / "_version.py").read_text())[1]
    assert first["qtomo_version"] == version
    with pytest.raises(ValueError, match="benchmark name"):
        bl.record("Bench Train", "c", "m", 1.0)

    rb = _load_script("render_benchmarks")
    records = rb.load_records(tmp_path)
    # a later record of the same key replaces the earlier one on the page
    later = dict(records[0], value=0.998, date="2999-01-01T00:00:00+00:00")
    page = rb.render_page([*records, later])
    assert "| tfim10 | classical_fidelity_exact | 0.998 |" in page
    assert "| tfim10 | kl_divergence | 0.002 ± 0.0001 | nats |" in page
    assert "**Machine:** CPU " in page
    assert "`python scripts/bench_train.py --only tfim10`" in page
    assert "No records yet" in page  # the other benchmarks
    assert page == rb.render_page(list(reversed([*records, later])))  # deterministic
    keys = [("train", "tfim10", "classical_fidelity_exact", "TFIM N=10: exact F_c"),
            ("train", "ghz40", "classical_fidelity", "GHZ N=40: F_c")]
    block = rb.render_figures(records, keys)
    assert "| TFIM N=10: exact F_c |" in block
    assert "no record yet, left out" in block
    text = f"intro\n{rb.START}\nold\n{rb.END}\nend\n"
    assert rb.replace_block(text, "new") == f"intro\n{rb.START}\nnew\n{rb.END}\nend\n"


# --- the import guide's bit orders --------------------------------------------------------------
def test_qiskit_and_braket_bit_orders_read_the_same_shots(tmp_path: Path) -> None:
    from qtomo.data.counts import read_counts

    # the same physical counts: qubit 0 in X and read 0, qubit 1 in Z and read 1, qubit 2 in Y
    braket = {"XZY": {"010": 5, "011": 2}, "ZZZ": {"001": 4}}            # qubit 0 first
    qiskit = {"YZX": {"010": 5, "110": 2}, "ZZZ": {"100": 4}}            # qubit 0 last
    (tmp_path / "braket.json").write_text(json.dumps({"settings": braket}))
    (tmp_path / "qiskit.json").write_text(json.dumps({"settings": qiskit}))
    a = read_counts(tmp_path / "braket.json", "q0-first")
    b = read_counts(tmp_path / "qiskit.json", "q0-last")
    assert np.array_equal(a.bases, b.bases) and np.array_equal(a.bits, b.bits)
    assert {tuple(r) for r in a.bases} == {(0, 2, 1), (2, 2, 2)}  # X Z Y, Z Z Z (qubit 0 first)


def test_pennylane_shadow_columns_are_qubits(tmp_path: Path) -> None:
    from qtomo.data.counts import read_shadow

    bits = np.array([[0, 1, 1], [1, 0, 0]])
    recipes = np.array([[0, 1, 2], [2, 2, 0]])  # X Y Z on wires 0 1 2, then Z Z X
    np.savez(tmp_path / "shadow.npz", bits=bits, recipes=recipes)
    shots = read_shadow(tmp_path / "shadow.npz")
    assert np.array_equal(shots.bases, recipes) and np.array_equal(shots.bits, bits)
