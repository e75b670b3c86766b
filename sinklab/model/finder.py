"""The structural finder's rules on tensors (one place; sinklab.analyses.origin builds its tables on them, and the
interventions zero_neurons / zero_random_neurons / zero_massive pick their units and coordinates with them).

- a massive coordinate of position 0 (in a residual stream or an MLP output) is a coordinate c with |t_0[c]| >=
  mean + K_SIGMA std of |t_0| over the coordinates, >= MIN_RATIO x their median, and >= MIN_OTHERS x the other
  positions' mean |t_p[c]|;
- a super neuron is an MLP hidden unit with |a_0| / mean_{p>=1} |a_p| >= MIN_ACTIVATION_RATIO that makes >= MIN_SHARE
  of its layer's MLP write at position 0 (write_n = |a_0n| ||W_out[n]||) in a layer whose MLP output at position 0
  has a massive coordinate.

    massive_mask(resid, mask)            # bool [batch, d_model]
    found_neurons(post, mlp_out, mask, W_out_rows, top=2)   # per example: (neuron, ...)
"""
from __future__ import annotations

import torch

K_SIGMA = 3.0  # a massive coordinate is >= mean + K_SIGMA std of |values| over the coordinates ...
MIN_RATIO = 10.0  # ... and >= MIN_RATIO x their median (a real margin, not the largest of equals) ...
MIN_OTHERS = 5.0  # ... and >= MIN_OTHERS x the other positions' mean |value| on that coordinate
MIN_ACTIVATION_RATIO = 10.0  # a super neuron's |activation| at position 0 vs its mean |activation| elsewhere
MIN_SHARE = 0.2  # a super neuron's share of its layer's MLP write at position 0


def _others(t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |t| over the real positions >= 1, per example. t [batch, pos, d], mask [batch, pos] -> [batch, d]"""
    m = mask[:, 1:, None].to(t.dtype)
    return (t[:, 1:].abs() * m).sum(1) / m.sum(1).clamp(min=1)


def massive_mask(t: torch.Tensor, mask: torch.Tensor, k_sigma: float = K_SIGMA, min_ratio: float = MIN_RATIO,
                 min_others: float = MIN_OTHERS) -> torch.Tensor:
    """Which coordinates of position 0 are massive (module docstring), per example. t [batch, pos, d] -> bool [batch, d]"""
    v = t[:, 0].abs().float()  # [batch, d]
    mean, std = v.mean(-1, keepdim=True), v.std(-1, keepdim=True)
    med = v.median(-1, keepdim=True).values
    others = _others(t.float(), mask) if t.shape[1] > 1 else torch.zeros_like(v)
    return (v >= mean + k_sigma * std) & (v >= min_ratio * med) & (v >= min_others * others)


def neuron_stats(post: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per example and neuron: a_0, mean |a| elsewhere, their ratio, the write |a_0| ||W_out[n]|| and its share.
    post [batch, pos, d_mlp], rows [d_mlp, d_model] -> each [batch, d_mlp]"""
    post = post.float()
    a0 = post[:, 0]
    other = _others(post, mask)
    write = a0.abs() * rows.float().norm(dim=-1)[None]
    return {"act_first": a0, "act_other": other, "ratio": a0.abs() / (other + 1e-6), "write": write,
            "share": write / write.sum(-1, keepdim=True).clamp(min=1e-30)}


def super_mask(post: torch.Tensor, mlp_out: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Which neurons of one layer are super neurons (module docstring), per example. -> bool [batch, d_mlp]"""
    st = neuron_stats(post, mask, rows)
    writes_massive = massive_mask(mlp_out, mask).any(-1, keepdim=True)  # [batch, 1]
    return (st["ratio"] >= MIN_ACTIVATION_RATIO) & (st["share"] >= MIN_SHARE) & writes_massive


def found_neurons(post: torch.Tensor, mlp_out: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor,
                  top: int) -> list[tuple[int, ...]]:
    """Each example's super neurons of one layer, largest write first, at most `top` (empty: none)."""
    flags = super_mask(post, mlp_out, mask, rows)
    write = neuron_stats(post, mask, rows)["write"]
    out = []
    for e in range(post.shape[0]):
        ids = torch.nonzero(flags[e]).flatten()
        ids = ids[torch.argsort(write[e, ids], descending=True)][:top]
        out.append(tuple(int(i) for i in ids))
    return out
