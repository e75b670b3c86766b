"""The flat module names of sinklab 0.1 (`sinklab.epe`, `sinklab.lessons`, ...) as aliases of the layered modules.

Before the layered package (docs/architecture.md), every module sat directly in sinklab/. Scripts and
notebooks written against that layout keep working: `import sinklab.epe`, `from sinklab.lessons import
Prompt` and `sinklab.families` load the module where it lives now (sinklab.analyses.epe, ...) and bind
the SAME module object under the old name (one module, one set of globals, one intervention registry).

sinklab's own code, app, tutorials, tests, benchmarks and scripts use the layered names
(tests/unit/test_architecture.py checks it); these aliases are for code outside the repository.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

MOVED = {  # old name (under sinklab.) -> where the module lives now
    "names": "sinklab.model.names",
    "layout": "sinklab.model.layout",
    "families": "sinklab.model.families",
    "forward": "sinklab.model.forward",
    "loading": "sinklab.model.loading",
    "tokens": "sinklab.model.tokens",
    "bytetok": "sinklab.model.bytetok",
    "gguf": "sinklab.model.gguf",
    "textbook": "sinklab.specimens.textbook",
    "textbook_structural": "sinklab.specimens.textbook_structural",
    "mini": "sinklab.specimens.mini",
    "cards": "sinklab.specimens.cards",
    "metrics": "sinklab.analyses.metrics",
    "decomposition": "sinklab.analyses.decomposition",
    "epe": "sinklab.analyses.epe",
    "gamma": "sinklab.analyses.gamma",
    "origin": "sinklab.analyses.origin",
    "circuit": "sinklab.analyses.circuit",
    "effects": "sinklab.analyses.effects",
    "stats": "sinklab.analyses.stats",
    "corpora": "sinklab.inputs.corpora",
    "reference": "sinklab.published.reference",
    "engine": "sinklab.experiments.engine",
    "lessons": "sinklab.teaching.lessons",
    "claims": "sinklab.teaching.claims",
    "charts": "sinklab.teaching.charts",
    "glossary": "sinklab.teaching.glossary",
    "compare": "sinklab.teaching.compare",
    "experiments.bands": "sinklab.analyses.bands",
    "experiments.regimes": "sinklab.inputs.regimes",
    "experiments.published": "sinklab.published.tables",
}
PREFIX = "sinklab."


class _Loader(importlib.abc.Loader):
    """Loads an old name as the module at its new place (the same object, its own __spec__ kept)."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self._spec  # importlib set the alias's spec on the shared module: restore its own


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(PREFIX):
            return None
        new = MOVED.get(fullname[len(PREFIX):])
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(new))


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def module(name: str):
    """The module an old flat name stands for (sinklab.__getattr__ uses it), or None."""
    new = MOVED.get(name)
    return None if new is None else importlib.import_module(PREFIX + name)
