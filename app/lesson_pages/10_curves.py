"""Length and dose: the extension's length curve and dose-response curves, live on the model on screen.

Controls: inputs per seed, data seeds (error bars: SD across seeds), the lengths, the dose curves' domain.
One cached lesson call (lessons.curves_lesson); the charts are the report's own (sinklab.experiments.figures).
"""
import streamlit as st

import defaults
import display
import state
from defaults import CURVES
from serving import chart_spec, view
from sidebar import settings
from sinklab import charts, claims, lessons
from sinklab.experiments import EFFICACY
from sinklab.experiments.settings import DOSE_CURVES
from sinklab.experiments.tables import not_run
from sinklab.inputs.corpora import DOMAIN_TITLES, DOMAINS
from sinklab.interventions import describe

s = settings()
st.title("Length and dose: does the circuit hold on long inputs, and is the sink a dial or a switch?")
display.model_card(s)
display.intro(
    "**What you are looking at.** Two experiments of an independent extension of the circuit paper, run here "
    "on the model on screen. **Length**: running text cut to each length; the baseline's sink and, for "
    f"{', '.join(f'({k}) {describe(k)}' for k in EFFICACY)}, the sink left as a % of the baseline at the same "
    "length. **Dose**: instead of cutting a wire, turn it by a factor α — "
    "scale b_Q, scale the selected rows of W_k, or move the first position embedding toward the second "
    "(α = 0 is the cut, α = 1 the model as it is, α > 1 amplifies). Points are the mean over data seeds, "
    "error bars the SD across seeds. Published numbers appear only when the model on screen is one a reference "
    "measured (GPT-2 small for these curves): marks in their curve's colour, shaped by their source, named in "
    "the legend (references, not computed here).")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()

offered, default = lessons.curve_lengths(s.info.n_positions), defaults.curve_lengths(s.info.n_positions)
c1, c2, c3 = st.columns(3)
with c1:
    n = state.int_slider("Inputs per seed (n)", "cur_n", 2, 32, CURVES["n"],
                         help="Inputs per data seed, length and domain.")
    seeds = state.int_slider("Data seeds", "cur_seeds", 1, 4, CURVES["seeds"],
                             help="Each seed draws other inputs; error bars are the SD of the seeds' means.")
with c2:
    chosen = state.multi("Lengths (tokens)", [str(T) for T in offered], "cur_len", [str(T) for T in default],
                         help=f"Lengths up to the model's {s.info.n_positions} positions. Long inputs take longer.")
with c3:
    domain = state.select("Domain of the dose curves", list(DOMAINS), "cur_dom", CURVES["domain"],
                          format_func=DOMAIN_TITLES.get)
    st.caption(f"Dose curves at the sidebar's length: {min(s.n_tokens, s.info.n_positions)} tokens.")
if not chosen:
    st.info("Pick at least one length.")
    st.stop()

v = view(lessons.curves_lesson, s, n=n, lengths=tuple(sorted(int(T) for T in chosen)), seeds=tuple(range(seeds)),
         domain=domain, n_tokens=s.n_tokens)  # a progress bar while it runs
display.claims(claims.curves(v), notice)

for name, builder, summary in (("lengths", charts.length_curve, v.lengths_summary),
                               ("dose", charts.dose_curves, v.dose_summary)):
    with first_screen:
        if summary.empty:
            st.info(f"No {name} curve ran on this model: see “Not run here” below.")
            continue
        spec = chart_spec(builder, summary, v.published.get(name))
        display.draw(display.unfacet(spec, display.title_of(spec)[0]))  # one model: its one panel, page-wide
st.caption("Dose curves: " + " · ".join(f"**{k}**: {title}" for k, title in DOSE_CURVES.items()) + ". Length "
           "curve: each cut's sink as % of the baseline at the same length (the baseline's own sink is in the "
           "claims above and the tables).")
if len(v.errors):  # one line per reason
    st.markdown("**Not run here**\n" + "\n".join(
        f"- {r.what} at {r.lengths} tokens: {r.why}" for r in not_run(v.errors).itertuples()))

with st.expander("Tables"):
    display.show_table(v.lengths_summary, "length_curve", "Download the length curve (CSV)",
                       help={"pct_of_baseline_mean": "Sink as % of the baseline at the same length, mean over seeds."})
    display.show_table(v.dose_summary, "dose_curves", "Download the dose curves (CSV)",
                       help={"alpha": "The dose: 0 = the cut, 1 = the model as it is."})
    if v.published:
        st.write("Published (the extension's GPT-2 small numbers; references, not computed here)")
        for name, pub in v.published.items():
            display.show_table(pub, f"published_{name}", f"Download the published {name} numbers (CSV)")

display.try_this(claims.curves_try(v))
