"""The authors' per-head Δ = b_Q·k percentile table, per layer and position (min-normalised, pooled over inputs
and heads); the published one beside for GPT-2 small."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ...analyses.decomposition import delta_values, percentiles_authors
from ...published import beside
from .. import figures
from ..experiment import Experiment
from ..markdown import md_table

PERCENTILES = ("p10", "p50", "p90", "mean", "std")


def _view(d: pd.DataFrame) -> pd.DataFrame:
    first = d[d["position"] == 0].set_index("layer")[["p10", "p50", "p90"]].add_prefix("pos0 ")
    other = d[d["position"] > 0].groupby("layer")["p90"].max().rename("other p90 max")
    v = first.join(other).reset_index()
    v["pos0 p10 > other p90"] = v["pos0 p10"] > v["other p90 max"]
    return v


class Delta(Experiment, name="delta"):
    """the per-head Δ = b_Q·k percentiles per layer and position (the authors' table), min-normalised"""

    keys = ("model", "domain", "layer", "position")
    values = PERCENTILES
    published = beside.delta_rows
    published_in_report = False  # its markdown puts them beside, per layer

    def settings(self, plan):
        return ("baseline",)

    def measure(self, job, lm, ids, band, batch_size):
        return delta_values(lm, ids, batch_size)  # NotApplicable without b_Q and on rotary models

    def table(self, raw, plan):
        """Per model, seed, domain (and 'all', the domains pooled), layer and position: the authors' Δ percentile
        table, pooled over examples and heads."""
        rows = raw.measured.get(self.name)
        if rows is None or rows.empty:
            return pd.DataFrame()
        rows = rows[rows["regime"].isin(plan.domains) & (rows["revision"] == "") & (rows["n_tokens"] == plan.n_tokens)]
        if rows.empty:
            return pd.DataFrame()
        rows = pd.concat([rows, rows.assign(regime="all")], ignore_index=True)  # the domains pooled (examples unused)
        out = percentiles_authors(rows, ["model", "seed", "regime", "layer", "position"]).rename(
            columns={"regime": "domain"})
        drank = {d: i for i, d in enumerate((*plan.domains, "all"))}
        mrank = {m: i for i, m in enumerate(plan.models)}
        out = out.assign(_m=out["model"].map(mrank), _d=out["domain"].map(drank))
        out = out.sort_values(["_m", "seed", "_d", "layer", "position"], kind="stable").drop(columns=["_m", "_d"])
        return out.reset_index(drop=True)[["model", "seed", "domain", "layer", "position", *PERCENTILES]]

    def markdown(self, res, table, summary, published):
        """Per model: position 0's p10 / p50 / p90 and the other positions' largest p90, per layer; the published
        ones beside (labelled) for a model that is GPT-2 small. The full table is in delta.csv."""
        lines = []
        for model, g in table.groupby("model", sort=False):
            dom = "all" if "all" in set(g["domain"]) else g["domain"].iloc[0]
            g = g[(g["domain"] == dom) & (g["seed"] == g["seed"].iloc[0])]
            view = _view(g)
            p = None if published is None else published[published["model"] == model]
            if p is not None and len(p):
                pv = _view(p).add_prefix("published ").rename(columns={"published layer": "layer"})
                view = view.merge(pv, on="layer", how="left")
                src = p["source"].iloc[0].removeprefix("published by ")
                lines.append(f"{model} (domain {dom}, seed {g['seed'].iloc[0]}); columns \"published …\" are {src}, "
                             f"{p['reference_model'].iloc[0]}, 300 inputs (reference numbers, not computed here):")
            else:
                lines.append(f"{model} (domain {dom}, seed {g['seed'].iloc[0]}):")
            lines += ["", md_table(view, max_rows=80), ""]
        return lines + [""]

    def figure(self, summary, published):
        s = figures.shown_domain(summary)
        first = s[s["position"] == 0].assign(group="position 0")
        later = s[s["position"] > 0]
        other = later.loc[later.groupby(["model", "layer"])["p50_mean"].idxmax()].assign(  # its mean with its own SD
            group="other positions (largest)")
        df = pd.concat([first, other], ignore_index=True)
        df["layer"] = df["layer"].astype(int)
        p = None
        if published is not None and len(published):
            p = published[published["position"] == 0].assign(group="position 0")
        data = figures.with_published(df, p, "p50_mean", "p50", {"model": list(df["model"].unique())})
        data["series"] = data["model"] + ": " + data["group"]
        base = alt.Chart(data)
        computed = base.transform_filter(figures.COMPUTED)
        layers = [computed.mark_line(point=True).encode(
            x=alt.X("layer:O", title="layer (0-indexed)"), y=alt.Y("p50_mean:Q", title="median Δ (min-normalised)"),
            color=alt.Color("series:N", title=None),
            tooltip=["model", "group", "layer", alt.Tooltip("p50_mean:Q", format=".2f")])]
        if (data["kind"] == "published").any():
            layers.append(base.transform_filter(figures.IS_PUBLISHED).mark_point(
                color="black", **figures.PUBLISHED_MARK).encode(
                x="layer:O", y="p50_mean:Q", shape=figures.reference_shape(data),
                tooltip=["reference", "reference_model", "layer", alt.Tooltip("p50_mean:Q", format=".2f")]))
        return alt.layer(*layers).resolve_scale(color="independent").properties(
            width=420, height=240, title="Δ = b_Q·k per head: median at position 0 vs the other positions, per layer")
