"""Interventions: cut one wire of the circuit and watch the sink.

The controls come from the intervention registry (sinklab.interventions.REGISTRY): one slider per
declared parameter (its help text from the registry), a layer range when the intervention acts per
layer; the claim about what it did (sinklab.teaching.claims.intervention) and its own Try-this behind that claim.
"""
import streamlit as st

import defaults
import display
import state
from serving import view
from sidebar import settings
from sinklab import charts, claims, lessons
from sinklab.interventions import REGISTRY, make, ordered, roles_text

s = settings()
st.title("Interventions: cut a wire, watch the sink")
display.model_card(s)
display.intro(
    "**What you are looking at.** Each intervention changes one part of the circuit during the forward pass "
    "(the model's weights are never touched). The maps show the head-averaged attention of one layer before "
    "and after; the lines the attention to the key of interest per layer; the metrics the sink before and "
    "after and the change of the model's cross-entropy on this prompt. The paper's interventions (a)–(j) "
    f"come first: {roles_text()}")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
display.truncation_note(s)

label = state.select("Intervention", ordered(), "iv", defaults.default_intervention(s),
                     format_func=lambda k: f"({k}) {REGISTRY[k].title}" if len(k) == 1 else REGISTRY[k].title)
cls = REGISTRY[label]
st.caption(cls.description + (f" Formula: `{cls.formula}`" if cls.formula else ""))  # both from its docstring

params = {}
c1, c2 = st.columns(2)
with c1:
    for name, (field, p) in cls.params().items():
        if not p.widget:
            continue
        default = field.default
        if name == "layer" and cls.route == "structural":  # a one-layer structural cut: where the coordinate appears
            found = view(lessons.found_layer, s, prompt=s.prompt)
            default = default if found is None else found
            st.caption(f"The layer starts at {found}: the block after which position 0's massive coordinate "
                       "appears on this prompt (the finder's rule, as on Structural origin)." if found is not None
                       else "The finder sees no massive coordinate at position 0 on this prompt: pick a layer.")
        params[name] = state.param_slider(name, default, p, s.context)
with c2:
    if cls.per_layer:
        layers = state.layer_range("Layer range [start, stop)", "layers", s.n_layer,
                                   help="Apply only in layers start..stop-1 (all layers by default).")
        if layers != (0, s.n_layer):
            params["layers"] = layers
    elif not cls.points:
        st.caption("No intervention: “after” is the same run as “before”.")
    elif "layer" in cls.params():
        st.caption("Acts in one layer: the “layer” slider.")
    elif cls.fixed_layer is not None:
        st.caption(f"Acts in layer {cls.fixed_layer} only.")
    else:
        st.caption("Acts on the embeddings (before the first layer).")
    shown = state.int_slider("Layer shown in the maps", "layer", 0, s.n_layer - 1, min(defaults.LAYER, s.n_layer - 1))

v = view(lessons.intervention_lesson, s, setting=make(label, **params), prompt=s.prompt, metric=s.metric)
said = claims.intervention(v, label, v.published)
display.claims(said, notice)

st.subheader(v.title)
runs = v.summary.set_index("run")
c = display.card(s)
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"Sink at position {v.key}, before", f"{runs.loc['before', 'sink']:.3f}",
          help=f"The sink metric ({s.metric}) at position {v.key} without the intervention.")
m2.metric(f"Sink at position {v.key}, after", f"{runs.loc['after', 'sink']:.3f}",
          help=f"The sink metric ({s.metric}) at position {v.key} with the intervention.")
m3.metric("Cross-entropy change", f"{v.ce_change:+.4f}",
          help=f"Next-token loss on this prompt after minus before, in nats/token (before "
               f"{runs.loc['before', 'ce']:.4f}, after {runs.loc['after', 'ce']:.4f}). On {c.name}: {c.ce_note}.")
if v.key != 0:
    m4.metric("Sink at position 0, after", f"{runs.loc['after', 'sink_first']:.3f}",
              help=f"The sink metric ({s.metric}) at position 0 with the intervention; before: "
                   f"{runs.loc['before', 'sink_first']:.3f}.")
st.caption(f"Cross-entropy on {c.name}: {c.ce_note}.")
with first_screen:
    display.chart(charts.before_after_maps, v.before, v.after, shown)
display.chart(charts.per_layer_change, v.per_layer)

with st.expander("Tables"):
    display.show_table(v.summary, "intervention_summary", "Download the summary (CSV)",
                       help={"key": "The key position the sink is measured at (0, or the intervention's target)."})
    display.show_table(v.per_layer, "intervention_per_layer", "Download the per-layer change (CSV)",
                       help={"value": "Mean attention to the key from the second-half queries, over heads."})

if said:
    display.try_this(claims.intervention_try(label, said[0]))
