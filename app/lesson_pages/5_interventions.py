"""Interventions: cut one wire of the circuit and watch the sink."""
import dataclasses

import streamlit as st

import common
from sinklab import charts
from sinklab.interventions import CATALOGUE, Intervention

s = common.settings()
st.title("Interventions: cut a wire, watch the sink")
common.intro(
    "**What you are looking at.** Each intervention changes one part of the circuit during the forward pass "
    "(the model's weights are never touched). Left: the head-averaged attention of one layer before and "
    "after; below: the attention to the key of interest per layer, and what happens to the model's "
    "cross-entropy on this prompt. **What to notice:** removing the query bias (b), the first position's "
    "PE (c, h) or the massive W_k coordinates (i) weakens the sink, while the controls (e, f, j) do not; "
    "the transplant and the structural pair move it to another position.")
common.truncation_note(s)

labels = list(CATALOGUE)
common.prepare("iv", "b", str, common.one_of(labels))
label = st.selectbox("Intervention", labels, key="iv",
                     format_func=lambda k: f"({k}) {CATALOGUE[k].title}" if len(k) == 1 else CATALOGUE[k].title)
common.publish("iv", label)
cls = CATALOGUE[label]
fields = {f.name for f in dataclasses.fields(cls)}
st.caption(cls.description)

T = common.n_prompt_tokens(s)
params = {}
c1, c2 = st.columns(2)
with c1:
    if "alpha" in fields:
        params["alpha"] = common.float_slider("α: scale of b_Q (0 removes it)", "alpha", 0.0, 1.0, 0.0, 0.05)
    if "t" in fields:
        params["t"] = common.float_slider("t: fraction of EPE_1 moved toward EPE_2", "t", 0.0, 1.0, 1.0, 0.05)
    if "n" in fields:
        n = common.int_slider("n: W_k coordinates to zero (0 = the massive ones, kσ = 3 rule)", "n", 0,
                              min(64, s.lm.info.d_model), 0)
        params["n"] = n or None
    if "other" in fields and label == "transplant":
        params["other"] = common.int_slider("Target position (receives EPE_1)", "pos", 1, max(1, T - 1), 1)
    if "position" in fields:
        params["position"] = common.int_slider("Target position k", "pos", 1, max(1, T - 1), 1)
    if "factor" in fields:
        params["factor"] = common.float_slider("Variance factor", "factor", 0.0, 20.0, 4.0, 0.5)
# layer range only where the intervention acts per layer (not on embeddings, not fixed to layer 0)
layered = cls.active is Intervention.active and cls.points and not cls.points <= {"embed", "pos_embed"}
with c2:
    if layered:
        L = s.n_layer
        common.prepare("layers", (0, L), lambda x: tuple(int(i) for i in x.split("-")),
                       lambda v: (max(0, min(int(v[0]), L - 1)), max(int(v[0]) + 1, min(int(v[1]), L))))
        lo, hi = st.slider("Layer range [start, stop)", 0, L, key="layers",
                           help="Apply only in layers start..stop-1 (all layers by default).")
        if hi <= lo:
            st.warning("The layer range is empty: stop must be larger than start. Using all layers.")
            lo, hi = 0, L
        common.publish("layers", (lo, hi), f"{lo}-{hi}")
        if (lo, hi) != (0, L):
            params["layers"] = (lo, hi)
    show_layer = common.int_slider("Layer shown in the maps", "layer", 0, s.n_layer - 1, min(5, s.n_layer - 1))

v = common.call(common.intervention_view, s.model, label, tuple(sorted(params.items())), s.text, s.n_tokens,
                s.bos, s.metric)

st.subheader(v.title)
runs = v.summary.set_index("run")
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"Sink at position {v.key}, before ({s.metric})", f"{runs.loc['before', 'sink']:.3f}")
m2.metric(f"Sink at position {v.key}, after ({s.metric})", f"{runs.loc['after', 'sink']:.3f}")
m3.metric("Cross-entropy change (nats/token)", f"{v.ce_change:+.4f}",
          help=f"Before {runs.loc['before', 'ce']:.4f}, after {runs.loc['after', 'ce']:.4f} (next-token loss "
               "on this prompt).")
if v.key != 0:
    m4.metric(f"Sink at position 0, after ({s.metric})", f"{runs.loc['after', 'sink_first']:.3f}",
              help=f"Before: {runs.loc['before', 'sink_first']:.3f}")
common.chart(charts.before_after_maps(v.maps, show_layer))
common.chart(charts.per_layer_change(v.per_layer))

with st.expander("Tables"):
    common.show_table(v.summary, "intervention_summary", "Download the summary (CSV)")
    common.show_table(v.per_layer, "intervention_per_layer", "Download the per-layer change (CSV)")

common.try_this("Pick (b) and drag α from 1 down to 0: is the sink's decline gradual or sudden? Then pick (i) "
                "and its control (j) with the same n: which one breaks the sink?")
