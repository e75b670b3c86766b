"""Structural origin: why the first token, structurally.

When the model on screen does not show the structural route (its amplify claim fails), the page also
shows the same demonstration on textbook-structural, where that route is planted, and says so.
"""
import streamlit as st

import defaults
import display
import models
import state
from defaults import STRUCTURAL
from serving import quick, view
from sidebar import settings
from sinklab import charts, claims, lessons

s = settings()
st.title("Structural origin: why the first position?")
display.model_card(s)
display.intro(
    "**What you are looking at.** A second account of the sink: the first token can attend only to itself, "
    "so its attention output is one value vector, while later tokens average many (their outputs have a "
    "smaller variance and norm). *Super neurons* of the MLP fire at the first position and write a few "
    "massive coordinates (sparse down-projections). If that is the cause, then making any position k attend "
    "only to itself (**isolate**) or amplifying the spread of its representation (**amplify**) should move "
    "the sink to k. The first chart shows the attention output's variance (or norm) per position, the table "
    "and bar chart the strongest super neurons, the last chart the attention to k per layer under each move.")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
display.truncation_note(s)

last = max(1, s.used_tokens - 1)
c1, c2, c3 = st.columns(3)
with c1:
    position = state.int_slider("Position k", "pos", 1, last, min(defaults.ORIGIN["position"], last), help="Counted from 0.")
with c2:
    factor = state.float_slider("Amplify factor", "factor", 0.0, 20.0, defaults.ORIGIN["factor"], 0.5,
                                help="Multiplies the spread of position k's attention output (variance × factor²).")
with c3:
    olayer = state.select("Layer for the variance chart", ["all"] + [str(i) for i in range(s.n_layer)], "olayer", "all")
    value = state.select("Quantity", ["variance", "norm"], "ovalue", "variance", widget=st.radio, horizontal=True)

planted = s.model != STRUCTURAL and STRUCTURAL in models.allowlist(s.config)
if planted:  # the same demonstration on textbook-structural, computed in the same job (shown if needed)
    v, v2 = view(lessons.origin_beside_planted, s, models=(s.model, STRUCTURAL), prompt=s.prompt, position=position,
                 factor=factor, metric=s.metric)
else:
    v, v2 = view(lessons.origin_lesson, s, prompt=s.prompt, position=position, factor=factor, metric=s.metric), None
said = claims.origin(v)
display.claims(said, notice)

with first_screen:
    st.subheader("The chain, layer by layer")
    st.caption("Top: the attention to position 0 in each layer. Bottom: the residual coordinate that becomes massive "
               "at position 0 (log scale), at position 0 and at the other positions; dashed lines mark the layers whose "
               "super neurons write a massive coordinate. The finder's rules are in the glossary (“massive”, “super "
               "neuron”).")
    display.chart(charts.chain_chart, v.chain)
st.subheader("Cut each link, beside its control")
st.caption("Each bar is one run on this prompt with one link cut (sinklab.analyses.structural): the super neurons of "
           "the layer where the massive coordinate appears, as many random neurons of that layer (the control), the "
           "massive coordinates after it, and that layer's whole MLP. The two moves at k are below.")
display.chart(charts.cuts_bars, v.cuts)
skipped = v.cuts[v.cuts["n"] == 0]
for row in skipped.itertuples():
    st.caption(f"Not run here: {row.setting} — {display.esc(row.note)}")

display.chart(charts.variance_chart, v.stats, None if olayer == "all" else int(olayer), value)

st.subheader(f"The candidate neurons of layer {v.top_neuron[0]}")
display.table(v.neuron_table(top=10),
              column_order=["layer", "neuron", "super", "score", "share", "write", "sparsity", "coords", "act_first",
                            "act_other"])
display.download(v.neuron_table(), "super_neurons", "Download the candidate neurons (CSV)")
layer, neuron = v.top_neuron
display.chart(charts.down_projection_bar, v.row,
              title=f"Down-projection of neuron {neuron} of layer {layer} (the largest writer at position 0)")


def moves(view_) -> None:
    """The sink at k under each move (metrics) and the attention to k per layer (chart)."""
    st.subheader(f"Moving the sink to position {view_.position}")
    summ = view_.moves_summary.set_index("intervention")
    cols = st.columns(len(summ))
    for col, (name, row) in zip(cols, summ.iterrows()):
        col.metric(f"{name}: sink at k", f"{row['sink_at_k']:.3f}",
                   help=f"The sink metric ({s.metric}) at position {view_.position}; at position 0 in the same "
                        f"run: {row['sink_first']:.3f}.")
    display.chart(charts.moves_chart, view_.moves)


moves(v)
with st.expander("Tables"):
    display.show_table(v.moves_summary, "moves_summary", "Download the sink at k (CSV)")
    display.show_table(v.stats, "attention_output_stats", "Download variance / norm per position (CSV)")
    display.show_table(v.chain, "structural_chain", "Download the chain per layer (CSV)")
    display.show_table(v.cuts, "structural_cuts", "Download the cuts (CSV)")

amplify = next(c for c in said if c.id == "origin.amplify")
if not amplify.holds and v2 is not None:
    st.subheader(f"On {STRUCTURAL}, where the route is planted")
    st.markdown(f"Amplify does not make a sink at k on **{display.esc(s.model)}** (✗ above), so here is the same "
                f"demonstration on **{STRUCTURAL}**, a planted specimen whose sink is made by this route, with "
                "the same prompt, k and factor.")
    display.claims([c for c in claims.origin(v2) if c.id in ("origin.isolate", "origin.amplify")],
                   title=f"What to notice on {STRUCTURAL}")
    moves(v2)

log = quick(lessons.emergence_log, s)
if log is not None:
    st.subheader(f"How the sink emerged while {s.model} trained")
    display.chart(charts.emergence_chart, log)
    display.download(log, "training_log", "Download the training log (CSV)")

display.try_this(claims.origin_try(v))
