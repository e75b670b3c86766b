"""Start: the first token gets most of the attention."""
import streamlit as st

import common
from sinklab import charts

s = common.settings()
st.title("Start: the attention sink")
common.intro(
    "**What you are looking at.** Each row of an attention map is one query token; its colours show how it "
    "splits its attention over the earlier tokens (columns). In GPT-2, from the second or third layer on, "
    "almost every row puts most of its weight on the *first* token (column 0), whatever that token is: "
    "that column is the **attention sink**. **What to notice:** the bright first column in the maps, the "
    "bright left column in the per-head grid, and how the sink metric grows after the first layers. "
    "Positions are counted from 0 here, so position 0 is the paper's “position 1”.")
common.truncation_note(s)

c1, c2 = st.columns(2)
with c1:
    layer = common.int_slider("Layer", "layer", 0, s.n_layer - 1, min(5, s.n_layer - 1))
with c2:
    heads = ["mean"] + [str(h) for h in range(s.n_head)]
    common.prepare("head", "mean", str, common.one_of(heads))
    head = st.selectbox("Head", heads, key="head", format_func=lambda h: "mean over heads" if h == "mean" else h)
    common.publish("head", head)

v = common.call(common.start_view, s.model, s.text, s.n_tokens, s.bos, s.metric)

st.metric(f"Sink metric on this prompt ({v.metric})", f"{v.score:.3f}",
          help=common.METRICS[v.metric] + f". Paper-metric layers: {v.paper_layers[0]}..{v.paper_layers[1] - 1}.")
left, right = st.columns(2)
with left:
    common.chart(charts.attention_map(v.maps, layer, head))
with right:
    common.chart(charts.head_grid(v.heads, title=f"Sink per layer and head ({'Gu importance' if v.metric == 'gu' else 'attention mass to position 0'})"))
    common.chart(charts.sink_per_layer(v.per_layer, v.paper_layers))

with st.expander("Tables"):
    st.write("Tokens of the prompt")
    common.show_table(v.tokens, "tokens")
    st.write("Sink per layer and head")
    common.show_table(v.heads, "heads")
    st.write("Sink per layer")
    common.show_table(v.per_layer, "per_layer")

common.try_this("Pick the code or math example in the sidebar, or type your own text: does the first column "
                "stay bright? Then switch on “Prepend <|endoftext|>” and watch which token becomes the sink.")
