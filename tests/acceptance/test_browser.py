"""The real app in a real browser: `streamlit run` + Debian's chromium driven by Playwright.

Opens EVERY page on EVERY bundled model (textbook, textbook-structural, sinklab-mini), and links made on
one model then switched to another in the sidebar; waits until the script has finished, and fails on
  * a Streamlit exception element, a traceback or "Something went wrong" in the page;
  * an element clipped out of its container: a chart whose canvas/SVG is wider than the block that holds
    it (or scrolls sideways), a metric label or any other text truncated with an ellipsis in the main area.
A full-page screenshot per (model, page) goes to tests/artifacts/<model>/<page>.png (look at them: layout
is judged by eye too). Skipped where /usr/bin/chromium or the playwright package is missing (install:
apt-get install -y chromium; pip install playwright).
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app" / "streamlit_app.py"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
sys.path.insert(0, str(ROOT / "tests"))
from app_helpers import PAGES as REGISTRY  # noqa: E402  (app/pages.py: the one list of pages)

MODELS = ["textbook", "textbook-structural", "sinklab-mini", "smollm2-135m", "gemma-3-270m"]


def shown_name(model: str) -> str:
    """The name the app shows for a model: a real model's own name, else the name it was loaded by."""
    from sinklab.model import gguf

    return gguf.PACKAGED[model].display if model in gguf.PACKAGED else model
# the browser path of each page ("" for the first) and its heading, which starts with "<title>:"
PAGES = [(p.url, f"{p.title}:") for p in REGISTRY]
CHEAP = "dom_n=3&cmp_n=2"  # keeps Across domains and Compare specimens quick
BAD_TEXT = ["Traceback", "Something went wrong", "StreamlitAPIException"]
VIEWPORT = {"width": 1400, "height": 1000}

# JS: every clipping problem in the main area, as strings ("" = none)
CLIPPED_JS = r"""
() => {
  const out = [];
  const main = document.querySelector('[data-testid="stMain"]');
  const name = (el) => (el.innerText || el.getAttribute('aria-label') || '').trim().slice(0, 80);
  for (const chart of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    const block = chart.closest('[data-testid="stElementContainer"]') || chart.parentElement;
    const g = chart.querySelector('svg.marks, canvas');
    if (!g) { out.push('a chart without a canvas/svg'); continue; }
    const gw = g.getBoundingClientRect().width, bw = block.getBoundingClientRect().width;
    const title = (chart.querySelector('[aria-label]') || chart).getAttribute('aria-label') || '';
    if (gw > bw + 1) out.push(`chart wider than its block (${Math.round(gw)} > ${Math.round(bw)} px): ${title.slice(0, 80)}`);
    const box = g.getBoundingClientRect();
    for (const t of chart.querySelectorAll('svg text')) {  // Vega's SVG: titles and labels
      const text = (t.textContent || '').trim();
      if (!text) continue;
      if (text.endsWith('…')) out.push(`chart text truncated: ${text.slice(0, 80)}`);
      const r = t.getBoundingClientRect();
      const tol = 5;  // px: a glyph's box pokes a few px past the SVG's edge without hiding anything
      if (r.width && (r.left < box.left - tol || r.right > box.right + tol || r.top < box.top - tol
                      || r.bottom > box.bottom + tol))
        out.push(`chart text outside the chart: ${text.slice(0, 80)}`);
    }
    for (const el of [chart, ...chart.querySelectorAll('div')]) {
      const st = getComputedStyle(el);
      if ((st.overflowX === 'auto' || st.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1)
        out.push(`chart scrolls sideways (${el.scrollWidth} > ${el.clientWidth} px): ${title.slice(0, 80)}`);
    }
  }
  for (const root of [main, document.querySelector('[data-testid="stSidebar"]')]) {
    for (const el of root.querySelectorAll('*')) {
      if (!el.innerText || !el.innerText.trim() || el.closest('[data-testid="stVegaLiteChart"]')) continue;
      const st = getComputedStyle(el);
      const clipped = el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0;
      if (clipped && (st.textOverflow === 'ellipsis' || (st.overflowX === 'hidden' && st.whiteSpace === 'nowrap')))
        out.push(`text truncated (${el.scrollWidth} > ${el.clientWidth} px): ${name(el)}`);
    }
    for (const el of root.querySelectorAll('input[role="combobox"], input[type="text"]')) {  // a select's value
      if (el.value && el.scrollWidth > el.clientWidth + 1)
        out.push(`value cut off (${el.scrollWidth} > ${el.clientWidth} px): ${el.value.slice(0, 80)}`);
    }
  }
  for (const label of main.querySelectorAll('[data-testid="stMetricLabel"]')) {
    for (const el of [label, ...label.querySelectorAll('*')]) {
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && getComputedStyle(el).overflow !== 'visible')
        out.push(`metric label cut off: ${name(label)}`);
    }
  }
  return [...new Set(out)];
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env_changes: dict, log_name: str):
    """`streamlit run` on a free port; yields its URL once healthy; always terminates it."""
    port = _free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / log_name, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}; see {log.name}")
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _require_browser() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def server():
    _require_browser()
    with streamlit_server({"SINKLAB_MODEL": "textbook", "SINKLAB_OFFLINE": None}, "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser):
    pg = browser.new_page(viewport=VIEWPORT)
    pg.set_default_timeout(120_000)
    yield pg
    pg.close()


def _wait_done(pg, heading: str) -> None:
    """Wait for the page heading, the closing "Try this" box (or the note that the page does not apply to
    this model), and the end of the run (no Stop button)."""
    pg.get_by_role("heading", name=heading).first.wait_for(state="visible", timeout=180_000)
    # visible ones only: a refusal also sits hidden in a collapsed expander or a table cell, earlier in the page
    pg.get_by_text("Try this.").or_(pg.get_by_text("does not apply to")).filter(visible=True).first.wait_for(
        state="visible", timeout=180_000)
    deadline = time.time() + 180
    while time.time() < deadline:
        running = (pg.get_by_role("button", name="Stop", exact=True).count()
                   + pg.get_by_text("Running...", exact=True).count()
                   + pg.locator('[data-testid="stStatusWidget"]').get_by_text("Running").count())
        if running == 0:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the page was still running after 180 s")
    if pg.locator('[data-testid="stVegaLiteChart"]').count():
        pg.locator('[data-testid="stVegaLiteChart"]').first.wait_for(state="visible", timeout=60_000)
    time.sleep(1.5)  # let Vega finish drawing before the checks and the screenshot


def _check(pg, where: str) -> list[str]:
    """Fail on exceptions, tracebacks and error text; return the clipping problems (asserted by the caller)."""
    main = pg.locator('[data-testid="stMain"]')
    text = main.inner_text()
    for bad in BAD_TEXT:
        assert bad not in text, f"{bad!r} shown on {where}:\n{text[:2000]}"
    assert pg.locator('[data-testid="stException"]').count() == 0, f"a Streamlit exception on {where}"
    assert pg.locator('[data-testid="stSidebar"]').get_by_text("In use:").count() == 1, "sidebar missing"
    return pg.evaluate(CLIPPED_JS)


def _shot(pg, model: str, name: str) -> None:
    folder = ARTIFACTS / model
    folder.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _full_height(pg) -> None:
    """Streamlit scrolls inside its main block: grow the viewport to the content so full_page shows it all."""
    h = pg.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                    "[data-testid=\"stMainBlockContainer\"]')].map(e => e.scrollHeight))")
    pg.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(int(h) + 80, VIEWPORT["height"]), 12000)})
    time.sleep(0.8)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("path,heading", PAGES, ids=[p or "start" for p, _ in PAGES])
def test_page_in_browser(server, page, path, heading, model):
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server}/{path}?model={model}&{CHEAP}", wait_until="domcontentloaded")
    _wait_done(page, heading)
    problems = _check(page, f"/{path} on {model}")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert f"In use: {shown_name(model)}" in sidebar, sidebar[:500]
    assert page.locator('[data-testid="stMain"]').get_by_text(f"Model on screen: {shown_name(model)}").count() == 1
    _full_height(page)
    _shot(page, model, path or "start")
    assert not problems, f"/{path} on {model}: " + "; ".join(problems)


def _pick_model(pg, model: str) -> None:
    pg.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    pg.get_by_role("option", name=re.compile(rf"^{re.escape(model)}( \(|$)")).click()


@pytest.mark.parametrize("path,query,heading,switch_to", [
    ("interventions", "model=textbook-structural&iv=b&layers=8-12", "Interventions:", "sinklab-mini"),
    ("circuit", "model=textbook&route=positional&cut_pe=1&cut_bq=1", "The circuit in one picture:",
     "textbook-structural"),
    ("origin", "model=sinklab-mini&pos=60&factor=20", "Structural origin:", "textbook"),
    ("compare", "model=sinklab-mini&cmp_models=sinklab-mini&cmp_n=2&cmp_target=30", "Compare specimens:",
     "textbook-structural"),
    ("curves", "model=textbook&cur_len=16,128&cur_n=2&cur_seeds=1&cur_dom=code", "Length and dose:", "sinklab-mini"),
], ids=["interventions", "circuit", "origin", "compare", "curves"])
def test_a_link_made_on_another_model(server, page, path, query, heading, switch_to):
    """A link made on one model opens, then the visitor switches model: nothing breaks or overflows."""
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server}/{path}?{query}", wait_until="domcontentloaded")
    _wait_done(page, heading)
    assert not _check(page, f"/{path}?{query}")
    _pick_model(page, switch_to)
    deadline = time.time() + 120
    while f"In use: {switch_to}" not in page.locator('[data-testid="stSidebar"]').inner_text():
        assert time.time() < deadline, "the model switch did not happen"
        time.sleep(0.3)
    _wait_done(page, heading)
    problems = _check(page, f"/{path} after switching to {switch_to}")
    assert f"model={switch_to}" in page.url, page.url
    _full_height(page)
    _shot(page, "links", f"{path}_then_{switch_to}")
    assert not problems, "; ".join(problems)


def test_url_restores_the_view(server, page):
    """A link with ?layer=1&head=2 opens on that layer and head; the URL then carries the model too."""
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server}/?layer=1&head=2", wait_until="domcontentloaded")
    _wait_done(page, "Start: the attention sink")
    thumbs = page.locator('[data-testid="stMain"] [data-testid="stSliderThumbValue"]')
    assert thumbs.first.inner_text() == "1"
    deadline = time.time() + 20
    while "model=textbook" not in page.url and time.time() < deadline:
        time.sleep(0.3)
    assert "layer=1" in page.url and "model=textbook" in page.url, page.url


def test_starts_offline_with_one_line_and_the_fix_collapsed(browser):
    """No SINKLAB_MODEL: the app probes GPT-2 (hub offline here), falls back to textbook and says so in one
    line; the operator's fix is in a collapsed expander of the sidebar."""
    env = {"SINKLAB_MODEL": None, "SINKLAB_OFFLINE": None, "HF_HUB_OFFLINE": "1"}
    pg = browser.new_page(viewport=VIEWPORT)
    try:
        with streamlit_server(env, "streamlit_offline.log") as url:
            t0 = time.time()
            pg.goto(url + "/", wait_until="domcontentloaded")
            _wait_done(pg, "Start: the attention sink")
            elapsed = time.time() - t0
            sidebar = pg.locator('[data-testid="stSidebar"]').inner_text()
            if "In use: gpt2" in sidebar:  # GPT-2 small is in the local cache: no line is due
                return
            main = pg.locator('[data-testid="stMain"]').inner_text()
            assert "GPT-2 small could not be loaded here, so this is the planted specimen textbook" in main, main[:1500]
            assert "Fix:" not in main and "SINKLAB_MODELS" not in main, "the operator's fix is not the learner's"
            assert "Running this app? How to offer GPT-2 small" in sidebar and "Fix:" not in sidebar, "collapsed"
            assert elapsed < 120, f"the offline start took {elapsed:.0f} s"
            assert not _check(pg, "the offline start")
            pg.screenshot(path=str(ARTIFACTS / "start_offline_banner.png"))
    finally:
        pg.close()


# ---------------------------------------------------------------- visitor text and server details (issue 20)
HOSTILE = ("x [Session expired - sign in](https://evil.example/login) ![i](https://evil.example/i.png)\n"
           "# injected heading <img src=https://evil.example/h.png> :red[red] $x^2$ www.evil.example")
LEAKS_JS = r"""
() => {
  const out = [];
  const host = (u) => { try { return new URL(u, location.href).hostname; } catch (e) { return ''; } };
  for (const a of document.querySelectorAll('a[href]')) if (host(a.href).includes('evil')) out.push('link: ' + a.href);
  for (const i of document.querySelectorAll('img[src]')) if (host(i.src).includes('evil')) out.push('image: ' + i.src);
  for (const h of document.querySelectorAll('h1,h2,h3,h4,h5,h6')) if (h.innerText.includes('injected')) out.push('heading: ' + h.innerText);
  for (const e of document.querySelectorAll('[data-testid="stMarkdownContainer"] span')) {
    if (e.className && String(e.className).includes('red') && e.innerText.trim() === 'red') out.push('colour directive interpreted');
  }
  for (const k of document.querySelectorAll('.katex annotation')) if (k.textContent.trim() === 'x^2') out.push('formula interpreted');
  return out;
}
"""
PATH = re.compile(r"(?<![\w:.])/(?:root|home|tmp|usr|var|opt|work|etc|srv|data|proc)(?:/|\b)|site-packages|\.cache/")


def _hostile_url(base: str, path: str, keys) -> str:
    from urllib.parse import urlencode

    query = {k: HOSTILE for k in keys}
    query.update(prompt="custom", text=HOSTILE, model=HOSTILE, model_custom=HOSTILE)
    return f"{base}/{path}?{urlencode(query)}"


@pytest.mark.parametrize("path,heading", PAGES, ids=[p or "start" for p, _ in PAGES])
def test_visitor_text_is_never_interpreted(server, page, path, heading):
    """Markdown, HTML and newlines sent through every parameter of the page (the keys it publishes in its URL)
    show as text: no link, image, heading, colour or formula appears, and nothing is fetched from another host."""
    from urllib.parse import parse_qs, urlparse

    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server}/{path}?{CHEAP}", wait_until="domcontentloaded")
    _wait_done(page, heading)
    deadline = time.time() + 20
    while "model=" not in page.url and time.time() < deadline:
        time.sleep(0.3)
    keys = set(parse_qs(urlparse(page.url).query)) | {"layer", "head", "iv", "metric", "bos", "tokens"}
    fetched = []
    page.route("**/*", lambda route: (fetched.append(route.request.url), route.abort())
               if "evil.example" in (urlparse(route.request.url).hostname or "") else route.continue_())
    try:
        page.goto(_hostile_url(server, path, keys), wait_until="domcontentloaded")
        _wait_done(page, heading)
        problems = page.evaluate(LEAKS_JS)
        text = page.locator('[data-testid="stMain"]').inner_text()
        for bad in BAD_TEXT:
            assert bad not in text, f"{bad!r} on /{path} with hostile values"
    finally:
        page.unroute("**/*")
    _full_height(page)
    _shot(page, "hostile", path or "start")
    assert not problems and not fetched, f"/{path}: {problems} {fetched}"


@pytest.fixture(scope="module")
def server_mode():
    """Server mode with GPT-2 probing on and no hub (the compose file's offline default)."""
    _require_browser()
    env = {"SINKLAB_MODEL": None, "SINKLAB_OFFLINE": None, "HF_HUB_OFFLINE": "1", "SINKLAB_SERVER": "1"}
    with streamlit_server(env, "streamlit_server_mode.log") as url:
        yield url


@pytest.mark.parametrize("path,heading", PAGES, ids=[p or "start" for p, _ in PAGES])
def test_server_mode_shows_no_server_path(server_mode, page, path, heading):
    """Every rendered text of every page (sidebar and expanders included) in server mode holds no file-system path,
    cache location or configuration path, also with a directory and a .gguf path named in the link."""
    page.set_viewport_size(VIEWPORT)
    for typed in ("", "/etc/passwd", "/root/.cache/sinklab/x.gguf"):
        query = CHEAP + (f"&model={typed}" if typed else "")
        page.goto(f"{server_mode}/{path}?{query}", wait_until="domcontentloaded")
        _wait_done(page, heading)
        for exp in page.locator('[data-testid="stExpander"] summary').all():
            exp.click()
        time.sleep(0.5)
        text = page.locator("body").inner_text()
        text = text.replace(typed, "<the visitor's own text>") if typed else text
        found = PATH.findall(text)
        assert not found, f"/{path}?{query} shows server paths: {found[:5]}"


def test_a_broken_configuration_shows_no_path(browser, tmp_path):
    bad = tmp_path / "sinklab.toml"
    bad.write_text("[sinklab]\nworkers = = 2\n")
    pg = browser.new_page(viewport=VIEWPORT)
    try:
        with streamlit_server({"SINKLAB_CONFIG": str(bad), "SINKLAB_MODEL": "textbook"}, "streamlit_badconfig.log") as url:
            pg.goto(url + "/", wait_until="domcontentloaded")
            pg.get_by_text("configuration is invalid").first.wait_for(state="visible", timeout=60_000)
            text = pg.locator("body").inner_text()
            assert str(tmp_path) not in text and not PATH.findall(text), text[:800]
    finally:
        pg.close()


def test_start_is_served_and_duplicates_are_folded(server, page):
    """/start serves the first page (Streamlit serves it at "/"); a duplicated parameter leaves one value."""
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server}/start?layer=1&layer=3", wait_until="domcontentloaded")
    _wait_done(page, "Start: the attention sink")
    assert "Page not found" not in page.locator("body").inner_text()
    deadline = time.time() + 20
    while page.url.count("layer=") != 1 and time.time() < deadline:
        time.sleep(0.3)
    assert page.url.count("layer=") == 1, page.url


def test_visitors_opening_different_models_at_once_get_uncorrupted_weights(browser):
    """Server mode: eight visitors open links to five different models at the same moment (the loads race inside
    one server process); every page then shows the sink a fresh process computes for that model."""
    import json

    models = ["textbook", "textbook-structural", "sinklab-mini", "smollm2-135m", "gemma-3-270m"] * 2
    models = models[:8]
    env = {"SINKLAB_MODEL": None, "SINKLAB_OFFLINE": "1", "SINKLAB_SERVER": "1", "SINKLAB_WORKERS": "2"}
    fresh = subprocess.run([sys.executable, "-c", (
        "import json, sinklab\nfrom sinklab import lessons\nfrom sinklab.model.tokens import prepends_bos\nout = {}\n"
        "for m in %r:\n    lm = sinklab.load_model(m)\n"
        "    p = lessons.Prompt(prepend_bos=prepends_bos(lm.tokenizer))\n"
        "    out[m] = round(lessons.start(lm, p).score, 3)\nprint(json.dumps(out))") % sorted(set(models))],
        capture_output=True, text=True, cwd=ROOT, check=True)
    want = json.loads(fresh.stdout.strip().splitlines()[-1])
    pages = [browser.new_page(viewport=VIEWPORT) for _ in models]
    try:
        with streamlit_server(env, "streamlit_concurrent.log") as url:
            for pg, m in zip(pages, models):  # all navigations start before any finishes
                pg.evaluate(f"location.href = {json.dumps(url + '/?model=' + m)}")
            for pg, m in zip(pages, models):
                _wait_done(pg, "Start: the attention sink")
                shown = pg.locator('[data-testid="stMetricValue"]').first.inner_text().strip()
                assert float(shown) == pytest.approx(want[m], abs=1e-3), (m, shown, want[m])
                assert f"In use: {shown_name(m)}" in pg.locator('[data-testid="stSidebar"]').inner_text()
    finally:
        for pg in pages:
            pg.close()
