"""One Altair chart per experiment, from its across-seed summary (mean, error bars = SD across seeds);
published numbers drawn as separate black marks labelled "published", never merged into computed marks.
`save(chart, path_stem, formats)` writes PNG / SVG through vl-convert."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd

PUBLISHED_MARK = dict(color="black", shape="diamond", size=70, filled=True)


def _bars(df: pd.DataFrame, x: str, y: str, sd: str, color: str, facet: str | None, title: str, y_title: str,
          pub: pd.DataFrame | None = None, pub_y: str | None = None) -> alt.Chart:
    df = df.copy()
    df["lo"], df["hi"] = df[y] - df[sd].fillna(0), df[y] + df[sd].fillna(0)
    base = alt.Chart(df)
    xenc = alt.X(f"{x}:N", title=None, sort=None)
    bars = base.mark_bar().encode(x=xenc, y=alt.Y(f"{y}:Q", title=y_title), color=alt.Color(f"{color}:N"),
                                  xOffset=f"{color}:N", tooltip=[x, color, alt.Tooltip(f"{y}:Q", format=".3f")])
    err = base.mark_rule(color="black").encode(x=xenc, xOffset=f"{color}:N", y="lo:Q", y2="hi:Q")
    layers = [bars, err]
    if pub is not None and len(pub) and pub_y:
        p = pub.rename(columns={pub_y: y}).assign(published="published (" + pub["reference_model"] + ")")
        layers.append(alt.Chart(p).mark_point(**PUBLISHED_MARK).encode(
            x=xenc, y=f"{y}:Q", tooltip=["source", alt.Tooltip(f"{y}:Q", format=".3f")]))
    chart = alt.layer(*layers)
    chart = chart.properties(width=max(240, 26 * df[x].nunique() * max(1, df[color].nunique())), height=220)
    if facet:
        chart = chart.facet(row=alt.Row(f"{facet}:N", title=None))
    return chart.properties(title=title)


def _lines(df: pd.DataFrame, x: str, y: str, sd: str, color: str, title: str, x_title: str, y_title: str,
           facet: str | None = None, pub: pd.DataFrame | None = None, pub_y: str | None = None,
           log2_x: bool = False) -> alt.Chart:
    df = df.copy()
    df["lo"], df["hi"] = df[y] - df[sd].fillna(0), df[y] + df[sd].fillna(0)
    data = df.assign(kind="computed")
    if pub is not None and len(pub) and pub_y:  # one data source for every layer (a facet needs it)
        p = pub.rename(columns={pub_y: y}).assign(kind="published")
        if facet and facet in p.columns:  # each published row beside the computed model it matches
            p = p[p[facet].isin(df[facet].unique())]
        elif facet:  # no model named: the reference in every panel
            p = pd.concat([p.assign(**{facet: v}) for v in df[facet].unique()], ignore_index=True)
        data = pd.concat([data, p], ignore_index=True)
    base = alt.Chart(data)
    xenc = alt.X(f"{x}:Q", title=x_title)
    if log2_x:  # lengths: doublings evenly spaced, every measured length labelled
        ticks = sorted({int(v) for v in data[x].dropna()})
        xenc = alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log", base=2),
                     axis=alt.Axis(values=ticks, format="d"))
    computed = base.transform_filter("datum.kind == 'computed'")
    line = computed.mark_line(point=True).encode(
        x=xenc, y=alt.Y(f"{y}:Q", title=y_title), color=alt.Color(f"{color}:N"),
        tooltip=[x, color, alt.Tooltip(f"{y}:Q", format=".3f")])
    band = computed.mark_rule().encode(x=xenc, y="lo:Q", y2="hi:Q", color=f"{color}:N")
    layers = [line, band]
    if (data["kind"] == "published").any():
        layers.append(base.transform_filter("datum.kind == 'published'").mark_point(**PUBLISHED_MARK).encode(
            x=xenc, y=f"{y}:Q", tooltip=["source", color, alt.Tooltip(f"{y}:Q", format=".3f")]))
    chart = alt.layer(*layers).properties(width=360, height=220)
    if facet:
        chart = chart.facet(column=alt.Column(f"{facet}:N", title=None))
    return chart.properties(title=title)


def chart(experiment: str, summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart | None:
    """The experiment's chart from its across-seed summary (None when there is nothing to draw)."""
    if summary is None or summary.empty:
        return None
    s = summary
    pub = published
    if experiment in ("table1", "combined"):
        s = s[(s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0]))]
        s = s[s["intervention"] != "baseline"]
        p = None
        if pub is not None:
            p = pub[(pub["domain"] == "all") & pub["intervention"].isin(set(s["intervention"]))]
        return _bars(s, "intervention", "pct_of_baseline_mean", "pct_of_baseline_sd", "model", None,
                     f"{experiment}: sink at the intervention's key, % of baseline (mean ± SD across seeds)",
                     "% of baseline", p, "pct_of_baseline")
    if experiment == "regimes":
        s = s[s["intervention"] != "baseline"]
        return _bars(s, "intervention", "pct_of_baseline_mean", "pct_of_baseline_sd", "regime", "model",
                     "Content regimes: % of the regime's baseline", "% of baseline")
    if experiment == "lengths":
        p = None if pub is None else pub[pub["intervention"].isin(set(s["intervention"]))]
        s = s[s["intervention"] != "baseline"]  # 100 % by definition; its own sink is in the table
        p = None if p is None else p[p["intervention"] != "baseline"]
        return _lines(s, "n_tokens", "pct_of_baseline_mean", "pct_of_baseline_sd", "intervention",
                      "Length: sink left as % of the same-length baseline (mean ± SD across seeds)", "tokens",
                      "% of baseline", facet="model", pub=p, pub_y="pct_of_baseline", log2_x=True)
    if experiment == "dose":
        s = s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])]
        p = None if pub is None else pub.assign(curve_title=pub["curve"])
        return _lines(s, "alpha", "sink_mean", "sink_sd", "curve", "Dose-response: sink vs α", "α", "sink",
                      facet="model", pub=p, pub_y="sink")
    if experiment == "pathways":
        s = s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])]
        p = None if pub is None else pub.assign(intervention=pub["measure"])
        return _bars(s.assign(intervention=s["measure"]), "intervention", "value_mean", "value_sd", "model", None,
                     "Two pathways onto position 0: full, content-only (T1), bias-only (T3), Δ share",
                     "attention to position 0 / share", p, "value")
    if experiment == "relocation":
        s = s.assign(intervention="target " + s["target"].astype(str))
        s = s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])]
        p = None if pub is None else pub.assign(intervention="target " + pub["target"].astype(str))
        return _bars(s, "intervention", "ratio_mean", "ratio_sd", "model", None,
                     "Relocation: mass moved to the target / baseline mass at 0", "ratio", p, "ratio")
    if experiment == "cost":
        s = s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])]
        s = s[s["intervention"] != "baseline"].copy()
        s["frontier"] = s["on_frontier_share"] >= 0.5
        pts = alt.Chart(s).mark_point(filled=True, size=60).encode(
            x=alt.X("reduction_pct_mean:Q", title="sink reduction (% of baseline)"),
            y=alt.Y("ce_change_mean:Q", title="Δ cross-entropy (nats)"), color="model:N",
            shape=alt.Shape("frontier:N", title="on the frontier"),
            tooltip=["model", "intervention", alt.Tooltip("reduction_pct_mean:Q", format=".1f"),
                     alt.Tooltip("ce_change_mean:Q", format=".3f")])
        text = alt.Chart(s[s["frontier"]]).mark_text(dx=8, align="left", fontSize=10).encode(
            x="reduction_pct_mean:Q", y="ce_change_mean:Q", text="intervention:N")
        front = alt.Chart(s[s["frontier"]]).mark_line().encode(
            x="reduction_pct_mean:Q", y="ce_change_mean:Q", color="model:N", order="reduction_pct_mean:Q")
        layers = [front, pts, text]
        if pub is not None and len(pub):
            p = pub[pub["intervention"] != "baseline"]
            layers.append(alt.Chart(p).mark_point(**PUBLISHED_MARK).encode(
                x="reduction_pct:Q", y="ce_change:Q", tooltip=["source", "intervention"]))
        return alt.layer(*layers).properties(width=420, height=260,
                                             title="Cost of removing the sink: ΔCE vs reduction (frontier joined)")
    if experiment == "emergence":
        cols = [c for c in s.columns if c.endswith("_mean") and c[:-5] in ("sink", "epe_max", "alignment")
                or c.startswith("pct_") and c.endswith("_mean")]
        long = s.melt(["model", "revision", "step"], cols, var_name="measure", value_name="value").dropna(
            subset=["value"])
        long["measure"] = long["measure"].str.removesuffix("_mean")
        ch = alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("step:Q", title="training step"), y=alt.Y("value:Q", title=None),
            color="model:N", tooltip=["revision", "measure", alt.Tooltip("value:Q", format=".3f")],
        ).properties(width=220, height=150).facet(facet=alt.Facet("measure:N", title=None), columns=3)
        ch = ch.resolve_scale(y="independent")
        return ch.properties(title="Emergence over checkpoints")
    return None


def save(ch: alt.Chart, stem: str | Path, formats=("png", "svg")) -> list[Path]:
    """Write the chart as stem.png / stem.svg (vl-convert); returns the paths written."""
    out = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        ch.save(str(path), format=fmt) if fmt != "png" else ch.save(str(path), format="png", scale_factor=1.5)
        out.append(path)
    return out
