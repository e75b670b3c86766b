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
# # EPE
#
# **The question.** The previous notebook split an attention score into four terms and found the
# sink, where there is one, in the key-only shift Δ_j = b_Q W_kᵀ x_j. If Δ_0 is large whatever the
# first token is, something about *being first* must be written into x_0. What is it?
#
# **You will learn** what the *effective positional encoding* is,
# EPE_i = MLP⁽¹⁾(p_i) + p_i (the first block's MLP applied to the position embedding p_i,
# plus p_i), whether the first position's EPE_0 has a few *massive* coordinates, and how to
# check that EPE really is what the first block adds for a position. Mirrors the app's
# "EPE" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1", and
# EPE_0 is what the papers call EPE_1.

# %%
import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.model import families, layout
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
# `lessons.epe_lesson` computes EPE_0's coordinates, flags the massive ones (|value| above
# the mean |value| by k = 3 standard deviations, the arXiv paper's rule), and runs the
# validation over a small corpus mixing natural language, math and code. We use the
# authors' convention: the MLP applied to p directly, without `ln_2`.
#
# EPE is defined through the position embeddings. On a model without them — a rotary model such
# as SmolLM2 (position is a rotation of q and k, there is no p_i) or a "NoPE" model such as
# `textbook-structural` — this page does not apply: the notebook then says why (sinklab refuses
# with a reason), shows what the model has instead, measured on the Ozymandias prompt (the
# coordinate of position 0's residual stream that becomes massive, and where), and continues on
# `textbook`, the specimen where the positional route is planted.
#
# **Predict.** Before running the next cells: how many massive coordinates will EPE_0 have at
# kσ = 3 (the authors found 3 on GPT-2 small)? Write a number.

# %%
guess = None  # your prediction: a number of coordinates

# %%
K_SIGMA = 3.0
instead = None  # what a model without position embeddings has instead (lessons.positional_absent)
try:
    view = lessons.epe_lesson(lm, k_sigma=K_SIGMA, ln2=False, n=9)
except NotApplicable as why:
    print(f"Refused on {lm.info.name}: {why}")
    instead = lessons.positional_absent(lm, Prompt(prepend_bos=cards.prepends_bos(lm.tokenizer)), needs=("pe",))
    for claim in claims.instead(instead):
        print(claim.finding)
    display(charts.chain_chart(instead.chain))  # where position 0's massive coordinate appears, layer by layer
    lm = sinklab.load_model(claims.POSITIONAL)
    print(f"The rest of this notebook runs on {lm.info.name}: {cards.card(lm).sink_route}.")
    view = lessons.epe_lesson(lm, k_sigma=K_SIGMA, ln2=False, n=9)
print(f"convention: EPE = MLP{'(ln_2(p))' if view.ln2 else '(p)'} + p")
print(f"massive coordinates of EPE_0 on {lm.info.name}: {list(view.massive)}")
view.coords.sort_values("abs_value", ascending=False).head(6)

# %% [markdown]
# ## A few massive coordinates?
#
# Each coordinate of EPE_0, with the ones above the dashed threshold in red.

# %%
charts.epe_coords(view.coords)

# %%
a = view.coords["abs_value"]
ratio = a.max() / a.median()
print(f"largest |EPE_0| coordinate / median coordinate: {ratio:.0f}x")
massive, valid = claims.epe(view, K_SIGMA)
course.reveal(guess, len(view.massive),
              f"On {lm.info.name} EPE_0 has {len(view.massive)} coordinate(s) above mean + {K_SIGMA:g}σ "
              f"({', '.join(map(str, view.massive)) or 'none'}); the largest is {ratio:.0f}× the median.", tol=0.0)
print(massive.finding)
planted = (lm.meta or {}).get("massive_coords")
if planted:
    print(f"{lm.info.name} was built with massive coordinates {sorted(planted)}; found {sorted(view.massive)}")

# %% [markdown]
# ## Is EPE what the model really adds?
#
# The paper's check (appendix A.1): run the first block's MLP on a token's embedding with
# its position (x_i = e_i + p_i) and without (e_i): R_i = x_i + MLP⁽¹⁾(x_i),
# O_i = e_i + MLP⁽¹⁾(e_i). If position enters only through EPE, R_i − O_i points along
# EPE_i. The chart shows the cosine per position (median and p10–p90 over the corpus).
# For GPT-2 small the authors' published percentiles are drawn beside ours, labelled; they
# report > 0.99 at their position 1 (our position 0) and > 0.82 everywhere.

# %%
print(f"{view.n_inputs} inputs; corpus: {view.source}")
charts.epe_validation(view.validation, view.published)

# %%
val = view.validation.set_index("position")
print(f"median cosine at position 0: {val.p50.iloc[0]:.4f}; "
      f"other positions: {val.p50.iloc[1:].min():.3f} .. {val.p50.iloc[1:].max():.3f}")
print(valid.finding)
if view.published is not None:  # GPT-2 small: ours beside the published medians, position by position
    pub = view.published.set_index("position").p50
    common = val.index.intersection(pub.index)
    print(f"largest gap to the authors' published medians (GPT-2 small): {(val.p50[common] - pub[common]).abs().max():.3f}")

# %% [markdown]
# ## With or without ln_2?
#
# In the model, the MLP reads `ln_2` of the residual, not p itself; the authors' code
# skips `ln_2`. Both conventions are on offer. Do they find the same massive coordinates?

# %%
view_ln2 = lessons.epe_lesson(lm, k_sigma=K_SIGMA, ln2=True, n=9)
same = set(view_ln2.massive) == set(view.massive)
print(f"without ln_2: {list(view.massive)}; with ln_2: {list(view_ln2.massive)}: "
      + ("the same coordinates" if same else "they differ"))

# %% [markdown]
# ## Checkpoint
#
# Answer from the numbers above, then write your answer in `my_answer` and run the cell (the answer
# computed on this model is folded under the question).

# %%
my_answer = None  # a position
others = val.p50.iloc[1:]
course.Checkpoint(f"On {lm.info.name}, at which position other than 0 is EPE_i the worst match for what the first "
                  "block really adds (the lowest median cosine)?", int(others.idxmin()),
                  f"median cosine {others.min():.3f} at position {int(others.idxmin())}, against "
                  f"{val.p50.iloc[0]:.3f} at position 0 and up to {others.max():.3f} elsewhere", tol=0.0).check(my_answer)

# %% [markdown]
# ## Your turn
#
# **1.** Complete `massive_from_table(coords, k_sigma)`: from `view.coords` (columns
# `coord, value`), return the coordinates whose |value| exceeds the mean |value| plus
# `k_sigma` standard deviations of |value|, largest first.

# %%
def massive_from_table(coords, k_sigma=3.0):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import massive_from_table  # noqa: F811

# %%
feedback.check_massive_from_table(massive_from_table, lm, view, strict=config.solutions)

# %% [markdown]
# **2.** Compute EPE_0 yourself from the weights: complete `epe_first(model)` returning
# MLP⁽¹⁾(p_0) + p_0, with p_0 = `families.pos_embed(model)[0]` (the first row of the position
# embeddings, `model.transformer.wpe.weight`) and the first block's MLP as a function,
# `layout.mlp(model.transformer.h[0], x)`. It should match `view.coords["value"]`.

# %%
def epe_first(model):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import epe_first  # noqa: F811

# %%
feedback.check_epe_first(epe_first, lm, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, checked on the model this notebook ran on, then the other measurements. On a
# model without position embeddings, first what it has instead.

# %%
if instead is not None:
    print(f"On {instead.title} there is no EPE. What carries its sink instead, on the prompt:")
    for claim in claims.instead(instead):
        print("   ", claim.finding)
    print(f"EPE was measured on {lm.info.name}.")
    print()
for claim in claims.epe(view, K_SIGMA):
    print(claim.finding)
print()
print(f"On {lm.info.name} the largest coordinate of EPE_0 is {ratio:.0f}× the median one. Over {view.n_inputs} "
      f"inputs, the median cosine between EPE_i and what the first block adds is {val.p50.iloc[0]:.2f} at position "
      f"0 and between {val.p50.iloc[1:].min():.2f} and {val.p50.iloc[1:].max():.2f} at the other positions. With "
      f"ln_2 before the MLP the massive coordinates are {list(view_ln2.massive)}: "
      + ("the same as without." if same else f"not the same as without ({list(view.massive)})."))

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). The table and the list agree on any model; the claims are asserted
# only on a specimen with the positional route planted, whose massive coordinates are known (lm.meta).
assert list(view.coords.loc[view.coords.massive, "coord"].sort_values()) == sorted(view.massive)
assert instead is None or (lm.info.name == claims.POSITIONAL and instead.absent)
if (lm.meta or {}).get("kind") == "planted" and lm.meta.get("route") == "positional":
    assert all(c.holds for c in claims.epe(view, K_SIGMA)), [c.text for c in claims.epe(view, K_SIGMA)]
    assert set(view.massive) == set(lm.meta["massive_coords"]) and ratio > 10
    assert val.p50.iloc[0] > 0.99 and val.p50.iloc[0] > val.p50.iloc[1:].max()
    assert same  # its p_0 is already layer-normed, so both conventions agree
