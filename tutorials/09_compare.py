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
# # Compare specimens
#
# **The question.** Is there one mechanism behind every attention sink? The circuit paper's
# draft title says no: *no universal mechanism*. Two models can both pour their attention onto
# the first token and still do it through different wires.
#
# **You will learn** to run the whole intervention signature (the paper's a–j, the transplant,
# the structural pair isolate / amplify, head-wise RMSNorm) on several models at once, to read
# one heatmap of "% of the sink left", and to say — from the numbers — which wires each model's
# sink runs through. Published signatures (the authors' GPT-2 small, an independent extension's
# GPT-2 medium/large, GPT-Neo, OPT, Qwen2.5) appear beside the computed rows, labelled, never
# mixed in. Mirrors the app's "Compare specimens" page.
#
# The models: the one the other notebooks use (`SINKLAB_MODEL`), the three bundled specimens, and
# — when its package is installed (the README's set-up installs it) — the real trained
# SmolLM2-135M, a Llama-family model with no query bias and no position embeddings.

# %%
import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab.teaching.compare import CUT, wires_cut  # an intervention leaving less than CUT % of the sink cuts a wire
from sinklab.config import Config
from sinklab.interventions import PAPER

import feedback  # tutorials/feedback.py: one check per "Your turn" exercise
import course  # tutorials/course.py: offline charts, predict-then-reveal, the checkpoint

config = Config.load()
lm, note = sinklab.load_configured(config)  # the model the other notebooks use ($SINKLAB_MODEL)
if note:
    print(note)
course.offline_charts()  # the charts' JavaScript, inlined once: they render without a network
N = max(2, config.tutorial_n // 2)  # inputs per domain and model
REAL = "smollm2-135m"  # a real trained model from the package index, offline once installed
names = list(dict.fromkeys([lm.info.name, "textbook", "textbook-structural", "sinklab-mini"]))
models = [lm] + [sinklab.load_model(n) for n in names[1:]]
if REAL not in names:
    try:
        models.append(sinklab.load_model(REAL))
    except sinklab.ModelUnavailable as why:  # not installed here: the comparison goes on without it
        print(f"{REAL} is not compared: {why}")
for m in models:
    c = cards.card(m)
    print(f"{c.name} ({c.kind}): {c.summary}")
NOOPS = {m.info.name: course.declared_noops(m) for m in models}  # per model: runs, but declared to change nothing
print(f"{N} inputs per domain for each model")

# %% [markdown]
# `lessons.compare_lesson` runs every registered intervention on every model (the three domains
# pooled; the moving interventions target position 5 and amplify uses factor 5). An
# intervention that does not apply to a model — the EPE-based ones on a model without position
# embeddings — gets a blank cell with the reason instead of a number.

# %%
view = lessons.compare_lesson(models, n=N, target=5, factor=5.0)
view.computed.pivot_table(index="model", columns="intervention", values="pct_of_baseline", sort=False).round(0)

# %%
charts.signature_heatmap(view.computed, view.published)

# %% [markdown]
# ## What each model's sink runs through
#
# Every sentence below is computed from that model's row: an intervention "cuts a wire" when
# it leaves less than half of the sink; a moving intervention "moves the sink" when at least
# 40 % of the baseline mass arrives at its target; a control "behaves" when it stays within
# 10 % of baseline.
#
# **Predict.** Before running the next cell: will every model's sink be cut below half by the
# same interventions? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
for model, found in view.findings.items():
    print(f"— {model}")
    for sentence in found.values():
        print("   ", sentence)
    for label, why in NOOPS.get(model, {}).items():
        print(f"    ({label}) is a declared no-op on {model} ({why}): its row is 100 % by construction, not a finding.")
cut_by = {m: set(w) for m, w in wires_cut(view.computed).items()}
course.reveal(guess, len({frozenset(w) for w in cut_by.values()}) == 1,
              "Cut below half by: " + "; ".join(f"{m}: {', '.join(sorted(w)) or 'nothing'}" for m, w in cut_by.items())
              + ".")

# %% [markdown]
# Blank cells, with their reasons:

# %%
na = view.computed[view.computed["note"].fillna("") != ""][["model", "intervention", "note"]]
na if len(na) else "every intervention ran on every model"

# %% [markdown]
# ## Checkpoint
#
# Answer from the heatmap or the table above, then write your answer in `my_answer` and run the
# cell (the answer computed on these models is folded under the question).

# %%
my_answer = None  # an intervention label, or "none"
A, B = lm.info.name, ("textbook-structural" if lm.info.name == "textbook" else "textbook")
course.Checkpoint(f"Name an intervention (not a control) that cuts one of {A} and {B} below half of its sink but not "
                  "the other.", cut_by[A] ^ cut_by[B] or "none",
                  f"{A}: {', '.join(sorted(cut_by[A])) or 'none'}; {B}: {', '.join(sorted(cut_by[B])) or 'none'}"
                  ).check(my_answer)

# %% [markdown]
# ## Your turn
#
# Read the wires off the table yourself. Complete `sink_wires(computed, model, cut)`: from
# `view.computed` (columns `model, intervention, key, pct_of_baseline, note`, ...), return the
# sorted labels of the interventions that leave less than `cut` % of `model`'s sink. Keep only
# the rows that ran (blank `note`), that are measured at position 0 (`key == 0`: the moving
# interventions are measured at their target), and that are not controls
# (`sinklab.interventions.REGISTRY[label].control`); the baseline is not an intervention.

# %%
def sink_wires(computed, model, cut=50.0):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import sink_wires  # noqa: F811

# %%
feedback.check_sink_wires(sink_wires, view, strict=config.solutions)

# %% [markdown]
# ## What we found
#
# Computed from the table above: for each pair of models, the interventions that cut one's sink
# below half and not the other's; then, labelled, the published signatures.

# %%
wires = {m: set(w) for m, w in wires_cut(view.computed).items()}  # not the controls; blank cells left out
for m, w in wires.items():
    base = view.computed.query("model == @m and intervention == 'baseline'")["sink"].iloc[0]
    print(f"{m}: sink {base:.2f} at position 0; cut below half by {', '.join(sorted(w)) or 'no intervention'}."
          + (f" Declared no-ops there: {', '.join(NOOPS[m])}." if NOOPS.get(m) else ""))
names = list(wires)
for i, a in enumerate(names):
    for b in names[i + 1:]:
        print(f"{a} vs {b}: only {a}'s sink is cut by {', '.join(sorted(wires[a] - wires[b])) or 'nothing'}; "
              f"only {b}'s by {', '.join(sorted(wires[b] - wires[a])) or 'nothing'}.")
for claim in claims.compare(view):  # the page's claim, on these numbers
    print(claim.finding)
print()
pub = view.published[view.published["intervention"].isin(PAPER[1:])]
for source, by_source in pub.groupby("source", sort=False):
    print(f"Interventions that leave less than half of the sink, {source}:")
    for model, g in by_source.groupby("model", sort=False):
        cut = g[g["pct_of_baseline"] < CUT].sort_values("pct_of_baseline")
        print(f"    {model}: " + (", ".join(f"{r.intervention} {r.pct_of_baseline:.0f} %" for r in cut.itertuples())
                                  if len(cut) else "none"))

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook): the planted specimens' signatures follow their construction.
sig = view.computed.set_index(["model", "intervention"])["pct_of_baseline"]
assert sig["textbook", "b"] < 50 and sig["textbook", "c"] < 50 and sig["textbook", "isolate"] < 40
assert sig["textbook-structural", "isolate"] >= 40 and sig["textbook-structural", "rmsnorm"] < 50
assert not sig["textbook-structural", "c"] < 90  # no position embedding to remove: a no-op (~100 %) or n/a (blank)
assert "the query bias b_Q" in view.findings["textbook"]["cuts"]
assert wires["textbook"] != wires["textbook-structural"]  # the two planted routes differ
assert "isolate" in view.findings["textbook-structural"]["moves"]
