"""The two pathways onto position 0: attention from the content term alone (T1) and from the b_Q term alone (T3)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...analyses.pathways import pathways
from ...published import beside
from .. import figures
from ..experiment import Experiment
from ..tables import GROUP, pooled

MEASURES = ["full", "content_only", "bias_only", "delta_share"]


class Pathways(Experiment, name="pathways"):
    """the two-pathway split: attention to position 0 from T1 (content) only and T3 (b_Q) only"""

    keys = ("model", "domain", "measure")
    values = ("value",)
    per_seed = ("n", "se")
    shown = ("model", "domain", "measure", "value")
    pooled_only = True
    published = beside.pathways_rows

    def settings(self, plan):
        return ("baseline",)

    def measure(self, job, lm, ids, band, batch_size):
        return pathways(lm, ids, band, batch_size)  # NotApplicable on rotary models and without b_Q

    def table(self, raw, plan):
        rows = raw.measured.get(self.name)
        if rows is None or rows.empty:
            return pd.DataFrame()
        rows = rows[rows["regime"].isin(plan.domains) & (rows["revision"] == "")]
        rows = pd.concat([rows, pooled(rows, plan.domains)], ignore_index=True)
        long = rows.melt(GROUP + ["example"], MEASURES, var_name="measure", value_name="v")
        g = long.groupby(GROUP + ["measure"], sort=False)["v"]
        out = pd.DataFrame({"n": g.count(), "value": g.mean(), "se": g.std() / np.sqrt(g.count())}).reset_index()
        out["se"] = out["se"].fillna(0.0)
        out = out.rename(columns={"regime": "domain"})
        return out[["model", "seed", "domain", "measure", "n", "value", "se"]]

    def figure(self, summary, published):
        s = figures.shown_domain(summary)
        p, note = figures.same_domain(published, s)
        p = None if p is None else p.assign(intervention=p["measure"])
        title = f"Two pathways onto position 0: full, content-only (T1), bias-only (T3), Δ share{note}"
        return figures.bars(s.assign(intervention=s["measure"]), "intervention", "value_mean", "value_sd", "model",
                            None, title, "attention to position 0 / share", p, "value")
