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
from ..experiments.settings import DOSE_CURVES
from ..interventions import REGISTRY, describe, ordered

FIRST = "#d62728"  # the first position / the massive coordinates
OTHER = "#4c78a8"  # everything else
PUBLISHED_COLOUR = "#ff7f0e"  # the authors' published numbers
PUBLISHED_LABEL = "published (GPT-2, authors)"
HEAT = "viridis"
DIVERGING = "redblue"

alt.data_transformers.disable_max_rows()

# ---------------------------------------------------------------- Interventions
# (one colour per intervention, on every page)
# Every chart that colours by intervention takes its colour from here, as an explicit scale over EVERY
# registered label (sinklab.interventions.ordered(), plus "baseline"), so a label has the same colour whatever
# subset a model shows and on every page. The hue says the role: grey the baseline, warm colours (reds,
# oranges, browns) cut a wire, blues are controls, purples move the sink.
ROLE_FAMILIES = {"baseline": ["#7f7f7f"],
                 "cuts a wire": ["#d62728", "#ff7f0e", "#8c564b", "#e7969c", "#7f2704", "#fdae6b", "#c49c94",
                                 "#a50026", "#e6550d", "#ad494a", "#f2b701", "#bd9e39", "#843c39", "#e377c2",
                                 "#6b4c00"],
                 "control": ["#1f77b4", "#17becf", "#6baed6", "#08306b", "#9ecae1", "#3182bd"],
                 "moves the sink": ["#9467bd", "#c51b7d", "#54278f", "#de77ae", "#807dba"]}
INTERVENTION_COLOURS = {  # the registered labels of today; a label registered later gets the next free colour
    "baseline": "#7f7f7f", "a": "#7f7f7f",
    "b": "#d62728", "c": "#ff7f0e", "d": "#8c564b", "g": "#7f2704", "h": "#fdae6b", "i": "#e7969c",
    "interpolate": "#c49c94", "rmsnorm": "#a50026", "zero_neurons": "#e6550d", "zero_massive": "#ad494a",
    "scale_wk": "#f2b701",
    "e": "#1f77b4", "f": "#17becf", "j": "#6baed6", "zero_random_neurons": "#08306b",
    "transplant": "#9467bd", "isolate": "#c51b7d", "amplify": "#54278f",
    # series that are not registered labels but stand for one
    "skip_mlp": "#7f2704",  # (g) in one layer (Structural origin's cuts)
    "pe": "#e377c2",  # the dose curve moving PE_0 toward PE_1 (sinklab.experiments: curve "pe")
}
EXTRA_NAMES = {"skip_mlp": "(g) No MLP, one layer", "pe": "Interpolate PE_0 → PE_1 (dose)"}
DASHES = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [1, 3], [10, 4], [3, 3, 1, 3], [12, 3, 3, 3]]


def _registry() -> tuple[list[str], dict]:
    return ordered(), REGISTRY


def intervention_colours() -> dict[str, str]:
    """label -> colour for every registered label, "baseline" and the extra series (dose "pe", "skip_mlp"):
    fixed, whatever a chart shows. A label registered after this table was written gets the next unused colour
    of its role's family (in registry order, so it too is the same on every page)."""
    labels, registry = _registry()
    out = dict(INTERVENTION_COLOURS)
    for k in labels:
        if k not in out:
            role = registry[k].role()
            family = ROLE_FAMILIES.get(role, ROLE_FAMILIES["cuts a wire"])
            free = [c for c in family if c not in out.values()] or family
            out[k] = free[0]
    return out


def intervention_colour(label: str) -> str:
    return intervention_colours().get(label, OTHER)


def intervention_name(label: str) -> str:
    """The human name a legend or axis shows: "(b) No query bias", "Transplant EPE_0", "Baseline"."""
    if label in ("baseline", "a"):
        return "Baseline"
    if label in EXTRA_NAMES:
        return EXTRA_NAMES[label]
    labels, registry = _registry()
    if label not in registry:
        return str(label)
    title = registry[label].title
    return f"({label}) {title}" if len(label) == 1 else title


def story_order(labels) -> list[str]:
    """Labels (and "baseline") in the registry's story order, unknown ones after: every chart lists interventions
    in the same order, whichever model's table it comes from."""
    keys = _series_keys()
    rank = {k: i for i, k in enumerate(keys)} | {"a": 0}
    labels = list(dict.fromkeys(labels))
    return sorted(labels, key=lambda k: (rank.get(k, len(keys)), labels.index(k)))


def _series_keys() -> list[str]:
    """Every key with a colour, once per name ("a" is the baseline), in a fixed order."""
    labels, _ = _registry()
    return ["baseline"] + [k for k in labels if k != "a"] + [k for k in EXTRA_NAMES]


def _dash(label: str) -> list[int]:
    keys = _series_keys()
    if label in ("baseline", "a") or label not in keys:
        return DASHES[0]  # the baseline solid
    return DASHES[1 + (keys.index(label) - 1) % (len(DASHES) - 1)]


def _series(field: str, present: Sequence[str], name=intervention_name, title: str | None = "intervention",
            dashed: bool = False) -> dict:
    """Encodings for a column of human names (`field`, made by `name` from the keys): colour (and strokeDash) from
    the fixed per-intervention scale over EVERY key, the legend listing only the keys `present`."""
    keys = _series_keys()
    domain = [name(k) for k in keys]
    shown = [name(k) for k in dict.fromkeys(present)]
    legend = alt.Legend(values=shown, title=title, symbolType="stroke" if dashed else "circle", labelLimit=260,
                        symbolStrokeWidth=2.5 if dashed else 1)
    colours = intervention_colours()
    enc = {"color": alt.Color(f"{field}:N", scale=alt.Scale(domain=domain, range=[colours[k] for k in keys]),
                              legend=legend)}
    if dashed:
        enc["strokeDash"] = alt.StrokeDash(f"{field}:N", scale=alt.Scale(domain=domain, range=[_dash(k) for k in keys]),
                                           legend=legend)
    return enc


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
          size: int = 320, legend_title: str = "attention") -> alt.Chart:
    scale = alt.Scale(scheme=scheme, domain=domain) if domain is not None else alt.Scale(scheme=scheme)
    x, y, df = _pos_axes(df, "key position (attended to)", "query position (attending)")
    n = int(df["key"].max()) + 1 if len(df) else 1
    side = max(size, min(14 * n, 720)) if "key_label" in df.columns else size
    return alt.Chart(df, title=title).mark_rect().encode(
        x=x, y=y, color=alt.Color(f"{value}:Q", scale=scale, title=legend_title), tooltip=tooltip,
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


def _split_title(title: str) -> alt.TitleParams:
    """"Main (detail)" -> the main words as the title, the detail as its subtitle: a half-width chart's title is
    then never cut with an ellipsis."""
    head, sep, rest = str(title).partition(" (")
    if not sep or not rest.endswith(")"):
        return alt.TitleParams(str(title), anchor="start")
    return alt.TitleParams(head, subtitle=rest[:-1], anchor="start")


def head_grid(heads: pd.DataFrame, title: str = "Attention mass to position 0, per layer and head") -> alt.Chart:
    """Layer x head heatmap of `value` (e.g. attention mass to the first position); a "(detail)" at the end of the
    title is drawn as its subtitle and names the colour."""
    return alt.Chart(heads, title=_split_title(title)).mark_rect().encode(
        x=alt.X("head:O", title="head", axis=alt.Axis(labelFontSize=LABEL_SIZE, labelAngle=0)),
        y=alt.Y("layer:O", title="layer", axis=alt.Axis(labelFontSize=LABEL_SIZE)),
        color=alt.Color("value:Q", scale=alt.Scale(scheme=HEAT), title=None),
        tooltip=["layer", "head", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=280, height=220)


def sink_per_layer(per_layer: pd.DataFrame, paper_layers: Sequence[int] | None = None) -> alt.Chart:
    """Bars of the sink metric per layer; layers inside `paper_layers` [start, stop) drawn darker."""
    df = per_layer.copy()
    metric = str(df["metric"].iloc[0]) if "metric" in df.columns and len(df) else "value"
    if paper_layers is not None:
        a, b = paper_layers
        inside = f"in the paper metric (layer {a})" if b - 1 == a else f"in the paper metric (layers {a}–{b - 1})"
        outside = "other layers"
        df["band"] = df["layer"].between(a, b - 1).map({True: inside, False: outside})
        color = alt.Color("band:N", scale=alt.Scale(domain=[inside, outside], range=[OTHER, "#b8c7dc"]), title=None,
                          legend=alt.Legend(orient="top", labelLimit=300))
    else:
        color = alt.value(OTHER)
    return alt.Chart(df, title=f"Sink metric per layer ({metric})").mark_bar().encode(
        x=alt.X("layer:O", title="layer", axis=alt.Axis(labelAngle=0)), y=alt.Y("value:Q", title=f"sink ({metric})"),
        color=color,
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
    """cos(EPE_i, R_i − O_i) per position: p10–p90 band and median; the authors' median in another colour.

    The band's edges are drawn as thin lines too, and the subtitle says how wide this model's band is at most:
    a band narrower than the median's line (the inputs agree) is said to be so, not silently invisible."""
    ours = validation.assign(source="this model")
    frames = [ours]
    if published is not None and len(published):
        frames.append(published[published["position"] <= validation["position"].max()].assign(source=PUBLISHED_LABEL))
    df = pd.concat(frames, ignore_index=True)
    domain = ["this model"] + ([PUBLISHED_LABEL] if len(frames) > 1 else [])
    color = alt.Color("source:N", scale=alt.Scale(domain=domain, range=[OTHER, PUBLISHED_COLOUR][: len(domain)]), title=None,
                      legend=alt.Legend(orient="top", labelLimit=300))
    base = alt.Chart(df).encode(x=alt.X("position:Q", title="position i"))
    band = base.mark_area(opacity=0.3).encode(
        y=alt.Y("p10:Q", title="cos(EPE_i, R_i − O_i)"), y2="p90:Q", color=color)
    edges = [base.mark_line(strokeWidth=0.8, opacity=0.8, strokeDash=[3, 2]).encode(y=f"{q}:Q", color=color)
             for q in ("p10", "p90")]
    dash = alt.StrokeDash("source:N", scale=alt.Scale(domain=domain, range=[[1, 0], [6, 3]][: len(domain)]), title=None,
                          legend=None)  # the published median dashed: where it runs on ours, both show
    line = base.mark_line(point=alt.OverlayMarkDef(size=22), strokeWidth=1.5).encode(
        y="p50:Q", color=color, strokeDash=dash,
        tooltip=["source", "position", alt.Tooltip("p10:Q", format=".3f"), alt.Tooltip("p50:Q", format=".3f"),
                 alt.Tooltip("p90:Q", format=".3f")])
    width = float((validation["p90"] - validation["p10"]).max()) if len(validation) else 0.0
    span = float(df[["p10", "p90"]].max().max() - min(0.0, df[["p10", "p90"]].min().min())) or 1.0
    thin = " (thinner than the line: the inputs agree)" if width < 0.02 * span else ""
    subtitle = ["shaded between the dashed edges: p10–p90 over the inputs;",
                f"this model's band is at most {width:.3f} wide{thin}"]
    return alt.layer(band, *edges, line).properties(
        title=alt.TitleParams("EPE validation: median and p10–p90 per position", subtitle=subtitle, anchor="start"),
        width=520, height=240)


# ---------------------------------------------------------------- γ and alignment
def gamma_table_chart(table: pd.DataFrame) -> alt.Chart:
    """|γ| at each massive coordinate per layer (points, side by side within the layer: none hides another) vs the
    baseline mean + 2 std over all coordinates (black tick per layer) and their mean (grey tick)."""
    df = table.assign(coordinate="coordinate " + table["coord"].astype(str),
                      above=table["exceeds"].astype(bool).map({True: "above mean + 2 std", False: "not above"}))
    coords = list(dict.fromkeys(df.sort_values("coord")["coordinate"]))
    x = alt.X("layer:O", title="layer", scale=alt.Scale(type="band", paddingInner=0.2),
              axis=alt.Axis(labelAngle=0, labelFontSize=LABEL_SIZE))
    pts = alt.Chart(df).mark_point(filled=True, size=70, stroke="black", strokeWidth=0.5).encode(
        x=x, xOffset=alt.XOffset("coordinate:N", sort=coords), y=alt.Y("abs_gamma:Q", title="|γ^(l)[coordinate]|"),
        color=alt.Color("coordinate:N", sort=coords, title="massive coordinate", legend=alt.Legend(labelLimit=200)),
        shape=alt.Shape("above:N", title="|γ| there is", scale=alt.Scale(domain=["above mean + 2 std", "not above"],
                                                                         range=["circle", "triangle-down"])),
        tooltip=["layer:O", alt.Tooltip("coord:N", title="coordinate"),
                 alt.Tooltip("abs_gamma:Q", format=".4f", title="|γ|"),
                 alt.Tooltip("baseline_upper:Q", format=".4f", title="mean + 2 std"),
                 alt.Tooltip("above:N", title="|γ| is")])
    base = df.drop_duplicates("layer")[["layer", "baseline_mean", "baseline_upper"]]
    upper = alt.Chart(base).mark_tick(color="black", thickness=2).encode(
        x=x, y="baseline_upper:Q",
        tooltip=["layer:O", alt.Tooltip("baseline_upper:Q", format=".4f", title="mean + 2 std of |γ|")])
    mean = alt.Chart(base).mark_tick(color="gray", thickness=1).encode(
        x=x, y="baseline_mean:Q", tooltip=["layer:O", alt.Tooltip("baseline_mean:Q", format=".4f", title="mean |γ|")])
    return alt.layer(upper, mean, pts).properties(
        title=alt.TitleParams("|γ| at the massive coordinates vs all coordinates", anchor="start",
                              subtitle=["black tick: mean + 2 std over all coordinates; gray tick: their mean;",
                                        "one point per massive coordinate, side by side in each layer"]),
        width=420, height=240)


def gamma_histogram(distribution: pd.DataFrame, bins: int = 40) -> alt.Chart:
    """Histogram of per-head |γ| at the massive coordinates vs all other coordinates (normalised counts)."""
    df = distribution.assign(kind=distribution["massive"].astype(bool).map({True: "massive", False: "other"}))
    title = alt.TitleParams("|γ_h[d]| over heads and layers", subtitle="massive vs other coordinates", anchor="start")
    return alt.Chart(df, title=title).transform_bin(
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


RUNS = {"before": ("the model as it is", "#7f7f7f", [1, 0]), "after": ("with the intervention", FIRST, [6, 3])}


def per_layer_change(per_layer: pd.DataFrame) -> alt.Chart:
    """Attention to each key of interest per layer, before vs after (one panel per key): before grey and solid,
    after red and dashed, their points side by side, so a layer the intervention leaves alone shows both lines."""
    df = per_layer.assign(key_label="attention to position " + per_layer["key"].astype(str),
                          run_name=per_layer["run"].map(lambda r: RUNS.get(r, (r,))[0]))
    names = [RUNS[r][0] for r in RUNS]
    scale = dict(domain=names)
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=36, filled=True), strokeWidth=2).encode(
        x=alt.X("layer:O", title="layer", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("run_name:N", sort=names, scale=alt.Scale(domain=names, paddingOuter=0.6)),
        y=alt.Y("value:Q", title="mean attention (second-half queries)"),
        color=alt.Color("run_name:N", scale=alt.Scale(**scale, range=[RUNS[r][1] for r in RUNS]), title=None,
                        legend=alt.Legend(orient="top", symbolType="stroke", symbolStrokeWidth=2.5)),
        strokeDash=alt.StrokeDash("run_name:N", scale=alt.Scale(**scale, range=[RUNS[r][2] for r in RUNS]), title=None,
                                  legend=alt.Legend(orient="top", symbolType="stroke", symbolStrokeWidth=2.5)),
        tooltip=[alt.Tooltip("run_name:N", title="run"), "key", "layer", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=260, height=220).facet(column=alt.Column("key_label:N", title=None)).properties(
        title="Sink per layer, before vs after")


# ---------------------------------------------------------------- Across domains
ROLE_COLOURS = {"baseline": "#7f7f7f", "cuts a wire": FIRST, "control": OTHER, "moves the sink": "#9467bd"}
ROLE_HUES = ("colour: the intervention (grey: baseline; reds, oranges, browns: cut a wire; blues: controls; "
             "purples: move the sink)")


def _role(label: str) -> str:
    cls = REGISTRY.get(label)
    return "baseline" if cls is None else cls.role()  # "baseline" is standard_settings' name for (a)


def domain_bars(table: pd.DataFrame, published: pd.DataFrame | None = None, interventions=None, domains=None,
                keys_only: bool = False) -> alt.Chart:
    """Sink ± se per intervention and domain, each bar in its intervention's fixed colour (intervention_colours:
    its hue says the role: wire / control / move), interventions in story order, "n/a" where one did not run on this
    model; the authors' published numbers beside ours (pale, dashed outline) when given. interventions / domains:
    which to draw (None: all); keys_only: the x axis names each bar by its key ("i") instead of "key: title"."""
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
    df = df[df["sink"].notna() | (df["source"] == "this model")].copy()
    df["na"] = df["sink"].isna()  # did not run on this model: an "n/a" at its place, not a silent gap
    df["zero"] = 0.0
    df["low"], df["high"] = df["sink"] - df["se"].fillna(0), df["sink"] + df["se"].fillna(0)
    df["role"] = df["intervention"].map(_role)

    df["label"] = df["intervention"].map(lambda k: k if k == "baseline" else f"{k}: {describe(k)}")
    domain = ["this model"] + ([PUBLISHED_LABEL] if len(frames) > 1 else [])
    order = [k if k == "baseline" else f"{k}: {describe(k)}" for k in story_order(table["intervention"])]
    axis = alt.Axis(labelAngle=-35, labelLimit=220, labelFontSize=LABEL_SIZE,
                    **({"labelExpr": "split(datum.label, ':')[0]"} if keys_only else {}))
    x = alt.X("label:N", sort=order, title=None, axis=axis)
    df["name"] = df["intervention"].map(intervention_name)
    color = _series("name", list(dict.fromkeys(table["intervention"])))["color"]
    color.legend = None  # the axis names each bar; the subtitle says what the hues mean
    base = alt.Chart().encode(x=x, xOffset=alt.XOffset("source:N", sort=domain))
    stroke = _series("name", list(dict.fromkeys(table["intervention"])))["color"].to_dict()
    stroke.pop("legend", None)
    source = dict(sort=domain, title=None, legend=alt.Legend(symbolStrokeColor="black", symbolFillColor="black"))
    ran = base.transform_filter("!datum.na")
    bars = ran.mark_bar(strokeWidth=1.5).encode(  # published: a pale bar with its intervention's outline, dashed
        y=alt.Y("sink:Q", title="sink at the key"), color=color, stroke=alt.Stroke(**stroke, legend=None),
        fillOpacity=alt.FillOpacity("source:N", scale=alt.Scale(domain=domain, range=[1.0, 0.15][: len(domain)]),
                                    **source),
        strokeDash=alt.StrokeDash("source:N", scale=alt.Scale(domain=domain, range=[[1, 0], [4, 2]][: len(domain)]),
                                  **source),
        tooltip=["source", "domain", alt.Tooltip("name:N", title="intervention"), "role"]
        + [alt.Tooltip("sink:Q", format=".3f"), alt.Tooltip("se:Q", format=".4f")])
    err = ran.mark_errorbar(color="black", thickness=2, ticks=alt.TickConfig(size=6)).encode(
        y=alt.Y("low:Q", title="sink at the key"), y2="high:Q")
    na = base.transform_filter("datum.na").mark_text(text="n/a", baseline="bottom", dy=-2, fontSize=10,
                                                      color="#555555").encode(
        y=alt.Y("zero:Q", title="sink at the key"), tooltip=[alt.Tooltip("name:N", title="did not run here")])
    doms = list(dict.fromkeys(table["domain"]))
    layers = [bars, err] + ([na] if df["na"].any() else [])
    return alt.layer(*layers, data=df).properties(width=max(520, 44 * len(order)), height=210).facet(
        row=alt.Row("domain:N", sort=doms, title=None, header=alt.Header(labelFontSize=12, labelAngle=0))).properties(
        title=alt.TitleParams("Sink per intervention and domain (± standard error)",
                              subtitle=[ROLE_HUES + ";", "a move is measured at its target"
                                        + ("; pale with a dashed outline: published reference" if len(frames) > 1
                                           else "") + "; n/a: did not run on this model"]))


# ---------------------------------------------------------------- Structural origin
def variance_chart(stats: pd.DataFrame, layer: int | None = None, value: str = "variance") -> alt.Chart:
    """Attention-output variance (or 'norm') per position, first position in red; one layer or a facet of all."""
    df = stats if layer is None else stats[stats["layer"] == layer]
    df = df.assign(group=_label_first(_first_flag(df)))
    quantity = {"variance": "attention-output variance", "norm": "attention-output norm"}.get(value, value)
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X("position:O", title="position"), y=alt.Y(f"{value}:Q", title=quantity),
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
        x=alt.X("coord:Q", title="residual coordinate"),
        y=alt.Y("weight:Q", title="weight written into the coordinate"),
        color=alt.condition("abs(datum.weight) > 0", alt.value(FIRST), alt.value(OTHER)),
        tooltip=["coord", alt.Tooltip("weight:Q", format=".4f")],
    ).properties(width=520, height=200)


def _line_series(df: pd.DataFrame, key: str, x: alt.X, y: alt.Y, tooltip: list, name=intervention_name,
                 title: str | None = "intervention") -> alt.Chart:
    """Lines per series over an ordinal x, in the fixed intervention colours, each with its own dash pattern and its
    points side by side within the x band: series that coincide stay visible (dashes over a solid line, points
    beside each other)."""
    df = df.assign(series=df[key].map(name))
    present = list(dict.fromkeys(df[key]))
    shown = [name(k) for k in present]
    enc = _series("series", present, name=name, title=title, dashed=True)
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=36, filled=True), strokeWidth=2).encode(
        x=x, xOffset=alt.XOffset("series:N", sort=shown, scale=alt.Scale(domain=shown, paddingOuter=0.6)), y=y,
        tooltip=tooltip, **enc)


def moves_chart(moves: pd.DataFrame) -> alt.Chart:
    """Attention to position k per layer for the baseline and the two structural interventions (fixed colours, one
    dash pattern each, points side by side: isolate and amplify stay visible where they coincide)."""
    k = int(moves["key"].iloc[0]) if "key" in moves.columns and len(moves) else None
    order = ["baseline", "isolate", "amplify"]
    df = moves.assign(_order=moves["intervention"].map(lambda v: order.index(v) if v in order else len(order)))
    df = df.sort_values(["_order", "layer"]).drop(columns="_order")
    chart = _line_series(df, "intervention", alt.X("layer:O", title="layer", axis=alt.Axis(labelAngle=0)),
                         alt.Y("value:Q", title=f"mean attention to position {k}"),
                         [alt.Tooltip("series:N", title="intervention"), "layer", alt.Tooltip("value:Q", format=".3f")],
                         title=None)
    return chart.properties(title=f"Attention to position {k} per layer", width=420, height=240)


LOG_NAMES = {"train_loss": "training loss", "heldout_loss": "held-out loss",
             "gu_sink_share": "share of heads with a sink (Gu et al.)"}


def _log_name(column: str) -> str:
    """A training log's column as a legend names it: sink_L3 -> "layer 3: attention to position 0"."""
    if column.startswith("sink_L") and column[6:].isdigit():
        return f"layer {column[6:]}: attention to position 0"
    return LOG_NAMES.get(column, column.replace("_", " "))


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
        long = df.melt("step", cols, var_name="column", value_name="value").dropna()
        long["series"] = long["column"].map(_log_name)
        order = [_log_name(c) for c in cols]
        dash = alt.Scale(domain=order, range=[DASHES[i % len(DASHES)] for i in range(len(order))])
        legend = alt.Legend(symbolType="stroke", symbolStrokeWidth=2, labelLimit=260)
        return alt.Chart(long, title=title).mark_line(point=alt.OverlayMarkDef(size=24), strokeWidth=1.8).encode(
            x=alt.X("step:Q", title="training step"), y=alt.Y("value:Q", title=y_title),
            color=alt.Color("series:N", title=None, sort=order, legend=legend, scale=alt.Scale(domain=order)),
            strokeDash=alt.StrokeDash("series:N", title=None, sort=order, scale=dash, legend=legend),
            tooltip=["step", "series", alt.Tooltip("value:Q", format=".3f")],
        ).properties(width=420, height=220)

    panels = []
    if sink_cols:
        panels.append(panel(sink_cols, "Sink metrics during training", "sink metric"))
    if loss_cols:
        panels.append(panel(loss_cols, "Loss during training", "loss (nats/token)"))
    if not panels:
        raise ValueError("the training log has no sink or loss columns")
    if len(panels) == 1:
        return panels[0]
    return alt.vconcat(*panels).resolve_scale(color="independent", strokeDash="independent").properties(
        title="Emergence of the sink")


# ---------------------------------------------------------------- Compare specimens
CUT_SCALE = alt.Scale(scheme="redyellowblue", domain=[0, 100], clamp=True)
MOVE_SCALE = alt.Scale(scheme="purples", domain=[0, 100], clamp=True)


def signature_heatmap(computed: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """Model × intervention → % of baseline; computed rows first, then published ones, labelled as such.

    Two colour scales, each with its own legend: the cuts and controls (left columns) show the sink LEFT at position 0
    (red: cut, blue: intact); the moves (right columns) show the share of the baseline sink that ARRIVED at their
    target k (dark purple: moved), values above 100 % drawn as 100 % and printed as they are. Columns and rows carry
    human names. Blank cells (an intervention that does not apply) carry the reason in their tooltip."""
    present = story_order(computed["intervention"])
    is_move = {k: k in REGISTRY and REGISTRY[k].role() == "moves the sink" for k in present}
    order = [k for k in present if not is_move[k]] + [k for k in present if is_move[k]]
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
    df["name"] = df["intervention"].map(intervention_name)
    df["move"] = df["intervention"].map(is_move).fillna(False).astype(bool)
    df["pct_left"] = df["pct"].where(~df["move"])
    df["pct_at_k"] = df["pct"].where(df["move"])
    df["measured"] = df["move"].map({True: "arrived at k, % of the baseline sink at 0",
                                     False: "left at position 0, % of the baseline"})
    dark = (df["pct_left"] < 22) | (df["pct_left"] > 80) | (df["pct_at_k"] > 60)
    df["ink"] = dark.map({True: "white", False: "black"})
    row_order = list(dict.fromkeys(df["row"]))
    names = [intervention_name(k) for k in order]
    base = alt.Chart(df).encode(
        x=alt.X("name:N", sort=names, title=None,
                axis=alt.Axis(labelAngle=-40, labelFontSize=11, labelLimit=200, labelOverlap=False)),
        y=alt.Y("row:N", sort=row_order, title=None,
                axis=alt.Axis(labelFontSize=11, labelLimit=260, labelExpr="split(datum.label, ' — ')",
                              labelLineHeight=12)),
    )
    tooltip = [alt.Tooltip("row:N", title="model"), alt.Tooltip("name:N", title="intervention"),
               alt.Tooltip("pct:Q", format=".1f", title="% of baseline"), alt.Tooltip("measured:N", title="measured"),
               alt.Tooltip("sink:Q", format=".4f"), "source", "reason"]
    legend = dict(orient="right", gradientLength=120, titleLimit=260)
    cut_cells = base.transform_filter("!datum.move").mark_rect().encode(
        color=alt.Color("pct_left:Q", scale=CUT_SCALE,
                        legend=alt.Legend(title=["cuts and controls:", "sink left at position 0,", "% of baseline"],
                                          **legend)),
        tooltip=tooltip)
    layers = [cut_cells]
    if any(is_move.values()):
        layers.append(base.transform_filter("datum.move").mark_rect().encode(
            color=alt.Color("pct_at_k:Q", scale=MOVE_SCALE,
                            legend=alt.Legend(title=["moves: arrived at k,", "% of the baseline sink"], **legend)),
            tooltip=tooltip))
    layers.append(base.mark_text(fontSize=10).encode(text="label:N", color=alt.Color("ink:N", scale=None)))
    subtitle = ("left columns: cuts and controls, the sink left at position 0 (red: cut, blue: intact); "
                "right columns: moves, the share that arrived at k (dark purple: moved)")
    return alt.layer(*layers).resolve_scale(color="independent").properties(
        width="container", height=32 * len(row_order),
        title=alt.TitleParams("Intervention signatures: % of each model's baseline sink", anchor="start",
                              subtitle=subtitle.split("; ")))


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
def _curves(df: pd.DataFrame, x: str, y: str, sd: str, key: str, title: str, x_title: str, y_title: str,
            name, pub: pd.DataFrame | None, pub_y: str, log2_x: bool = False) -> alt.Chart:
    """The report's line chart (sinklab.experiments.figures.lines: mean ± SD across seeds, one panel per model,
    published numbers as black-outlined marks in their curve's colour, shaped by who published them), drawn so that
    no series hides another: the fixed per-intervention colours, one dash pattern per series, and each series'
    points and error bars nudged sideways (a few % of a doubling on a log axis), the tooltip giving the true x."""

    df = df.copy()
    df["lo"], df["hi"] = df[y] - df[sd].fillna(0), df[y] + df[sd].fillna(0)
    present = list(dict.fromkeys(df[key]))
    within = {key: present, "model": list(df["model"].unique())}
    data = figures.with_published(df, pub, y, pub_y, within)
    data["series"] = data[key].map(name)
    slot = {k: i - (len(present) - 1) / 2 for i, k in enumerate(present)}
    if log2_x:
        data["x_drawn"] = data[x] * 2.0 ** (0.045 * data[key].map(slot).fillna(0))
        ticks = sorted({int(v) for v in data[x].dropna()})
        xenc = alt.X("x_drawn:Q", title=x_title, scale=alt.Scale(type="log", base=2, nice=False),
                     axis=alt.Axis(values=ticks, format="d"))
    else:
        span = float(data[x].max() - data[x].min()) or 1.0
        data["x_drawn"] = data[x] + 0.008 * span * data[key].map(slot).fillna(0)
        xenc = alt.X("x_drawn:Q", title=x_title, scale=alt.Scale(nice=False, padding=10))
    enc = _series("series", present, name=name, title=None, dashed=True)
    tip = [alt.Tooltip("series:N", title="curve"), alt.Tooltip(f"{x}:Q", title=x_title),
           alt.Tooltip(f"{y}:Q", format=".3f", title=y_title), alt.Tooltip(f"{sd}:Q", format=".3f", title="SD")]
    base = alt.Chart(data)
    computed = base.transform_filter(figures.COMPUTED)
    line = computed.mark_line(point=alt.OverlayMarkDef(size=36, filled=True), strokeWidth=2).encode(
        x=xenc, y=alt.Y(f"{y}:Q", title=y_title), tooltip=tip, **enc)
    err = computed.mark_rule(strokeWidth=1.5).encode(x=xenc, y="lo:Q", y2="hi:Q", color=enc["color"])
    layers = [line, err]
    if (data["kind"] == "published").any():  # in the colour of its curve, shaped by who published it
        layers.append(base.transform_filter(figures.IS_PUBLISHED).mark_point(**figures.PUBLISHED_MARK).encode(
            x=xenc, y=f"{y}:Q", color=enc["color"], shape=figures.reference_shape(data),
            tooltip=["reference", "reference_model", alt.Tooltip("series:N", title="curve"),
                     alt.Tooltip(f"{x}:Q", title=x_title), alt.Tooltip(f"{y}:Q", format=".3f")]))
    chart = alt.layer(*layers).properties(width=360, height=220)
    chart = chart.facet(column=alt.Column("model:N", title=None))
    return chart.properties(title=alt.TitleParams(title, anchor="start", subtitle=[
        "each curve has its own colour and dash; points sit slightly apart so that",
        "coinciding curves stay visible (the tooltip gives the exact value)"]))


def length_curve(summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """The length experiment (sinklab.experiments): each cut's sink, % of the same-length baseline, vs tokens;
    mean ± SD across data seeds (the report's figure, one panel per model), each cut in its fixed colour and dash."""
    if summary is None or summary.empty:
        return None
    s = summary[summary["intervention"] != "baseline"]  # 100 % by definition; its own sink is in the table
    p = None if published is None else published[published["intervention"] != "baseline"]
    return _curves(s, "n_tokens", "pct_of_baseline_mean", "pct_of_baseline_sd", "intervention",
                   "Length: sink left as % of the same-length baseline (mean ± SD across seeds)", "tokens",
                   "% of baseline", intervention_name, p, "pct_of_baseline", log2_x=True)


def _dose_name(curve: str) -> str:
    if curve in DOSE_CURVES:
        return f"({curve}) {DOSE_CURVES[curve]}" if len(curve) == 1 else DOSE_CURVES[curve]
    return intervention_name(curve)


def dose_curves(summary: pd.DataFrame, published: pd.DataFrame | None = None) -> alt.Chart:
    """The dose experiment: the sink vs α for each curve (scale b_Q, scale the W_k rows, interpolate PE_0 toward
    PE_1), mean ± SD across seeds; the extension's published numbers as marks in the colour of their curve,
    shaped by their source (a labelled legend). Each curve in the fixed colour of the intervention it doses."""

    if summary is None or summary.empty:
        return None
    s = figures.shown_domain(summary)
    p, note = figures.same_domain(published, s)
    return _curves(s, "alpha", "sink_mean", "sink_sd", "curve", f"Dose-response: sink vs α{note}", "α", "sink",
                   _dose_name, p, "sink")


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
    wheres = ["position 0", "other positions (mean)"]
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", scale=alt.Scale(type="log"), title=f"|coordinate {c}|"),
        color=alt.Color("where:N", scale=alt.Scale(domain=wheres, range=[FIRST, OTHER]),
                        title=None, legend=alt.Legend(orient="top", symbolType="stroke")),
        strokeDash=alt.StrokeDash("where:N", scale=alt.Scale(domain=wheres, range=[[1, 0], [6, 3]]), title=None,
                                  legend=alt.Legend(orient="top", symbolType="stroke")),
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


def _cut_name(setting: str, label: str, layer=None) -> str:
    """A cuts table's setting as a reader names it: "Zero super neurons", "Zero random neurons (control, seed 0)"."""
    where = f", layer {int(layer)}" if layer is not None and not pd.isna(layer) else ""
    if label == "zero_random_neurons":
        seed = setting.split(":", 1)[1] if ":" in setting else ""
        return f"{intervention_name(label)} (control{', seed ' + seed if seed else ''}){where}"
    if label == "skip_mlp":
        return f"(g) No MLP in layer {int(layer)}" if where else "(g) No MLP, one layer"
    if label == "amplify" and ":" in setting:
        return f"{intervention_name(label)} × {setting.split(':', 1)[1]}"
    return intervention_name(label) + (where if label in ("zero_neurons",) else "")


def cuts_bars(cuts: pd.DataFrame) -> alt.Chart:
    """Each link's cut (and its control) as % of the baseline sink, one bar each in its intervention's fixed colour
    (skip_mlp: (g)'s); rows that did not run are omitted."""
    df = cuts[(cuts["n"] > 0) & (cuts["setting"] != "baseline")].copy()
    layer = df["layer"] if "layer" in df.columns else pd.Series([None] * len(df), index=df.index)
    df["what"] = [_cut_name(str(s_), str(l_), ly) for s_, l_, ly in zip(df["setting"], df["label"], layer)]
    df["role"] = df["label"].map(lambda l: "control" if l == "zero_random_neurons" else
                                 "moves the sink" if l in ("isolate", "amplify") else "cuts a wire")
    df["intervention"] = df["label"].map(intervention_name)
    enc = _series("intervention", list(df["label"]), title=None)
    enc["color"].legend = None  # the axis names each bar
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("what:N", sort=list(df["what"]), title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X("pct_of_baseline:Q", title="sink at position 0, % of the baseline", scale=alt.Scale(domain=[0, 120])),
        tooltip=[alt.Tooltip("what:N", title="cut"), "role",
                 alt.Tooltip("pct_of_baseline:Q", format=".1f", title="% of baseline"),
                 alt.Tooltip("pct_at_k:Q", format=".1f", title="% at k")],
        **enc,
    ).properties(width=460, height=22 * max(1, len(df)), title=alt.TitleParams(
        "Each link cut, beside its control", anchor="start",
        subtitle="warm colours cut a link; blue is the control (as many random neurons of that layer)"))
