"""Reference solutions of the tutorials' "Your turn" exercises (tutorials/NN_*.py).

One small function per exercise. A tutorial's exercise cell keeps a stub for the learner and
imports the function from here when SINKLAB_SOLUTIONS=1 (as CI does); its check cell compares
the learner's answer with the one here on the loaded model, through `check`.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
import pandas as pd
import torch


def check(passed: Callable[[], bool], success: str, hint: str) -> None:
    """Run a check cell: print a friendly verdict (and assert it when SINKLAB_SOLUTIONS=1, as in CI)."""
    error = None
    try:
        ok = bool(passed())
    except Exception as e:  # a stub returning None, a typo...: the learner gets a hint, not a traceback
        ok, error = False, e
    if os.environ.get("SINKLAB_SOLUTIONS") == "1":
        assert ok, f"the reference solution fails its own check: {error!r}"
    print(success if ok else hint + (f"\n(the check raised {type(error).__name__}: {error})" if error else ""))


# ----------------------------------------------------------------------------- 1. Start
def first_token_share(maps: pd.DataFrame, layer: int) -> float:
    """Mean head-averaged attention to position 1 from the second-half queries in `layer`."""
    T = int(maps["query"].max()) + 1
    m = maps[(maps["layer"] == layer) & (maps["head"] == "mean") & (maps["key"] == 0)]
    return float(m.loc[m["query"] >= T // 2, "weight"].mean())


# ----------------------------------------------------------------------------- 2. Decomposition
def attention_from_terms_1_and_3(terms: pd.DataFrame) -> pd.Series:
    """Softmax over keys of term 1 + term 3 for one head; Series indexed by (query, key)."""
    from .decomposition import TERMS

    s = terms[terms["term"].isin([TERMS[0], TERMS[2]])].groupby(["query", "key"])["value"].sum()
    e = np.exp(s - s.groupby(level="query").transform("max"))
    return e / e.groupby(level="query").transform("sum")


# ----------------------------------------------------------------------------- 3. EPE
def massive_from_table(coords: pd.DataFrame, k_sigma: float = 3.0) -> list[int]:
    """Coordinates whose |value| exceeds mean |value| + k_sigma * std |value|, largest first."""
    a = coords.set_index("coord")["value"].abs()
    return [int(c) for c in a[a > a.mean() + k_sigma * a.std()].sort_values(ascending=False).index]


def epe_first(model) -> torch.Tensor:
    """EPE_1 = MLP^(1)(p_1) + p_1 with the first block's MLP applied to the raw embedding p_1."""
    p1 = model.transformer.wpe.weight[0]
    with torch.no_grad():
        return model.transformer.h[0].mlp(p1) + p1


# ----------------------------------------------------------------------------- 4. gamma
def gamma_by_hand(model, layer: int) -> torch.Tensor:
    """gamma = b_Q W_k^T of one layer (all heads), from the HF Conv1D weight (x @ W + b)."""
    d = model.config.n_embd
    attn = model.transformer.h[layer].attn.c_attn
    return attn.weight[:, d: 2 * d] @ attn.bias[:d]


# ----------------------------------------------------------------------------- 5. Interventions
def is_circuit_wire(lm, label: str, prompt=None, keep: float = 0.5) -> bool:
    """True if intervention `label` leaves less than `keep` of the baseline sink at position 1."""
    from .interventions import make
    from .lessons import Prompt, intervention_lesson

    s = intervention_lesson(lm, make(label), prompt or Prompt()).summary.set_index("run")["sink_first"]
    return bool(s["after"] < keep * s["before"])


# ----------------------------------------------------------------------------- 6. Across domains
def circuit_wires(table: pd.DataFrame, threshold: float = 50.0) -> list[str]:
    """The paper's interventions (b-j) whose sink is below `threshold` % of baseline in every domain."""
    from .interventions import PAPER

    t = table[table["intervention"].isin(PAPER[1:])]
    worst = t.groupby("intervention")["pct_of_baseline"].max()
    return sorted(worst[worst < threshold].index)


# ----------------------------------------------------------------------------- 7. Structural origin
def variance_ratio(stats: pd.DataFrame, layer: int, column: str = "z_variance") -> float:
    """Position 1's attention-output variance over the median of the other positions', in `layer`."""
    s = stats[stats["layer"] == layer].set_index("position")[column]
    return float(s.loc[0] / s.drop(index=0).median())


def top_written_coords(row: pd.DataFrame, n: int = 3) -> list[int]:
    """The `n` residual coordinates a neuron writes most strongly (largest |weight| of its row), largest first."""
    return [int(c) for c in row.sort_values("abs_weight", ascending=False, kind="stable")["coord"].head(n)]
