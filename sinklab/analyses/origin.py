"""The structural-origin account: variance discrepancy of attention outputs and FFN super neurons."""
from __future__ import annotations

import pandas as pd
import torch

from .. import checks
from ..model import families
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
