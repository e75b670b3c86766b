"""Relocation: transplant EPE_0 to a target position; how much of the baseline sink at 0 arrives there."""
from __future__ import annotations

import math

import pandas as pd

from ...published import beside
from .. import figures, tables
from ..experiment import Experiment, Option


class Relocation(Experiment, name="relocation"):
    """the transplant's relocation ratio: mass moved to the target / baseline mass at 0"""

    options = (Option("targets", (1,), "relocation targets", kind=int, low=1),)
    keys = ("model", "domain", "target")
    values = ("baseline_at_0", "moved_to_target", "baseline_at_target", "left_at_0", "ratio", "net_ratio")
    per_seed = ("n",)
    shown = ("model", "domain", "target", "ratio", "net_ratio", "moved_to_target", "baseline_at_0")
    pooled_only = True
    published = beside.relocation_rows

    def settings(self, plan):
        return ("baseline", *(f"transplant@{k}" for k in plan.targets))

    def keys_measured(self, plan):
        return plan.targets  # the baseline's attention at each target (net_ratio)

    def table(self, raw, plan):
        s = tables.by_domain(raw.examples, plan, self.settings(plan))
        if s.empty:
            return s
        rows = []
        for _, r in s[s["setting"].str.startswith("transplant@")].iterrows():
            k = int(r["setting"].split("@")[1])
            base0, at_k, base_k = r["base_first"], r["sink"], r.get(f"base_at_{k}", math.nan)
            rows.append({"model": r["model"], "seed": r["seed"], "domain": r["domain"], "target": k, "n": r["n"],
                         "baseline_at_0": base0, "moved_to_target": at_k, "baseline_at_target": base_k,
                         "left_at_0": r["first"], "ratio": at_k / base0 if base0 else math.nan,  # no sink: undefined
                         "net_ratio": (at_k - base_k) / base0 if base0 else math.nan})
        return pd.DataFrame(rows)

    def figure(self, summary, published):
        s = figures.shown_domain(summary.assign(intervention="target " + summary["target"].astype(str)))
        p, note = figures.same_domain(published, s)
        p = None if p is None else p.assign(intervention="target " + p["target"].astype(str))
        return figures.bars(s, "intervention", "ratio_mean", "ratio_sd", "model", None,
                            f"Relocation: mass moved to the target / baseline mass at 0{note}", "ratio", p, "ratio")
