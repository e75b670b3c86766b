"""Structural origin: why the first token, structurally."""
from pathlib import Path

import pandas as pd
import streamlit as st

import common
from sinklab import charts
from sinklab.loading import BUNDLED_DIR

s = common.settings()
st.title("Structural origin: why the first position?")
common.intro(
    "**What you are looking at.** A second account of the sink: the first token can attend only to itself, "
    "so its attention output is one value vector, while later tokens average many (their outputs have a "
    "smaller variance and norm). *Super neurons* of the MLP fire at the first position and write a few "
    "massive coordinates (sparse down-projections). If that is the cause, then making any position k attend "
    "only to itself (**isolate**) or amplifying the spread of its representation (**amplify**) should move "
    "the sink to k. **What to notice:** position 0 stands out in the variance chart; the top neuron writes "
    "into a handful of coordinates; does the attention to k rise under the interventions?")
common.truncation_note(s)

T = common.n_prompt_tokens(s)
c1, c2, c3 = st.columns(3)
with c1:
    position = common.int_slider("Position k", "pos", 1, max(1, T - 1), min(5, max(1, T - 1)))
with c2:
    factor = common.float_slider("Amplify factor", "factor", 0.0, 20.0, 4.0, 0.5)
with c3:
    layer_opts = ["all"] + [str(i) for i in range(s.n_layer)]
    common.prepare("olayer", "all", str, common.one_of(layer_opts))
    olayer = st.selectbox("Layer for the variance chart", layer_opts, key="olayer")
    common.publish("olayer", olayer)
    common.prepare("ovalue", "variance", str, common.one_of(["variance", "norm"]))
    value = st.radio("Quantity", ["variance", "norm"], key="ovalue", horizontal=True)
    common.publish("ovalue", value)

v = common.call(common.origin_view, s.model, s.text, s.n_tokens, s.bos, position, factor, s.metric)

common.chart(charts.variance_chart(v.stats, None if olayer == "all" else int(olayer), value))

st.subheader("Super neurons")
left, right = st.columns([2, 3])
with left:
    top = v.neurons.sort_values("score", ascending=False).head(10)
    st.dataframe(top.assign(coords=top["coords"].astype(str)), hide_index=True)
    common.download(v.neurons.assign(coords=v.neurons["coords"].astype(str)), "super_neurons",
                    "Download the super neurons (CSV)")
with right:
    layer, neuron = v.top_neuron
    common.chart(charts.down_projection_bar(v.row, title=f"Down-projection of the top super neuron "
                                                         f"(layer {layer}, neuron {neuron})"))

st.subheader(f"Moving the sink to position {v.position}")
summ = v.moves_summary.set_index("intervention")
cols = st.columns(len(summ))
for col, (name, row) in zip(cols, summ.iterrows()):
    col.metric(f"{name}: sink at k ({s.metric})", f"{row['sink_at_k']:.3f}",
               help=f"Sink at position 0 in the same run: {row['sink_first']:.3f}")
common.chart(charts.moves_chart(v.moves))
with st.expander("Tables"):
    common.show_table(v.moves_summary, "moves_summary", "Download the sink at k (CSV)")
    common.show_table(v.stats, "attention_output_stats", "Download variance / norm per position (CSV)")

log_path = BUNDLED_DIR / s.model / "training_log.csv" if s.model in ("sinklab-mini",) else None
if log_path is not None and Path(log_path).exists():
    st.subheader("How the sink emerged while sinklab-mini trained")
    log = pd.read_csv(log_path)
    common.chart(charts.emergence_chart(log))
    common.download(log, "training_log", "Download the training log (CSV)")

common.try_this("Set k to a middle position and raise the amplify factor from 1 to 20: at which factor does "
                "position k start to collect attention? Does isolate alone make a sink?")
