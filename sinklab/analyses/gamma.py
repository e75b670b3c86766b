"""gamma = b_Q W_k^T per layer and head, its value at the massive coordinates, and the alignment
cos(b_Q, EPE_j W_k), over the concatenated heads or per head (the circuit paper's Fig. 2).

Defined where the query bias and a learned position table exist (GPT-2, OPT; see sinklab.model.families):
GPT-Neo and Llama have no b_Q (γ ≡ 0) and rotary models no EPE nor a source-agnostic b_Q·k term, so
these raise NotApplicable there, saying why.
"""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from .. import checks
from ..model import families
from .epe import epe, massive_coords
from .metrics import paper_layers


def _family(model, what: str, needs_epe: bool = False):
    fam = families.of(model)
    fam.require(what, learned_positions=needs_epe, unrotated=True, query_bias=True)
    return fam


def gamma(model, layer: int, head: int | None = None) -> torch.Tensor:
    """gamma[d] = sum_e W_k[d, e] b_Q[e] over all heads or one head's slice. [d_model]"""
    _family(model, "γ = b_Q W_k^T")
    w = families.attn_weights(model, layer)
    b_q, w_k = w.b_Q, w.W_K
    if head is not None:
        sl = w.head_slice(checks.head(head, w.n_head))
        b_q, w_k = b_q[sl], w_k[:, sl]
    with torch.inference_mode():
        return w_k @ b_q


def gamma_table(model, coords: tuple[int, ...] | None = None, k_sigma: float = 3.0) -> pd.DataFrame:
    """Per layer and massive coordinate: |gamma| vs the mean and mean + 2 std of |gamma| over all coords."""
    fam = _family(model, "the γ table", needs_epe=coords is None)
    coords = massive_coords(model, k_sigma=k_sigma) if coords is None else coords
    rows = []
    for l in range(fam.n_layer):
        g = gamma(model, l).abs().float().cpu()
        mean, std = float(g.mean()), float(g.std())
        for c in coords:
            rows.append({"layer": l, "coord": int(c), "abs_gamma": float(g[c]), "baseline_mean": mean,
                         "baseline_std": std, "baseline_upper": mean + 2 * std,
                         "exceeds": float(g[c]) > mean + 2 * std})
    return pd.DataFrame(rows, columns=["layer", "coord", "abs_gamma", "baseline_mean", "baseline_std",
                                       "baseline_upper", "exceeds"])


def gamma_distribution(model, layers: tuple[int, int] | None = None, k_sigma: float = 3.0) -> pd.DataFrame:
    """|gamma_h^(l)[d]| for every head and coordinate. Long: layer, head, coord, abs_gamma, massive."""
    fam = _family(model, "the γ distribution", needs_epe=True)
    a, b = checks.layer_range(layers if layers is not None else paper_layers(fam.n_layer), fam.n_layer)
    massive = set(massive_coords(model, k_sigma=k_sigma))
    frames = []
    for l in range(a, b):
        for h in range(fam.n_head):
            g = gamma(model, l, h).abs().float().cpu().numpy()
            frames.append(pd.DataFrame({"layer": l, "head": h, "coord": range(len(g)), "abs_gamma": g}))
    df = pd.concat(frames, ignore_index=True)
    df["massive"] = df["coord"].isin(massive)
    return df


def _epe_rows(model, positions: int | None, ln2: bool):
    """(family adapter, n, EPE of the first n positions [n, d_model]) for the alignment functions."""
    fam = _family(model, "the b_Q–EPE alignment", needs_epe=True)
    n = fam.n_positions if positions is None else positions
    checks.in_range("positions", n, 1, fam.n_positions)
    return fam, n, epe(model, ln2)[:n]


def alignment_heads(model, positions: int | None = None, ln2: bool = False) -> pd.DataFrame:
    """cos(b_{Q,h}, EPE_j W_{k,h}) per layer, head and position j (the authors' per-head Fig. 2).

    Long: layer, head, position, cosine, first. A head whose b_Q or key is zero has cosine 0."""
    fam, n, e = _epe_rows(model, positions, ln2)
    frames = []
    for l in range(fam.n_layer):
        w = families.attn_weights(model, l)
        with torch.inference_mode():
            keys = torch.einsum("pd,hde->hpe", e, w.heads(w.W_K))  # [head, pos, d_head]
            b_q = w.head_bias(w.b_Q)[:, None, :]  # [head, 1, d_head]
            cos = F.cosine_similarity(keys, b_q.expand_as(keys), dim=-1).float().cpu()  # [head, pos]
        H = cos.shape[0]
        frames.append(pd.DataFrame({"layer": l, "head": torch.arange(H).repeat_interleave(n).numpy(),
                                    "position": torch.arange(n).repeat(H).numpy(),
                                    "cosine": cos.reshape(-1).numpy()}))
    df = pd.concat(frames, ignore_index=True)
    df["first"] = df["position"] == 0
    return df


def alignment(model, positions: int | None = None, ln2: bool = False, over: str = "concat") -> pd.DataFrame:
    """cos(b_Q^(l), EPE_j W_k^(l)) per layer and position j < positions. Long: layer, position, cosine, first.

    over="concat": one cosine over the concatenated heads (d_model-long vectors);
    over="heads": the per-head cosine of alignment_heads averaged over heads (the paper's Fig. 2 statistic).
    """
    checks.one_of("over", over, ["concat", "heads"])
    if over == "heads":
        df = alignment_heads(model, positions, ln2)
        return df.groupby(["layer", "position"], as_index=False)["cosine"].mean().assign(
            first=lambda d: d["position"] == 0)
    fam, n, e = _epe_rows(model, positions, ln2)
    frames = []
    for l in range(fam.n_layer):
        w = families.attn_weights(model, l)
        with torch.inference_mode():
            cos = F.cosine_similarity(e @ w.W_K, w.b_Q[None], dim=-1).float().cpu().numpy()  # [pos]
        frames.append(pd.DataFrame({"layer": l, "position": range(n), "cosine": cos}))
    df = pd.concat(frames, ignore_index=True)
    df["first"] = df["position"] == 0
    return df
