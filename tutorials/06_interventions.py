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
# # Interventions
#
# **The question.** The earlier notebooks tell a story: EPE_0's massive coordinates (position)
# × γ = b_Q W_kᵀ (query bias and key weights) make Δ_0 large, and Δ_0 pulls every query to
# position 0. If the story is right for a model, cutting any wire of it should weaken that
# model's sink, and cutting something else should not. Does it — and on a model that lacks some
# of those wires (no b_Q, no position embeddings), which cuts still mean something?
#
# **You will learn** to run the circuit paper's ten interventions (a–j) and the transplant,
# each a change to the forward pass (the weights are never touched), to read their effect
# on the attention maps and the sink per layer, to tell the circuit's wires from the
# controls, and to tell an intervention that does nothing *on this model* (a declared no-op,
# or one that does not apply) from one that was tried and failed. Mirrors the app's
# "Interventions" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".

# %%
import pandas as pd

import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.config import Config
from sinklab.interventions import PAPER, REGISTRY, NotApplicable, catalogue, make
from sinklab.teaching.lessons import Prompt
from sinklab.analyses.metrics import paper_layers
from sinklab.published.reference import is_gpt2_small, authors_table1

import feedback  # tutorials/feedback.py: one check per "Your turn" exercise
import course  # tutorials/course.py: offline charts, predict-then-reveal, the checkpoint

# Settings are read once, here (sinklab.config): $SINKLAB_MODEL picks the model (unset: GPT-2 small if
# it can be loaded, else the offline "textbook"); $SINKLAB_SOLUTIONS=1 fills in the exercises' solutions.
config = Config.load()
lm, note = sinklab.load_configured(config)
print(cards.introduce(lm, note))
course.offline_charts()  # the charts' JavaScript, inlined once: they render without a network
PROMPT = Prompt(prepend_bos=cards.prepends_bos(lm.tokenizer))  # Ozymandias, 40 tokens, BOS as its tokenizer
PUBLISHED = authors_table1()  # the authors' GPT-2 small numbers: shown only as labelled references
NOOPS = course.declared_noops(lm)  # {label: why}: runs on this model but is declared to change nothing


def run(label, **params):
    """The before/after lesson of one intervention, or None (with the reason printed) if it does not apply to this
    model or is a declared no-op on it."""
    if label in NOOPS:
        print(f"({label}) {REGISTRY[label].title} is a declared no-op on {lm.info.name}: {NOOPS[label]}")
        return None
    try:
        return lessons.intervention_lesson(lm, make(label, **params), PROMPT)
    except NotApplicable as why:
        print(f"({label}) {REGISTRY[label].title} does not apply to {lm.info.name}: {why}")
        return None

# %% [markdown]
# The catalogue: labels a–j are the circuit paper's, the rest come from its draft version
# and from the structural-origin paper (see the Structural origin notebook).

# %%
catalogue()[["label", "title", "parameters"]]

# %% [markdown]
# What the paper's interventions mean on this model's family, where that differs from the general
# description above (`sinklab.interventions.meanings`): on a rotary model, for instance, there is no
# position embedding to swap, so (d), (e) and the transplant swap the rotary position ids instead.

# %%
here = course.meanings_here(lm, list(PAPER[1:]) + ["transplant", "interpolate"])
differs = here[[m != REGISTRY[k].description for k, m in here["meaning"].items()]]
differs if len(differs) else f"On {lm.info.name} every one of them means what its description says."

# %% [markdown]
# ## Cut one wire
#
# On a model with a query bias the first wire to cut is b_Q: intervention (b) sets b_Q = 0 in
# every layer, so γ = b_Q W_kᵀ = 0 and Δ_j vanishes. On a model without one (b) is a declared
# no-op — there is nothing to remove — and we cut instead the first link of the chain sinklab's
# finder locates on the prompt: the super neurons of the layer where a coordinate of position 0
# becomes massive (`zero_neurons`). `lessons.intervention_lesson` runs the prompt twice in one
# batch, before and after.

# %%
instead = lessons.positional_absent(lm, PROMPT, needs=("bq",))  # None: the model has a query bias b_Q
if instead is None:
    FIRST, FIRST_PARAMS = "b", {}
elif instead.found["layer"] is not None:
    FIRST, FIRST_PARAMS = "zero_neurons", {"layer": instead.found["layer"]}
    print(f"{lm.info.name} has no query bias b_Q. " + claims.instead(instead)[-1].finding)
else:
    FIRST, FIRST_PARAMS = "g", {}
    print(f"{lm.info.name} has no query bias b_Q and no massive coordinate on this prompt: we skip every MLP (g).")
print(f"first cut: ({FIRST}) {REGISTRY[FIRST].title}"
      + (f" in layer {FIRST_PARAMS['layer']}" if "layer" in FIRST_PARAMS else "") + f": {REGISTRY[FIRST].description}")

# %% [markdown]
# **Predict.** Before running the next cell: will this one cut leave less than half of the sink
# at position 0? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
view = run(FIRST, **FIRST_PARAMS)
runs = view.summary.set_index("run")
before, after = runs.loc["before", "sink"], runs.loc["after", "sink"]
print(f"{view.title}: sink at position {view.key} {before:.3f} -> {after:.3f} "
      f"({100 * after / before:.0f}% of baseline); cross-entropy change {view.ce_change:+.4f}")
course.reveal(guess, bool(after < 0.5 * before),
              f"On {lm.info.name}, ({FIRST}) leaves {100 * after / before:.0f} % of the sink ({before:.3f} → {after:.3f}).")
print(claims.intervention(view, FIRST, PUBLISHED)[0].finding)

# %%
LAYER = min(5, lm.info.n_layer - 1)
charts.before_after_maps(view.before, view.after, LAYER)

# %%
charts.per_layer_change(view.per_layer)

# %% [markdown]
# ## A dial, not a switch
#
# A wire can also be turned down instead of cut: b_Q scaled by α between 0 (removed) and 1
# (untouched). Without a b_Q the dial is the rows of W_k that read the massive coordinates
# (`scale_wk`), here those the finder located on the prompt.

# %%
if FIRST == "b":
    DIAL, DIAL_PARAMS = "b", {}
else:
    DIAL, DIAL_PARAMS = "scale_wk", {"coords": tuple(lessons.circuit_plan(lm, PROMPT).coords)}
print(f"dial: ({DIAL}) {REGISTRY[DIAL].title}" + (f" at coordinates {list(DIAL_PARAMS['coords'])}" if DIAL_PARAMS else ""))
alphas = [1.0, 0.75, 0.5, 0.25, 0.0]
dose = pd.Series({a: run(DIAL, alpha=a, **DIAL_PARAMS).summary.set_index("run").loc["after", "sink"] for a in alphas},
                 name="sink")
dose.rename_axis("alpha").to_frame().T.round(3)

# %% [markdown]
# ## All ten interventions of the paper
#
# The wires of the circuit: (b) no query bias, (c) give position 0 the second position's
# embedding p_1 instead of p_0, (d) swap the EPE_0 component between positions 0 and 1,
# (g) skip every MLP (no EPE), (h) no position embeddings, (i) zero W_k at the massive
# coordinates. The controls, which should leave the sink alone: (e) swap the raw p_0, p_1
# directions instead of the EPE, (f) zero the first token's embedding but keep its
# position, (j) zero W_k at as many random coordinates. An intervention that does not apply
# to this model, or is a declared no-op on it, keeps a blank row, with the reason printed. For
# GPT-2 small the authors' published percentages are added as a labelled column.

# %%
rows, ten_views = [], {}
for label in PAPER[1:]:
    v = run(label)
    if v is None:
        rows.append({"label": label, "title": REGISTRY[label].title})
        continue
    ten_views[label] = v
    s = v.summary.set_index("run")
    rows.append({"label": label, "title": v.title, "before": s.loc["before", "sink"],
                 "after": s.loc["after", "sink"], "ce_change": v.ce_change})
ten = pd.DataFrame(rows).set_index("label")
ten["pct_of_baseline"] = 100 * ten["after"] / ten["before"]
if is_gpt2_small(lm.info):  # the authors' numbers beside ours, labelled as published
    pub = PUBLISHED.query("domain == 'all'").set_index("intervention")["sink"]
    ten["published_pct (GPT-2 small, 300 inputs)"] = 100 * pub.reindex(ten.index) / pub["baseline"]
ten.round(3)

# %% [markdown]
# Each intervention's claim: a wire should weaken the sink, a control should leave it.

# %%
for label, v in ten_views.items():
    print(claims.intervention(v, label, PUBLISHED)[0].text)

# %% [markdown]
# Without EPE, (i) and (j) have no coordinates to pick; given the massive coordinates the finder
# locates on the prompt, they test the same wire of the structural chain — do the keys read the
# massive coordinate? — beside their random control.

# %%
keyed = {}
if "i" not in ten_views and instead is not None and instead.found["layer"] is not None:
    coords = tuple(lessons.circuit_plan(lm, PROMPT).coords)
    for label in ("i", "j"):
        v = lessons.intervention_lesson(lm, make(label, coords=coords), PROMPT)
        keyed[label] = v
        s = v.summary.set_index("run")
        print(f"({label}) {v.title} at coordinates {list(coords)}: sink {s.loc['before', 'sink']:.3f} -> "
              f"{s.loc['after', 'sink']:.3f} ({100 * s.loc['after', 'sink'] / s.loc['before', 'sink']:.0f} % left)")
        print("   ", claims.intervention(v, label, PUBLISHED)[0].finding)
else:
    print("(i) and (j) ran above with their own coordinates." if "i" in ten_views else
          "No massive coordinate to give (i) and (j) on this prompt.")

# %% [markdown]
# ## Only some layers
#
# Every intervention can be limited to a layer range [start, stop). Apply the first cut (or, when
# that one acts in a single layer, skipping the MLPs, (g)) only in the first half of the middle
# layers and compare with all layers.

# %%
lo, hi = paper_layers(lm.info.n_layer)
RANGE = (lo, lo + max(1, (hi - lo) // 2))
RANGED = FIRST if REGISTRY[FIRST].per_layer else "g"  # zero_neurons acts in one layer: skip the MLPs instead
full_after = after if RANGED == FIRST else run(RANGED).summary.set_index("run").loc["after", "sink"]
part = run(RANGED, layers=RANGE)
part_after = part.summary.set_index("run").loc["after", "sink"]
print(f"({RANGED}) {REGISTRY[RANGED].title} in layers {RANGE[0]}..{RANGE[1] - 1} only: sink {before:.3f} -> "
      f"{part_after:.3f} (all layers: {full_after:.3f})")
charts.per_layer_change(part.per_layer)

# %% [markdown]
# ## Move the sink: the transplant
#
# If EPE_0 is what makes position 0 a sink, giving it to another position should move the
# sink there (the draft paper's intervention 3). Here position 1 receives the EPE_0
# component and position 0 gets position 1's (on a rotary model: the two positions swap their
# rotary position ids — see the table of meanings above).

# %%
moved = run("transplant", other=1)
if moved is not None:
    m = moved.summary.set_index("run")
    print(f"sink at position {moved.key}: {m.loc['before', 'sink']:.3f} -> {m.loc['after', 'sink']:.3f}; "
          f"at position 0: {m.loc['before', 'sink_first']:.3f} -> {m.loc['after', 'sink_first']:.3f}")
    print(claims.intervention(moved, "transplant", PUBLISHED)[0].finding)
    display(charts.before_after_maps(moved.before, moved.after, LAYER))

# %% [markdown]
# ## How much EPE_0 does it take?
#
# Replace a fraction t of position 0's EPE_0 component by the EPE_1 direction.

# %%
ts = [0.0, 0.25, 0.5, 0.75, 1.0]
interp = None
if run("interpolate", t=0.0) is not None:
    interp = pd.Series({t: run("interpolate", t=t).summary.set_index("run").loc["after", "sink"] for t in ts},
                       name="sink")
    display(interp.rename_axis("t").to_frame().T.round(3))

# %% [markdown]
# ## And the model's predictions?
#
# Each run also reports the change in next-token cross-entropy on the prompt.

# %%
print(f"On {lm.info.name}, {cards.card(lm).ce_note}.")
print(ten["ce_change"].dropna().round(4).to_dict())

# %% [markdown]
# ## Checkpoint
#
# Answer from the table of the ten interventions, then write your answer in `my_answer` and run
# the cell (the answer computed on this model is folded under the question).

# %%
my_answer = None  # a label, or "none"
ran_controls = [l for l in ten_views if REGISTRY[l].control]
misbehaved = {l for l in ran_controls if not 90 <= ten.loc[l, "pct_of_baseline"] <= 110}
course.Checkpoint(f"On {lm.info.name}, which of the controls that ran ({', '.join(ran_controls) or 'none'}) did NOT "
                  "behave like a control (left the sink outside 90–110 % of baseline)?", misbehaved or "none",
                  "; ".join(f"{l} left {ten.loc[l, 'pct_of_baseline']:.0f} %" for l in ran_controls)
                  or "no control ran on this model").check(my_answer)

# %% [markdown]
# ## Your turn
#
# Complete `is_circuit_wire(lm, label, prompt)`: run intervention `label` with
# `lessons.intervention_lesson(lm, make(label), prompt)` and return True when the sink at
# position 0 after the intervention (`summary` column `sink_first`, row `run == "after"`) is
# below half of the sink before it.

# %%
def is_circuit_wire(lm, label, prompt):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import is_circuit_wire  # noqa: F811

# %%
feedback.check_is_circuit_wire(is_circuit_wire, lm, PROMPT, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, one per intervention that applies to this model, then the other measurements.

# %%
found = [claims.intervention(v, label, PUBLISHED)[0] for label, v in ten_views.items()]
found += [claims.intervention(v, label, PUBLISHED)[0] for label, v in keyed.items()]
if moved is not None:
    found += claims.intervention(moved, "transplant", PUBLISHED)
for claim in found:
    print(claim.finding)
for label in [l for l in differs.index if l in set(ten_views) | set(keyed) | ({"transplant"} if moved else set())]:
    print(f"   (on {lm.info.name}, ({label}) {REGISTRY[label].title} means: {differs.loc[label, 'meaning']})")
print()
print(f"On {lm.info.name} the baseline sink on the prompt is {before:.3f}; ({FIRST}) {REGISTRY[FIRST].title} leaves "
      f"{after:.3f}. Scaling {'b_Q' if DIAL == 'b' else 'the W_k rows at coordinates ' + str(list(DIAL_PARAMS['coords']))}"
      " by α = " + ", ".join(f"{a:g}" for a in dose.index) + " leaves a sink of "
      + ", ".join(f"{v:.3f}" for v in dose) + f"; ({RANGED}) only in layers {RANGE[0]}–{RANGE[1] - 1} leaves "
      f"{part_after:.3f} (all layers: {full_after:.3f}).")
if interp is not None:
    print("Replacing a fraction t = " + ", ".join(f"{t:g}" for t in interp.index) + " of EPE_0 leaves "
          + ", ".join(f"{v:.3f}" for v in interp) + ".")
skipped = sorted(set(PAPER[1:]) - set(ten_views)) + (["transplant"] if moved is None else []) \
    + (["interpolate"] if interp is None else [])
noop = [l for l in skipped if l in NOOPS]
if noop:
    print(f"Declared no-ops on {lm.info.name} (they run but can change nothing): {', '.join(noop)}.")
if set(skipped) - set(noop):
    print(f"Not applicable to {lm.info.name}: {', '.join(l for l in skipped if l not in NOOPS)}"
          + (" (run above with the finder's coordinates: " + ", ".join(keyed) + ")" if keyed else "") + ".")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). alpha = 1 and t = 0 are the baseline on any model, and a declared
# no-op is never reported as a result; the claims are asserted only on the planted specimens, whose wires are
# known from their route (lm.meta["route"]).
assert abs(dose[1.0] - before) < 1e-5
assert interp is None or abs(interp[0.0] - before) < 1e-5
assert not set(NOOPS) & set(ten_views)
meta = lm.meta or {}
if meta.get("kind") == "planted":
    assert FIRST == "b" and RANGED == "b"  # both planted specimens have a query bias
    # ground truth by construction: the wires of the planted route, and what leaves the sink alone
    WIRES, LEAVE = {"positional": (list("bcdghi"), list("efj")), "structural": (list("bg"), list("cefh"))}[meta["route"]]
    for label, v in ten_views.items():
        claim = claims.intervention(v, label, PUBLISHED)[0]
        assert claim.holds == (label in WIRES or REGISTRY[label].control), claim.text
    assert (ten.loc[WIRES, "pct_of_baseline"] < 50).all() and (ten.loc[LEAVE, "pct_of_baseline"].sub(100).abs() < 10).all()
    assert dose.is_monotonic_decreasing
    pl = part.per_layer.pivot_table(index="layer", columns="run", values="value")
    inside, outside = list(range(*RANGE)), list(range(RANGE[1], hi))
    assert after < part_after < before  # each wired layer has its own b_Q: cut where removed, intact elsewhere
    assert (pl.loc[inside, "after"] < 0.5 * pl.loc[inside, "before"]).all()
    assert (pl.loc[outside, "after"] > 0.5 * pl.loc[outside, "before"]).all()
    if meta["route"] == "positional":
        assert ten["ce_change"].abs().max() < 0.1  # textbook's planted weights: its predictions barely move
        assert claims.intervention(moved, "transplant", PUBLISHED)[0].holds
        assert m.loc["after", "sink"] > 0.5 * m.loc["before", "sink_first"] > m.loc["after", "sink_first"]
        assert interp.is_monotonic_decreasing and interp[1.0] < 0.5 * before
    else:
        assert moved is None and interp is None and set(ten_views) == set(WIRES + LEAVE)
    if config.solutions:  # the reference solution finds exactly the wires
        assert [label for label in ten_views if is_circuit_wire(lm, label, PROMPT)] == WIRES
