"""One Altair chart per experiment, from its across-seed summary (mean, error bars = SD across seeds): the helpers
every experiment's `figure` draws with (bars, lines, published marks), and `chart(name, ...)` to draw one.

Published numbers are separate marks, never merged into computed ones: black-outlined points whose shape
says who published them, with a legend entry ("published (authors)" / "published (extension)"), on the bar
of the model they belong to (the same xOffset as its bar) and, on line charts, in the colour of their curve.
Every chart has ONE dataset (computed and published rows, told apart by `kind`), so it can be faceted.
`save(chart, path_stem, formats)` writes PNG / SVG through vl-convert."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd

from ..published.beside import AUTHORS, EXT
from .experiment import REGISTRY

REFERENCES = {AUTHORS: "published (authors)", EXT: "published (extension)"}
SHAPES = {"published (authors)": "diamond", "published (extension)": "triangle-up"}
PUBLISHED_MARK = dict(filled=True, size=80, stroke="black", strokeWidth=0.8, opacity=1)
COMPUTED = "datum.kind == 'computed'"
IS_PUBLISHED = "datum.kind == 'published'"  # a Vega filter


def reference_shape(data: pd.DataFrame) -> alt.Shape:
    """Shape by who published the row; the legend lists only the sources present."""
    present = [k for k in SHAPES if k in set(data.get("reference", pd.Series(dtype=object)).dropna())]
    return alt.Shape("reference:N", title="published numbers",
                     scale=alt.Scale(domain=present, range=[SHAPES[k] for k in present]))


def with_published(df: pd.DataFrame, pub: pd.DataFrame | None, y: str, pub_y: str | None,
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


def bars(df: pd.DataFrame, x: str, y: str, sd: str, color: str, facet: str | None, title: str, y_title: str,
          pub: pd.DataFrame | None = None, pub_y: str | None = None) -> alt.Chart:
    df = df.copy()
    df["lo"], df["hi"] = df[y] - df[sd].fillna(0), df[y] + df[sd].fillna(0)
    within = {x: list(df[x].unique()), color: list(df[color].unique())}
    if facet:
        within[facet] = list(df[facet].unique())
    data = with_published(df, pub, y, pub_y, within)
    base = alt.Chart(data)
    xenc = alt.X(f"{x}:N", title=None, sort=list(dict.fromkeys(df[x])))
    computed = base.transform_filter(COMPUTED)
    bars = computed.mark_bar().encode(x=xenc, y=alt.Y(f"{y}:Q", title=y_title), color=alt.Color(f"{color}:N"),
                                      xOffset=f"{color}:N", tooltip=[x, color, alt.Tooltip(f"{y}:Q", format=".3f")])
    err = computed.mark_rule(color="black").encode(x=xenc, xOffset=f"{color}:N", y="lo:Q", y2="hi:Q")
    layers = [bars, err]
    if (data["kind"] == "published").any():
        layers.append(base.transform_filter(IS_PUBLISHED).mark_point(color="black", **PUBLISHED_MARK).encode(
            x=xenc, xOffset=f"{color}:N", y=f"{y}:Q", shape=reference_shape(data),
            tooltip=["reference", "reference_model", color, alt.Tooltip(f"{y}:Q", format=".3f")]))
    chart = alt.layer(*layers)
    chart = chart.properties(width=max(240, 26 * df[x].nunique() * max(1, df[color].nunique())), height=220)
    if facet:
        chart = chart.facet(row=alt.Row(f"{facet}:N", title=None))
    return chart.properties(title=title)


def lines(df: pd.DataFrame, x: str, y: str, sd: str, color: str, title: str, x_title: str, y_title: str,
           facet: str | None = None, pub: pd.DataFrame | None = None, pub_y: str | None = None,
           log2_x: bool = False) -> alt.Chart:
    df = df.copy()
    df["lo"], df["hi"] = df[y] - df[sd].fillna(0), df[y] + df[sd].fillna(0)
    within = {color: list(df[color].unique())}
    if facet:
        within[facet] = list(df[facet].unique())
    data = with_published(df, pub, y, pub_y, within)
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
        layers.append(base.transform_filter(IS_PUBLISHED).mark_point(**PUBLISHED_MARK).encode(
            x=xenc, y=f"{y}:Q", color=alt.Color(f"{color}:N"), shape=reference_shape(data),
            tooltip=["reference", "reference_model", color, alt.Tooltip(f"{y}:Q", format=".3f")]))
    chart = alt.layer(*layers).properties(width=360, height=220)
    if facet:
        chart = chart.facet(column=alt.Column(f"{facet}:N", title=None))
    return chart.properties(title=title)


def shown_domain(s: pd.DataFrame) -> pd.DataFrame:
    return s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])]


def same_domain(pub: pd.DataFrame | None, s: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """The published rows of the domain drawn (s has one), and a title note when only the pooled ones exist."""
    if pub is None or "domain" not in pub.columns or "domain" not in s.columns or s.empty:
        return pub, ""
    shown = s["domain"].iloc[0]
    same = pub[pub["domain"] == shown]
    if len(same) or shown == "all":
        return same, ""
    pooled = pub[pub["domain"] == "all"]
    return pooled, (f" (published marks: the three domains pooled; computed here: {shown} only)" if len(pooled) else "")


def pct_bars(experiment: str, s: pd.DataFrame, pub: pd.DataFrame | None) -> alt.Chart:
    """Per intervention: the sink at its key as % of baseline, one bar per model (the domains pooled where they
    are; the baseline, 100 % by definition, left out): table1's and combined's chart."""
    s = shown_domain(s)
    s = s[s["intervention"] != "baseline"]
    p, note = same_domain(pub, s)
    return bars(s, "intervention", "pct_of_baseline_mean", "pct_of_baseline_sd", "model", None,
                f"{experiment}: sink at the intervention's key, % of baseline (mean ± SD across seeds){note}",
                "% of baseline", p, "pct_of_baseline")


def chart(experiment: str, summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart | None:
    """The experiment's chart from its across-seed summary (its Experiment.figure; None when there is nothing to
    draw)."""
    if summary is None or summary.empty:
        return None
    return REGISTRY[experiment].figure(summary, published)


def save(ch: alt.Chart, stem: str | Path, formats=("png", "svg")) -> list[Path]:
    """Write the chart as stem.png / stem.svg (vl-convert); returns the paths written."""
    out = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        ch.save(str(path), format=fmt) if fmt != "png" else ch.save(str(path), format="png", scale_factor=1.5)
        out.append(path)
    return out
