"""Serving the pages: every lesson result a page shows comes from ONE factory, `view(lessons.<fn>, settings, ...)`.

    cache.py      the result cache (an LRU bounded in bytes)
    scheduler.py  the fair, single-flight pool of workers (no Streamlit)
    waiting.py    the waiting UI: spinner, queue position, progress
    factory.py    view / quick: the pages' calls, keyed, cached, computed in the pool
    charts.py     the chart-spec cache (and the Altair / Streamlit fast path it relies on)

The pages import `from serving import view, quick, chart_spec`; the warm-up of every page's default view is in
app/defaults.py.
"""
from .charts import chart_spec
from .factory import configure_threads, pool, quick, request, view

__all__ = ["view", "quick", "chart_spec", "configure_threads", "request", "pool"]
