"""sinklab app entry point: the router. Run:  streamlit run app/streamlit_app.py

Reads the operator's configuration once per run (sinklab.config.Config: environment + optional TOML;
the only place the app reads configuration), draws the shared sidebar, runs the chosen page inside
the error boundary and links to the previous / next page. The pages are listed once, in pages.py.

The page files live in lesson_pages/, not pages/: a folder named pages/ next to the entry file switches
Streamlit to its legacy auto-discovered multipage mode, which then runs a page without this router.

App modules: pages (the page list), state (URL-bound widgets), models (allowlist, model store),
sidebar (Settings), serving (the cached, fair lesson factory: serving/), defaults (the pages' widget defaults and the
server's warm-up), display (helpers), errors (boundary).
"""
import streamlit as st

import display
import errors
import pages
import sidebar
import defaults
import serving
import state
from sinklab.config import Config
from sinklab.errors import SinklabError

st.set_page_config(page_title="sinklab: GPT-2's attention sink", page_icon="🕳️", layout="wide")

try:
    config = Config.load()  # the one place the app reads its configuration
except SinklabError as e:
    errors.invalid_config(e)
errors.configure(config)
serving.configure_threads(config)


def _start_alias() -> None:
    """/start (the first page's url_path) serves the first page, which Streamlit serves at "/"."""
    st.switch_page(pages.PAGES[0].file, query_params=dict(st.query_params))


page = st.navigation([st.Page(p.file, title=p.title, url_path="home" if p.default else p.url_path, default=p.default)
                      for p in pages.PAGES]  # the default page is served at "/"; "/start" is its hidden alias
                     + [st.Page(_start_alias, title=pages.PAGES[0].title, url_path=pages.PAGES[0].url_path,
                                visibility="hidden")])
state.begin_run()
s = None
with errors.boundary(config):
    s = sidebar.sidebar(config)
if s is None:
    st.stop()
if config.server:  # a class opening the default link finds every page's default view computed
    with errors.logged("queueing the default views"):
        defaults.warm(sidebar.default_settings(config))
link_notice = st.container()
finished = False
with errors.boundary(config):
    page.run()
    finished = True
display.link_notices(link_notice, state.notices())
if finished:
    state.finish_run()
display.prev_next(pages.by_title(page.title))
