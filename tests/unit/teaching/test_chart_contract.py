"""Every chart builder's encodings name fields that exist in its data, and its data is not empty.

Altair accepts a missing column silently (the browser then draws an empty chart), so this walks the
Vega-Lite spec of every builder in sinklab.teaching.charts, built from real lesson views on the textbook model.
"""
from __future__ import annotations

import inspect
import json
import re

import pytest
import torch

import sinklab
from sinklab import charts, lessons
from sinklab.published import reference
from sinklab.interventions import make, ordered

pytestmark = pytest.mark.slow  # builds every lesson view once (about 8 s)


@pytest.fixture(scope="module")
def built():
    torch.set_num_threads(1)
    lm = sinklab.load_model("textbook")
    st, dec = lessons.start(lm), lessons.decomposition(lm, layer=3, head=0)
    epe, gam = lessons.epe_lesson(lm, n=6), lessons.gamma_lesson(lm)
    iv = lessons.intervention_lesson(lm, make("transplant", other=4))
    dom = lessons.domains_lesson(lm, n=3)
    ori = lessons.origin_lesson(lm)
    cmp_ = lessons.compare_lesson([lm], n=2)
    log = lessons.emergence_log(sinklab.load_model("sinklab-mini"))
    circ = lessons.circuit_lesson(lm, cuts=("bq",))
    cur = lessons.curves_lesson(lm, n=2, lengths=(16, 32))
    return {
        "attention_map": [charts.attention_map(st.maps, 2), charts.attention_map(st.maps, 1, head=3)],
        "head_grid": [charts.head_grid(st.heads)],
        "sink_per_layer": [charts.sink_per_layer(st.per_layer, st.paper_layers)],
        "terms_heatmaps": [charts.terms_heatmaps(dec.terms), charts.terms_heatmaps(dec.terms, domain=dec.score_range)],
        "attention_compare": [charts.attention_compare(dec.attention)],
        "delta_bars": [charts.delta_bars(dec.delta)],
        "delta_histogram": [charts.delta_histogram(dec.pooled)],
        "epe_coords": [charts.epe_coords(epe.coords)],
        "epe_validation": [charts.epe_validation(epe.validation, reference.epe_validation())],
        "gamma_table_chart": [charts.gamma_table_chart(gam.table)],
        "gamma_histogram": [charts.gamma_histogram(gam.distribution)],
        "alignment_chart": [charts.alignment_chart(gam.alignment)],
        "before_after_maps": [charts.before_after_maps(iv.before, iv.after, 2)],
        "per_layer_change": [charts.per_layer_change(iv.per_layer)],
        "domain_bars": [charts.domain_bars(dom.table), charts.domain_bars(dom.table, reference.authors_table1())],
        "variance_chart": [charts.variance_chart(ori.stats), charts.variance_chart(ori.stats, 0, "norm")],
        "down_projection_bar": [charts.down_projection_bar(ori.row)],
        "moves_chart": [charts.moves_chart(ori.moves)],
        "chain_chart": [charts.chain_chart(ori.chain)],
        "cuts_bars": [charts.cuts_bars(ori.cuts)],
        "emergence_chart": [charts.emergence_chart(log)],
        "signature_heatmap": [charts.signature_heatmap(cmp_.computed, cmp_.published)],
        "circuit_diagram": [charts.circuit_diagram(circ.nodes, circ.edges)],
        "length_curve": [charts.length_curve(cur.lengths_summary),
                         charts.length_curve(cur.lengths_summary, sinklab.published.beside.lengths_rows())],
        "dose_curves": [charts.dose_curves(cur.dose_summary),
                        charts.dose_curves(cur.dose_summary, sinklab.published.beside.dose_rows()),
                        charts.dose_curves(cur.dose_summary, sinklab.published.beside.dose_rows().assign(
                            model=lm.info.name))],  # as for_models gives them: beside a named model
    }


# helpers of the builders, no chart
NOT_BUILDERS = {"to_dot", "intervention_colours", "intervention_colour", "intervention_name", "story_order"}


def builders() -> set[str]:
    return {n for n, f in inspect.getmembers(charts, inspect.isfunction)
            if not n.startswith("_") and f.__module__ == charts.__name__ and n not in NOT_BUILDERS}


def test_every_builder_is_covered(built):
    missing = builders() - set(built)
    assert not missing, f"add these chart builders to the contract test: {sorted(missing)}"


def _derived(transforms: list) -> set[str]:
    out = set()
    for t in transforms:
        v = t.get("as")
        if isinstance(v, str):
            out.add(v)
            if "bin" in t:
                out.add(f"{v}_end")
        elif isinstance(v, list):
            out.update(v)
        for key in ("aggregate", "joinaggregate", "window"):
            out.update(a["as"] for a in t.get(key, []))
        if "fold" in t:
            out.update(t.get("as", ["key", "value"]))
    return out


def _fields(encoding: dict) -> list[str]:
    out = []
    for ch in encoding.values():
        for e in ch if isinstance(ch, list) else [ch]:
            if isinstance(e, dict):
                if "field" in e and not e.get("aggregate"):
                    f = e["field"]
                    out.append(f if isinstance(f, str) else f.get("repeat", ""))
                if "condition" in e and isinstance(e["condition"], dict) and "field" in e["condition"]:
                    out.append(e["condition"]["field"])
    return out


def check(spec: dict) -> list[str]:
    """Problems in a Vega-Lite spec: missing fields, empty datasets."""
    datasets = spec.get("datasets", {})
    problems = []

    def columns(name):
        rows = datasets.get(name, [])
        if not rows:
            problems.append(f"dataset {name!r} is empty")
        return set().union(*[set(r) for r in rows]) if rows else set()

    def walk(node, cols, derived):
        if isinstance(node.get("data"), dict) and "name" in node["data"]:
            cols = columns(node["data"]["name"])
        derived = derived | _derived(node.get("transform", []))
        facet = node.get("facet", {})
        for f in _fields(facet if "field" not in facet else {"facet": facet}):
            if f not in cols | derived:
                problems.append(f"facet field {f!r} not in data {sorted(cols)}")
        for f in _fields(node.get("encoding", {})):
            if f and f not in cols | derived:
                problems.append(f"encoding field {f!r} not in data {sorted(cols)[:12]}")
        for key in ("layer", "hconcat", "vconcat", "concat"):
            for sub in node.get(key, []):
                walk(sub, cols, derived)
        if isinstance(node.get("spec"), dict):
            walk(node["spec"], cols, derived)

    walk(spec, set(), set())
    return problems


def test_encodings_name_existing_fields_and_data_is_not_empty(built):
    for name, chart_list in built.items():
        assert chart_list, name
        for c in chart_list:
            problems = check(c.to_dict())
            assert not problems, (name, problems)


def test_the_contract_catches_a_renamed_column():
    import altair as alt
    import pandas as pd

    ok = alt.Chart(pd.DataFrame({"a": [1], "b": [2]})).mark_point().encode(x="a:Q", y="b:Q")
    bad = alt.Chart(pd.DataFrame({"a": [1], "b": [2]})).mark_point().encode(x="a:Q", y="renamed:Q")
    empty = alt.Chart(pd.DataFrame({"a": []})).mark_point().encode(x="a:Q")
    assert check(ok.to_dict()) == []
    assert any("renamed" in p for p in check(bad.to_dict()))
    assert any("empty" in p for p in check(empty.to_dict()))


# ---------------------------------------------------------------- human titles (issue 21, item 5)
RAW = {"value", "weight", "series", "curve", "kind", "group", "source", "role", "run", "run_name", "coord", "exceeds",
       "label", "name", "what", "band", "x_drawn", "lo", "hi", "low", "high", "pct", "pct_left", "pct_at_k", "where",
       "state", "key_label", "query_label", "in paper metric", "intervention", "setting", "above", "coordinate"}
SNAKE = re.compile(r"\b[a-z]{2,}_[a-z_]{2,}\b")  # pct_of_baseline, abs_gamma, sink_mean (not EPE_0, b_Q, W_k, d_head)


def _text(t) -> str:
    return " ".join(map(str, t)) if isinstance(t, list) else str(t or "")


def guide_titles(spec: dict) -> list[str]:
    """The titles of every axis and legend the chart draws, as Vega compiles them (layers merged)."""
    import vl_convert as vlc

    vega = vlc.vegalite_to_vega(json.loads(json.dumps(spec).replace('"container"', "600")))
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("axes", "legends"):
                for guide in node.get(key, []) or []:
                    if guide.get("title") is not None and (guide.get("domain", True) or guide.get("labels", True)):
                        out.append(_text(guide["title"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(vega)
    return out


def legend_values(spec: dict) -> list[str]:
    vals = []
    stack = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            legend = node.get("legend")
            if isinstance(legend, dict) and isinstance(legend.get("values"), list):
                vals += [str(v) for v in legend["values"]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return vals


def test_axes_and_legends_have_human_titles(built):
    """No axis or legend is titled with a raw column name (pct_of_baseline, value, coord, series, ...), and no legend
    lists a raw intervention label (scale_wk, zero_neurons): the names a reader knows are drawn instead."""
    labels = set(ordered()) - {"a"}
    for name, chart_list in built.items():
        for c in chart_list:
            spec = c.to_dict()
            for title in guide_titles(spec):
                assert title.strip().lower() not in RAW, f"{name}: a guide titled {title!r}"
                assert not SNAKE.search(title), f"{name}: a guide titled {title!r}"
            for v in legend_values(spec):
                assert v not in labels and not SNAKE.search(v), f"{name}: a legend entry {v!r}"
