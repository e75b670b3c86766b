"""The two pathways onto position 0: attention from the content term alone (T1) and from the b_Q term alone (T3)
of the score decomposition (sinklab.analyses.decomposition), and the Δ share of the key-0 score."""
from __future__ import annotations

import pandas as pd
import torch

from ..model import families
from ..model.forward import Trace, run
from ..model.names import act_name
from .decomposition import attention_from_terms, score_terms
from .metrics import sink_score


def _second_half_mean(p: torch.Tensor, mask: torch.Tensor, key: int = 0) -> torch.Tensor:
    """Mean over heads and second-half queries of p[..., key] (as the paper metric, metrics.sink_score). [batch]"""
    view = Trace(ids=mask, mask=mask, n_layer=1, n_head=p.shape[1], cache={act_name("pattern", 0): p})
    return sink_score(view, key=key, metric="paper", layers=(0, 1))


def pathways(lm, ids: torch.Tensor, band: tuple[int, int], batch_size: int = 32) -> pd.DataFrame:
    """Per example: attention to position 0 with the full score, the content term only (T1), the b_Q term
    only (T3) (softmax counterfactuals over the same keys), and the Δ share |T3| / (|T1| + |T3|) of the
    key-0 score; all means over second-half queries, heads and the band's layers.

    T2 and T4 are constant along the keys, so they cancel in the softmax: "full" = softmax(T1 + T3) = the
    model's own pattern. Defined where sinklab.analyses.decomposition is and the model has a query bias: on rotary
    models, and without b_Q (GPT-Neo, Llama: T3 = 0, "bias only" would be uniform attention), NotApplicable.
    """
    fam = families.of(lm.model)
    fam.require("The two-pathway split", unrotated=True, query_bias=True)
    a, b = band
    names = {act_name("ln1", l) for l in range(a, b)} | {act_name("pattern", l) for l in range(a, b)}
    rows = []
    for start in range(0, ids.shape[0], batch_size):
        chunk = ids[start: start + batch_size]
        tr = run(lm.model, chunk, names=names)
        dev = tr.mask.device
        acc = {k: torch.zeros(chunk.shape[0]) for k in ("full", "content_only", "bias_only", "delta_share")}  # CPU
        T = chunk.shape[1]
        second = (torch.arange(T, device=dev) >= T // 2).float()[None, None, :]  # [1, 1, query]
        for l in range(a, b):
            terms = score_terms(tr, lm.model, l)  # [4, batch, head, query, key]
            w = fam.window(l)
            acc["full"] += _second_half_mean(tr.pattern(l).float(), tr.mask).cpu()
            acc["content_only"] += _second_half_mean(attention_from_terms(terms, tr.mask, (0,), w), tr.mask).cpu()
            acc["bias_only"] += _second_half_mean(attention_from_terms(terms, tr.mask, (2,), w), tr.mask).cpu()
            t1, t3 = terms[0, ..., 0].abs().float(), terms[2, ..., 0].abs().float()  # [batch, head, query]
            share = t3 / (t1 + t3).clamp(min=1e-12)
            acc["delta_share"] += ((share * second).sum(-1) / second.sum(-1)).mean(-1).cpu()
        for j in range(chunk.shape[0]):
            rows.append({"example": start + j, **{k: float(v[j]) / (b - a) for k, v in acc.items()}})
    return pd.DataFrame(rows)
