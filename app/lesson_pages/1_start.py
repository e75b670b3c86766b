"""Start: the first token gets most of the attention."""
import streamlit as st

import defaults
import display
import state
from serving import view
from sidebar import settings
from sinklab import charts, claims, lessons
from sinklab.analyses.metrics import METRICS

s = settings()
st.title("Start: the attention sink")
display.model_card(s)
display.intro(
    "**What you are looking at.** Each row of an attention map is one query token; its colours show how it "
    "splits its attention over the earlier tokens (columns). A column that is bright in almost every row, "
    "whatever its token, is an **attention sink**; in GPT-2 it is the first token (column 0). The per-head "
    "grid shows the attention mass to position 0 of every (layer, head), and the bars the sink metric per "
    "layer. Positions are counted from 0 here, so position 0 is the paper's “position 1”.")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
display.real_model_button(s)
display.truncation_note(s)

c1, c2 = st.columns(2)
with c1:
    layer = state.int_slider("Layer", "layer", 0, s.n_layer - 1, min(defaults.LAYER, s.n_layer - 1))
with c2:
    head = state.select("Head", ["mean"] + [str(h) for h in range(s.n_head)], "head", "mean",
                        format_func=lambda h: "mean over heads" if h == "mean" else h)

v = view(lessons.start, s, prompt=s.prompt, metric=s.metric)
display.claims(claims.start(v), notice)

st.metric(f"Sink metric on this prompt ({v.metric})", f"{v.score:.3f}",
          help=METRICS[v.metric] + f". Paper-metric layers: {v.paper_layers[0]}..{v.paper_layers[1] - 1}.")
with first_screen:
    display.chart(charts.attention_map, v.maps, layer, head, stretch=False, all_labels=True)  # square: a row of its own
left, right = st.columns(2)
with left:
    display.chart(charts.head_grid, v.heads, title="Sink per layer and head ("
                  + ("Gu importance" if v.metric == "gu" else "attention mass to position 0") + ")")
with right:
    display.chart(charts.sink_per_layer, v.per_layer, v.paper_layers)

with st.expander("Tables"):
    st.write("Tokens of the prompt")
    display.show_table(v.tokens, "tokens")
    st.write("Sink per layer and head")
    display.show_table(v.heads, "heads", help={"value": "Gu importance of the head at position 0" if v.metric == "gu"
                                               else "Attention mass to position 0 (second-half queries)."})
    st.write("Sink per layer")
    display.show_table(v.per_layer, "per_layer", help={"value": f"The sink metric ({v.metric}) of the layer."})

display.try_this(claims.start_try(v))
