"""The words the pages use, defined once (shown as a glossary panel and page). Definitions, not claims.

The interventions' entries come from their own declarations (sinklab.interventions: title and description).
"""
from __future__ import annotations

from ..interventions import PAPER, REGISTRY, ordered, with_role

TERMS: dict[str, str] = {
    "attention sink": "A key position that receives most of the attention of most queries, whatever they are. "
                      "In GPT-2 it is the first token (position 0 here; the papers' “position 1”).",
    "position 0": "The first token. sinklab counts positions from 0; the papers count from 1.",
    "paper metric": "Mean attention to a key from the second half of the queries (i ≥ T/2), over all heads and "
                    "the middle layers [L//4, L−1) (layers 3–10 of GPT-2's 12, 0-indexed).",
    "Gu ε": "Gu et al.'s rule: a (layer, head) has a sink at key k when Σ_i A[i, k] / (T − k) > ε (ε = 0.3). The "
            "Gu metric is the share of (layer, head) pairs with a sink.",
    "mass": "Mean attention to the key from the second-half queries, per layer and head.",
    "b_Q": "The query bias of a layer: q = x W_Q + b_Q. The same for every query.",
    "W_k": "The key weight: k = x W_K + b_K; a row of W_k reads one residual coordinate.",
    "EPE": "Effective positional encoding: EPE_i = MLP¹(p_i) + p_i, what the first block makes of position i's "
           "embedding p_i. EPE_0 is the first position's.",
    "massive coordinate": "A residual coordinate where a vector (EPE_0, or the residual at the sink) is far larger "
                          "than elsewhere: |v| > mean |v| + kσ · std |v|.",
    "kσ": "The threshold of the massive-coordinate rule, in standard deviations (the paper uses 3).",
    "γ": "γ = b_Q W_kᵀ, one vector per layer (and per head): every key x_j is scored against it, the same for every "
         "query. Large at the massive coordinates means those coordinates decide the key-only term.",
    "Δ": "The key-only (source-agnostic) score shift Δ_j = b_Q W_kᵀ x_jᵀ = γ · x_j. In the scores it appears "
         "divided by √d_head (term 3); the pages show it in those score units.",
    "score terms": "With biases a score splits into four: (1) content–content, (2) query-only, (3) key-only Δ, "
                   "(4) a constant. Terms 2 and 4 are the same for every key, so they cancel in the softmax.",
    "super neuron": "An MLP hidden unit that fires at the sink position only and writes a few massive "
                    "coordinates (its down-projection row is channel-sparse).",
    "variance discrepancy": "Position 0 attends only to itself, so its attention output is one value vector; "
                            "later positions average many, which shrinks their norm and variance.",
    "% of baseline": "The sink after an intervention divided by the baseline sink at position 0, in percent. For "
                     f"interventions that move the sink ({', '.join(with_role('moves the sink'))}) the sink is measured "
                     "at their target position k.",
    "cross-entropy change": "Mean next-token loss after the intervention minus before (nats/token). Meaningful "
                            "only on a model whose predictions mean something (not on a planted specimen).",
    "planted specimen": "A model built in code with a sink mechanism written in by hand, so its answer is known "
                        "(textbook: positional route; textbook-structural: structural route).",
    "se": "Standard error of a mean over inputs: std / √n.",
    "n": "How many inputs a number averages over.",
    "key / query": "In an attention map, rows are queries (the token attending), columns keys (attended to).",
}
TERMS.update({(f"({k}) {REGISTRY[k].title}" if k in PAPER else REGISTRY[k].title): REGISTRY[k].description
              for k in ordered() if REGISTRY[k].points})
