"""The cost of removing the sink: each cut's cross-entropy change against how much of the sink at position 0 it
removes, and the Pareto frontier."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ...interventions import signature_names, with_role
from ...published import beside
from .. import figures, tables
from ..experiment import Experiment
from ..markdown import summary_markdown

COST_EXTRA = ("dose:b:0.5", "dose:b:0.75")  # b_Q scaled, not removed: the cheap end of the frontier
COST_COLS = [*tables.BASE_COLS[:tables.BASE_COLS.index("first")], "first", "base_first", "reduction_pct", "ce",
             "ce_change"]
# Two settings closer than this are the same point of the frontier (neither dominates the other): float noise, e.g.
# (d) and transplant@1, the same edit computed in different batches, differ by ~1e-8. Both are far below what
# report.md shows (0.1 % of reduction, 0.001 nats).
REDUCTION_TOL = 1e-3  # percentage points of reduction_pct
CE_TOL = 1e-4  # nats of ce_change


def frontier(g: pd.DataFrame) -> pd.Series:
    """The frontier status of each setting of one (model, seed, domain) — columns intervention, reduction_pct,
    ce_change: "on" (Pareto: no other setting removes more of the sink at position 0 for no more cost, beyond
    the tolerances REDUCTION_TOL / CE_TOL), "dominated", "raises" (reduction < -REDUCTION_TOL) or "none"
    (|reduction| <= REDUCTION_TOL): a setting that removes nothing is never on the frontier, however cheap;
    "n/a" (no number); "" for the baseline. Settings that do not apply to a model (declared no-ops) never reach
    this table: the sweep refuses them (a "not run" row)."""
    out = pd.Series("", index=g.index, dtype=object)
    red, ce = g["reduction_pct"], g["ce_change"]
    setting = g["intervention"] != "baseline"
    out[setting & (red.isna() | ce.isna())] = "n/a"
    out[setting & (red < -REDUCTION_TOL)] = "raises"
    out[setting & red.between(-REDUCTION_TOL, REDUCTION_TOL)] = "none"
    cand = g[setting & (red > REDUCTION_TOL) & ce.notna()]
    for i, r in cand.iterrows():
        no_less = (cand["reduction_pct"] >= r["reduction_pct"] - REDUCTION_TOL) & \
                  (cand["ce_change"] <= r["ce_change"] + CE_TOL)
        better = (cand["reduction_pct"] > r["reduction_pct"] + REDUCTION_TOL) | \
                 (cand["ce_change"] < r["ce_change"] - CE_TOL)
        out[i] = "dominated" if (no_less & better).any() else "on"
    return out


class Cost(Experiment, name="cost"):
    """cross-entropy cost of each intervention against its sink reduction; the cost/reduction frontier"""

    ce = True
    keys = ("model", "domain", "intervention", "title")
    values = ("sink", "pct_of_baseline", "base_first", "reduction_pct", "ce", "ce_change")
    per_seed = ("key", "n", "se", "first", "frontier")
    carried = {"on_frontier": "share"}
    shown = ("model", "domain", "intervention", "ce_change", "reduction_pct")
    pooled_only = True
    published = beside.cost_rows
    states_definitions = True

    def settings(self, plan):
        return (*signature_names(), *COST_EXTRA)

    def table(self, raw, plan):
        """ΔCE against the reduction of the sink AT POSITION 0 (first vs the baseline's first), for every setting:
        reduction_pct = 100 (1 - first / base_first). `sink` / `pct_of_baseline` stay the attention at the
        setting's key (position k for transplant, isolate, amplify: where they move the sink), as in Table 1."""
        s = tables.by_domain(raw.examples, plan, self.settings(plan))
        if s.empty:
            return s
        base = s["base_first"].where(s["base_first"] > 0)  # no sink at position 0: nothing to reduce (NaN)
        s = s.assign(reduction_pct=100 * (1 - s["first"] / base))
        s = tables.finish(s, COST_COLS)
        s["frontier"] = ""
        for _, g in s.groupby(["model", "seed", "domain"]):
            s.loc[g.index, "frontier"] = frontier(g)
        s["on_frontier"] = s["frontier"] == "on"
        return s

    def markdown(self, res, table, summary, published):
        def shown(s):
            red = s["reduction_pct_mean"]
            return pd.Series(["yes" if on >= 0.5 else "no: raises the sink" if r < -REDUCTION_TOL else
                              "no: removes nothing" if abs(r) <= REDUCTION_TOL else ""
                              for on, r in zip(s["on_frontier_share"], red)], index=s.index).where(
                s["intervention"] != "baseline", "")

        frontier_col = {} if "on_frontier_share" not in summary.columns else {"on frontier": shown}
        movers = ", ".join(with_role("moves the sink"))
        return [summary_markdown(self, summary, len(res.plan.seeds), frontier_col), "",
                "Reduction = 100 (1 − sink at position 0 / the baseline's): how much of the sink at the first "
                f"token each setting removes (for {movers} too, whose `sink` column is the attention at their "
                "target position). The frontier: the settings no other setting beats on both — removing more of "
                f"the sink for no more cost — with a tolerance ({REDUCTION_TOL:g} percentage points, {CE_TOL:g} "
                "nats: closer settings are the same point, e.g. (d) and transplant@1); a setting that raises the "
                "sink or removes nothing is never on it; settings that do not apply to a model are not run.", ""]

    def figure(self, summary, published):
        s = figures.shown_domain(summary)
        s = s[s["intervention"] != "baseline"].copy()
        s["frontier"] = s["on_frontier_share"] >= 0.5
        x, y = "reduction_pct_mean", "ce_change_mean"
        p = None if published is None else published[published["intervention"] != "baseline"].rename(
            columns={"reduction_pct": x})
        data = figures.with_published(s, p, y, "ce_change", {"model": list(s["model"].unique())})
        base = alt.Chart(data)
        xenc = alt.X(f"{x}:Q", title="sink reduction at position 0 (% of baseline)")
        computed = base.transform_filter(figures.COMPUTED)
        pts = computed.mark_point(filled=True, size=60).encode(
            x=xenc, y=alt.Y(f"{y}:Q", title="Δ cross-entropy (nats)"), color="model:N",
            shape=alt.Shape("frontier:N", title="on the frontier"),
            tooltip=["model", "intervention", alt.Tooltip(f"{x}:Q", format=".1f"), alt.Tooltip(f"{y}:Q", format=".3f")])
        on = computed.transform_filter("datum.frontier")
        text = on.mark_text(dx=8, align="left", fontSize=10).encode(x=xenc, y=f"{y}:Q", text="intervention:N")
        front = on.mark_line().encode(x=xenc, y=f"{y}:Q", color="model:N", order=f"{x}:Q")
        layers = [front, pts, text]
        if (data["kind"] == "published").any():
            layers.append(base.transform_filter(figures.IS_PUBLISHED).mark_point(
                color="black", **figures.PUBLISHED_MARK).encode(
                x=xenc, y=f"{y}:Q", shape=figures.reference_shape(data),
                tooltip=["reference", "reference_model", "intervention"]))
        return alt.layer(*layers).resolve_scale(shape="independent").properties(
            width=420, height=260, title="Cost of removing the sink: ΔCE vs reduction at position 0 (frontier joined)")
