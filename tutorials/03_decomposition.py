# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.0
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Decomposition
#
# **The question.** An attention score is a dot product between a query and a key. Which
# part of that dot product makes every query prefer position 0?
#
# **You will learn** to split a score into four terms, to see that two of them cannot
# change the attention at all, and to find the one that carries the sink: the
# *source-agnostic shift* Δ_j, the same for every query. Mirrors the app's
# "Decomposition" page.
#
# With x_t the input of the attention layer (after `ln_1`), queries x_t W_q + b_Q and
# keys x_j W_k + b_K, the score of query t on key j splits into
#
# s_{t→j} = (x_t W_q)(x_j W_k)ᵀ + (x_t W_q) b_Kᵀ + b_Q (x_j W_k)ᵀ + b_Q b_Kᵀ
#
# 1. content–content, 2. query-only, 3. key-only: Δ_j = b_Q W_kᵀ x_jᵀ, 4. a constant.
#
# The split needs un-rotated queries and keys. On a rotary model (Llama, SmolLM2, Gemma 3) the
# score of a key also depends on its distance to the query, so there is no key-only term; and
# without a query bias b_Q terms 2–4 are zero anyway. On such a model the notebook says so,
# computed from the model, shows what carries its sink instead, and continues on `textbook`.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".

# %%
import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.config import Config
from sinklab.interventions import NotApplicable
from sinklab.teaching.lessons import Prompt

import feedback  # tutorials/feedback.py: one check per "Your turn" exercise
import course  # tutorials/course.py: offline charts, predict-then-reveal, the checkpoint

# Settings are read once, here (sinklab.config): $SINKLAB_MODEL picks the model (unset: GPT-2 small if
# it can be loaded, else the offline "textbook"); $SINKLAB_SOLUTIONS=1 fills in the exercises' solutions.
config = Config.load()
lm, note = sinklab.load_configured(config)
print(cards.introduce(lm, note))
course.offline_charts()  # the charts' JavaScript, inlined once: they render without a network

# %% [markdown]
# We look at one head of a middle layer on the paper's Ozymandias prompt. Where the split does not
# exist, the cell prints why (sinklab refuses it with a reason), then what the model has instead —
# measured on the same prompt: the coordinate of position 0's residual stream that becomes massive,
# the layer where it appears and the super neurons writing it (sinklab.analyses.origin) — and the
# rest of the notebook runs on `textbook`, where Δ_0 is what makes the sink.

# %%
LAYER, HEAD = min(5, lm.info.n_layer - 1), 0
instead = None  # what a model without the split has instead (lessons.positional_absent)
try:
    view = lessons.decomposition(lm, Prompt(), layer=LAYER, head=HEAD)
except NotApplicable as why:
    print(f"Refused on {lm.info.name}: {why}.")
    instead = lessons.positional_absent(lm, Prompt(prepend_bos=cards.prepends_bos(lm.tokenizer)), needs=("unrotated",))
    for claim in claims.instead(instead):
        print(claim.finding)
    display(charts.chain_chart(instead.chain))  # the chain per layer: sink, and the massive coordinate at 0
    lm = sinklab.load_model(claims.POSITIONAL)
    print(f"The rest of this notebook runs on {lm.info.name}: {cards.card(lm).sink_route}.")
    LAYER = min(5, lm.info.n_layer - 1)
    view = lessons.decomposition(lm, Prompt(), layer=LAYER, head=HEAD)
print(f"{lm.info.name}, layer {view.layer}, head {view.head}")
view.terms.head()

# %% [markdown]
# ## The four terms
#
# One heatmap per term (rows: queries, columns: keys), then their sum and the model's own
# scores.

# %%
charts.terms_heatmaps(view.terms)

# %% [markdown]
# Do the four terms add up to the model's own pre-softmax scores, in every layer and head?

# %%
print(f"max |sum of the four terms - model scores| over all layers and heads: {view.max_sum_error:.1e}")

# %% [markdown]
# Term 2 depends only on the query (it is constant along each row) and term 4 is one
# number. Term 3, Δ_j, depends only on the key: it is the same for every query (constant
# down each column). Measured:

# %%
TERMS = list(view.terms["term"].unique())  # content-content, query-only, key-only (Δ), constant, ...
spread_along_keys = view.terms[view.terms.term == TERMS[1]].groupby("query")["value"].std().fillna(0).max()
spread_of_constant = view.terms[view.terms.term == TERMS[3]]["value"].std()
spread_along_queries = view.terms[view.terms.term == TERMS[2]].groupby("key")["value"].std().fillna(0).max()
print(f"largest spread of term 2 along a row: {spread_along_keys:.1e}; of term 4: {spread_of_constant:.1e}; "
      f"of term 3 down a column: {spread_along_queries:.1e}")

# %% [markdown]
# ## Terms 2 and 4 do not change the attention
#
# The softmax over keys ignores anything added equally to every key of a row. So the
# attention computed from terms 1 + 3 alone should be the model's attention. Left: the model;
# right: terms 1 + 3.
#
# **Predict.** Before running the next cells: if terms 2 and 4 are dropped, will any attention
# weight, in any layer and head, change by more than 10⁻⁴? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
charts.attention_compare(view.attention)

# %%
exact, in_head, pooled_claim = claims.decomposition(view)
course.reveal(guess, bool(view.max_attention_change > 1e-4),
              f"On {lm.info.name} the largest change over every layer and head is {view.max_attention_change:.1e}: "
              "a term that is the same for every key of a row cancels in the softmax.")
print(exact.finding)

# %% [markdown]
# ## Δ_j: a shift every query sees
#
# Because Δ_j is added to the score of key j for *every* query, a key with a large Δ_j
# attracts attention from everyone: a sink. Here is Δ_j across positions for our head.

# %%
charts.delta_bars(view.delta)

# %%
delta = view.delta.set_index("position")["delta"]
print(f"Δ at position 0: {delta.iloc[0]:.2f}; largest elsewhere: {delta.iloc[1:].max():.2f} "
      f"(position {int(delta.iloc[1:].idxmax())})")
print(in_head.finding)

# %% [markdown]
# ## All the middle layers at once
#
# Pool Δ over every head of the middle layers, after shifting each (layer, head) so its
# smallest Δ is 0 (the arXiv paper's convention): position 0 against all the others.

# %%
charts.delta_histogram(view.pooled)

# %%
pooled = view.pooled.groupby("group")["delta_norm"]
stats = pooled.describe(percentiles=[0.5, 0.9])
print(stats[["count", "mean", "50%", "90%"]].round(2))
first_mean, other_mean = stats.loc["first position", "mean"], stats.loc["other positions", "mean"]
print(pooled_claim.finding)

# %% [markdown]
# ## Checkpoint
#
# Answer from the bar chart of Δ above, then write your answer in `my_answer` and run the cell (the
# answer computed on this model is folded under the question).

# %%
my_answer = None  # a position
course.Checkpoint(f"On {lm.info.name}, layer {LAYER}, head {HEAD}: at which position is Δ_j largest?",
                  int(delta.idxmax()),
                  f"Δ is {delta.max():.2f} at position {int(delta.idxmax())}; at most "
                  f"{delta.drop(index=delta.idxmax()).max():.2f} at any other position", tol=0.0).check(my_answer)

# %% [markdown]
# ## Your turn
#
# Show yourself that terms 2 and 4 do not matter. Complete
# `attention_from_terms_1_and_3(terms)`: from the long table `view.terms` (columns
# `query, key, term, value`), keep terms 1 and 3 (`TERMS[0]` and `TERMS[2]`), add them per
# (query, key), and take the softmax over the keys of each query. Return a pandas Series
# indexed by (query, key). The check compares it with the model's own attention, and runs it
# again with every other row of the table scrambled: terms 1 and 3 alone must be enough.

# %%
def attention_from_terms_1_and_3(terms):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import attention_from_terms_1_and_3  # noqa: F811

# %%
feedback.check_attention_from_terms_1_and_3(attention_from_terms_1_and_3, view, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, checked on the model this notebook ran on, then the numbers they rest on. On a
# model without the split, first what it has instead.

# %%
if instead is not None:
    print(f"On {instead.title} the four-term split does not exist. What carries its sink instead, on the prompt:")
    for claim in claims.instead(instead):
        print("   ", claim.finding)
    print(f"The decomposition below was measured on {lm.info.name}.")
    print()
for claim in claims.decomposition(view):
    print(claim.finding)
print()
print(f"On {lm.info.name} the four terms sum to the model's scores within {view.max_sum_error:.1e}. Pooled over "
      f"every head of layers {view.paper_layers[0]}–{view.paper_layers[1] - 1}, the shifted Δ averages "
      f"{first_mean:.2f} at position 0 against {other_mean:.2f} at the other positions.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). The decomposition is exact on any model; the claims about Δ are
# asserted only on the planted specimens, whose wired heads are known (lm.meta).
assert view.max_sum_error < 1e-3 and view.max_attention_change < 1e-4
assert spread_along_keys < 1e-5 and spread_of_constant < 1e-5 and spread_along_queries < 1e-5
assert exact.holds, exact.text
assert instead is None or (lm.info.name == claims.POSITIONAL and instead.absent)
if (lm.meta or {}).get("kind") == "planted":
    assert all(c.holds for c in claims.decomposition(view)), [c.text for c in claims.decomposition(view)]
    if HEAD in lm.meta["wired_heads"].get(str(LAYER), []):
        assert delta.idxmax() == 0  # a wired head: Δ peaks at position 0
    assert first_mean > other_mean and stats.loc["first position", "50%"] > stats.loc["other positions", "90%"]
