"""sinklab.teaching.charts on real lesson output from the bundled "textbook" model: every builder serialises."""
from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest

from sinklab import charts, lessons
from sinklab.interventions import make
from sinklab.published.reference import epe_validation as published_epe
from sinklab.published.reference import authors_table1


@pytest.fixture(scope="module")
def views(textbook):
    lm = textbook
    return {
        "start": lessons.start(lm),
        "dec": lessons.decomposition(lm, layer=1, head=0),
        "epe": lessons.epe_lesson(lm, n=3),
        "gamma": lessons.gamma_lesson(lm),
        "iv": lessons.intervention_lesson(lm, make("transplant", other=3)),
        "dom": lessons.domains_lesson(lm, n=2),
        "origin": lessons.origin_lesson(lm, position=5),
    }


def spec(chart) -> dict:
    assert isinstance(chart, alt.TopLevelMixin)
    d = chart.to_dict()
    json.dumps(d)  # serialisable
    return d


def text(chart) -> str:
    return json.dumps(chart.to_dict(), ensure_ascii=False)


def has_title(d: dict) -> bool:
    return bool(d.get("title"))


def test_start_charts(views):
    v = views["start"]
    d = spec(charts.attention_map(v.maps, layer=2))
    assert has_title(d) and "layer 2" in json.dumps(d["title"])
    assert "key_token" in text(charts.attention_map(v.maps, layer=2))
    d = spec(charts.attention_map(v.maps, layer=1, head=3))
    assert "head 3" in json.dumps(d["title"])
    assert has_title(spec(charts.head_grid(v.heads)))
    assert has_title(spec(charts.sink_per_layer(v.per_layer, v.paper_layers)))
    assert has_title(spec(charts.sink_per_layer(v.per_layer)))


def test_attention_map_filters_layer(views):
    v = views["start"]
    a = charts.attention_map(v.maps, layer=0)
    b = charts.attention_map(v.maps, layer=3)
    assert not a.data.equals(b.data)
    mean0 = v.maps.weights(0)  # [query_pos, key_pos]
    got = a.data.set_index(["query", "key"])["weight"]
    assert abs(got.loc[(5, 0)] - mean0[5, 0]) < 1e-7 and abs(got.loc[(7, 3)] - mean0[7, 3]) < 1e-7
    head3 = charts.attention_map(v.maps, layer=0, head=3).data.set_index(["query", "key"])["weight"]
    assert abs(head3.loc[(5, 0)] - v.maps.heads[0, 3, 5, 0]) < 1e-7


def test_decomposition_charts(views):
    v = views["dec"]
    t = text(charts.terms_heatmaps(v.terms))
    assert "key-only" in t and "model" in t
    assert has_title(spec(charts.attention_compare(v.attention)))
    t = text(charts.delta_bars(v.delta))
    assert "first position" in t and charts.FIRST in t
    t = text(charts.delta_histogram(v.pooled))
    assert "first position" in t and charts.FIRST in t


def test_epe_charts(views):
    v = views["epe"]
    t = text(charts.epe_coords(v.coords))
    assert "massive" in t and charts.FIRST in t and "threshold" in t
    assert has_title(spec(charts.epe_validation(v.validation)))
    t = text(charts.epe_validation(v.validation, published=published_epe()))
    assert charts.PUBLISHED_LABEL in t and charts.PUBLISHED_COLOUR in t


def test_gamma_charts(views):
    v = views["gamma"]
    assert "baseline_upper" in text(charts.gamma_table_chart(v.table))
    t = text(charts.gamma_histogram(v.distribution))
    assert "massive" in t and charts.FIRST in t
    t = text(charts.alignment_chart(v.alignment))
    assert "first position" in t and charts.FIRST in t


def test_intervention_charts(views):
    v = views["iv"]
    d = spec(charts.before_after_maps(v.before, v.after, layer=2))
    assert "layer 2" in json.dumps(d["title"]) and "before" in text(charts.before_after_maps(v.before, v.after, 2))
    t = text(charts.per_layer_change(v.per_layer))
    assert "attention to position 3" in t and "attention to position 0" in t


def test_domain_charts(views):
    v = views["dom"]
    t = text(charts.domain_bars(v.table))
    assert "errorbar" in t and charts.PUBLISHED_LABEL not in t
    t = text(charts.domain_bars(v.table, published=authors_table1()))
    assert charts.PUBLISHED_LABEL in t


def test_origin_charts(views):
    v = views["origin"]
    t = text(charts.variance_chart(v.stats, layer=1))
    assert "first position" in t and charts.FIRST in t
    assert has_title(spec(charts.variance_chart(v.stats)))
    assert has_title(spec(charts.variance_chart(v.stats, layer=0, value="norm")))
    assert has_title(spec(charts.down_projection_bar(v.row)))
    t = text(charts.moves_chart(v.moves))
    assert "isolate" in t and "amplify" in t and "position 5" in t


def test_emergence_chart_tolerant():
    log = pd.DataFrame({"step": [0, 250, 500], "train_loss": ["nan", 2.8, 2.0], "heldout_loss": [5.4, 2.1, 1.8],
                        "sink_L0": [0.02, 0.01, 0.01], "gu_sink_share": [0.0, 0.001, 0.0]})
    t = text(charts.emergence_chart(log))
    assert "sink_L0" in t and "heldout_loss" in t
    assert has_title(spec(charts.emergence_chart(log[["step", "sink_L0"]])))
    with pytest.raises(ValueError):
        charts.emergence_chart(pd.DataFrame({"x": [1]}))


def test_published_marks_stand_beside_the_model_they_match_only():
    """A report on two models, one of GPT-2 small's shape: the published diamonds go in that model's panel."""
    import pandas as pd

    from sinklab.experiments import figures
    from sinklab.published import beside as published

    rows = [{"model": m, "domain": "all", "curve": c, "alpha": a, "sink_mean": 0.5 * a + k, "sink_sd": 0.01}
            for k, m in enumerate(("gpt2-like", "textbook")) for c in ("b", "scale_wk") for a in (0.0, 0.5, 1.0)]
    pub = published.dose_rows().assign(model="gpt2-like")  # as published.for_models names the matching model
    spec = figures.chart("dose", pd.DataFrame(rows), pub).to_dict()
    data = [r for rows in spec["datasets"].values() for r in rows]
    shown = {r["model"] for r in data if r.get("kind") == "published"}
    assert shown == {"gpt2-like"}
    drawn = pub[pub["curve"].isin({"b", "scale_wk"})]  # beside a computed curve only (no "pe" curve was run)
    assert len(drawn) < len(pub)
    assert sum(r.get("kind") == "published" for r in data) == len(drawn)  # each once, not once per panel



def test_published_marks_of_another_domain_say_so():
    """The extension published pooled numbers; beside a one-domain run the chart says the marks are pooled."""
    import pandas as pd

    from sinklab.experiments import figures
    from sinklab.published import beside as published

    rows = [{"model": "gpt2", "domain": d, "curve": "b", "alpha": a, "sink_mean": 0.5 * a, "sink_sd": 0.01}
            for d in ("nl",) for a in (0.0, 0.5, 1.0)]
    pub = published.dose_rows().assign(model="gpt2")
    assert set(pub["domain"]) == {"all"}
    title = str(figures.chart("dose", pd.DataFrame(rows), pub).to_dict().get("title"))
    assert "the three domains pooled; computed here: nl only" in title
    pooled = pd.DataFrame(rows).assign(domain="all")
    assert "pooled" not in str(figures.chart("dose", pooled, pub).to_dict().get("title"))


# ---------------------------------------------------------------- issue 21 item 5: charts a class can read
from sinklab.interventions import REGISTRY, ordered  # noqa: E402


def _walk(node):
    """Every dict in a Vega-Lite spec."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _rows(d: dict) -> list[dict]:
    return [r for rows in d.get("datasets", {}).values() for r in rows]


def colours_drawn(chart, field: str | None = None) -> dict[str, str]:
    """name -> colour for every value of a colour-encoded field that the chart's data holds, read from the explicit
    scales (domain/range) of its colour encodings."""
    d = chart.to_dict()
    out = {}
    for node in _walk(d):
        enc = node.get("color") if isinstance(node.get("color"), dict) else None
        if not enc or "field" not in enc or (field and enc["field"] != field):
            continue
        scale = enc.get("scale") or {}
        dom, rng = scale.get("domain"), scale.get("range")
        assert isinstance(dom, list) and isinstance(rng, list), f"colour by {enc['field']} without an explicit scale"
        mapping = dict(zip(dom, rng))
        for r in _rows(d):
            if r.get(enc["field"]) is not None:
                out[r[enc["field"]]] = mapping[r[enc["field"]]]
    return out


def test_every_registered_intervention_has_one_fixed_colour_in_its_roles_family():
    colours = charts.intervention_colours()
    labels = ordered()
    assert set(labels) <= set(colours) and "baseline" in colours
    assert colours["a"] == colours["baseline"]
    distinct = [k for k in labels if k != "a"] + ["baseline"]
    assert len({colours[k] for k in distinct}) == len(distinct), "two interventions share a colour"
    for k in labels:
        role = "baseline" if k == "a" else REGISTRY[k].role()
        assert colours[k] in charts.ROLE_FAMILIES[role], (k, role, colours[k])
    assert colours["skip_mlp"] == colours["g"]  # (g) in one layer
    assert charts.intervention_name("b") == "(b) No query bias" and charts.intervention_name("baseline") == "Baseline"
    assert charts.intervention_name("scale_wk") == REGISTRY["scale_wk"].title


@pytest.fixture(scope="module")
def structural():
    """The same lessons on a model with another subset of interventions (no position embeddings: c, d, e, h,
    transplant and interpolate do not apply, so its charts draw fewer series)."""
    import sinklab

    lm = sinklab.load_model("textbook-structural")
    return {"dom": lessons.domains_lesson(lm, n=2), "origin": lessons.origin_lesson(lm, position=5),
            "cur": lessons.curves_lesson(lm, n=2, lengths=(16, 32), seeds=(0,))}


@pytest.fixture(scope="module")
def curves(textbook):
    return lessons.curves_lesson(textbook, n=2, lengths=(16, 32), seeds=(0,))


def test_same_intervention_same_colour_across_models_and_pages(views, structural, curves):
    """Two models showing different subsets of interventions: every intervention keeps its one colour, on the
    domains chart, the length and dose curves, the moves and the structural cuts."""
    expected = {charts.intervention_name(k): c for k, c in charts.intervention_colours().items()}
    drawn = {
        "domains, textbook": colours_drawn(charts.domain_bars(views["dom"].table), "name"),
        "domains, textbook-structural": colours_drawn(charts.domain_bars(structural["dom"].table), "name"),
        "domains, two interventions": colours_drawn(charts.domain_bars(views["dom"].table, interventions=("e", "b")),
                                                    "name"),
        "lengths, textbook": colours_drawn(charts.length_curve(curves.lengths_summary), "series"),
        "lengths, textbook-structural": colours_drawn(charts.length_curve(structural["cur"].lengths_summary), "series"),
        "moves, textbook": colours_drawn(charts.moves_chart(views["origin"].moves), "series"),
        "moves, textbook-structural": colours_drawn(charts.moves_chart(structural["origin"].moves), "series"),
        "cuts, textbook": colours_drawn(charts.cuts_bars(views["origin"].cuts), "intervention"),
    }
    ran = [set(t.dropna(subset=["sink"])["intervention"]) for t in (views["dom"].table, structural["dom"].table)]
    assert ran[0] != ran[1]  # really another subset of interventions
    assert set(drawn["domains, two interventions"]) == {"(b) No query bias", "(e) Swap PE"}
    seen: dict[str, tuple[str, str]] = {}
    for where, mapping in drawn.items():
        assert mapping, where
        for name, colour in mapping.items():
            if name in expected:
                assert colour == expected[name], (where, name, colour, expected[name])
            if name in seen:
                assert colour == seen[name][0], f"{name}: {colour} on {where}, {seen[name][0]} on {seen[name][1]}"
            seen[name] = (colour, where)
    # and in the same order, whichever model's table the chart comes from
    def xs(chart):
        enc = [u["encoding"]["x"] for u in _units(chart.to_dict()) if "sort" in u["encoding"].get("x", {})]
        return [x.split(":")[0] for x in enc[0]["sort"]]
    a, b = xs(charts.domain_bars(views["dom"].table)), xs(charts.domain_bars(structural["dom"].table))
    assert [k for k in a if k in b] == b
    # the dose curves take the colour of the intervention they dose
    dose = colours_drawn(charts.dose_curves(curves.dose_summary), "series")
    assert dose[charts._dose_name("b")] == charts.intervention_colour("b")
    assert dose[charts._dose_name("scale_wk")] == charts.intervention_colour("scale_wk")


def _units(d: dict):
    """Every unit spec (one with a mark) of a Vega-Lite spec."""
    for node in _walk(d):
        if "mark" in node and isinstance(node.get("encoding"), dict):
            yield node


def test_series_that_may_coincide_are_told_apart(views, structural, curves):
    """No hidden series: every line chart with several series gives each its own dash pattern and draws their
    points apart (xOffset on a band axis, a sideways nudge on a continuous one); the γ points of one layer stand
    side by side."""
    lines = {"moves": charts.moves_chart(structural["origin"].moves),
             "per-layer change": charts.per_layer_change(views["iv"].per_layer),
             "lengths": charts.length_curve(curves.lengths_summary),
             "dose": charts.dose_curves(curves.dose_summary)}
    for name, chart in lines.items():
        d = chart.to_dict()
        units = [u for u in _units(d) if (u["mark"] if isinstance(u["mark"], str) else u["mark"]["type"]) == "line"]
        assert units, name
        for u in units:
            enc = u["encoding"]
            assert "strokeDash" in enc and enc["strokeDash"]["field"] == enc["color"]["field"], name
            dashes = enc["strokeDash"]["scale"]["range"]
            doms = enc["strokeDash"]["scale"]["domain"]
            shown = {r[enc["color"]["field"]] for r in _rows(d) if enc["color"]["field"] in r}
            assert len(shown) > 1, name
            assert len({str(dashes[doms.index(s)]) for s in shown}) == len(shown), f"{name}: two series share a dash"
            assert "xOffset" in enc or enc["x"]["field"] == "x_drawn", f"{name}: points of coinciding series overlap"
    # the nudge is small and keeps the true x in the data (the tooltip shows it)
    rows = [r for r in _rows(charts.length_curve(curves.lengths_summary).to_dict()) if r.get("kind") == "computed"]
    for T in {r["n_tokens"] for r in rows}:
        at = [r for r in rows if r["n_tokens"] == T]
        assert len({r["x_drawn"] for r in at}) == len({r["series"] for r in at}) > 1  # each series its own x
        assert all(abs(r["x_drawn"] / T - 1) < 0.15 for r in at)
    g = charts.gamma_table_chart(views["gamma"].table).to_dict()
    pts = [u for u in _units(g) if "xOffset" in u["encoding"]]
    assert pts and pts[0]["encoding"]["xOffset"]["field"] == "coordinate"


def test_signature_heatmap_cuts_and_moves_on_separate_scales():
    """Cuts/controls (sink left at 0) and moves (arrived at k) each on their own colour scale and legend, columns
    named in words."""
    import pandas as pd
    import vl_convert as vlc

    computed = pd.DataFrame({"model": "m", "intervention": ["baseline", "b", "e", "isolate", "amplify"],
                             "title": "", "key": [0, 0, 0, 5, 5], "n": 4, "sink": [0.6, 0.1, 0.6, 0.5, 0.9],
                             "pct_of_baseline": [100, 15, 100, 80, 150], "note": ""})
    chart = charts.signature_heatmap(computed)
    d = chart.to_dict()
    colour_fields = {u["encoding"]["color"]["field"] for u in _units(d) if "field" in u["encoding"].get("color", {})}
    assert {"pct_left", "pct_at_k"} <= colour_fields
    rows = _rows(d)
    assert all(pd.isna(r["pct_left"]) for r in rows if r["intervention"] in ("isolate", "amplify"))
    assert all(pd.isna(r["pct_at_k"]) for r in rows if r["intervention"] in ("b", "e"))
    vega = vlc.vegalite_to_vega({**d, "width": 600})
    titles = [" ".join(t) if isinstance(t, list) else t for t in (lg.get("title") for lg in vega.get("legends", []))]
    assert any("left at position 0" in t for t in titles) and any("arrived at k" in t for t in titles), titles
    names = {r["name"] for r in rows}
    assert "(b) No query bias" in names and "Isolate position k" in names


def test_epe_validation_says_how_wide_its_band_is(views):
    """The p10–p90 band is drawn with dashed edges, and its width is printed (a band thinner than the line is
    said to be so, not silently invisible)."""
    v = views["epe"]
    d = charts.epe_validation(v.validation).to_dict()
    subtitle = " ".join(d["title"]["subtitle"])
    width = float((v.validation["p90"] - v.validation["p10"]).max())
    assert f"{width:.3f}" in subtitle
    if width < 0.005:  # textbook: every input gives the same cosine
        assert "thinner than the line" in subtitle
    fields = [u["encoding"].get("y", {}).get("field") for u in _units(d)]
    assert {"p10", "p90", "p50"} <= set(fields)
