"""The Streamlit app through streamlit.testing's AppTest, on the offline default model ("textbook").

The production entry file is a router (st.navigation) over app/pages.py's registry; AppTest runs it and
`switch_page` selects a page. SINKLAB_MODEL=textbook keeps every test offline (GPT-2 is never probed).
Serving under load (pool, single flight, fairness, memory budget, server mode) is in test_app_serving.py;
the URL fuzz is in test_app_fuzz.py.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_helpers import (APP, BY_URL, PAGES, app, app_module, chart_titles, charts, claim_lines,  # noqa: E402
                         metric, model_card, ok, slider)
from app_helpers import offline_model  # noqa: E402,F401  (autouse: the offline default)


CHEAP = dict(dom_n=2, cmp_n=2)  # keeps the Table-1 and Compare pages quick


# ---------------------------------------------------------------- every page renders
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url_path)
def test_page_renders(page):
    at = app(page.url_path, **CHEAP)
    ok(at)
    assert at.title[0].value.startswith(f"{page.title}:"), "the heading starts with the page's registry title"
    assert "planted specimen" in model_card(at) and "Predictions: meaningless" in model_card(at)
    lines = claim_lines(at)
    assert lines, "no ✓/✗ claim on the page"
    assert all(" — " in line and any(ch.isdigit() for ch in line) for line in lines), "a claim without its numbers"
    assert not any("What to notice:" in m.value for m in at.markdown), "static 'What to notice' facts are gone"
    assert charts(at), "no chart on the page"
    assert any(b.proto.label.startswith("Download") for b in at.get("download_button")), "no CSV download"
    assert any("Try this" in i.value for i in at.info), "no 'Try this' prompt"
    links = [e.proto.label for e in at.get("page_link")]
    before = PAGES[PAGES.index(page) - 1] if page.number > 1 else None
    after = PAGES[PAGES.index(page) + 1] if page.number < len(PAGES) else None
    assert [x for x in (before, after) if x] and len(links) == len([x for x in (before, after) if x])
    for p in (before, after):
        if p is not None:
            assert any(p.title in label for label in links), (p.title, links)


def test_router_builds_the_navigation_from_the_registry():
    """The router lists no page itself: it loops over pages.PAGES (the one list)."""
    tree = ast.parse(APP.read_text())
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in literals if s.endswith(".py")], "page files are listed in app/pages.py only"
    assert [p.number for p in PAGES] == list(range(1, len(PAGES) + 1))
    files = {p.path.resolve() for p in PAGES}
    assert files == {f.resolve() for f in (APP.parent / "lesson_pages").glob("[0-9]*_*.py")}
    at = app()
    ok(at)
    assert at.title[0].value.startswith(PAGES[0].title)


# ---------------------------------------------------------------- sliders change what they should
def test_start_layer_slider_and_head():
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
    assert metric(at, "Sink metric on this prompt (paper)")
    at.sidebar.selectbox(key="metric").set_value("gu").run()
    ok(at)
    gu = metric(at, "Sink metric on this prompt (gu)")
    assert 0.0 <= float(gu) <= 1.0, "Gu's metric is a share of heads"
    assert at.query_params["metric"] == "gu"


def test_positions_are_counted_from_zero():
    """No "position 1" for the first token anywhere (the paper's “position 1” is quoted as such)."""
    first = re.compile(r"(?<!“)position 1\b(?!”)")
    at = app()
    options = at.sidebar.selectbox(key="metric").options
    assert any("position 0" in o for o in options), options
    for page in PAGES:
        at.switch_page(page.file).run()
        shown = ([e.value for e in at.markdown] + [e.label for e in at.metric] + [e.value for e in at.caption]
                 + [s.label for s in at.slider] + [o for b in at.selectbox for o in b.options])
        assert not [t for t in shown if first.search(t)], page.title


def test_one_token_is_singular():
    at = app(prompt="custom", text="a")  # one byte = one token of textbook's byte tokenizer
    assert not at.exception
    texts = [e.value for e in at.error] + [c.value for c in at.sidebar.caption]
    assert any("1 token" in t for t in texts), texts
    assert not any("1 tokens" in t for t in texts), texts


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


# ---------------------------------------------------------------- interventions: controls from the registry
def test_interventions_alpha_changes_sink_and_ce():
    at = app("interventions")
    assert at.selectbox(key="iv").value == "b"
    from sinklab.interventions import REGISTRY

    assert any(REGISTRY["b"].description in c.value and REGISTRY["b"].formula in c.value for c in at.caption), \
        "the description and formula of its docstring"
    sink0, ce0 = metric(at, "Sink at position 0, after"), metric(at, "Cross-entropy change")
    slider(at, "α").set_value(1.0).run()
    ok(at)
    assert metric(at, "Sink at position 0, after") != sink0
    assert metric(at, "Cross-entropy change") != ce0
    assert metric(at, "Sink at position 0, after") == metric(at, "Sink at position 0, before"), "α=1: no change"
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


def test_every_registered_intervention_gets_its_declared_controls():
    from sinklab.interventions import REGISTRY

    at = app("interventions")
    for label, cls in REGISTRY.items():
        at.selectbox(key="iv").set_value(label).run()
        ok(at)
        labels = [s.label for s in at.main.slider]
        for name, (_, p) in cls.params().items():
            shown = [x for x in labels if x.startswith(p.label)]
            assert bool(shown) == p.widget, (label, name, labels)
            if p.widget and p.none_label:
                assert p.none_label in shown[0], "an optional parameter says what 0 means"
        assert ("Layer range [start, stop)" in labels) == cls.per_layer, (label, labels)
        tries = [i.value for i in at.info if "Try this" in i.value]
        said = claim_lines(at)
        if label == "a":  # the baseline: nothing is cut; what it says is whether there is a sink to cut
            assert len(said) == 1 and "Without an intervention the first token is a sink" in said[0], said
            continue
        assert len(said) == 1, (label, said)  # the claim of the chosen intervention
        question = cls.try_this or "Change the parameters"
        if said[0].startswith("✓"):
            assert tries and question in tries[-1], (label, tries)
        else:  # its premise failed (or does not apply): the box says why instead of asking
            assert tries and ("does not hold here" in tries[-1] or "does not apply here" in tries[-1]), (label, tries)


@pytest.fixture
def scale_v():
    """A NEW intervention defined only here (self-registers on class creation; removed afterwards)."""
    from sinklab.interventions import REGISTRY, Intervention, param

    @dataclass(frozen=True, kw_only=True)
    class ScaleValues(Intervention, label="test_scale_v", title="Scale the values (test)", points={"v"},
                      per_layer=True):
        """Multiply every value vector by a factor in the chosen layers.

        Try this: Scale the values to 0: what happens to the next-token loss?
        """

        v_scale: float = param(1.0, "v scale (test)", 0.0, 2.0, 0.25, help="Factor applied to v.")

        def apply(self, point, layer, t, model, inputs):
            return t * self.v_scale

    try:
        yield ScaleValues
    finally:
        REGISTRY.pop("test_scale_v", None)


def test_a_new_intervention_is_one_class_in_the_catalogue_the_report_and_the_page(scale_v):
    """Issue 9's 'done': ScaleValues is written once (the fixture above), nothing else is edited."""
    from sinklab import experiments
    from sinklab.interventions import catalogue

    row = catalogue().set_index("label").loc["test_scale_v"]
    assert (row["title"], row["parameters"], row["role"]) == (
        "Scale the values (test)", "v_scale (float 0.0..2.0), layers", "cuts a wire")
    res = experiments.run_plan(experiments.Plan(models=("textbook",), n=2, n_tokens=16, domains=("nl", "code")))
    ours = res.tables["table1"][res.tables["table1"]["intervention"] == "test_scale_v"]
    assert len(ours) == 3 and ours["sink"].notna().all()  # nl, code and the pooled row
    report = experiments.output.markdown(res)
    assert [line for line in report.splitlines() if line.startswith("| test_scale_v: Scale the values (test)")]

    at = app("interventions")
    assert "test_scale_v" in at.selectbox(key="iv").options or any(
        "Scale the values (test)" in o for o in at.selectbox(key="iv").options)
    at.selectbox(key="iv").set_value("test_scale_v").run()
    ok(at)
    assert at.subheader[0].value == "Scale the values (test)"
    assert any("Scale the values to 0" in i.value or "does not hold here" in i.value for i in at.info), \
        "its own Try this (or why its premise fails)"
    assert at.slider(key="layers"), "per_layer -> a layer range"
    s = slider(at, "v scale (test)")
    assert (s.min, s.max, s.step, s.value) == (0.0, 2.0, 0.25, 1.0)
    assert metric(at, "Cross-entropy change") == "+0.0000", "v scale 1 is no change"
    s.set_value(0.25).run()
    ok(at)
    assert at.query_params["v_scale"] == "0.25"
    assert metric(at, "Cross-entropy change") != "+0.0000"
    sink = metric(at, "Sink at position 0, after")
    slider(at, "v scale (test)").set_value(2.0).run()
    ok(at)
    assert metric(at, "Sink at position 0, after") != sink


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


def test_origin_shows_the_training_log_of_sinklab_mini():
    at = app("origin", model="sinklab-mini")
    ok(at)
    assert any("sinklab-mini trained" in s.value for s in at.subheader)
    at = app("origin")
    assert not any("trained" in s.value for s in at.subheader), "textbook has no training log"


# ---------------------------------------------------------------- bad input
def test_empty_prompt_shows_error_not_traceback():
    at = app(prompt="custom", text="")
    assert not at.exception
    assert at.error and "empty" in at.error[0].value
    at.switch_page(BY_URL["interventions"].file).run()
    assert not at.exception and at.error


def test_long_prompt_is_truncated_and_the_note_says_what_cut_it():
    at = app(prompt="custom", text="the quick brown fox " * 60)
    ok(at)
    note = [i.value for i in at.info if "only the first" in i.value]
    assert note and "only the first 40" in note[0] and "token-length setting" in note[0], note
    assert "positions" not in note[0].split("(", 1)[1], "40 < 128 positions: the setting cut it"
    slider(at, "Token length", sidebar=True).set_value(128).run()
    ok(at)
    note = [i.value for i in at.info if "only the first" in i.value]
    assert note and "only the first 128" in note[0] and "128 positions" in note[0], note


@pytest.mark.parametrize("text", ["😀🎉 emoji only 🤖 and more 🧠", "مرحبا بالعالم שלום עולם",
                                  "a\x00b\x07c\u202ed\ttab\nnew"])
def test_unusual_characters(text):
    at = app(prompt="custom", text=text)
    ok(at)
    at.switch_page(BY_URL["decomposition"].file).run()
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
    at.switch_page(BY_URL["interventions"].file).run()
    ok(at)
    assert at.selectbox(key="iv").value == "i"
    assert slider(at, "n:").value == 3
    assert at.slider(key="layers").value == (1, 4)
    for k, v in {"model": "textbook", "prompt": "code", "iv": "i", "n": "3", "layers": "1-4"}.items():
        assert at.query_params[k] == v


# ---------------------------------------------------------------- models offered
def test_offline_banner_when_gpt2_not_tried(monkeypatch):
    """The learner reads one line (what is loaded and why); the operator's fix is in a collapsed expander."""
    monkeypatch.delenv("SINKLAB_MODEL")
    monkeypatch.setenv("SINKLAB_OFFLINE", "1")
    at = app()
    ok(at)
    assert not at.warning, "no warning box for the learner"
    line = [i.value for i in at.info if "could not be loaded" in i.value]
    assert line == ["GPT-2 small could not be loaded here, so this is the planted specimen textbook (its answer is "
                    "known; pick another model in the sidebar)."], line
    assert "Model on screen: textbook" in model_card(at)
    fix = [e for e in at.sidebar.expander if "GPT-2 small" in e.label]
    assert fix and not fix[0].proto.expanded, "the operator's fix is in a collapsed expander"
    assert any("Fix:" in m.value and "SINKLAB_MODELS" in m.value for m in fix[0].markdown)
    at.sidebar.selectbox(key="model").set_value("sinklab-mini").run()
    ok(at)
    assert not [i for i in at.info if "could not be loaded" in i.value], "a model the visitor picked needs no excuse"


def test_bundled_models_are_offered_and_describe_themselves():
    at = app()
    box = at.sidebar.selectbox(key="model")
    shown = "\n".join(c.value for c in at.sidebar.caption)
    from sinklab.model.loading import describe

    for name, words in (("textbook", "planted, positional route"), ("textbook-structural", "planted, structural route"),
                        ("sinklab-mini", "trained (tiny), 321k parameters"),  # from each model's own metadata
                        ("smollm2-135m", "real, trained"), ("gemma-3-270m", "real, trained")):
        assert f"**{name}**: {words}" in shown, shown
        assert describe(name)[0] == words
        assert f"**{name}**:" in box.help, "the picker's help lists every model with one line"
    assert any("Planted" in c.value for c in at.sidebar.caption), "the model's one-line summary"
    assert at.sidebar.expander and any(e.label == "Glossary" for e in at.sidebar.expander), "the glossary panel"


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
    from sinklab.errors import ModelUnavailable

    app()  # imports the app's modules into this process
    models = app_module("models")
    real, calls = models.load_model, []

    def fake_load(spec, *a, **kw):
        if spec == "gpt2":
            calls.append(spec)
            raise ModelUnavailable("Cannot load model 'gpt2': offline (test)")
        return real(spec, *a, **kw)

    monkeypatch.setattr(models, "load_model", fake_load)
    monkeypatch.delenv("SINKLAB_MODEL")
    models.store()._failures.pop("gpt2", None)
    try:
        at = app()
        ok(at)
        assert at.sidebar.selectbox(key="model").value == "textbook"
        assert "gpt2" not in at.sidebar.selectbox(key="model").options
        assert any(i.value.startswith("GPT-2 small could not be loaded here") for i in at.info)
        assert any("GPT-2 small" in e.label for e in at.sidebar.expander), "the operator's fix, collapsed"
        slider(at, "Layer").set_value(1).run()
        app("decomposition")
        assert calls == ["gpt2"], "the failed GPT-2 load must be remembered, not retried on every rerun"
    finally:
        models.store()._failures.pop("gpt2", None)
