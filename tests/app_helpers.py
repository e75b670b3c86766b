"""Shared by the app tests: the app's page registry (app/pages.py, the one list of pages) and AppTest helpers.

    import sys; from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
    from app_helpers import PAGES, APP

PAGES is app/pages.py's tuple of Page(number, title, url_path, file) in story order; `page.path` is the
file, `page.url` its browser path ("" for the first page), `page.topic` the <topic> of N_<topic>.py.
Importing this module needs neither Streamlit nor torch (the AppTest helpers import Streamlit lazily).
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "app"
APP = APP_DIR / "streamlit_app.py"


def _load_pages():
    """app/pages.py as module `sinklab_app_pages` (the app itself imports it as `pages`)."""
    name = "sinklab_app_pages"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, APP_DIR / "pages.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


pages = _load_pages()
PAGES = pages.PAGES
BY_URL = {p.url_path: p for p in PAGES}
TIMEOUT = 240


# ---------------------------------------------------------------- AppTest helpers
def app(page: str = "start", timeout: float = TIMEOUT, **query):
    """A fresh AppTest session of the router on page `page` (a url_path), with URL query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.query_params.update({k: str(v) for k, v in query.items()})
    at.run()
    if not BY_URL[page].default:
        # the first run served "/", which drops the parameters that page does not use: a link to /<page> keeps them
        at.query_params.update({k: str(v) for k, v in query.items()})
        at.switch_page(BY_URL[page].file).run()
    return at


def app_module(name: str):
    """The app's module `name` (state, models, views, ...) as the running app imported it."""
    return sys.modules[name]


def ok(at) -> None:
    """No exception, no error box, a page title."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title, "the page title is missing"


def no_crash(at) -> None:
    """No exception element, no traceback, no "Something went wrong" (error boxes for bad input are fine)."""
    assert not at.exception, [e.message for e in at.exception]
    for e in at.error:
        assert "Something went wrong" not in e.value, e.value
        assert "Traceback" not in e.value, e.value
    assert not [c for c in at.get("code") if "Traceback" in str(c.value)], "a traceback is shown"


def charts(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def chart_titles(at) -> list[str]:
    return [json.dumps(c.get("title"), ensure_ascii=False) for c in charts(at)]


def slider(at, label_start: str, sidebar: bool = False):
    pool = at.sidebar.slider if sidebar else at.main.slider
    found = [s for s in pool if s.label.startswith(label_start)]
    assert found, f"no slider {label_start!r}; have {[s.label for s in pool]}"
    return found[0]


def metric(at, label_start: str) -> str:
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert found, f"no metric {label_start!r}; have {[m.label for m in at.metric]}"
    return found[0].value


MARKS = {":green[**✓**]": "✓", ":red[**✗**]": "✗", ":gray[**–**]": "–"}  # display.MARK: holds / not / n/a


def claim_lines(at) -> list[str]:
    """The page's claims (sinklab.teaching.claims, shown by display.claims): "✓ statement — numbers…" / "✗ …"."""
    out = []
    for m in at.markdown:
        for line in m.value.splitlines():
            for mark, plain in MARKS.items():
                if line.startswith(f"- {mark}"):
                    out.append(plain + line[2 + len(mark):])
    return out


def plain(markdown: str) -> str:
    """Markdown source as a reader sees its text: visitor text is backslash-escaped (app/visitor.py)."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def model_card(at) -> str:
    """The model card under the page title (display.model_card), as text."""
    cards = [plain(c.value) for c in at.main.caption if "**Model on screen:" in c.value]
    assert cards, "no model card under the title"
    return cards[0]


@pytest.fixture(autouse=True)
def offline_model(monkeypatch):
    """Import into an app test module: each test starts from the offline default (textbook, no other settings)."""
    for var in ("SINKLAB_MODELS", "SINKLAB_SERVER", "SINKLAB_CUSTOM", "SINKLAB_ERRORS", "SINKLAB_MEMORY_MB",
                "SINKLAB_OFFLINE", "SINKLAB_WORKERS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SINKLAB_MODEL", "textbook")
