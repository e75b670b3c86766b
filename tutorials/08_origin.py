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
# massive coordinates through channel-sparse down-projections, and the keys of position 0 read
# them. Can we find that chain, link by link, in the model in use — and if we cut a link, does the
# sink go, while cutting as many random parts does not? And if aggregation were the whole cause,
# making any position k attend only to itself (**isolate**) or amplifying the spread of its
# representation (**amplify**) should create a sink at k. Does it, here?
#
# **You will learn** to measure the variance discrepancy, to follow a massive coordinate of
# position 0's residual stream through the layers, to find the super neurons that write it and
# their sparse down-projections, to cut each link beside its control, and to test the two
# structural interventions against the circuit's transplant. Mirrors the app's "Structural
# origin" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".

# %%
import pandas as pd
import torch

import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.analyses import structural
from sinklab.config import Config
from sinklab.inputs.corpora import load_corpora
from sinklab.interventions import NotApplicable, make
from sinklab.model import families
from sinklab.teaching.lessons import Prompt

import feedback  # tutorials/feedback.py: one check per "Your turn" exercise
import course  # tutorials/course.py: offline charts, predict-then-reveal, the checkpoint

# Settings are read once, here (sinklab.config): $SINKLAB_MODEL picks the model (unset: GPT-2 small if
# it can be loaded, else the offline "textbook"); $SINKLAB_SOLUTIONS=1 fills in the exercises' solutions.
config = Config.load()
lm, note = sinklab.load_configured(config)
print(cards.introduce(lm, note))
course.offline_charts()  # the charts' JavaScript, inlined once: they render without a network
PROMPT = Prompt(prepend_bos=cards.prepends_bos(lm.tokenizer))  # Ozymandias, 40 tokens, BOS as its tokenizer
K = 5  # the position we try to turn into a sink

# %% [markdown]
# `lessons.origin_lesson` runs the prompt, locates the chain with sinklab's finder
# (`sinklab.analyses.origin`: the layer where a coordinate of position 0's residual stream becomes
# massive, and that layer's super neurons), cuts each link beside its control
# (`sinklab.analyses.structural.measure`), and tries the two moves at k.

# %%
view = lessons.origin_lesson(lm, PROMPT, position=K, factor=4.0)
said = {c.id: c for c in claims.origin(view)}
variance, massive, super_neuron = said["origin.variance"], said["origin.massive"], said["origin.super"]
isolate, amplify = said["origin.isolate"], said["origin.amplify"]
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
# ## The chain, layer by layer
#
# The finder tracks the coordinate of position 0's residual stream that grows largest, layer by
# layer, and calls it *massive* where it is far out of the distribution (≥ mean + 3 std of the
# coordinates, ≥ 10× their median, ≥ 5× the other positions' value on it). Top: the attention to
# position 0 in each layer; bottom: that coordinate at position 0 and elsewhere (log scale), dashed
# where a layer's super neurons write a massive coordinate.

# %%
charts.chain_chart(view.chain)

# %%
found = view.found
print(massive.finding)
if found.layer is not None:
    chain = view.chain.set_index("layer")
    after = chain.loc[found.layer + 1:, "sink"] if found.layer + 1 < lm.info.n_layer else chain.loc[found.layer:, "sink"]
    print(f"attention to position 0: {chain.loc[:found.layer, 'sink'].mean():.2f} on average up to layer {found.layer}, "
          f"{after.mean():.2f} after it")
    early = chain[(chain.index < found.layer) & chain["massive"]]
    if len(early):  # massive by the rule before the layer the finder reports (it reports where half the peak is reached)
        writers = {int(l): n for l, n in early["super_neurons"].items() if n}
        print(f"coordinate {found.coord} already passes the massive rule after layers {', '.join(map(str, early.index))} "
              f"(|value| up to {early['abs_first'].max():,.0f}, under half its peak"
              + (", written there by super neurons " + "; ".join(f"{v} of layer {l}" for l, v in writers.items())
                 if writers else "") + f"); the sink in those layers averages {early['sink'].mean():.2f}")
view.chain[["layer", "sink", "abs_first", "abs_other", "massive", "writes", "super_neurons"]].round(3)

# %% [markdown]
# ## Super neurons
#
# The candidates of that layer, largest write into position 0 first: `write` = |activation at
# position 0| × the norm of the neuron's down-projection row, `share` its part of the layer's
# MLP write there, `score` how much more active it is at position 0 than elsewhere, `sparsity`
# how concentrated its down-projection row is on its 3 largest residual coordinates (1 = writes
# only there), `super` whether it passes the finder's rule.

# %%
top = view.neurons  # largest write at position 0 first
view.neuron_table(top=6)

# %%
layer, neuron = view.top_neuron
charts.down_projection_bar(view.row, title=f"Down-projection of neuron {neuron} of layer {layer} (the largest writer "
                                           "at position 0)")

# %%
written = set(view.row.loc[view.row["abs_weight"] > 1e-6, "coord"])
print(f"largest writer: layer {layer}, neuron {neuron}; activation at position 0 {top.iloc[0].act_first:,.2f} vs "
      f"{top.iloc[0].act_other:.4f} elsewhere; {top.iloc[0].sparsity:.0%} of its row on coordinates "
      f"{', '.join(map(str, top.iloc[0].coords))}; writes "
      + (f"coordinates {sorted(written)}" if len(written) <= 10 else f"{len(written)} coordinates"))
print(super_neuron.finding)
if "super_neurons" in (lm.meta or {}):
    print(f"{lm.info.name} was built with super neurons (layer, neuron) {[tuple(n) for n in lm.meta['super_neurons']]} "
          f"writing its massive coordinates {sorted(lm.meta['massive_coords'])}")

# %% [markdown]
# ## Cut each link, beside its control
#
# Each bar is one run on the prompt with one link cut: the super neurons of the layer where the
# massive coordinate appears (`zero_neurons`), as many random neurons of that same layer (the
# control), the massive coordinates at position 0 after it (`zero_massive`), that layer's whole
# MLP, head-wise RMSNorm, and the two moves at k.
#
# **Predict.** Before running the next cells: will zeroing just the super neurons found above
# (a handful of the layer's MLP units) leave less than half of the sink — while zeroing as many
# random units of the same layer leaves it alone? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False
if found.layer is not None:
    n_units = families.mlp_out_rows(lm.model, found.layer).shape[0]  # the layer's MLP hidden units
    print(f"the super neurons found: {list(found.neurons) or 'none'} in layer {found.layer}, of its {n_units} MLP units")

# %%
charts.cuts_bars(view.cuts)

# %%
cuts = view.cuts.set_index("setting")
ran = cuts[cuts["n"] > 0]
pct = ran["pct_of_baseline"]
if "zero_neurons" in pct.index:
    control = pct[[s for s in pct.index if s.startswith("zero_random_neurons")]]
    course.reveal(guess, bool(pct["zero_neurons"] < 50 and (control >= 90).all()),
                  f"On {lm.info.name}, zeroing super neurons {', '.join(map(str, found.neurons))} of layer {found.layer} "
                  f"leaves {pct['zero_neurons']:.0f} % of the sink; zeroing as many random units of that layer leaves "
                  + ", ".join(f"{p:.0f} %" for p in control) + ".")
else:
    why_not = cuts.loc["zero_neurons", "note"] if "zero_neurons" in cuts.index else "no layer to cut"
    course.reveal(guess, "zero_neurons" in pct.index, f"On {lm.info.name} the finder found no super neuron to zero: "
                  f"{why_not}.")
for claim_id in ("origin.cut", "origin.zero_massive"):
    if claim_id in said:
        print(said[claim_id].finding)
for row in cuts[cuts["n"] == 0].itertuples():
    print(f"Not run here: {row.Index} — {row.note}")
ran[["label", "layer", "sink", "pct_of_baseline", "pct_at_k"]].round(3)

# %% [markdown]
# ## Beyond one prompt
#
# One prompt is an anecdote. The same sweep on a few inputs of each domain (natural language, math,
# code), with three random draws of the control, reports the mean and its standard error; the
# finder locates the chain on these inputs (pooled: flagged in at least half of them).

# %%
corpora = load_corpora(lm.tokenizer, n=max(1, config.tutorial_n // 4), n_tokens=min(40, lm.info.n_positions), seed=0)
ids = torch.cat([c.ids for c in corpora.values()])
if PROMPT.prepend_bos:  # the same convention as the prompt: the tokenizer's BOS first, the last token dropped
    ids = structural.with_bos(ids, lm.tokenizer.bos_token_id)
wide = structural.measure(lm, ids, target=K, factors=(), ce=False)
wide_found = wide["found"].iloc[0]
effects = wide["effects"].set_index("setting")
print(f"{ids.shape[0]} inputs; the finder: coordinate {wide_found.coord} becomes massive after layer {wide_found.layer}"
      f" (super neurons {wide_found.neurons or 'none'}); baseline sink {wide_found.baseline_sink:.3f}")
effects[["n", "sink", "se", "pct_of_baseline", "note"]].round(3)

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
# the transplant of EPE_0 to position k (it needs position embeddings; on a rotary model it swaps
# the rotary position ids of positions 0 and k instead). The papers themselves conclude that sinks
# can arise through different mechanisms in different models; these numbers say which one this
# model uses.

# %%
strong = lessons.intervention_lesson(lm, make("amplify", position=K, factor=20.0), PROMPT).summary.set_index("run")
strong = strong.loc["after"].rename({"sink": "sink_at_k"})  # sink_at_k (at position K) and sink_first
try:
    moved = lessons.intervention_lesson(lm, make("transplant", other=K), PROMPT).summary.set_index("run")
except NotApplicable as why:
    moved = None
    print(f"The transplant does not apply to {lm.info.name}: {why}")
at_k = {"baseline": moves.loc["baseline", "sink_at_k"], "isolate": moves.loc["isolate", "sink_at_k"],
        "amplify x4": moves.loc["amplify", "sink_at_k"], "amplify x20": strong["sink_at_k"]}
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
# ## Checkpoint
#
# Answer from the chain above, then write your answer in `my_answer` and run the cell (the answer
# computed on this model is folded under the question).

# %%
my_answer = None  # a layer
course.Checkpoint(f"On {lm.info.name}, after which layer does position 0's massive coordinate appear on the prompt?",
                  found.layer if found.layer is not None else "none",
                  (f"coordinate {found.coord} reaches {found.magnitude:,.0f} after layer {found.layer} (its peak "
                   f"{found.peak:,.0f}); written by super neurons {', '.join(map(str, found.neurons)) or 'none'}"
                   if found.layer is not None else "no coordinate passes the massive rule on this prompt"),
                  tol=0.0).check(my_answer)

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
      f"The largest writer into position 0 in layer {layer} (neuron {neuron}) puts {top.iloc[0].sparsity:.0%} of its "
      f"down-projection on 3 coordinates. At position {K}: " + ", ".join(f"{k} {v:.3f}" for k, v in at_k.items())
      + f", against a sink of {moves.loc['baseline', 'sink_first']:.3f} at position 0.")
if "zero_neurons" in effects.index and effects.loc["zero_neurons", "n"]:
    ctrl = effects.loc[[s for s in effects.index if s.startswith("zero_random_neurons")], "pct_of_baseline"]
    print(f"Over {ids.shape[0]} inputs of three domains, zeroing the super neurons {wide_found.neurons} of layer "
          f"{wide_found.layer} leaves {effects.loc['zero_neurons', 'pct_of_baseline']:.0f} % ± "
          f"{100 * effects.loc['zero_neurons', 'se'] / wide_found.baseline_sink:.0f} % of the sink; as many random units "
          f"of that layer leave {ctrl.min():.1f}–{ctrl.max():.1f} % ({len(ctrl)} draws); zeroing the massive "
          f"coordinates after it leaves {effects.loc['zero_massive', 'pct_of_baseline']:.0f} %.")
else:
    print(f"Over {ids.shape[0]} inputs the finder found no super neurons to zero: "
          + (effects.loc["zero_neurons", "note"] if "zero_neurons" in effects.index else "no chain layer") + ".")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). Query 0 attends only to itself in any causal model, and the control
# never cuts what the super neurons cut; the claims are asserted only on the planted specimens, whose route and
# super neurons are known (lm.meta).
assert off < 1e-5, off
assert "zero_neurons" not in pct.index or all(pct[s] >= pct["zero_neurons"] for s in pct.index
                                               if s.startswith("zero_random_neurons"))
meta = lm.meta or {}
if meta.get("kind") == "planted":
    assert super_neuron.holds and [layer, neuron] in meta["super_neurons"]
    assert written <= set(meta["massive_coords"]) and top.iloc[0].sparsity > 0.99
    assert massive.holds and found.layer == 0 and said["origin.cut"].holds
    base_first = moves.loc["baseline", "sink_first"]
    if meta["route"] == "structural":  # built on the discrepancy: isolate and amplify move the sink
        assert variance.holds and isolate.holds and amplify.holds, [c.text for c in claims.origin(view)]
        assert moved is None
    else:  # the positional route: no sink at k, position 0 keeps its sink, the transplant moves it
        assert not isolate.holds and not amplify.holds
        for name, row in [("isolate", moves.loc["isolate"]), ("amplify x4", moves.loc["amplify"]),
                          ("amplify x20", strong)]:
            assert row.sink_at_k < 0.2 * base_first, name
            assert abs(row.sink_first - base_first) < 0.05 * base_first, name
        assert moved.loc["after", "sink"] > 0.5 * base_first
    if config.solutions:  # the top super neuron writes massive coordinates
        assert set(top_written_coords(view.row, len(written))) <= set(meta["massive_coords"])
