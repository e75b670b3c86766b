"""EPE: the effective positional encoding of the first position."""
import streamlit as st

import defaults
import display
import state
from serving import view
from sidebar import settings
from sinklab import charts, claims, lessons

K_MAX = 8.0  # the kσ slider's top

s = settings()
st.title("EPE: does the first block make position 0 special?")
display.model_card(s)
display.intro(
    "**What you are looking at.** A GPT-2 learns a position embedding $p_i$ for each position $i = 0, 1, …$ "
    "The first block's MLP turns it into an *effective positional encoding* $EPE_i = MLP^{(1)}(p_i) + p_i$. "
    "The top chart shows $|EPE_0|$ (the first position's) per residual coordinate; coordinates above the "
    "dashed threshold (mean + kσ standard deviations) are **massive** and drawn in red. The lower chart "
    "checks that EPE is what the model really adds: the cosine between $EPE_i$ and $R_i - O_i$ (the residual "
    "with and without position embeddings) per position, over a small corpus (median and p10–p90 band).")
first_screen = st.container()  # the page's main chart, on the first screen (drawn below, once computed)
notice = st.container()
if display.route_absent(s, "EPE, the effective positional encoding,", needs=("pe",)):
    st.stop()

c1, c2, c3 = st.columns(3)
with c1:
    k_sigma = state.float_slider("kσ (massive threshold)", "ksigma", 1.0, K_MAX, defaults.EPE["k_sigma"], 0.5,
                                 help="A coordinate is massive when |value| ≥ mean + k·std (paper: 3).")
with c2:
    n = state.int_slider("Inputs for the validation", "epe_n", 3, 60, defaults.EPE["n"],
                         help="About n inputs split over the three domains.")
with c3:
    ln2 = state.toggle("Apply ln_2 before the MLP", "ln2", False,
                       help="Default: the authors' convention, MLP applied to p directly (no ln_2).")

v = view(lessons.epe_lesson, s, k_sigma=k_sigma, ln2=ln2, n=n, n_tokens=s.n_tokens)
display.claims(claims.epe(v, k_sigma), notice)

st.caption(f"Convention shown: EPE = MLP{'(ln_2(p))' if v.ln2 else '(p)'} + p "
           f"({'with ln_2' if v.ln2 else 'no ln_2, as in the authors’ code'}).")
st.metric("Massive coordinates of EPE_0", ", ".join(map(str, v.massive)) or "none",
          help=f"Coordinates with |EPE_0| ≥ mean + {k_sigma:g}·std (the red bars).")
with first_screen:
    display.chart(charts.epe_coords, v.coords)
display.chart(charts.epe_validation, v.validation, v.published)
if v.published is not None:
    st.caption("Orange: the circuit paper authors' published percentiles for GPT-2 small (a labelled reference, "
               "not computed here).")
else:
    st.caption("Published numbers are shown only for GPT-2 small with the authors' convention (no ln_2).")
st.caption(f"Validation over {display.plural(v.n_inputs, 'input')}. Corpus: {v.source}")

with st.expander("Tables"):
    display.show_table(v.coords, "epe_coords", "Download EPE_0 coordinates (CSV)",
                       help={"value": "EPE_0 at this coordinate."})
    display.show_table(v.validation, "epe_validation", "Download validation percentiles (CSV)",
                       help={c: f"{h} of cos(EPE_i, R_i − O_i) over the inputs." for c, h in
                             {"p10": "10th percentile", "p50": "Median", "p90": "90th percentile", "mean": "Mean",
                              "std": "Standard deviation"}.items()})

display.try_this(claims.epe_try(v, k_sigma, k_max=K_MAX))
