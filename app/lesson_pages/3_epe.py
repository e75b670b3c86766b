"""EPE: the effective positional encoding of the first position."""
import streamlit as st

import common
from sinklab import charts

s = common.settings()
st.title("EPE: what makes position 0 special")
common.intro(
    "**What you are looking at.** GPT-2 learns a position embedding $p_i$ for each position. The first "
    "block's MLP turns it into an *effective positional encoding* $EPE_i = MLP^{(1)}(p_i) + p_i$. The top "
    "chart shows $|EPE_1|$ (the first position's) per residual coordinate: a few coordinates are "
    "**massive** (red: above the mean by k standard deviations). The lower chart checks that EPE is what the "
    "model really adds: the cosine between $EPE_i$ and $R_i - O_i$ (residual with and without position) per "
    "position, over a small corpus. **What to notice:** a handful of huge coordinates at position 0; the "
    "cosine is close to 1 at position 0.")

c1, c2, c3 = st.columns(3)
with c1:
    k_sigma = common.float_slider("kσ (massive threshold)", "ksigma", 1.0, 8.0, 3.0, 0.5,
                                  help="A coordinate is massive when |value| ≥ mean + k·std (paper: 3).")
with c2:
    n = common.int_slider("Inputs for the validation", "epe_n", 3, 60, 12,
                          help="About n inputs split over the three domains.")
with c3:
    common.prepare("ln2", False, lambda x: x in ("1", "True", "true"), bool)
    ln2 = st.toggle("Apply ln_2 before the MLP", key="ln2",
                    help="Default: the authors' convention, MLP applied to p directly (no ln_2).")
    common.publish("ln2", ln2, "1" if ln2 else "0")

v = common.call(common.epe_view, s.model, k_sigma, ln2, n, s.n_tokens)

st.caption(f"Convention shown: EPE = MLP{'(ln_2(p))' if v.ln2 else '(p)'} + p "
           f"({'with ln_2' if v.ln2 else 'no ln_2, as in the authors’ code'}).")
st.metric("Massive coordinates of EPE_1", ", ".join(map(str, v.massive)) or "none")
common.chart(charts.epe_coords(v.coords))
common.chart(charts.epe_validation(v.validation, v.published))
if v.published is not None:
    st.caption("Orange: the circuit paper authors' published percentiles for GPT-2 small (not computed here).")
else:
    st.caption("Published numbers are shown only for GPT-2 small with the authors' convention (no ln_2).")
st.caption(f"Validation over {v.n_inputs} inputs. Corpus: {v.source}")

with st.expander("Tables"):
    common.show_table(v.coords, "epe_coords", "Download EPE_1 coordinates (CSV)")
    common.show_table(v.validation, "epe_validation", "Download validation percentiles (CSV)")

common.try_this("Raise kσ until only one coordinate stays red, then lower it to 2: how clear-cut is “massive”? "
                "Switch on ln_2: do the same coordinates stand out?")
