"""Display helpers shared by the pages: the model card, claims, Try-this boxes, tables with explained
columns and CSV download, cached charts, the glossary, small wording rules.

Wording rules of the app: positions are counted from 0 (position 0 is the papers' "position 1"),
counts are pluralised properly ("1 token", "2 tokens"; `wording` fixes library text too). Every sentence
about the model on screen comes from a sinklab.teaching.claims Claim (✓ holds / ✗ does not, with its numbers);
prose that describes a chart says what is drawn, not what the model does.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import pandas as pd
import streamlit as st

import pages
import serving
from sinklab.teaching.glossary import COLUMNS, TERMS

_ONE = re.compile(r"\b1 (token|input|coordinate|layer|head|position|neuron|model|domain)s\b")
_PARENS = re.compile(r"\b1 (token|input|coordinate|layer|head|position|neuron|model|domain)\(s\)")
_MANY = re.compile(r"\b(\d+) (token|input|coordinate|layer|head|position|neuron|model|domain)\(s\)")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def wording(text: str) -> str:
    """"1 tokens" -> "1 token", "1 coordinate(s)" -> "1 coordinate", "3 coordinate(s)" -> "3 coordinates"."""
    text = _ONE.sub(r"1 \1", str(text))
    text = _PARENS.sub(r"1 \1", text)
    return _MANY.sub(lambda m: f"{m.group(1)} {m.group(2)}s", text)


from visitor import clip, esc  # noqa: E402,F401  (visitor-supplied text: one place, app/visitor.py)


_LEAD = re.compile(r"\s*\*\*([^*]+?)\.?\*\*\s*")


def intro(text: str) -> None:
    """The page's "What you are looking at": what the charts draw (no claims about the model), collapsed under its
    heading (the text's bold lead, "What you are looking at") so that the page's first chart is on the first screen
    of a 1280×720 projector; one click opens it."""
    m = _LEAD.match(text)
    head, body = (m.group(1).strip(), text[m.end():]) if m else ("What you are looking at", text)
    with st.expander(head, expanded=False):
        st.markdown(body)


# ---------------------------------------------------------------- what the model is
KIND = {"planted": "planted specimen (weights written by hand, so the answer is known)",
        "trained": "trained by sinklab (a tiny model; its sink emerged in training)",
        "pretrained": "pretrained checkpoint"}


def card(s):
    """The sinklab.specimens.cards Card of the model in use (cached)."""
    from sinklab.specimens.cards import card as make_card

    return serving.quick(make_card, s)


def model_card(s) -> None:
    """One compact line under the page title: which model, what kind, where its sink comes from, whether
    its predictions mean anything; why this model when GPT-2 small could not be loaded."""
    c = card(s)
    kind = "a real language model, trained on text by others" if c.real and c.kind == "pretrained" else KIND.get(c.kind, c.kind)
    summary = c.summary[:1].upper() + c.summary[1:]
    preds = "meaningful" if c.predictions_meaningful else "meaningless (planted weights, not trained)"
    line = (f"**Model on screen: {esc(c.name)}** — {kind}. {esc(summary)}. Tokens: {c.tokens}. "
            f"Predictions: {preds}.")
    if getattr(s, "fallback", None):  # why this model: one line for the learner (the fix is the operator's)
        st.info(s.fallback, icon="ℹ️")
    facts = "".join(f"\n\n**{k}:** {v}" for k, v in c.facts)
    st.caption(wording(line), help=f"**Where its sink comes from:** {c.sink_route}.\n\n**Shape:** {c.shape}.{facts}")


# ---------------------------------------------------------------- claims and Try this
MARK = {True: ":green[**✓**]", False: ":red[**✗**]", None: ":gray[**–**]"}


def claims(cs: Sequence, box=None, title: str = "What to notice, checked on this model") -> None:
    """The page's statements about the model on screen, each with ✓ / ✗ and its numbers (sinklab.teaching.claims)."""
    if not cs:
        return
    lines = [f"- {MARK[c.holds]}{wording(c.text)[1:]}" for c in cs]  # c.text starts with its ✓ / ✗ / –
    legend = f"{MARK[True]} holds on these numbers, {MARK[False]} does not" + (
        f", {MARK[None]} does not apply here" if any(c.holds is None for c in cs) else "")
    body = f"**{title}** ({legend}):\n" + "\n".join(lines)
    where = box or st
    where.markdown(body)
    refs = list(dict.fromkeys(c.reference_line for c in cs if c.reference_line))
    if refs:  # published numbers: labelled, on their own lines, never inside a claim about this model
        where.caption("  \n".join(refs))


def try_this(t) -> None:
    """A Try-this box: the question when its premise holds, otherwise why not and where it does (TryThis);
    a plain string is shown as is."""
    text = t if isinstance(t, str) else t.text
    st.info(f"**Try this.** {wording(text)}", icon="🧪")


# ---------------------------------------------------------------- tables
def column_help(df: pd.DataFrame, overrides: dict | None = None) -> dict:
    """st.dataframe column_config: every column's header gets its meaning as help (hover the header)."""
    meaning = {**COLUMNS, **(overrides or {})}  # sinklab.teaching.glossary.COLUMNS
    out = {}
    for c in df.columns:
        text = meaning.get(str(c))
        base, _, stat = str(c).rpartition("_")
        if text is None and stat in ("mean", "sd") and meaning.get(base):  # across-seed summaries
            text = meaning[base] + (" Mean over the data seeds." if stat == "mean" else
                                    " Its standard deviation across the data seeds (the error bar).")
        if text is None and str(c).startswith(("sink_L", "gu_L")):
            text = f"{'Paper' if str(c).startswith('sink') else 'Gu'} sink metric of layer {str(c).split('L')[-1]}."
        if text is not None:
            out[str(c)] = st.column_config.Column(help=text)
    return out


def download(df: pd.DataFrame, name: str, label: str | None = None) -> None:
    """CSV download of a table shown on the page."""
    s = st.session_state.get("_settings")
    stem = f"sinklab_{name}" + (f"_{s.model.replace('/', '_')[:60]}" if s else "")
    st.download_button(label or f"Download {name} (CSV)", lambda: df.to_csv(index=False).encode(),  # on click only
                       file_name=f"{stem}.csv", mime="text/csv", on_click="ignore", key=f"dl_{name}")


def table(df: pd.DataFrame, help: dict | None = None, **kw) -> None:
    """A table whose column headers explain themselves (hover), as wide as its container."""
    kw.setdefault("width", "stretch")
    st.dataframe(df, hide_index=True, column_config=column_help(df, help), **kw)


def show_table(df: pd.DataFrame, name: str, label: str | None = None, help: dict | None = None, **kw) -> None:
    table(df, help, **kw)
    download(df, name, label)


# ---------------------------------------------------------------- charts
COMPOSED = ("facet", "hconcat", "vconcat", "concat", "repeat")


PADDING = {side: 6 for side in ("left", "right", "top", "bottom")}  # px around every chart, so that a title's or a
# rotated label's glyphs stay inside the drawing (an object: Streamlit's frontend adds to its sides)


def fit_width(spec: dict) -> dict:
    """A single or layered chart spans its container's width and keeps the height it was designed with
    (Vega's "fit-x"): Streamlit's default "fit" squeezes titles, axes and legends into that height, which
    drops every other tick label and clips titles. Faceted / concatenated charts keep their own size."""
    enc = spec.get("encoding") or {}
    if "autosize" in spec or any(k in spec for k in COMPOSED) or any(k in enc for k in ("row", "column", "facet")):
        return spec
    return {**spec, "autosize": {"type": "fit-x", "contains": "padding"}}


def unfacet(spec: dict, title=None) -> dict:
    """A facet chart with ONE panel as a plain (layered) chart as wide as its container: Vega-Lite facets
    have a fixed width, a single or layered view can follow the page (Across domains draws one per domain)."""
    inner = spec.get("spec")
    if "facet" not in spec or not isinstance(inner, dict):
        return spec
    out = {k: v for k, v in spec.items() if k not in ("facet", "spec", "resolve", "columns", "title")}
    out.update(inner)
    out["width"] = "container"
    if title is not None:
        own = spec.get("title")  # the facet's own title given by its text: keep its subtitle and anchor
        out["title"] = own if isinstance(own, dict) and isinstance(title, str) and own.get("text") == title else title
    return fit_width(out)


def title_of(spec: dict) -> tuple[str, str]:
    """(title, subtitle) of a chart spec."""
    t = spec.get("title") or ""
    if isinstance(t, dict):
        sub = t.get("subtitle") or ""
        return str(t.get("text") or ""), " ".join(sub) if isinstance(sub, list) else str(sub)
    return str(t), ""


def every_label(spec: dict) -> dict:
    """Show every label of a discrete axis (layers, heads, positions, interventions, models): Vega's default
    drops every other label that might touch its neighbour, and then nobody knows which bar or row is which."""
    config = dict(spec.get("config") or {})
    config["axisDiscrete"] = {"labelOverlap": False, **config.get("axisDiscrete", {})}
    return {**spec, "config": config}


def draw(spec: dict, stretch: bool = True, all_labels: bool = False) -> None:
    """Draw a Vega-Lite spec as the app draws every chart: as wide as its container (stretch) or at the
    size it was designed with (a square heatmap); all_labels: every label of its discrete axes (a few
    categories with long names, e.g. interventions or models; not for dense position axes)."""
    spec = fit_width(spec) if stretch else {**spec, "autosize": {"type": "pad", "contains": "padding"}}
    spec = {"padding": PADDING, **spec}
    if all_labels:
        spec = every_label(spec)
    st.vega_lite_chart(spec, **({} if stretch else {"width": "content"}))


def chart(build: Callable, *args, stretch: bool = True, all_labels: bool = False, **kwargs) -> None:
    """Draw build(*args, **kwargs) (a sinklab.teaching.charts function) from the server's chart cache (serving.chart_spec):
    a rerun that shows the same view does not rebuild or re-serialise the chart. stretch=False: the chart's
    own size (give it a row of its own); all_labels: see draw."""
    draw(serving.chart_spec(build, *args, **kwargs), stretch, all_labels)


# ---------------------------------------------------------------- glossary
def glossary() -> None:
    """Every term the pages use (sinklab.teaching.glossary), in a collapsed panel of the sidebar (every page)."""
    with st.expander("Glossary"):
        st.markdown("\n".join(f"- **{term}**: {text}" for term, text in TERMS.items()))


# ---------------------------------------------------------------- notes
def truncation_note(s) -> None:
    """Say so on the page when a typed prompt was cut, and what cut it."""
    if s.prompt_key != "custom" or not s.truncated_from:
        return
    if s.n_tokens >= s.info.n_positions:
        why = f"the model has only {s.info.n_positions} positions"
    elif s.n_tokens >= s.max_tokens:
        why = f"the token-length setting is at its maximum, {s.max_tokens}"
    else:
        why = (f"the token-length setting in the sidebar is {s.n_tokens}; raise it to use more "
               f"(up to {s.max_tokens})")
    st.info(f"Your prompt has {plural(s.truncated_from, 'token')}; only the first {s.used_tokens} are used "
            f"({why}).")


def is_gpt2_small(s) -> bool:
    from sinklab.published.reference import is_gpt2_small as check

    return check(s.info)


def published_note(s) -> str:
    return "" if is_gpt2_small(s) else " (published numbers appear only when the model is GPT-2 small)"


def prev_next(page: pages.Page) -> None:
    """Links to the previous and next page of the story."""
    before, after = pages.neighbours(page)
    st.divider()
    left, right = st.columns(2)
    if before is not None:
        left.page_link(before.file, label=f"← {before.number}. {before.title}")
    if after is not None:
        right.page_link(after.file, label=f"{after.number}. {after.title} →")


def route_absent(s, what: str, needs: tuple[str, ...] = ("pe",)) -> bool:
    """On a model without the part of the circuit paper's positional route that this page needs: say so, say what
    is missing and what carries the sink instead (measured on the prompt, sinklab.claims.instead), link to
    Structural origin, and return True (the page then stops). False: the page applies."""
    from sinklab import claims as said, lessons

    v = serving.view(lessons.positional_absent, s, prompt=s.prompt, metric=s.metric, needs=needs)
    if v is None:
        return False
    st.info(f"{what} does not apply to {esc(v.title)}: its sink does not run through the circuit paper's positional "
            "route. What it has instead is measured below; the Structural origin page follows that chain link by "
            "link, and the positional route is shown on the textbook specimen.", icon="ℹ️")
    claims(said.instead(v), title="What this model has instead, checked on this prompt")
    origin = next(p for p in pages.PAGES if p.url_path == "origin")
    st.page_link(origin.file, label=f"{origin.number}. {origin.title} →")
    return True


def real_model_button(s) -> None:
    """One click from a planted or tiny model to a real trained LM's sink (when the server offers one)."""
    import models
    from sinklab.model.loading import REAL, describe

    if s.model in REAL:
        return
    offered = [m for m in REAL if m in models.allowlist(s.config)]
    if not offered:
        return
    name = offered[0]
    label = describe(name)[1].split(" (")[0]

    def switch():
        st.session_state["model"] = name

    st.button(f"See the sink in a real trained model: {label} →", on_click=switch, type="primary",
              help="Switches the model (sidebar) to a real language model trained on text by others, loaded offline "
                   "from the package index; every page then measures it.")


def link_notices(box, notes) -> None:
    """One line per link value that was cut, clamped or dropped (state.notices), above the page."""
    if not notes:
        return
    lines = []
    for key, raw, used, why in notes:
        if key == "model":  # the sidebar says which models this server offers
            continue
        now = "" if used is None else f"; using {esc(used, 60)}"
        lines.append(f"- {esc(key, 40)} = {esc(raw, 60) or '(empty)'}: {why}{now}")
    if not lines:
        return
    box.warning("This link holds values that do not fit this page:\n" + "\n".join(lines), icon="🔗")
