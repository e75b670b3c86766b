"""sinklab: GPT-2's attention sink, measured live and broken on purpose.

The package is layered (docs/architecture.md draws it from the import graph; import-linter enforces it):

    cli                       the command line
    teaching                  lessons, claims, charts, glossary, compare (one lesson per page and notebook)
    experiments | specimens   sweeps over models, seeds and inputs (sinklab report) | the bundled models
    published                 the papers' numbers, shown beside computed ones
    analyses | inputs         measurements | corpora and content regimes
    interventions             edits of the forward pass, as data
    model                     names, layout, families, forward, loading, tokens

The names below are the public API: `from sinklab import lessons, charts, metrics, run, make, load_model`.
"""
import importlib
import warnings

with warnings.catch_warnings():  # tqdm.auto warns in kernels without ipywidgets; its bars are not used here
    warnings.filterwarnings("ignore", message="IProgress not found")
    import tqdm.auto  # noqa: F401
from . import _aliases
from .errors import BadInput, ModelUnavailable, SinklabError
from .model.forward import Trace, run
from .model.loading import (BUNDLED, OFFLINE_DEFAULT, LoadedModel, ModelInfo, load_configured, load_model,
                            load_preferred, pick_device)
from .model.tokens import Tokens, batch, tokenize

_aliases.install()  # sinklab.epe, sinklab.lessons, ... (the flat names of sinklab 0.1) still import

# imported on first use (`from sinklab import lessons` does not load altair for a CLI run)
LAZY = {"lessons": "sinklab.teaching.lessons", "claims": "sinklab.teaching.claims",
        "charts": "sinklab.teaching.charts", "glossary": "sinklab.teaching.glossary",
        "cards": "sinklab.specimens.cards", "metrics": "sinklab.analyses.metrics",
        "make": "sinklab.interventions:make"}

__all__ = [
    "BadInput", "ModelUnavailable", "SinklabError", "Trace", "run", "BUNDLED", "LoadedModel",
    "ModelInfo", "load_model", "load_preferred", "load_configured", "OFFLINE_DEFAULT", "pick_device", "Tokens", "batch",
    "tokenize", *LAZY,
]


def __getattr__(name: str):
    if name in LAZY:
        module, _, attr = LAZY[name].partition(":")
        value = importlib.import_module(module)
        return getattr(value, attr) if attr else value
    if name in _aliases.MOVED:  # sinklab.families, sinklab.epe, ...: the flat names of sinklab 0.1
        return importlib.import_module(_aliases.MOVED[name])
    raise AttributeError(f"module 'sinklab' has no attribute {name!r}")
