"""Effective positional encoding: EPE_i = MLP^(1)(p_i) + p_i, its coordinates and its validation.

`epe` and `massive_coords` are computed in sinklab.model.epe (interventions need them) and importable from here.

Defined for families with a learned absolute position table (GPT-2, GPT-Neo, OPT: p_i is row i + 2 of
OPT's table); MLP^(1) is the first block's MLP (GELU or ReLU). Rotary models (Llama, Qwen2) have no p_i:
every function here raises NotApplicable on them.
"""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from ..model.epe import _family, epe, massive_coords  # noqa: F401  (epe and massive_coords: this module's too)


def epe_coordinates(model, ln2: bool = False, position: int = 0, k_sigma: float = 3.0) -> pd.DataFrame:
    """EPE_position coordinate values. Columns: coord, value, abs_value, massive, threshold."""
    v = epe(model, ln2)[position].float().cpu()
    a = v.abs()
    thr = float(a.mean() + k_sigma * a.std())
    return pd.DataFrame({
        "coord": range(len(v)), "value": v.numpy(), "abs_value": a.numpy(),
        "massive": (a > thr).numpy(), "threshold": thr,
    })


def epe_validation(trace, model, ln2: bool = False) -> pd.DataFrame:
    """cos(EPE_i, R_i - O_i) with R = x + MLP1(x), O = e + MLP1(e), x = e + p (appendix A.1).

    Long: example, position, cosine. trace must hold hook_embed and hook_pos_embed.
    """
    fam = _family(model)
    f = (lambda v: fam.mlp(0, fam.ln2(0, v))) if ln2 else (lambda v: fam.mlp(0, v))
    with torch.inference_mode():
        e = trace["hook_embed"]  # [batch, pos, d_model]
        x = e + trace["hook_pos_embed"]
        diff = (x + f(x)) - (e + f(e))
        T = e.shape[1]
        cos = F.cosine_similarity(diff, epe(model, ln2)[:T][None], dim=-1).float().cpu()  # [batch, pos]
    rows = []
    for i, n in enumerate(trace.mask.sum(1).tolist()):
        rows.append(pd.DataFrame({"example": i, "position": range(n), "cosine": cos[i, :n].numpy()}))
    return pd.concat(rows, ignore_index=True)

