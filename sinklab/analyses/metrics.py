"""Sink metrics: the paper metric, the Gu et al. epsilon rule, and per-(layer, head) mass.

Paper metric layers: GPT-2 small uses layers 4-11 (1-indexed) of 12. For any depth L we drop
the first quarter and the last layer: 0-indexed range [L // 4, L - 1) (all layers if L <= 2).

Sliding-window layers (GPT-Neo's local layers, Qwen2's and Gemma 3's sliding layers): a query i does not see
key k when i - k >= the layer's window, so its attention to k is 0 by the mask alone, not by the model's
choice. Such (layer, query) pairs are left out of every score here: a layer's value is the mean over the
chosen queries that SEE the key, a layer where none does is NaN (not a 0), and the band's score averages the
layers that see it (NaN if none does). The windows are read from the trace (`Trace.windows`, one entry per
layer, None = global); a trace without them, or whose windows hide the key from no chosen query, is scored
exactly as before (the same operations, the same numbers).
"""
from __future__ import annotations

from typing import Literal

import pandas as pd
import torch

from .. import checks
from ..model.forward import Trace

Metric = Literal["paper", "gu", "mass"]
METRICS: dict[str, str] = {
    "paper": "mean attention to the key from second-half queries, all heads, middle layers",
    "gu": "share of (layer, head) whose key importance sum_i A[i,k]/(T-k) exceeds epsilon (Gu et al.)",
    "mass": "mean attention to the key from second-half queries, per layer and head",
}
GU_EPSILON = 0.3


def paper_layers(n_layer: int) -> tuple[int, int]:
    """0-indexed [start, stop) of the paper metric's layers: (3, 11) for 12 layers."""
    if n_layer <= 2:
        return (0, n_layer)
    return (n_layer // 4, n_layer - 1)


def _check_key(trace: Trace, key: int) -> None:
    checks.position(key, trace.ids.shape[1], what="key position")


def windows_of(trace: Trace) -> tuple[int | None, ...] | None:
    """The sliding window of each layer of the trace (None: global attention), or None if it records none."""
    windows = getattr(trace, "windows", None)
    if windows is None:
        return None
    if len(windows) != trace.n_layer:
        raise ValueError(f"the trace records {len(windows)} windows for {trace.n_layer} layers")
    return tuple(windows)


def hidden_key_layers(windows, n_tokens: int, key: int = 0, queries: str = "second_half"
                      ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(layers where the window hides `key` from some of the chosen queries, layers where it hides it from all of
    them) at length n_tokens without padding; indices into `windows` (one per layer, None = global)."""
    first = max(n_tokens // 2 if queries == "second_half" else key, key)
    some, every = [], []
    for l, w in enumerate(windows):
        if w is None or first >= n_tokens:
            continue
        hidden = [i - key >= w for i in range(first, n_tokens)]
        if all(hidden):
            every.append(l)
        elif any(hidden):
            some.append(l)
    return tuple(some), tuple(every)


def _hidden(trace: Trace, key: int, n_query: int, device) -> torch.Tensor | None:
    """[layer, query_pos] True where the layer's window hides `key` from the query; None without windows."""
    windows = windows_of(trace)
    if windows is None or all(w is None for w in windows):
        return None
    i = torch.arange(n_query, device=device)
    far = torch.tensor([n_query + key if w is None else w for w in windows], device=device)  # None: never hidden
    return (i[None, :] - key) >= far[:, None]


def attention_to(trace: Trace, key: int = 0, queries: str = "second_half") -> torch.Tensor:
    """Mean attention to `key` over the chosen queries of each example. [batch, layer, head]

    queries: "second_half" (i >= T_b // 2, the paper's) or "from_key" (i >= key, Gu et al.'s). In a
    sliding-window layer, the chosen queries whose window hides the key are left out, and the value is NaN
    where it hides it from all of them (see the module's docstring).
    """
    return _attention_to(trace, key, queries)[0]


def _attention_to(trace: Trace, key: int, queries: str) -> tuple[torch.Tensor, bool]:
    """attention_to, and whether a window hid the key from some chosen query (then NaN marks a hidden layer)."""
    _check_key(trace, key)
    A = trace.patterns()  # [layer, batch, head, query_pos, key_pos]
    lengths = trace.mask.sum(1)  # [batch]
    i = torch.arange(A.shape[-2], device=A.device)[None]  # [1, query_pos]
    start = lengths[:, None] // 2 if queries == "second_half" else torch.full_like(lengths[:, None], key)
    sel = (i >= start) & (i < lengths[:, None]) & (i >= key)  # [batch, query_pos]
    col = A[..., key].float()  # [layer, batch, head, query_pos]
    hidden = _hidden(trace, key, A.shape[-2], A.device)
    if hidden is not None and (hidden[:, None, :] & sel[None]).any():
        seen = (sel[None] & ~hidden[:, None, :]).float()[:, :, None, :]  # [layer, batch, 1, query_pos]
        n = seen.sum(-1)  # [layer, batch, 1]
        out = ((col * seen).sum(-1) / n.clamp(min=1)).masked_fill(n == 0, float("nan"))  # [layer, batch, head]
        return out.permute(1, 0, 2), True
    w = sel.float()[None, :, None, :]
    out = (col * w).sum(-1) / w.sum(-1).clamp(min=1)  # [layer, batch, head]
    return out.permute(1, 0, 2), False


def sink_score(trace: Trace, key: int = 0, metric: Metric = "paper", layers: tuple[int, int] | None = None,
               epsilon: float = GU_EPSILON) -> torch.Tensor:
    """One number per example. [batch]; paper: mean over paper layers and heads; gu: share > epsilon."""
    checks.one_of("metric", metric, list(METRICS))
    L = trace.n_layer
    a, b = checks.layer_range(layers if layers is not None else (paper_layers(L) if metric != "gu" else (0, L)), L)
    if metric == "gu":
        imp, windowed = _attention_to(trace, key, "from_key")
        imp = imp[:, a:b]  # [batch, layer, head]
        if not windowed:
            return (imp > epsilon).float().mean((1, 2))
        seen = ~imp.isnan()  # the layers whose window lets some chosen query see the key
        return ((imp > epsilon) & seen).float().sum((1, 2)) / seen.float().sum((1, 2))  # 0/0: NaN, none sees it
    v, windowed = _attention_to(trace, key, "second_half")
    v = v[:, a:b]
    return v.nanmean((1, 2)) if windowed else v.mean((1, 2))  # windowed: over the layers that see the key


def sink_table(trace: Trace, key: int = 0, metric: Metric = "mass", epsilon: float = GU_EPSILON) -> pd.DataFrame:
    """Long table: example, layer, head, value (mass, or Gu importance and has_sink)."""
    checks.one_of("metric", metric, list(METRICS))
    queries = "from_key" if metric == "gu" else "second_half"
    v = attention_to(trace, key, queries).cpu()  # [batch, layer, head]
    B, L, H = v.shape
    idx = pd.MultiIndex.from_product([range(B), range(L), range(H)], names=["example", "layer", "head"])
    df = pd.DataFrame({"value": v.reshape(-1).numpy()}, index=idx).reset_index()
    df["key"] = key
    df["metric"] = metric
    if metric == "gu":
        df["has_sink"] = df["value"] > epsilon
        if df["value"].isna().any():  # a layer whose window hides the key: neither a sink nor none
            df["has_sink"] = df["has_sink"].where(df["value"].notna())
    lo, hi = paper_layers(L)
    df["paper_layer"] = df["layer"].between(lo, hi - 1)
    return df


def per_layer(trace: Trace, key: int = 0, metric: Metric = "paper", epsilon: float = GU_EPSILON) -> pd.DataFrame:
    """Per layer, averaged over heads and examples: layer, value, metric (gu: share of heads > epsilon)."""
    df = sink_table(trace, key, "gu" if metric == "gu" else "mass", epsilon)
    col = "has_sink" if metric == "gu" else "value"
    out = df.groupby("layer", as_index=False)[col].mean().rename(columns={col: "value"})
    out["value"] = out["value"].astype(float)
    out["metric"] = metric
    out["key"] = key
    return out
