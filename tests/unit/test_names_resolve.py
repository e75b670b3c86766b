"""Every `module.name` that a tutorial, app page or script reads from a sinklab module exists.

A renamed or moved function otherwise surfaces only when a notebook's branch runs on the one model that takes it
(tutorials/08_origin.py read `layout.mlp_out_rows` after it moved to `families`, and failed only on SmolLM2)."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("tutorials/*.py"), *ROOT.glob("app/**/*.py"), *ROOT.glob("scripts/*.py")])


def _sinklab_modules(tree: ast.AST) -> dict[str, str]:
    """{local name: sinklab module it is bound to}, from the file's imports."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("sinklab"):
                    names[a.asname or "sinklab"] = a.name if a.asname else "sinklab"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sinklab"):
            for a in node.names:
                try:
                    importlib.import_module(f"{node.module}.{a.name}")
                except ImportError:
                    continue  # a function or class, not a module
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def test_there_are_files_to_check():
    assert len([f for f in FILES if f.parts[-2] == "tutorials"]) >= 10 and any(f.parts[-2] == "lesson_pages"
                                                                                for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=[str(f.relative_to(ROOT)) for f in FILES])
def test_every_sinklab_attribute_read_exists(path):
    tree = ast.parse(path.read_text())
    modules = _sinklab_modules(tree)
    missing = [f"line {n.lineno}: {n.value.id}.{n.attr}" for n in ast.walk(tree)
               if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in modules
               and not hasattr(importlib.import_module(modules[n.value.id]), n.attr)]
    assert not missing, f"{path.name} reads names its sinklab modules do not have: {missing}"
