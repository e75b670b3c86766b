"""Sink metrics: the paper metric, the Gu et al. epsilon rule, and per-(layer, head) mass.

Paper metric layers: GPT-2 small uses layers 4-11 (1-indexed) of 12. For any depth L we drop
the first quarter and the last layer: 0-indexed range [L // 4, L - 1) (all layers if L <= 2).
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


def attention_to(trace: Trace, key: int = 0, queries: str = "second_half") -> torch.Tensor:
    """Mean attention to `key` over the chosen queries of each example. [batch, layer, head]

    queries: "second_half" (i >= T_b // 2, the paper's) or "from_key" (i >= key, Gu et al.'s).
    """
    _check_key(trace, key)
    A = trace.patterns()  # [layer, batch, head, query_pos, key_pos]
    lengths = trace.mask.sum(1)  # [batch]
    i = torch.arange(A.shape[-2], device=A.device)[None]  # [1, query_pos]
    start = lengths[:, None] // 2 if queries == "second_half" else torch.full_like(lengths[:, None], key)
    sel = (i >= start) & (i < lengths[:, None]) & (i >= key)  # [batch, query_pos]
    col = A[..., key].float()  # [layer, batch, head, query_pos]
    w = sel.float()[None, :, None, :]
    out = (col * w).sum(-1) / w.sum(-1).clamp(min=1)  # [layer, batch, head]
    return out.permute(1, 0, 2)


def sink_score(trace: Trace, key: int = 0, metric: Metric = "paper", layers: tuple[int, int] | None = None,
               epsilon: float = GU_EPSILON) -> torch.Tensor:
    """One number per example. [batch]; paper: mean over paper layers and heads; gu: share > epsilon."""
    checks.one_of("metric", metric, list(METRICS))
    L = trace.n_layer
    a, b = checks.layer_range(layers if layers is not None else (paper_layers(L) if metric != "gu" else (0, L)), L)
    if metric == "gu":
        imp = attention_to(trace, key, queries="from_key")[:, a:b]  # [batch, layer, head]
        return (imp > epsilon).float().mean((1, 2))
    return attention_to(trace, key)[:, a:b].mean((1, 2))


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
