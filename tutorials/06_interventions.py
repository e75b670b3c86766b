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
# model's sink, and cutting something else should not. Does it?
#
# **You will learn** to run the circuit paper's ten interventions (a–j) and the transplant,
# each a change to the forward pass (the weights are never touched), to read their effect
# on the attention maps and the sink per layer, and to tell the circuit's wires from the
# controls. Mirrors the app's "Interventions" page.
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

# Settings are read once, here (sinklab.config): $SINKLAB_MODEL picks the model (unset: GPT-2 small if
# it can be loaded, else the offline "textbook"); $SINKLAB_SOLUTIONS=1 fills in the exercises' solutions.
config = Config.load()
lm, note = sinklab.load_configured(config)
print(cards.introduce(lm, note))
PROMPT = Prompt()  # the paper's Ozymandias sentence, 40 tokens
PUBLISHED = authors_table1()  # the authors' GPT-2 small numbers: shown only as labelled references


def run(label, **params):
    """The before/after lesson of one intervention, or None (with the reason printed) if it does not apply."""
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
# ## Cut one wire: remove the query bias
#
# Intervention (b) sets b_Q = 0 in every layer, so γ = b_Q W_kᵀ = 0 and Δ_j vanishes.
# `lessons.intervention_lesson` runs the prompt twice in one batch, before and after.

# %%
view = run("b")
runs = view.summary.set_index("run")
before, after = runs.loc["before", "sink"], runs.loc["after", "sink"]
print(f"{view.title}: sink at position {view.key} {before:.3f} -> {after:.3f} "
      f"({100 * after / before:.0f}% of baseline); cross-entropy change {view.ce_change:+.4f}")
print(claims.intervention(view, "b", PUBLISHED)[0].finding)

# %%
LAYER = min(5, lm.info.n_layer - 1)
charts.before_after_maps(view.before, view.after, LAYER)

# %%
charts.per_layer_change(view.per_layer)

# %% [markdown]
# ## A dial, not a switch
#
# b_Q can also be scaled by α between 0 (removed) and 1 (untouched).

# %%
alphas = [1.0, 0.75, 0.5, 0.25, 0.0]
dose = pd.Series({a: run("b", alpha=a).summary.set_index("run").loc["after", "sink"] for a in alphas}, name="sink")
dose.rename_axis("alpha").to_frame().T.round(3)

# %% [markdown]
# ## All ten interventions of the paper
#
# The wires of the circuit: (b) no query bias, (c) give position 0 the second position's
# embedding p_1 instead of p_0, (d) swap the EPE_0 component between positions 0 and 1,
# (g) skip every MLP (no EPE), (h) no position embeddings, (i) zero W_k at the massive
# coordinates. The controls, which should leave the sink alone: (e) swap the raw p_0, p_1
# directions instead of the EPE, (f) zero the first token's embedding but keep its
# position, (j) zero W_k at as many random coordinates. An intervention defined through the
# position embeddings does not apply to a model without them: its row stays blank, with the
# reason printed. For GPT-2 small the authors' published percentages are added as a labelled
# column.

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
# ## Only some layers
#
# Every intervention can be limited to a layer range [start, stop). Remove b_Q only in the
# first half of the middle layers and compare with the full removal above.

# %%
lo, hi = paper_layers(lm.info.n_layer)
RANGE = (lo, lo + max(1, (hi - lo) // 2))
part = run("b", layers=RANGE)
part_after = part.summary.set_index("run").loc["after", "sink"]
print(f"b_Q removed in layers {RANGE[0]}..{RANGE[1] - 1} only: sink {before:.3f} -> {part_after:.3f} "
      f"(all layers: {after:.3f})")
charts.per_layer_change(part.per_layer)

# %% [markdown]
# ## Move the sink: the transplant
#
# If EPE_0 is what makes position 0 a sink, giving it to another position should move the
# sink there (the draft paper's intervention 3). Here position 1 receives the EPE_0
# component and position 0 gets position 1's.

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
if moved is not None:
    found += claims.intervention(moved, "transplant", PUBLISHED)
for claim in found:
    print(claim.finding)
print()
ran = ten["pct_of_baseline"].dropna()
print(f"On {lm.info.name} the baseline sink on the prompt is {before:.3f}. Scaling b_Q by α = "
      + ", ".join(f"{a:g}" for a in dose.index) + " leaves a sink of "
      + ", ".join(f"{v:.3f}" for v in dose) + f"; removing it only in layers {RANGE[0]}–{RANGE[1] - 1} leaves "
      f"{part_after:.3f} (all layers: {after:.3f}).")
if interp is not None:
    print("Replacing a fraction t = " + ", ".join(f"{t:g}" for t in interp.index) + " of EPE_0 leaves "
          + ", ".join(f"{v:.3f}" for v in interp) + ".")
skipped = sorted(set(PAPER[1:]) - set(ten_views)) + (["transplant"] if moved is None else []) \
    + (["interpolate"] if interp is None else [])
if skipped:
    print(f"Not applicable to {lm.info.name}: {', '.join(skipped)}.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook). alpha = 1 and t = 0 are the baseline on any model; the claims are
# asserted only on the planted specimens, whose wires are known from their route (lm.meta["route"]).
assert abs(dose[1.0] - before) < 1e-5
assert interp is None or abs(interp[0.0] - before) < 1e-5
meta = lm.meta or {}
if meta.get("kind") == "planted":
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
