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
# # Start
#
# **The question.** When a transformer language model reads a sentence, where does each token
# look? In GPT-2, in Llama-family models such as SmolLM2 and in many others, the answer is often: at
# the very first token, whatever it is. Such a token is an *attention sink*. Is there one in the
# model this notebook runs on, and where in the model does it appear?
#
# **You will learn** to read an attention map, to measure the sink with the paper's
# metric, and to see which layers and heads have it. This notebook mirrors the app's
# "Start" page and uses the same `sinklab` calls and charts.
#
# Positions are counted from 0, as in the app, the tables and the charts: position 0 is the
# papers' "position 1" (the first token).
#
# The model is a parameter: `SINKLAB_MODEL=smollm2-135m` runs this notebook on a real trained model
# (SmolLM2-135M-Instruct, offline), `textbook` on the planted specimen; every sentence below that
# describes the model is computed from its numbers.

# %%
import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.config import Config
from sinklab.inputs.corpora import example_prompts
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
# ## One prompt, every layer
#
# The default prompt is the paper's: the opening of Shelley's *Ozymandias*, cut to 40
# tokens, without a BOS token (so position 0 is simply the first word or word piece) — unless the
# model's own tokenizer puts one first (Gemma's adds `<bos>`; GPT-2's and SmolLM2's add nothing):
# then, as in the app, so does the prompt.
# `lessons.start` runs the model once and returns what the page shows: the tokens, the
# attention maps (`view.maps`, arrays indexed [layer, head, query, key]) and tidy tables.

# %%
PROMPT = Prompt(prepend_bos=cards.prepends_bos(lm.tokenizer))  # the model's own BOS convention
view = lessons.start(lm, PROMPT)
print(f"{len(view.tokens)} tokens" + (f" (the text had {view.truncated_from} and was truncated)"
                                      if view.truncated_from else "") + f"; position 0 is {view.tokens.token[0]!r}")
view.tokens.head(8)

# %% [markdown]
# Each row of an attention map is a probability distribution over the earlier positions
# (the causal softmax): it sums to 1. Let's measure how far every row of every layer and head
# is from summing to 1.

# %%
row_sums = view.maps.heads.sum(-1)  # [layer, head, query]: each attention row summed over the keys
error = abs(row_sums - 1).max()
print(f"{row_sums.size} attention rows; the largest deviation of a row sum from 1 is {error:.1e}")

# %% [markdown]
# ## The head-averaged attention map
#
# Rows are queries (the token that is looking), columns are keys (the tokens it looks
# at). We pick a middle layer (the middle of the layers the sink metric below averages) and look
# at the first column, position 0: is it bright all the way down?

# %%
LAYER = sum(view.paper_layers) // 2
print(f"layer {LAYER} of {lm.info.n_layer}")
charts.attention_map(view.maps, LAYER)

# %% [markdown]
# ## The sink metric
#
# The paper's metric: the mean attention to position 0 from the queries in the second
# half of the sequence, averaged over all heads and over the middle layers (it drops the
# first quarter of the layers and the last one). If attention were spread evenly over the
# allowed keys, position 0 would get only 1/(i+1) from query i. Every statement below is a
# `sinklab.teaching.claims.Claim`: checked on this model's numbers, with the published number for GPT-2
# small beside it as a labelled reference.

# %%
T = len(view.tokens)
uniform = sum(1 / (i + 1) for i in range(T // 2, T)) / (T - T // 2)  # even share of position 0
first, last = view.paper_layers
print(f"metric: {view.metric}, layers {first}..{last - 1} (0-indexed)")
print(f"attention to position 0: {view.score:.3f}  (an even spread would give {uniform:.3f})")
sink, grows = claims.start(view)
print(sink.finding)

# %% [markdown]
# ## Layer by layer
#
# The same quantity per layer (averaged over heads).
#
# **Predict.** Before running the next two cells: does layer 0 already have the sink — at least
# half of the middle layers' average attention to position 0? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
charts.sink_per_layer(view.per_layer, view.paper_layers)

# %%
per_layer = view.per_layer.set_index("layer")["value"]
middle = per_layer.loc[first:last - 1]
print(f"layer 0: {per_layer.iloc[0]:.3f}; middle layers: {middle.min():.3f} .. {middle.max():.3f}")
above = [int(l) for l, v in per_layer.items() if v >= 0.5 * middle.mean()]
course.reveal(guess, bool(per_layer.iloc[0] >= 0.5 * middle.mean()),
              f"On {lm.info.name} layer 0 puts {per_layer.iloc[0]:.3f} of its attention on position 0, the middle "
              f"layers {middle.mean():.3f} on average; the first layer with at least half of that is "
              + (f"layer {above[0]}." if above else "none."))
print(grows.finding)

# %% [markdown]
# ## Head by head
#
# Not every head needs to be a sink head. The grid shows, for each (layer, head), the attention
# mass on position 0 from the second-half queries.

# %%
charts.head_grid(view.heads)

# %% [markdown]
# On a planted specimen we know which heads were wired into the sink by hand
# (`lm.meta["wired_heads"]`), so we can compare the heads with a sink (mass > 0.5) with them.
# A trained model has no such answer key: there, the grid is the answer.

# %%
sink_heads = {(int(r.layer), int(r.head)) for r in view.heads.itertuples() if r.value > 0.5}
n_heads = lm.info.n_layer * lm.info.n_head
print(f"{len(sink_heads)} of {n_heads} heads have mass > 0.5 on position 0")
wired = {(int(l), h) for l, heads in (lm.meta or {}).get("wired_heads", {}).items() for h in heads}
if wired:
    print("they are exactly the wired heads" if sink_heads == wired else
          f"they differ from the wired heads in {sorted(sink_heads ^ wired)}")
else:
    by_layer = view.heads[view.heads.value > 0.5].groupby("layer").size()
    print(f"{lm.info.name} has no list of wired heads (it was trained, not built): the grid is the answer. "
          + (f"The sink heads sit in layers {int(by_layer.index.min())}–{int(by_layer.index.max())}, most in layer "
             f"{int(by_layer.idxmax())} ({int(by_layer.max())} of its {lm.info.n_head} heads)." if len(by_layer)
             else "No head puts more than half of its attention on position 0."))

# %% [markdown]
# ## Whatever the text
#
# Does the sink care what the first token says? One example each of a review, a word problem
# and a Python function:

# %%
scores = {domain: lessons.start(lm, Prompt(text=text, prepend_bos=PROMPT.prepend_bos)).score for domain, text in example_prompts().items()}
print({d: round(s, 3) for d, s in scores.items()})

# %% [markdown]
# ## Checkpoint
#
# Answer from the numbers above, then write your answer in `my_answer` and run the cell (the
# answer computed on this model is folded under the question).

# %%
my_answer = None  # a number of heads
per_layer_heads = view.heads[view.heads.value > 0.5].groupby("layer").size()
course.Checkpoint(f"Read the head grid: how many of {lm.info.name}'s {n_heads} heads put more than half of their "
                  "attention on position 0, and in which layer are most of them?", len(sink_heads),
                  (f"{len(sink_heads)} heads, most in layer {int(per_layer_heads.idxmax())} "
                   f"({int(per_layer_heads.max())} of its {lm.info.n_head})") if len(per_layer_heads) else "none",
                  tol=0.0).check(my_answer)

# %% [markdown]
# ## Your turn
#
# Complete `first_token_share(maps, layer)`: `maps.weights(layer)` is the head-averaged
# attention of `layer` as an array `a[query, key]` of shape (T, T), T the number of tokens.
# Return the mean attention that the second-half queries (`query >= T // 2`) give to
# position 0 (column 0). It should match the per-layer chart above.

# %%
def first_token_share(maps, layer):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import first_token_share  # noqa: F811

# %%
feedback.check_first_token_share(first_token_share, lm, view, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, checked on this model, then the other measurements of this notebook.

# %%
for claim in claims.start(view):
    print(claim.finding)
print()
weakest, strongest = int(middle.idxmin()), int(middle.idxmax())
print(f"On {lm.info.name}, {len(sink_heads)} of {n_heads} heads put more than half of their attention on "
      f"position 0. Across layers {first}–{last - 1} the attention to position 0 ranges from {middle.min():.2f} "
      f"(layer {weakest}) to {middle.max():.2f} (layer {strongest}); in layer 0 it is {per_layer.iloc[0]:.2f}. "
      f"On the three example texts the sink metric is "
      + ", ".join(f"{s:.2f} ({d})" for d, s in scores.items())
      + f", against an even share of {uniform:.2f} on the Ozymandias prompt.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). Softmax rows sum to 1 on any model; the claims are asserted only
# on the planted specimens, whose sink is known (lm.meta): in (nearly) every wired head and no other, absent
# before the first wired layer.
assert error < 1e-4, error
if (lm.meta or {}).get("kind") == "planted":
    assert all(c.holds for c in claims.start(view)), [c.text for c in claims.start(view)]
    assert sink_heads <= wired and len(wired - sink_heads) <= len(wired) // 8, sink_heads ^ wired  # only wired heads
    assert per_layer.iloc[0] < 0.2 and middle.min() > 0.5
    assert all(s > 5 * uniform for s in scores.values()), scores
