"""Dose-response: the sink as each wire is turned down and up by α (scale b_Q, scale the selected rows of W_k,
interpolate PE_0 -> PE_1)."""
from __future__ import annotations

from ...published import beside
from .. import figures, tables
from ..experiment import Experiment, Option
from ..settings import DOSE_CURVES

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


class Dose(Experiment, name="dose"):
    """dose grids over α: scale b_Q, scale the selected W_k rows, interpolate PE_0 → PE_1"""

    options = (Option("alphas", ALPHAS, "dose grid", kind=float, low=0, flag_parse=float),)
    keys = ("model", "domain", "curve", "curve_title", "alpha")
    values = ("sink", "pct_of_baseline")
    per_seed = ("n", "se")
    shown = ("model", "domain", "curve", "alpha", "sink", "pct_of_baseline")
    pooled_only = True
    published = beside.dose_rows

    def settings(self, plan):
        return ("baseline", *(f"dose:{c}:{a:g}" for c in DOSE_CURVES for a in plan.alphas))

    def table(self, raw, plan):
        s = tables.by_domain(raw.examples, plan, self.settings(plan))
        if s.empty:
            return s
        s = s[s["setting"] != "baseline"].copy()
        if s.empty:  # no dose ran on this model (each refused, with its reason in errors)
            return s
        parts = s["setting"].str.split(":", expand=True)
        s["curve"], s["alpha"] = parts[1], parts[2].astype(float)
        s["curve_title"] = s["curve"].map(DOSE_CURVES)
        cols = ["model", "seed", "domain", "curve", "curve_title", "alpha", "n", "sink", "se", "pct_of_baseline"]
        return s.sort_values(["model", "seed", "domain", "curve", "alpha"], kind="stable")[cols].reset_index(drop=True)

    def figure(self, summary, published):
        s = figures.shown_domain(summary)
        p, note = figures.same_domain(published, s)
        return figures.lines(s, "alpha", "sink_mean", "sink_sd", "curve", f"Dose-response: sink vs α{note}", "α",
                             "sink", facet="model", pub=p, pub_y="sink")
