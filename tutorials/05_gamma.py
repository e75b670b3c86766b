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
# # γ and alignment
#
# **The question.** EPE_0 may put a few massive coordinates into the first position. How would
# the attention layer turn them into a large Δ_0?
#
# **You will learn** that Δ_j = γ · x_j with γ⁽ˡ⁾ = b_Q⁽ˡ⁾ W_k⁽ˡ⁾ᵀ, one fixed vector per layer
# that every key is scored against; to check whether γ is large exactly at the massive
# coordinates; and whether the query bias b_Q points along the first position's key EPE_0 W_k
# more than along any other position's. Mirrors the app's "γ and alignment" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".
# Everything on this page is computed from the weights alone: no prompt is needed.

# %%
import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.config import Config
from sinklab.interventions import NotApplicable
from sinklab.published.reference import is_gpt2_small
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
# γ is read against EPE_0's massive coordinates, which are defined through the position
# embeddings, and γ itself needs a query bias b_Q. On a model without them — a rotary model without
# b_Q such as SmolLM2 (γ is identically zero there), or a "NoPE" model such as
# `textbook-structural` — this page does not apply: the notebook then says why (sinklab refuses
# with a reason), shows what the model has instead, measured on the Ozymandias prompt, and
# continues on `textbook`, the specimen where the positional route is planted.

# %%
instead = None  # what a model without the route has instead (lessons.positional_absent)
try:
    view = lessons.gamma_lesson(lm, k_sigma=3.0)
except NotApplicable as why:
    print(f"Refused on {lm.info.name}: {why}")
    instead = lessons.positional_absent(lm, Prompt(prepend_bos=cards.prepends_bos(lm.tokenizer)), needs=("pe", "bq"))
    for claim in claims.instead(instead):
        print(claim.finding)
    lm = sinklab.load_model(claims.POSITIONAL)
    print(f"The rest of this notebook runs on {lm.info.name}: {cards.card(lm).sink_route}.")
    view = lessons.gamma_lesson(lm, k_sigma=3.0)
print(f"massive coordinates of EPE_0 on {lm.info.name}: {list(view.massive)}")
view.table.head()

# %% [markdown]
# ## γ at the massive coordinates, layer by layer
#
# For each layer: |γ| at each massive coordinate (points) against the typical coordinate
# (gray: the mean |γ| over all coordinates, black: mean + 2 std).

# %%
charts.gamma_table_chart(view.table)

# %%
exceeds = view.table.groupby("layer")["exceeds"].all()
big, aligned = claims.gamma(view)
print("layers where every massive coordinate is above mean + 2 std:", list(exceeds[exceeds].index))
if "wired_layers" in (lm.meta or {}):
    print(f"the layers wired by hand in {lm.info.name}: {lm.meta['wired_layers']}")
print(big.finding)

# %% [markdown]
# ## The same per head, pooled over the middle layers
#
# γ per head, γ_h = b_{Q,h} W_{k,h}ᵀ, over every head of the middle layers: the share of
# coordinates at each |γ_h[d]|, massive coordinates against all others. For comparison, the
# authors report a mean of 1.37 at the massive coordinates against 0.18 elsewhere on GPT-2 small.

# %%
charts.gamma_histogram(view.distribution)

# %%
summary = view.distribution_summary.set_index("massive")
massive_mean, other_mean = summary.loc[True, "mean"], summary.loc[False, "mean"]
print(f"mean |γ_h[d]|: massive {massive_mean:.3f}, other {other_mean:.3f} ({massive_mean / other_mean:.1f}x)")
if is_gpt2_small(lm.info):  # the published means (authors' coord_alignment summary, layers 4-11 1-indexed)
    print("published by the authors for GPT-2 small: massive 1.3695, other 0.1757")

# %% [markdown]
# ## Does the query bias align with the first position's key?
#
# Δ_j is the dot product of b_Q with x_j W_k. Feeding EPE_j for x_j: the cosine between
# b_Q⁽ˡ⁾ and EPE_j W_k⁽ˡ⁾ per layer, one line per position (position 0 in red). For comparison,
# the paper reports about 0.7 for the first position at layer 10 of GPT-2 small, about 0.2 for
# the others.
#
# **Predict.** Before running the next cells: in most layers, will b_Q point along the first
# position's key more than along any other position's? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
charts.alignment_chart(view.alignment)

# %%
al = view.alignment
first_cos = al[al["first"]].set_index("layer")["cosine"]
other_cos = al[~al["first"]].groupby("layer")["cosine"].mean()
best = int(first_cos.idxmax())
print(f"position 0: cosine up to {first_cos.max():.2f} (layer {best}); "
      f"other positions at that layer: {other_cos[best]:.2f} on average")
course.reveal(guess, aligned.holds, f"On {lm.info.name}: {aligned.evidence}.")
print(aligned.finding)

# %% [markdown]
# ## Checkpoint
#
# Answer from the γ table and chart above, then write your answer in `my_answer` and run the cell
# (the answer computed on this model is folded under the question).

# %%
my_answer = None  # a number of layers
course.Checkpoint(f"On {lm.info.name}, in how many of its {lm.info.n_layer} layers is |γ| above mean + 2 std at "
                  f"every massive coordinate of EPE_0 ({', '.join(map(str, view.massive))})?", int(exceeds.sum()),
                  f"in layers {list(exceeds[exceeds].index) or 'none'}", tol=0.0).check(my_answer)

# %% [markdown]
# ## Your turn
#
# Compute γ from the weights. GPT-2 stores W_q, W_k, W_v side by side in one Conv1D,
# `attn.c_attn`: `weight` has shape (d, 3d) and `bias` shape (3d,), in the order q | k | v
# (d = `model.config.n_embd`), and it computes x @ weight + bias. Complete
# `gamma_by_hand(model, layer)`: return γ = W_k b_Q (a vector of length d:
# `weight[:, d:2d] @ bias[:d]`). sinklab reads the same blocks through
# `sinklab.model.families.attn_weights(model, layer)` (`.W_K`, `.b_Q`); the check compares with it.

# %%
def gamma_by_hand(model, layer):
    attn = model.transformer.h[layer].attn.c_attn
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import gamma_by_hand  # noqa: F811

# %%
feedback.check_gamma_by_hand(gamma_by_hand, lm, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, checked on the model this notebook ran on, then the other measurements. On a
# model without the route, first what it has instead.

# %%
if instead is not None:
    print(f"On {instead.title} there is no γ to measure. What carries its sink instead, on the prompt:")
    for claim in claims.instead(instead):
        print("   ", claim.finding)
    print(f"γ and the alignment were measured on {lm.info.name}.")
    print()
for claim in claims.gamma(view):
    print(claim.finding)
print()
print(f"On {lm.info.name}, every massive coordinate of EPE_0 ({list(view.massive)}) has |γ| above mean + 2 std in "
      f"layers {list(exceeds[exceeds].index) or 'none'}. Per head, over the middle layers, |γ_h| averages "
      f"{massive_mean:.3f} at the massive coordinates against {other_mean:.3f} elsewhere "
      f"({massive_mean / other_mean:.1f}×). b_Q's cosine with the first position's key reaches {first_cos.max():.2f} "
      f"(layer {best}), against {other_cos[best]:.2f} on average for the other positions in that layer.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook): asserted only on a specimen with the positional route planted, whose
# wired layers are known (lm.meta): there, γ and the alignment are large in exactly the wired layers.
assert instead is None or (lm.info.name == claims.POSITIONAL and instead.absent)
if (lm.meta or {}).get("kind") == "planted" and lm.meta.get("route") == "positional":
    assert all(c.holds for c in claims.gamma(view)), [c.text for c in claims.gamma(view)]
    wired = lm.meta["wired_layers"]
    assert exceeds[wired].all() and massive_mean > 3 * other_mean
    assert first_cos[wired].min() > 0.8
    assert al[al.layer.isin(wired) & ~al["first"]]["cosine"].abs().max() < 0.5
