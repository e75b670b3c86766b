"""The cost of removing the sink: each cut's cross-entropy change against how much of the sink at position 0 it
removes, and the Pareto frontier."""
from __future__ import annotations

import altair as alt

from ...interventions import signature_names, with_role
from ...published import beside
from .. import figures, tables
from ..experiment import Experiment
from ..markdown import summary_markdown

COST_EXTRA = ("dose:b:0.5", "dose:b:0.75")  # b_Q scaled, not removed: the cheap end of the frontier
COST_COLS = [*tables.BASE_COLS[:tables.BASE_COLS.index("first")], "first", "base_first", "reduction_pct", "ce",
             "ce_change"]


class Cost(Experiment, name="cost"):
    """cross-entropy cost of each intervention against its sink reduction; the cost/reduction frontier"""

    ce = True
    keys = ("model", "domain", "intervention", "title")
    values = ("sink", "pct_of_baseline", "base_first", "reduction_pct", "ce", "ce_change")
    per_seed = ("key", "n", "se", "first")
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
        s["on_frontier"] = False
        for _, g in s.groupby(["model", "seed", "domain"]):
            g = g[g["intervention"] != "baseline"].dropna(subset=["ce_change", "reduction_pct"])
            for i, r in g.iterrows():  # Pareto: no other setting cuts more for no more cost
                dominated = ((g["reduction_pct"] >= r["reduction_pct"]) & (g["ce_change"] <= r["ce_change"]) &
                             ((g["reduction_pct"] > r["reduction_pct"]) | (g["ce_change"] < r["ce_change"]))).any()
                s.loc[i, "on_frontier"] = not dominated
        return s

    def markdown(self, res, table, summary, published):
        frontier = {} if "on_frontier_share" not in summary.columns else {
            "on frontier": lambda s: s["on_frontier_share"].map(lambda x: "yes" if x >= 0.5 else "")}
        movers = ", ".join(with_role("moves the sink"))
        return [summary_markdown(self, summary, len(res.plan.seeds), frontier), "",
                "Reduction = 100 (1 − sink at position 0 / the baseline's): how much of the sink at the first "
                f"token each setting removes (for {movers} too, whose `sink` column is the attention at their "
                "target position).", ""]

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
