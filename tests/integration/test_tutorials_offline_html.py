"""The rendered tutorials show their charts with the network off (issue 21, item 6).

altair's HTML output loads vega, vega-lite and vega-embed from cdn.jsdelivr.net unless the page's VEGA_DEBUG
already records their versions; each tutorial's setup cell displays, once, tutorials/course.py's
offline_charts(): the bundle altair itself inlines for offline HTML (vl_convert.javascript_bundle) and those
versions. Here a real tutorial (Start, on the planted `textbook`: a few seconds) is executed, rendered with
.ci/run's nbconvert command, and opened in Debian's chromium through Playwright with every non-file request
aborted: every chart must draw (an SVG in each vega-embed container) and no "Error loading script" may appear.
The same notebook with the setup's bundle output removed must show that error: proof that the network really
is off in the test and that the bundle is what makes the charts draw. Screenshots (the whole page, and the
screen around the first chart) go to tests/artifacts/tutorials/offline/01_start*.png (look at them).

Skipped where /usr/bin/chromium or the playwright package is missing (apt-get install -y chromium).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
OUT = ROOT / "tests" / "artifacts" / "tutorials" / "offline"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
MARK = "sinklab-offline-vega"  # the class of course.offline_html()'s visible note

CHARTS_JS = r"""
() => ({
  containers: document.querySelectorAll('.vega-embed').length,
  drawn: [...document.querySelectorAll('.vega-embed')].filter(e => e.querySelector('svg.marks, canvas')).length,
  errors: [...document.querySelectorAll('.vega-embed .error, div.error')].map(e => e.innerText.slice(0, 200)),
  loadError: document.body.innerText.includes('Error loading script'),
})
"""


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def _charts_in(nb: dict) -> int:
    """Altair charts among the notebook's outputs (its HTML outputs that call vegaEmbed)."""
    htmls = ["".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", [])
             if o["output_type"] in ("execute_result", "display_data")]
    return sum("vegaEmbed(" in h and MARK not in h for h in htmls)


def _render(ipynb: Path) -> Path:
    """.ci/run's command: nbconvert to HTML, the hidden check cells' code removed."""
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(ipynb.parent),
                    "--TagRemovePreprocessor.remove_input_tags=remove-input", str(ipynb)],
                   check=True, capture_output=True, text=True, timeout=300)
    return ipynb.with_suffix(".html")


def _open_offline(html: Path, screenshot: Path | None = None) -> tuple[dict, list[str], list[str]]:
    """Open the file with every non-file request aborted. (what CHARTS_JS saw, blocked URLs, page errors)"""
    from playwright.sync_api import sync_playwright

    blocked, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r):
                if r.request.url.startswith("file:"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html.as_uri(), wait_until="load")
            try:  # every container drawn, or an error shown (the negative control), whichever comes first
                page.wait_for_function("""() => { const c = [...document.querySelectorAll('.vega-embed')];
                    return c.length && c.every(e => e.querySelector('svg.marks, canvas, .error')); }""", timeout=30000)
            except Exception:  # noqa: BLE001 - the assertions below say what is missing
                pass
            seen = page.evaluate(CHARTS_JS)
            if screenshot is not None:  # the whole page, and the screen around the first chart
                page.screenshot(path=str(screenshot), full_page=True)
                if seen["containers"]:
                    page.locator(".vega-embed").first.scroll_into_view_if_needed()
                    page.screenshot(path=str(screenshot.with_name(screenshot.stem + "_first_chart.png")))
        finally:
            browser.close()
    return seen, blocked, errors


@pytest.fixture(scope="module")
def executed():
    """01_start executed on textbook (the offline default), as CI's README command executes it."""
    _require_browser()
    env = dict(os.environ, SINKLAB_MODEL="textbook", SINKLAB_SOLUTIONS="1")
    done = subprocess.run([sys.executable, str(TUTORIALS / "execute.py"), "--model", "textbook", "--out", str(OUT),
                           "01_start.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return OUT / "01_start.ipynb"


def test_rendered_tutorial_draws_every_chart_with_the_network_off(executed):
    nb = json.loads(executed.read_text())
    n = _charts_in(nb)
    assert n >= 3, f"Start draws at least three charts; found {n}"
    html = _render(executed)
    shot = OUT / "01_start.png"
    seen, blocked, errors = _open_offline(html, shot)
    assert not seen["loadError"] and not seen["errors"], seen
    assert seen["containers"] == n and seen["drawn"] == n, f"{seen['drawn']} of {n} charts drawn: {seen}"
    assert not any("jsdelivr" in u or "vega" in u for u in blocked), f"still asked the network for vega: {blocked}"
    assert not errors, errors
    assert shot.stat().st_size > 10_000


def test_without_the_inlined_bundle_the_same_page_cannot_load_vega(executed):
    """The negative control: the network is really off here, and the bundle is what draws the charts."""
    nb = json.loads(executed.read_text())
    for cell in nb["cells"]:
        cell["outputs"] = [o for o in cell.get("outputs", []) if MARK not in "".join(o.get("data", {}).get("text/html", ""))]
    bare = OUT / "01_start_without_bundle.ipynb"
    bare.write_text(json.dumps(nb))
    seen, blocked, _ = _open_offline(_render(bare))
    assert seen["loadError"] and seen["drawn"] == 0, seen
    assert any("jsdelivr" in u for u in blocked), blocked
