"""Compare specimens: every model's intervention signature side by side — no universal mechanism.

One heatmap (model × intervention → % of the baseline sink) with the published signatures beside, labelled;
under it the findings computed from each model's numbers. An intervention that does not apply to a
model is a blank cell with its reason; a model that cannot be compared at all shows its error.
"""
import streamlit as st

import display
import errors
import models
import state
from defaults import COMPARE, compare_models
from serving import view
from sidebar import settings
from sinklab import charts, claims, lessons
from sinklab.interventions import with_role


s = settings()
st.title("Compare specimens: one mechanism, or several?")
display.model_card(s)
display.intro(
    "**What you are looking at.** The *intervention signature* of each model: every registered intervention run "
    "over the three domains (n inputs each), and the sink it leaves as a percentage of the model's baseline "
    f"sink at position 0 (for {', '.join(with_role('moves the sink'))}: the share that arrives at their target k). One "
    "row per model, computed here; below them the published signatures of the circuit paper's authors and "
    "of an independent extension, labelled with their source (references, not computed here). Blue: the "
    "sink survives; red: the intervention cut it; a blank cell (n/a) did not apply to that model — hover it "
    "for the reason.")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()

offered = models.allowlist(s.config)
chosen = state.multi("Models to compare", offered, "cmp_models", compare_models(s),
                     format_func=models.short_label,
                     help="The models this server offers; by default the one in use and every bundled specimen.")
c1, c2, c3 = st.columns(3)
with c1:
    n = state.int_slider("Inputs per domain (n)", "cmp_n", 2, 30, COMPARE["n"],
                         help="Each model runs every intervention on n inputs of each domain (small n: quick, noisier).")
with c2:
    top = max(1, s.n_tokens - 1)
    target = state.int_slider("Target position k", "cmp_target", 1, top, min(COMPARE["target"], top),
                              help=f"Where {', '.join(with_role('moves the sink'))} try to move the sink (counted from 0).")
with c3:
    factor = state.float_slider("Amplify factor", "cmp_factor", 1.0, 20.0, COMPARE["factor"], 0.5,
                                help="Multiplies the spread of position k's attention output (variance × factor²).")

if not chosen:
    st.info("Pick at least one model to compare.")
    st.stop()

usable, failed = models.loadable(chosen, s.config)  # a model that cannot be loaded is reported, the others compared
for name, why in failed.items():
    st.warning(f"**{display.esc(name, 80)}** could not be loaded, so it is not compared: {display.esc(why)}")
if not usable:
    st.stop()

v = view(lessons.compare_lesson, s, models=tuple(usable), n=n, n_tokens=s.n_tokens, target=target, factor=factor)
for name, why in v.errors.items():
    st.warning(f"**{display.esc(name, 80)}** could not be compared: {display.esc(errors.public_message(why, s.config))}")

said = claims.compare(v)
if said:
    display.claims(said, notice, title="What to notice, checked on these models")

with first_screen:
    display.chart(charts.signature_heatmap, v.computed, v.published, all_labels=True)
blank = v.computed[v.computed["note"].fillna("") != ""]
if len(blank):
    st.markdown("**Blank cells (n/a)**\n" + "\n".join(
        f"- **{display.esc(r.model)}**, ({r.intervention}) {r.title}: {r.note}" for r in blank.itertuples()))

st.subheader("What each model's numbers say")
cols = st.columns(max(1, len(v.findings)))
for col, (name, found) in zip(cols, v.findings.items()):
    with col:
        st.markdown(f"**{display.esc(name)}**\n" + "\n".join(f"- {display.wording(sentence)}" for sentence in found.values()))

with st.expander("Tables"):
    st.write("Computed here")
    display.show_table(v.computed, "signatures", "Download the computed signatures (CSV)",
                       help={"key": "The position the sink is measured at (0, or k for the moves).",
                             "sink": "The paper metric at the key, mean over every input of the three domains."})
    st.write("Published (references, not computed here)")
    display.show_table(v.published, "published_signatures", "Download the published signatures (CSV)",
                       help={"source": "Who published the number, and where.",
                             "model": "The model the source measured."})

display.try_this("Find an intervention that cuts the sink of one specimen and leaves another's intact. What does "
                 "that wire do in each model? Then open that specimen on the Interventions page and cut the wire there.")
