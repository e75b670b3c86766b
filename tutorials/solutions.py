"""Reference solutions of the tutorials' "Your turn" exercises (tutorials/NN_*.py), one function each.

Course material, not library: a notebook's exercise cell keeps a stub for you and, when the
reference solutions are switched on (SINKLAB_SOLUTIONS=1, read by `sinklab.config.Config.load()`;
CI does this), replaces it with the function of the same name from here:

    if config.solutions:
        from solutions import first_token_share

Try the exercise first: `feedback.py` tells you whether your answer is right, and if not, often why.
The checks compare your answer with sinklab's own computations, never with this file.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sinklab.model import families, layout
from sinklab import lessons
from sinklab.analyses.decomposition import TERMS
from sinklab.interventions import PAPER, REGISTRY, make


# ----------------------------------------------------------------------------- 1. Start
def first_token_share(maps, layer: int) -> float:
    """Mean head-averaged attention to position 0 from the second-half queries (i >= T // 2) in `layer`."""
    a = maps.weights(layer)  # [query_pos, key_pos], averaged over heads
    T = a.shape[0]
    return float(a[T // 2:, 0].mean())


# ----------------------------------------------------------------------------- 2. The circuit in one picture
def score_lead(trace, layers: tuple[int, int]) -> float:
    """Key 0's score minus the mean score of the other allowed keys (1..q), averaged over the heads, the
    second-half queries (q >= T // 2) and the layers in range(*layers): the label on the b_Q wire."""
    T = trace.ids.shape[1]
    leads = []
    for layer in range(*layers):
        s = trace["attn_scores", layer][0].float()  # [head, query, key]
        for q in range(T // 2, T):
            leads.append((s[:, q, 0] - s[:, q, 1:q + 1].mean(-1)).mean())
    return float(torch.stack(leads).mean())


# ----------------------------------------------------------------------------- 3. Decomposition
def attention_from_terms_1_and_3(terms: pd.DataFrame) -> pd.Series:
    """Softmax over keys of term 1 + term 3 for one head; Series indexed by (query, key)."""
    s = terms[terms["term"].isin([TERMS[0], TERMS[2]])].groupby(["query", "key"])["value"].sum()
    e = np.exp(s - s.groupby(level="query").transform("max"))
    return e / e.groupby(level="query").transform("sum")


# ----------------------------------------------------------------------------- 4. EPE
def massive_from_table(coords: pd.DataFrame, k_sigma: float = 3.0) -> list[int]:
    """Coordinates whose |value| exceeds mean |value| + k_sigma * std |value|, largest first."""
    a = coords.set_index("coord")["value"].abs()
    return [int(c) for c in a[a > a.mean() + k_sigma * a.std()].sort_values(ascending=False).index]


def epe_first(model) -> torch.Tensor:
    """EPE_0 = MLP^(1)(p_0) + p_0: the first block's MLP applied to the raw position embedding p_0."""
    p1 = families.pos_embed(model)[0]  # [d_model]
    with torch.no_grad():
        return layout.mlp(model.transformer.h[0], p1) + p1


# ----------------------------------------------------------------------------- 5. gamma
def gamma_by_hand(model, layer: int) -> torch.Tensor:
    """gamma = W_k b_Q of one layer (all heads), sliced from the HF Conv1D weight (y = x @ W + b).

    The exercise is about the packed q | k | v layout, so this slices `c_attn` by hand; the same
    views are `families.attn_weights(model, layer).W_K` and `.b_Q`.
    """
    d = model.config.n_embd
    attn = model.transformer.h[layer].attn.c_attn
    return attn.weight[:, d: 2 * d] @ attn.bias[:d]


# ----------------------------------------------------------------------------- 6. Interventions
def is_circuit_wire(lm, label: str, prompt=None, keep: float = 0.5) -> bool:
    """True if intervention `label` leaves less than `keep` of the baseline sink at position 0."""
    view = lessons.intervention_lesson(lm, make(label), prompt or lessons.Prompt())
    s = view.summary.set_index("run")["sink_first"]
    return bool(s["after"] < keep * s["before"])


# ----------------------------------------------------------------------------- 7. Across domains
def circuit_wires(table: pd.DataFrame, threshold: float = 50.0) -> list[str]:
    """The paper's interventions (b-j) whose sink is below `threshold` % of baseline in every domain."""
    t = table[table["intervention"].isin(PAPER[1:])]
    worst = t.groupby("intervention")["pct_of_baseline"].max()
    return sorted(worst[worst < threshold].index)


# ----------------------------------------------------------------------------- 8. Structural origin
def variance_ratio(stats: pd.DataFrame, layer: int, column: str = "z_variance") -> float:
    """Position 0's attention-output variance over the median of the other positions', in `layer`."""
    s = stats[stats["layer"] == layer].set_index("position")[column]
    return float(s.loc[0] / s.drop(index=0).median())


def top_written_coords(row: pd.DataFrame, n: int = 3) -> list[int]:
    """The `n` residual coordinates a neuron writes most strongly (largest |weight| of its row), largest first."""
    return [int(c) for c in row.sort_values("abs_weight", ascending=False, kind="stable")["coord"].head(n)]


# ----------------------------------------------------------------------------- 9. Compare specimens
def sink_wires(computed: pd.DataFrame, model: str, cut: float = 50.0) -> list[str]:
    """The interventions that cut `model`'s sink below `cut` % of baseline, sorted.

    Only interventions that ran (blank note), measured at position 0 (key 0: not the moving ones),
    and are not controls (REGISTRY[label].control); the baseline is not an intervention.
    """
    rows = computed[(computed["model"] == model) & (computed["note"].fillna("") == "")]
    rows = rows[(rows["key"] == 0) & (rows["intervention"] != "baseline")]
    return sorted(r.intervention for r in rows.itertuples()
                  if not REGISTRY[r.intervention].control and r.pct_of_baseline < cut)


# ----------------------------------------------------------------------------- 10. Length and dose
def half_dose(dose: pd.DataFrame, curve: str) -> float:
    """The smallest α at which `curve`'s mean sink is at least half of its value at α = 1."""
    c = dose[dose["curve"] == curve].set_index("alpha")["sink_mean"].sort_index()
    return float(c.index[c >= 0.5 * c.loc[1.0]][0])
