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
# # Length and dose
#
# **The question.** The circuit paper measured its ten interventions on 40-token inputs, and
# every cut was all or nothing. Does the circuit still carry the sink on long inputs? And if we
# turn a wire down by a factor α instead of cutting it, does the sink fade like a dial, or flip
# like a switch?
#
# **You will learn** to run an independent extension's length and dose-response experiments on
# the model in front of you (mean ± SD across data seeds), to read them against the extension's
# published GPT-2 small numbers (labelled references), and to run the extension's other
# experiments — content regimes, combined cuts, the two pathways, relocation, the cost of each
# cut — from the library and the `sinklab report` command. Mirrors the app's "Length and dose" page.
#
# Positions are counted from 0 as in the app: position 0 is the papers' "position 1".

# %%
import dataclasses

import sinklab
from sinklab import cards, charts, claims, lessons
from sinklab import experiments as ex
from sinklab.config import Config
from sinklab.experiments import figures
from sinklab.experiments.tables import not_run
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
NOOPS = course.declared_noops(lm)  # {label: why}: runs on this model but is declared to change nothing
N = max(2, config.tutorial_n // 2)  # inputs per data seed ($SINKLAB_TUTORIAL_N / 2); the extension uses 100
SEEDS = (0, 1)  # two data seeds: the error bars are the SD of the seeds' means
LENGTHS = tuple(T for T in lessons.CURVE_LENGTHS if T <= min(128, lm.info.n_positions))

# %% [markdown]
# `lessons.curves_lesson` runs both experiments through `sinklab.experiments` (the same jobs the
# `sinklab report` command runs): for each data seed, N inputs of running text at each length, and
# N inputs of one domain at 40 tokens for the dose curves. A length past the model's positions,
# or a dose curve that does not apply (no position embedding to interpolate), lands in
# `view.errors` with the reason. A curve or cut that is a declared no-op on this model runs, flat at
# 100 % by construction, and is set apart below.
#
# (i) and the W_k dose pick their coordinates from EPE_0. On a model without position embeddings
# and without known massive coordinates (a real rotary model such as SmolLM2) there is no EPE: the
# notebook then gives them the coordinates sinklab's finder locates on the prompt (the massive
# coordinate of position 0's residual stream, `lessons.circuit_plan(...).coords`) and runs the same
# two experiments with them (`sinklab.experiments.Plan(coords=...)`): they test the same wire of the
# structural chain — do the keys read that coordinate? — at every length and as a dial.
#
# **Predict.** Before running the next cells: will the first token still be a sink (at least 0.3
# of the attention, and 5× an even spread) at the longest length? Write `True` or `False`.

# %%
guess = None  # your prediction: True or False

# %%
instead = lessons.positional_absent(lm, Prompt(), needs=("pe",))  # None: the model has position embeddings
COORDS = None  # (i) / scale_wk's coordinates when EPE cannot give them: the finder's, on the prompt
if instead is not None and instead.found["layer"] is not None and not (lm.meta or {}).get("massive_coords"):
    COORDS = tuple(lessons.circuit_plan(lm, Prompt()).coords)
    print(f"{lm.info.name} has no EPE: (i) and the W_k dose use coordinate(s) {list(COORDS)} ("
          + claims.instead(instead)[-1].evidence + ")")
if COORDS is None:
    view = lessons.curves_lesson(lm, n=N, lengths=LENGTHS, seeds=SEEDS, domain="nl")
else:  # curves_lesson's two experiments, with the finder's coordinates (it takes none)
    plan_k = ex.Plan(models=(lm.info.name,), experiments=("lengths", "dose"), seeds=SEEDS, n=N, lengths=LENGTHS,
                     n_tokens=min(40, lm.info.n_positions), domains=("nl",), coords=COORDS)
    res_k = ex.run_plan(plan_k, lm=lm)
    view = lessons.CurvesView(lengths=res_k.tables["lengths"], lengths_summary=res_k.summaries["lengths"],
                              dose=res_k.tables["dose"], dose_summary=res_k.summaries["dose"],
                              published=dict(res_k.published), errors=res_k.errors, domain="nl",
                              n_tokens=plan_k.n_tokens, query_bias=families.of(lm.model).has_query_bias)
print(f"lengths {LENGTHS}, {N} inputs per seed, seeds {SEEDS}")
for label, why in NOOPS.items():
    print(f"({label}) is a declared no-op on {lm.info.name}: {why}. Its rows and curve are flat by construction.")
not_run(view.errors)  # one row per reason (view.errors has one per job and setting)

# %% [markdown]
# ## The sink and the cuts at every length
#
# The baseline row is the sink itself; every other row is the sink left after a cut, as a
# percentage of the baseline at the same length: (b) no query bias, (c) no first position
# embedding, (d) and its control (e) the EPE and PE swaps, (i) W_k zeroed at the massive
# coordinates (on a model without EPE: at the finder's coordinates, see above).

# %%
charts.length_curve(view.lengths_summary, view.published.get("lengths"))

# %%
base_by_length = view.lengths_summary.query("intervention == 'baseline'").set_index("n_tokens")["sink_mean"]
longest = int(base_by_length.index.max())
uniform_longest = sum(1 / (i + 1) for i in range(longest // 2, longest)) / (longest - longest // 2)
course.reveal(guess, bool(base_by_length[longest] >= 0.3 and base_by_length[longest] >= 5 * uniform_longest),
              f"On {lm.info.name} the baseline sink is " + ", ".join(f"{x:.2f} at {int(T)}" for T, x in
                                                               base_by_length.items())
              + f" tokens (an even spread gives {uniform_longest:.3f} at {longest}).")
view.lengths_summary.pivot_table(index="intervention", columns="n_tokens", values="pct_of_baseline_mean",
                                 sort=False).round(1)

# %% [markdown]
# ## A dial or a switch?
#
# Each curve turns one wire by α: α = 1 is the model as it is, α = 0 the cut, α > 1 amplifies it.
# `b` scales the query bias b_Q, `scale_wk` the rows of W_k at the massive coordinates, `pe` moves
# the first position embedding toward the second (p_1 + α (p_0 − p_1)).

# %%
charts.dose_curves(view.dose_summary, view.published.get("dose"))

# %%
view.dose_summary.pivot_table(index="alpha", columns="curve", values="sink_mean").round(3)

# %% [markdown]
# ## Checkpoint
#
# Answer from the length table above, then write your answer in `my_answer` and run the cell (the
# answer computed on this model is folded under the question).

# %%
my_answer = None  # a number of tokens
course.Checkpoint(f"On {lm.info.name}, at which of the lengths {', '.join(map(str, LENGTHS))} is the baseline sink "
                  "weakest?", int(base_by_length.idxmin()),
                  ", ".join(f"{x:.3f} at {int(T)}" for T, x in base_by_length.items()), tol=0.0).check(my_answer)

# %% [markdown]
# ## Your turn
#
# Complete `half_dose(dose, curve)`: for one curve of the table `view.dose_summary` (columns
# `curve`, `alpha`, `sink_mean`), return the smallest α of the grid at which the mean sink is at
# least half of its value at α = 1 (the model as it is), as a float. A dial reaches half at a
# middle α; a switch already at the first step. (The check uses the curves that ran on this model
# and are not declared no-ops; on a model without EPE, the W_k curve at the finder's coordinates.)

# %%
exercise_view = dataclasses.replace(view, dose_summary=view.dose_summary[
    ~view.dose_summary["curve"].isin(list(NOOPS))] if len(view.dose_summary) else view.dose_summary)


# %%
def half_dose(dose, curve):
    # your code here
    return None


if config.solutions:  # SINKLAB_SOLUTIONS=1 (as in CI): use the reference solution from tutorials/solutions.py
    from solutions import half_dose  # noqa: F811

# %%
feedback.check_half_dose(half_dose, exercise_view, strict=config.solutions)

# %% [markdown]
# ## The rest of the extension, from the library and the command line
#
# The page shows two experiments; `sinklab.experiments` runs all of them as one plan of
# independent jobs (one per model, seed, regime and length), locally or on a Dask cluster. Here,
# on the loaded model (`lm=`: no second copy is loaded), the content regimes, the combined cuts,
# the two query-side pathways, the relocation of the sink by the transplant and the
# cross-entropy cost of each cut. `sinklab report --model <name> --experiments
# regimes,combined,pathways,relocation,cost --out report/` writes the same tables, with figures.

# %%
plan = ex.Plan(models=(lm.info.name,), experiments=("regimes", "combined", "pathways", "relocation", "cost"),
               seeds=(0,), n=N, domains=("nl",))
res = ex.run_plan(plan, lm=lm)
print(f"{len(plan.jobs())} jobs, {len(res.errors)} rows in errors (what did not run, and why)")
res.tables["regimes"].pivot_table(index="intervention", columns="regime", values="pct_of_baseline", sort=False).round(0)

# %%
pathways = res.tables["pathways"]  # empty on a rotary model: the split needs un-rotated q and k (see res.errors)
pathways[pathways["domain"] == "nl"][["measure", "value", "se"]].round(3) if len(pathways) else \
    res.errors[res.errors["setting"] == "pathways"][["regime", "error"]].drop_duplicates("error")

# %%
figures.chart("cost", res.summaries["cost"], res.published.get("cost"))  # the report's own figure

# %% [markdown]
# ## What we found
#
# The page's claims, checked on this model, then what the extra experiments measured.

# %%
for claim in claims.curves(view):
    print(claim.finding)
if COORDS is not None:
    i_left = view.lengths_summary.query("intervention == 'i'").set_index("n_tokens")["pct_of_baseline_mean"]
    print(f"(i) and the W_k dose ran at the finder's coordinate(s) {list(COORDS)}"
          + (": (i) leaves " + ", ".join(f"{p:.0f} % at {int(T)}" for T, p in i_left.items()) + " tokens."
             if len(i_left) else "."))
print()
curves_here = sorted(set(exercise_view.dose_summary["curve"]))
half = {c: half_dose(exercise_view.dose_summary, c) for c in curves_here}
if half and all(h is not None for h in half.values()):
    print("Half of the sink is back at " + ", ".join(f"α = {h:g} for {c}" for c, h in half.items()) + ".")
if NOOPS:
    print(f"Declared no-ops on {lm.info.name} (flat by construction, left out above): {', '.join(NOOPS)}.")
if len(pathways):
    path = pathways[pathways["domain"] == "nl"].set_index("measure")["value"]
    print(f"On {lm.info.name}, position 0 gets {path['full']:.2f} of the attention; from the content term alone "
          f"{path['content_only']:.2f}, from the query-bias term alone {path['bias_only']:.2f}; the source-agnostic "
          f"shift Δ makes up {path['delta_share']:.0%} of position 0's score.")
else:
    print(f"The two-pathway split did not run on {lm.info.name}: "
          + "; ".join(sorted(set(res.errors.loc[res.errors["setting"] == "pathways", "error"]))))
reg = res.tables["regimes"]
base = reg[reg["intervention"] == "baseline"].set_index("regime")["sink"]
print("Baseline sink by content regime: " + ", ".join(f"{r} {x:.2f}" for r, x in base.items()) + ".")

# %% tags=["remove-input"]
# Checks (hidden in the rendered notebook): asserted only on the planted specimens, whose answer is known: the
# sink survives every length, b_Q and W_k are dials, and on the positional specimen PE_0 is a switch.
meta = lm.meta or {}
assert COORDS is None or instead is not None  # the finder's coordinates only where EPE is absent
if meta.get("kind") == "planted":
    said = {c.id: c for c in claims.curves(view)}
    assert all(c.holds for c in said.values()), [c.text for c in said.values()]
    assert {"curves.sink", "curves.b", "curves.dose_b", "curves.dose_scale_wk"} <= set(said)
    assert ("curves.dose_pe" in said) == (meta["route"] == "positional")  # no position embedding: no pe curve
    assert path["bias_only"] > path["content_only"]  # the planted sink runs through b_Q
    if config.solutions:
        assert 0 < half["b"] < 1 and half["scale_wk"] > 0  # dials: neither cut alone (α = 0) keeps half
