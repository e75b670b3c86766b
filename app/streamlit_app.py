"""sinklab app entry point: only the router and the shared sidebar.

Run:  streamlit run app/streamlit_app.py

The page files live in lesson_pages/, not pages/: a folder named pages/ next to the entry file switches
Streamlit to its legacy auto-discovered multipage mode, which then runs a page without this router
(AppTest reruns, and a fresh server's first request), losing the sidebar.
"""
import streamlit as st

import common

st.set_page_config(page_title="sinklab: GPT-2's attention sink", page_icon="🕳️", layout="wide")

page = st.navigation([
    st.Page("lesson_pages/1_start.py", title="Start", url_path="start", default=True),
    st.Page("lesson_pages/2_decomposition.py", title="Decomposition", url_path="decomposition"),
    st.Page("lesson_pages/3_epe.py", title="EPE", url_path="epe"),
    st.Page("lesson_pages/4_gamma.py", title="γ and alignment", url_path="gamma"),
    st.Page("lesson_pages/5_interventions.py", title="Interventions", url_path="interventions"),
    st.Page("lesson_pages/6_domains.py", title="Across domains", url_path="domains"),
    st.Page("lesson_pages/7_origin.py", title="Structural origin", url_path="origin"),
])
common.sidebar()
page.run()
