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
# # Structural origin
#
# **The question.** The circuit paper explains *how* a model can make position 0 a sink. A second
# paper ("The Structural Origin of Attention Sink") offers a more general *why*: the first
# token attends only to itself, so its attention output is a single value vector while
# later tokens average many; FFN *super neurons* fire on the first token and write a few
# massive coordinates through channel-sparse down-projections. If that were the whole
# cause, making any position k attend only to itself (**isolate**) or amplifying the
# spread of its representation (**amplify**) should create a sink at k. Does it, here?
#
# **You will learn** to measure the variance discrepancy, to find super neurons and their
# sparse down-projections, and to test the two structural interventions against the
# circuit's transplant. Mirrors the app's "Structural origin" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".

# %%
import pandas as pd

import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.config import Config
from sinklab.interventions import NotApplicable, make
from sinklab.teaching.lessons import Prompt

import feedback  # tutorials/feedback.py: one check per "Your turn" exercise

# Settings are read once, here (sinklab.config): $SINKLAB_MODEL picks the model (unset: GPT-2 small if
# it can be loaded, else the offline "textbook"); $SINKLAB_SOLUTIONS=1 fills in the exercises' solutions.
config = Config.load()
lm, note = sinklab.load_configured(config)
print(cards.introduce(lm, note))
PROMPT = Prompt()  # the paper's Ozymandias sentence, 40 tokens
K = 5  # the position we try to turn into a sink

# %%
view = lessons.origin_lesson(lm, PROMPT, position=K, factor=4.0)
variance, super_neuron, isolate, amplify = claims.origin(view)
view.moves_summary.round(4)

# %% [markdown]
# ## Position 0 attends only to itself
#
# This part is true of every causal model: the first query has a single key to look at,
# so its attention row is [1]. Measured:

# %%
maps = lessons.start(lm, PROMPT).maps
first_row = maps.heads[:, :, 0, :]  # [layer, head, key]: the attention row of query 0 in every head
off = max(abs(first_row[..., 0] - 1).max(), abs(first_row[..., 1:]).max())
print(f"query 0's weight on itself differs from 1 by at most {off:.1e} in all {first_row.shape[1]} heads of all "
      f"{first_row.shape[0]} layers")

# %% [markdown]
# ## The variance discrepancy
#
# Averaging many value vectors shrinks their spread. The chart shows, per layer, the
# variance of each position's attention output over the residual coordinates (position 0
# in red). The table also has `z_variance`: the same per head, before the output
# projection, averaged over heads.

# %%
charts.variance_chart(view.stats)

# %%
stats = view.stats
ratios = {}
for layer, s in stats.groupby("layer"):
    s = s.set_index("position")
    ratios[layer] = {c: s.loc[0, c] / s.drop(index=0)[c].median() for c in ("variance", "norm", "z_variance")}
ratio_table = pd.DataFrame(ratios).T.rename_axis("layer")
print(variance.finding)
ratio_table.round(2)  # position 0 / the median other position

# %% [markdown]
# ## Super neurons
#
# For every MLP, the neurons whose activation at position 0 is most extreme compared with
# the other positions (`score`), and how concentrated each one's down-projection row is
# on its 3 largest residual coordinates (`sparsity`, 1 = writes only there).

# %%
top = view.neurons.sort_values("score", ascending=False)
top.head(6)

# %%
layer, neuron = view.top_neuron
charts.down_projection_bar(view.row, title=f"Down-projection of the top super neuron (layer {layer}, neuron {neuron})")

# %%
written = set(view.row.loc[view.row["abs_weight"] > 1e-6, "coord"])
print(f"top super neuron: layer {layer}, neuron {neuron}; activation at position 0 "
      f"{top.iloc[0].act_first:.2f} vs {top.iloc[0].act_other:.4f} elsewhere; writes "
      + (f"coordinates {sorted(written)}" if len(written) <= 10 else f"{len(written)} coordinates"))
print(super_neuron.finding)
if "super_neurons" in (lm.meta or {}):
    print(f"{lm.info.name} was built with super neurons (layer, neuron) {[tuple(n) for n in lm.meta['super_neurons']]} "
          f"writing its massive coordinates {sorted(lm.meta['massive_coords'])}")

# %% [markdown]
# ## Can we make a sink at position k?
#
# The two interventions of the structural paper, at position k = 5, in every layer:
# **isolate** changes the attention mask so k attends only to itself, like position 0;
# **amplify** multiplies the spread of k's per-head attention output by a factor (4 here).
# The chart shows the attention to k per layer.

# %%
charts.moves_chart(view.moves)

# %%
moves = view.moves_summary.set_index("intervention")
print(isolate.finding)
print(amplify.finding)

# %% [markdown]
# A much larger factor, and for comparison the circuit paper's own way of moving the sink:
# the transplant of EPE_0 to position k (it needs position embeddings, so it does not apply to
# a model without them). The papers themselves conclude that sinks can arise through different
# mechanisms in different models; these numbers say which one this model uses.

# %%
strong = lessons.origin_lesson(lm, PROMPT, position=K, factor=20.0).moves_summary.set_index("intervention")
try:
    moved = lessons.intervention_lesson(lm, make("transplant", other=K), PROMPT).summary.set_index("run")
except NotApplicable as why:
    moved = None
    print(f"The transplant does not apply to {lm.info.name}: {why}")
at_k = {"baseline": moves.loc["baseline", "sink_at_k"], "isolate": moves.loc["isolate", "sink_at_k"],
        "amplify x4": moves.loc["amplify", "sink_at_k"], "amplify x20": strong.loc["amplify", "sink_at_k"]}
if moved is not None:
    at_k["transplant"] = moved.loc["after", "sink"]
print(f"sink at position {K}: " + ", ".join(f"{k} {v:.3f}" for k, v in at_k.items())
      + f" (position 0's baseline sink: {moves.loc['baseline', 'sink_first']:.3f})")

# %% [markdown]
# ## How the sink emerged during training
#
# For the bundled trained model (sinklab-mini) the app also shows its training log: the
# sink metrics and the loss per step. Run this notebook with `SINKLAB_MODEL=sinklab-mini`
# to see it; other models have no log.

# %%
log = lessons.emergence_log(lm)
if log is not None:
    display(charts.emergence_chart(log))
else:
    print(f"no training log for {lm.info.name}")

# %% [markdown]
# ## Your turn
#
# **1.** Complete `variance_ratio(stats, layer, column)`: in `view.stats` (columns `layer,
# position, variance, norm, z_variance`), return position 0's value of `column` in `layer`
# divided by the median over the other positions.

# %%
def variance_ratio(stats, layer, column="z_variance"):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import variance_ratio  # noqa: F811

# %%
feedback.check_variance_ratio(variance_ratio, lm, view, strict=config.solutions)

# %% [markdown]
# **2.** Complete `top_written_coords(row, n)`: from a down-projection table such as
# `view.row` (columns `coord, weight, abs_weight`), return the `n` coordinates with the
# largest |weight|, largest first. The check tries it on that row and on two other neurons' rows.

# %%
def top_written_coords(row, n=3):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import top_written_coords  # noqa: F811

# %%
feedback.check_top_written_coords(top_written_coords, lm, view, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, checked on this model, then the other measurements.

# %%
for claim in claims.origin(view):
    print(claim.finding)
print()
z = ratio_table["z_variance"]
print(f"On {lm.info.name}, the per-head attention output of position 0 has {z.iloc[0]:.2f}× the variance of the "
      f"median position in layer 0 and {z.iloc[1:].min():.2f}–{z.iloc[1:].max():.2f}× in the later layers. "
      f"Its top super neuron (layer {layer}, neuron {neuron}) puts {top.iloc[0].sparsity:.0%} of its down-projection "
      f"on 3 coordinates. At position {K}: " + ", ".join(f"{k} {v:.3f}" for k, v in at_k.items())
      + f", against a sink of {moves.loc['baseline', 'sink_first']:.3f} at position 0.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). Query 0 attends only to itself in any causal model; the claims are
# asserted only on the planted specimens, whose route and super neurons are known (lm.meta).
assert off < 1e-5, off
meta = lm.meta or {}
if meta.get("kind") == "planted":
    assert super_neuron.holds and [layer, neuron] in meta["super_neurons"]
    assert written <= set(meta["massive_coords"]) and top.iloc[0].sparsity > 0.99
    base_first = moves.loc["baseline", "sink_first"]
    if meta["route"] == "structural":  # built on the discrepancy: isolate and amplify move the sink
        assert variance.holds and isolate.holds and amplify.holds, [c.text for c in claims.origin(view)]
        assert moved is None
    else:  # the positional route: no sink at k, position 0 keeps its sink, the transplant moves it
        assert not isolate.holds and not amplify.holds
        for name, row in [("isolate", moves.loc["isolate"]), ("amplify x4", moves.loc["amplify"]),
                          ("amplify x20", strong.loc["amplify"])]:
            assert row.sink_at_k < 0.2 * base_first, name
            assert abs(row.sink_first - base_first) < 0.05 * base_first, name
        assert moved.loc["after", "sink"] > 0.5 * base_first
    if config.solutions:  # the top super neuron writes massive coordinates
        assert set(top_written_coords(view.row, len(written))) <= set(meta["massive_coords"])
