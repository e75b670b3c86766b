"""The layer band of the sink score, as a parameter: three named rules and explicit ranges.

    drop-quarter  [L // 4, L - 1)      drop the first quarter of the layers and the last one (the default: the
                                       paper's "layers 4-11 of 12" scaled to any depth; the metric's own layers,
                                       sinklab.analyses.metrics.paper_layers, so the app and the report agree)
    drop-3        [3, L - 1)           drop the first three layers and the last one (the spec's wording of
                                       "layers 4-11", and the independent extension's rule for every depth)
    authors       [3, min(11, L))      what the circuit authors' code does (LAYER_RANGE_START/END)
    A-B           [A, B)               explicit, 0-indexed, half-open

All three agree on 12 layers ([3, 11)). Older names still work: `paper` is `drop-quarter` (deprecated: the
paper only says "layers 4-11 of 12"; its rule for other depths is sinklab's reading, and the spec's words are
`drop-3`), `extension` is `drop-3` (the extension's name for its own rule). check_spec turns them into the
new names. A band that does not fit a model (e.g. "authors" on a model with 3 layers or fewer, or 3-20 on a
6-layer model) raises BadInput naming the model's depth.
"""
from __future__ import annotations

import re
import warnings

from ..errors import BadInput
from .metrics import paper_layers

DEFAULT = "drop-quarter"
BANDS = {
    "drop-quarter": "[L//4, L-1): the first quarter of the layers and the last one dropped (the paper's layers 4-11 "
                    "of 12 scaled to any depth; the default)",
    "drop-3": "[3, L-1): the first three layers and the last one dropped (the spec's wording; the extension's rule)",
    "authors": "[3, min(11, L)): the circuit authors' code (LAYER_RANGE_START = 3, LAYER_RANGE_END = 11)",
}
ALIASES = {"paper": "drop-quarter", "extension": "drop-3"}  # older names -> what they are
DEPRECATED = {"paper": "the band name 'paper' is deprecated: it named sinklab's [L//4, L-1), not a rule the paper "
                       "states (the paper only says layers 4-11 of 12, and the spec's words, 'drop the first 3 layers "
                       "and the last', are drop-3); use 'drop-quarter' for the same layers"}
_EXPLICIT = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def check_spec(spec: str, warn: bool = True) -> str:
    """Validate a band name without a model: one of BANDS, an alias (ALIASES, returned as the name it stands for;
    a deprecated one warns) or 'A-B' with A < B. Returns it stripped."""
    if not isinstance(spec, str):
        raise BadInput(f"band must be a string; got {spec!r}")
    spec = spec.strip()
    if spec in ALIASES:
        if warn and spec in DEPRECATED:
            warnings.warn(DEPRECATED[spec], FutureWarning, stacklevel=2)
        return ALIASES[spec]
    if spec in BANDS:
        return spec
    m = _EXPLICIT.match(spec)
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise BadInput(f"band must be one of {', '.join(BANDS)} or 'A-B' (0-indexed layers, A < B); the names "
                       f"paper, extension, authors of earlier runs still work (paper = drop-quarter, deprecated; "
                       f"extension = drop-3); got {spec!r}")
    return spec


def resolve(spec: str, n_layer: int) -> tuple[int, int]:
    """The 0-indexed half-open layer range [a, b) of band `spec` on a model with n_layer layers."""
    name = check_spec(spec)
    if name == "drop-quarter":
        a, b = paper_layers(n_layer)
    elif name == "drop-3":
        a, b = (3, n_layer - 1) if n_layer > 4 else (None, None)
    elif name == "authors":
        a, b = 3, min(11, n_layer)
    else:
        m = _EXPLICIT.match(name)
        a, b = int(m.group(1)), int(m.group(2))
    if a is None or not 0 <= a < b <= n_layer:
        shown = f"[{a}, {b})" if a is not None else "empty"
        raise BadInput(f"layer band {spec.strip()!r} is {shown} on this model, outside its {n_layer} layers "
                       f"(valid: 0 <= A < B <= {n_layer}); choose another --band")
    return a, b


def describe(spec: str, n_layer: int | None = None) -> str:
    """'drop-3 [3, 11) of 12 layers' style label (the rule alone without a depth)."""
    name = check_spec(spec, warn=False)
    rule = BANDS.get(name, f"[{name.replace('-', ', ')}) explicit")
    if n_layer is None:
        return f"{name}: {rule}"
    a, b = resolve(name, n_layer)
    return f"{name} [{a}, {b}) of {n_layer} layers"


def for_metric(metric: str, n_layer: int) -> str:
    """The band whose layers are the metric's own default (sinklab.analyses.metrics.sink_score): drop-quarter
    for the paper metric and mass, every layer for Gu's rule."""
    return f"0-{n_layer}" if metric == "gu" else DEFAULT
