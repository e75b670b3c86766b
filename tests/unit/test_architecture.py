"""The package's shape: its layers hold (import-linter, as configured in pyproject.toml), an upward import breaks
the build, the code uses the layered names, and no import hides inside a function to dodge a cycle."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    """import-linter with the repository's contracts on the package under `root` (no cache)."""
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": str(LINT.parent)})


def test_the_import_contracts_hold():
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "3 kept" in out.stdout


def test_an_upward_import_breaks_the_build(tmp_path):
    """The model layer importing the teaching layer (a copy of the package with that one line added) fails."""
    shutil.copytree(ROOT / "sinklab", tmp_path / "sinklab", ignore=shutil.ignore_patterns("bundled", "data", "*.pyc"))
    names = tmp_path / "sinklab" / "model" / "names.py"
    names.write_text(names.read_text() + "\nfrom ..teaching import glossary  # an upward import\n")
    out = lint(tmp_path)
    assert out.returncode != 0
    assert "sinklab.model.names -> sinklab.teaching.glossary" in out.stdout


OLD_FLAT = ("names", "layout", "families", "forward", "loading", "tokens", "bytetok", "gguf", "textbook",
            "textbook_structural", "mini", "cards", "metrics", "decomposition", "epe", "gamma", "origin", "circuit",
            "effects", "stats", "corpora", "reference", "engine", "report")


def _python_files():
    for folder in ("sinklab", "app", "tests", "tutorials", "benchmarks", "scripts", "deploy"):
        yield from (ROOT / folder).rglob("*.py")


def test_the_code_uses_the_layered_names():
    """sinklab.epe, sinklab.lessons, ... (sinklab._aliases) are for code outside the repository only."""
    flat = re.compile(r"\b(?:from|import)\s+sinklab\.(" + "|".join(OLD_FLAT) + r")\b")
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in _python_files()
             if p.name not in ("_aliases.py", "test_architecture.py") for m in flat.finditer(p.read_text())]
    assert not found, found


def test_the_flat_names_of_0_1_still_import():
    import sinklab
    import sinklab.epe as old
    from sinklab.analyses import epe
    from sinklab.lessons import Prompt
    from sinklab.teaching import lessons

    assert old is epe and old.__spec__.name == "sinklab.analyses.epe"
    assert Prompt is lessons.Prompt and sinklab.families is sys.modules["sinklab.model.families"]
    from sinklab import charts, load_model, make, metrics, run  # noqa: F401  (the public names)


def test_no_import_hides_in_a_function():
    """sinklab's modules import each other at module level (a function-level import would only hide a cycle)."""
    hidden = []
    for p in (ROOT / "sinklab").rglob("*.py"):
        for fn in ast.walk(ast.parse(p.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("sinklab")):
                        hidden.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert not hidden, hidden


@pytest.mark.parametrize("package", ["model", "specimens", "analyses", "inputs", "published", "experiments",
                                     "teaching"])
def test_every_layer_says_what_it_is(package):
    doc = ast.get_docstring(ast.parse((ROOT / "sinklab" / package / "__init__.py").read_text()))
    assert doc and len(doc) > 60, f"sinklab/{package}/__init__.py: a docstring saying what the layer holds"


def test_the_architecture_document_is_current():
    """docs/architecture.md's layer diagram and module table are what scripts/architecture.py draws from the
    import graph now (regenerate: python scripts/architecture.py)."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "architecture.py"), "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for heading in ("an intervention: 1 file", "an experiment: 1 file", "a model family: 1 file",
                    "a page and its notebook"):
        assert heading in doc, heading
