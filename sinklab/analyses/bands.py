"""The layer band of the sink score, as a parameter: three published rules and explicit ranges.

    paper      [L // 4, L - 1)      sinklab's reading of the paper's "layers 4-11 of 12" for any depth
    extension  [3, L - 1)           the independent extension's rule for every depth
    authors    [3, min(11, L))      what the circuit authors' code does (LAYER_RANGE_START/END)
    A-B        [A, B)               explicit, 0-indexed, half-open

All three agree on 12 layers ([3, 11)). A band that does not fit a model (e.g. "authors" on a model
with 3 layers or fewer, or 3-20 on a 6-layer model) raises BadInput naming the model's depth.
"""
from __future__ import annotations

import re

from ..errors import BadInput
from .metrics import paper_layers

BANDS = {
    "paper": "[L//4, L-1): the paper's layers 4-11 of 12, the first quarter and the last layer dropped",
    "extension": "[3, L-1): the extension's rule (first three layers and the last one dropped)",
    "authors": "[3, min(11, L)): the circuit authors' code (LAYER_RANGE_START = 3, LAYER_RANGE_END = 11)",
}
_EXPLICIT = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def check_spec(spec: str) -> str:
    """Validate a band name without a model: one of BANDS or 'A-B' with A < B. Returns it stripped."""
    if not isinstance(spec, str):
        raise BadInput(f"band must be a string; got {spec!r}")
    spec = spec.strip()
    if spec in BANDS:
        return spec
    m = _EXPLICIT.match(spec)
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise BadInput(f"band must be one of {', '.join(BANDS)} or 'A-B' (0-indexed layers, A < B); got {spec!r}")
    return spec


def resolve(spec: str, n_layer: int) -> tuple[int, int]:
    """The 0-indexed half-open layer range [a, b) of band `spec` on a model with n_layer layers."""
    spec = check_spec(spec)
    if spec == "paper":
        a, b = paper_layers(n_layer)
    elif spec == "extension":
        a, b = (3, n_layer - 1) if n_layer > 4 else (None, None)
    elif spec == "authors":
        a, b = 3, min(11, n_layer)
    else:
        m = _EXPLICIT.match(spec)
        a, b = int(m.group(1)), int(m.group(2))
    if a is None or not 0 <= a < b <= n_layer:
        shown = f"[{a}, {b})" if a is not None else "empty"
        raise BadInput(f"layer band {spec!r} is {shown} on this model, outside its {n_layer} layers "
                       f"(valid: 0 <= A < B <= {n_layer}); choose another --band")
    return a, b


def describe(spec: str, n_layer: int | None = None) -> str:
    """'extension [3, 11)' style label (the rule alone without a depth)."""
    spec = check_spec(spec)
    rule = BANDS.get(spec, f"[{spec.replace('-', ', ')}) explicit")
    if n_layer is None:
        return f"{spec}: {rule}"
    a, b = resolve(spec, n_layer)
    return f"{spec} [{a}, {b}) of {n_layer} layers"


def for_metric(metric: str, n_layer: int) -> str:
    """The band whose layers are the metric's own default (sinklab.analyses.metrics.sink_score): the paper band
    for the paper metric and mass, every layer for Gu's rule."""
    return f"0-{n_layer}" if metric == "gu" else "paper"
