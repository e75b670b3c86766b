"""The app under load and in server mode: the lesson pool (app/serving/), the model store (app/models.py),
the operator's configuration (sinklab.config.Config) and the error boundary (app/errors.py).

Pool tests call the factory's pieces directly from threads (no timing assertions); the rest use AppTest.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_helpers import APP_DIR, PAGES, app, metric, no_crash, ok, slider  # noqa: E402
from app_helpers import offline_model  # noqa: E402,F401  (autouse: the offline default)

sys.path.insert(0, str(APP_DIR))
import errors  # noqa: E402  (the app's modules, the same ones AppTest's runs import)
import models  # noqa: E402
import serving  # noqa: E402
from serving import cache as result_cache, scheduler, waiting  # noqa: E402

from sinklab import lessons  # noqa: E402
from sinklab.config import Config  # noqa: E402
from sinklab.interventions import make  # noqa: E402

CONFIG = Config.load(env={"SINKLAB_MODEL": "textbook"}, path="/nonexistent")


def assert_same(a, b, where="view") -> None:
    """Exactly equal lesson results (tables, arrays, nested frozen dataclasses)."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert a == b, (where, a, b)


def wait_until(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ---------------------------------------------------------------- the pool: results, single flight, fairness
def test_ten_concurrent_sessions_get_exactly_the_sequential_results():
    lm = models.get("textbook", CONFIG)
    prompt = lessons.Prompt(n_tokens=24)
    settings = [make("b", alpha=0.0), make("b", alpha=0.5), make("b", alpha=0.5, layers=(1, 3)),
                make("g", layers=(0, 2)), make("i", n=2), make("j", n=3), make("amplify", position=3, factor=8.0),
                make("isolate", position=2), make("transplant", other=4), make("h")]
    sequential = [lessons.intervention_lesson(lm, iv, prompt, "paper") for iv in settings]

    sched = scheduler.Scheduler(workers=3)
    start = threading.Barrier(len(settings))

    def session(i):
        key, task = serving.request(lessons.intervention_lesson, "textbook", CONFIG, setting=settings[i],
                                  prompt=prompt, metric="paper")
        start.wait()
        return sched.result(key, task, session=f"session-{i}")

    with ThreadPoolExecutor(len(settings)) as pool:
        results = list(pool.map(session, range(len(settings))))
    for i, (got, want) in enumerate(zip(results, sequential)):
        assert_same(got, want, f"session {i} ({settings[i].title})")
    assert sched.computed == len(settings)
    assert len({id(r) for r in results}) == len(settings), "each session got its own intervention's result"


def test_identical_requests_from_many_sessions_are_computed_once():
    calls, gate = [], threading.Event()

    def slow_lesson(lm, x):
        calls.append(x)
        gate.wait(30)
        return ("result", x)

    sched = scheduler.Scheduler(workers=2)
    key, task = serving.request(slow_lesson, "textbook", CONFIG, x=7)
    jobs = [sched.submit(key, task, f"s{i}") for i in range(5)]
    assert len({id(j) for j in jobs}) == 1, "the later sessions join the first one's computation"
    gate.set()
    assert [j.future.result(30) for j in jobs] == [("result", 7)] * 5
    assert calls == [7]
    assert sched.result(key, task, "s9") == ("result", 7) and calls == [7], "then served from the cache"


def _gated(order, name, gate=None):
    def task(job):
        if gate is not None:
            gate.wait(30)
        order.append(name)
        return name
    return task


def test_a_hundred_rapid_reruns_of_one_session_do_not_starve_another():
    sched = scheduler.Scheduler(workers=1)
    order, gate = [], threading.Event()
    first = sched.submit(("A", 0), _gated(order, "A0", gate), "A")
    wait_until(lambda: first.started)
    a_jobs = [sched.submit(("A", i), _gated(order, f"A{i}"), "A") for i in range(1, 101)]
    b = sched.submit(("B", 1), _gated(order, "B1"), "B")
    assert sched.pending() == 2, "session A keeps one waiting request, its latest"
    assert sched.ahead(b) == 0, "B was never served: it goes next"
    assert all(j.future.cancelled() for j in a_jobs[:-1])
    gate.set()
    b.future.result(30)
    a_jobs[-1].future.result(30)
    assert order == ["A0", "B1", "A100"]


def test_queue_position_is_round_robin_over_sessions():
    sched = scheduler.Scheduler(workers=1)
    order, gate = [], threading.Event()
    first = sched.submit("running", _gated(order, "running", gate), "A")
    wait_until(lambda: first.started)
    c = sched.submit("c", _gated(order, "c"), "C")
    d = sched.submit("d", _gated(order, "d"), "D")
    a = sched.submit("a", _gated(order, "a"), "A")  # A was just served: behind C and D
    e = sched.submit("e", _gated(order, "e"), "E")
    assert [sched.ahead(j) for j in (c, d, e, a)] == [0, 1, 2, 3]
    assert sched.ahead(first) is None, "running"
    assert waiting.queue_message(0, 1) == "⏳ Queued — next in line."
    assert "2 ahead of you" in waiting.queue_message(2, 3) and "3 computations" in waiting.queue_message(2, 3)
    gate.set()
    for j in (a, c, d, e):
        j.future.result(30)
    assert order == ["running", "c", "d", "e", "a"]


def test_a_session_that_stops_waiting_drops_its_queued_request():
    sched = scheduler.Scheduler(workers=1)
    order, gate = [], threading.Event()
    first = sched.submit("busy", _gated(order, "busy", gate), "A")
    wait_until(lambda: first.started)
    job = sched.submit("abandoned", _gated(order, "abandoned"), "B")
    sched.detach(job, "B")  # B's script was rerun while it waited
    assert job.future.cancelled() and sched.pending() == 0
    gate.set()
    first.future.result(30)
    assert order == ["busy"]


def test_warm_up_runs_only_when_nobody_waits_and_a_visitor_takes_it_over():
    sched = scheduler.Scheduler(workers=1)
    order, gate = [], threading.Event()
    first = sched.submit("busy", _gated(order, "busy", gate), "A")
    wait_until(lambda: first.started)
    warm = [sched.submit(f"w{i}", _gated(order, f"w{i}"), scheduler.WARMUP) for i in range(3)]
    visitor = sched.submit("v", _gated(order, "v"), "B")
    wanted = sched.submit("w2", _gated(order, "w2-dup"), "C")  # a visitor asks for a warm-up view
    assert wanted is warm[2]
    assert sched.ahead(visitor) == 0 and sched.ahead(wanted) == 1
    gate.set()
    for j in warm + [visitor]:
        j.future.result(30)
    assert order == ["busy", "v", "w2", "w0", "w1"]


def test_the_warm_up_leaves_a_worker_for_visitors():
    sched = scheduler.Scheduler(workers=2)
    order, gate = [], threading.Event()
    warm = [sched.submit(f"w{i}", _gated(order, f"w{i}", gate), scheduler.WARMUP) for i in range(3)]
    wait_until(lambda: warm[0].started)
    time.sleep(0.1)
    assert [j.started for j in warm] == [True, False, False], "the warm-up runs on one of the two workers"
    visitor = sched.submit("v", _gated(order, "v"), "A")
    assert visitor.future.result(30) == "v" and order == ["v"]  # served while the warm-up computes
    gate.set()
    for j in warm:
        j.future.result(30)
    assert order == ["v", "w0", "w1", "w2"]
    alone = scheduler.Scheduler(workers=1)  # one worker: the warm-up may use it
    assert alone.submit("w", _gated([], "w"), scheduler.WARMUP).future.result(30) == "w"


def test_errors_reach_every_waiter_and_are_not_cached():
    attempts = []

    def failing(job):
        attempts.append(1)
        raise ValueError("bad")

    sched = scheduler.Scheduler(workers=1)
    for _ in range(2):
        with pytest.raises(ValueError):
            sched.result("k", failing, "A")
    assert len(attempts) == 2 and "k" not in sched.cache


def test_result_cache_is_a_bounded_lru():
    cache = result_cache.ResultCache(max_bytes=10_000, max_entries=3)
    for i in range(4):
        cache.put(i, np.zeros(100))  # 800 bytes each
    assert [cache.get(i)[0] for i in range(4)] == [False, True, True, True]
    cache.get(1)
    cache.put("big", np.zeros(1000))  # 8000 bytes: pushes out the least recently used
    assert cache.get(1)[0] and cache.get("big")[0] and not cache.get(2)[0]


# ---------------------------------------------------------------- the default views are warm in server mode
def test_server_mode_warms_every_default_view(monkeypatch):
    monkeypatch.setenv("SINKLAB_SERVER", "1")
    sched = serving.pool(Config.load().workers, Config.load().timeout)
    sched.cache.clear()
    sched.warmed.clear()
    app()  # the first request queues the warm-up
    wait_until(lambda: sched.pending() == 0 and not sched._inflight, timeout=600)
    computed = sched.computed
    for page in PAGES:  # a class opening the default link of every page
        at = app(page.url_path)
        ok(at)
    assert sched.computed == computed, "every page's default view came from the cache"


def test_the_warm_up_fills_across_domains_inputs_up_to_fill_n(monkeypatch):
    """After the default views, the warm-up computes Across domains' inputs for n up to SINKLAB_FILL_N: a visitor
    asking for any n up to it computes no input (only its view is assembled); past it, the model runs again."""
    import defaults
    from sinklab.experiments.memo import memo_for

    monkeypatch.setenv("SINKLAB_SERVER", "1")
    monkeypatch.setenv("SINKLAB_FILL_N", "22")
    config = Config.load()
    import sidebar

    s = sidebar.default_settings(config)
    assert [kw["n"] for _, _, kw in defaults.fill_requests(s)] == [15, 20, 22]
    sched = serving.pool(config.workers, config.timeout)
    sched.cache.clear()
    sched.warmed.clear()
    memo = memo_for(models.get(s.model, config).model)
    memo.clear()
    app()  # the first request queues the warm-up and the fills
    wait_until(lambda: sched.pending() == 0 and not sched._inflight, timeout=600)
    filled = memo.stats()["computed"]
    assert filled > 0
    for n in (13, 17, 21, 22):
        v = lessons.domains_lesson(models.get(s.model, config), n=n, n_tokens=s.n_tokens,
                                   target=defaults.DOMAINS["target"], metric=s.metric)
        assert (v.table[v.table["domain"] == "nl"]["n"].dropna() == n).any()
    assert memo.stats()["computed"] == filled, "every input of n <= fill_n was computed by the warm-up"
    lessons.domains_lesson(models.get(s.model, config), n=26, n_tokens=s.n_tokens,
                           target=defaults.DOMAINS["target"], metric=s.metric)
    assert memo.stats()["computed"] > filled


# ---------------------------------------------------------------- sessions are separate
def test_sessions_never_see_each_others_settings():
    a = app("interventions")
    b = app("interventions")
    slider(a, "α").set_value(1.0).run()
    a.selectbox(key="iv").set_value("i").run()
    b.run()
    assert b.selectbox(key="iv").value == "b" and slider(b, "α").value == 0.0
    assert b.query_params["iv"] == "b" and a.query_params["iv"] == "i"
    assert metric(b, "Sink at position 0, after") != metric(b, "Sink at position 0, before")


def test_a_page_waiting_in_the_queue_shows_its_position_and_finishes(monkeypatch):
    """One worker, busy with another session's job: the page says it is queued, then shows its result."""
    monkeypatch.setenv("SINKLAB_WORKERS", "1")
    sched = serving.pool(1, Config.load().timeout)
    gate, shown = threading.Event(), []
    real = waiting.queue_message

    def spy(n, workers):
        shown.append(n)
        gate.set()  # release the busy worker once the page has shown its position
        return real(n, workers)

    monkeypatch.setattr(waiting, "queue_message", spy)
    busy = sched.submit(("busy", time.time()), _gated([], "busy", gate), "someone else")
    wait_until(lambda: busy.started)
    at = app(prompt="custom", text=f"queued request {time.time()}")
    ok(at)
    assert shown and shown[0] == 0, shown
    assert not [c for c in at.caption if "Queued" in c.value], "no stale queue message"


# ---------------------------------------------------------------- models: allowlist and memory budget
def test_gpt2_small_parameter_count():
    cfg = {"n_embd": 768, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257}
    assert models.gpt2_parameters(cfg) == 124_439_808


def test_a_model_over_the_budget_is_refused_before_loading(monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_embd": 1600, "n_layer": 48, "n_positions": 1024, "vocab_size": 50257}))
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("loaded a model that cannot fit"))
    with pytest.raises(models.TooLarge, match=r"needs about 5,9\d\d MB .*memory budget for models \(1,024 MB"):
        models.ModelStore().get(str(tmp_path), budget_mb=1024)


def test_least_recently_used_models_are_released():
    store = models.ModelStore()
    store.get("textbook", budget_mb=2)  # ~1.2 MB
    store.get("sinklab-mini", budget_mb=2)  # ~1.2 MB estimated from its config.json: textbook goes
    assert list(store.loaded()) == ["sinklab-mini"]
    store.get("textbook", budget_mb=3)
    store.get("sinklab-mini", budget_mb=3)  # both fit; mini is now the most recent
    assert list(store.loaded()) == ["textbook", "sinklab-mini"]
    with pytest.raises(models.TooLarge, match="memory budget"):
        store.get("textbook-structural", budget_mb=3)  # ~4.7 MB, measured after building
    assert "textbook-structural" not in store.loaded()


def test_app_refuses_a_model_over_the_budget_and_keeps_the_current_one(monkeypatch):
    monkeypatch.setenv("SINKLAB_MEMORY_MB", "3")
    at = app()
    with models.store()._lock:  # loaded by an earlier test (e.g. the warm-up) under no budget: release it
        models.store()._models.pop("textbook-structural", None)
    at.sidebar.selectbox(key="model").set_value("textbook-structural").run()
    no_crash(at)
    assert at.error and "memory budget" in at.error[0].value and "still using **textbook**" in at.error[0].value


def test_server_mode_refuses_a_model_outside_the_allowlist_from_the_url(monkeypatch):
    monkeypatch.setenv("SINKLAB_SERVER", "1")
    for name in ("gpt2-xl", "/etc", "x" * 10_000):
        at = app(model=name)
        no_crash(at)
        box = at.sidebar.selectbox(key="model")
        assert box.value == "textbook" and not any(o.startswith("other") for o in box.options)
        assert any("does not offer the model" in w.value for w in at.sidebar.warning), name[:20]
        assert at.query_params["model"] == "textbook"
        assert charts_shown(at)


def test_local_mode_treats_a_linked_model_as_typed_but_not_garbage(monkeypatch):
    at = app(model="x" * 10_000)  # not a model name: refused
    no_crash(at)
    assert at.sidebar.selectbox(key="model").value == "textbook"
    assert any("does not offer" in w.value for w in at.sidebar.warning)
    at = app(model="/no/such/dir")  # a plausible name: tried as "other", fails, textbook kept
    no_crash(at)
    assert at.sidebar.text_input(key="model_custom").value == "/no/such/dir"
    assert at.error and "still using **textbook**" in at.error[0].value


def charts_shown(at) -> bool:
    return bool(at.get("vega_lite_chart"))


# ---------------------------------------------------------------- error boundary
@pytest.fixture
def broken_start(monkeypatch):
    """lessons.start fails with a message that contains a server path."""
    def start(lm, prompt=None, metric="paper"):
        raise RuntimeError("boom in /srv/sinklab/secret/config.py")

    monkeypatch.setattr(lessons, "start", start)
    import streamlit as st

    before = st.get_option("client.showErrorDetails")
    yield
    st.set_option("client.showErrorDetails", before)


def _texts(at) -> list[str]:
    out = []
    for kind in ("error", "warning", "info", "caption", "markdown", "code", "exception"):
        for e in at.get(kind):
            out.append(str(getattr(e, "value", "")) + str(getattr(e, "message", "")))
    return out


def test_server_mode_shows_no_traceback_and_logs_the_error(monkeypatch, broken_start, caplog):
    import streamlit as st

    monkeypatch.setenv("SINKLAB_SERVER", "1")
    with caplog.at_level(logging.ERROR, logger="sinklab.app"):
        at = app(prompt="custom", text=f"server-mode failure {time.time()}")
    assert not at.exception
    assert at.error and "Something went wrong on the server" in at.error[0].value and "reference" in at.error[0].value
    shown = "\n".join(_texts(at))
    assert "/srv/sinklab" not in shown and "Traceback" not in shown and "RuntimeError" not in shown
    assert not at.get("code")
    logged = [r for r in caplog.records if r.name == "sinklab.app" and r.exc_info]
    assert logged and "boom in /srv/sinklab" in str(logged[-1].exc_info[1])
    ref = at.error[0].value.split("reference ")[1][:8]
    assert ref in logged[-1].getMessage(), "the visitor's reference finds the log entry"
    assert st.get_option("client.showErrorDetails") == "none", "Streamlit's own error display is off too"


def test_local_mode_shows_the_details(broken_start):
    at = app(prompt="custom", text=f"local-mode failure {time.time()}")
    assert not at.exception
    assert at.error and "RuntimeError: boom" in at.error[0].value
    assert any("Traceback" in str(c.value) for c in at.get("code"))


def test_server_mode_removes_paths_from_library_messages():
    from sinklab.errors import ModelUnavailable

    e = ModelUnavailable("Cannot load model 'x': the bundled checkpoint is missing from /opt/app/sinklab/specimens/bundled/x.")
    server = Config.load(env={"SINKLAB_SERVER": "1"}, path="/nonexistent")
    assert "/opt/app" not in errors.public_message(e, server) and "<path>" in errors.public_message(e, server)
    assert "/opt/app" in errors.public_message(e, CONFIG)
    assert errors.public_message(ValueError("the prompt has 1 tokens; at least 2"), CONFIG).startswith(
        "the prompt has 1 token;")


def test_invalid_operator_configuration_is_reported(monkeypatch):
    monkeypatch.setenv("SINKLAB_WORKERS", "zero")
    at = app()
    assert not at.exception
    assert at.error and "configuration is invalid" in at.error[0].value


# ---------------------------------------------------------------- the serving package's seams
def test_the_pool_and_the_result_cache_import_no_streamlit():
    """The scheduler is plain threads (testable, reusable without a server): Streamlit stays in the waiting UI."""
    import ast

    for name in ("scheduler.py", "cache.py"):
        tree = ast.parse((APP_DIR / "serving" / name).read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "streamlit" not in imported, name


def test_the_chart_cache_fast_path_is_in_use_and_draws_what_streamlit_draws():
    """The chart cache reads Altair and Streamlit internals; after an upgrade that changes them the app falls back
    to Streamlit's public conversion (slower): this test fails loudly instead of letting that go unnoticed."""
    from serving import charts as chart_cache
    from streamlit.elements import vega_charts

    from sinklab import charts as builders

    assert chart_cache.missing_internals() == [], "the chart cache's fast path needs these (see serving/charts.py)"
    assert chart_cache.FAST_ALTAIR and chart_cache.FAST_SPEC
    v = lessons.start(models.get("textbook", CONFIG), lessons.Prompt(n_tokens=12))
    for chart in (builders.attention_map(v.maps, 1), builders.sink_per_layer(v.per_layer, v.paper_layers)):
        ours, theirs = chart_cache.to_spec(chart), vega_charts._convert_altair_to_vega_lite_spec(chart)
        assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(theirs, sort_keys=True, default=str)


# ---------------------------------------------------------------- time limits and interruptions (issue 20)
def test_a_computation_past_its_time_limit_stops_and_frees_the_worker():
    sched = scheduler.Scheduler(workers=1, timeout=0.3)

    def slow(job):
        for i in range(200):
            time.sleep(0.02)
            job.report("nl", i / 200)  # a lesson with progress: it stops at its next report
        return "finished"

    job = sched.submit("slow", slow)
    with pytest.raises(scheduler.TimeLimit, match="longer than this server allows"):
        job.future.result(timeout=10)
    assert sched.result("fast", lambda job: 2) == 2, "the worker is free again"
    assert "slow" not in sched.cache, "nothing is cached from a stopped computation"


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()])
def test_an_interruption_inside_a_computation_ends_every_wait_and_is_logged(exc, caplog):
    sched = scheduler.Scheduler(workers=1)

    def bad(job):
        raise exc

    with caplog.at_level(logging.ERROR, logger="sinklab.app"):
        with pytest.raises(scheduler.Interrupted, match=type(exc).__name__):
            sched.result("bad", bad)
    assert type(exc).__name__ in caplog.text
    assert sched.result("ok", lambda job: 5) == 5, "the pool still serves"


def test_a_page_whose_computation_exits_shows_a_message(monkeypatch):
    from sinklab import lessons

    def exits(*a, **kw):
        raise SystemExit(1)

    monkeypatch.setattr(lessons, "start", exits)
    at = app()
    assert not at.exception
    assert any("interrupted on the server" in e.value for e in at.error), [e.value for e in at.error]
