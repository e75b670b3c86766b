"""Decomposition: the four terms of an attention score."""
import streamlit as st

import defaults
import display
import state
from serving import view
from sidebar import settings
from sinklab import charts, claims, lessons

s = settings()
st.title("Decomposition: which term of the score makes the sink?")
display.model_card(s)
display.intro(
    "**What you are looking at.** With biases, a pre-softmax score splits into four terms: "
    "(1) content–content $x_t W_q (x_j W_k)^T$, (2) query-only $x_t W_q b_K^T$, (3) key-only "
    "$\\Delta_j = b_Q W_k^T x_j^T$, (4) a constant $b_Q b_K^T$, each divided by $\\sqrt{d_{head}}$ like the "
    "scores. Terms 2 and 4 are the same for every key $j$, so they cancel in the softmax: the attention "
    "chart puts softmax(terms 1 + 3) next to the model's. Term 3 is a *source-agnostic shift*: the same for "
    "every query. The bars show it per key position and the histogram pools it over heads and the middle "
    "layers; Δ is shown throughout in score units ($\\Delta_j/\\sqrt{d_{head}}$), the unit of the panels.")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
if display.route_absent(s, "The four-term score decomposition", needs=("unrotated",)):
    st.stop()
display.truncation_note(s)

c1, c2, c3 = st.columns(3)
with c1:
    layer = state.int_slider("Layer", "layer", 0, s.n_layer - 1, min(defaults.LAYER, s.n_layer - 1))
with c2:
    head = state.int_slider("Head", "dhead", 0, s.n_head - 1, 0)
with c3:
    drop = state.toggle("Drop terms 2 and 4", "drop24", True,
                        help="Show the attention computed from terms 1 + 3 only next to the model's.")
    same = state.toggle("Same colour scale for every layer", "samescale", False,
                        help="One colour scale for every panel and every layer (this head's score range over "
                             "all layers), so moving the layer slider compares layers. Off: each panel uses "
                             "its own scale.")

v = view(lessons.decomposition, s, prompt=s.prompt, layer=layer, head=head)
display.claims(claims.decomposition(v), notice)

with first_screen:
    st.subheader(f"Layer {v.layer}, head {v.head}")
    display.chart(charts.terms_heatmaps, v.terms, domain=v.score_range if same else None)
    if same:
        st.caption(f"Colour scale fixed to this head's score range over every layer: {v.score_range[0]:.2f} to "
                   f"{v.score_range[1]:.2f} (score units).")
m1, m2 = st.columns(2)
m1.metric("Largest |sum of terms − score|", f"{v.max_sum_error:.1e}",
          help="Largest |sum of the four terms − the model's score| over all layers and heads of this prompt: "
               "the terms add up to the model's own scores.")
m2.metric("Largest |softmax(1+3) − attention|", f"{v.max_attention_change:.1e}",
          help="Largest |softmax(terms 1 + 3) − the model's attention| over all layers and heads: dropping "
               "terms 2 and 4 does not change the attention.")
display.chart(charts.attention_compare, v.attention, model_only=not drop)
if not drop:
    st.caption("Switch on “Drop terms 2 and 4” to put softmax(terms 1 + 3) next to the model's attention.")

display.chart(charts.delta_bars, v.delta)  # full width: their titles carry the formula
display.chart(charts.delta_histogram, v.pooled)

with st.expander("Tables"):
    st.write("Δ per position (this layer and head), in score units")
    display.table(v.delta[["position", "token", "delta_scaled"]])
    display.download(v.delta, "delta", "Download Δ per position (CSV, with the unscaled Δ too)")
    st.write("Decomposition check per layer")
    display.show_table(v.check, "check")
    st.write(f"The four terms (this layer and head): {len(v.terms):,} rows (query × key × term), drawn above; "
             "as a table in the CSV")
    display.download(v.terms, "terms", "Download the four terms (CSV)")

display.try_this(claims.decomposition_try(v))
