"""γ and alignment: the query bias reads the massive coordinates."""
import streamlit as st

import defaults
import display
import state
from serving import view
from sidebar import settings
from sinklab import charts, claims, lessons

s = settings()
st.title("γ and alignment: does the query bias point at EPE_0?")
display.model_card(s)
display.intro(
    "**What you are looking at.** The key-only term is $\\Delta_j = \\gamma \\cdot x_j$ with "
    "$\\gamma^{(l)} = b_Q^{(l)} W_k^{(l)T}$: a fixed vector per layer that every key is scored against. "
    "The first chart compares $|\\gamma|$ at the massive coordinates of $EPE_0$ with the typical "
    "coordinate (black tick: mean + 2 std over all coordinates); the histogram pools per-head "
    "$|\\gamma_h[d]|$ over layers, massive coordinates against the others; the last chart shows "
    "$\\cos(b_Q, EPE_j W_k)$ per layer, one line per position $j$ (position 0 in red).")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
if display.route_absent(s, "γ and the b_Q–EPE alignment", needs=("pe", "bq")):
    st.stop()

k_sigma = state.float_slider("kσ (massive threshold)", "ksigma", 1.0, 8.0, defaults.EPE["k_sigma"], 0.5,
                             help="Which coordinates of EPE_0 count as massive (paper: 3).")
v = view(lessons.gamma_lesson, s, k_sigma=k_sigma, positions=s.n_tokens)
display.claims(claims.gamma(v), notice)

st.metric("Massive coordinates", ", ".join(map(str, v.massive)) or "none",
          help=f"Coordinates of EPE_0 with |value| ≥ mean + {k_sigma:g}·std.")
summ = v.distribution_summary.set_index("massive")
cols = st.columns(2)
for col, flag, name in [(cols[0], True, "massive coordinates"), (cols[1], False, "other coordinates")]:
    if flag in summ.index:
        col.metric(f"mean |γ_h[d]|, {name}", f"{summ.loc[flag, 'mean']:.3f}",
                   help=f"Mean of |γ_h[d]| over heads, layers and the {name}.")
if v.table.empty:
    st.warning("No coordinate of EPE_0 is massive at this kσ: lower the threshold to see γ at the massive ones.")
with first_screen:
    left, right = st.columns(2)
    with left:
        display.chart(charts.gamma_table_chart, v.table)
    with right:
        display.chart(charts.gamma_histogram, v.distribution)
display.chart(charts.alignment_chart, v.alignment)

with st.expander("Tables"):
    display.show_table(v.table, "gamma_table", "Download the γ table (CSV)")
    display.show_table(v.distribution_summary, "gamma_summary", "Download the |γ| summary (CSV)",
                       help={"massive": "True: the massive coordinates; False: every other coordinate.",
                             "mean": "Mean |γ_h[d]|.", "std": "Standard deviation of |γ_h[d]|.",
                             "median": "Median |γ_h[d]|.", "count": "How many (layer, head, coordinate) values."})
    display.show_table(v.alignment, "alignment", "Download the alignment (CSV)")

sink = claims.start(view(lessons.start, s, prompt=s.prompt, metric=s.metric))[0]  # is there a sink to take away?
display.try_this(claims.gamma_try(v, sink))
