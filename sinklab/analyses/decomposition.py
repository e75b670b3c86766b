"""Score decomposition: s_tj = (x_t W_q)(x_j W_k)^T + (x_t W_q) b_K^T + b_Q (x_j W_k)^T + b_Q b_K^T.

Term 1 content-content, term 2 query-only, term 3 the source-agnostic shift Delta_j (key-only),
term 4 a constant. Terms are scaled like the model's scores (1/sqrt(d_head); 1 for GPT-Neo). Computed
from the recorded ln_1 outputs and the model's (unmodified) weights: decompose a clean trace.

Defined on un-rotated q and k, i.e. for GPT-2, GPT-Neo and OPT (sinklab.model.families). GPT-Neo has no
biases: its terms 2-4 are zero. Rotary models (Llama, Qwen2) raise NotApplicable: the rotation makes
b_Q·k depend on the query-key distance, so there is no source-agnostic Δ. Δ also needs a query bias.
"""
from __future__ import annotations

import pandas as pd
import torch

from .. import checks
from ..model import families, layout
from ..model.forward import Trace, run
from ..model.names import act_name
from .metrics import paper_layers
from .stats import percentiles

TERMS = ("content-content", "query-only", "key-only (Δ)", "constant")


def _require(model, what: str, query_bias: bool = False):
    fam = families.of(model)
    fam.require(what, unrotated=True, query_bias=query_bias)
    return fam


def _head_weights(model, layer: int):
    """W_q, W_k [head, d_model, d_head]; b_Q, b_K [head, d_head] (zeros where the family has none)."""
    w = families.attn_weights(model, layer)
    return w.heads(w.W_Q), w.heads(w.W_K), w.head_bias(w.b_Q), w.head_bias(w.b_K)


def score_terms(trace: Trace, model, layer: int) -> torch.Tensor:
    """The four scaled terms. [term, batch, head, query_pos, key_pos]; they sum to hook_attn_scores where allowed."""
    _require(model, "The four-term score decomposition")
    checks.layer(layer, trace.n_layer)
    x = trace["ln1", layer]  # [batch, pos, d_model]
    w_q, w_k, b_q, b_k = _head_weights(model, layer)
    with torch.inference_mode():
        qx = torch.einsum("btd,hde->bhte", x, w_q)  # x_t W_q  [batch, head, pos, d_head]
        kx = torch.einsum("btd,hde->bhte", x, w_k)  # x_j W_k  [batch, head, pos, d_head]
        t1 = qx @ kx.transpose(-1, -2)  # [batch, head, query_pos, key_pos]
        t2 = (qx @ b_k[None, :, :, None]).expand_as(t1)  # constant along keys
        t3 = (kx @ b_q[None, :, :, None]).transpose(-1, -2).expand_as(t1)  # constant along queries
        t4 = (b_q * b_k).sum(-1)[None, :, None, None].expand_as(t1)
        return torch.stack([t1, t2, t3, t4]) * families.attn_scale(model, layer)


def attention_from_terms(terms: torch.Tensor, mask: torch.Tensor, use=(0, 1, 2, 3),
                         window: int | None = None) -> torch.Tensor:
    """Softmax over allowed keys (causal, padding, local window if any) of the chosen terms' sum.

    terms [4, b, h, q, k] -> [b, h, q, k]"""
    s = terms[list(use)].sum(0)
    return layout.masked_softmax(s, layout.allowed(s.shape[-1], mask, window))


def decomposition_check(trace: Trace, model) -> pd.DataFrame:
    """Per layer: max |sum of terms - model scores| and max |softmax(terms 1+3) - pattern| over valid entries."""
    fam = _require(model, "The four-term score decomposition")
    rows = []
    valid = trace.mask.bool()
    for l in range(trace.n_layer):
        terms = score_terms(trace, model, l)
        ok = layout.allowed(terms.shape[-1], trace.mask, fam.window(l)) & valid[:, None, :, None]  # [b, 1, q, k]
        ok = ok.expand_as(terms[0])
        sum_err = (terms.sum(0) - trace["attn_scores", l])[ok].abs().max()
        p13 = attention_from_terms(terms, trace.mask, use=(0, 2), window=fam.window(l))
        prob_err = (p13 - trace.pattern(l))[ok].abs().max()
        rows.append({"layer": l, "max_sum_error": float(sum_err), "max_prob_error_terms_1_3": float(prob_err)})
    return pd.DataFrame(rows)


def terms_table(trace: Trace, model, layer: int, head: int, example: int = 0) -> pd.DataFrame:
    """Long table for one head: query, key, term, value (causal entries only), plus 'total' and 'model'."""
    checks.layer(layer, trace.n_layer)
    checks.head(head, trace.n_head)
    checks.in_range("example", example, 0, trace.ids.shape[0] - 1)
    T = int(trace.mask[example].sum())
    terms = score_terms(trace, model, layer)[:, example, head, :T, :T].cpu()  # [4, q, k]
    model_scores = trace["attn_scores", layer][example, head, :T, :T].cpu()
    frames = []
    q, k = torch.meshgrid(torch.arange(T), torch.arange(T), indexing="ij")
    causal = (k <= q).reshape(-1)
    for name, values in [*zip(TERMS, terms), ("total", terms.sum(0)), ("model", model_scores)]:
        frames.append(pd.DataFrame({"query": q.reshape(-1)[causal].numpy(), "key": k.reshape(-1)[causal].numpy(),
                                    "term": name, "value": values.reshape(-1)[causal].float().numpy()}))
    return pd.concat(frames, ignore_index=True)


def delta(trace: Trace, model, layers: tuple[int, int] | None = None) -> pd.DataFrame:
    """Delta_{j,h} = b_{Q,h} W_{k,h}^T x_j^T (unscaled). Long: example, layer, head, position, delta, delta_norm.

    delta_norm subtracts each (example, layer, head) slice's minimum over positions (arXiv convention).
    """
    _require(model, "Δ (the source-agnostic shift b_Q W_k^T x_j)", query_bias=True)
    a, b = checks.layer_range(layers if layers is not None else (0, trace.n_layer), trace.n_layer)
    frames = []
    lengths = trace.mask.sum(1).tolist()
    for l in range(a, b):
        x = trace["ln1", l]  # [batch, pos, d_model]
        _, w_k, b_q, _ = _head_weights(model, l)
        with torch.inference_mode():
            gam = torch.einsum("hde,he->hd", w_k, b_q)  # gamma per head  [head, d_model]
            dl = torch.einsum("btd,hd->bht", x, gam).float().cpu()  # [batch, head, pos]
        for i, T in enumerate(lengths):
            v = dl[i, :, :T]
            H = v.shape[0]
            frames.append(pd.DataFrame({
                "example": i, "layer": l, "head": torch.arange(H).repeat_interleave(T).numpy(),
                "position": torch.arange(T).repeat(H).numpy(), "delta": v.reshape(-1).numpy(),
                "delta_norm": (v - v.min(-1, keepdim=True).values).reshape(-1).numpy(),
            }))
    return pd.concat(frames, ignore_index=True)


def delta_pooled(trace: Trace, model, layers: tuple[int, int] | None = None) -> pd.DataFrame:
    """Delta_norm pooled over layers (default: the paper layers), first position vs the rest."""
    df = delta(trace, model, layers if layers is not None else paper_layers(trace.n_layer))
    df["group"] = df["position"].map(lambda p: "first position" if p == 0 else "other positions")
    return df


def delta_percentiles(df: pd.DataFrame) -> pd.DataFrame:
    """Per layer and position: p10, p50, p90, mean, std of delta (the authors' table shape, raw Δ, sample std)."""
    return percentiles(df, by=["layer", "position"], value="delta")


def delta_percentiles_authors(trace: Trace, model, layers: tuple[int, int] | None = None) -> pd.DataFrame:
    """The Δ percentile table computed like the circuit authors' published one (reference.delta_percentiles()).

    Per-head Δ, each (example, layer, head) slice shifted so its minimum over positions is 0, then pooled
    over examples and heads per (layer, position): p10, p50, p90 (linear interpolation, as numpy), mean
    and the population std (ddof=0, as numpy.std). Layers 0-indexed, all of them by default.
    Columns: layer, position, p10, p50, p90, mean, std.
    """
    return percentiles_authors(delta(trace, model, layers), ["layer", "position"])


def percentiles_authors(values: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """p10, p50, p90 (linear interpolation, as numpy), mean and population std (ddof=0) of delta_norm per
    `by` group: the statistics of the authors' table."""
    g = values.groupby(by, sort=True)["delta_norm"]
    out = g.quantile([0.1, 0.5, 0.9]).unstack()
    out.columns = ["p10", "p50", "p90"]
    out["mean"], out["std"] = g.mean(), g.std(ddof=0)
    return out.reset_index()


def delta_values(lm, ids: torch.Tensor, batch_size: int = 32) -> pd.DataFrame:
    """The per-head Δ = b_{Q,h} W_{k,h}^T x_j of every example, layer, head and position, each (example, layer,
    head) slice shifted so its minimum over positions is 0 (the authors' normalisation): the raw material of
    their percentile table (the delta experiment pools it). Columns: example, layer, head, position, delta_norm.
    NotApplicable without a query bias or on rotary models (delta)."""
    names = {act_name("ln1", l) for l in range(lm.info.n_layer)}
    frames = []
    for start in range(0, ids.shape[0], batch_size):
        tr = run(lm.model, ids[start: start + batch_size], names=names)
        d = delta(tr, lm.model)[["example", "layer", "head", "position", "delta_norm"]]
        frames.append(d.assign(example=d["example"] + start).astype(
            {"example": "int32", "layer": "int16", "head": "int16", "position": "int16", "delta_norm": "float32"}))
    return pd.concat(frames, ignore_index=True)
