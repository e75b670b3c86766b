"""URL fuzz: every URL parameter of every page on every bundled model -> no exception, no traceback, and
every widget's state inside its range.

The parameters are discovered, not listed: one clean session walks through every page (and every
registered intervention on the Interventions page) and collects the keys the app writes to the URL.
Each (page, model) run then gets ALL of them at once with malformed, out-of-range, 10 kB and odd values
(rotated, so every key sees several kinds of badness), plus unknown parameters. Targeted cases follow.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_helpers import BY_URL, PAGES, app, no_crash, slider  # noqa: E402
from app_helpers import offline_model  # noqa: E402,F401  (autouse: the offline default)

MODELS = ["textbook", "textbook-structural", "sinklab-mini"]
BAD = ["-1", "99999", "nan", "abc", "1e999", "8-12", "", "-3--1", "True", "x" * 10_000, "1" * 5000, "0.333333",
       "-inf", "[1, 2]", "\x00%00", "😀", "12-8", "3.7", "1,2", " 5 "]
CHEAP = {k: ["-1", "0", "2", "-3--1", "2.2"] for k in ("dom_n", "cmp_n")}  # keep Table 1 / Compare quick (n -> 2)
UNKNOWN = {"zzz_unknown": "1", "__proto__": "x", "layer.0": "3", "LAYER": "9"}


@pytest.fixture(scope="module")
def url_keys() -> list[str]:
    """Every key the app writes to the URL, on any page, for any registered intervention."""
    from sinklab.interventions import REGISTRY

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SINKLAB_MODEL", "textbook")
        at = app(dom_n=2, cmp_n=2, tokens=12)
        keys = set(at.query_params)
        for page in PAGES:
            at.switch_page(page.file).run()
            keys |= set(at.query_params)
        at.switch_page(BY_URL["circuit"].file).run()
        for route in at.radio(key="route").options:  # each route has its own wires to cut
            at.radio(key="route").set_value(route).run()
            keys |= set(at.query_params)
        at.switch_page(BY_URL["interventions"].file).run()
        for label in REGISTRY:
            at.selectbox(key="iv").set_value(label).run()
            keys |= set(at.query_params)
    keys |= {"text", "model_custom"}
    assert {"model", "prompt", "tokens", "bos", "metric", "layer", "head", "iv", "alpha", "layers", "pos",
            "factor", "dom_n", "samescale", "route", "cut_pe", "cut_mlp", "cut_wk", "cut_bq", "cut_variance",
            "cut_neuron", "cmp_models", "cmp_n", "cmp_target", "cmp_factor"} <= keys, sorted(keys)
    return sorted(keys)


def bad_query(keys: list[str], page_index: int, model_index: int, page: str) -> dict[str, str]:
    q = {}
    for i, k in enumerate(keys):
        pool = CHEAP.get(k, BAD)
        q[k] = pool[(i + 3 * page_index + 7 * model_index) % len(pool)]
    q.update(UNKNOWN)
    q["model"] = MODELS[model_index]  # the model under test (model names are fuzzed separately)
    return q


def assert_widgets_in_range(at) -> None:
    for s in at.slider:
        values = s.value if isinstance(s.value, tuple) else (s.value,)
        for v in values:
            assert s.min <= v <= s.max, (s.label, s.value, s.min, s.max)
    for b in at.selectbox:
        assert b.index is not None and 0 <= b.index < len(b.options), (b.label, b.value)
    for r in at.radio:
        assert r.index is not None and 0 <= r.index < len(r.options), (r.label, r.value)
    for m in at.multiselect:
        assert all(v in m.options or m.format_func(v) in m.options for v in m.value), (m.label, m.value)
    for t in at.text_area:
        assert len(t.value or "") <= 20_000


@pytest.mark.parametrize("model_index", range(len(MODELS)), ids=MODELS)
@pytest.mark.parametrize("page_index", range(len(PAGES)), ids=[p.url_path for p in PAGES])
def test_every_url_parameter_is_clamped(url_keys, page_index, model_index):
    page = PAGES[page_index]
    query = bad_query(url_keys, page_index, model_index, page.url_path)
    at = app(page.url_path, **query)
    no_crash(at)
    assert at.title and at.title[0].value.startswith(page.title), "the page itself ran"
    assert at.sidebar.selectbox(key="model").value == MODELS[model_index]
    assert_widgets_in_range(at)
    for k, v in at.query_params.items():
        assert k in UNKNOWN or len(v) <= 20_000, k
    at.run()  # the clamped state is stable
    no_crash(at)
    assert_widgets_in_range(at)


@pytest.mark.parametrize("label", sorted(__import__("sinklab.interventions", fromlist=["REGISTRY"]).REGISTRY))
def test_every_intervention_parameter_is_clamped(url_keys, label):
    from sinklab.interventions import REGISTRY

    cls = REGISTRY[label]
    for j, values in enumerate((["99999", "-99999"], ["nan", "abc"], ["x" * 10_000, "1e999"])):
        query = {k: values[i % 2] for i, k in enumerate(url_keys) if k not in ("model", "prompt", "text", "dom_n")}
        query["iv"] = label
        at = app("interventions", **query)
        no_crash(at)
        assert at.selectbox(key="iv").value == label
        assert_widgets_in_range(at)
        for name, (_, p) in cls.params().items():
            if p.widget:
                assert any(s.label.startswith(p.label) for s in at.slider) or any(
                    c.value.startswith(p.label) for c in at.caption), (label, name)


# ---------------------------------------------------------------- targeted cases
def test_new_pages_parameters_are_clamped():
    at = app("compare", cmp_n="1e999", cmp_target="-5", cmp_factor="nan", cmp_models="nope,,textbook,textbook")
    no_crash(at)
    assert at.multiselect(key="cmp_models").value == ["textbook"], "unknown and repeated models dropped"
    assert slider(at, "Inputs per domain").value == 8, "unparseable -> the default"
    assert slider(at, "Target position k").value == 1 and slider(at, "Amplify factor").value == 5.0
    at = app("compare", cmp_n="2", cmp_models="x" * 10_000)
    no_crash(at)
    assert at.multiselect(key="cmp_models").value == ["textbook", "textbook-structural", "sinklab-mini", "smollm2-135m"]
    at = app("circuit", route="positional", cut_pe="maybe", cut_variance="1", model="textbook-structural")
    no_crash(at)
    assert not at.radio, "one route on a model without position embeddings: no radio"
    assert at.toggle(key="cut_variance").value is True and not [t for t in at.toggle if t.key == "cut_pe"]



@pytest.mark.parametrize("model", MODELS)
def test_a_layer_range_beyond_the_model_is_clamped(model):
    at = app("interventions", model=model, iv="b", layers="8-12")
    no_crash(at)
    assert at.slider(key="layers").value == (5, 6)  # the bundled models have 6 layers
    assert at.query_params["layers"] == "5-6"


def test_specific_clamps():
    at = app(layer="-1", tokens="1e999", bos="maybe", head="mean", prompt="custom", text="x" * 10_000)
    no_crash(at)
    assert slider(at, "Layer").value == 0
    assert slider(at, "Token length", sidebar=True).value == 40, "unparseable -> the default"
    assert at.sidebar.toggle(key="bos").value is False
    assert len(at.sidebar.text_area(key="text").value) == 10_000
    assert any("only the first 40" in i.value for i in at.info)
    at = app("interventions", alpha="0.333", iv="b")
    assert slider(at, "α").value == pytest.approx(0.35), "snapped to the slider's step"
    at = app("origin", pos="999", tokens="12")
    no_crash(at)
    assert slider(at, "Position k").value == 11
    at = app("epe", ksigma="nan", epe_n="1" * 5000)
    no_crash(at)
    assert slider(at, "kσ").value == 3.0, "nan -> the default"
    assert slider(at, "Inputs").value == 60, "5000 digits: far above the maximum -> the maximum"


@pytest.mark.parametrize("name", ["x" * 10_000, "gpt2\n--evil", "\x00", "   "])
def test_odd_model_names_in_the_url(name):
    at = app(model=name)
    no_crash(at)
    assert at.sidebar.selectbox(key="model").value in ("textbook", "other: a Hugging Face id or a local directory…")
    assert any("In use: **textbook**" in c.value for c in at.sidebar.caption)


# ---------------------------------------------------------------- share links (issue 21.7)
def test_a_clamped_or_dropped_link_value_is_announced():
    at = app("start", tokens=900, layer="abc", head="99")
    no_crash(at)
    notes = "\n".join(w.value for w in at.warning)
    assert "This link holds values that do not fit this page" in notes, notes
    assert "tokens = 900: out of range here" in notes.replace("\\", "")
    assert "layer = abc: not a valid value" in notes.replace("\\", "")
    assert "head = 99: not one of the choices here" in notes.replace("\\", "")
    at.run()  # the widgets now hold valid values: no notice on the next run
    assert not any("do not fit" in w.value for w in at.warning)


def test_stale_parameters_leave_the_url_but_apply_on_their_page():
    at = app("start", cmp_n=5, iv="c", nonsense="1")
    no_crash(at)
    assert "cmp_n" not in at.query_params and "nonsense" not in at.query_params and "iv" not in at.query_params
    assert at.query_params["model"] == "textbook" and "layer" in at.query_params
    at.switch_page(BY_URL["interventions"].file).run()
    assert at.selectbox(key="iv").value == "c", "the link's value for another page applies there"
