"""Across domains: the Table-1 summary over natural language, math and code."""
import streamlit as st

import defaults
import display
import state
from serving import chart_spec, view
from sidebar import settings
from sinklab import charts, claims, lessons
from sinklab.inputs.corpora import DOMAIN_TITLES
from sinklab.interventions import describe, with_role

s = settings()
st.title("Across domains: every intervention on NL, math and code")
display.model_card(s)
display.intro(
    "**What you are looking at.** Every intervention of the catalogue run on n inputs from each of three "
    "domains (natural language, math word problems, code), each truncated to the token length: the sink "
    "(mean ± standard error over inputs) per intervention and domain, as in the circuit paper's Table 1. "
    f"For {' / '.join(with_role('moves the sink'))} the sink is measured at their target position. Bars are "
    "coloured by the intervention's role: red cuts a wire, blue is a control, purple tries to move the sink."
    + display.published_note(s))
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()

c1, c2 = st.columns(2)
with c1:
    n = state.int_slider("Inputs per domain (n)", "dom_n", 2, defaults.DOMAINS["n_max"], defaults.DOMAINS["n"],
                         help="The paper uses 100 per domain; small n is quick but noisier.")
with c2:
    target = state.int_slider(f"Target position for {' / '.join(with_role('moves the sink'))}", "target", 1,
                              max(1, s.n_tokens - 1), defaults.DOMAINS["target"],
                              help="Counted from 0 (position 0 is the first token).")

v = view(lessons.domains_lesson, s, n=n, n_tokens=s.n_tokens, target=target, metric=s.metric)  # progress bar
said = claims.domains(v, n)
display.claims(said, notice)
short = next((c for c in said if c.id == "dom.n" and not c.holds), None)
if short is not None:
    st.warning(display.wording(f"Fewer inputs than asked: you asked for {n} per domain, but the offline corpus "
                               f"has only these long enough for {s.n_tokens} tokens — {short.evidence}. "
                               "The numbers below average over what exists."))

order = list(dict.fromkeys(v.table["intervention"]))
chosen = st.multiselect("Interventions in the chart", order, default=order, key="dom_show")
with first_screen:
    if chosen:  # one chart per domain, each as wide as the page (a facet would keep a fixed width)
        for i, domain in enumerate(dict.fromkeys(v.table["domain"])):
            # the axis names each bar by its key ("i", "transplant"): the full "key: title" labels overlap and
            # Vega would drop three of every four; the keys are spelled out under the charts
            spec = chart_spec(charts.domain_bars, v.table, v.published, tuple(chosen), (domain,), True)
            if i == 0:
                title, subtitle = display.title_of(spec)
                st.markdown(f"**{title}**")
                st.caption(subtitle)
            display.draw(display.unfacet(spec, {"text": DOMAIN_TITLES.get(domain, domain), "anchor": "start"}),
                         all_labels=True)
        st.caption(" · ".join(f"**{k}**: {describe(k)}" for k in chosen if k != "baseline"))
    else:
        st.info("Pick at least one intervention for the chart.")
if v.published is not None:
    st.caption("Faded bars: the circuit paper authors' published numbers for GPT-2 small (100 inputs per domain; "
               "a labelled reference, not computed here).")
st.caption("Sources: " + "; ".join(f"{d}: {src}" for d, src in v.sources.items()))

st.subheader("Summary table")
display.show_table(v.table, "domains_table", "Download the summary table (CSV)",
                   help={"first": "The sink metric at position 0 in the same runs (for the interventions that "
                                  "move the sink: what is left at 0)."})
if v.published is not None:
    st.write("Published (GPT-2 small, the circuit paper's authors; a reference, not computed here)")
    display.show_table(v.published, "published_table1", "Download the published table (CSV)")
with st.expander("The same as a markdown report"):
    st.markdown(v.markdown)

display.try_this("Compare (i) with its random control (j) in each domain: is the gap larger than the error "
                 "bars? Then raise n: do the error bars shrink as expected?")
