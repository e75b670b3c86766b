"""The circuit in one picture: the sink's route as a chain of wires, each measured on this model and
prompt, each cuttable (by its registered intervention) with a toggle; the diagram and the sink update.

Routes: the model's planted route by default; a radio when both routes apply (sinklab.analyses.circuit.routes_for).
"""
import streamlit as st

import display
import state
from serving import quick, view
from sidebar import settings
from sinklab import charts, claims, lessons
from sinklab.interventions import REGISTRY

ROUTE_LABELS = {"positional": "positional (the circuit paper: position embedding → EPE_0)",
                "structural": "structural (value aggregation at position 0 → super neuron)"}
FIXED = {  # the wires no single intervention cuts
    "softmax": "the softmax turns the score lead of key 0 into attention: this is the sink itself.",
    "agg": "position 0 attends only to itself, so its attention output is one value vector (no average): "
           "built into causal attention, not cut here (the Interventions page's isolate does the reverse).",
}


s = settings()
st.title("The circuit in one picture: the sink's route, wire by wire")
display.model_card(s)
display.intro(
    "**What you are looking at.** The chain of steps by which a sink can form, drawn left to right: each box "
    "is a quantity, each arrow a *wire* from one to the next, labelled with what it measures on this model "
    "and prompt. Cut a wire with its switch: the model runs again with that part removed (one registered "
    "intervention per wire), cut wires turn grey and dashed, and the box “sink” shows the attention to "
    "position 0 before → after. Two routes are known: the **positional** one of the circuit paper and the "
    "**structural** one of the structural-origin paper; a model without position embeddings has only the "
    "second.")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
display.truncation_note(s)

routes, planted = quick(lessons.circuit_routes, s)
if len(routes) > 1:
    route = state.select("Route", list(routes), "route", planted, format_func=lambda r: ROUTE_LABELS.get(r, r),
                         widget=st.radio, horizontal=True,
                         help="Both routes can be drawn on this model; its planted route (if any) is the default.")
else:
    route = routes[0]
    st.caption(f"Route: {ROUTE_LABELS.get(route, route)} (the only one this model has).")

plan = view(lessons.circuit_plan, s, prompt=s.prompt, route=route)
wires = [w for w in plan.wires if w[3]]  # (id, source, target, intervention, kwargs): cuttable on this model
st.markdown("**Cut a wire**")
cuts = []
for wire, source, target, iv, _ in wires:
    cls = REGISTRY[iv]
    if state.toggle(f"✂ {source} → {target}  ·  by ({iv}) {cls.title}", f"cut_{wire}", False,
                    help=f"({iv}) {cls.title}: {cls.description}"):
        cuts.append(wire)

v = view(lessons.circuit_lesson, s, prompt=s.prompt, route=route, cuts=tuple(cuts), metric=s.metric)

with first_screen:
    display.chart(charts.circuit_diagram, v.nodes, v.edges)
m1, m2, m3 = st.columns(3)
m1.metric("Sink before", f"{v.sink_before:.3f}", help=f"The sink metric ({s.metric}) at position 0, nothing cut.")
m2.metric("Sink after the cuts", f"{v.sink_after:.3f}", delta=f"{v.sink_after - v.sink_before:+.3f}" if cuts else None,
          delta_color="off", help=f"The sink metric ({s.metric}) at position 0 with the chosen wires cut.")
m3.metric("Wires cut", str(len(cuts)), help="Switch wires on above; each cut is one intervention in the same run.")

said = [claims.start(view(lessons.start, s, prompt=s.prompt, metric=s.metric))[0]]  # is there a sink to cut?
said += claims.circuit(v)
display.claims(said, notice)
if not cuts:
    notice.caption("Cut a wire below to test it: the page then says, with its numbers, whether the sink depends on it.")

st.markdown("**The wires**")
lines = []
for row in v.edges.itertuples():
    how = (f"cut by ({row.intervention}) {REGISTRY[row.intervention].title}: "
           f"{REGISTRY[row.intervention].description}") if row.cuttable else (row.note or FIXED.get(row.wire, "not cuttable."))
    if row.cuttable and row.note:
        how += f" ({row.note})"
    defined = f" ({row.defined})" if row.defined != "—" else ""
    lines.append(f"- **{row.source} → {row.target}** — measured: {row.label}{' (cut)' if row.cut else ''}{defined}. "
                 f"{how[0].upper() + how[1:]}")
st.markdown("\n".join(lines))
if v.coords:
    st.caption("Massive coordinates used: " + ", ".join(map(str, v.coords)) + ".")

with st.expander("Tables"):
    display.show_table(v.edges, "circuit_wires", "Download the wires (CSV)",
                       help={"source": "The node the wire starts from.", "intervention":
                             "The registered intervention that cuts this wire (blank: not cuttable)."})
    display.show_table(v.nodes, "circuit_nodes", "Download the nodes (CSV)",
                       help={"node": "A quantity of the route.", "x": "Its place in the chain (0 = first).",
                             "y": "Row of the drawing.", "value": "What is measured at the node (the sink)."})

display.try_this("Cut one wire at a time, starting from the right: which cut alone breaks the sink? Then switch "
                 + ("route (the radio above) or model (in the sidebar)" if len(routes) > 1 else
                    "model in the sidebar (this one has a single route)")
                 + ": does the same wire matter?")
