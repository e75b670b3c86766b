"""Text a visitor supplied (a URL value, a typed model name, a prompt, an error message quoting them), made safe to
show inside Streamlit markdown: shown as typed, never interpreted.

    st.error(f"Could not load model **{esc(name)}**")      # no link, image, heading, colour or formula from `name`

Markdown's punctuation is backslash-escaped (so `[text](url)`, `![img](url)`, `**`, `:red[...]`, `$...$`, HTML tags
and table pipes stay text), "://" is broken so no bare URL becomes a link, and newlines collapse to spaces (no
heading, list or block starts). Every place that puts such text into st.markdown / st.error / st.warning /
st.info / st.caption goes through `esc` (tests/acceptance/test_visitor_text.py sends hostile values through every
parameter of every page and looks for links, images and headings in the rendered page).
"""
from __future__ import annotations

import re

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=^&@])")


def clip(text: str, n: int = 80) -> str:
    """A visitor-supplied string, shortened for display (not escaped: see esc)."""
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def esc(text, n: int | None = None) -> str:
    """`text` made inert for Streamlit markdown (see the module docstring), optionally clipped to n characters."""
    s = " ".join(str(text).split())
    if n is not None:
        s = clip(s, n)
    s = s.replace("://", ":\u200b//").replace("www.", "www\u200b.")
    return _MD.sub(r"\\\1", s)
