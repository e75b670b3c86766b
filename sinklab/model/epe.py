"""EPE_i = MLP^(1)(p_i) + p_i, what the first block makes of position i's embedding, and its massive coordinates.

Part of the model layer because interventions pick their coordinates from it ((d), (i), (j), transplant); the
tables built on it are in sinklab.analyses.epe. Defined for families with a learned absolute position table
(GPT-2, GPT-Neo, OPT: p_i is row i + 2 of OPT's table); MLP^(1) is the first block's MLP (GELU or ReLU).
Rotary models have no p_i: these raise NotApplicable on them.
"""
from __future__ import annotations

import weakref

import torch

from .. import checks
from . import families

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _family(model):
    fam = families.of(model)
    fam.require("EPE (MLP^(1)(p_i) + p_i)", learned_positions=True)
    return fam


def epe(model, ln2: bool = False) -> torch.Tensor:
    """EPE for every position. [n_positions, d_model]; EPE_i = MLP1(p_i) + p_i (ln2: MLP1(ln_2(p_i)) + p_i)."""
    fam = _family(model)
    version = tuple(t._version for t in fam.epe_parameters())  # recompute if a weight was edited in place
    per_model = _CACHE.setdefault(model, {})
    if per_model.get(ln2, (None,))[0] != version:
        with torch.no_grad():
            p = fam.pos_table()  # [n_positions, d_model]
            per_model[ln2] = (version, fam.mlp(0, fam.ln2(0, p) if ln2 else p) + p)
    return per_model[ln2][1]


def massive_coords(model, k_sigma: float = 3.0, top: int | None = None, ln2: bool = False,
                   position: int = 0) -> tuple[int, ...]:
    """Coordinates of EPE_position with |v| > mean|v| + k_sigma*std|v| (or the `top` largest |v|), by size."""
    if top is not None:
        checks.in_range("top", top, 1, families.of(model).d_model)
    checks.in_range("k_sigma", k_sigma, 0, 50)
    a = epe(model, ln2)[position].abs().float()  # [d_model]
    order = torch.argsort(a, descending=True)
    if top is not None:
        return tuple(int(i) for i in order[:top])
    thr = a.mean() + k_sigma * a.std()
    return tuple(int(i) for i in order if a[i] > thr)
