"""The words the pages use, defined once (shown as a glossary panel and page), and what every table column means.
Definitions, not claims.

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
    "score lead of key 0": "The pre-softmax score of key 0 minus the mean score of the other keys a query sees, "
                           "averaged over the second-half queries, heads and the sink band; in logits (+1 "
                           "multiplies key 0's weight by e ≈ 2.7 against an average key).",
    "× the other positions'": "A ratio: the quantity at position 0 over its mean at positions 1 … T−1 (on the "
                              "Circuit page each wire says which quantity, layer and coordinates).",
    "n": "How many inputs a number averages over.",
    "key / query": "In an attention map, rows are queries (the token attending), columns keys (attended to).",
}
TERMS.update({(f"({k}) {REGISTRY[k].title}" if k in PAPER else REGISTRY[k].title): REGISTRY[k].description
              for k in ordered() if REGISTRY[k].points})


# What each column of the lessons' and experiments' tables means (the app shows it when a visitor hovers a
# table's header; a table may override it). A new column is explained here, once.
COLUMNS: dict[str, str] = {
    "position": "Token position, counted from 0 (position 0 is the papers' “position 1”).",
    "token": "The token at this position (⏎ newline, ␣ space).",
    "layer": "Transformer block, counted from 0.",
    "head": "Attention head within the layer, counted from 0.",
    "value": "The quantity named in the chart or table title.",
    "metric": "Which sink metric (see “Sink metric” in the sidebar and the glossary).",
    "key": "The key position whose attention is measured (0 = the first token; k for interventions that "
           "move the sink).",
    "query": "The query position (the token attending), counted from 0.",
    "term": "Which of the four score terms (or their total / the model's own score).",
    "weight": "Attention probability from the query to the key.",
    "source": "Where the row comes from.",
    "delta": "Δ_j = b_Q W_kᵀ x_jᵀ, unscaled (the key-only term before the 1/√d_head of the scores).",
    "delta_norm": "Δ_j − min over positions of Δ (unscaled).",
    "delta_scaled": "Δ_j / √d_head: term 3 in score units, the unit of the score panels.",
    "max_sum_error": "Largest |sum of the four terms − the model's score| in this layer (≈ 0: the split is exact).",
    "max_prob_error_terms_1_3": "Largest |softmax(terms 1+3) − the model's attention| in this layer (≈ 0: terms "
                                "2 and 4 cancel).",
    "coord": "Residual-stream coordinate (dimension), counted from 0.",
    "abs_value": "|value|.",
    "massive": "True when the coordinate is massive: |value| ≥ mean + kσ · std (on the Structural origin page also "
               "≥ 10× the median coordinate and ≥ 5× the other positions' mean on that coordinate).",
    "super": "True for a super neuron: |activation| at position 0 ≥ 10× its mean elsewhere, ≥ 20 % of the layer's MLP "
             "write at position 0, in a layer whose MLP writes a massive coordinate there.",
    "share": "This neuron's share of its layer's MLP write at position 0 (|activation| · |its down-projection row|, "
             "over the layer's total).",
    "write": "|activation at position 0| · |its down-projection row|: how much the neuron writes into position 0.",
    "abs_first": "|value| of the tracked coordinate at position 0 after the layer (mean over inputs).",
    "abs_other": "Mean |value| of the same coordinate at the other positions.",
    "variance_ratio": "Variance of position 0's attention output over the other positions' mean, in this layer.",
    "writes": "True when this layer's MLP writes a massive coordinate at position 0.",
    "super_neurons": "The finder's super neurons of this layer (blank: none).",
    "pct_at_k": "Attention to position k after the intervention, as % of the baseline's sink at position 0.",
    "threshold": "The massive threshold mean + kσ · std of |EPE_0|.",
    "p10": "10th percentile over the inputs.",
    "p50": "Median over the inputs.",
    "p90": "90th percentile over the inputs.",
    "mean": "Mean.",
    "std": "Standard deviation.",
    "median": "Median.",
    "count": "How many values.",
    "abs_gamma": "|γ| = |b_Q W_kᵀ| at this coordinate.",
    "baseline_mean": "Mean |γ| over all coordinates of this layer.",
    "baseline_std": "Standard deviation of |γ| over all coordinates of this layer.",
    "baseline_upper": "Mean + 2 std of |γ| over all coordinates of this layer.",
    "exceeds": "True when |γ| at this coordinate is above mean + 2 std.",
    "cosine": "cos(b_Q, EPE_j W_k): how well the query bias points at position j's key.",
    "first": "True for the first position (position 0).",
    "run": "before = the model as it is; after = with the intervention.",
    "sink": "The sink metric at the key (see “Sink metric” in the sidebar).",
    "sink_first": "The sink metric at position 0 in the same run.",
    "ce": "Mean next-token cross-entropy on the prompt (nats/token).",
    "ce_change": "Cross-entropy after minus before (nats/token).",
    "intervention": "Which intervention (its label in the Interventions page).",
    "title": "The intervention's name.",
    "n": "How many inputs the number averages over.",
    "se": "Standard error of the mean over inputs (std / √n).",
    "pct_of_baseline": "Sink after the intervention as % of the baseline sink at position 0 (for transplant, "
                       "isolate, amplify: measured at their target k).",
    "note": "Why the intervention did not run here (blank: it ran).",
    "domain": "nl = natural language, math = math word problems, code = code; all = pooled.",
    "neuron": "MLP hidden unit (neuron) within the layer, counted from 0.",
    "act_first": "The neuron's activation at position 0 (after the MLP's nonlinearity).",
    "act_other": "Its mean |activation| over the other positions.",
    "score": "|act_first| / act_other: how many times more it fires at position 0 than elsewhere.",
    "sparsity": "Share of its down-projection row's squared norm on its top 3 coordinates (1 = writes only "
                "there).",
    "coords": "The residual coordinates its down-projection writes most into (up to 3).",
    "sink_at_k": "The sink metric at position k in this run.",
    "variance": "Variance of the layer's attention output over its d_model coordinates at this position "
                "(mean over inputs).",
    "norm": "Norm of the layer's attention output at this position (mean over inputs).",
    "z_variance": "Variance of each head's output (before the output projection), mean over heads.",
    "model": "The model the row was computed on (or, for published rows, measured on).",
    "wire": "The wire of the route (its id).",
    "target": "The node the wire points to.",
    "label": "What was measured on this wire.",
    "defined": "Exactly what the wire's number is: which ratio or difference, at which positions and layers.",
    "cut": "True when this wire is cut.",
    "cuttable": "True when an intervention can cut this wire.",
    "step": "Training step.",
    "elapsed_s": "Seconds since training started.",
    "lr": "Learning rate at this step.",
    "train_loss": "Training loss (nats/token).",
    "heldout_loss": "Loss on held-out text (nats/token).",
    "gu_sink_share": "Share of (layer, head) pairs with a sink at position 0 (Gu et al., ε = 0.3).",
    "regime": "The content of the inputs: a domain (nl, math, code), running text, or synthetic tokens.",
    "n_tokens": "Tokens per input (the length).",
    "n_seeds": "How many data seeds (independent draws of the inputs) the mean and SD are over.",
    "seed": "The data seed: which inputs were drawn.",
    "curve": "The dose curve: b scales b_Q, scale_wk the selected rows of W_k, pe moves PE_0 toward PE_1.",
    "curve_title": "The dose curve, in words.",
    "alpha": "The dose α: 0 = the wire cut, 1 = the model as it is, above 1 = amplified.",
    "reference_model": "The model the published number was measured on.",
    "band": "The layer band of the sink score the published number used.",
    "job": "The unit of work: model, data seed, content regime and length.",
    "setting": "The intervention (or combination) of that job that did not run; blank: the whole job.",
    "error_type": "BadInput: the request does not fit this model; NotApplicable: the intervention is not "
                  "defined here.",
    "error": "Why it did not run.",
    "revision": "The checkpoint (a revision name or a checkpoint directory); blank: the model as loaded.",
}
