"""One Altair chart per experiment, from its across-seed summary (mean, error bars = SD across seeds).

Published numbers are separate marks, never merged into computed ones: black-outlined points whose shape
says who published them, with a legend entry ("published (authors)" / "published (extension)"), on the bar
of the model they belong to (the same xOffset as its bar) and, on line charts, in the colour of their curve.
Every chart has ONE dataset (computed and published rows, told apart by `kind`), so it can be faceted.
`save(chart, path_stem, formats)` writes PNG / SVG through vl-convert."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd

from ..published.tables import AUTHORS, EXT

REFERENCES = {AUTHORS: "published (authors)", EXT: "published (extension)"}
SHAPES = {"published (authors)": "diamond", "published (extension)": "triangle-up"}
PUBLISHED_MARK = dict(filled=True, size=80, stroke="black", strokeWidth=0.8, opacity=1)
COMPUTED = "datum.kind == 'computed'"
PUBLISHED = "datum.kind == 'published'"


def _reference_shape(data: pd.DataFrame) -> alt.Shape:
    """Shape by who published the row; the legend lists only the sources present."""
    present = [k for k in SHAPES if k in set(data.get("reference", pd.Series(dtype=object)).dropna())]
    return alt.Shape("reference:N", title="published numbers",
                     scale=alt.Scale(domain=present, range=[SHAPES[k] for k in present]))


def _with_published(df: pd.DataFrame, pub: pd.DataFrame | None, y: str, pub_y: str | None,
                    within: dict[str, list]) -> pd.DataFrame:
    """df (kind computed) and the published rows (kind published, `reference` label) whose values of each
    `within` column are among the computed ones (so every mark stands beside a computed one)."""
    data = df.assign(kind="computed")
    if pub is None or not len(pub) or not pub_y:
        return data
    p = pub.rename(columns={pub_y: y}).assign(kind="published", reference=pub["source"].map(REFERENCES))
    p = p[p[y].notna()]
    for col, values in within.items():
        if col in p.columns:
            p = p[p[col].isin(values)]
    return pd.concat([data, p], ignore_index=True) if len(p) else data


def _bars(df: pd.DataFrame, x: str, y: str, sd: str, color: str, facet: str | None, title: str, y_title: str,
          pub: pd.DataFrame | None = None, pub_y: str | None = None) -> alt.Chart:
    df = df.copy()
    df["lo"], df["hi"] = df[y] - df[sd].fillna(0), df[y] + df[sd].fillna(0)
    within = {x: list(df[x].unique()), color: list(df[color].unique())}
    if facet:
        within[facet] = list(df[facet].unique())
    data = _with_published(df, pub, y, pub_y, within)
    base = alt.Chart(data)
    xenc = alt.X(f"{x}:N", title=None, sort=list(dict.fromkeys(df[x])))
    computed = base.transform_filter(COMPUTED)
    bars = computed.mark_bar().encode(x=xenc, y=alt.Y(f"{y}:Q", title=y_title), color=alt.Color(f"{color}:N"),
                                      xOffset=f"{color}:N", tooltip=[x, color, alt.Tooltip(f"{y}:Q", format=".3f")])
    err = computed.mark_rule(color="black").encode(x=xenc, xOffset=f"{color}:N", y="lo:Q", y2="hi:Q")
    layers = [bars, err]
    if (data["kind"] == "published").any():
        layers.append(base.transform_filter(PUBLISHED).mark_point(color="black", **PUBLISHED_MARK).encode(
            x=xenc, xOffset=f"{color}:N", y=f"{y}:Q", shape=_reference_shape(data),
            tooltip=["reference", "reference_model", color, alt.Tooltip(f"{y}:Q", format=".3f")]))
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
    within = {color: list(df[color].unique())}
    if facet:
        within[facet] = list(df[facet].unique())
    data = _with_published(df, pub, y, pub_y, within)
    base = alt.Chart(data)
    xenc = alt.X(f"{x}:Q", title=x_title)
    if log2_x:  # lengths: doublings evenly spaced, every measured length labelled
        ticks = sorted({int(v) for v in data[x].dropna()})
        xenc = alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log", base=2),
                     axis=alt.Axis(values=ticks, format="d"))
    computed = base.transform_filter(COMPUTED)
    line = computed.mark_line(point=True).encode(
        x=xenc, y=alt.Y(f"{y}:Q", title=y_title), color=alt.Color(f"{color}:N"),
        tooltip=[x, color, alt.Tooltip(f"{y}:Q", format=".3f")])
    band = computed.mark_rule().encode(x=xenc, y="lo:Q", y2="hi:Q", color=f"{color}:N")
    layers = [line, band]
    if (data["kind"] == "published").any():  # in the colour of its curve, shaped by who published it
        layers.append(base.transform_filter(PUBLISHED).mark_point(**PUBLISHED_MARK).encode(
            x=xenc, y=f"{y}:Q", color=alt.Color(f"{color}:N"), shape=_reference_shape(data),
            tooltip=["reference", "reference_model", color, alt.Tooltip(f"{y}:Q", format=".3f")]))
    chart = alt.layer(*layers).properties(width=360, height=220)
    if facet:
        chart = chart.facet(column=alt.Column(f"{facet}:N", title=None))
    return chart.properties(title=title)


def _shown_domain(s: pd.DataFrame) -> pd.DataFrame:
    return s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])]


def _same_domain(pub: pd.DataFrame | None, s: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """The published rows of the domain drawn (s has one), and a title note when only the pooled ones exist."""
    if pub is None or "domain" not in pub.columns or "domain" not in s.columns or s.empty:
        return pub, ""
    shown = s["domain"].iloc[0]
    same = pub[pub["domain"] == shown]
    if len(same) or shown == "all":
        return same, ""
    pooled = pub[pub["domain"] == "all"]
    return pooled, (f" (published marks: the three domains pooled; computed here: {shown} only)" if len(pooled) else "")


def _cost(s: pd.DataFrame, pub: pd.DataFrame | None) -> alt.Chart:
    s = _shown_domain(s)
    s = s[s["intervention"] != "baseline"].copy()
    s["frontier"] = s["on_frontier_share"] >= 0.5
    x, y = "reduction_pct_mean", "ce_change_mean"
    p = None if pub is None else pub[pub["intervention"] != "baseline"].rename(columns={"reduction_pct": x})
    data = _with_published(s, p, y, "ce_change", {"model": list(s["model"].unique())})
    base = alt.Chart(data)
    xenc = alt.X(f"{x}:Q", title="sink reduction at position 0 (% of baseline)")
    computed = base.transform_filter(COMPUTED)
    pts = computed.mark_point(filled=True, size=60).encode(
        x=xenc, y=alt.Y(f"{y}:Q", title="Δ cross-entropy (nats)"), color="model:N",
        shape=alt.Shape("frontier:N", title="on the frontier"),
        tooltip=["model", "intervention", alt.Tooltip(f"{x}:Q", format=".1f"), alt.Tooltip(f"{y}:Q", format=".3f")])
    on = computed.transform_filter("datum.frontier")
    text = on.mark_text(dx=8, align="left", fontSize=10).encode(x=xenc, y=f"{y}:Q", text="intervention:N")
    front = on.mark_line().encode(x=xenc, y=f"{y}:Q", color="model:N", order=f"{x}:Q")
    layers = [front, pts, text]
    if (data["kind"] == "published").any():
        layers.append(base.transform_filter(PUBLISHED).mark_point(color="black", **PUBLISHED_MARK).encode(
            x=xenc, y=f"{y}:Q", shape=_reference_shape(data), tooltip=["reference", "reference_model", "intervention"]))
    return alt.layer(*layers).resolve_scale(shape="independent").properties(
        width=420, height=260, title="Cost of removing the sink: ΔCE vs reduction at position 0 (frontier joined)")


def _emergence(s: pd.DataFrame, pub: pd.DataFrame | None) -> alt.Chart:
    cols = [c for c in s.columns if c.endswith("_mean") and (
        c[:-5] in ("sink", "epe_max", "alignment_heads", "alignment_concat") or c.startswith("pct_"))]
    long = s.melt(["model", "revision", "step"], cols, var_name="measure", value_name="value").dropna(
        subset=["value"])
    long["measure"] = long["measure"].str.removesuffix("_mean")
    data = _with_published(long, pub, "value", "value", {"measure": list(long["measure"].unique()),
                                                         "model": list(long["model"].unique())})
    base = alt.Chart(data)
    computed = base.transform_filter(COMPUTED)
    layers = [computed.mark_line(point=True).encode(
        x=alt.X("step:Q", title="training step"), y=alt.Y("value:Q", title=None), color="model:N",
        tooltip=["revision", "measure", alt.Tooltip("value:Q", format=".3f")])]
    if (data["kind"] == "published").any():
        layers.append(base.transform_filter(PUBLISHED).mark_point(color="black", **PUBLISHED_MARK).encode(
            x="step:Q", y="value:Q", shape=_reference_shape(data),
            tooltip=["reference", "reference_model", "measure", alt.Tooltip("value:Q", format=".3f")]))
    ch = alt.layer(*layers).properties(width=220, height=150).facet(facet=alt.Facet("measure:N", title=None),
                                                                      columns=3)
    return ch.resolve_scale(y="independent").properties(title="Emergence over checkpoints")


def _delta(s: pd.DataFrame, pub: pd.DataFrame | None) -> alt.Chart:
    s = _shown_domain(s)
    first = s[s["position"] == 0].assign(group="position 0")
    later = s[s["position"] > 0]
    other = later.loc[later.groupby(["model", "layer"])["p50_mean"].idxmax()].assign(  # its mean with its own SD
        group="other positions (largest)")
    df = pd.concat([first, other], ignore_index=True)
    df["layer"] = df["layer"].astype(int)
    p = None
    if pub is not None and len(pub):
        p = pub[pub["position"] == 0].assign(group="position 0")
    data = _with_published(df, p, "p50_mean", "p50", {"model": list(df["model"].unique())})
    data["series"] = data["model"] + ": " + data["group"]
    base = alt.Chart(data)
    computed = base.transform_filter(COMPUTED)
    layers = [computed.mark_line(point=True).encode(
        x=alt.X("layer:O", title="layer (0-indexed)"), y=alt.Y("p50_mean:Q", title="median Δ (min-normalised)"),
        color=alt.Color("series:N", title=None), tooltip=["model", "group", "layer", alt.Tooltip("p50_mean:Q",
                                                                                               format=".2f")])]
    if (data["kind"] == "published").any():
        layers.append(base.transform_filter(PUBLISHED).mark_point(color="black", **PUBLISHED_MARK).encode(
            x="layer:O", y="p50_mean:Q", shape=_reference_shape(data),
            tooltip=["reference", "reference_model", "layer", alt.Tooltip("p50_mean:Q", format=".2f")]))
    return alt.layer(*layers).resolve_scale(color="independent").properties(
        width=420, height=240, title="Δ = b_Q·k per head: median at position 0 vs the other positions, per layer")


def chart(experiment: str, summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart | None:
    """The experiment's chart from its across-seed summary (None when there is nothing to draw)."""
    if summary is None or summary.empty:
        return None
    s = summary
    pub = published
    if experiment in ("table1", "combined"):
        s = _shown_domain(s)
        s = s[s["intervention"] != "baseline"]
        p, note = _same_domain(pub, s)
        return _bars(s, "intervention", "pct_of_baseline_mean", "pct_of_baseline_sd", "model", None,
                     f"{experiment}: sink at the intervention's key, % of baseline (mean ± SD across seeds){note}",
                     "% of baseline", p, "pct_of_baseline")
    if experiment == "regimes":
        s = s[s["intervention"] != "baseline"]
        return _bars(s, "intervention", "pct_of_baseline_mean", "pct_of_baseline_sd", "regime", "model",
                     "Content regimes: % of the regime's baseline", "% of baseline", pub, "pct_of_baseline")
    if experiment == "lengths":
        s = s[s["intervention"] != "baseline"]  # 100 % by definition; its own sink is in the table
        p = None if pub is None else pub[pub["intervention"] != "baseline"]
        return _lines(s, "n_tokens", "pct_of_baseline_mean", "pct_of_baseline_sd", "intervention",
                      "Length: sink left as % of the same-length baseline (mean ± SD across seeds)", "tokens",
                      "% of baseline", facet="model", pub=p, pub_y="pct_of_baseline", log2_x=True)
    if experiment == "dose":
        s = _shown_domain(s)
        p, note = _same_domain(pub, s)
        return _lines(s, "alpha", "sink_mean", "sink_sd", "curve", f"Dose-response: sink vs α{note}", "α", "sink",
                      facet="model", pub=p, pub_y="sink")
    if experiment == "pathways":
        s = _shown_domain(s)
        p, note = _same_domain(pub, s)
        p = None if p is None else p.assign(intervention=p["measure"])
        return _bars(s.assign(intervention=s["measure"]), "intervention", "value_mean", "value_sd", "model", None,
                     f"Two pathways onto position 0: full, content-only (T1), bias-only (T3), Δ share{note}",
                     "attention to position 0 / share", p, "value")
    if experiment == "relocation":
        s = _shown_domain(s.assign(intervention="target " + s["target"].astype(str)))
        p, note = _same_domain(pub, s)
        p = None if p is None else p.assign(intervention="target " + p["target"].astype(str))
        return _bars(s, "intervention", "ratio_mean", "ratio_sd", "model", None,
                     f"Relocation: mass moved to the target / baseline mass at 0{note}", "ratio", p, "ratio")
    if experiment == "cost":
        return _cost(s, pub)
    if experiment == "emergence":
        return _emergence(s, pub)
    if experiment == "delta":
        return _delta(s, pub)
    return None


def save(ch: alt.Chart, stem: str | Path, formats=("png", "svg")) -> list[Path]:
    """Write the chart as stem.png / stem.svg (vl-convert); returns the paths written."""
    out = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        ch.save(str(path), format=fmt) if fmt != "png" else ch.save(str(path), format="png", scale_factor=1.5)
        out.append(path)
    return out
