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
# # Across domains
#
# **The question.** One prompt is an anecdote. Does what the interventions showed hold on many
# inputs, and on very different kinds of text: natural language, math word problems, code?
#
# **You will learn** to reproduce the circuit paper's Table 1 (every intervention, mean ±
# standard error over inputs, per domain), to compare it with the authors' published
# numbers when the model is GPT-2 small, and to read which effects are robust. Mirrors
# the app's "Across domains" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".

# %%
import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.config import Config
from sinklab.interventions import PAPER

import feedback  # tutorials/feedback.py: one check per "Your turn" exercise
import course  # tutorials/course.py: offline charts, predict-then-reveal, the checkpoint

# Settings are read once, here (sinklab.config): $SINKLAB_MODEL picks the model (unset: GPT-2 small if
# it can be loaded, else the offline "textbook"); $SINKLAB_SOLUTIONS=1 fills in the exercises' solutions.
config = Config.load()
lm, note = sinklab.load_configured(config)
print(cards.introduce(lm, note))
course.offline_charts()  # the charts' JavaScript, inlined once: they render without a network
NOOPS = course.declared_noops(lm)  # {label: why}: runs on this model but is declared to change nothing
N = config.tutorial_n  # inputs per domain ($SINKLAB_TUTORIAL_N, default 8); the paper uses 100
print(f"{N} inputs per domain")

# %% [markdown]
# `lessons.domains_lesson` samples N inputs per domain (40 tokens each, seeded), runs every
# intervention on every input in a few batched passes, and summarises. The transplant and
# the structural pair (isolate, amplify) are measured at their target, position 1; the
# others at position 0. An intervention that does not apply to the model gets a row with the
# reason in `note` and no numbers; one that is a declared no-op on this model's family (e.g. (b)
# without a query bias) runs and shows its 100 % — by construction, not a finding — and is set
# apart in what follows.

# %%
view = lessons.domains_lesson(lm, n=N, progress=None)
for domain, source in view.sources.items():
    print(f"{domain}: {source}")
view.table[["domain", "intervention", "title", "key", "n", "sink", "se", "pct_of_baseline"]].round(4).head(13)

# %%
charts.domain_bars(view.table, view.published)

# %% [markdown]
# One row per intervention, one column per domain, as a percentage of each domain's
# baseline (for GPT-2 small, the authors' published percentages follow, labelled).

# %%
pct = view.table.pivot_table(index="intervention", columns="domain", values="pct_of_baseline", sort=False)
if view.published is not None:
    pub = view.published.pivot_table(index="intervention", columns="domain", values="sink", sort=False)
    pub_pct = (100 * pub / pub.loc["baseline"]).add_suffix(" (published)")
    pct = pct.join(pub_pct)
for label, why in NOOPS.items():
    print(f"({label}) is a declared no-op on {lm.info.name}: {why}. Its row is 100 % by construction.")
pct.round(1)

# %% [markdown]
# ## Is the sink there in every domain?

# %%
base = view.table[view.table.intervention == "baseline"].set_index("domain")
print("baseline sink: " + ", ".join(f"{d} {r.sink:.3f} ± {r.se:.3f}" for d, r in base.iterrows()))
enough, ranking, *i_vs_j = claims.domains(view, N)
print(enough.finding)

# %% [markdown]
# ## Wires and controls, domain by domain
#
# The circuit paper's wires (b, c, d, g, h, i) and controls (e, f, j), as % of each domain's
# baseline. If the effects are robust, the interventions should rank the same way in every
# domain, and zeroing W_k at the massive coordinates (i) should beat its random control (j) by
# more than the error bars.
#
# **Predict.** Before running the next cell: will the interventions rank the same way in every
# domain (rank correlation at least 0.8 between any two domains)? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
WIRES, CONTROLS = list("bcdghi"), list("efj")
by_domain = view.table.pivot_table(index="intervention", columns="domain", values="pct_of_baseline")
print(by_domain.reindex(WIRES + CONTROLS).round(1))
course.reveal(guess, ranking.holds, f"On {lm.info.name}, {ranking.evidence}.")
print(ranking.finding)
for claim in i_vs_j:
    print(claim.finding)

# %% [markdown]
# ## Moving the sink, on every input
#
# The transplant gives position 1 the EPE_0 component (the circuit paper's route); the
# structural-origin paper's two interventions at position 1 make it attend only to itself
# (isolate) or amplify its variance (amplify). Does the sink follow, and which of them moves it?

# %%
movers = view.table[view.table.intervention.isin(["transplant", "isolate", "amplify"])]
at_target = movers.pivot_table(index="intervention", columns="domain", values="sink")
print(at_target.round(3))
share = (at_target["all"] / base.loc["all", "sink"]).dropna()
print("attention at position 1, as a share of the baseline sink at position 0 (all domains): "
      + ", ".join(f"{k} {v:.0%}" for k, v in share.items()))

# %% [markdown]
# ## Checkpoint
#
# Answer from the tables above, then write your answer in `my_answer` and run the cell (the answer
# computed on this model is folded under the question).

# %%
my_answer = None  # a label among b–j
pooled = view.table[(view.table.domain == "all") & view.table.intervention.isin(PAPER[1:])
                    & (view.table["note"].fillna("") == "") & ~view.table.intervention.isin(list(NOOPS))]
least = pooled.set_index("intervention")["pct_of_baseline"]
course.Checkpoint(f"Pooled over the domains, which of the paper's interventions b–j that ran on {lm.info.name} "
                  "(declared no-ops aside) leaves the least of the sink?",
                  set(least[least <= least.min() + 1.0].index),  # within one point of the least: all count as right
                  ", ".join(f"{l} {p:.1f} %" for l, p in least.sort_values().items())).check(my_answer)

# %% [markdown]
# ## Your turn
#
# Complete `circuit_wires(table, threshold)`: among the paper's interventions b–j, return
# the sorted labels whose `pct_of_baseline` is below `threshold` in **every** domain of
# the table (including "all").

# %%
def circuit_wires(table, threshold=50.0):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import circuit_wires  # noqa: F811

# %%
feedback.check_circuit_wires(circuit_wires, view, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# The page's claims, checked on this model, then the table they rest on.

# %%
for claim in claims.domains(view, N):
    print(claim.finding)
print()
overall = view.table[(view.table.domain == "all") & (view.table["note"].fillna("") == "")].set_index("intervention")
measured = [l for l in WIRES + CONTROLS if l in overall.index and l not in NOOPS]  # declared no-ops are no finding
cut = [l for l in measured if overall.loc[l, "pct_of_baseline"] < 50]
kept = [l for l in measured if overall.loc[l, "pct_of_baseline"] >= 50]
print(f"On {lm.info.name}, over {int(overall.loc['baseline', 'n'])} inputs ({N} per domain), the baseline sink is "
      f"{overall.loc['baseline', 'sink']:.3f} ± {overall.loc['baseline', 'se']:.3f}. Pooled over the domains, "
      + (", ".join(f"{l} leaves {overall.loc[l, 'pct_of_baseline']:.0f} %" for l in cut) + " of it"
         if cut else "no intervention of the paper leaves less than half of it")
      + ("; " + ", ".join(f"{l} {overall.loc[l, 'pct_of_baseline']:.0f} %" for l in kept) + " leave at least half"
         if kept else "") + ".")
if len(share):
    print("At position 1: " + ", ".join(f"{k} draws {at_target.loc[k, 'all']:.3f} of the attention" for k in share.index)
          + f" (the baseline sink at position 0 is {base.loc['all', 'sink']:.3f}).")
notes = view.table[view.table["note"].fillna("") != ""].drop_duplicates("intervention").set_index("intervention")["note"]
if len(notes):
    print(f"Not applicable to {lm.info.name}: {', '.join(notes.index)}.")
    for label, why in notes.items():
        print(f"   ({label}) {why}")
if NOOPS:
    print(f"Declared no-ops on {lm.info.name} (100 % by construction): {', '.join(NOOPS)}.")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook): asserted only on the planted specimens, whose wires are known from
# their route (lm.meta["route"]): what cuts the sink, what leaves it (on the NoPE specimen, zeroing the first
# token's embedding (f) may even raise it: there, position 0's value vector is that embedding), and what moves it.
meta = lm.meta or {}
if meta.get("kind") == "planted":
    assert all(c.holds for c in claims.domains(view, N)), [c.text for c in claims.domains(view, N)]
    cuts, leaves, moves = {"positional": (list("bcdghi"), list("efj"), ["transplant"]),
                           "structural": (list("bgi") + ["rmsnorm"], list("cefhj"), ["isolate", "amplify"])}[meta["route"]]
    assert (by_domain.loc[cuts] < 50).all().all() and (by_domain.loc[leaves] > 90).all().all()
    assert (by_domain.loc[cuts].max() < by_domain.loc[leaves].min()).all()
    assert (base["sink"] > 0.5).all()
    assert (at_target.loc[moves].div(base["sink"]).dropna(axis=1) > 0.4).all().all()
    still = [m for m in ["transplant", "isolate", "amplify"] if m not in moves and m in at_target.index]
    assert (at_target.loc[still].div(base["sink"]).dropna(axis=1) < 0.2).all().all()
    if config.solutions:  # the reference solution finds exactly the paper's wires
        assert circuit_wires(view.table, 50.0) == sorted(set(cuts) & set("bcdefghij"))
