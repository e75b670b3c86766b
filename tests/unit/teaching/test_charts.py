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
