"""Argument checks shared by every module: one message style, "<what> must be in <range>; got <value>"."""
from __future__ import annotations

from .errors import BadInput


def in_range(what: str, value, low, high) -> None:
    """Raise BadInput unless low <= value <= high (inclusive)."""
    if value is None or not low <= value <= high:
        raise BadInput(f"{what} must be in {low}..{high}; got {value!r}")


def at_least(what: str, value, low) -> None:
    """Raise BadInput unless low <= value (where the upper bound is not known yet)."""
    if value is None or not low <= value:
        raise BadInput(f"{what} must be at least {low}; got {value!r}")


def layer(value: int, n_layer: int, what: str = "layer") -> int:
    """A 0-indexed layer of a model with n_layer layers."""
    in_range(what, value, 0, n_layer - 1)
    return int(value)


def head(value: int, n_head: int, what: str = "head") -> int:
    """A 0-indexed head of a model with n_head heads."""
    in_range(what, value, 0, n_head - 1)
    return int(value)


def position(value: int, n_pos: int, low: int = 0, what: str = "position") -> int:
    """A 0-indexed position of a sequence of n_pos tokens (position 1 of the papers is 0)."""
    if n_pos <= low:
        raise BadInput(f"{what} needs at least {low + 1} tokens; the sequence has {n_pos}")
    in_range(what, value, low, n_pos - 1)
    return int(value)


def layer_range(value, n_layer: int | None = None, what: str = "layers") -> tuple[int, int]:
    """A 0-indexed half-open layer range [start, stop) with 0 <= start < stop <= n_layer (if known)."""
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise BadInput(f"{what} must be a pair (start, stop); got {value!r}") from None
    if n_layer is None:
        if not 0 <= a < b:
            raise BadInput(f"{what} must satisfy 0 <= start < stop; got ({a}, {b})")
        return a, b
    if not 0 <= a < b <= n_layer:
        raise BadInput(f"{what} must satisfy 0 <= start < stop <= {n_layer}; got ({a}, {b})")
    return a, b


def one_of(what: str, value, options) -> None:
    """Raise BadInput unless value is one of options."""
    if value not in options:
        raise BadInput(f"{what} must be one of {', '.join(map(str, options))}; got {value!r}")
