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
# # The circuit in one picture
#
# **The question.** The first token gets most of the attention. Which chain of parts inside the
# model carries "being first" all the way to "being looked at"? And if we cut one link of that
# chain, does the sink go away?
#
# **You will learn** to read a sink *route* as a chain of boxes and wires, each wire labelled with
# the quantity it carries, measured on the model and prompt in use; to cut a wire (each cut is one
# intervention of the catalogue, run in the same forward pass) and see what is left of the sink;
# and that two models can reach the same sink through different routes. Mirrors the app's
# "The circuit in one picture" page; the next pages open each box in turn.
#
# Two routes are known:
#
# * **positional** (the circuit paper): the first position embedding p_0 → the first MLP → a few
#   massive coordinates of EPE_0 → the keys at position 0, read by the query bias b_Q
#   (γ = b_Q W_kᵀ) → a score lead Δ_0 of key 0 over the others → the sink;
# * **structural** (the structural-origin paper): position 0 attends only to itself, so its
#   attention output is one value vector, not an average → a larger norm at position 0 → a
#   *super neuron* of the MLP → massive coordinates → keys → score lead → the sink.
#
# Positions are counted from 0, as in the app: position 0 is the papers' "position 1".

# %%
import pandas as pd

import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.analyses import circuit
from sinklab.teaching.compare import CUT
from sinklab.config import Config
from sinklab.interventions import REGISTRY
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

# %% [markdown]
# ## The route, measured
#
# `lessons.circuit_lesson` measures every wire of a route on one prompt. Without `route=` it draws
# the route planted in a specimen, otherwise the positional one when the model has position
# embeddings, and otherwise the structural one, laid out by sinklab's finder on this prompt (the
# layer where a coordinate of position 0 becomes massive, that layer's super neurons, the massive
# coordinates). Each wire's label is a number computed on this model: how much larger |p_0| is than
# the other position embeddings, how much larger the massive coordinates are at position 0 than
# elsewhere, how strongly γ or the keys pick them out, how far key 0's score leads the others.

# %%
routes = circuit.routes_for(lm)
plan = lessons.circuit_plan(lm, PROMPT)
view = lessons.circuit_lesson(lm, PROMPT)
print(f"routes that exist on {lm.info.name}: {', '.join(routes)}; drawn: {view.route}; "
      f"massive coordinates used: {list(view.coords)}")
if "positional" not in routes:  # why the circuit paper's route cannot be drawn here, computed from the model
    print("the positional route is absent: " + "; ".join(lessons.positional_absent(lm, PROMPT).absent))
for wire, why in plan.notes.items():
    print(f"wire {wire!r} on this model: {why}")
charts.circuit_diagram(view.nodes, view.edges)

# %% [markdown]
# The same labels as a table. `intervention` is the catalogue label that cuts the wire; a wire
# without one cannot be cut: the softmax turning the score lead into attention (the sink itself),
# on the structural route aggregation (built into causal attention), and on a model without a query
# bias the keys-to-score wire (`note` says why).

# %%
view.edges[["source", "target", "label", "intervention", "note"]]

# %% [markdown]
# ## Cut each wire in turn
#
# Cutting a wire runs its intervention (the weights are never written to) and measures the sink
# again: the mean attention that the second-half queries give to position 0 in the middle layers.
# If the sink runs through a wire, cutting it should leave little of the sink.
#
# **Predict.** Before running the next cells: which wire's cut will leave the *least* of the sink —
# the one furthest upstream (leftmost in the picture) or the one nearest the sink (rightmost)? Write
# `"upstream"` or `"downstream"`.

# %%
guess = None  # your prediction: "upstream" or "downstream"
print("cuttable wires, left to right:", [f"{s} → {t} ({iv})" for _, s, t, iv, _ in plan.wires if iv])

# %%
def cut_each(lm, route):
    """One row per cuttable wire of `route` on this model (lessons.circuit_plan): its intervention, and the sink
    before and after the cut."""
    rows = []
    for wire, source, target, label, kwargs in lessons.circuit_plan(lm, PROMPT, route).wires:
        if label is None:
            continue
        cut = lessons.circuit_lesson(lm, PROMPT, route=route, cuts=(wire,))
        where = (f" in layers {kwargs['layers'][0]}–{kwargs['layers'][1] - 1}" if "layers" in kwargs else
                 f" in layer {kwargs['layer']}" if "layer" in kwargs else "")
        if "neurons" in kwargs:
            where += f" (neurons {', '.join(map(str, kwargs['neurons']))})"
        rows.append({"wire": wire, "from → to": f"{source} → {target}", "cut by": label,
                     "intervention": f"{REGISTRY[label].title}{where}",
                     "sink before": cut.sink_before, "sink after": cut.sink_after,
                     "% left": 100 * cut.sink_after / cut.sink_before})
    return pd.DataFrame(rows).set_index("wire")


table = cut_each(lm, view.route)
table.round(2)

# %%
first_cut, last_cut = table.index[0], table.index[-1]
course.reveal(guess, "upstream" if table.loc[first_cut, "% left"] < table.loc[last_cut, "% left"] else "downstream",
              f"On {lm.info.name}, cutting the upstream wire {table.loc[first_cut, 'from → to']} "
              f"({table.loc[first_cut, 'cut by']}) leaves {table.loc[first_cut, '% left']:.0f} % of the sink; the "
              f"downstream wire {table.loc[last_cut, 'from → to']} ({table.loc[last_cut, 'cut by']}) "
              f"{table.loc[last_cut, '% left']:.0f} %. The least is left by {table['% left'].idxmin()!r} "
              f"({table['% left'].min():.0f} %).")

# %% [markdown]
# The picture again, with the cut that left the least of the sink drawn dashed:

# %%
worst = table["% left"].idxmin()
cut_view = lessons.circuit_lesson(lm, PROMPT, route=view.route, cuts=(worst,))
charts.circuit_diagram(cut_view.nodes, cut_view.edges,
                       title=f"{lm.info.name}, {view.route} route, wire {table.loc[worst, 'from → to']} cut")

# %% [markdown]
# ## The other route, on the other specimen
#
# sinklab ships two *planted* specimens whose answer is known because the sink was written into
# their weights by hand: `textbook` (the positional route) and `textbook-structural` (the
# structural route, with no position embeddings at all). Here is the route we did not draw above,
# on the specimen where it is planted, cut wire by wire in the same way.

# %%
OTHER_ROUTE = next(r for r in circuit.WIRING if r != view.route)
OTHER = {"positional": claims.POSITIONAL, "structural": claims.STRUCTURAL}[OTHER_ROUTE]
other_lm = lm if lm.info.name == OTHER else sinklab.load_model(OTHER)
other_view = lessons.circuit_lesson(other_lm, PROMPT, route=OTHER_ROUTE)
print(f"{OTHER}: {cards.card(other_lm).sink_route}")
charts.circuit_diagram(other_view.nodes, other_view.edges,
                       title=f"{OTHER}: the {OTHER_ROUTE} route, each wire measured")

# %%
other_table = cut_each(other_lm, OTHER_ROUTE)
other_table.round(2)

# %% [markdown]
# ## Checkpoint
#
# Answer from the tables above, then write your answer in `my_answer` and run the cell (the answer
# computed on this model is folded under the question).

# %%
my_answer = None  # a number of wires
carrying = table[table["% left"] < CUT]
course.Checkpoint(f"On {lm.info.name}, drawn with the {view.route} route, how many of the {len(table)} cuttable wires "
                  f"carry the sink (leave less than {CUT:.0f} % of it when cut)?", len(carrying),
                  ("; ".join(f"{r['from → to']}: {r['% left']:.0f} % left" for _, r in table.iterrows())),
                  tol=0.0).check(my_answer)

# %% [markdown]
# ## Your turn
#
# The label "score lead of key 0" (on the wire out of "keys at position 0": b_Q's wire where the
# model has a query bias) is where the route turns into attention: a softmax row gives most of its
# weight to the key whose score leads. It is defined on every model. Compute it yourself. Complete
# `score_lead(trace, layers)`: `trace["attn_scores", l][0]` is layer `l`'s pre-softmax scores for
# our one example, shape [head, query, key] (keys after the query are masked with a huge negative
# number). For every layer in `range(*layers)` and every query `q` of the second half
# (`q >= T // 2`, T the number of tokens), take the score of key 0 minus the mean score of the
# other keys that query may see (1 … q), averaged over the heads; return the mean of all of these
# as a float. The check compares with the label's own computation, for several layer ranges.
# (On a rotary model such as SmolLM2 these are the scores after the rotation: what the softmax sees.)

# %%
trace = sinklab.run(lm.model, lessons.encode(lm, PROMPT).ids[None])


def score_lead(trace, layers):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import score_lead  # noqa: F811

# %%
feedback.check_score_lead(score_lead, lm, PROMPT, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# First the Start page's claim (is there a sink to cut at all?), then, computed from the two
# tables above, which wires carry the sink: a wire "carries" it when cutting it leaves less than
# `CUT` % of it (`sinklab.teaching.compare.CUT`, the threshold the app and Compare specimens use).

# %%
def summary(name, route, table, before):
    carries = table[table["% left"] < CUT]
    spare = table[table["% left"] >= CUT]
    out = f"On {name}, drawn with the {route} route, the sink on the prompt is {before:.2f}. "
    if len(carries):
        out += ("Cutting " + "; ".join(f"{r['from → to']} ({r['cut by']}: {r['% left']:.0f} % left)"
                                       for _, r in carries.iterrows())
                + (" each" if len(carries) > 1 else "") + f" left less than {CUT:.0f} % of it. ")
    if len(spare):
        out += ("Cutting " + "; ".join(f"{r['from → to']} ({r['intervention']}: {r['% left']:.0f} % left)"
                                       for _, r in spare.iterrows())
                + f" left at least {CUT:.0f} %: cut this way (the intervention and layers named), the sink does not "
                + ("depend on that wire." if len(spare) == 1 else "depend on any one of those wires."))
    return out.strip()


print(claims.start(lessons.start(lm, PROMPT))[0].finding)  # is there a sink to cut at all?
for claim in claims.circuit(cut_view):  # the page's claim about the cut drawn above
    print(claim.finding)
print(summary(lm.info.name, view.route, table, view.sink_before))
for wire, why in plan.notes.items():
    print(f"(The {view.edges.set_index('wire').loc[wire, 'source']} → {view.edges.set_index('wire').loc[wire, 'target']} "
          f"wire on {lm.info.name}: {why}.)")
print()
print(summary(OTHER, OTHER_ROUTE, other_table, other_view.sink_before))
print()
mine = set(table.loc[table["% left"] < CUT, "cut by"])
theirs = set(other_table.loc[other_table["% left"] < CUT, "cut by"])
print(f"Interventions that cut the sink on both: {sorted(mine & theirs) or 'none'}; only on {lm.info.name}: "
      f"{sorted(mine - theirs) or 'none'}; only on {OTHER}: {sorted(theirs - mine) or 'none'}.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). The planted specimens' answer is known (lm.meta): on the route
# planted in them, every cuttable wire carries the sink, except that head-wise RMSNorm only matters where the
# sink is made by the variance discrepancy (the structural route). On any model the table has one row per
# cuttable wire of the plan, and a model without position embeddings is drawn with the structural route.
assert 0 <= view.sink_before <= 1 and len(table) == sum(iv is not None for *_, iv, _ in plan.wires)
assert "positional" in routes or view.route == "structural"
for model, v, t in [(lm, view, table), (other_lm, other_view, other_table)]:
    meta = model.meta or {}
    if meta.get("kind") == "planted" and v.route == meta["route"]:
        assert set(v.coords) == set(meta["massive_coords"])
        assert v.sink_before > 0.5, (model.info.name, v.sink_before)
        assert (t["% left"] < CUT).all(), (model.info.name, t["% left"].to_dict())
if (lm.meta or {}).get("route") == "positional":  # textbook drawn with the structural route: RMSNorm does nothing
    assert lessons.circuit_lesson(lm, PROMPT, route="structural", cuts=("variance",)).sink_after > 0.9 * view.sink_before
