"""The structural-origin account: variance discrepancy of attention outputs, FFN super neurons, massive coordinates.

The finder (one set of rules, used by the tables, the interventions zero_neurons / zero_random_neurons /
zero_massive, the Structural origin page and the `structural` experiment), per example and layer:

- a massive coordinate of position 0's residual stream after block l is a coordinate c with
  |r_0[c]| >= mean + k_sigma * std of |r_0| (over the d_model coordinates), >= MIN_RATIO x their median,
  and >= MIN_OTHERS x the other positions' mean |r_p[c]|: far out of the distribution, not merely the largest;
- a super neuron of layer l is an MLP hidden unit (hook_post: GPT-2's GELU output, Llama's / Gemma's gate*up
  product) with activation ratio |a_0| / mean_{p>=1} |a_p| >= MIN_ACTIVATION_RATIO (active at position 0, not
  elsewhere) that makes >= MIN_SHARE of the layer's MLP write at position 0 (write_n = |a_0n| * ||W_out[n]||,
  before any post-norm) in a layer whose MLP output at position 0 has a massive coordinate (the rule above
  applied to hook_mlp_out): it writes a massive coordinate. A layer without one says so ("no super neuron").
"""
from __future__ import annotations

import pandas as pd
import torch

from .. import checks
from . import metrics
from ..model import families
from ..model.finder import (K_SIGMA, MIN_ACTIVATION_RATIO, MIN_OTHERS, MIN_RATIO, MIN_SHARE,  # noqa: F401
                             _others, found_neurons, massive_mask, neuron_stats, super_mask)
from ..model.forward import Trace



def attention_output_stats(trace: Trace) -> pd.DataFrame:
    """Per layer and position, averaged over examples: variance and norm of the attention output.

    variance/norm: over the d_model coordinates of hook_attn_out; z_variance: mean over heads of the
    per-head output's variance (before c_proj). Long: layer, position, variance, norm, z_variance.
    """
    frames = []
    m = trace.mask.float()[:, :, None]  # [batch, pos, 1]
    count = m.sum(0).squeeze(-1).clamp(min=1)  # [pos]
    for l in range(trace.n_layer):
        out = trace["attn_out", l].float()  # [batch, pos, d_model]
        z = trace["z", l].float()  # [batch, pos, head, d_head]
        var = (out.var(-1, keepdim=True) * m).sum(0).squeeze(-1) / count  # [pos]
        norm = (out.norm(dim=-1, keepdim=True) * m).sum(0).squeeze(-1) / count
        zvar = (z.var(-1).mean(-1, keepdim=True) * m).sum(0).squeeze(-1) / count
        frames.append(pd.DataFrame({"layer": l, "position": range(out.shape[1]), "variance": var.cpu().numpy(),
                                    "norm": norm.cpu().numpy(), "z_variance": zvar.cpu().numpy()}))
    df = pd.concat(frames, ignore_index=True)
    df["first"] = df["position"] == 0
    return df


def super_neurons(trace: Trace, model, layers: tuple[int, int] | None = None, top: int = 5,
                  n_coords: int = 3) -> pd.DataFrame:
    """MLP neurons with the most extreme activation at position 0 relative to the other positions.

    score = |mean act at pos 0| / (mean |act| at other positions + 1e-6), after the activation.
    sparsity = share of the squared norm of the neuron's down-projection row (c_proj.weight[n]) held by
    its n_coords largest coordinates (1 = writes only there). Long: layer, neuron, act_first,
    act_other, score, sparsity, coords (the residual coordinates it writes most).
    """
    n_layer = families.of(model).n_layer
    a, b = checks.layer_range(layers if layers is not None else (0, n_layer), n_layer)
    checks.position(1, trace.ids.shape[1], low=1, what="super neurons (position 0 against later positions)")
    rows = []
    m = trace.mask.float()[:, 1:, None]  # [batch, pos-1, 1]
    for l in range(a, b):
        post = trace["post", l].detach().float()  # [batch, pos, d_mlp]
        first = post[:, 0].mean(0)  # [d_mlp]
        other = (post[:, 1:].abs() * m).sum((0, 1)) / m.sum().clamp(min=1)
        score = first.abs() / (other + 1e-6)
        w = families.mlp_out_rows(model, l).detach()  # [d_mlp, d_model]
        for n in torch.argsort(score, descending=True)[:top].tolist():
            row = w[n].float() ** 2
            vals, idx = torch.topk(row, n_coords)
            rows.append({"layer": l, "neuron": n, "act_first": float(first[n]), "act_other": float(other[n]),
                         "score": float(score[n]), "sparsity": float(vals.sum() / row.sum().clamp(min=1e-30)),
                         "coords": tuple(int(i) for i, v in zip(idx, vals) if v > 0)})  # only coordinates it writes
    return pd.DataFrame(rows)


def down_projection(model, layer: int, neuron: int) -> pd.DataFrame:
    """One neuron's down-projection row. Long: coord, weight, abs_weight."""
    checks.layer(layer, families.of(model).n_layer)
    w = families.mlp_out_rows(model, layer)  # [d_mlp, d_model]
    checks.in_range("neuron", neuron, 0, w.shape[0] - 1)
    v = w[neuron].float().cpu()
    return pd.DataFrame({"coord": range(len(v)), "weight": v.numpy(), "abs_weight": v.abs().numpy()})


def residual_disparity(trace: Trace, layer: int, top: int = 5) -> pd.DataFrame:
    """Largest |residual| coordinates after block `layer`, position 0 vs the others' mean |value|."""
    checks.layer(layer, trace.n_layer)
    r = trace["resid_post", layer].float()  # [batch, pos, d_model]
    first = r[:, 0].abs().mean(0)
    other = r[:, 1:].abs().mean((0, 1)) if r.shape[1] > 1 else torch.zeros_like(first)
    idx = torch.argsort(first, descending=True)[:top]
    return pd.DataFrame({"coord": idx.tolist(), "abs_first": first[idx].tolist(), "abs_other": other[idx].tolist()})


# ---------------------------------------------------------------------------------------------- the finder
def layer_neurons(trace: Trace, model, layer: int, top: int = 8) -> pd.DataFrame:
    """One layer's candidate neurons, largest write at position 0 first, averaged over examples: layer, neuron,
    act_first, act_other, score (|a_0| / mean |a| elsewhere), write, share, sparsity, coords (what it writes most),
    super (flagged in at least half the examples). Long."""
    fam = families.of(model)
    checks.layer(layer, fam.n_layer)
    checks.position(1, trace.ids.shape[1], low=1, what="super neurons (position 0 against later positions)")
    rows = fam.mlp_out_rows(layer).detach()
    post, out, mask = trace["post", layer], trace["mlp_out", layer], trace.mask
    st = {("score" if k == "ratio" else k): v.mean(0) for k, v in neuron_stats(post, mask, rows).items()}
    flags = super_mask(post, out, mask, rows).float().mean(0) >= 0.5
    recs = []
    for n in torch.argsort(st["write"], descending=True)[:top].tolist():
        sq = rows[n].float() ** 2
        vals, idx = torch.topk(sq, 3)
        recs.append({"layer": layer, "neuron": n, **{k: float(v[n]) for k, v in st.items()},
                     "sparsity": float(vals.sum() / sq.sum().clamp(min=1e-30)),
                     "coords": tuple(int(i) for i, v in zip(idx, vals) if v > 0), "super": bool(flags[n])})
    return pd.DataFrame(recs)


def massive_table(trace: Trace, top: int = 3) -> pd.DataFrame:
    """Per layer, position 0's largest residual coordinates after the block, averaged over examples: layer,
    coord, value_first (signed mean), abs_first, abs_other (the other positions' mean |value|), massive (by the
    rule, in at least half the examples). Long, `top` rows per layer."""
    recs = []
    for l in range(trace.n_layer):
        r = trace["resid_post", l]
        flags = massive_mask(r, trace.mask).float().mean(0) >= 0.5
        first = r[:, 0].float()
        others = _others(r.float(), trace.mask).mean(0) if r.shape[1] > 1 else torch.zeros(r.shape[-1])
        for c in torch.argsort(first.abs().mean(0), descending=True)[:top].tolist():
            recs.append({"layer": l, "coord": c, "value_first": float(first[:, c].mean()),
                         "abs_first": float(first[:, c].abs().mean()), "abs_other": float(others[c]),
                         "massive": bool(flags[c])})
    return pd.DataFrame(recs)


def tracked_coordinate(trace: Trace) -> int:
    """The coordinate of position 0's residual stream with the largest mean |value| over every layer's output."""
    best = torch.stack([trace["resid_post", l][:, 0].float().abs().mean(0) for l in range(trace.n_layer)])  # [layer, d]
    return int(best.max(0).values.argmax())


def chain(trace: Trace, model, metric: str = "paper") -> pd.DataFrame:
    """The structural account's chain, link by link, per layer (one row each), for the tracked coordinate c
    (tracked_coordinate): sink (attention to position 0, per-layer `metric`), variance_ratio (position 0's
    attention-output variance / the other positions' mean), coord (c), abs_first / abs_other (|r_0[c]| after
    the block, the other positions' mean |r_p[c]|), massive (c passes the massive rule after the block),
    writes (the block's MLP output at position 0 has a massive coordinate), super_neurons (the finder's)."""
    fam = families.of(model)
    c = tracked_coordinate(trace)
    sink = metrics.per_layer(trace, metric=metric).groupby("layer")["value"].mean()
    stats = attention_output_stats(trace)
    first = stats[stats.position == 0].set_index("layer")["variance"]
    others = stats[stats.position > 0].groupby("layer")["variance"].mean()
    recs = []
    for l in range(fam.n_layer):
        r = trace["resid_post", l]
        writes = bool(massive_mask(trace["mlp_out", l], trace.mask).any(-1).float().mean() >= 0.5)
        neurons = layer_neurons(trace, model, l, top=8)
        recs.append({"layer": l, "sink": float(sink.get(l, float("nan"))),
                     "variance_ratio": float(first[l] / others[l]) if others.get(l, 0) > 0 else float("nan"),
                     "coord": c, "abs_first": float(r[:, 0, c].float().abs().mean()),
                     "abs_other": float(_others(r.float(), trace.mask)[:, c].mean()),
                     "massive": bool(massive_mask(r, trace.mask)[:, c].float().mean() >= 0.5), "writes": writes,
                     "super_neurons": tuple(int(n) for n in neurons[neurons["super"]]["neuron"])})
    return pd.DataFrame(recs)


def emergence(chain_df: pd.DataFrame) -> dict:
    """Where the tracked massive coordinate appears: the first layer whose output holds at least half its largest
    magnitude, if it is massive there. {layer, coord, magnitude, peak, super_neurons}; layer None: never massive."""
    peak = chain_df["abs_first"].max()
    hit = chain_df[(chain_df["abs_first"] >= peak / 2) & chain_df["massive"]]
    if hit.empty:
        return {"layer": None, "coord": int(chain_df["coord"].iloc[0]), "magnitude": float("nan"),
                "peak": float(peak), "super_neurons": ()}
    r = hit.iloc[0]
    return {"layer": int(r["layer"]), "coord": int(r["coord"]), "magnitude": float(r["abs_first"]),
            "peak": float(peak), "super_neurons": tuple(r["super_neurons"])}
