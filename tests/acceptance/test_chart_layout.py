"""Charts a class can read on a 1280×720 projector (issue 21, item 5), in a real browser.

Every page on textbook, textbook-structural, sinklab-mini and the real SmolLM2-135M, at 1280×720:
  (a) the page's first chart starts on the first screen: its top edge at least FOLD_MARGIN px above the fold
      (the bottom of the first 720 px of the main area), with the page scrolled to the top; a page that does not
      apply to the model (no chart, its "does not apply" note instead) shows that note there;
  (b) no Vega text (title, subtitle, axis or legend label) leaves its chart's SVG, and none is cut with "…" (a chart
      Streamlit draws on a canvas, for its many marks, has no text to measure);
  (c) the page's "What you are looking at" is collapsible and starts collapsed.
A screenshot of each first screen goes to tests/artifacts/fold/<model>/<page>.png (look at them).
Reuses the server and browser helpers of test_browser.py; skipped without /usr/bin/chromium or Playwright.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_browser import ARGS, ARTIFACTS, CHEAP, CHROMIUM, PAGES, _require_browser, streamlit_server  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1280, "height": 720}
FOLD_MARGIN = 100  # px of the first chart that must show above the fold
MODELS = ["textbook", "textbook-structural", "sinklab-mini", "smollm2-135m"]
QUICK = f"{CHEAP}&cur_n=2&cur_seeds=1&cur_len=16,32"  # Length and dose on a real model: minutes at its defaults

LAYOUT_JS = r"""
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const top = main.getBoundingClientRect().top;
  const chart = main.querySelector('[data-testid="stVegaLiteChart"]');
  const out = {scrolled: main.scrollTop, chart_top: chart ? chart.getBoundingClientRect().top - top : null,
               absent_note_top: null, clipped: [], intro: null};
  const note = [...main.querySelectorAll('[data-testid="stAlert"]')].find(e => e.innerText.includes('does not apply to'));
  if (note) out.absent_note_top = note.getBoundingClientRect().top - top;
  for (const c of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    const svg = c.querySelector('svg.marks');
    if (!svg) {  // Streamlit draws a chart with many marks on a canvas: its text cannot be measured here
      if (!c.querySelector('canvas')) out.clipped.push('a chart drawn neither as SVG nor on a canvas');
      continue;
    }
    const b = svg.getBoundingClientRect();
    const name = (c.querySelector('[aria-label]') || c).getAttribute('aria-label') || '';
    for (const t of svg.querySelectorAll('text')) {
      const s = (t.textContent || '').trim();
      if (!s) continue;
      if (s.endsWith('…')) out.clipped.push(`cut with an ellipsis: "${s.slice(0, 60)}" in ${name.slice(0, 60)}`);
      const r = t.getBoundingClientRect();
      const tol = 1;  // px (the app pads every chart, so a glyph's box stays inside)
      if (r.width && (r.left < b.left - tol || r.right > b.right + tol || r.top < b.top - tol || r.bottom > b.bottom + tol))
        out.clipped.push(`outside its chart by ${JSON.stringify([Math.round(b.left - r.left), Math.round(r.right - b.right),
                          Math.round(b.top - r.top), Math.round(r.bottom - b.bottom)])} px: "${s.slice(0, 60)}" in ${name.slice(0, 60)}`);
    }
  }
  const intro = [...main.querySelectorAll('[data-testid="stExpander"] details')].find(
    d => (d.querySelector('summary') || {}).innerText?.includes('What you are looking at'));
  if (intro) out.intro = {open: intro.open, top: intro.getBoundingClientRect().top - top};
  return out;
}
"""


def _ready(pg, heading: str, timeout: float = 240) -> None:
    """Wait for the page heading, then until the run has ended (no Stop button, no "Running") with a chart drawn or
    the page's "does not apply" note shown, twice in a row a second apart (a page need not end with Try this)."""
    pg.get_by_role("heading", name=heading).first.wait_for(state="visible", timeout=timeout * 1000)
    main = pg.locator('[data-testid="stMain"]')
    deadline, calm = time.time() + timeout, 0
    while calm < 2:
        assert time.time() < deadline, f"{heading} was still running after {timeout:.0f} s"
        running = (pg.get_by_role("button", name="Stop", exact=True).count()
                   + pg.get_by_text("Running...", exact=True).count()
                   + pg.locator('[data-testid="stStatusWidget"]').get_by_text("Running").count())
        drawn = (main.locator('[data-testid="stVegaLiteChart"] svg.marks').count()
                 + main.locator('[data-testid="stVegaLiteChart"] canvas').count()
                 + main.get_by_text("does not apply to").count())
        failed = main.get_by_text("Something went wrong").count() + main.locator('[data-testid="stException"]').count()
        assert not failed, f"{heading} failed: " + main.inner_text()[-1500:]
        calm = calm + 1 if not running and drawn else 0
        time.sleep(1.0)
    time.sleep(1.0)  # let Vega finish laying out its text


@pytest.fixture(scope="module")
def server():
    _require_browser()
    with streamlit_server({"SINKLAB_MODEL": "textbook", "SINKLAB_OFFLINE": "1"}, "streamlit_layout.log") as url:
        yield url


@pytest.fixture(scope="module")
def page():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = b.new_page(viewport=VIEWPORT)
        pg.set_default_timeout(120_000)
        try:
            yield pg
        finally:
            b.close()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("path,heading", PAGES, ids=[p or "start" for p, _ in PAGES])
def test_first_chart_above_the_fold_and_no_clipped_label(server, page, path, heading, model):
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server}/{path}?model={model}&{QUICK}", wait_until="domcontentloaded")
    _ready(page, heading)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    time.sleep(0.5)
    got = page.evaluate(LAYOUT_JS)
    folder = ARTIFACTS / "fold" / model
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{path or 'start'}.png"))
    where = f"/{path} on {model}"
    fold = VIEWPORT["height"] - FOLD_MARGIN
    if got["chart_top"] is None:  # the page does not apply to this model: its note takes the chart's place
        assert got["absent_note_top"] is not None, f"{where}: no chart and no 'does not apply' note"
        assert got["absent_note_top"] <= fold, f"{where}: the note starts at {got['absent_note_top']:.0f} px"
    else:
        assert got["scrolled"] == 0
        assert got["chart_top"] <= fold, (f"{where}: the first chart starts at {got['chart_top']:.0f} px, below "
                                          f"{fold} px (the first screen is text)")
    assert got["intro"] is not None, f"{where}: no collapsible 'What you are looking at'"
    assert not got["intro"]["open"], f"{where}: the intro starts open"
    assert not got["clipped"], f"{where}: " + "; ".join(got["clipped"][:8])
