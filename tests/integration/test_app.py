"""The Streamlit app through streamlit.testing's AppTest, on the offline default model ("textbook").

The production entry file is a router (st.navigation); AppTest runs it and `switch_page` selects a page.
SINKLAB_MODEL=textbook keeps every test offline (GPT-2 is never probed).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
PAGES = {
    "start": "lesson_pages/1_start.py", "decomposition": "lesson_pages/2_decomposition.py", "epe": "lesson_pages/3_epe.py",
    "gamma": "lesson_pages/4_gamma.py", "interventions": "lesson_pages/5_interventions.py", "domains": "lesson_pages/6_domains.py",
    "origin": "lesson_pages/7_origin.py",
}
TIMEOUT = 240


@pytest.fixture(autouse=True)
def offline_model(monkeypatch):
    monkeypatch.setenv("SINKLAB_MODEL", "textbook")
    monkeypatch.delenv("SINKLAB_MODELS", raising=False)


def app(page: str = "start", **query) -> AppTest:
    """A fresh session on `page`, with optional URL query parameters."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update({k: str(v) for k, v in query.items()})
    at.run()
    if page != "start":
        at.switch_page(PAGES[page]).run()
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title, "the page title is missing"


def charts(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def chart_titles(at: AppTest) -> list[str]:
    return [json.dumps(c.get("title"), ensure_ascii=False) for c in charts(at)]


def slider(at: AppTest, label_start: str, sidebar: bool = False):
    pool = at.sidebar.slider if sidebar else at.main.slider
    found = [s for s in pool if s.label.startswith(label_start)]
    assert found, f"no slider {label_start!r}; have {[s.label for s in pool]}"
    return found[0]


def metric(at: AppTest, label_start: str) -> str:
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert found, f"no metric {label_start!r}; have {[m.label for m in at.metric]}"
    return found[0].value


# ---------------------------------------------------------------- every page renders
@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders(page):
    at = app(page, dom_n=2)
    ok(at)
    assert charts(at), "no chart on the page"
    assert any(b.proto.label.startswith("Download") for b in at.get("download_button")), "no CSV download"
    assert any("Try this" in i.value for i in at.info), "no 'Try this' prompt"


def test_router_registers_seven_pages_in_order():
    at = app()
    ok(at)
    assert at.title[0].value.startswith("Start")
    text = APP.read_text()
    titles = ["Start", "Decomposition", "EPE", "γ and alignment", "Interventions", "Across domains",
              "Structural origin"]
    positions = [text.index(f'title="{t}"') for t in titles]
    assert positions == sorted(positions)


# ---------------------------------------------------------------- sliders change what they should
def test_start_layer_slider_and_head(tmp_path):
    at = app()
    assert any("layer 5" in t for t in chart_titles(at))
    slider(at, "Layer").set_value(1).run()
    ok(at)
    assert any("layer 1 (mean over heads)" in t for t in chart_titles(at))
    assert at.query_params["layer"] == "1"
    at.selectbox(key="head").set_value("2").run()
    assert any("layer 1 (head 2)" in t for t in chart_titles(at))


def test_sidebar_token_length_and_metric():
    at = app()
    assert any("Prompt: 40 tokens" in c.value for c in at.sidebar.caption)
    slider(at, "Token length", sidebar=True).set_value(12).run()
    ok(at)
    assert any("Prompt: 12 tokens" in c.value for c in at.sidebar.caption)
    before = metric(at, "Sink metric")
    at.sidebar.selectbox(key="metric").set_value("gu").run()
    ok(at)
    assert [m for m in at.metric if "(gu)" in m.label]
    assert metric(at, "Sink metric") != before or True  # label changed; value may coincide


def test_decomposition_layer_head_toggle():
    at = app("decomposition")
    slider(at, "Layer").set_value(2).run()
    slider(at, "Head").set_value(3).run()
    ok(at)
    assert at.subheader[0].value == "Layer 2, head 3"
    assert any("terms 1+3" in json.dumps(c) for c in charts(at))
    at.toggle(key="drop24").set_value(False).run()
    ok(at)
    assert not any('"terms 1+3"' in json.dumps(c.get("datasets", {})) for c in charts(at))


def test_epe_sliders():
    at = app("epe")
    massive = metric(at, "Massive coordinates")
    slider(at, "kσ").set_value(8.0).run()
    ok(at)
    assert metric(at, "Massive coordinates") != massive
    slider(at, "Inputs").set_value(6).run()
    ok(at)
    assert any("over 6 inputs" in c.value for c in at.caption)
    at.toggle(key="ln2").set_value(True).run()
    ok(at)
    assert any("with ln_2" in c.value for c in at.caption)


def test_gamma_slider():
    at = app("gamma")
    massive = metric(at, "Massive coordinates")
    slider(at, "kσ").set_value(8.0).run()
    ok(at)
    assert metric(at, "Massive coordinates") != massive


def test_interventions_alpha_changes_sink_and_ce():
    at = app("interventions")
    assert at.selectbox(key="iv").value == "b"
    sink0, ce0 = metric(at, "Sink at position 0, after"), metric(at, "Cross-entropy change")
    slider(at, "α").set_value(1.0).run()
    ok(at)
    assert metric(at, "Sink at position 0, after") != sink0
    assert metric(at, "Cross-entropy change") != ce0
    assert metric(at, "Sink at position 0, after") == metric(at, "Sink at position 0, before")  # α=1: no change
    assert at.query_params["alpha"] == "1.0"


def test_interventions_layer_range_and_shown_layer():
    at = app("interventions")
    sink = metric(at, "Sink at position 0, after")
    at.slider(key="layers").set_value((3, 6)).run()
    ok(at)
    assert metric(at, "Sink at position 0, after") != sink
    assert at.query_params["layers"] == "3-6"
    slider(at, "Layer shown").set_value(2).run()
    assert any("layer 2" in t for t in chart_titles(at))


def test_interventions_n_t_position_factor():
    at = app("interventions")
    at.selectbox(key="iv").set_value("i").run()
    ok(at)
    sink = metric(at, "Sink at position 0, after")
    slider(at, "n:").set_value(1).run()
    ok(at)
    assert metric(at, "Sink at position 0, after") != sink

    at.selectbox(key="iv").set_value("interpolate").run()
    sink = metric(at, "Sink at position 0, after")
    slider(at, "t:").set_value(0.0).run()
    ok(at)
    assert metric(at, "Sink at position 0, after") != sink

    at.selectbox(key="iv").set_value("transplant").run()
    slider(at, "Target position").set_value(4).run()
    ok(at)
    assert at.subheader[0].value.startswith("Transplant")
    assert metric(at, "Sink at position 4, after")

    at.selectbox(key="iv").set_value("amplify").run()
    sink = metric(at, "Sink at position 4, after")
    slider(at, "Variance factor").set_value(20.0).run()
    ok(at)
    assert metric(at, "Sink at position 4, after") != sink


def test_domains_n_slider_and_progress():
    at = app("domains", dom_n=2)
    ok(at)
    table = at.dataframe[0].value
    assert set(table["n"]) >= {2}
    slider(at, "Inputs per domain").set_value(3).run()
    ok(at)
    assert 3 in set(at.dataframe[0].value["n"])
    assert not any("published" in c.value.lower() and "orange" in c.value.lower() for c in at.caption)


def test_origin_position_and_factor():
    at = app("origin")
    slider(at, "Position k").set_value(3).run()
    ok(at)
    assert any(s.value == "Moving the sink to position 3" for s in at.subheader)
    amp = metric(at, "amplify")
    slider(at, "Amplify factor").set_value(20.0).run()
    ok(at)
    assert metric(at, "amplify") != amp
    at.selectbox(key="olayer").set_value("2").run()
    ok(at)
    assert any("layer 2" in t for t in chart_titles(at))


# ---------------------------------------------------------------- bad input
def test_empty_prompt_shows_error_not_traceback():
    at = app(prompt="custom", text="")
    assert not at.exception
    assert at.error and "empty" in at.error[0].value
    at.switch_page(PAGES["interventions"]).run()
    assert not at.exception and at.error


def test_long_prompt_is_truncated_and_says_so():
    at = app(prompt="custom", text="the quick brown fox " * 60)
    ok(at)
    assert any("only the first 40" in i.value for i in at.info)
    slider(at, "Token length", sidebar=True).set_value(128).run()
    ok(at)
    assert any("only the first 128" in i.value for i in at.info)


@pytest.mark.parametrize("text", ["😀🎉 emoji only 🤖 and more 🧠", "مرحبا بالعالم שלום עולם", "a\x00b\x07c\u202ed\ttab\nnew"])
def test_unusual_characters(text):
    at = app(prompt="custom", text=text)
    ok(at)
    at.switch_page(PAGES["decomposition"]).run()
    ok(at)


def test_model_that_fails_to_load_keeps_previous():
    at = app()
    at.sidebar.selectbox(key="model").select_index(-1).run()  # "other: ..."
    at.sidebar.text_input(key="model_custom").input("/no/such/model/dir").run()
    assert not at.exception
    assert at.error and "Could not load model" in at.error[0].value and "still using **textbook**" in at.error[0].value
    assert at.title[0].value.startswith("Start") and charts(at)
    assert any("In use: **textbook**" in c.value for c in at.sidebar.caption)


def test_bad_query_params_are_clamped():
    at = app(layer=99, head="42", metric="nonsense", tokens="100000", prompt="nope")
    ok(at)
    assert slider(at, "Layer").value == 5
    assert at.selectbox(key="head").value == "mean"
    assert at.sidebar.selectbox(key="metric").value == "paper"
    assert slider(at, "Token length", sidebar=True).value == 128


def test_query_params_restore_the_view():
    at = app(layer=2, head="1", prompt="code", metric="mass", tokens=20, iv="i", n=3, layers="1-4")
    ok(at)
    assert slider(at, "Layer").value == 2
    assert at.selectbox(key="head").value == "1"
    assert at.sidebar.selectbox(key="prompt").value == "code"
    assert at.sidebar.selectbox(key="metric").value == "mass"
    assert any("layer 2 (head 1)" in t for t in chart_titles(at))
    at.switch_page(PAGES["interventions"]).run()
    ok(at)
    assert at.selectbox(key="iv").value == "i"
    assert slider(at, "n:").value == 3
    assert at.slider(key="layers").value == (1, 4)
    for k, v in {"model": "textbook", "prompt": "code", "iv": "i", "n": "3", "layers": "1-4"}.items():
        assert at.query_params[k] == v


def test_offline_banner_when_gpt2_not_tried(monkeypatch):
    monkeypatch.delenv("SINKLAB_MODEL")
    monkeypatch.setenv("SINKLAB_OFFLINE", "1")
    at = app()
    assert not at.exception
    banner = [w.value for w in at.warning]
    assert banner and "textbook" in banner[0] and "Fix:" in banner[0]


def test_configured_models_are_offered(monkeypatch, tmp_path):
    monkeypatch.setenv("SINKLAB_MODELS", f"{tmp_path}/teacher-model, another/hf-id")
    at = app()
    ok(at)
    options = at.sidebar.selectbox(key="model").options
    assert options[0] == "textbook"
    assert f"{tmp_path}/teacher-model" in options and "another/hf-id" in options
    assert options[-1].startswith("other")
    at.sidebar.selectbox(key="model").set_value(f"{tmp_path}/teacher-model").run()
    assert not at.exception
    assert at.error and "still using **textbook**" in at.error[0].value
    assert at.query_params["model"] == "textbook"


def test_gpt2_unavailable_falls_back_once(monkeypatch):
    """Without SINKLAB_MODEL the app probes GPT-2 once; when it fails: textbook, a banner, no re-probe."""
    import sys

    from sinklab.errors import ModelUnavailable

    app()  # imports the app's `common` module into this process
    common = sys.modules["common"]
    real, calls = common.load_model, []

    def fake_load(spec, *a, **kw):
        if spec == "gpt2":
            calls.append(spec)
            raise ModelUnavailable("Cannot load model 'gpt2': offline (test)")
        return real(spec, *a, **kw)

    monkeypatch.setattr(common, "load_model", fake_load)
    monkeypatch.delenv("SINKLAB_MODEL")
    monkeypatch.delenv("SINKLAB_OFFLINE", raising=False)
    common._gpt2_attempt.clear()
    try:
        at = app()
        ok(at)
        assert at.sidebar.selectbox(key="model").value == "textbook"
        assert "gpt2" not in at.sidebar.selectbox(key="model").options
        assert at.warning and "GPT-2 small is not available" in at.warning[0].value and "Fix:" in at.warning[0].value
        slider(at, "Layer").set_value(1).run()
        app("decomposition")
        assert calls == ["gpt2"], "the failed GPT-2 load must be cached, not retried on every rerun"
    finally:
        common._gpt2_attempt.clear()
