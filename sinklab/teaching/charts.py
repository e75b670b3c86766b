"""Altair charts for the lessons: pure functions DataFrame -> alt.Chart, shared by the app and the tutorials.

Every function takes a table from a `sinklab.teaching.lessons` result (column names as documented there),
filters/encodes it and returns a chart with a title and labelled axes. No analysis happens here.
Positions are shown 0-indexed as in the tables ("position 0" = the paper's position 1).
"""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from ..experiments import figures
from ..interventions import REGISTRY, describe

FIRST = "#d62728"  # the first position / the massive coordinates
OTHER = "#4c78a8"  # everything else
PUBLISHED_COLOUR = "#ff7f0e"  # the authors' published numbers
PUBLISHED_LABEL = "published (GPT-2, authors)"
HEAT = "viridis"
DIVERGING = "redblue"

alt.data_transformers.disable_max_rows()


def _first_flag(df: pd.DataFrame, position: str = "position") -> pd.Series:
    return df[position] == 0 if "first" not in df.columns else df["first"].astype(bool)


def _label_first(flag: pd.Series, yes: str = "first position", no: str = "other positions") -> pd.Series:
    return flag.map({True: yes, False: no})


def _group_scale(yes: str = "first position", no: str = "other positions") -> alt.Scale:
    return alt.Scale(domain=[yes, no], range=[FIRST, OTHER])


TOKEN_AXIS_MAX = 64  # up to this many tokens the axes name them; past it, positions
LABEL_SIZE = 11  # px, tick labels


def _token_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Add query_label / key_label = "position token" (unique, so repeated tokens stay apart)."""
    def lab(pos, tok):
        t = str(tok).replace("\n", "⏎").replace(" ", "␣")
        return f"{pos} {t[:12]}"
    df = df.copy()
    for side in ("query", "key"):
        tok = f"{side}_token"
        df[f"{side}_label"] = [lab(p, t) for p, t in zip(df[side], df[tok])] if tok in df.columns else df[side].astype(str)
    return df


def _pos_axes(df: pd.DataFrame, x_title: str, y_title: str) -> tuple[alt.X, alt.Y, pd.DataFrame]:
    """Ordinal position axes, naming the tokens when there are at most TOKEN_AXIS_MAX of them."""
    n = int(df["key"].max()) + 1 if len(df) else 0
    if "key_token" in df.columns and n <= TOKEN_AXIS_MAX:
        df = _token_labels(df)
        order = df.drop_duplicates("key").sort_values("key")["key_label"].tolist()
        qorder = df.drop_duplicates("query").sort_values("query")["query_label"].tolist()
        return (alt.X("key_label:O", sort=order, title=x_title, axis=alt.Axis(labelFontSize=LABEL_SIZE, labelAngle=-60)),
                alt.Y("query_label:O", sort=qorder, title=y_title, axis=alt.Axis(labelFontSize=LABEL_SIZE)), df)
    every = max(1, n // 16)
    axis = alt.Axis(labelFontSize=LABEL_SIZE, values=list(range(0, n, every)))
    return alt.X("key:O", title=x_title, axis=axis), alt.Y("query:O", title=y_title, axis=axis), df


def _heat(df: pd.DataFrame, value: str, title: str, tooltip: list, domain=None, scheme: str = HEAT,
          size: int = 320) -> alt.Chart:
    scale = alt.Scale(scheme=scheme, domain=domain) if domain is not None else alt.Scale(scheme=scheme)
    x, y, df = _pos_axes(df, "key position (attended to)", "query position (attending)")
    n = int(df["key"].max()) + 1 if len(df) else 1
    side = max(size, min(14 * n, 720)) if "key_label" in df.columns else size
    return alt.Chart(df, title=title).mark_rect().encode(
        x=x, y=y, color=alt.Color(f"{value}:Q", scale=scale, title=value), tooltip=tooltip,
    ).properties(width=side, height=side)


def _map_tooltip(df: pd.DataFrame, value: str = "weight") -> list:
    cols = ["query", "query_token", "key", "key_token"]
    return [c for c in cols if c in df.columns] + [alt.Tooltip(f"{value}:Q", format=".3f")]


# ---------------------------------------------------------------- Start
def attention_map(maps, layer: int, head="mean") -> alt.Chart:
    """Heatmap query x key of one layer's attention (head 'mean' = head average); token tooltips.

    maps: a lessons.AttentionMaps."""
    df = maps.frame(layer, head)
    who = "mean over heads" if str(head) == "mean" else f"head {head}"
    return _heat(df, "weight", f"Attention, layer {layer} ({who})", _map_tooltip(df), domain=[0, 1])


def head_grid(heads: pd.DataFrame, title: str = "Attention mass to position 0, per layer and head") -> alt.Chart:
    """Layer x head heatmap of `value` (e.g. attention mass to the first position)."""
    return alt.Chart(heads, title=title).mark_rect().encode(
        x=alt.X("head:O", title="head", axis=alt.Axis(labelFontSize=LABEL_SIZE, labelAngle=0)),
        y=alt.Y("layer:O", title="layer", axis=alt.Axis(labelFontSize=LABEL_SIZE)),
        color=alt.Color("value:Q", scale=alt.Scale(scheme=HEAT), title="value"),
        tooltip=["layer", "head", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=280, height=220)


def sink_per_layer(per_layer: pd.DataFrame, paper_layers: Sequence[int] | None = None) -> alt.Chart:
    """Bars of the sink metric per layer; layers inside `paper_layers` [start, stop) drawn darker."""
    df = per_layer.copy()
    metric = str(df["metric"].iloc[0]) if "metric" in df.columns and len(df) else "value"
    if paper_layers is not None:
        a, b = paper_layers
        df["in paper metric"] = df["layer"].between(a, b - 1).map({True: "yes", False: "no"})
        color = alt.Color("in paper metric:N", scale=alt.Scale(domain=["yes", "no"], range=[OTHER, "#b8c7dc"]))
    else:
        color = alt.value(OTHER)
    return alt.Chart(df, title=f"Sink metric per layer ({metric})").mark_bar().encode(
        x=alt.X("layer:O", title="layer"), y=alt.Y("value:Q", title=f"sink ({metric})"), color=color,
        tooltip=["layer", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=320, height=220)


# ---------------------------------------------------------------- Decomposition
TERM_ORDER = ["content-content", "query-only", "key-only (Δ)", "constant", "total", "model"]


def terms_heatmaps(terms: pd.DataFrame, columns: int = 3, domain: tuple[float, float] | None = None) -> alt.Chart:
    """Facet of the four score terms, their total and the model's own scores (query x key).

    domain: one colour scale for every panel (e.g. the head's score range over all layers, so layers compare);
    None: each panel its own scale."""
    order = [t for t in TERM_ORDER if t in set(terms["term"])] + sorted(set(terms["term"]) - set(TERM_ORDER))
    scale = alt.Scale(scheme=DIVERGING, domainMid=0, reverse=True,
                      **({"domain": list(domain), "clamp": True} if domain is not None else {}))
    chart = alt.Chart(terms).mark_rect().encode(
        x=alt.X("key:O", title="key position", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("query:O", title="query position", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("value:Q", scale=scale, title="score"),
        tooltip=["term", "query", "key", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=170, height=170).facet(
        facet=alt.Facet("term:N", sort=order, title=None, header=alt.Header(labelFontSize=12)), columns=columns,
    ).properties(title="Pre-softmax score terms (each panel: query x key, score units)")
    return chart if domain is not None else chart.resolve_scale(color="independent")


def attention_compare(attention: pd.DataFrame, model_only: bool = False) -> alt.Chart:
    """Model attention next to softmax(term 1 + term 3): identical, because terms 2 and 4 cancel
    (model_only: the model's panel alone)."""
    if model_only:
        attention = attention[attention["source"] == "model"]
    return alt.Chart(attention).mark_rect().encode(
        x=alt.X("key:O", title="key position", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("query:O", title="query position", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("weight:Q", scale=alt.Scale(scheme=HEAT, domain=[0, 1]), title="attention"),
        tooltip=["source", "query", "key", alt.Tooltip("weight:Q", format=".4f")],
    ).properties(width=250, height=250).facet(
        column=alt.Column("source:N", title=None, sort=["model", "terms 1+3"]),
    ).properties(title="Attention: the model vs softmax(terms 1 + 3 only)")


def delta_bars(delta: pd.DataFrame) -> alt.Chart:
    """Δ_j/√d_head (term 3, in score units like the term panels) per key position; the first position in red."""
    value = "delta_scaled" if "delta_scaled" in delta.columns else "delta"
    df = delta.assign(group=_label_first(_first_flag(delta)))
    if "token" in df.columns and len(df) <= TOKEN_AXIS_MAX:
        df["label"] = [f"{p} {str(t)[:10]}" for p, t in zip(df["position"], df["token"])]
        x = alt.X("label:O", sort=df.sort_values("position")["label"].tolist(), title="key position j",
                  axis=alt.Axis(labelFontSize=LABEL_SIZE, labelAngle=-60))
    else:
        x = alt.X("position:O", title="key position j", axis=alt.Axis(labelFontSize=LABEL_SIZE))
    y_title = "Δ_j / √d_head (score units, = term 3)" if value == "delta_scaled" else "Δ_j (unscaled)"
    tooltip = ["position"] + (["token"] if "token" in df.columns else []) + [
        alt.Tooltip(f"{value}:Q", format=".3f", title="Δ_j/√d_head" if value == "delta_scaled" else "Δ_j"),
        alt.Tooltip("delta:Q", format=".3f", title="Δ_j (unscaled)")]
    return alt.Chart(df, title="Key-only shift per key position: Δ_j = b_Q W_kᵀ x_j, scaled like the scores").mark_bar().encode(
        x=x, y=alt.Y(f"{value}:Q", title=y_title), color=alt.Color("group:N", scale=_group_scale(), title=None),
        tooltip=tooltip,
    ).properties(width="container", height=240)


def delta_histogram(pooled: pd.DataFrame, bins: int = 40) -> alt.Chart:
    """Share of each group's (layer, head, position) values per bin of min-normalised Δ (score units when
    `delta_norm_scaled` is present): the first position's few values stay visible beside the many others."""
    value = "delta_norm_scaled" if "delta_norm_scaled" in pooled.columns else "delta_norm"
    df = pooled[[value, "group"]]
    title = "(Δ − min_j Δ)/√d_head" if value == "delta_norm_scaled" else "Δ − min_j Δ"
    return alt.Chart(df, title=f"Pooled over heads and middle layers: {title}, first position vs the rest").transform_bin(
        "bin", value, bin=alt.Bin(maxbins=bins)).transform_joinaggregate(
        total="count()", groupby=["group"]).transform_aggregate(
        n="count()", total="max(total)", groupby=["group", "bin", "bin_end"]).transform_calculate(
        share="datum.n / datum.total").mark_bar(opacity=0.75, binSpacing=0).encode(
        x=alt.X("bin:Q", bin="binned", title=title), x2="bin_end:Q",
        y=alt.Y("share:Q", stack=None, title="share of the group's values", axis=alt.Axis(format="%")),
        color=alt.Color("group:N", scale=_group_scale(), title=None),
        tooltip=["group", alt.Tooltip("share:Q", format=".1%"), alt.Tooltip("n:Q", title="values")],
    ).properties(width="container", height=240)


# ---------------------------------------------------------------- EPE
def epe_coords(coords: pd.DataFrame) -> alt.Chart:
    """|EPE_0| per residual coordinate, massive ones in red, with the threshold as a rule."""
    df = coords.assign(kind=coords["massive"].astype(bool).map({True: "massive", False: "other"}))
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X("coord:Q", title="residual coordinate"), y=alt.Y("abs_value:Q", title="|EPE_0[coord]|"),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["massive", "other"], range=[FIRST, OTHER]), title=None),
        tooltip=["coord", alt.Tooltip("value:Q", format=".3f"), "massive"],
    )
    layers = [bars]
    if "threshold" in df.columns and len(df):
        rule = pd.DataFrame({"threshold": [float(df["threshold"].iloc[0])], "label": ["threshold"]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[4, 4], color="black").encode(
            y="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format=".3f")]))
    return alt.layer(*layers).properties(title="EPE_0 coordinates (massive ones in red)", width=520, height=220)


def epe_validation(validation: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """cos(EPE_i, R_i − O_i) per position: p10–p90 band and median; the authors' median in another colour."""
    ours = validation.assign(source="this model")
    frames = [ours]
    if published is not None and len(published):
        frames.append(published[published["position"] <= validation["position"].max()].assign(source=PUBLISHED_LABEL))
    df = pd.concat(frames, ignore_index=True)
    domain = ["this model"] + ([PUBLISHED_LABEL] if len(frames) > 1 else [])
    color = alt.Color("source:N", scale=alt.Scale(domain=domain, range=[OTHER, PUBLISHED_COLOUR][: len(domain)]), title=None)
    base = alt.Chart(df).encode(x=alt.X("position:Q", title="position i"))
    band = base.mark_area(opacity=0.25).encode(
        y=alt.Y("p10:Q", title="cos(EPE_i, R_i − O_i)"), y2="p90:Q", color=color)
    line = base.mark_line(point=True).encode(
        y="p50:Q", color=color,
        tooltip=["source", "position", alt.Tooltip("p10:Q", format=".3f"), alt.Tooltip("p50:Q", format=".3f"),
                 alt.Tooltip("p90:Q", format=".3f")])
    return alt.layer(band, line).properties(title="EPE validation: median and p10–p90 per position",
                                            width=520, height=240)


# ---------------------------------------------------------------- γ and alignment
def gamma_table_chart(table: pd.DataFrame) -> alt.Chart:
    """|γ| at each massive coordinate per layer (points) vs the baseline mean + 2 std (rule per layer)."""
    pts = alt.Chart(table).mark_point(filled=True, size=80).encode(
        x=alt.X("layer:O", title="layer"), y=alt.Y("abs_gamma:Q", title="|γ^(l)[coord]|"),
        color=alt.Color("coord:N", title="massive coord"), shape=alt.Shape("exceeds:N", title="above baseline"),
        tooltip=["layer:O", "coord:N", alt.Tooltip("abs_gamma:Q", format=".4f"),
                 alt.Tooltip("baseline_upper:Q", format=".4f"), "exceeds:N"])
    base = table.drop_duplicates("layer")[["layer", "baseline_mean", "baseline_upper"]]
    upper = alt.Chart(base).mark_tick(color="black", thickness=2, size=30).encode(
        x="layer:O", y="baseline_upper:Q", tooltip=["layer:O", alt.Tooltip("baseline_upper:Q", format=".4f")])
    mean = alt.Chart(base).mark_tick(color="gray", size=20).encode(x="layer:O", y="baseline_mean:Q")
    return alt.layer(upper, mean, pts).properties(
        title=alt.TitleParams("|γ| at the massive coordinates vs all coordinates",
                              subtitle="black tick: mean + 2 std over all coordinates; gray tick: mean"),
        width=420, height=240)


def gamma_histogram(distribution: pd.DataFrame, bins: int = 40) -> alt.Chart:
    """Histogram of per-head |γ| at the massive coordinates vs all other coordinates (normalised counts)."""
    df = distribution.assign(kind=distribution["massive"].astype(bool).map({True: "massive", False: "other"}))
    return alt.Chart(df, title="|γ_h[d]| over heads and layers: massive vs other coordinates").transform_bin(
        "bin", "abs_gamma", bin=alt.Bin(maxbins=bins)).transform_joinaggregate(
        total="count()", groupby=["kind"]).transform_aggregate(
        n="count()", total="max(total)", groupby=["kind", "bin", "bin_end"]).transform_calculate(
        share="datum.n / datum.total").mark_bar(opacity=0.7, binSpacing=0).encode(
        x=alt.X("bin:Q", bin="binned", title="|γ_h[d]|"), x2="bin_end:Q",
        y=alt.Y("share:Q", stack=None, title="share of coordinates"),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["massive", "other"], range=[FIRST, OTHER]), title=None),
    ).properties(width=420, height=220)


def alignment_chart(alignment: pd.DataFrame) -> alt.Chart:
    """cos(b_Q, EPE_j W_k) per layer, one line per position j; the first position in red."""
    df = alignment.assign(group=_label_first(_first_flag(alignment)))
    return alt.Chart(df, title="Alignment cos(b_Q^(l), EPE_j W_k^(l)) per layer").mark_line(point=True).encode(
        x=alt.X("layer:O", title="layer"), y=alt.Y("cosine:Q", title="cosine"), detail="position:N",
        color=alt.Color("group:N", scale=_group_scale(), title=None),
        strokeWidth=alt.condition("datum.group == 'first position'", alt.value(3), alt.value(0.8)),
        opacity=alt.condition("datum.group == 'first position'", alt.value(1.0), alt.value(0.35)),
        tooltip=["layer", "position", alt.Tooltip("cosine:Q", format=".3f")],
    ).properties(width=420, height=260)


# ---------------------------------------------------------------- Interventions
def before_after_maps(before, after, layer: int) -> alt.Chart:
    """Head-averaged attention of one layer before and after the intervention, side by side (AttentionMaps)."""
    df = pd.concat([before.frame(layer).assign(run="before"), after.frame(layer).assign(run="after")],
                   ignore_index=True)
    x, y, df = _pos_axes(df, "key position", "query position")
    return alt.Chart(df).mark_rect().encode(
        x=x, y=y, color=alt.Color("weight:Q", scale=alt.Scale(scheme=HEAT, domain=[0, 1]), title="attention"),
        tooltip=["run"] + _map_tooltip(df),
    ).properties(width=300, height=300).facet(
        column=alt.Column("run:N", sort=["before", "after"], title=None),
    ).properties(title=f"Attention at layer {layer} (mean over heads): before vs after")


def per_layer_change(per_layer: pd.DataFrame) -> alt.Chart:
    """Attention to each key of interest per layer, before vs after (one panel per key)."""
    df = per_layer.assign(key_label="attention to position " + per_layer["key"].astype(str))
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("layer:O", title="layer"), y=alt.Y("value:Q", title="mean attention (second-half queries)"),
        color=alt.Color("run:N", scale=alt.Scale(domain=["before", "after"], range=["gray", FIRST]), title=None),
        tooltip=["run", "key", "layer", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=260, height=220).facet(column=alt.Column("key_label:N", title=None)).properties(
        title="Sink per layer, before vs after")


# ---------------------------------------------------------------- Across domains
ROLE_COLOURS = {"baseline": "#7f7f7f", "cuts a wire": FIRST, "control": OTHER, "moves the sink": "#9467bd"}


def _role(label: str) -> str:
    cls = REGISTRY.get(label)
    return "baseline" if cls is None else cls.role()  # "baseline" is standard_settings' name for (a)


def domain_bars(table: pd.DataFrame, published: pd.DataFrame | None = None, interventions=None, domains=None,
                keys_only: bool = False) -> alt.Chart:
    """Sink ± se per intervention and domain, coloured by role (wire / control / move); the authors'
    published numbers beside ours (lighter bars) when given. interventions / domains: which to draw (None:
    all); keys_only: the x axis names each bar by its key ("i") instead of "key: title"."""
    if interventions is not None:
        table = table[table["intervention"].isin(interventions)]
    if domains is not None:
        table = table[table["domain"].isin(domains)]
    cols = ["domain", "intervention", "sink", "se"] + (["title"] if "title" in table.columns else [])
    ours = table[cols].assign(source="this model")
    frames = [ours]
    if published is not None and len(published):
        pub = published[published["domain"].isin(set(table["domain"]))
                        & published["intervention"].isin(set(table["intervention"]))]
        frames.append(pub[[c for c in cols if c in pub.columns]].assign(source=PUBLISHED_LABEL))
    df = pd.concat(frames, ignore_index=True)
    df = df.dropna(subset=["sink"])
    df["low"], df["high"] = df["sink"] - df["se"].fillna(0), df["sink"] + df["se"].fillna(0)
    df["role"] = df["intervention"].map(_role)

    df["label"] = df["intervention"].map(lambda k: k if k == "baseline" else f"{k}: {describe(k)}")
    domain = ["this model"] + ([PUBLISHED_LABEL] if len(frames) > 1 else [])
    order = [k if k == "baseline" else f"{k}: {describe(k)}" for k in dict.fromkeys(table["intervention"])]
    axis = alt.Axis(labelAngle=-35, labelLimit=220, labelFontSize=LABEL_SIZE,
                    **({"labelExpr": "split(datum.label, ':')[0]"} if keys_only else {}))
    x = alt.X("label:N", sort=order, title=None, axis=axis)
    color = alt.Color("role:N", scale=alt.Scale(domain=list(ROLE_COLOURS), range=list(ROLE_COLOURS.values())),
                      title="role")
    base = alt.Chart().encode(x=x, xOffset=alt.XOffset("source:N", sort=domain))
    bars = base.mark_bar().encode(
        y=alt.Y("sink:Q", title="sink at the key"), color=color,
        opacity=alt.Opacity("source:N", sort=domain, scale=alt.Scale(domain=domain, range=[1.0, 0.45][: len(domain)]),
                            title=None),
        tooltip=["source", "domain", "intervention", "role"] + (["title"] if "title" in df.columns else [])
        + [alt.Tooltip("sink:Q", format=".3f"), alt.Tooltip("se:Q", format=".4f")])
    err = base.mark_errorbar(color="black", thickness=2, ticks=alt.TickConfig(size=6)).encode(
        y=alt.Y("low:Q", title="sink at the key"), y2="high:Q")
    doms = list(dict.fromkeys(table["domain"]))
    return alt.layer(bars, err, data=df).properties(width=max(520, 44 * len(order)), height=210).facet(
        row=alt.Row("domain:N", sort=doms, title=None, header=alt.Header(labelFontSize=12, labelAngle=0))).properties(
        title=alt.TitleParams("Sink per intervention and domain (± standard error)",
                              subtitle="red: cuts a wire of the circuit; blue: control; purple: moves the sink "
                                       "(measured at its target); faded: published reference"))


# ---------------------------------------------------------------- Structural origin
def variance_chart(stats: pd.DataFrame, layer: int | None = None, value: str = "variance") -> alt.Chart:
    """Attention-output variance (or 'norm') per position, first position in red; one layer or a facet of all."""
    df = stats if layer is None else stats[stats["layer"] == layer]
    df = df.assign(group=_label_first(_first_flag(df)))
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X("position:O", title="position"), y=alt.Y(f"{value}:Q", title=value),
        color=alt.Color("group:N", scale=_group_scale(), title=None),
        tooltip=["layer", "position", alt.Tooltip(f"{value}:Q", format=".4g")],
    )
    if layer is not None:
        return chart.properties(title=f"Attention-output {value} per position (layer {layer})", width=460, height=220)
    return chart.encode(y=alt.Y(f"{value}:Q", title=None)).properties(width=460, height=80).facet(
        row=alt.Row("layer:O", title=None, header=alt.Header(labelExpr="'layer ' + datum.value", labelAngle=0,
                                                             labelAlign="left", labelFontSize=11))).resolve_scale(
        y="independent").properties(title=alt.TitleParams(
            f"Attention-output {value} per position, every layer", subtitle="each layer has its own y scale",
            anchor="start", offset=8))


def down_projection_bar(row: pd.DataFrame, title: str = "Down-projection of the top super neuron") -> alt.Chart:
    """The weight a neuron writes into each residual coordinate (its W_out row)."""
    return alt.Chart(row, title=title).mark_bar().encode(
        x=alt.X("coord:Q", title="residual coordinate"), y=alt.Y("weight:Q", title="weight"),
        color=alt.condition("abs(datum.weight) > 0", alt.value(FIRST), alt.value(OTHER)),
        tooltip=["coord", alt.Tooltip("weight:Q", format=".4f")],
    ).properties(width=520, height=200)


def moves_chart(moves: pd.DataFrame) -> alt.Chart:
    """Attention to position k per layer for the baseline and the two structural interventions."""
    k = int(moves["key"].iloc[0]) if "key" in moves.columns and len(moves) else None
    order = ["baseline", "isolate", "amplify"]
    return alt.Chart(moves, title=f"Attention to position {k} per layer").mark_line(point=True).encode(
        x=alt.X("layer:O", title="layer"), y=alt.Y("value:Q", title=f"mean attention to position {k}"),
        color=alt.Color("intervention:N", sort=order,
                        scale=alt.Scale(domain=order, range=["gray", FIRST, PUBLISHED_COLOUR]), title=None),
        tooltip=["intervention", "layer", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=420, height=240)


def emergence_chart(log: pd.DataFrame) -> alt.Chart:
    """Sink metrics and loss vs training step from a training_log.csv (tolerant of missing columns)."""
    if "step" not in log.columns:
        raise ValueError("the training log needs a 'step' column")
    loss_cols = [c for c in ("train_loss", "heldout_loss") if c in log.columns]
    sink_cols = [c for c in log.columns if c.startswith("sink") or c == "gu_sink_share"]
    df = log.copy()
    for c in loss_cols + sink_cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    def panel(cols: list[str], title: str, y_title: str) -> alt.Chart:
        long = df.melt("step", cols, var_name="series", value_name="value").dropna()
        return alt.Chart(long, title=title).mark_line(point=True).encode(
            x=alt.X("step:Q", title="training step"), y=alt.Y("value:Q", title=y_title),
            color=alt.Color("series:N", title=None), tooltip=["step", "series", alt.Tooltip("value:Q", format=".3f")],
        ).properties(width=420, height=220)

    panels = []
    if sink_cols:
        panels.append(panel(sink_cols, "Sink metrics during training", "sink metric"))
    if loss_cols:
        panels.append(panel(loss_cols, "Loss during training", "loss (nats/token)"))
    if not panels:
        raise ValueError("the training log has no sink or loss columns")
    return alt.vconcat(*panels).properties(title="Emergence of the sink") if len(panels) > 1 else panels[0]


# ---------------------------------------------------------------- Compare specimens
def signature_heatmap(computed: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """Model × intervention → % of baseline; computed rows first, then published ones, labelled as such.

    Blank cells (an intervention that does not apply) carry the reason in their tooltip."""
    order = list(dict.fromkeys(computed["intervention"]))
    rows = computed.assign(row=computed["model"] + " — computed here", kind="computed",
                           source="sinklab, live", reason=computed["note"].fillna(""))
    frames = [rows]
    if published is not None and len(published):
        pub = published[published["intervention"].isin(order)]
        short = pub["source"].str.split(" \\(").str[0]
        frames.append(pub.assign(row=pub["model"] + " — " + short, kind="published", reason="", title="",
                                 key=0))
    df = pd.concat(frames, ignore_index=True)
    df["pct"] = df["pct_of_baseline"].where(df["reason"] == "")
    df["label"] = df["pct"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.0f}")
    row_order = list(dict.fromkeys(df["row"]))
    base = alt.Chart(df).encode(
        x=alt.X("intervention:N", sort=order, title="intervention", axis=alt.Axis(labelAngle=-40, labelFontSize=11)),
        y=alt.Y("row:N", sort=row_order, title=None, axis=alt.Axis(labelLimit=420, labelFontSize=11)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("pct:Q", scale=alt.Scale(scheme="redyellowblue", domain=[0, 100], clamp=True),
                        title="% of baseline"),
        tooltip=["row", "intervention", alt.Tooltip("pct:Q", format=".1f", title="% of baseline"),
                 alt.Tooltip("sink:Q", format=".4f"), "source", "reason"],
    )
    text = base.mark_text(fontSize=10).encode(text="label:N")
    return (cells + text).properties(
        width="container", height=28 * len(row_order),
        title="Intervention signatures: sink left, % of each model's baseline (position 0; k for moves)")


# ---------------------------------------------------------------- The circuit in one picture
def _two_lines(text: str) -> str:
    words = str(text).split(" ")
    if len(words) < 2:
        return str(text)
    cut = min(range(1, len(words)), key=lambda k: abs(len(" ".join(words[:k])) - len(" ".join(words[k:]))))
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])


def circuit_diagram(nodes: pd.DataFrame, edges: pd.DataFrame, title: str = "") -> alt.Chart:
    """A left-to-right chain: nodes as labelled boxes, each wire labelled with its measured quantity;
    cut wires dashed and grey with “✂”. nodes: node, x, y, value; edges: wire, source, target, label, cut."""
    half = 0.36  # half a box's width, in node units
    pos = nodes.set_index("node")["x"]
    e = edges.assign(x=edges["source"].map(pos) + half, x2=edges["target"].map(pos) - half)
    e["mid"] = (e["x"] + e["x2"]) / 2
    e["y"], e["ly"] = 0.0, [0.62 if i % 2 == 0 else -0.62 for i in range(len(e))]
    e["state"] = e["cut"].map({True: "cut", False: "intact"})
    e["text"] = [_two_lines(("✂ " if c else "") + str(lab)) for c, lab in zip(e["cut"], e["label"])]
    n = nodes.assign(caption=[_two_lines(a) + (f"\n{v}" if v else "") for a, v in zip(nodes["node"], nodes["value"])],
                     x0=nodes["x"] - half, x1=nodes["x"] + half, y0=-0.3, y1=0.3)
    dom = alt.Scale(domain=[-0.5, float(pos.max()) + 0.5])
    ydom = alt.Scale(domain=[-1.05, 1.05])
    state = alt.Color("state:N", scale=alt.Scale(domain=["intact", "cut"], range=["#333333", "#bbbbbb"]), title="wire")
    lines = alt.Chart(e).mark_rule(strokeWidth=3).encode(
        x=alt.X("x:Q", scale=dom, axis=None), x2="x2:Q", y=alt.Y("y:Q", scale=ydom, axis=None), color=state,
        strokeDash=alt.StrokeDash("state:N", scale=alt.Scale(domain=["intact", "cut"], range=[[1, 0], [6, 4]]),
                                  legend=None),
        tooltip=["wire", "label", "state", "intervention"])
    arrows = alt.Chart(e).mark_point(shape="triangle-right", size=90, filled=True).encode(
        x=alt.X("x2:Q", scale=dom, axis=None), y=alt.Y("y:Q", scale=ydom, axis=None), color=state)
    labels = alt.Chart(e).mark_text(fontSize=11, lineBreak="\n").encode(
        x=alt.X("mid:Q", scale=dom, axis=None), y=alt.Y("ly:Q", scale=ydom, axis=None), text="text:N",
        color=alt.condition("datum.cut", alt.value(FIRST), alt.value("#333333")))
    boxes = alt.Chart(n).mark_rect(fill="#e8eef7", stroke=OTHER, strokeWidth=1.5, cornerRadius=4).encode(
        x=alt.X("x0:Q", scale=dom, axis=None), x2="x1:Q", y=alt.Y("y0:Q", scale=ydom, axis=None), y2="y1:Q",
        tooltip=["node", "value"])
    names = alt.Chart(n).mark_text(fontSize=11, fontWeight="bold", lineBreak="\n").encode(
        x=alt.X("x:Q", scale=dom, axis=None), y=alt.Y("y:Q", scale=ydom, axis=None), text="caption:N")
    return alt.layer(lines, arrows, boxes, names, labels).properties(
        width="container", height=260, title=title or "The sink's route, each wire measured on this model and prompt"
    ).configure_view(stroke=None)


# ---------------------------------------------------------------- Length and dose
def length_curve(summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """The length experiment (sinklab.experiments): each cut's sink, % of the same-length baseline, vs tokens;
    mean ± SD across data seeds (the report's own figure, one panel per model)."""

    return figures.chart("lengths", summary, published)


def dose_curves(summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """The dose experiment: the sink vs α for each curve (scale b_Q, scale the W_k rows, interpolate PE_0 toward
    PE_1), mean ± SD across seeds; the extension's published numbers as marks in the colour of their curve,
    shaped by their source (a labelled legend)."""

    return figures.chart("dose", summary, published)


def chain_chart(chain: pd.DataFrame) -> alt.Chart:
    """The structural chain per layer, stacked on one layer axis: the sink (attention to position 0), and the tracked
    coordinate's |value| at position 0 vs the other positions (log scale), layers with super neurons marked."""
    c = int(chain["coord"].iloc[0]) if len(chain) else 0
    x = alt.X("layer:O", title="layer")
    sink = alt.Chart(chain).mark_bar(color=FIRST).encode(
        x=x, y=alt.Y("sink:Q", title="sink", scale=alt.Scale(domain=[0, 1])),
        tooltip=["layer", alt.Tooltip("sink:Q", format=".3f")],
    ).properties(width=520, height=120, title="Attention to position 0 per layer")
    long = pd.concat([chain.assign(where="position 0", value=chain["abs_first"]),
                      chain.assign(where="other positions (mean)", value=chain["abs_other"])], ignore_index=True)
    long["value"] = long["value"].clip(lower=1e-3)
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", scale=alt.Scale(type="log"), title=f"|coordinate {c}|"),
        color=alt.Color("where:N", scale=alt.Scale(domain=["position 0", "other positions (mean)"], range=[FIRST, OTHER]),
                        title=None, legend=alt.Legend(orient="top")),
        tooltip=["layer", "where", alt.Tooltip("value:Q", format=",.1f"), "massive"],
    )
    marks = chain[chain["super_neurons"].map(bool)].assign(
        neurons=lambda d: d["super_neurons"].map(lambda t: ", ".join(map(str, t)) if not isinstance(t, str) else t))
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="#444").encode(
        x=x, tooltip=["layer", alt.Tooltip("neurons:N", title="super neurons")])
    text = alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, fontSize=11).encode(
        x=x, y=alt.value(8), text=alt.Text("neurons:N"))
    coord = alt.layer(lines, rules, text).properties(
        width=520, height=180, title=f"Coordinate {c} of the residual stream after each layer (dashed: super neurons)")
    return alt.vconcat(sink, coord).resolve_scale(x="shared")


def cuts_bars(cuts: pd.DataFrame) -> alt.Chart:
    """Each link's cut (and its control) as % of the baseline sink, one bar each; rows that did not run are omitted."""
    df = cuts[(cuts["n"] > 0) & (cuts["setting"] != "baseline")].copy()
    df["what"] = df["setting"].map(lambda n: n.replace("zero_random_neurons:", "random neurons (control), seed ")
                                   .replace("amplify:", "amplify × "))
    df["role"] = df["label"].map(lambda l: "control" if l == "zero_random_neurons" else
                                 "moves the sink" if l in ("isolate", "amplify") else "cuts a wire")
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("what:N", sort=list(df["what"]), title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("pct_of_baseline:Q", title="sink at position 0, % of the baseline", scale=alt.Scale(domain=[0, 120])),
        color=alt.Color("role:N", scale=alt.Scale(domain=["cuts a wire", "control", "moves the sink"],
                                                  range=[FIRST, OTHER, "#8e6bbf"]), title=None,
                        legend=alt.Legend(orient="top")),
        tooltip=["setting", alt.Tooltip("pct_of_baseline:Q", format=".1f", title="% of baseline"),
                 alt.Tooltip("pct_at_k:Q", format=".1f", title="% at k")],
    ).properties(width=460, height=22 * max(1, len(df)), title="Each link cut, beside its control")
